"""One SIP call's dialog state and RTP media; a ``CallChannel``.

The server (``sip_server``) owns signalling and creates a ``SipCall`` per INVITE; the call
owns its RTP socket. Outbound: the media clock pulls a frame every 20 ms, the call encodes
it with the negotiated G.711 law and sends it to the caller's RTP address (symmetric RTP:
after the first packet from the caller we answer to where it really comes from).
Inbound: audio packets go through the jitter buffer, lost ones become silence, all become
20 ms frames; telephone-event packets bypass the buffer into the digit receiver.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from callcenter.speech import codecs
from callcenter.telephony.media import SILENCE, CallInfo, ChannelCore
from callcenter.telephony.rtp import DigitReceiver, JitterBuffer, build_rtp, parse_rtp
from callcenter.telephony.sdp import Negotiated, Offer
from callcenter.telephony.sip_transactions import DialogEvent, DialogState, InviteServerTx, dialog_step
from callcenter.telephony.sipmsg import SipRequest

if TYPE_CHECKING:
    from callcenter.telephony.pacer import MediaClock

log = logging.getLogger(__name__)

_ENCODE = {"pcmu": codecs.ulaw_encode, "pcma": codecs.alaw_encode}
_DECODE = {"pcmu": codecs.ulaw_decode, "pcma": codecs.alaw_decode}


@dataclass(slots=True)
class Peer:
    """Where the caller's signalling came from and how to answer it."""

    send: Callable[[bytes], None]
    address: tuple[str, int]
    transport: str  # "udp" or "tcp"

    @property
    def reliable(self) -> bool:
        return self.transport != "udp"


class _RtpProtocol(asyncio.DatagramProtocol):
    def __init__(self, call: SipCall) -> None:
        self._call = call

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._call.on_rtp(data, addr)

    def error_received(self, exc: Exception) -> None:  # ICMP port unreachable: caller gone
        log.debug("RTP error on %s: %s", self._call.info.call_id, exc)


class SipCall(ChannelCore):
    """A call from the SIP front-end. Signalling fields are managed by ``SipServer``."""

    def __init__(
        self,
        *,
        info: CallInfo,
        clock: MediaClock,
        invite: SipRequest,
        peer: Peer,
        local_tag: str,
        offer: Offer,
        negotiated: Negotiated,
        hangup_hook: Callable[[SipCall], None],
    ) -> None:
        super().__init__(info, clock)
        self.continuous = True
        self.invite = invite
        self.peer = peer
        self.local_tag = local_tag
        self.state = DialogState.EARLY  # see sip_transactions.DIALOG
        self.local_cseq = 0
        self.invite_tx: InviteServerTx[Peer] | None = None  # the last INVITE we answer
        self.sdp_version = 1
        self.offer = offer
        self.negotiated = negotiated
        self.remote_rtp = (offer.address, offer.port)
        self.rtp_transport: asyncio.DatagramTransport | None = None
        self.rtp_port = 0
        self.last_rtp = 0.0
        self.rtp_packets_in = 0
        self.rtp_packets_out = 0
        self.rtp_send_dropped = 0
        self._send: Callable[[bytes, tuple[str, int]], int] | None = None
        self._latched = False
        self._ssrc = secrets.randbits(32)
        self._seq = secrets.randbits(16)
        self._ts = secrets.randbits(32)
        self._marker = True
        self._silence_payload = b""
        self._jitter = JitterBuffer()
        self._digits = DigitReceiver()
        self._hangup_hook = hangup_hook
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.deliver_hold(offer.held)

    async def open_rtp(self, host: str, port: int) -> None:
        """Bind the call's RTP socket on ``port``; raises OSError if it is taken."""
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((host, port))
            sock.setblocking(False)
            transport, _ = await loop.create_datagram_endpoint(lambda: _RtpProtocol(self), sock=sock)
        except BaseException:
            sock.close()
            raise
        self.rtp_transport = transport
        # Sending straight on the socket skips the transport's per-packet bookkeeping (the
        # media hot path); a full send buffer drops the frame, as a late RTP frame is useless.
        self._send = sock.sendto
        self.rtp_port = sock.getsockname()[1]
        self.last_rtp = loop.time()

    def update_media(self, offer: Offer, negotiated: Negotiated) -> None:
        """A re-INVITE changed the stream: new address, codec or hold direction."""
        if (offer.address, offer.port) != (self.offer.address, self.offer.port):
            self.remote_rtp = (offer.address, offer.port)
            self._latched = False
        self.offer = offer
        if negotiated.codec != self.negotiated.codec:
            self._silence_payload = b""
        self.negotiated = negotiated
        self.sdp_version += 1
        self.deliver_hold(offer.held)
        self.last_rtp = asyncio.get_running_loop().time()

    @property
    def confirmed(self) -> bool:
        return self.state is DialogState.CONFIRMED

    def dialog(self, event: DialogEvent) -> bool:
        """Move the dialog by ``event`` (``DIALOG``); False when the table ignores it here."""
        state = dialog_step(self.state, event)
        changed = state is not self.state
        self.state = state
        return changed

    # Media in

    def on_rtp(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.ended:
            return
        packet = parse_rtp(data)
        if packet is None:
            return
        self.last_rtp = asyncio.get_running_loop().time()
        self.rtp_packets_in += 1
        if not self._latched:
            self._latched = True
            self.remote_rtp = addr
        if packet.payload_type == self.negotiated.dtmf_payload_type:
            for digit in self._digits.push(packet):
                self.deliver_digit(digit, "rfc4733")
            return
        if packet.payload_type != self.negotiated.payload_type:
            return
        decode = _DECODE[self.negotiated.codec]
        for ready in self._jitter.push(packet):
            self.deliver_audio(SILENCE if ready is None else decode(ready.payload))

    # Media out

    def _send_frame(self, pcm: bytes) -> None:
        if self._send is None or self.rtp_transport is None or self.state is DialogState.EARLY:
            return
        if pcm is SILENCE:
            if not self._silence_payload:
                self._silence_payload = _ENCODE[self.negotiated.codec](SILENCE)
            payload = self._silence_payload
        else:
            payload = _ENCODE[self.negotiated.codec](pcm)
        packet = build_rtp(
            self.negotiated.payload_type, self._seq, self._ts, self._ssrc, payload, marker=self._marker
        )
        self._marker = False
        self._seq = (self._seq + 1) & 0xFFFF
        self._ts = (self._ts + len(payload)) & 0xFFFFFFFF
        self.rtp_packets_out += 1
        try:
            self._send(packet, self.remote_rtp)
        except (BlockingIOError, InterruptedError):
            self.rtp_send_dropped += 1
        except OSError as exc:  # e.g. ICMP unreachable reported on a later send
            log.debug("RTP send on %s failed: %s", self.info.call_id, exc)

    async def _send_hangup(self) -> None:
        self._hangup_hook(self)

    # Teardown

    def release(self) -> None:
        """Close the RTP socket and cancel the call's timers (the call has ended)."""
        for handle in self.timers.values():
            handle.cancel()
        self.timers.clear()
        for ready in self._jitter.flush():
            if ready is not None and not self.ended:
                self.deliver_audio(_DECODE[self.negotiated.codec](ready.payload))
        if self.rtp_transport is not None:
            self.rtp_transport.close()
            self.rtp_transport = None
