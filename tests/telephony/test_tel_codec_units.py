"""Pure pieces: SIP parsing, SDP negotiation, RTP, the jitter buffer, RFC 4733, G.711."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.telephony.rtp import DigitReceiver, JitterBuffer, RtpPacket, build_rtp, parse_rtp
from callcenter.telephony.sdp import NoCommonCodec, SdpError, answer_sdp, parse_offer
from callcenter.telephony.sipmsg import (
    SipParseError,
    SipRequest,
    StreamFramer,
    build_response,
    parse_message,
    tag_of,
    uri_user,
)

INVITE = (
    b"INVITE sip:100@example.org SIP/2.0\r\n"
    b"v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n"
    b'f: "Ann" <sip:+15550100@example.org>;tag=a1\r\n'
    b"t: <sip:100@example.org>\r\n"
    b"i: abc@10.0.0.1\r\n"
    b"CSeq: 7 INVITE\r\n"
    b"Subject: folded\r\n  line\r\n"
    b"l: 4\r\n\r\nbodyEXTRA"
)


def test_request_is_parsed_with_compact_headers_folding_and_content_length() -> None:
    message = parse_message(INVITE)
    assert isinstance(message, SipRequest)
    assert (message.method, message.uri) == ("INVITE", "sip:100@example.org")
    assert message.call_id == "abc@10.0.0.1"
    assert message.cseq == (7, "INVITE")
    assert message.get("subject") == "folded line"
    assert message.body == b"body"
    assert uri_user("sip:+15550100@example.org;user=phone") == "+15550100"
    assert uri_user("sip:example.org") == ""
    assert tag_of(message.need("From")) == "a1"


def test_response_copies_dialog_headers_and_adds_our_tag() -> None:
    request = parse_message(INVITE)
    assert isinstance(request, SipRequest)
    response = parse_message(build_response(request, 180, "Ringing", to_tag="zz").to_bytes())
    assert response.get("To") == "<sip:100@example.org>;tag=zz"
    assert response.get("Via") == request.get("Via")
    assert response.get("Content-Length") == "0"


@pytest.mark.parametrize(
    ("raw", "header"),
    [
        (INVITE.replace(b"CSeq: 7 INVITE", b"CSeq: 7 BYE"), "CSeq"),
        (INVITE.replace(b"l: 4", b"l: 40"), "Content-Length"),
        (INVITE.replace(b"l: 4", b"l: -1"), "Content-Length"),
        (INVITE.replace(b"t: <sip:100@example.org>\r\n", b""), "To"),
        (INVITE.replace(b'f: "Ann" <sip:+15550100@example.org>', b"f: Ann"), "From"),
        (INVITE.replace(b"v: SIP/2.0/UDP", b"v: HTTP/1.1"), "Via"),
        (INVITE.replace(b"CSeq: 7", b"CSeq: 99999999999"), "CSeq"),
        (INVITE.replace(b"Subject: folded", b"Sub ject: folded"), "Sub ject"),
        (INVITE.replace(b"INVITE sip:", b"INVITE nouri"), None),
        (INVITE.replace(b"\r\n\r\n", b"\r\n"), None),
    ],
)
def test_broken_messages_name_the_header(raw: bytes, header: str | None) -> None:
    with pytest.raises(SipParseError) as caught:
        parse_message(raw)
    assert caught.value.header == header


@given(st.lists(st.integers(1, 40), min_size=1, max_size=8))
def test_stream_framer_cuts_messages_at_any_split(cuts: list[int]) -> None:
    whole = INVITE.replace(b"bodyEXTRA", b"body")
    stream = b"\r\n" + whole + whole
    framer = StreamFramer()
    out: list[bytes] = []
    position = 0
    for cut in cuts * 50:
        out += framer.feed(stream[position : position + cut])
        position += cut
    out += framer.feed(stream[position:])
    assert [parse_message(m).body for m in out] == [b"body", b"body"]


OFFER = (
    b"v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n"
    b"m=audio 4000 RTP/AVP 8 0 96\r\na=rtpmap:96 telephone-event/8000\r\na=sendrecv\r\n"
    b"m=video 4002 RTP/AVP 99\r\na=sendonly\r\n"
)


def test_offer_negotiates_first_offered_law_and_telephone_event() -> None:
    offer = parse_offer(OFFER)
    assert (offer.address, offer.port, offer.direction, offer.held) == ("10.0.0.9", 4000, "sendrecv", False)
    chosen = offer.negotiate()
    assert (chosen.codec, chosen.payload_type, chosen.dtmf_payload_type) == ("pcma", 8, 96)
    answer = answer_sdp(
        address="10.0.0.1", port=5000, negotiated=chosen, offer_direction="sendonly", session_id=1, version=2
    ).decode()
    assert "m=audio 5000 RTP/AVP 8 96\r\n" in answer and "a=recvonly" in answer
    held = parse_offer(OFFER.replace(b"a=sendrecv", b"a=inactive"))
    assert held.held


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"v=1\r\n",
        OFFER.replace(b"IN IP4 10.0.0.9\r\nt", b"IN IP4 999.1.1.1\r\nt"),
        OFFER.replace(b"4000 RTP/AVP", b"4000 UDP/TLS"),
        b"v=0\r\nm=audio 1 RTP/AVP 0\r\n",
        b"\xff\xfe",
    ],
)
def test_bad_sdp_is_refused(body: bytes) -> None:
    with pytest.raises(SdpError):
        parse_offer(body)


def test_offer_without_g711_has_no_common_codec() -> None:
    with pytest.raises(NoCommonCodec):
        parse_offer(OFFER.replace(b"RTP/AVP 8 0 96", b"RTP/AVP 18 96")).negotiate()


def test_rtp_round_trip_and_junk() -> None:
    packet = parse_rtp(build_rtp(0, 65535, 2**32 - 1, 42, b"\x01\x02", marker=True))
    assert packet == RtpPacket(0, 65535, 2**32 - 1, 42, True, b"\x01\x02")
    assert parse_rtp(b"\x00" * 20) is None  # version 0
    assert parse_rtp(b"\x80\xc8" + bytes(10)) is None  # RTCP sender report
    assert parse_rtp(b"\x80") is None


def packets(seqs: list[int]) -> list[RtpPacket]:
    return [RtpPacket(0, s & 0xFFFF, s * 160, 1, False, bytes([s & 0xFF])) for s in seqs]


def test_jitter_buffer_reorders_drops_duplicates_and_fills_losses() -> None:
    buffer = JitterBuffer(depth=2)
    out: list[RtpPacket | None] = []
    for p in packets([65534, 0, 65535, 65535, 1, 3, 4, 5, 6, 9]):  # wraps; 2 is lost
        out += buffer.push(p)
    seqs = [None if p is None else p.sequence for p in out]
    assert seqs == [65534, 65535, 0, 1, None, 3, 4, 5, 6]
    assert buffer.late == 1 and buffer.lost == 1
    assert [p.sequence for p in buffer.flush() if p] == [9]  # still waiting for 7 and 8


def dtmf(ts: int, event: int, end: bool, duration: int) -> RtpPacket:
    payload = bytes([event, 0x80 if end else 0]) + struct.pack("!H", duration)
    return RtpPacket(101, 0, ts, 9, False, payload)


def test_rfc4733_reports_each_event_once_despite_three_end_packets() -> None:
    receiver = DigitReceiver()
    digits: list[str] = []
    for p in [
        dtmf(100, 1, False, 160),
        dtmf(100, 1, False, 320),
        dtmf(100, 1, True, 480),
        dtmf(100, 1, True, 480),
        dtmf(100, 1, True, 480),
        dtmf(900, 11, False, 160),  # end packets of '#' all lost ...
        dtmf(1700, 10, True, 480),
    ]:  # ... so '#' is reported when '*' starts
        digits += receiver.push(p)
    assert digits == ["1", "#", "*"]
