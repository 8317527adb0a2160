"""The IVR runner in the real server (real IvrSession, real Center and ACD, SQLite log,
the CRM store): a caller walks the bank flow by keys into a queue, hears where they are
in line, an agent answers and ends, the survey runs after the agent; a known number is
greeted by name; a caller who hangs up while waiting is abandoned in the ACD; a closed
queue sends the caller away with the queue's reason; a broken flow folder keeps the
flows that run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from demo_center import demo_config
from msgspec.structs import replace

from callcenter.acd.commands import ConnectContact, FinishContact, OverflowContact
from callcenter.acd.messages import AgentLoggedIn, AgentReady, ContactEnded, OfferAccepted
from callcenter.app import create_app
from callcenter.appkeys import CONFIG, LOG
from callcenter.core.clock import VirtualClock
from callcenter.crm_link.web import CRM_STORE
from callcenter.ivr import messages as ivr
from callcenter.runtime.ivr_runner.install import reload_flows
from callcenter.runtime.ivr_runner.keys import IVR_RUNNER
from callcenter.runtime.ivr_runner.ports import IvrCall
from callcenter.runtime.ivr_runner.runner import IvrRunner, NoFlow
from callcenter.runtime.keys import CENTER

ROOT = Path(__file__).resolve().parents[2]
MONDAY_10 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC).timestamp()  # 10:00 in Jerusalem: open
SATURDAY_10 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC).timestamp()  # the bank is closed


@dataclass
class RecordingChannel:
    """A voice front-end that records what it was told; prompts finish at once."""

    kind: str = "voice"
    call: IvrCall | None = None
    said: list[str] = field(default_factory=list)
    routing: list[Any] = field(default_factory=list)
    ops: list[tuple[str, Any]] = field(default_factory=list)
    hung_up: list[str] = field(default_factory=list)

    def opened(self, call: IvrCall) -> None:
        self.call = call

    def play(self, prompt: ivr.PlayPrompt) -> None:
        self.said.append(prompt.text)
        assert self.call is not None
        self.call.post(ivr.PromptFinished(prompt_id=prompt.prompt_id))

    def stop_prompt(self, prompt_id: str) -> None:
        self.ops.append(("stop_prompt", prompt_id))

    def start_recognition(self, grammar: tuple[str, ...], timeout_s: float) -> None:
        self.ops.append(("listen", grammar))

    def stop_recognition(self) -> None:
        self.ops.append(("stop_listening", None))

    def start_voicemail(self, max_s: float, queue: str | None = None) -> None:
        self.ops.append(("voicemail", max_s))

    def transfer(self, uri: str) -> None:
        self.ops.append(("transfer", uri))

    def hang_up(self, reason: str) -> None:
        self.hung_up.append(reason)

    def on_routing(self, command: Any) -> None:
        self.routing.append(command)


@pytest.fixture
async def server(aiohttp_client, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Any]:  # type: ignore[no-untyped-def]
    config = demo_config(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}", hours="as configured")
    config = replace(config, speech=replace(config.speech, cache_dir=str(tmp_path / "prompts")))
    clock = VirtualClock(getattr(request, "param", MONDAY_10))
    client = await aiohttp_client(create_app(config, clock=clock))
    yield client.server.app, clock
    await client.close()


async def settle(runner: IvrRunner) -> None:
    for _ in range(3):
        await runner.idle()
        await runner.center.acd.idle()


async def dial(runner: IvrRunner, caller: str = "+972501112233") -> tuple[RecordingChannel, IvrCall]:
    channel = RecordingChannel()
    call = await runner.start(channel=channel, caller=caller, called="+15550100")
    await settle(runner)
    return channel, call


async def press(runner: IvrRunner, call: IvrCall, keys: str) -> None:
    call.post(ivr.DigitsReceived(digits=keys))
    await settle(runner)


async def test_a_caller_walks_into_a_queue_hears_the_line_talks_to_an_agent_and_rates(server) -> None:  # type: ignore[no-untyped-def]
    app, clock = server
    runner, center = app[IVR_RUNNER], app[CENTER]
    channel, call = await dial(runner)
    assert channel.said[:2] == [
        "Welcome to Demo Bank.",
        app[IVR_RUNNER].flows["bank"].node("language").prompt,
    ]
    await press(runner, call, "1")  # English; the number is unknown to the CRM
    assert channel.said[-1].startswith("If you have an account with us")
    await press(runner, call, "2")  # a new customer: the sales queue
    assert channel.said[-2:] == [
        "Thank you for your interest in becoming a customer.",
        "You are number 1 in line.",
    ]
    [routed] = channel.routing
    assert isinstance(routed, ivr.RouteToQueue) and routed.queue == "sales"
    contact = center.engine.contacts[call.contact_id]
    assert (contact.channel, contact.queue, contact.attributes["intent"]) == ("voice", "sales", "sales")

    clock.advance(60)  # the queue's announce_interval_s
    await settle(runner)
    assert channel.said[-1] == "You are number 1 in line."
    assert len([s for s in channel.said if s == "You are number 1 in line."]) == 2

    await center.submit(AgentLoggedIn(agent_id="carol", skills={"sales": 3}))
    await center.submit(AgentReady(agent_id="carol"))
    offer = next(iter(center.engine.offers.values()))
    await center.submit(OfferAccepted(offer_id=offer.offer_id, agent_id="carol"))
    await settle(runner)
    assert isinstance(channel.routing[-1], ConnectContact)
    clock.advance(600)  # no announcements while talking to the agent
    await settle(runner)
    assert channel.said[-1] == "You are number 1 in line."

    await center.submit(ContactEnded(contact_id=call.contact_id, by="agent"))
    await settle(runner)
    assert isinstance(channel.routing[-1], FinishContact)
    assert channel.said[-1].startswith("Before you go, how satisfied were you")
    assert channel.hung_up == []
    await press(runner, call, "5")
    assert channel.said[-1] == "Thank you for calling Demo Bank. Goodbye."
    assert channel.hung_up == ["completed"] and call.ended
    assert call.contact_id not in runner.runs

    await app[LOG].flush()
    events = await app[LOG].read(contact_id=call.contact_id, limit=500)
    types = [e.type for e in events]
    assert types[0] == "ivr.started" and types[-1] == "ivr.ended"
    assert types.index("ivr.routed") < types.index("contact.arrived") < types.index("contact.queued")
    assert types.index("contact.ended") < types.index("ivr.survey")
    [survey] = [e for e in events if e.type == "ivr.survey"]
    assert (survey.data["rating"], survey.queue) == (5, "sales")
    assert types.count("contact.ended") == 1  # the ACD's; the runner adds none for a routed contact


async def test_a_known_number_is_a_candidate_until_the_caller_keys_account_and_pin(server) -> None:  # type: ignore[no-untyped-def]
    app, _ = server
    dana = await app[CRM_STORE].create_customer(
        {"name": "Levi", "first_name": "Dana", "account_number": "AC12345678", "phones": ["050-111-2233"]}
    )
    await app[CRM_STORE].set_credentials(dana["id"], pin="2468")
    runner = app[IVR_RUNNER]
    channel, call = await dial(runner, caller="+972501112233")
    await press(runner, call, "1")
    assert channel.said[-1].startswith("For your balance, press 1")  # no greeting for a number
    await press(runner, call, "1")  # balance: verify first
    await press(runner, call, "12345678#")
    await press(runner, call, "1357#")
    assert channel.said[-1] == (
        "Sorry, that does not match our records. Please key in the eight digits of your account number, "
        "then press hash."
    )
    await press(runner, call, "12345678#")
    await press(runner, call, "2468#")
    assert "Thank you, Dana." in channel.said
    assert "Sorry, this service is not available right now." in channel.said  # the CRM keeps no balances
    await app[LOG].flush()
    identified = [
        e.data["by"]
        for e in await app[LOG].read(contact_id=call.contact_id)
        if e.type == "contact.identified"
    ]
    assert identified[:2] == ["caller_number", "account_number"]  # the candidate, then the proof
    call.hang_up()
    await settle(runner)


async def test_a_caller_who_hangs_up_while_waiting_is_abandoned_and_one_who_leaves_the_menu_ends(
    server: Any,
) -> None:
    app, _ = server
    runner, center = app[IVR_RUNNER], app[CENTER]
    waiting_channel, waiting = await dial(runner)
    await press(runner, waiting, "1")
    await press(runner, waiting, "2")
    assert waiting.contact_id in center.engine.contacts
    waiting.hang_up()
    await settle(runner)
    assert waiting.contact_id not in center.engine.contacts
    assert waiting_channel.hung_up == []  # the caller hung up: nothing to hang up

    _, leaver = await dial(runner)
    leaver.hang_up()
    await settle(runner)
    leaver.post(ivr.DigitsReceived(digits="1"))  # after the end: dropped, not an error
    await settle(runner)
    assert runner.runs == {}

    await app[LOG].flush()
    ends = {e.contact_id: e.data for e in await app[LOG].read(limit=1000) if e.type == "contact.ended"}
    assert ends[waiting.contact_id]["reason"] == "abandoned"
    assert ends[leaver.contact_id] == {"reason": "caller_hung_up", "channel": "voice", "in": "ivr"}


@pytest.mark.parametrize("server", [SATURDAY_10], indirect=True)
async def test_a_closed_queue_sends_the_caller_away_with_its_reason(server) -> None:  # type: ignore[no-untyped-def]
    app, _ = server
    runner = app[IVR_RUNNER]
    channel, call = await dial(runner)
    await press(runner, call, "1")
    await press(runner, call, "2")  # sales is closed on Saturday morning: disconnect with a message
    [overflow] = [r for r in channel.routing if isinstance(r, OverflowContact)]
    assert overflow.target.message == "Our advisers are not available now. They are back today at 20:00."
    assert channel.hung_up == ["overflow_disconnect"]
    assert not any(s.startswith("Before you go") for s in channel.said)  # no survey


async def test_no_flow_for_the_number_is_refused_and_a_broken_folder_keeps_the_flows(
    server: Any, tmp_path: Path
) -> None:
    app, _ = server
    runner = app[IVR_RUNNER]
    with pytest.raises(NoFlow, match="no IVR flow answers voice '\\+1999'"):
        await runner.start(channel=RecordingChannel(), caller="", called="+1999")
    before = runner.flows
    broken = tmp_path / "flows"
    broken.mkdir()
    (broken / "bad.yaml").write_text("start: nowhere\nnodes: {}\n", encoding="utf-8")
    config = replace(app[CONFIG], ivr_dir=str(broken))
    assert any("bad.yaml:1: start" in p for p in reload_flows(runner, config))
    assert runner.flows is before
    (broken / "bad.yaml").write_text(
        "entry: {channels: [voice]}\nstart: bye\nnodes:\n  bye: {kind: hangup, prompt: Closed.}\n",
        encoding="utf-8",
    )
    assert reload_flows(runner, config) == []
    channel, _ = await dial(runner)
    assert channel.said == ["Closed."] and channel.hung_up == ["completed"]


async def test_a_contact_still_in_the_ivr_at_shutdown_ends_there(aiohttp_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    db = tmp_path / "cc.db"
    config = demo_config(f"sqlite+aiosqlite:///{db}", hours="as configured")
    config = replace(config, speech=replace(config.speech, cache_dir=str(tmp_path / "prompts")))
    client = await aiohttp_client(create_app(config, clock=VirtualClock(MONDAY_10)))
    _, call = await dial(client.server.app[IVR_RUNNER])
    await client.close()
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT state, end_reason FROM contacts WHERE contact_id=?", (call.contact_id,)
        ).fetchone()
    assert row == ("ended", "system_shutdown")


async def test_announcements_pause_while_a_desk_rings_and_resume_when_it_is_not_answered(server) -> None:  # type: ignore[no-untyped-def]
    app, clock = server
    runner, center = app[IVR_RUNNER], app[CENTER]
    channel, call = await dial(runner)
    await press(runner, call, "1")
    await center.submit(AgentLoggedIn(agent_id="carol", skills={"sales": 3}))
    await center.submit(AgentReady(agent_id="carol"))
    await press(runner, call, "2")  # offered to carol at once: nothing to announce
    assert center.engine.contacts[call.contact_id].state == "offered"
    assert "You are number 1 in line." not in channel.said
    clock.advance(21)  # carol does not answer within the ring time: back in line
    await settle(runner)
    assert center.engine.contacts[call.contact_id].state == "waiting"
    clock.advance(40)  # the queue's next announcement is due
    await settle(runner)
    assert channel.said[-1] == "You are number 1 in line."
    call.hang_up()
    await settle(runner)


async def test_a_caller_verified_by_keypad_hears_the_status_of_the_newest_order(server) -> None:  # type: ignore[no-untyped-def]
    app, _ = server
    runner = app[IVR_RUNNER]
    channel, call = await dial(runner, caller="+972501234567")  # the demo CRM's Noa Levi's number
    await press(runner, call, "1")
    assert not any("Noa" in said for said in channel.said)  # the number is a claim, not a proof
    await press(runner, call, "2")  # the status of a card order: verify first
    assert channel.said[-1].startswith("Please key in the eight digits of your account number"), channel.said
    await press(runner, call, "90000001#")
    await press(runner, call, "4321#")  # her PIN (docs/crm.md)
    assert channel.said[-3:-1] == ["Thank you, Noa.", "Your card order is delivered."]
    assert channel.said[-1].startswith("To return to the main menu, press 1."), channel.said
    await app[LOG].flush()
    events = await app[LOG].read(contact_id=call.contact_id)
    assert [e.data for e in events if e.type == "contact.verified"] == [
        {"customer_id": "cus-demo-0001", "method": "pin"}
    ]
    assert "4321" not in repr([e.data for e in events])
    [asked] = [e.data for e in events if e.type == "ivr.lookup" and e.data["want"] == "card_status"]
    assert asked["found"] is True
    call.hang_up()
    await settle(runner)
