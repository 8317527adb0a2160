"""G.711 mu-law and A-law for 16-bit little-endian PCM, by lookup table (stdlib only).

The speech package owns the general audio codecs; this module keeps the RTP hot path
self-contained: encoding is one table lookup per sample through ``map`` (a C loop), and
decoding one lookup per byte. Tables follow the ITU-T reference (Sun g711.c) algorithm.
"""

from __future__ import annotations

import sys

_ULAW_BIAS = 0x84
_SEG_UEND = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)
_SEG_AEND = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)


def _segment(value: int, ends: tuple[int, ...]) -> int:
    for i, end in enumerate(ends):
        if value <= end:
            return i
    return len(ends)


def linear_to_ulaw(sample: int) -> int:
    value = sample >> 2
    mask = 0xFF
    if value < 0:
        value, mask = -value, 0x7F
    value = min(value, 8159) + (_ULAW_BIAS >> 2)
    seg = _segment(value, _SEG_UEND)
    if seg >= 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((value >> (seg + 1)) & 0xF)) ^ mask


def ulaw_to_linear(code: int) -> int:
    code = ~code & 0xFF
    t = (((code & 0x0F) << 3) + _ULAW_BIAS) << ((code & 0x70) >> 4)
    return _ULAW_BIAS - t if code & 0x80 else t - _ULAW_BIAS


def linear_to_alaw(sample: int) -> int:
    value = sample >> 3
    mask = 0xD5
    if value < 0:
        value, mask = -value - 1, 0x55
    seg = _segment(value, _SEG_AEND)
    if seg >= 8:
        return 0x7F ^ mask
    aval = seg << 4
    aval |= (value >> 1 if seg < 2 else value >> seg) & 0x0F
    return aval ^ mask


def alaw_to_linear(code: int) -> int:
    code ^= 0x55
    t = (code & 0x0F) << 4
    seg = (code & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t = (t + 0x108) << (seg - 1)
    return t if code & 0x80 else -t


def _signed(u: int) -> int:
    return u - 0x10000 if u & 0x8000 else u


_ULAW_ENC = bytes(linear_to_ulaw(_signed(u)) for u in range(0x10000))
_ALAW_ENC = bytes(linear_to_alaw(_signed(u)) for u in range(0x10000))
_ULAW_DEC = [ulaw_to_linear(c).to_bytes(2, "little", signed=True) for c in range(256)]
_ALAW_DEC = [alaw_to_linear(c).to_bytes(2, "little", signed=True) for c in range(256)]


def _samples(pcm: bytes) -> memoryview:
    view = memoryview(pcm[: len(pcm) & ~1]).cast("H")
    if sys.byteorder == "big":  # PCM on the wire is little-endian
        import array

        arr = array.array("H", view)
        arr.byteswap()
        return memoryview(arr)
    return view


def ulaw_encode(pcm: bytes) -> bytes:
    """16-bit LE PCM -> mu-law, one byte per sample."""
    return bytes(map(_ULAW_ENC.__getitem__, _samples(pcm)))


def alaw_encode(pcm: bytes) -> bytes:
    """16-bit LE PCM -> A-law, one byte per sample."""
    return bytes(map(_ALAW_ENC.__getitem__, _samples(pcm)))


def ulaw_decode(data: bytes) -> bytes:
    """mu-law -> 16-bit LE PCM."""
    return b"".join(map(_ULAW_DEC.__getitem__, data))


def alaw_decode(data: bytes) -> bytes:
    """A-law -> 16-bit LE PCM."""
    return b"".join(map(_ALAW_DEC.__getitem__, data))
