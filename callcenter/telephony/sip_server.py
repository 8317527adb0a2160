"""SIP user agent server: answers calls and hands each one to the application.

Theory of operation. A caller's INVITE with an SDP offer (PCMU/PCMA, telephone-event)
gets 100 Trying, then 180 Ringing with our tag, then - at once or after
``ring_seconds`` - 200 OK with our SDP answer. The 200 is re-sent at T1, 2*T1, ... T2 over
UDP until the ACK arrives (64*T1 without ACK ends the call). On answer the call is handed
to ``on_call(channel)`` in its own task; when that coroutine returns the call is hung up.
Either side may end the call with BYE; a CANCEL while ringing gets 200 and the INVITE
487. OPTIONS gets 200 with what we allow. A re-INVITE updates the media (hold with
a=sendonly/inactive, resume with sendrecv). INFO carries digits (application/dtmf-relay
and application/dtmf). Retransmitted non-INVITE requests get the cached response.

Bad input: a message that breaks a rule gets ``400 Bad <Header>`` with a Warning header
giving the detail when it can be answered (it has Via, From, To, Call-ID and CSeq),
otherwise it is dropped with a log line; bad SDP gets 400 (malformed) or 488 (no common
codec). Nothing a caller sends can stop the server serving other calls.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable

from callcenter.config.telephony import TelephonyConfig
from callcenter.telephony.media import CallChannel, CallInfo, run_call
from callcenter.telephony.pacer import MediaClock
from callcenter.telephony.sdp import NoCommonCodec, SdpError, answer_sdp, parse_offer
from callcenter.telephony.sip_call import Peer, SipCall
from callcenter.telephony.sip_transactions import (
    DialogEvent,
    DialogState,
    InviteServerTx,
    NonInviteClientTx,
    ResponseCache,
)
from callcenter.telephony.sip_transport import SipListeners, TxDriver, send_output
from callcenter.telephony.sipmsg import (
    SipParseError,
    SipRequest,
    SipResponse,
    build_response,
    param,
    parse_message,
    parse_name_addr,
    tag_of,
    uri_user,
)

log = logging.getLogger(__name__)

OnCall = Callable[[CallChannel], Awaitable[None]]
OnResponse = Callable[[SipResponse], bool]  # True: the dialer consumed it
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO"
_NOT_ALLOWED = {"REGISTER", "SUBSCRIBE", "NOTIFY", "PUBLISH", "MESSAGE", "REFER", "PRACK", "UPDATE"}


def _branch(message: SipRequest | SipResponse) -> str:
    return param(message.need("Via").split(",", 1)[0], "branch") or ""


class SipServer:
    """The SIP front-end. ``await start()`` binds the listeners; ``await stop()`` hangs up
    every call and releases every socket, timer and task it made."""

    def __init__(self, config: TelephonyConfig, on_call: OnCall, *, clock: MediaClock | None = None) -> None:
        self.config = config
        self.clock = clock or MediaClock()
        self.calls: dict[str, SipCall] = {}
        self.stats: Counter[str] = Counter()
        self._on_call = on_call
        self._listeners = SipListeners(self._on_message)
        self._tasks: set[asyncio.Task[None]] = set()
        # the shells of live transactions: final responses awaiting their ACK (by Call-ID)
        # and our BYEs awaiting their response (by branch)
        self._pending_ack: dict[str, TxDriver[InviteServerTx[Peer]]] = {}
        self._client_tx: dict[str, TxDriver[NonInviteClientTx[Peer]]] = {}
        self._response_hooks: dict[str, OnResponse] = {}  # Call-ID of a call we place -> dialer
        self._outbound: dict[str, tuple[str, str, str]] = {}  # Call-ID -> (target, From, To)
        self._tx_cache = ResponseCache()
        self._next_rtp = config.rtp_port_min + (config.rtp_port_min % 2)

    # Public methods for the composition root

    async def start(self) -> None:
        await self._listeners.open(self.config.sip_host, self.config.sip_port, self.config.transports)
        log.info(
            "SIP listening on %s:%s (%s)", self.config.sip_host, self.port, ", ".join(self.config.transports)
        )

    @property
    def port(self) -> int:
        return self._listeners.port

    async def stop(self, grace: float = 2.0) -> None:
        for call in list(self.calls.values()):
            if call.state is DialogState.EARLY:
                self._reply(call.invite, call.peer, 503, "Service Unavailable")
                self._finish(call, "shutdown")
            else:
                self._hang_up(call, "shutdown")
        for pending in self._pending_ack.values():
            pending.stop()
        for client in self._client_tx.values():
            client.stop()
        self._pending_ack.clear()
        self._client_tx.clear()
        if self._tasks:  # handlers see their HungUp and get a moment to finish
            await asyncio.wait(set(self._tasks), timeout=grace)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._listeners.close()

    def open_resources(self) -> dict[str, int]:
        """Counts of what is still held (tests check that hang-ups leave nothing behind)."""
        return {
            "calls": len(self.calls),
            "tasks": len(self._tasks),
            "pending_ack": len(self._pending_ack),
            "client_tx": len(self._client_tx),
            "clock_sinks": len(self.clock),
        }

    @property
    def dialing(self) -> int:
        """Calls we placed that still take responses (ringing, or up until they end)."""
        return len(self._response_hooks)

    # Public methods for the UAC (``sip_dial.SipDialer``), which shares our UDP socket

    def udp_peer(self, address: tuple[str, int]) -> Peer | None:
        return self._listeners.udp_peer(address)

    @property
    def local_address(self) -> str:
        """``host:port`` for the Via and Contact of requests we originate."""
        return f"{self.config.media_address}:{self.port}"

    async def bind_rtp(self, call: SipCall) -> bool:
        """Bind a call's RTP socket from the configured range; False if none is free."""
        return await self._bind_rtp(call)

    def expect_responses(self, call_id: str, on_response: OnResponse) -> None:
        """Hand responses carrying ``call_id`` to ``on_response`` until ``forget_responses``
        (or until the call, once confirmed, ends)."""
        self._response_hooks[call_id] = on_response

    def forget_responses(self, call_id: str) -> None:
        self._response_hooks.pop(call_id, None)

    def hang_up(self, call: SipCall, reason: str) -> None:
        """End an answered call from our side (BYE, retransmitted until answered)."""
        self._hang_up(call, reason)

    def confirm_outbound(self, call: SipCall, *, target: str, local: str, remote: str) -> None:
        """A call we placed was answered and ACKed: it joins ``calls`` (in-dialog BYE,
        INFO and re-INVITE from the far end reach it; shutdown hangs it up), its no-RTP
        timer starts, and our BYE goes to ``target`` From ``local`` To ``remote``."""
        self.calls[call.info.call_id] = call
        self._outbound[call.info.call_id] = (target, local, remote)
        self._watch_rtp(call)

    # Receiving

    def _on_message(self, data: bytes, peer: Peer) -> None:
        try:
            message = parse_message(data)
        except SipParseError as exc:
            self._refuse_unparsable(data, peer, exc)
            return
        if isinstance(message, SipResponse):
            hook = self._response_hooks.get(message.get("Call-ID") or "")
            if hook is None or not hook(message):
                self._on_response(message)
            return
        try:
            self._dispatch(message, peer)
        except SipParseError as exc:
            self.stats["bad_requests"] += 1
            log.info("SIP %s from %s:%s refused: %s", message.method, *peer.address, exc)
            self._reply(
                message,
                peer,
                400,
                f"Bad {exc.header or 'Request'}",
                headers=[("Warning", f'399 callcenter "{_quote(str(exc))}"')],
            )
        except Exception:
            log.exception("SIP %s from %s:%s failed", message.method, *peer.address)
            self._reply(message, peer, 500, "Server Internal Error")

    def _dispatch(self, request: SipRequest, peer: Peer) -> None:
        method = request.method
        self.stats[f"in_{method}"] += 1
        if method == "ACK":
            self._on_ack(request)
            return
        if method != "INVITE" and self._replay_cached(request, peer):
            return
        if method == "INVITE":
            self._on_invite(request, peer)
        elif method == "CANCEL":
            self._on_cancel(request, peer)
        elif method == "BYE":
            self._on_bye(request, peer)
        elif method == "INFO":
            self._on_info(request, peer)
        elif method == "OPTIONS":
            self._reply(
                request,
                peer,
                200,
                "OK",
                headers=[("Allow", ALLOW), ("Accept", "application/sdp"), ("Supported", "")],
            )
        elif method in _NOT_ALLOWED:
            self._reply(request, peer, 405, "Method Not Allowed", headers=[("Allow", ALLOW)])
        else:
            self._reply(request, peer, 501, "Not Implemented", headers=[("Allow", ALLOW)])

    def _on_response(self, response: SipResponse) -> None:
        branch = _branch(response)
        driver = self._client_tx.get(branch)
        if driver is not None:
            driver.apply(driver.tx.response(response.status, driver.now()))
            if driver.tx.done:
                del self._client_tx[branch]

    # INVITE, ACK, CANCEL

    def _on_invite(self, request: SipRequest, peer: Peer) -> None:
        call = self.calls.get(request.call_id)
        if tag_of(request.need("To")) is not None:
            if call is None or call.state is DialogState.EARLY:
                self._reply(request, peer, 481, "Call/Transaction Does Not Exist")
            elif request.cseq[0] <= call.invite.cseq[0] and _branch(request) == _branch(call.invite):
                self._invite_again(call)
            else:
                self._on_reinvite(call, request, peer)
            return
        if call is not None:  # a retransmission of the INVITE: the last response again
            self._invite_again(call)
            return
        self._new_call(request, peer)

    def _new_call(self, request: SipRequest, peer: Peer) -> None:
        content_type = (request.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/sdp" or not request.body:
            self._reply(
                request,
                peer,
                488,
                "Not Acceptable Here",
                headers=[("Warning", '304 callcenter "an SDP offer is required"')],
            )
            return
        try:
            offer = parse_offer(request.body)
            negotiated = offer.negotiate()
        except SdpError as exc:
            self.stats["bad_sdp"] += 1
            status, reason = (
                (488, "Not Acceptable Here") if isinstance(exc, NoCommonCodec) else (400, "Bad SDP")
            )
            self._reply(
                request, peer, status, reason, headers=[("Warning", f'399 callcenter "{_quote(str(exc))}"')]
            )
            return
        if len(self.calls) >= self.config.max_calls:
            self._reply(request, peer, 503, "Service Unavailable", headers=[("Retry-After", "5")])
            return
        from_uri, _ = parse_name_addr(request.need("From"), "From")
        to_uri, _ = parse_name_addr(request.need("To"), "To")
        info = CallInfo(
            call_id=request.call_id,
            caller=uri_user(from_uri),
            called=uri_user(request.uri) or uri_user(to_uri),
            front_end="sip",
        )
        call = SipCall(
            info=info,
            clock=self.clock,
            invite=request,
            peer=peer,
            local_tag=secrets.token_hex(6),
            offer=offer,
            negotiated=negotiated,
            hangup_hook=lambda c: self._hang_up(c, "server"),
        )
        call.invite_tx = InviteServerTx(to=peer, reliable=peer.reliable, message=self._ringing_bytes(call))
        self.calls[request.call_id] = call
        self.stats["invites"] += 1
        self._reply(request, peer, 100, "Trying")
        self._spawn(self._set_up(call))

    async def _set_up(self, call: SipCall) -> None:
        if not await self._bind_rtp(call):
            self._reply(
                call.invite,
                call.peer,
                503,
                "Service Unavailable",
                headers=[("Warning", '399 callcenter "no free RTP port"')],
            )
            self._finish(call, "no_rtp_port")
            return
        if call.ended:  # cancelled or shut down while the socket was being bound
            call.release()
            return
        self._ringing(call)
        if self.config.ring_seconds > 0:
            loop = asyncio.get_running_loop()
            call.timers["ring"] = loop.call_later(self.config.ring_seconds, self._answer, call)
        else:
            self._answer(call)

    async def _bind_rtp(self, call: SipCall) -> bool:
        low, high = self.config.rtp_port_min, self.config.rtp_port_max
        span = max(1, (high - low) // 2 + 1)
        for _ in range(span):
            port = self._next_rtp
            self._next_rtp = port + 2 if port + 2 <= high else low + (low % 2)
            if port > high:
                continue
            try:
                await call.open_rtp(self.config.sip_host, port)
                return True
            except OSError:
                continue
        return False

    def _ringing_bytes(self, call: SipCall) -> bytes:
        return self._response(
            call.invite, 180, "Ringing", to_tag=call.local_tag, headers=[("Contact", self._contact(call))]
        )

    def _ringing(self, call: SipCall) -> None:
        if call.invite_tx is not None:
            send_output(call.invite_tx.provisional(asyncio.get_running_loop().time()))

    def _invite_again(self, call: SipCall) -> None:
        """A retransmitted INVITE: its transaction sends the last response again."""
        tx = call.invite_tx
        if tx is None:
            return
        driver = self._pending_ack.get(call.info.call_id)
        if driver is not None and driver.tx is tx:
            driver.apply(tx.request_again(driver.now()))
        else:  # no timer of its own (proceeding or confirmed)
            send_output(tx.request_again(asyncio.get_running_loop().time()))

    def _answer(self, call: SipCall) -> None:
        if call.ended or not call.dialog(DialogEvent.ANSWER):
            return
        self.stats["answered"] += 1
        self._send_ok(call, call.invite)
        self._watch_rtp(call)
        self._spawn(run_call(self._on_call, call))

    def _send_ok(self, call: SipCall, request: SipRequest) -> None:
        body = answer_sdp(
            address=self.config.media_address,
            port=call.rtp_port,
            negotiated=call.negotiated,
            offer_direction=call.offer.direction,
            session_id=abs(hash(call.info.call_id)) % 10**9,
            version=call.sdp_version,
        )
        response = build_response(
            request,
            200,
            "OK",
            to_tag=call.local_tag,
            body=body,
            headers=[("Contact", self._contact(call)), ("Allow", ALLOW), ("Content-Type", "application/sdp")],
        )
        data = response.to_bytes()
        old = self._pending_ack.pop(call.info.call_id, None)
        if old is not None:
            old.stop()
        tx = call.invite_tx
        assert tx is not None  # made with the call, and anew for each re-INVITE
        driver = TxDriver(tx, lambda: self._no_ack(call))
        self._pending_ack[call.info.call_id] = driver
        driver.apply(tx.final(data, driver.now(), success=True))

    def _forget_ack(self, key: str) -> None:
        self._pending_ack.pop(key, None)

    def _forget_client_tx(self, branch: str) -> None:
        self._client_tx.pop(branch, None)

    def _no_ack(self, call: SipCall) -> None:
        self._pending_ack.pop(call.info.call_id, None)
        log.info("SIP call %s: no ACK for the 200 OK, hanging up", call.info.call_id)
        self._hang_up(call, "no_ack")

    def _on_ack(self, request: SipRequest) -> None:
        driver = self._pending_ack.pop(request.call_id, None)
        if driver is not None:
            driver.apply(driver.tx.ack(driver.now()))
        call = self.calls.get(request.call_id)
        if call is not None:
            call.dialog(DialogEvent.ACK)

    def _on_cancel(self, request: SipRequest, peer: Peer) -> None:
        call = self.calls.get(request.call_id)
        if call is None or call.invite.cseq[0] != request.cseq[0] or _branch(call.invite) != _branch(request):
            self._reply(request, peer, 481, "Call/Transaction Does Not Exist")
            return
        self._reply(request, peer, 200, "OK")
        tx = call.invite_tx
        if call.state is not DialogState.EARLY or tx is None:
            return  # already answered: the caller must send BYE (RFC 3261 9.2)
        self.stats["cancelled"] += 1
        final = build_response(call.invite, 487, "Request Terminated", to_tag=call.local_tag).to_bytes()
        key = call.info.call_id
        self._finish(call, "cancel")
        tx.to, tx.reliable = peer, peer.reliable  # the 487 goes back the way the CANCEL came
        driver = TxDriver(tx, lambda: self._forget_ack(key))
        self._pending_ack[key] = driver
        driver.apply(tx.final(final, driver.now(), success=False))

    # In-dialog requests

    def _on_reinvite(self, call: SipCall, request: SipRequest, peer: Peer) -> None:
        if request.body:
            try:
                offer = parse_offer(request.body)
                negotiated = offer.negotiate()
            except SdpError as exc:
                self._reply(
                    request,
                    peer,
                    488,
                    "Not Acceptable Here",
                    headers=[("Warning", f'399 callcenter "{_quote(str(exc))}"')],
                )
                return
            call.update_media(offer, negotiated)
            self.stats["reinvites"] += 1
        call.invite = request
        call.peer = peer
        call.invite_tx = InviteServerTx(to=peer, reliable=peer.reliable)
        self._send_ok(call, request)

    def _on_bye(self, request: SipRequest, peer: Peer) -> None:
        call = self.calls.get(request.call_id)
        if call is None or call.state is DialogState.EARLY:
            self._reply(request, peer, 481, "Call/Transaction Does Not Exist")
            return
        self._reply(request, peer, 200, "OK")
        self.stats["caller_bye"] += 1
        self._finish(call, "caller")

    def _on_info(self, request: SipRequest, peer: Peer) -> None:
        call = self.calls.get(request.call_id)
        if call is None:
            self._reply(request, peer, 481, "Call/Transaction Does Not Exist")
            return
        content_type = (request.get("Content-Type") or "").split(";")[0].strip().lower()
        text = request.body.decode("utf-8", "replace")
        if content_type == "application/dtmf-relay":
            signal = next(
                (
                    line.partition("=")[2].strip()
                    for line in text.splitlines()
                    if line.partition("=")[0].strip().lower() == "signal"
                ),
                "",
            )
        elif content_type == "application/dtmf":
            signal = text.strip()
        else:
            self._reply(
                request,
                peer,
                415,
                "Unsupported Media Type",
                headers=[("Accept", "application/dtmf-relay, application/dtmf")],
            )
            return
        signal = {"10": "*", "11": "#"}.get(signal, signal).upper()
        if len(signal) != 1 or signal not in "0123456789*#ABCD":
            self._reply(
                request,
                peer,
                400,
                "Bad Signal",
                headers=[("Warning", f'399 callcenter "{_quote(signal[:20])} is not a digit"')],
            )
            return
        self._reply(request, peer, 200, "OK")
        call.deliver_digit(signal, "sip-info")

    # Ending calls

    def _hang_up(self, call: SipCall, reason: str) -> None:
        """Our side ends an answered call: BYE (retransmitted until answered), then release."""
        if call.info.call_id not in self.calls:
            return
        call.local_cseq += 1
        branch = "z9hG4bK" + secrets.token_hex(8)
        ends = self._outbound.get(call.info.call_id)
        if ends is not None:  # a call we placed: our From, their To
            target, local, remote = ends
        else:
            target, _ = parse_name_addr(call.invite.get("Contact") or call.invite.need("From"), "Contact")
            to = call.invite.need("To")
            local = to if tag_of(to) else f"{to};tag={call.local_tag}"
            remote = call.invite.need("From")
        transport = call.peer.transport.upper()
        bye = SipRequest(
            method="BYE",
            uri=target,
            headers=[
                ("Via", f"SIP/2.0/{transport} {self.config.media_address}:{self.port};branch={branch};rport"),
                ("Max-Forwards", "70"),
                ("From", local),
                ("To", remote),
                ("Call-ID", call.info.call_id),
                ("CSeq", f"{call.local_cseq} BYE"),
            ],
        ).to_bytes()
        peer = call.peer
        tx = NonInviteClientTx(to=peer, reliable=peer.reliable, message=bye)
        driver = TxDriver(tx, lambda: self._forget_client_tx(branch))
        self._client_tx[branch] = driver
        driver.apply(tx.start(driver.now()))
        self.stats["server_bye"] += 1
        self._finish(call, reason)

    def _finish(self, call: SipCall, reason: str) -> None:
        self.calls.pop(call.info.call_id, None)
        self._outbound.pop(call.info.call_id, None)
        self._response_hooks.pop(call.info.call_id, None)
        driver = self._pending_ack.pop(call.info.call_id, None)
        if driver is not None:
            driver.stop()
        call.dialog(DialogEvent.END)
        call.end(reason)
        call.release()

    def _watch_rtp(self, call: SipCall) -> None:
        """Hang up a call whose caller has sent no RTP for ``no_rtp_timeout_s`` (not on hold)."""
        loop = asyncio.get_running_loop()
        timeout = self.config.no_rtp_timeout_s

        def check() -> None:
            if call.ended:
                return
            idle = loop.time() - call.last_rtp
            if call.held or call.offer.direction == "inactive" or idle < timeout:
                wait = timeout - idle if idle < timeout else timeout
                call.timers["rtp"] = loop.call_later(wait, check)
                return
            log.info("SIP call %s: no RTP for %.1f s, hanging up", call.info.call_id, idle)
            self.stats["no_rtp"] += 1
            self._hang_up(call, "no_rtp")

        call.timers["rtp"] = loop.call_later(timeout, check)

    # Sending

    def _reply(
        self,
        request: SipRequest,
        peer: Peer,
        status: int,
        reason: str,
        *,
        to_tag: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        if request.method == "ACK":
            return
        data = self._response(request, status, reason, to_tag=to_tag, headers=headers)
        if request.method != "INVITE" and status >= 200:
            key = (_branch(request), request.method, request.call_id)
            self._tx_cache.remember(key, data, asyncio.get_running_loop().time())
        peer.send(data)

    def _response(
        self,
        request: SipRequest,
        status: int,
        reason: str,
        *,
        to_tag: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> bytes:
        if to_tag is None and status > 100 and tag_of(request.need("To")) is None:
            call = self.calls.get(request.call_id)
            to_tag = call.local_tag if call is not None else secrets.token_hex(6)
        return build_response(
            request, status, reason, to_tag=to_tag, headers=[("Server", "callcenter"), *(headers or [])]
        ).to_bytes()

    def _replay_cached(self, request: SipRequest, peer: Peer) -> bool:
        branch = _branch(request)
        cached = self._tx_cache.replay((branch, request.method, request.call_id)) if branch else None
        if cached is None:
            return False
        peer.send(cached)
        return True

    def _refuse_unparsable(self, data: bytes, peer: Peer, exc: SipParseError) -> None:
        """Answer 400 when the request can still be answered, otherwise drop with a log line."""
        self.stats["bad_requests"] += 1
        head = data.partition(b"\r\n\r\n")[0].decode("utf-8", "replace").split("\r\n")
        first = head[0].split(" ")
        wanted = ("via", "from", "to", "call-id", "cseq")
        found: dict[str, str] = {}
        for line in head[1:]:
            name, colon, value = line.partition(":")
            key = {"v": "via", "f": "from", "t": "to", "i": "call-id"}.get(
                name.strip().lower(), name.strip().lower()
            )
            if colon and key in wanted and key not in found:
                found[key] = value.strip()
        if len(first) != 3 or first[2] != "SIP/2.0" or first[0] == "ACK" or len(found) < len(wanted):
            log.info("SIP from %s:%s dropped: %s", *peer.address, exc)
            return
        log.info("SIP %s from %s:%s refused: %s", first[0][:20], *peer.address, exc)
        to = found["to"] if "tag=" in found["to"] else f"{found['to']};tag={secrets.token_hex(6)}"
        lines = [
            f"SIP/2.0 400 Bad {exc.header or 'Request'}",
            f"Via: {found['via']}",
            f"From: {found['from']}",
            f"To: {to}",
            f"Call-ID: {found['call-id']}",
            f"CSeq: {found['cseq']}",
            f'Warning: 399 callcenter "{_quote(str(exc))}"',
            "Content-Length: 0",
        ]
        peer.send(("\r\n".join(lines) + "\r\n\r\n").encode())

    def _contact(self, call: SipCall) -> str:
        suffix = ";transport=tcp" if call.peer.transport == "tcp" else ""
        user = call.info.called or "callcenter"
        return f"<sip:{user}@{self.config.media_address}:{self.port}{suffix}>"

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _quote(text: str) -> str:
    return text.replace("\\", "").replace('"', "'").replace("\r", " ").replace("\n", " ")[:200]
