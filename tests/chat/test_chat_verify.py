"""Who a chat customer is, in the real app over the real chat WebSocket with the demo
flows and the demo CRM: what they type is a claim, never an identification. The demo's
Noa Levi (+972501234567, account AC90000001, PIN 4321) is greeted by name and told her
card order's status only once she proves who she is, by PIN or by a login token from the
bank's web login; the agent's screen pop says whether the customer is verified."""

from __future__ import annotations

from typing import Any

import pytest

from callcenter.app import create_app
from callcenter.appkeys import LOG
from callcenter.chat.login_token import make_login_token
from callcenter.core.clock import VirtualClock
from callcenter.runtime.ivr_runner.keys import IVR_RUNNER
from callcenter.runtime.keys import CENTER
from tests.chat.chat_center import MONDAY_10, center_config, frames_until

pytestmark = pytest.mark.timeout(60)
NOA = "cus-demo-0001"


@pytest.fixture
async def app(aiohttp_client: Any, tmp_path: Any) -> Any:
    return await aiohttp_client(create_app(center_config(tmp_path), clock=VirtualClock(MONDAY_10)))


async def start(client: Any, **intro: Any) -> tuple[Any, str]:
    ws = await client.ws_connect("/ws/chat")
    await ws.send_json({"type": "start", **intro})
    session = await ws.receive_json(timeout=5)
    assert session["type"] == "session", session
    return ws, session["contact_id"]


def texts(frames: list[dict[str, Any]]) -> list[str]:
    return [str(f.get("text", "")) for f in frames]


async def to_an_agent(client: Any, ws: Any, cid: str) -> dict[str, Any]:
    """From the 'anything else?' menu to the general queue; the pop the desk's offer gets."""
    await ws.send_json({"type": "choose", "key": "0"})
    await frames_until(ws, "prompt", "You are number")
    center = client.server.app[CENTER]
    assert center.crm is not None
    pop: dict[str, Any] = await center.crm.screen_pop(cid, center.engine.contacts[cid].caller)
    return pop


async def events(client: Any, cid: str) -> list[Any]:
    app = client.server.app
    await app[IVR_RUNNER].idle()
    await app[LOG].flush()
    return list(await app[LOG].read(contact_id=cid, limit=500))


async def test_an_anonymous_chat_typing_the_demo_customers_number_learns_nothing(app: Any) -> None:
    ws, cid = await start(app, phone="050-123-4567", name="Noa")
    seen = await frames_until(ws, "prompt", "What can we help you with?")
    await ws.send_json({"type": "choose", "key": "6"})  # the status of my card order
    seen += await frames_until(ws, "prompt", "To protect your data, please type the eight digits")
    for _ in range(3):  # no account number: the flow gives up asking
        await ws.send_json({"type": "text", "text": "I don't know"})
    seen += await frames_until(ws, "prompt", "Can we help with anything else?")
    said = " ".join(texts(seen))
    assert "We could not verify your identity" in said
    assert "Levi" not in said and "delivered" not in said and "Hello Noa" not in said
    pop = await to_an_agent(app, ws, cid)
    assert (pop["identified"], pop["verified"], pop["verified_by"]) == (True, False, None)
    assert pop["customer"]["name"] == "Levi"  # the candidate, for the agent to confirm by asking
    assert "contact.verified" not in [e.type for e in await events(app, cid)]
    await ws.close()


async def test_a_chat_verified_by_pin_is_greeted_and_told_its_card_order(app: Any) -> None:
    ws, cid = await start(app)
    await frames_until(ws, "prompt", "What can we help you with?")
    await ws.send_json({"type": "choose", "key": "6"})
    await frames_until(ws, "prompt", "To protect your data")
    await ws.send_json({"type": "text", "text": "9000 0001"})
    await frames_until(ws, "prompt", "Please type your four digit PIN.")
    await ws.send_json({"type": "text", "text": "4321"})
    told = texts(await frames_until(ws, "prompt", "Can we help with anything else?"))
    assert told[-3:-1] == ["Thank you, Noa.", "Your newest card order is delivered."]
    pop = await to_an_agent(app, ws, cid)
    assert (pop["customer"]["id"], pop["verified"], pop["verified_by"]) == (NOA, True, "pin")
    logged = await events(app, cid)
    assert [e.data for e in logged if e.type == "contact.verified"] == [{"customer_id": NOA, "method": "pin"}]
    assert "4321" not in repr([e.data for e in logged])  # neither as typed nor anywhere else
    await ws.close()


async def test_three_wrong_pins_and_the_chat_stops_asking(app: Any) -> None:
    ws, cid = await start(app, phone="+972501234567")
    await frames_until(ws, "prompt", "What can we help you with?")
    await ws.send_json({"type": "choose", "key": "6"})
    for attempt in range(3):
        await frames_until(ws, "prompt", "Sorry, that does not match" if attempt else "To protect your data")
        await ws.send_json({"type": "text", "text": "90000001"})
        await frames_until(ws, "prompt", "Please type your four digit PIN.")
        await ws.send_json({"type": "text", "text": f"111{attempt}"})
    await frames_until(ws, "prompt", "We could not verify your identity")
    await frames_until(ws, "prompt", "Can we help with anything else?")
    await ws.send_json({"type": "choose", "key": "1"})  # other topics, then the card order again
    await frames_until(ws, "prompt", "What can we help you with?")
    await ws.send_json({"type": "choose", "key": "6"})
    again = texts(await frames_until(ws, "prompt", "Can we help with anything else?"))
    assert not any("To protect your data" in t for t in again)  # no fourth try in this chat
    failed = [e.data for e in await events(app, cid) if e.type == "contact.verification_failed"]
    assert [(f["attempt"], f["locked"], f["customer_id"]) for f in failed] == [
        (1, False, NOA),
        (2, False, NOA),
        (3, True, NOA),
    ]
    assert not any("111" in repr(f) for f in failed)
    await ws.close()


async def test_a_chat_from_the_bank_web_login_is_verified_by_its_token(app: Any) -> None:
    secret = app.server.app[CENTER].config.crm.login_token_secret
    token = make_login_token(NOA, int(MONDAY_10) + 300, secret)
    ws, cid = await start(app, login_token=token)
    greeting = texts(await frames_until(ws, "prompt", "What can we help you with?"))
    assert "Hello Noa." in greeting
    await ws.send_json({"type": "choose", "key": "6"})  # no questions: the token proved it
    told = texts(await frames_until(ws, "prompt", "Can we help with anything else?"))
    assert "Your newest card order is delivered." in told
    assert not any("To protect your data" in t for t in told)
    pop = await to_an_agent(app, ws, cid)
    assert (pop["verified"], pop["verified_by"]) == (True, "token")
    await ws.close()


async def test_forged_and_expired_login_tokens_are_refused_and_the_socket_stays(app: Any) -> None:
    secret = app.server.app[CENTER].config.crm.login_token_secret
    forged = make_login_token(NOA, int(MONDAY_10) + 300, "not the bank's secret at all")
    expired = make_login_token(NOA, int(MONDAY_10) - 1, secret)
    ws = await app.ws_connect("/ws/chat")
    for token, code in (
        (forged, "login_token_forged"),
        (expired, "login_token_expired"),
        ("x", "bad_login_token"),
    ):
        await ws.send_json({"type": "start", "login_token": token})
        error = await ws.receive_json(timeout=5)
        assert (error["type"], error["code"], error["field"]) == ("error", code, "login_token")
    await ws.send_json({"type": "start"})  # the same socket starts an unverified chat
    assert (await ws.receive_json(timeout=5))["type"] == "session"
    greeting = texts(await frames_until(ws, "prompt", "What can we help you with?"))
    assert not any("Noa" in t for t in greeting)
    await ws.close()
