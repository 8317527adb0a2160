"""RTP packets (RFC 3550), a reorder buffer keyed by sequence number, RFC 4733 digits.

All pure: bytes in, packets, frames and digits out. ``JitterBuffer.push`` absorbs
reordering of up to ``depth`` packets and reports lost packets as ``None`` so the
receiver can fill them with silence and keep the audio's timing. ``DigitReceiver`` turns
telephone-event packets into one digit per event: the end packet is sent three times
(RFC 4733 2.5.1.4) with the same timestamp, so digits are de-duplicated by timestamp.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

_HEADER = struct.Struct("!BBHII")
EVENT_DIGITS = "0123456789*#ABCD"
_MAX_GAP = 3000


@dataclass(frozen=True, slots=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    marker: bool
    payload: bytes


def parse_rtp(data: bytes) -> RtpPacket | None:
    """The packet, or None if it is not RTP version 2 (RTCP and junk are ignored)."""
    if len(data) < 12:
        return None
    first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(data)
    if first >> 6 != 2 or 72 <= (second & 0x7F) <= 76:
        return None
    offset = 12 + 4 * (first & 0x0F)
    if first & 0x10:
        if len(data) < offset + 4:
            return None
        offset += 4 + 4 * struct.unpack_from("!H", data, offset + 2)[0]
    end = len(data)
    if first & 0x20:
        end -= data[-1] if data[-1] else end
    if offset > end:
        return None
    return RtpPacket(second & 0x7F, sequence, timestamp, ssrc, bool(second & 0x80), data[offset:end])


def build_rtp(
    payload_type: int, sequence: int, timestamp: int, ssrc: int, payload: bytes, *, marker: bool = False
) -> bytes:
    return (
        _HEADER.pack(
            0x80, (0x80 if marker else 0) | payload_type, sequence & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc
        )
        + payload
    )


class JitterBuffer:
    """Releases audio packets in sequence order, tolerating reordering of ``depth`` packets.

    ``push`` returns the packets now ready, with ``None`` standing for each lost one
    (a gap the buffer gave up waiting for). Duplicates and packets older than the last
    released are dropped; a jump of more than ``_MAX_GAP`` (a new stream) resets it.
    """

    def __init__(self, depth: int = 3) -> None:
        self._depth = depth
        self._next: int | None = None
        self._held: dict[int, RtpPacket] = {}
        self.lost = 0
        self.late = 0

    def push(self, packet: RtpPacket) -> list[RtpPacket | None]:
        if self._next is None:
            self._next = packet.sequence
        elif not self._held and packet.sequence == self._next & 0xFFFF:  # the common case
            self._next += 1
            return [packet]
        delta = (packet.sequence - self._next) & 0xFFFF
        if delta >= 0x8000:
            delta -= 0x10000
        index = self._next + delta
        ready: list[RtpPacket | None] = []
        if abs(delta) > _MAX_GAP:
            ready += self.flush()
            self._next = index = packet.sequence
        elif delta < 0 or index in self._held:
            self.late += 1
            return ready
        self._held[index] = packet
        while self._held:
            while self._next in self._held:
                ready.append(self._held.pop(self._next))
                self._next += 1
            if len(self._held) <= self._depth:
                break
            oldest = min(self._held)
            gap = oldest - self._next
            self.lost += gap
            ready += [None] * min(gap, 10)
            self._next = oldest
        return ready

    def flush(self) -> list[RtpPacket | None]:
        """Release everything held, in order (end of stream)."""
        ready: list[RtpPacket | None] = [self._held[i] for i in sorted(self._held)]
        if self._held:
            self._next = max(self._held) + 1
        self._held.clear()
        return ready


class DigitReceiver:
    """RFC 4733 telephone-event payloads -> digits, one per event.

    A digit is reported on the first end packet of an event; the repeated end packets
    (same timestamp) are ignored. If every end packet of an event is lost, the digit is
    reported when the next event starts.
    """

    def __init__(self) -> None:
        self._current: tuple[tuple[int, int], int] | None = None
        self._reported: tuple[int, int] | None = None

    def push(self, packet: RtpPacket) -> list[str]:
        payload = packet.payload
        if len(payload) < 4 or payload[0] >= len(EVENT_DIGITS):
            return []
        key = (packet.ssrc, packet.timestamp)
        digit = EVENT_DIGITS[payload[0]]
        out: list[str] = []
        if self._current is not None and self._current[0] != key and self._reported != self._current[0]:
            out.append(EVENT_DIGITS[self._current[1]])
            self._reported = self._current[0]
        self._current = (key, payload[0])
        if payload[1] & 0x80 and self._reported != key:
            out.append(digit)
            self._reported = key
        return out
