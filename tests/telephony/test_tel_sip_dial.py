"""The SIP UAC (``sip_dial.SipDialer``) against a scripted far end: a real UDP socket on
loopback that records every request it gets and answers what each test tells it to.
Retransmission of an unanswered INVITE (RFC 3261 timers), ACK of a re-sent 2xx, BYE from
the far end, a 2xx without SDP, an unexpected 503; nothing is left afterwards."""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
from typing import Any

import pytest
from telsupport import free_port, open_fds, until

from callcenter.config.telephony import TelephonyConfig
from callcenter.telephony.media import CallChannel, HungUp
from callcenter.telephony.sip_dial import SipDialer
from callcenter.telephony.sip_server import SipServer
from callcenter.telephony.sipmsg import SipRequest, build_response, parse_message

pytestmark = pytest.mark.timeout(30)

ANSWER = (
    b"v=0\r\no=far 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
)


class FarEnd(asyncio.DatagramProtocol):
    """The customer's side: records (time, request) and replies per ``script``."""

    def __init__(self) -> None:
        self.requests: list[tuple[float, SipRequest]] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.server_addr: tuple[str, int] | None = None
        self.on_invite: Any = None  # callable(request) run for each INVITE

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        message = parse_message(data)
        assert isinstance(message, SipRequest)
        self.server_addr = addr
        self.requests.append((asyncio.get_running_loop().time(), message))
        if message.method == "INVITE" and self.on_invite is not None:
            self.on_invite(message)
        elif message.method in ("BYE", "CANCEL"):
            self.reply(message, 200, "OK")

    def reply(self, request: SipRequest, status: int, reason: str, *, body: bytes = b"") -> None:
        headers = [("Contact", f"<sip:far@127.0.0.1:{self.port}>")]
        if body:
            headers.append(("Content-Type", "application/sdp"))
        response = build_response(request, status, reason, to_tag="far1", headers=headers, body=body)
        assert self.transport is not None and self.server_addr is not None
        self.transport.sendto(response.to_bytes(), self.server_addr)

    def send(self, data: bytes) -> None:
        assert self.transport is not None and self.server_addr is not None
        self.transport.sendto(data, self.server_addr)

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def methods(self) -> list[str]:
        return [r.method for _, r in self.requests]


@pytest.fixture
async def rig() -> Any:
    fds = open_fds()
    base = free_port()
    config = TelephonyConfig(
        sip_port=0, transports=("udp",), rtp_port_min=base, rtp_port_max=base + 20, no_rtp_timeout_s=10.0
    )

    async def on_call(channel: CallChannel) -> None:  # the dialer's calls never reach it
        raise AssertionError("an outbound call was handed to on_call")

    server = SipServer(config, on_call)
    await server.start()
    loop = asyncio.get_running_loop()
    transport, far = await loop.create_datagram_endpoint(FarEnd, local_addr=("127.0.0.1", 0))
    dialer = SipDialer(server, caller_id="bank")
    yield server, dialer, far
    await dialer.close()
    await server.stop()
    transport.close()
    await asyncio.sleep(0)
    assert open_fds() <= fds


def uri(far: FarEnd, number: str = "+15557654321") -> str:
    return f"sip:{number}@127.0.0.1:{far.port}"


async def test_an_unanswered_invite_is_resent_at_t1_doubling_and_given_up_after_the_ring_time(
    rig: Any,
) -> None:
    server, dialer, far = rig
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await dialer.dial(uri(far), ring_s=2.2)
    assert (result.call, result.status, result.reason) == (None, None, "no_answer")
    assert 2.15 < loop.time() - started < 3.0
    times = [t for t, r in far.requests if r.method == "INVITE"]
    assert len(times) == 3  # at 0, 0.5 and 1.5 s (T1 = 0.5 s, doubling)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert 0.45 < gaps[0] < 0.9 and 0.95 < gaps[1] < 1.5, gaps
    assert "CANCEL" not in far.methods()  # nothing rang, so there is nothing to cancel
    invite = far.requests[0][1]
    assert invite.uri == uri(far) and "sip:bank@" in invite.need("From")
    assert b"m=audio" in invite.body and b"PCMU/8000" in invite.body and b"telephone-event" in invite.body
    assert server.dialing == 0 and len(server.clock) == 0 and not server.calls


async def test_a_resent_2xx_is_acked_again_and_the_far_ends_bye_ends_the_call(rig: Any) -> None:
    server, dialer, far = rig
    sent: list[SipRequest] = []

    def answer(invite: SipRequest) -> None:
        sent.append(invite)
        far.reply(invite, 180, "Ringing")
        far.reply(invite, 200, "OK", body=ANSWER)

    far.on_invite = answer
    result = await dialer.dial(uri(far), ring_s=5)
    assert result.reason == "answered" and result.status == 200 and result.call is not None
    call = result.call
    await until(lambda: far.methods().count("ACK") == 1)
    far.reply(sent[0], 200, "OK", body=ANSWER)  # our ACK was "lost": the 2xx comes again
    await until(lambda: far.methods().count("ACK") == 2)
    assert call.remote_rtp == ("127.0.0.1", 40000)
    await until(lambda: call.rtp_packets_out > 5)  # RTP flows to the answer's address
    ack = next(r for _, r in far.requests if r.method == "ACK")
    assert ack.uri == f"sip:far@127.0.0.1:{far.port}" and "tag=far1" in ack.need("To")
    bye = SipRequest(
        method="BYE",
        uri="sip:bank@127.0.0.1",
        headers=[
            ("Via", f"SIP/2.0/UDP 127.0.0.1:{far.port};branch=z9hG4bKfarbye"),
            ("From", ack.need("To")),
            ("To", ack.need("From")),
            ("Call-ID", ack.call_id),
            ("CSeq", "1 BYE"),
            ("Max-Forwards", "70"),
        ],
    )
    far.send(bye.to_bytes())
    events = [event async for event in call.events()]
    assert events[-1] == HungUp(reason="caller")
    assert not server.calls and server.dialing == 0 and len(server.clock) == 0


async def test_a_2xx_without_sdp_is_acked_hung_up_and_logged(
    rig: Any, caplog: pytest.LogCaptureFixture
) -> None:
    server, dialer, far = rig
    far.on_invite = lambda invite: far.reply(invite, 200, "OK")
    with caplog.at_level(logging.INFO, logger="callcenter.telephony.sip_dial"):
        result = await dialer.dial(uri(far), ring_s=5)
    assert (result.call, result.status, result.reason) == (None, 200, "bad_answer")
    await until(lambda: "BYE" in far.methods())
    assert far.methods()[:3] == ["INVITE", "ACK", "BYE"]
    assert any("failed: bad_answer" in r.getMessage() and "no SDP" in r.getMessage() for r in caplog.records)
    await until(lambda: server.open_resources()["client_tx"] == 0)  # the far end's 200 ended our BYE
    assert not server.calls and server.dialing == 0 and len(server.clock) == 0


async def test_an_unexpected_503_is_acked_and_ends_the_dial_with_its_status(
    rig: Any, caplog: pytest.LogCaptureFixture
) -> None:
    server, dialer, far = rig
    far.on_invite = lambda invite: far.reply(invite, 503, "Service Unavailable")
    with caplog.at_level(logging.INFO, logger="callcenter.telephony.sip_dial"):
        result = await dialer.dial(uri(far), ring_s=5)
    assert (result.call, result.status, result.reason) == (None, 503, "rejected")
    await until(lambda: "ACK" in far.methods())
    ack = next(r for _, r in far.requests if r.method == "ACK")
    invite = far.requests[0][1]
    assert ack.need("Via") == invite.need("Via") and ack.uri == invite.uri  # the INVITE's transaction
    assert any("failed: rejected (503 Service Unavailable)" in r.getMessage() for r in caplog.records)
    assert not server.calls and server.dialing == 0 and len(server.clock) == 0


async def test_a_number_that_cannot_go_in_a_uri_is_refused_without_sending(rig: Any) -> None:
    server, dialer, far = rig
    result = await dialer.dial(f"sip:+1 555>evil@127.0.0.1:{far.port}", ring_s=5)
    assert (result.call, result.reason) == (None, "bad_number")
    assert far.requests == [] and server.dialing == 0


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"dial_uri": "tel:{number}"}, "must be a sip: URI with {number}"),
        ({"dial_uri": "sip:5551234@127.0.0.1"}, "must be a sip: URI with {number}"),
        ({"dial_uri": "sip:{number}@{gateway}"}, "no placeholder but {number}"),
        ({"dial_uri": "sip:{number}@127.0.0.1>;x"}, "must not contain spaces"),
        ({"dial_from": "Bank Line"}, "is not a SIP user part"),
        ({"dial_ring_s": 0}, "dial_ring_s must be > 0"),
    ],
)
def test_dialling_settings_are_checked_and_the_error_names_the_field(
    fields: dict[str, Any], says: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        TelephonyConfig(**fields)


def test_dialling_is_off_by_default() -> None:
    config = TelephonyConfig()
    assert (config.dial_uri, config.dial_from, config.dial_ring_s) == ("", "callcenter", 30.0)
