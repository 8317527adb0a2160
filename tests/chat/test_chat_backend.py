"""The real chat backend in the real app, over the real chat WebSocket.

With the demo flows, the chat runs the bank's chat flow in text mode: buttons and typed
text walk it into a queue, the agent part follows, then the flow's survey; a customer who
leaves at the menu still has a complete life in the log. Without a chat flow, the
customer picks a topic from the queues that take chats."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from msgspec.structs import replace

from callcenter.acd.messages import AgentLoggedIn, AgentReady, ContactEnded, OfferAccepted
from callcenter.agent_desk.routes import SERVICE
from callcenter.app import create_app
from callcenter.appkeys import LOG
from callcenter.chat import routes as chat_routes
from callcenter.config.sections import HoursConfig
from callcenter.core.clock import VirtualClock
from callcenter.runtime.ivr_runner.keys import IVR_RUNNER
from callcenter.runtime.keys import CENTER
from tests.chat.chat_center import MONDAY_10, center_config, frames_until

ROOT = Path(__file__).resolve().parents[2]


async def test_a_chat_walks_the_flow_by_buttons_and_text_talks_to_the_agent_and_rates(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    client = await aiohttp_client(create_app(center_config(tmp_path), clock=VirtualClock(MONDAY_10)))
    app = client.server.app
    center = app[CENTER]

    leaver = await client.ws_connect("/ws/chat")
    await leaver.send_json({"type": "start", "name": "Eli"})
    gone = (await leaver.receive_json(timeout=5))["contact_id"]
    welcome = await frames_until(leaver, "prompt", "What can we help you with?")
    assert welcome[0] == {"type": "prompt", "text": "Welcome to Demo Bank chat.", "options": []}
    assert [o["label"] for o in welcome[-1]["options"]][:2] == ["Lost or stolen card", "My balance"]
    await leaver.send_json({"type": "leave"})

    phone_line = await client.ws_connect("/ws/chat")  # a widget with the id the voice flow claims
    await phone_line.send_json({"type": "start", "entry": "web-bank"})
    await phone_line.receive_json(timeout=5)
    assert (await phone_line.receive_json(timeout=5))["text"] == "Welcome to Demo Bank."
    await phone_line.close()

    ws = await client.ws_connect("/ws/chat")
    await ws.send_json({"type": "start", "name": "Noa", "email": "noa@example.com"})
    cid = (await ws.receive_json(timeout=5))["contact_id"]
    menu = (await frames_until(ws, "prompt", "What can we help you with?"))[-1]
    await ws.send_json({"type": "text", "text": "hello?"})  # not a topic: said again
    assert (await frames_until(ws, "prompt"))[-1]["text"].startswith("Sorry, I did not understand that.")
    await ws.send_json({"type": "text", "text": "internet"})  # typed phrase of an option
    assert (await frames_until(ws, "prompt", "You are number 1 in line."))[-2]["text"] == (
        "An internet banking specialist will be with you shortly."
    )
    contact = center.engine.contacts[cid]
    assert (contact.channel, contact.queue, contact.caller) == ("chat", "internet", "noa@example.com")
    assert (contact.attributes["name"], contact.attributes["intent"]) == ("Noa", "internet")
    assert any(o["key"] == "3" for o in menu["options"])

    await center.submit(AgentLoggedIn(agent_id="bob", skills={"internet": 4}, name="Bob Levi"))
    await center.submit(AgentReady(agent_id="bob"))
    offer = next(iter(center.engine.offers.values()))
    await center.submit(OfferAccepted(offer_id=offer.offer_id, agent_id="bob"))
    assert (await frames_until(ws, "agent_joined"))[-1]["name"] == "Bob Levi"
    await ws.send_json({"type": "text", "text": "my login fails"})  # to the agent now, not the IVR
    assert app[SERVICE].chats.agent_says(cid, "Bob Levi", "Try again now, please.")
    assert (await frames_until(ws, "message"))[-1]["text"] == "Try again now, please."

    await center.submit(ContactEnded(contact_id=cid, by="agent"))
    survey = await frames_until(ws, "prompt", "How satisfied")
    assert survey[0]["type"] == "agent_left"
    assert [o["key"] for o in survey[-1]["options"]] == ["1", "2", "3", "4", "5"]
    await ws.send_json({"type": "choose", "key": "4"})
    end = await frames_until(ws, "ended")
    assert end[-2]["text"] == "Thank you for chatting with Demo Bank. Goodbye."
    assert end[-1] == {"type": "ended", "reason": "completed", "rate": False}
    await app[IVR_RUNNER].idle()

    await app[LOG].flush()
    mine = await app[LOG].read(contact_id=cid, limit=500)
    assert [(e.data["rating"], e.queue) for e in mine if e.type == "ivr.survey"] == [(4, "internet")]
    assert [e.data["text"] for e in mine if e.type == "contact.chat_message"] == ["my login fails"]
    assert [e.data["speech"] for e in mine if e.type == "ivr.no_match"] == ["hello?"]
    left = [e.type for e in await app[LOG].read(contact_id=gone)]
    assert left[0] == "ivr.started" and left[-2:] == ["ivr.ended", "contact.ended"]
    await ws.close()
    await leaver.close()


async def test_without_a_chat_flow_the_customer_picks_a_topic(aiohttp_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    flows = tmp_path / "ivr"
    flows.mkdir()
    shutil.copy(ROOT / "config" / "ivr" / "bank.yaml", flows)  # answers the chat id web-bank only
    config = replace(center_config(tmp_path), ivr_dir=str(flows))
    client = await aiohttp_client(create_app(config, clock=VirtualClock(MONDAY_10)))
    app = client.server.app

    ws = await client.ws_connect("/ws/chat")
    await ws.send_json({"type": "start", "email": "noa@example.com", "language": "zh-Hans"})
    waiting = (await ws.receive_json(timeout=5))["contact_id"]
    session = app[chat_routes.SESSIONS].get(waiting)
    assert session is not None and session.language == "zh-CN"
    menu = await ws.receive_json(timeout=5)
    # the server's own words carry their catalogue key: the page shows them in its language
    assert (menu["key"], menu["text"]) == (
        "chat.server.greeting",
        "Hello! What would you like to chat about?",
    )
    internet = next(o["key"] for o in menu["options"] if o["label"] == "online banking support")
    await ws.send_json({"type": "text", "text": "hello?"})  # not a topic: the menu again
    again = await ws.receive_json(timeout=5)
    assert (again["type"], again["key"], again["text"]) == (
        "prompt",
        "chat.server.pick_topic",
        "Please pick one of these topics:",
    )
    await ws.send_json({"type": "choose", "key": internet})
    assert await ws.receive_json(timeout=5) == {"type": "queued", "position": 1, "ewt_s": None}
    contact = app[CENTER].engine.contacts[waiting]
    assert (contact.channel, contact.queue, contact.caller) == ("chat", "internet", "noa@example.com")
    await app[LOG].flush()
    assert [e.type for e in await app[LOG].read(contact_id=waiting)] == ["contact.arrived", "contact.queued"]
    await ws.close()


async def test_after_hours_the_chat_takes_a_message(aiohttp_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    saturday_10 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC).timestamp()
    client = await aiohttp_client(create_app(center_config(tmp_path), clock=VirtualClock(saturday_10)))
    app = client.server.app
    ws = await client.ws_connect("/ws/chat")
    await ws.send_json({"type": "start", "name": "Noa"})
    cid = (await ws.receive_json(timeout=5))["contact_id"]
    await frames_until(ws, "prompt", "What can we help you with?")
    await ws.send_json({"type": "choose", "key": "4"})  # the stock exchange desk, closed until 20:00
    await frames_until(ws, "prompt", "Our specialists are back today at 20:00.")
    await ws.send_json({"type": "text", "text": "Please call me about my mortgage, 050-1234567"})
    end = await frames_until(ws, "ended")
    assert end[-2]["text"] == "Thank you for chatting with Demo Bank. Goodbye."
    await app[IVR_RUNNER].idle()
    await app[LOG].flush()
    events = await app[LOG].read(contact_id=cid)
    [message] = [e.data for e in events if e.type == "contact.chat_message"]
    assert message == {
        "from": "customer",
        "text": "Please call me about my mortgage, 050-1234567",
        "voicemail": True,
    }
    assert [e.data["recorded"] for e in events if e.type == "ivr.voicemail"] == [True]
    assert app[CENTER].engine.contacts.get(cid) is None  # never queued: the IVR ended it
    await ws.close()


async def test_a_closed_topic_says_when_it_opens_and_an_open_one_queues(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    """Without a chat flow, a topic whose queue is closed by its hours (and has no closed
    overflow of its own) says when it opens, in the center's zone, and offers the topics
    again; the same topic on Monday at 11:00 queues the chat."""
    zone = ZoneInfo("Asia/Jerusalem")
    office = HoursConfig(
        timezone="Asia/Jerusalem", weekly={d: ["08:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
    )
    flows = tmp_path / "ivr"
    flows.mkdir()
    shutil.copy(ROOT / "config" / "ivr" / "bank.yaml", flows)  # answers the chat id web-bank only
    base = replace(center_config(tmp_path), ivr_dir=str(flows))
    config = replace(base, hours={**base.hours, "bank": office})
    for when, closed in (
        (datetime(2026, 12, 5, 3, 0, tzinfo=zone), True),  # Saturday 03:00
        (datetime(2026, 12, 7, 11, 0, tzinfo=zone), False),  # Monday 11:00
    ):
        client = await aiohttp_client(create_app(config, clock=VirtualClock(when.timestamp())))
        ws = await client.ws_connect("/ws/chat")
        await ws.send_json({"type": "start", "name": "Noa"})
        cid = (await ws.receive_json(timeout=5))["contact_id"]
        menu = await ws.receive_json(timeout=5)
        stocks = next(o["key"] for o in menu["options"] if o["label"] == "stock exchange")
        await ws.send_json({"type": "choose", "key": stocks})
        answer = await ws.receive_json(timeout=5)
        if closed:
            assert answer["type"] == "prompt"
            assert answer["text"] == "We are closed. We open again on Monday at 8:00."
            assert [o["label"] for o in answer["options"]] == [o["label"] for o in menu["options"]]
            assert client.server.app[CENTER].engine.contacts.get(cid) is None  # not left waiting
        else:
            assert answer["type"] == "queued" and answer["position"] == 1
        await ws.close()
        await client.close()
