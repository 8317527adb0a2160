"""The desk hub over real WebSockets: hello first, validated messages reach the center,
bad ones get an error frame and reach nothing, frames arrive in order, a desk that comes
back within the grace period resumes, one that does not is handed to the center once.

The message handler here is a recording fake of the center (a port), not the ACD."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from callcenter.agent_desk.hub import DeskHub
from callcenter.agent_desk.protocol import Accept, SetState
from callcenter.core import desk_frames as df
from callcenter.core.errors import EngineError


class NotYourOffer(EngineError):
    code = "not_your_offer"


class Center:
    def __init__(self) -> None:
        self.messages: list[tuple[str, Any]] = []
        self.gone: list[str] = []

    async def on_message(self, agent: str, message: Any) -> df.Ack | None:
        if isinstance(message, Accept) and message.offer_id == "o-other":
            raise NotYourOffer("offer o-other is not yours")
        self.messages.append((agent, message))
        return df.Ack(state="AVAILABLE") if isinstance(message, SetState) else None

    async def snapshot(self, agent: str) -> Callable[[], df.Welcome]:
        return lambda: self.welcome(agent)

    def welcome(self, agent: str) -> df.Welcome:
        return df.Welcome(
            agent=df.AgentInfo(username=agent, name=agent.title()),
            state="NOT_READY",
            reason=None,
            since=0.0,
            server_time=0.0,
            offers=[],
            contacts=[],
            reasons=["break"],
            dispositions=[],
            queues=[],
            agents=[],
            audio=df.AudioInfo(webrtc=False, ice_servers=[], connected=False),
        )


@pytest.fixture
async def desk(aiohttp_client):  # type: ignore[no-untyped-def]
    center = Center()
    hub = DeskHub(
        on_message=center.on_message,
        snapshot=center.snapshot,
        on_gone=center.gone.append,
        grace_s=0.3,
        heartbeat_s=5,
    )

    async def endpoint(request: web.Request) -> web.WebSocketResponse:
        return await hub.serve(request, request.match_info["agent"])  # test harness: no login

    app = web.Application()
    app.router.add_get("/ws/desk/{agent}", endpoint)
    client = await aiohttp_client(app)
    yield client, hub, center
    await hub.close()


async def connect(client, agent: str = "alice"):  # type: ignore[no-untyped-def]
    ws = await client.ws_connect(f"/ws/desk/{agent}")
    await ws.send_json({"type": "hello", "protocol": 1})
    welcome = await ws.receive_json(timeout=5)
    assert welcome["type"] == "welcome" and welcome["agent"]["username"] == agent
    return ws


async def test_first_frame_must_be_a_hello_of_this_protocol(desk) -> None:  # type: ignore[no-untyped-def]
    client, _, center = desk
    ws = await client.ws_connect("/ws/desk/alice")
    await ws.send_json({"type": "hello", "protocol": 2})
    error = await ws.receive_json(timeout=5)
    assert error["code"] == "protocol_version" and "speaks desk protocol 1" in error["message"]
    assert (await ws.receive(timeout=5)).type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
    ws = await client.ws_connect("/ws/desk/alice")
    await ws.send_json({"type": "accept", "offer_id": "o-1"})
    assert (await ws.receive_json(timeout=5))["code"] == "hello_first"
    assert center.messages == []


async def test_valid_messages_reach_the_center_and_are_acked(desk) -> None:  # type: ignore[no-untyped-def]
    client, _, center = desk
    ws = await connect(client)
    await ws.send_json({"type": "set_state", "state": "ready", "id": 1})
    assert await ws.receive_json(timeout=5) == {"type": "ack", "state": "AVAILABLE", "id": 1}
    await ws.send_json({"type": "accept", "offer_id": "o-7", "id": "x"})
    assert await ws.receive_json(timeout=5) == {"type": "ack", "id": "x"}
    assert center.messages == [("alice", SetState(state="ready")), ("alice", Accept(offer_id="o-7"))]


@pytest.mark.parametrize(
    ("frame", "code", "field"),
    [
        ("{not json", "bad_json", None),
        ('{"type": "accept", "id": 4}', "bad_field", "offer_id"),
        ('{"type": "set_state", "state": "sleeping", "id": 4}', "bad_field", "state"),
        ('{"type": "dance", "id": 4}', "unknown_type", "type"),
        ('{"type": "note", "contact_id": "c-1", "text": "' + "x" * 70000 + '"}', "frame_too_large", None),
    ],
)
async def test_bad_messages_get_an_error_frame_and_change_nothing(
    desk: Any, frame: str, code: str, field: str | None
) -> None:
    client, _, center = desk
    ws = await connect(client)
    await ws.send_str(frame)
    error = await ws.receive_json(timeout=5)
    assert error["type"] == "error" and error["code"] == code and error.get("field") == field
    assert center.messages == []
    await ws.send_json({"type": "heartbeat", "id": 5})  # the connection is still good
    assert await ws.receive_json(timeout=5) == {"type": "ack", "id": 5}


async def test_engine_refusal_becomes_an_error_frame(desk) -> None:  # type: ignore[no-untyped-def]
    client, _, _center = desk
    ws = await connect(client)
    await ws.send_json({"type": "accept", "offer_id": "o-other", "id": 9})
    assert await ws.receive_json(timeout=5) == {
        "type": "error",
        "code": "not_your_offer",
        "message": "offer o-other is not yours",
        "id": 9,
    }


async def test_frames_arrive_in_order_on_every_open_desk(desk) -> None:  # type: ignore[no-untyped-def]
    client, hub, _ = desk
    first, second = await connect(client), await connect(client)
    for i in range(50):
        hub.deliver("alice", df.Typing(contact_id=f"c-{i}"))
    for ws in (first, second):
        got = [(await ws.receive_json(timeout=5))["contact_id"] for _ in range(50)]
        assert got == [f"c-{i}" for i in range(50)]


async def test_reconnect_within_grace_resumes_with_missed_frames(desk) -> None:  # type: ignore[no-untyped-def]
    client, hub, center = desk
    ws = await connect(client)
    await ws.close()
    await asyncio.sleep(0.05)
    hub.deliver("alice", df.OfferWithdrawn(offer_id="o-2", contact_id="c-2", reason="timed_out"))
    ws = await connect(client)  # welcome first, then what was missed
    assert (await ws.receive_json(timeout=5))["offer_id"] == "o-2"
    await asyncio.sleep(0.5)
    assert center.gone == [] and hub.connected("alice")


async def test_a_desk_that_does_not_come_back_is_handed_to_the_center_once(desk) -> None:  # type: ignore[no-untyped-def]
    client, hub, center = desk
    ws = await connect(client)
    await ws.close()
    for _ in range(100):
        if center.gone:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.4)
    assert center.gone == ["alice"] and hub.present() == set()
