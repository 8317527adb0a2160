"""A CRM answer that comes after the budget still counts while the contact waits: the
running center (the real ACD under its single writer, the real interaction log and CRM
store on SQLite, ``LiveCrm``) gives a top-tier caller the queue's head start and sends a
repeat caller with an open complaint to the complaints queue when the late card comes,
leaves a contact that is already ringing at a desk where it is, and keeps a head start the
IVR gave explicitly (as the timely path would).

``SlowDirectory`` is the real store behind a gate (the CRM's answer for the callers it
holds comes only when the test opens it); ``Desks`` is a fake that records the frames the
center sends to agents' desks (the ``DeskSink`` port)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.acd.messages import AgentLoggedIn, AgentReady, ContactEnded, OfferAccepted
from callcenter.config.crm import CrmConfig, CrmRouteRule
from callcenter.config.sections import CenterConfig, PriorityRule, QueueConfig
from callcenter.core.clock import VirtualClock
from callcenter.core.desk_frames import DeskFrame
from callcenter.core.events import StoredEvent
from callcenter.core.ids import SequentialIds
from callcenter.crm_link.caller_lookup import LiveCrm
from callcenter.crm_link.customer_activity import create_ticket
from callcenter.crm_link.store import SqlCrmStore
from callcenter.ports.customer_card import CustomerCard, LookupBy
from callcenter.runtime.center import Center
from callcenter.runtime.memory_bus import MemoryBus
from callcenter.storage.log import SqlInteractionLog
from tests.crm_link.conftest import DAY, NOW, contact_events

NOA = "050-123 4567"  # as the caller's number arrives (national); the CRM answers late for it
TOP = [PriorityRule(when={"tier": "top"}, head_start_s=90)]
CONFIG = CenterConfig(
    queues=[
        QueueConfig(name="general", priority_rules=TOP),
        QueueConfig(name="complaints", priority_rules=TOP),
    ]
)
CRM = CrmConfig(
    default_country_code="+972",
    lookup_budget_ms=60,
    route_rules=[
        CrmRouteRule(
            when={"repeat_contact": "yes", "open_complaint": "yes"},
            queue="complaints",
            from_queues=["general"],
        )
    ],
)
WAIT = 5  # seconds: the bound on every wait below


class SlowDirectory:
    """The real store; lookups of a value in ``held`` answer once ``release`` is set."""

    def __init__(self, store: SqlCrmStore, held: set[str]) -> None:
        self.store, self.held = store, held
        self.release = asyncio.Event()

    async def lookup(self, by: LookupBy, value: str) -> CustomerCard | None:
        if value in self.held:
            await self.release.wait()
        return await self.store.lookup(by, value)


class Desks:
    """Records every frame the center sends to a desk; ``next(type)`` awaits one."""

    def __init__(self) -> None:
        self.frames: list[tuple[str, dict[str, Any]]] = []
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()

    def deliver(self, agent_id: str, frame: DeskFrame) -> None:
        wire = msgspec.to_builtins(frame)  # as the desk reads it
        self.frames.append((agent_id, wire))
        self._queue.put_nowait((agent_id, wire))

    async def next(self, type_: str) -> dict[str, Any]:
        while True:
            agent, frame = await asyncio.wait_for(self._queue.get(), WAIT)
            if frame["type"] == type_:
                assert agent == "alice"
                return frame


@dataclass
class Running:
    center: Center
    crm: LiveCrm
    slow: SlowDirectory
    desks: Desks
    clock: VirtualClock
    log: SqlInteractionLog

    async def arrive(self, contact_id: str, caller: str, at: float, **priority: Any) -> None:
        self.clock.advance_to(at)
        await asyncio.wait_for(
            self.center.contact_arrived(
                contact_id=contact_id, channel="voice", queue="general", caller=caller, **priority
            ),
            WAIT,
        )

    async def answer(self) -> None:
        """The CRM answers the held lookups; wait until the center has applied the answers."""
        self.slow.release.set()
        await asyncio.wait_for(self.crm.idle(), WAIT)
        await asyncio.wait_for(self.center.acd.idle(), WAIT)

    def line(self, queue: str) -> list[str]:
        """The queue's waiting contacts in order, as the wallboard shows them."""
        return [p.contact_id for p in self.center.engine.snapshot(self.clock.now()).waiting[queue]]

    async def events(self, contact_id: str) -> list[StoredEvent]:
        await asyncio.wait_for(self.log.flush(), WAIT)
        return await self.log.read(contact_id=contact_id)

    async def ready(self, agent_id: str = "alice") -> None:
        await self.center.submit(AgentReady(agent_id=agent_id))


async def add_noa(store: SqlCrmStore, *, complaint: bool) -> str:
    noa = await store.create_customer(
        {"name": "Levi", "first_name": "Noa", "account_number": "AC-9", "tier": "top", "phones": [NOA]}
    )
    if complaint:
        await create_ticket(
            store.engine,
            noa["id"],
            {"kind": "complaint", "subject": "Fee charged twice"},
            ticket_id="T-1",
            now=NOW - DAY,
        )
    return str(noa["id"])


@pytest.fixture
async def start(
    crm_store: SqlCrmStore, crm_engine: AsyncEngine
) -> AsyncIterator[Callable[[], Awaitable[Running]]]:
    """Starts the center once the test has written the history it needs (the log is then
    the only writer of the events table)."""
    started: list[Running] = []

    async def go() -> Running:
        clock = VirtualClock(NOW)
        log = SqlInteractionLog(crm_engine, batch_max=100, flush_interval=0.01)
        await log.start()
        center = Center(CONFIG, clock=clock, log=log, bus=MemoryBus(), ids=SequentialIds())
        desks = Desks()
        center.desks = desks
        slow = SlowDirectory(crm_store, held={NOA})
        crm = LiveCrm(crm_store, slow, CRM, now=clock.now, flush=log.flush)
        center.use_crm(crm)
        center.start()
        started.append(Running(center, crm, slow, desks, clock, log))
        return started[-1]

    yield go
    for running in started:
        running.slow.release.set()
        await asyncio.wait_for(running.center.stop(), WAIT)
        await asyncio.wait_for(running.log.close(), WAIT)


def kinds(events: list[StoredEvent]) -> list[str]:
    return [e.type for e in events]


async def test_a_top_tier_caller_whose_crm_answered_late_goes_ahead_of_the_regular_callers(
    start: Callable[[], Awaitable[Running]], crm_store: SqlCrmStore
) -> None:
    await add_noa(crm_store, complaint=False)
    running = await start()
    await running.arrive("c-1", "+972539999991", NOW)
    await running.arrive("c-2", "+972539999992", NOW + 10)
    await running.arrive("c-noa", NOA, NOW + 30)  # past the budget: queued unidentified, last
    noa = running.center.engine.contacts["c-noa"]
    assert noa.attributes == {"identified": "no"}
    assert running.line("general") == ["c-1", "c-2", "c-noa"]

    await running.answer()
    assert running.line("general") == ["c-noa", "c-1", "c-2"]  # the 90 s head start of her tier
    assert noa.attributes["identified"] == "yes" and noa.attributes["tier"] == "top"  # the offer shows them
    assert running.center.engine.position("c-noa") is not None
    assert running.center.engine.position("c-noa")[0] == 1  # type: ignore[index]
    events = await running.events("c-noa")
    changed = [e for e in events if e.type == "contact.priority_changed"]
    assert [e.data for e in changed] == [{"head_start_s": 90.0, "by": "crm"}]
    assert kinds(events).index("contact.identified") < kinds(events).index("contact.priority_changed")
    assert next(e for e in events if e.type == "contact.identified").data["late"] is True

    await running.center.submit(AgentLoggedIn(agent_id="alice"))
    offered = []
    for _ in range(3):  # alice takes the calls one after the other, in the order they are offered
        await running.ready()
        offer = await running.desks.next("offer")
        offered.append(offer["contact_id"])
        if offer["contact_id"] == "c-noa":
            assert offer["attributes"]["tier"] == "top"
        await running.center.submit(OfferAccepted(offer_id=offer["offer_id"], agent_id="alice"))
        await running.center.submit(ContactEnded(contact_id=offer["contact_id"]))
    assert offered == ["c-noa", "c-1", "c-2"]


async def test_a_late_answer_for_a_repeat_caller_with_an_open_complaint_moves_her_to_complaints(
    start: Callable[[], Awaitable[Running]],
    crm_store: SqlCrmStore,
    crm_engine: AsyncEngine,
    write_events: Callable[..., Any],
) -> None:
    noa = await add_noa(crm_store, complaint=True)
    await write_events(contact_events("c-old", noa, NOW - 2 * DAY))  # she called two days ago
    running = await start()
    await running.arrive("c-noa", NOA, NOW)
    assert running.line("general") == ["c-noa"] and running.line("complaints") == []

    running.clock.advance_to(NOW + 20)
    await running.answer()
    assert running.line("general") == [] and running.line("complaints") == ["c-noa"]
    waiting = running.center.engine.snapshot(NOW + 20).waiting["complaints"][0]
    assert waiting.waited_s == 20  # she keeps the time she has waited
    events = await running.events("c-noa")
    moved = next(e for e in events if e.type == "contact.moved")
    assert moved.data == {"from_queue": "general", "to_queue": "complaints", "by": "crm"}
    routed = next(e for e in events if e.type == "contact.crm_routed")
    assert routed.data == {
        "from_queue": "general",
        "to_queue": "complaints",
        "rule": 0,
        "late": True,
        "when": {"repeat_contact": "yes", "open_complaint": "yes"},
    }
    assert kinds(events)[-4:] == [
        "contact.moved",
        "contact.queued",
        "contact.crm_routed",
        "contact.priority_changed",
    ]  # complaints gives her tier 90 s too
    assert events[-1].data == {"head_start_s": 90.0, "by": "crm"}
    async with crm_engine.connect() as conn:  # the contacts table (reports) follows her
        row = (
            await conn.execute(text("SELECT queue, customer_id FROM contacts WHERE contact_id='c-noa'"))
        ).one()
    assert tuple(row) == ("complaints", noa)


async def test_a_late_answer_for_a_contact_already_ringing_changes_nothing_in_routing(
    start: Callable[[], Awaitable[Running]], crm_store: SqlCrmStore, write_events: Callable[..., Any]
) -> None:
    noa = await add_noa(crm_store, complaint=True)
    await write_events(contact_events("c-old", noa, NOW - 2 * DAY))  # late, she would go to complaints
    running = await start()
    await running.center.submit(AgentLoggedIn(agent_id="alice"))
    await running.ready()
    await running.arrive("c-noa", NOA, NOW)
    offer = await running.desks.next("offer")  # at the budget, with the placeholder card
    assert offer["contact_id"] == "c-noa" and offer["screen_pop_pending"] is True

    await running.answer()
    pop = await running.desks.next("screen_pop")  # the card fills in ...
    assert pop["offer_id"] == offer["offer_id"] and pop["screen_pop"]["customer"]["name"] == "Levi"
    contact = running.center.engine.contacts["c-noa"]  # ... and the offer stays where it rings
    assert (contact.state, contact.queue, contact.offer_id) == ("offered", "general", offer["offer_id"])
    assert [f["type"] for _, f in running.desks.frames if f["type"].startswith("offer")] == ["offer"]
    events = await running.events("c-noa")
    assert next(e for e in events if e.type == "contact.identified").data["late"] is True
    assert not {"contact.moved", "contact.crm_routed", "contact.priority_changed"} & set(kinds(events))

    await running.center.submit(OfferAccepted(offer_id=offer["offer_id"], agent_id="alice"))
    connected = await running.desks.next("contact")
    assert (connected["contact_id"], connected["status"], connected["queue"]) == (
        "c-noa",
        "connected",
        "general",
    )


async def test_a_head_start_the_ivr_gave_is_kept_when_the_late_card_would_match_a_rule(
    start: Callable[[], Awaitable[Running]], crm_store: SqlCrmStore
) -> None:
    await add_noa(crm_store, complaint=False)
    running = await start()
    await running.arrive("c-1", "+972539999991", NOW)
    await running.arrive("c-2", "+972539999992", NOW + 40)
    await running.arrive("c-noa", NOA, NOW + 60, head_start_s=30)  # the IVR's queue node gave 30 s
    assert running.line("general") == ["c-1", "c-noa", "c-2"]

    await running.answer()  # in time, her tier's rule would not have replaced the 30 s either
    assert running.line("general") == ["c-1", "c-noa", "c-2"]
    events = await running.events("c-noa")
    assert next(e for e in events if e.type == "contact.identified").data["late"] is True
    assert "contact.priority_changed" not in kinds(events)
