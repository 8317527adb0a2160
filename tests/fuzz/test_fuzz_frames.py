"""Every WebSocket of the running demo app (desk, chat, wallboard, media-stream) under
hostile frames: each bad frame gets a typed error frame (the media stream's message set
has none: it skips them), no connection is dropped, and a valid frame afterwards is still
answered. Then the frame rate: over it a ``rate_limited`` error and the frame dropped, a
flood closed with 1008."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from demo_center import media_stream_path
from fuzzsupport import FIELDS, LiveCenter, json_values, raw_bodies
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from callcenter.agent_desk.protocol import CLIENT_TYPES
from callcenter.config.sections import LimitsConfig
from callcenter.runtime.voice.install import TELEPHONY

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    max_examples=400,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
_probes = itertools.count(1)
DESK_FIELDS = [
    *("contact_id", "offer_id", "state", "reason", "on", "to_queue", "to_agent", "text", "code"),
    *("kind", "subject", "due", "sdp", "candidate", "sdp_mid", "sdp_mline_index", "protocol", "resume", "id"),
]
CHAT_TYPES = ["start", "text", "choose", "typing", "rate", "leave"]
CHAT_FIELDS = ["name", "email", "phone", "entry", "resume", "text", "key", "rating", "comment"]


def frames(types: list[str], fields: list[str]) -> st.SearchStrategy[tuple[str | bytes, bool]]:
    """(frame, surely bad): hostile raw frames, and objects of a real type with wrong fields."""
    raw = raw_bodies.map(lambda b: (b.decode("utf-8", "replace") if b[:1] != b"\xff" else b, True))
    shaped = st.tuples(
        st.sampled_from(types) | st.text(max_size=8),
        st.dictionaries(st.sampled_from(fields + FIELDS), json_values, max_size=4),
    ).map(lambda tf: (json.dumps({"type": tf[0], **tf[1]}), False))
    not_objects = json_values.filter(lambda v: not isinstance(v, dict)).map(lambda v: (json.dumps(v), True))
    return st.one_of(raw, shaped, not_objects)


async def _send(ws: aiohttp.ClientWebSocketResponse, frame: str | bytes) -> None:
    if isinstance(frame, bytes):
        await ws.send_bytes(frame)
    else:
        await ws.send_str(frame)


async def _until(ws: aiohttp.ClientWebSocketResponse, done: Any) -> list[dict[str, Any]]:
    """Frames received until ``done(frame)``, that one included (5 s at most)."""
    seen: list[dict[str, Any]] = []
    while True:
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.TEXT, f"the socket was dropped: {msg}"
        frame = json.loads(msg.data)
        seen.append(frame)
        if done(frame):
            return seen


def _typed_errors(seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
    errors = [f for f in seen if f.get("type") == "error"]
    for error in errors:
        assert isinstance(error["code"], str) and isinstance(error["message"], str), error
    return errors


# Desk ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def desk(center: LiveCenter) -> Iterator[aiohttp.ClientWebSocketResponse]:
    async def open_desk() -> Any:
        ws = await center.sessions["agent"].ws_connect("/ws/desk")
        await ws.send_json({"type": "hello", "protocol": 1})
        await _until(ws, lambda f: f["type"] == "welcome")
        return ws

    ws = center.run(open_desk())
    yield ws
    center.run(ws.close())


@settings(FUZZ)
@given(case=frames(sorted(CLIENT_TYPES), DESK_FIELDS))
def test_desk_answers_every_hostile_frame_and_stays_open(
    center: LiveCenter, desk: aiohttp.ClientWebSocketResponse, case: tuple[str | bytes, bool]
) -> None:
    _desk_case(center, desk, case)


@pytest.mark.slow
@settings(FUZZ, max_examples=5000)
@given(case=frames(sorted(CLIENT_TYPES), DESK_FIELDS))
def test_desk_frames_long_run(
    center: LiveCenter, desk: aiohttp.ClientWebSocketResponse, case: tuple[str | bytes, bool]
) -> None:
    _desk_case(center, desk, case)


def _desk_case(
    center: LiveCenter, desk: aiohttp.ClientWebSocketResponse, case: tuple[str | bytes, bool]
) -> None:
    frame, surely_bad = case
    assume(len(frame) < 2 * 64 * 1024 - 64)  # past twice the frame limit the socket closes 1009 (RFC 6455)
    if isinstance(frame, str):
        assume('"hello"' not in frame or surely_bad)
    probe = f"probe-{next(_probes)}"

    async def exchange() -> list[dict[str, Any]]:
        await _send(desk, frame)
        await desk.send_json({"type": "heartbeat", "id": probe})
        return await _until(desk, lambda f: f.get("type") == "ack" and f.get("id") == probe)

    seen = center.run(exchange())
    answers = [f for f in seen[:-1] if f.get("type") in ("ack", "error")]
    assert answers, f"no answer to {frame[:200]!r}: {seen}"
    if surely_bad:
        assert _typed_errors(seen), f"{frame[:200]!r} got {seen}"


# Chat ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chat(center: LiveCenter) -> Iterator[aiohttp.ClientWebSocketResponse]:
    async def open_chat() -> Any:
        ws = await center.sessions["anonymous"].ws_connect("/ws/chat")
        await ws.send_json({"type": "start", "name": "Fuzz"})
        await _until(ws, lambda f: f["type"] == "session")
        return ws

    ws = center.run(open_chat())
    yield ws
    center.run(ws.close())


@settings(FUZZ)
@given(case=frames(CHAT_TYPES, CHAT_FIELDS))
def test_chat_answers_every_bad_frame_and_stays_open(
    center: LiveCenter, chat: aiohttp.ClientWebSocketResponse, case: tuple[str | bytes, bool]
) -> None:
    _chat_case(center, chat, case)


@pytest.mark.slow
@settings(FUZZ, max_examples=5000)
@given(case=frames(CHAT_TYPES, CHAT_FIELDS))
def test_chat_frames_long_run(
    center: LiveCenter, chat: aiohttp.ClientWebSocketResponse, case: tuple[str | bytes, bool]
) -> None:
    _chat_case(center, chat, case)


def _chat_case(
    center: LiveCenter, chat: aiohttp.ClientWebSocketResponse, case: tuple[str | bytes, bool]
) -> None:
    frame, surely_bad = case
    assume(len(frame) < 2 * 16 * 1024 - 64)
    probe = f"probe-{next(_probes)}"

    async def exchange() -> list[dict[str, Any]]:
        await _send(chat, frame)
        await chat.send_json({"type": probe})  # an unknown type: answered with its error
        return await _until(chat, lambda f: f.get("type") == "error" and probe in f.get("message", ""))

    seen = center.run(exchange())
    assert seen[-1]["code"] == "unknown_type" and seen[-1]["field"] == "type"
    if surely_bad:
        assert len(_typed_errors(seen)) >= 2, f"{frame[:200]!r} got {seen}"


# Wallboard ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wallboard(center: LiveCenter) -> Iterator[aiohttp.ClientWebSocketResponse]:
    async def open_board() -> Any:
        ws = await center.sessions["supervisor"].ws_connect("/ws/supervisor")
        await _until(ws, lambda f: f["type"] == "snapshot")
        return ws

    ws = center.run(open_board())
    yield ws
    center.run(ws.close())


@settings(FUZZ, max_examples=150)
@given(case=frames(["snapshot", "update"], []))
def test_wallboard_answers_every_frame_read_only_and_stays_open(
    center: LiveCenter, wallboard: aiohttp.ClientWebSocketResponse, case: tuple[str | bytes, bool]
) -> None:
    frame, _ = case
    assume(len(frame) < 2 * 64 * 1024 - 64)

    async def exchange() -> list[dict[str, Any]]:
        await _send(wallboard, frame)
        await wallboard.send_str("probe")
        replies: list[dict[str, Any]] = []
        while len([f for f in replies if f.get("type") == "error"]) < 2:
            replies += await _until(wallboard, lambda f: f.get("type") == "error")
        return replies

    errors = _typed_errors(center.run(exchange()))
    assert [e["code"] for e in errors] == ["read_only", "read_only"]


# Media stream -------------------------------------------------------------------------

MEDIA_EVENTS = ["connected", "start", "media", "dtmf", "mark", "clear"]  # not stop: it ends the call
MEDIA_FIELDS = ["event", "streamSid", "start", "media", "dtmf", "mark", "sequenceNumber"]


def _media_frames() -> st.SearchStrategy[str | bytes]:
    raw = raw_bodies.map(lambda b: b.decode("utf-8", "replace") if b[:1] != b"\xff" else b)
    shaped = st.tuples(
        st.sampled_from(MEDIA_EVENTS) | st.text(max_size=8),
        st.dictionaries(st.sampled_from(MEDIA_FIELDS), json_values, max_size=3),
    ).map(lambda ef: json.dumps({**ef[1], "event": ef[0]}))
    both: st.SearchStrategy[str | bytes] = st.one_of(raw, shaped)
    return both


def _calls(center: LiveCenter) -> int:
    assert center.app is not None
    return len(center.app[TELEPHONY].front.calls)


@pytest.fixture(scope="module")
def media(center: LiveCenter) -> Iterator[aiohttp.ClientWebSocketResponse]:
    ws = center.run(center.sessions["anonymous"].ws_connect(media_stream_path()))
    yield ws
    center.run(ws.close())


@settings(FUZZ, max_examples=300)
@given(frame=_media_frames())
def test_media_stream_skips_hostile_messages_and_keeps_the_stream(
    center: LiveCenter, media: aiohttp.ClientWebSocketResponse, frame: str | bytes
) -> None:
    assume(len(frame) < 2 * 64 * 1024 - 64)
    center.run(_send(media, frame))
    assert not media.closed


def test_media_stream_takes_a_call_after_the_fuzz(
    center: LiveCenter, media: aiohttp.ClientWebSocketResponse
) -> None:
    start = {"event": "start", "streamSid": "MZfuzz", "start": {"callSid": "CAfuzz", "customParameters": {}}}

    async def dial() -> aiohttp.WSMessage:
        await media.send_json(start)  # ignored if a fuzzed start already began the call
        return await media.receive(timeout=10)  # the call's first media (its greeting)

    msg = center.run(dial(), timeout=15)
    assert msg.type == aiohttp.WSMsgType.TEXT and json.loads(msg.data)["event"] in ("media", "mark", "clear")
    assert _calls(center) == 1


# Frame rate ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slow_center(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCenter]:
    db = tmp_path_factory.mktemp("rate") / "callcenter.db"
    live = LiveCenter(
        f"sqlite+aiosqlite:///{db}", LimitsConfig(frames_per_s=1, frames_burst=5, flood_drops=30)
    )
    live.start()
    try:
        yield live
    finally:
        live.stop()


def test_frames_over_the_rate_are_dropped_with_an_error_and_a_flood_is_closed(
    slow_center: LiveCenter,
) -> None:
    async def run() -> tuple[list[dict[str, Any]], list[dict[str, Any]], int | None]:
        ws = await slow_center.sessions["anonymous"].ws_connect("/ws/chat")
        for n in range(10):  # burst 5 at 1 a second: the last ones arrive over the rate
            await ws.send_json({"type": f"t{n}"})
        first = [await ws.receive_json(timeout=5) for _ in range(10)]
        for n in range(40):  # 30 more drops than the gauge takes: closed for flooding
            await ws.send_json({"type": f"f{n}"})
        rest: list[dict[str, Any]] = []
        while (msg := await ws.receive(timeout=5)).type == aiohttp.WSMsgType.TEXT:
            rest.append(json.loads(msg.data))
        return first, rest, ws.close_code

    first, rest, code = slow_center.run(run())
    codes = [f["code"] for f in first]
    assert codes[:5] == ["unknown_type"] * 5  # within the burst: read and answered
    assert codes[5:] == ["rate_limited"] * 5  # over the rate: dropped, the socket kept
    assert all(f["code"] == "rate_limited" for f in rest) and code == 1008
