"""Bad SIP and bad media: refusals name the header, the server keeps serving, silent callers
are timed out and cleaned up."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telsupport import free_port, until

from callcenter.config.telephony import TelephonyConfig
from callcenter.telephony.media import CallChannel
from callcenter.telephony.sip_server import SipServer
from callcenter.telephony.sipmsg import SipParseError, parse_message

SDP = (
    "v=0\r\no=t 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio {port} RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
)


def invite(
    port: int,
    *,
    call_id: str = "c1",
    body: str | None = None,
    drop: str = "",
    replace: tuple[str, str] | None = None,
    method: str = "INVITE",
) -> bytes:
    sdp = SDP.format(port=9) if body is None else body
    headers = [
        ("Via", "SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-" + call_id),
        ("From", "<sip:5550001@127.0.0.1>;tag=abc"),
        ("To", f"<sip:100@127.0.0.1:{port}>"),
        ("Call-ID", call_id),
        ("CSeq", f"1 {method}"),
        ("Max-Forwards", "70"),
        ("Contact", "<sip:5550001@127.0.0.1:5999>"),
        ("Content-Type", "application/sdp"),
    ]
    lines = [f"{method} sip:100@127.0.0.1:{port} SIP/2.0"]
    for name, value in headers:
        if name == drop:
            continue
        if replace and name == replace[0]:
            value = replace[1]
        lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {len(sdp)}")
    return ("\r\n".join(lines) + "\r\n\r\n" + sdp).encode()


class Client:
    """A raw UDP SIP client on loopback."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)

    async def ask(self, data: bytes, timeout: float = 2.0, call_id: str = "") -> str | None:
        """Send (re-sent every 0.5 s like a UA over UDP), then return the first final
        response (for ``call_id`` if given), or None after ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            await loop.sock_sendto(self.sock, data, ("127.0.0.1", self.port))
            resend = min(deadline, loop.time() + 0.5)
            try:
                while True:
                    raw = await asyncio.wait_for(loop.sock_recv(self.sock, 65535), resend - loop.time())
                    reply = raw.decode("utf-8", "replace")
                    if not reply.startswith("SIP/2.0 1") and (
                        not call_id or f"Call-ID: {call_id}\r\n" in reply
                    ):
                        return reply
            except TimeoutError:
                continue
        return None

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def clients():  # type: ignore[no-untyped-def]
    made: list[Client] = []
    yield made
    for client in made:
        client.close()


@pytest.fixture
async def server():  # type: ignore[no-untyped-def]
    calls: list[CallChannel] = []

    async def on_call(channel: CallChannel) -> None:
        calls.append(channel)
        async for _ in channel.events():
            pass

    base = free_port()
    srv = SipServer(
        TelephonyConfig(
            sip_port=0, rtp_port_min=base, rtp_port_max=base + 20, no_rtp_timeout_s=0.5, transports=("udp",)
        ),
        on_call,
    )
    await srv.start()
    srv.answered_calls = calls  # type: ignore[attr-defined]
    yield srv
    await srv.stop()


@pytest.mark.parametrize(
    ("mutation", "status", "header"),
    [
        ({"drop": "Contact", "replace": ("Via", "SIP/3.0/UDP x")}, "400", "Via"),
        ({"drop": "To"}, None, ""),
        ({"drop": "CSeq"}, None, ""),
        ({"drop": "Call-ID"}, None, ""),
        ({"replace": ("CSeq", "x INVITE")}, "400", "CSeq"),
        ({"replace": ("CSeq", "1 BYE")}, "400", "CSeq"),
        ({"replace": ("Max-Forwards", "many")}, "400", "Max-Forwards"),
        ({"replace": ("From", "nobody")}, "400", "From"),
        ({"body": "v=1\r\n"}, "400", "SDP"),
        ({"body": SDP.format(port="x")}, "400", "SDP"),
        ({"body": SDP.format(port=9).replace("RTP/AVP 0 101", "RTP/AVP 18")}, "488", ""),
    ],
)
async def test_bad_invite_gets_a_4xx_naming_what_was_wrong(server, clients, mutation, status, header) -> None:  # type: ignore[no-untyped-def]
    client = Client(server.port)
    clients.append(client)
    reply = await client.ask(invite(server.port, **mutation), timeout=0.5 if status is None else 2)
    if status is None:  # cannot be answered without it: dropped with a log line
        assert reply is None
        assert server.stats["bad_requests"] == 1
        reply = "SIP/2.0 None"
    assert reply is not None
    status_line = reply.split("\r\n")[0]
    assert status_line.startswith(f"SIP/2.0 {status}")
    assert header in status_line
    assert server.calls == {}
    # the server keeps serving: a good OPTIONS is answered
    ok = await client.ask(invite(server.port, call_id="ok", method="OPTIONS"))
    assert ok is not None and ok.startswith("SIP/2.0 200")


async def test_bad_content_length_is_refused_and_garbage_is_dropped(server, clients) -> None:  # type: ignore[no-untyped-def]
    client = Client(server.port)
    clients.append(client)
    data = invite(server.port).replace(b"Content-Length: ", b"Content-Length: 9")
    reply = await client.ask(data)
    assert reply is not None and reply.startswith("SIP/2.0 400 Bad Content-Length")
    assert await client.ask(b"\x00\xffnot sip at all\r\n\r\n", timeout=0.3) is None
    assert server.stats["bad_requests"] == 2


async def test_caller_who_never_sends_rtp_is_timed_out_and_cleaned_up(server, clients) -> None:  # type: ignore[no-untyped-def]
    client = Client(server.port)
    clients.append(client)
    reply = await client.ask(invite(server.port, call_id="silent"))
    assert reply is not None and reply.startswith("SIP/2.0 200")
    to = next(line for line in reply.split("\r\n") if line.startswith("To:"))
    ack = invite(server.port, call_id="silent", method="ACK", body="").replace(
        f"To: <sip:100@127.0.0.1:{server.port}>".encode(), to.encode()
    )
    loop = asyncio.get_running_loop()
    await loop.sock_sendto(client.sock, ack, ("127.0.0.1", server.port))
    bye = await asyncio.wait_for(loop.sock_recv(client.sock, 65535), 3)
    assert bye.startswith(b"BYE sip:5550001@127.0.0.1:5999 SIP/2.0")
    assert server.stats["no_rtp"] == 1
    channel = server.answered_calls[0]
    assert channel.ended
    assert server.calls == {}


async def test_unknown_dialog_and_unsupported_methods(server, clients) -> None:  # type: ignore[no-untyped-def]
    client = Client(server.port)
    clients.append(client)
    bye = invite(server.port, call_id="nobody", method="BYE", body="")
    reply = await client.ask(bye)
    assert reply is not None and reply.startswith("SIP/2.0 481")
    register = invite(server.port, call_id="reg", method="REGISTER", body="")
    reply = await client.ask(register)
    assert reply is not None and reply.startswith("SIP/2.0 405")


_VALID = invite(5060)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_parser_refuses_mutated_messages_with_a_named_error_only(data: st.DataObject) -> None:
    raw = bytearray(_VALID)
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        pos = data.draw(st.integers(0, len(raw) - 1))
        if kind == "flip":
            raw[pos] = data.draw(st.integers(0, 255))
        elif kind == "cut":
            del raw[pos : pos + data.draw(st.integers(1, 20))]
        else:
            raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=10))
        if not raw:
            raw = bytearray(b"x")
    with contextlib.suppress(SipParseError):
        parse_message(bytes(raw))


async def test_server_survives_a_burst_of_fuzzed_datagrams(server, clients) -> None:  # type: ignore[no-untyped-def]
    """Random mutations of a valid INVITE: each gets a response or is dropped; no crash, and a
    clean call still works afterwards."""
    import random

    rng = random.Random(7)
    client = Client(server.port)
    clients.append(client)
    loop = asyncio.get_running_loop()
    for i in range(200):
        raw = bytearray(invite(server.port, call_id=f"fuzz{i}"))
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(raw))
            raw[pos] = rng.randrange(256)
        await loop.sock_sendto(client.sock, bytes(raw), ("127.0.0.1", server.port))
    fresh = Client(server.port)  # the fuzzing socket's buffer is full of replies
    clients.append(fresh)
    reply = await fresh.ask(
        invite(server.port, call_id="after-fuzz", method="OPTIONS"), timeout=3, call_id="after-fuzz"
    )
    assert reply is not None and reply.startswith("SIP/2.0 200"), reply
    await server.stop()  # hangs up whatever the fuzz managed to set up
    assert all(c.ended for c in server.answered_calls)
    await until(lambda: server.open_resources()["calls"] == 0)
