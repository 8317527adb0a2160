"""The desk tells the truth over a whole contact, over the real desk WebSocket of the demo
app on a virtual clock (the center's day is Asia/Jerusalem's, never the test machine's):

- a call goes connected -> held -> connected -> wrap_up (its deadline on the contact frame
  and in a second tab's welcome) -> closed when the wrap-up timer runs out, and a reload
  shows it in "Today" (read from the log) with what the list shows; yesterday's contact
  is not in today's list;
- a blind transfer leaves the transferring desk in wrap-up for that contact, then closed;
  the receiving agent is offered it;
- not ready from wrap-up closes the contact; a contact ended beside another open chat is
  closed at once (the ACD starts no wrap-up for it);
- ``wrap_up_done`` for a contact not in wrap-up is refused naming ``contact_id``;
- a reconnect restates held/muted contacts and an open chat's lines so far; a desk that
  comes back after the grace period finds the agent Not ready ("disconnected")."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from demo_center import demo_config
from desk_socket import Desk
from msgspec.structs import replace

from callcenter.app import create_app
from callcenter.appkeys import CLOCK, LOG
from callcenter.core.clock import VirtualClock
from callcenter.core.events import InteractionEvent
from callcenter.runtime.keys import CENTER

ZONE = ZoneInfo("Asia/Jerusalem")  # the demo's wallboard.timezone: the center's day
NOA = "+972501234567"  # the demo CRM's Noa Levi
LATE = datetime(2026, 12, 6, 23, 50, tzinfo=ZONE).timestamp()  # Sunday, ten to midnight


@pytest.fixture
async def client(aiohttp_client, tmp_path: Path):  # type: ignore[no-untyped-def]
    config = demo_config(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    config = replace(config, desk=replace(config.desk, reconnect_grace_s=0.3))
    return await aiohttp_client(create_app(config, clock=VirtualClock(LATE)))


async def take(
    client: Any, desk: Desk, contact_id: str, queue: str = "cards", channel: str = "voice", caller: str = NOA
) -> None:
    center = client.server.app[CENTER]
    await center.contact_arrived(contact_id=contact_id, channel=channel, queue=queue, caller=caller)
    offer = await desk.until("offer")
    assert offer["contact_id"] == contact_id
    assert (await desk.ask("accept", offer_id=offer["offer_id"]))["type"] == "ack"
    connected = await contact_frame(desk, contact_id)
    assert (connected["status"], connected["caller"], connected["queue"]) == ("connected", caller, queue)


async def contact_frame(desk: Desk, contact_id: str, **want: Any) -> dict[str, Any]:
    """The next ``contact`` frame of ``contact_id`` (with the ``want``ed fields, if given)."""
    while True:
        frame = await desk.until("contact")
        if frame["contact_id"] == contact_id and all(frame.get(k) == v for k, v in want.items()):
            return frame


async def advance(client: Any, seconds: float) -> None:
    clock = client.server.app[CLOCK]
    assert isinstance(clock, VirtualClock)
    clock.advance(seconds)
    await client.server.app[CENTER].acd.idle()


async def test_a_call_goes_from_connected_to_today(client: Any) -> None:
    app = client.server.app
    alice = await Desk.open(client.make_url("/"), "alice")
    assert (await alice.ask("set_state", state="ready"))["state"] == "AVAILABLE"
    await take(client, alice, "c-yesterday")
    await alice.ask("end", contact_id="c-yesterday")
    assert (await contact_frame(alice, "c-yesterday"))["status"] == "wrap_up"
    assert (await alice.ask("wrap_up_done", contact_id="c-yesterday"))["type"] == "ack"
    assert (await contact_frame(alice, "c-yesterday"))["status"] == "closed"

    await advance(client, 20 * 60)  # past midnight in the center's time zone: a new day
    await take(client, alice, "c-1")
    assert (await alice.ask("hold", contact_id="c-1", on=True))["type"] == "ack"
    assert (await contact_frame(alice, "c-1"))["status"] == "held"
    assert (await alice.ask("mute", contact_id="c-1", on=True))["type"] == "ack"
    muted = await contact_frame(alice, "c-1")
    assert (muted["status"], muted["muted"]) == ("held", True)
    second = await Desk.open(client.make_url("/"), "alice")  # a second tab: the same truth
    (held,) = second.welcome["contacts"]
    assert (held["contact_id"], held["status"], held["muted"]) == ("c-1", "held", True)
    await alice.ask("hold", contact_id="c-1", on=False)
    assert (await contact_frame(second, "c-1"))["status"] == "connected"

    await alice.ask("disposition", contact_id="c-1", code="resolved")
    await contact_frame(second, "c-1", disposition="resolved")  # the other tab too
    await contact_frame(alice, "c-1", disposition="resolved")
    ended_at = app[CLOCK].now()
    await alice.ask("end", contact_id="c-1")
    wrap = await contact_frame(alice, "c-1", status="wrap_up")
    assert (wrap["status"], wrap["reason"], wrap["wrap_up_deadline"]) == (
        "wrap_up",
        "completed",
        ended_at + 30,
    )
    third = await Desk.open(client.make_url("/"), "alice")
    (wrapping,) = third.welcome["contacts"]
    assert (wrapping["status"], wrapping["wrap_up_deadline"]) == ("wrap_up", ended_at + 30)
    assert third.welcome["wrap_up_deadline"] == ended_at + 30

    await advance(client, 30)  # the wrap-up timer runs out
    closed = await contact_frame(alice, "c-1", status="closed")
    assert (closed["status"], closed["ended_at"], closed["disposition"]) == ("closed", ended_at, "resolved")
    await contact_frame(second, "c-1", status="closed")
    assert app[CENTER].engine.agents["alice"].state.value == "AVAILABLE"

    await app[LOG].flush()
    reload = await Desk.open(client.make_url("/"), "alice")
    assert reload.welcome["contacts"] == []
    assert [h["contact_id"] for h in reload.welcome["history"]] == ["c-1"]  # not yesterday's
    (item,) = reload.welcome["history"]
    assert item == {
        "contact_id": "c-1",
        "channel": "voice",
        "queue": "cards",
        "caller": "+972501234567",
        "customer": "Noa Levi",  # the demo CRM knows the number
        "disposition": "resolved",
        "ended_at": ended_at,
    }
    for desk in (alice, second, third, reload):
        await desk.close()


async def test_a_blind_transfer_leaves_the_desk_in_wrap_up_then_closed(client: Any) -> None:
    alice = await Desk.open(client.make_url("/"), "alice")
    bob = await Desk.open(client.make_url("/"), "bob")
    await alice.ask("set_state", state="ready")
    await take(client, alice, "c-2")
    await bob.ask("set_state", state="ready")
    assert (await alice.ask("transfer", contact_id="c-2", to_agent="bob"))["type"] == "ack"
    moved = await contact_frame(alice, "c-2")
    assert (moved["status"], moved["reason"]) == ("wrap_up", "transferred")
    assert moved["wrap_up_deadline"] > 0
    assert (await bob.until("offer"))["contact_id"] == "c-2"
    assert (await alice.ask("set_state", state="not_ready", reason="break"))["state"] == "NOT_READY"
    assert (await contact_frame(alice, "c-2"))["status"] == "closed"  # not ready from wrap-up
    again = await Desk.open(client.make_url("/"), "alice")
    assert again.welcome["contacts"] == [] and again.welcome["history"][0]["contact_id"] == "c-2"
    for desk in (alice, bob, again):
        await desk.close()


async def test_a_chat_ended_beside_another_is_closed_and_a_reload_shows_the_open_chat(client: Any) -> None:
    center = client.server.app[CENTER]
    alice = await Desk.open(client.make_url("/"), "alice")
    await alice.ask("set_state", state="ready")
    await take(client, alice, "chat-1", queue="general", channel="chat", caller="guest-1@example.com")
    await take(client, alice, "chat-2", queue="general", channel="chat", caller="guest-2@example.com")
    for who, text in (("customer", "my card is gone"), ("agent", "I will block it")):
        center.record(
            InteractionEvent(
                type="contact.chat_message",
                at=center.clock.now(),
                contact_id="chat-2",
                data={"from": who, "text": text},
            )
        )
    await alice.ask("end", contact_id="chat-1")
    closed = await contact_frame(alice, "chat-1")
    assert (closed["status"], closed["reason"]) == ("closed", "completed")  # chat-2 is still open

    # not in wrap-up: refused naming the field, and nothing changes
    refused = await alice.ask("wrap_up_done", contact_id="chat-2")
    assert (refused["type"], refused["code"], refused["field"]) == ("error", "not_in_wrap_up", "contact_id")
    assert "chat-2" in refused["message"]
    assert center.engine.agents["alice"].state.value == "ON_CONTACT"

    reload = await Desk.open(client.make_url("/"), "alice")
    (chat,) = reload.welcome["contacts"]
    assert (chat["contact_id"], chat["status"]) == ("chat-2", "connected")
    assert [(line["from"], line["text"]) for line in chat["transcript"]] == [
        ("customer", "my card is gone"),
        ("agent", "I will block it"),
    ]
    await alice.close()
    await reload.close()


async def test_a_desk_back_after_the_grace_period_finds_the_agent_not_ready(client: Any) -> None:
    alice = await Desk.open(client.make_url("/"), "alice")
    await alice.ask("set_state", state="ready")
    await alice.close()
    center = client.server.app[CENTER]
    for _ in range(100):  # the grace period (0.3 s) runs on the loop's own clock
        await asyncio.sleep(0.05)
        await center.acd.idle()
        if center.engine.agents["alice"].state.value == "NOT_READY":
            break
    back = await Desk.open(client.make_url("/"), "alice")
    assert (back.welcome["state"], back.welcome["reason"]) == ("NOT_READY", "disconnected")
    assert back.welcome["reconnect_grace_s"] == 0.3
    await back.close()
