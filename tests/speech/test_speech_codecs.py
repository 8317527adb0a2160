"""G.711, resampling, WAV, frames, levels and tones: the behaviour telephony and tests rely on."""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from callcenter.speech import codecs


def pcm_of(*samples: int) -> bytes:
    return struct.pack(f"<{len(samples)}h", *samples)


def samples_of(pcm: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(pcm) // 2}h", pcm))


ALL_SAMPLES = np.arange(-32768, 32768, dtype="<i2").tobytes()

# Code points from the ITU-T G.711 tables (as produced by the reference g711.c).
ULAW_KNOWN = [
    (0, 0xFF),
    (-1, 0x7E),
    (32767, 0x80),
    (-32768, 0x00),
    (1000, 0xCE),
    (-1000, 0x4E),
    (8, 0xFE),
    (100, 0xF2),
    (-100, 0x72),
    (32124, 0x80),
    (-32124, 0x00),
]
ALAW_KNOWN = [
    (0, 0xD5),
    (-1, 0x55),
    (32767, 0xAA),
    (-32768, 0x2A),
    (1000, 0xFA),
    (-1000, 0x7A),
    (8, 0xD5),
    (100, 0xD3),
]


@pytest.mark.parametrize(("sample", "code"), ULAW_KNOWN)
def test_ulaw_known_code_points(sample: int, code: int) -> None:
    assert codecs.ulaw_encode(pcm_of(sample)) == bytes([code])


@pytest.mark.parametrize(("sample", "code"), ALAW_KNOWN)
def test_alaw_known_code_points(sample: int, code: int) -> None:
    assert codecs.alaw_encode(pcm_of(sample)) == bytes([code])


def _stdlib_audioop() -> Any:
    # Only as an independent reference: deprecated in 3.11 (the warning is silenced here),
    # removed in 3.13 (the test is then skipped).
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return pytest.importorskip("audioop")


def test_g711_matches_the_stdlib_reference_for_every_sample() -> None:
    audioop = _stdlib_audioop()
    assert codecs.ulaw_encode(ALL_SAMPLES) == audioop.lin2ulaw(ALL_SAMPLES, 2)
    assert codecs.alaw_encode(ALL_SAMPLES) == audioop.lin2alaw(ALL_SAMPLES, 2)
    codes = bytes(range(256))
    assert codecs.ulaw_decode(codes) == audioop.ulaw2lin(codes, 2)
    assert codecs.alaw_decode(codes) == audioop.alaw2lin(codes, 2)


def test_decode_known_values_differ_between_laws() -> None:
    # mu-law has a true zero (two of them); A-law's smallest step is +-8.
    assert samples_of(codecs.ulaw_decode(bytes([0xFF, 0x7F, 0x80, 0x00]))) == [0, 0, 32124, -32124]
    assert samples_of(codecs.alaw_decode(bytes([0xD5, 0x55, 0xAA, 0x2A]))) == [8, -8, 32256, -32256]


@pytest.mark.parametrize(
    ("encode", "decode", "neg_zero"),
    [(codecs.ulaw_encode, codecs.ulaw_decode, {0x7F}), (codecs.alaw_encode, codecs.alaw_decode, set())],
)
def test_every_code_decodes_to_a_value_that_encodes_back(encode, decode, neg_zero) -> None:  # type: ignore[no-untyped-def]
    codes = bytes(range(256))
    again = encode(decode(codes))
    for code, back in zip(codes, again, strict=True):
        if code not in neg_zero:
            assert back == code, hex(code)


def test_decoded_levels_are_monotonic_and_symmetric() -> None:
    for decode, positive in ((codecs.ulaw_decode, range(0xFF, 0x7F, -1)), (codecs.alaw_decode, None)):
        values = samples_of(decode(bytes(range(256))))
        if positive is not None:
            pos = [values[c] for c in positive]
            assert pos == sorted(pos)
        assert sorted(abs(v) for v in values[:128]) == sorted(abs(v) for v in values[128:])


def test_ulaw_round_trip_error_is_within_half_a_step() -> None:
    x = np.frombuffer(ALL_SAMPLES, dtype="<i2").astype(np.int64)
    y = np.frombuffer(codecs.ulaw_decode(codecs.ulaw_encode(ALL_SAMPLES)), dtype="<i2").astype(np.int64)
    inside = np.abs(x) <= 32124
    # Step is 8 in the first segment (16-bit scale) and doubles per segment: < |x|/16 + 8.
    assert np.all(np.abs(x - y)[inside] <= np.abs(x[inside]) / 16 + 8)
    assert np.all(np.abs(y[~inside]) == 32124)


def test_alaw_round_trip_error_is_within_half_a_step() -> None:
    x = np.frombuffer(ALL_SAMPLES, dtype="<i2").astype(np.int64)
    y = np.frombuffer(codecs.alaw_decode(codecs.alaw_encode(ALL_SAMPLES)), dtype="<i2").astype(np.int64)
    assert np.all(np.abs(x - y) <= np.abs(x) / 32 + 16)


@pytest.mark.parametrize(
    ("encode", "decode"), [(codecs.ulaw_encode, codecs.ulaw_decode), (codecs.alaw_encode, codecs.alaw_decode)]
)
def test_speech_level_tone_survives_g711_with_toll_quality_snr(encode, decode) -> None:  # type: ignore[no-untyped-def]
    tone = codecs.sine(1004, 500, amplitude=0.3)
    back = decode(encode(tone))
    x = np.frombuffer(tone, dtype="<i2").astype(float)
    noise = x - np.frombuffer(back, dtype="<i2").astype(float)
    snr = 10 * math.log10(np.mean(x * x) / np.mean(noise * noise))
    assert snr > 33  # G.711 gives ~38 dB at speech levels
    assert len(back) == len(tone)


def test_odd_trailing_byte_is_ignored() -> None:
    assert codecs.ulaw_encode(pcm_of(0, 0) + b"\x01") == b"\xff\xff"


@pytest.mark.parametrize(
    ("src", "dst"), [(8000, 16000), (16000, 8000), (22050, 8000), (8000, 22050), (44100, 16000)]
)
def test_resample_keeps_length_level_and_frequency(src: int, dst: int) -> None:
    tone = codecs.sine(1000, 500, src, amplitude=0.5)
    out = codecs.resample(tone, src, dst)
    assert len(out) // 2 == math.ceil(len(tone) // 2 * dst / src)
    assert codecs.rms_dbfs(out) == pytest.approx(codecs.rms_dbfs(tone), abs=0.1)
    assert codecs.tone_power(out, dst, 1000) == pytest.approx(0.125, rel=0.02)


def test_downsampling_removes_what_would_alias() -> None:
    passband = codecs.resample(codecs.sine(3000, 500, 16000), 16000, 8000)
    above = codecs.resample(codecs.sine(6000, 500, 16000), 16000, 8000)
    assert codecs.rms_dbfs(passband) > -9.5
    # 6 kHz would fold onto 2 kHz at 8 kHz: it must be > 45 dB down instead.
    assert codecs.rms_dbfs(above) < -9 - 45


def test_streaming_resampler_matches_one_shot_for_any_chunking() -> None:
    rng = np.random.default_rng(7)
    pcm = (rng.standard_normal(8000) * 4000).astype("<i2").tobytes()
    whole = codecs.resample(pcm, 8000, 16000)
    for chunk in (320, 2, 1000):
        r = codecs.Resampler(8000, 16000)
        parts = b"".join(r.process(pcm[i : i + chunk]) for i in range(0, len(pcm), chunk))
        assert parts + r.flush() == whole


def test_same_rate_resample_is_identity() -> None:
    pcm = pcm_of(1, -2, 3)
    assert codecs.resample(pcm, 8000, 8000) == pcm
    r = codecs.Resampler(8000, 8000)
    assert r.process(pcm) + r.flush() == pcm


def test_wav_round_trip(tmp_path: Path) -> None:
    pcm = codecs.sine(440, 100, 8000)
    codecs.write_wav(tmp_path / "a.wav", pcm, 8000)
    assert codecs.read_wav(tmp_path / "a.wav") == (pcm, 8000)


def test_read_wav_downmixes_stereo_and_widens_8_bit(tmp_path: Path) -> None:
    with wave.open(str(tmp_path / "st.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(pcm_of(1000, 3000, -400, -600))
    assert codecs.read_wav(tmp_path / "st.wav") == (pcm_of(2000, -500), 16000)
    with wave.open(str(tmp_path / "u8.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(8000)
        w.writeframes(bytes([128, 255, 0]))
    assert samples_of(codecs.read_wav(tmp_path / "u8.wav")[0]) == [0, 127 * 256, -32768]


def test_frames_are_20ms_and_last_is_padded() -> None:
    pcm = bytes(range(256)) * 3  # 768 bytes = 384 samples at 8 kHz
    frames = list(codecs.frames_20ms(pcm))
    assert [len(f) for f in frames] == [320, 320, 320]
    assert b"".join(frames)[:768] == pcm and frames[-1][128:] == bytes(192)
    assert [len(f) for f in codecs.frames_20ms(bytes(640), rate=16000)] == [640]


def test_levels() -> None:
    assert codecs.rms_dbfs(codecs.silence(20)) == -math.inf
    assert codecs.rms_dbfs(b"") == -math.inf
    assert codecs.rms_dbfs(pcm_of(32767, -32767) * 80) == pytest.approx(0, abs=0.01)
    assert codecs.rms_dbfs(codecs.sine(1000, 200, amplitude=1.0)) == pytest.approx(-3.01, abs=0.05)


def test_tone_power_tells_which_tone_is_present() -> None:
    mix = np.frombuffer(codecs.sine(697, 200, amplitude=0.4), dtype="<i2").astype(np.int32)
    mix += np.frombuffer(codecs.sine(1209, 200, amplitude=0.2), dtype="<i2")
    pcm = mix.astype("<i2").tobytes()
    assert codecs.tone_power(pcm, 8000, 697) == pytest.approx(0.4**2 / 2, rel=0.03)
    assert codecs.tone_power(pcm, 8000, 1209) == pytest.approx(0.2**2 / 2, rel=0.03)
    assert codecs.tone_power(pcm, 8000, 941) < 1e-5
    assert codecs.tone_power(b"", 8000, 1000) == 0.0
