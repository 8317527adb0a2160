"""SIP user agent client: places a call over the server's UDP socket (callbacks).

Theory of operation. ``SipDialer.dial(uri, ring_s=...)`` binds an RTP socket, sends an
INVITE with our SDP offer (PCMU/8000 and telephone-event) from the SIP server's own UDP
socket, and waits:

- 1xx (100, 180, 183): the INVITE is no longer re-sent; the far end rings;
- 2xx: the SDP answer is read, the 2xx is ACKed (again for each retransmitted 2xx), and
  the call joins the server's calls as a ``SipCall``, the same ``CallChannel`` inbound
  calls are: RTP starts on the media clock, BYE from either side ends it, no RTP for
  ``no_rtp_timeout_s`` hangs it up;
- 3xx-6xx: ACKed (hop by hop, the INVITE's branch); the dial failed with that status;
- ``ring_s`` without a final response: CANCEL (after a provisional response, as RFC 3261
  9.1 wants; before one there is nothing to cancel and we just stop), then the 487 is
  ACKed; a 200 that crosses the CANCEL is ACKed and hung up at once;
- nothing at all: the INVITE is re-sent at T1, 2*T1, ... T2 until 64*T1 (Timer B).

A 2xx without a usable SDP answer is ACKed and hung up with BYE (``bad_answer``). Every
failure writes one log line naming the number, the status and why, and leaves nothing
behind: the RTP socket is closed, the retransmission timers stopped, the response hook
removed. Cancelling ``dial`` (shutdown) cancels the call the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import socket
from dataclasses import dataclass

from callcenter.telephony.media import CallInfo
from callcenter.telephony.sdp import Negotiated, Offer, SdpError, parse_offer
from callcenter.telephony.sip_call import Peer, SipCall
from callcenter.telephony.sip_server import ALLOW, SipServer
from callcenter.telephony.sip_transactions import (
    T1,
    DialogEvent,
    DialogState,
    InviteClientTx,
    NonInviteClientTx,
    Report,
    TxState,
)
from callcenter.telephony.sip_transport import TxDriver
from callcenter.telephony.sipmsg import SipParseError, SipRequest, SipResponse, parse_name_addr

log = logging.getLogger(__name__)

DTMF_PT = 101
_NUMBER = re.compile(r"^[0-9A-Za-z+*#._-]{1,64}$")
_HOSTPORT = re.compile(r"^sips?:(?:[^@;>]+@)?(\[[^\]]+\]|[^:;>]+)(?::(\d+))?(?:;.*)?$")
_REASONS = {
    486: "busy",
    600: "busy",
    603: "declined",
    408: "no_answer",
    480: "no_answer",
    404: "not_found",
    484: "not_found",
    487: "cancelled",
}
_CANCEL_WAIT = 4 * T1  # after our CANCEL, how long we wait for the INVITE's final response


@dataclass(frozen=True, slots=True)
class DialResult:
    """How a dial ended. ``call`` is the answered channel (None when it failed);
    ``status`` the final SIP status (None when there was none); ``reason`` is
    ``answered``, ``busy``, ``declined``, ``no_answer`` (also when nothing answered at all),
    ``not_found``, ``cancelled``, ``rejected`` (any other 3xx-6xx), ``bad_answer``,
    ``bad_number``, ``no_transport``, ``no_rtp_port``."""

    call: SipCall | None
    status: int | None
    reason: str


def valid_number(number: str) -> bool:
    """A number we may put in a Request-URI (digits, +, letters, * # . _ -; no spaces)."""
    return bool(_NUMBER.match(number))


def offer_sdp(*, address: str, port: int, session_id: int) -> bytes:
    lines = [
        "v=0",
        f"o=callcenter {session_id} 1 IN IP4 {address}",
        "s=callcenter",
        f"c=IN IP4 {address}",
        "t=0 0",
        f"m=audio {port} RTP/AVP 0 {DTMF_PT}",
        "a=rtpmap:0 PCMU/8000",
        f"a=rtpmap:{DTMF_PT} telephone-event/8000",
        f"a=fmtp:{DTMF_PT} 0-16",
        "a=ptime:20",
        "a=sendrecv",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


class SipDialer:
    """Places calls through ``server`` (which must listen on UDP). ``caller_id`` is the
    user part of our From. ``await close()`` cancels dials still ringing."""

    def __init__(self, server: SipServer, *, caller_id: str) -> None:
        self.server = server
        self.caller_id = caller_id or "callcenter"
        self._dials: set[asyncio.Task[DialResult]] = set()

    async def dial(self, uri: str, *, ring_s: float) -> DialResult:
        """Call ``uri`` (``sip:number@host:port``), ringing at most ``ring_s`` seconds."""
        task = asyncio.ensure_future(_Dial(self, uri, ring_s).run())
        self._dials.add(task)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise
        finally:
            self._dials.discard(task)

    async def close(self) -> None:
        for task in tuple(self._dials):
            task.cancel()
        await asyncio.gather(*self._dials, return_exceptions=True)

    def __len__(self) -> int:
        return len(self._dials)


class _Dial:
    """One outbound INVITE transaction and, when answered, the dialog's set-up."""

    def __init__(self, dialer: SipDialer, uri: str, ring_s: float) -> None:
        self.server = dialer.server
        self.caller_id = dialer.caller_id
        self.uri = uri
        self.ring_s = ring_s
        self.number = _user(uri)
        self.call_id = f"{secrets.token_hex(10)}@callcenter"
        self.branch = "z9hG4bK" + secrets.token_hex(8)
        self.local_tag = secrets.token_hex(6)
        here = self.server.local_address
        self.local = f"<sip:{dialer.caller_id}@{here}>;tag={self.local_tag}"
        self.to = f"<{uri}>"
        self.contact = f"<sip:{dialer.caller_id}@{here}>"
        self.invite: SipRequest | None = None
        self.call: SipCall | None = None
        self.peer: Peer | None = None
        self.final: asyncio.Future[SipResponse] = asyncio.get_running_loop().create_future()
        self.invite_tx: TxDriver[InviteClientTx[Peer]] | None = None
        self.cancel_tx: TxDriver[NonInviteClientTx[Peer]] | None = None
        self.ack: bytes | None = None  # our ACK of the 2xx, re-sent for each retransmission

    async def run(self) -> DialResult:
        try:
            return await self._run()
        except asyncio.CancelledError:
            await self._give_up()
            raise
        finally:
            self._stop_timers()
            if self.call is not None and self.call.state is DialogState.EARLY:
                self.call.dialog(DialogEvent.END)
                self.call.end("cancel")
                self.call.release()
            if self.call is None or self.call.ended:  # an answered call keeps it until it ends
                self.server.forget_responses(self.call_id)

    async def _run(self) -> DialResult:
        host_port = _host_port(self.uri)
        if not valid_number(self.number) or host_port is None:
            return self._failed(None, "bad_number", f"{self.uri!r} is not a dialable SIP URI")
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(
                host_port[0], host_port[1], family=socket.AF_INET, type=socket.SOCK_DGRAM
            )
        except OSError as exc:
            return self._failed(None, "not_found", f"cannot resolve {host_port[0]}: {exc}")
        address = infos[0][4]
        self.peer = self.server.udp_peer((str(address[0]), int(address[1])))
        if self.peer is None:
            return self._failed(None, "no_transport", "the SIP server has no UDP listener")
        # the customer is ``caller`` as on inbound calls; ``called`` is our own user
        info = CallInfo(call_id=self.call_id, caller=self.number, called=self.caller_id, front_end="sip")
        self.invite = self._request(
            "INVITE",
            self.uri,
            self.branch,
            self.to,
            [
                ("Contact", self.contact),
                ("Allow", ALLOW),
                ("Content-Type", "application/sdp"),
            ],
        )
        self.call = call = SipCall(
            info=info,
            clock=self.server.clock,
            invite=self.invite,
            peer=self.peer,
            local_tag=self.local_tag,
            offer=_placeholder_offer(self.peer.address),
            negotiated=Negotiated(codec="pcmu", payload_type=0, dtmf_payload_type=DTMF_PT),
            hangup_hook=lambda c: self.server.hang_up(c, "server"),
        )
        call.local_cseq = 1
        if not await self.server.bind_rtp(call):
            return self._failed(None, "no_rtp_port", "no free RTP port")
        self.invite.body = offer_sdp(
            address=self.server.config.media_address, port=call.rtp_port, session_id=secrets.randbelow(10**9)
        )
        tx = InviteClientTx(to=self.peer, reliable=False, message=self.invite.to_bytes())
        self.server.expect_responses(self.call_id, self._on_response)
        self.server.stats["dial_invites"] += 1
        self.invite_tx = TxDriver(tx, self._timer_b)
        self.invite_tx.apply(tx.start(self.invite_tx.now()))
        try:
            response = await asyncio.wait_for(asyncio.shield(self.final), self.ring_s)
        except TimeoutError:
            return await self._ring_timeout()
        return self._outcome(response)

    # Responses (called by the server for our Call-ID)

    def _on_response(self, response: SipResponse) -> bool:
        try:
            number, method = response.cseq
        except SipParseError:
            return True
        if method == "CANCEL":
            if self.cancel_tx is not None:
                self.cancel_tx.apply(self.cancel_tx.tx.response(response.status, self.cancel_tx.now()))
            return True
        if method != "INVITE":
            return False  # e.g. the answer to our BYE: the server's client transaction
        if number != 1:
            log.info(
                "SIP dial %s: ignoring %s %s for CSeq %s INVITE (we sent 1)",
                self.number,
                response.status,
                response.reason,
                number,
            )
            return True
        if 200 <= response.status < 300 and self.ack is not None:
            self._send(self.ack)  # a retransmitted 2xx: our ACK was lost
            return True
        driver = self.invite_tx
        if driver is None:
            return True
        # a 3xx-6xx is ACKed with the INVITE's branch and Request-URI (RFC 3261 17.1.1.3)
        ack = b"" if response.status < 300 else self._failure_ack(response)
        for report in driver.apply(driver.tx.response(response.status, driver.now(), ack=ack)):
            if report is Report.PROVISIONAL:
                self.server.stats["dial_provisional"] += 1
                continue
            if report is Report.SUCCESS:
                self._answered(response)
            if not self.final.done():
                self.final.set_result(response)
        return True

    @property
    def provisional(self) -> bool:
        """The far end rings (a 1xx came and no final response yet)."""
        return self.invite_tx is not None and self.invite_tx.tx.state is TxState.PROCEEDING

    def _answered(self, response: SipResponse) -> None:
        """ACK a 2xx (a new transaction, to the far end's Contact) and confirm the dialog."""
        assert self.call is not None and self.invite is not None
        to = response.need("To")
        try:
            target, _ = parse_name_addr(response.get("Contact") or f"<{self.uri}>", "Contact")
        except SipParseError:
            target = self.uri
        ack = self._request("ACK", target, "z9hG4bK" + secrets.token_hex(8), to)
        self.ack = ack.to_bytes()
        self._send(self.ack)
        self.call.dialog(DialogEvent.ACCEPTED)
        self.server.confirm_outbound(self.call, target=target, local=self.local, remote=to)

    def _failure_ack(self, response: SipResponse) -> bytes:
        return self._request("ACK", self.uri, self.branch, response.need("To")).to_bytes()

    # Outcomes

    def _outcome(self, response: SipResponse) -> DialResult:
        status = response.status
        if status >= 300:
            reason = _REASONS.get(status, "rejected")
            return self._failed(status, reason, f"{status} {response.reason}")
        assert self.call is not None
        try:
            if (response.get("Content-Type") or "").split(";")[0].strip().lower() != "application/sdp":
                raise SdpError("the 2xx carries no SDP answer")
            answer = parse_offer(response.body)
            negotiated = answer.negotiate()
            if negotiated.codec != "pcmu":
                raise SdpError(f"answered with {negotiated.codec}, we offered PCMU only", line="m")
        except SdpError as exc:
            self.server.hang_up(self.call, "protocol_error")
            return self._failed(status, "bad_answer", str(exc))
        self.call.update_media(answer, negotiated)
        self.server.stats["dial_answered"] += 1
        log.info("SIP dial %s: answered (%s)", self.number, self.call_id)
        return DialResult(call=self.call, status=status, reason="answered")

    async def _ring_timeout(self) -> DialResult:
        if not self.provisional:
            return self._failed(None, "no_answer", f"no response in {self.ring_s:g} s")
        self._cancel()
        try:
            response = await asyncio.wait_for(asyncio.shield(self.final), _CANCEL_WAIT)
        except TimeoutError:
            return self._failed(None, "no_answer", f"no answer in {self.ring_s:g} s (CANCEL unanswered)")
        if 200 <= response.status < 300 and self.call is not None:  # answered as we cancelled
            self.server.hang_up(self.call, "server")
        return self._failed(response.status, "no_answer", f"no answer in {self.ring_s:g} s, cancelled")

    def _failed(self, status: int | None, reason: str, detail: str) -> DialResult:
        self.server.stats[f"dial_{reason}"] += 1
        log.info("SIP dial %s failed: %s (%s)", self.number or self.uri, reason, detail)
        return DialResult(call=None, status=status, reason=reason)

    def _timer_b(self) -> None:
        if not self.final.done():
            self.final.set_exception(TimeoutError())

    # Helpers

    def _cancel(self) -> None:
        if self.invite is None or self.peer is None or self.final.done():
            return
        cancel = self._request("CANCEL", self.uri, self.branch, self.to).to_bytes()
        self.server.stats["dial_cancels"] += 1
        tx = NonInviteClientTx(to=self.peer, reliable=False, message=cancel)
        self.cancel_tx = TxDriver(tx)
        self.cancel_tx.apply(tx.start(self.cancel_tx.now()))

    async def _give_up(self) -> None:
        """Cancelled from outside (the desk's End, shutdown): BYE if answered; CANCEL if it
        rings, then wait at most ``_CANCEL_WAIT`` for the final response so the 487 is
        ACKed (or a 2xx that crossed the CANCEL is ACKed and hung up)."""
        call = self.call
        if call is None or call.ended:
            return
        if call.confirmed:
            self.server.hang_up(call, "cancel")
            return
        if not self.provisional or self.final.done():
            return  # nothing to cancel yet (RFC 3261 9.1): the far end's Timer B ends it
        self._cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.final), _CANCEL_WAIT)
        if call.confirmed and not call.ended:  # a 2xx crossed the CANCEL
            self.server.hang_up(call, "cancel")

    def _stop_timers(self) -> None:
        for tx in (self.invite_tx, self.cancel_tx):
            if tx is not None:
                tx.stop()
        if self.final.done() and not self.final.cancelled():
            self.final.exception()  # retrieved: a Timer B expiry nobody waited for is not an error

    def _request(
        self, method: str, uri: str, branch: str, to: str, more: list[tuple[str, str]] | None = None
    ) -> SipRequest:
        """A request of this dialog (CSeq 1: INVITE, its ACK and CANCEL share it)."""
        headers = [
            ("Via", self._via(branch)),
            ("Max-Forwards", "70"),
            ("From", self.local),
            ("To", to),
            ("Call-ID", self.call_id),
            ("CSeq", f"1 {method}"),
        ]
        return SipRequest(method=method, uri=uri, headers=headers + (more or []))

    def _via(self, branch: str) -> str:
        return f"SIP/2.0/UDP {self.server.local_address};branch={branch};rport"

    def _send(self, data: bytes) -> None:
        if self.peer is not None:
            self.peer.send(data)


def _user(uri: str) -> str:
    rest = uri.partition(":")[2]
    user, at, _ = rest.partition("@")
    return user if at else ""


def _host_port(uri: str) -> tuple[str, int] | None:
    match = _HOSTPORT.match(uri)
    if match is None:
        return None
    return match.group(1).strip("[]"), int(match.group(2) or 5060)


def _placeholder_offer(address: tuple[str, int]) -> Offer:
    """Until the 2xx brings the far end's SDP (no RTP is sent while ringing)."""
    return Offer(
        address=address[0],
        port=address[1],
        payload_types=(0, DTMF_PT),
        rtpmap=((0, "pcmu/8000"), (DTMF_PT, "telephone-event/8000")),
        direction="sendrecv",
    )
