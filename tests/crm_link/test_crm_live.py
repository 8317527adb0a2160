"""The CRM in the running center (crm_link/live.py), with the real store on SQLite (and
PostgreSQL) and a slow directory in front of it: an arriving caller gets the customer's
routing attributes in time, or goes on unidentified past the budget and is identified
when the answer comes; an offer always goes out, with the screen pop in time or the
"unidentified caller" card that a later screen_pop frame fills in; route rules send
repeat callers with an open complaint to the complaints queue."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.config.crm import CrmConfig, CrmRouteRule
from callcenter.config.loader import check_config
from callcenter.core.desk_frames import DeskFrame, Offer
from callcenter.core.events import InteractionEvent
from callcenter.core.ids import SequentialIds
from callcenter.crm_link.caller_lookup import LiveCrm
from callcenter.crm_link.customer_activity import add_order, create_ticket
from callcenter.crm_link.store import SqlCrmStore
from callcenter.ports.crm_directory import CrmUnavailable
from callcenter.ports.customer_card import CustomerCard, LookupBy
from callcenter.storage import database, migrate
from tests.crm_link.conftest import DAY, NOW, contact_events

BUDGET_MS = 60
COMPLAINTS = CrmRouteRule(
    when={"repeat_contact": "yes", "open_complaint": "yes"}, queue="complaints", from_queues=["general"]
)


class SlowDirectory:
    """The real store behind a gate: answers once ``release`` is set (or fails then)."""

    def __init__(self, store: SqlCrmStore, *, fail: bool = False) -> None:
        self.store, self.fail = store, fail
        self.release, self.called = asyncio.Event(), asyncio.Event()
        self.asked: list[tuple[str, str]] = []

    async def lookup(self, by: LookupBy, value: str) -> CustomerCard | None:
        self.asked.append((by, value))
        self.called.set()
        await self.release.wait()
        if self.fail:
            raise CrmUnavailable("CRM answered 503")
        return await self.store.lookup(by, value)


class Desk:
    """Records what the center would log and send to desks; ``next()`` awaits a frame."""

    def __init__(self) -> None:
        self.events: list[InteractionEvent] = []
        self.frames: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()

    def deliver(self, agent: str, frame: DeskFrame) -> None:
        self.frames.put_nowait((agent, msgspec.to_builtins(frame)))  # as the desk reads it

    async def next(self) -> dict[str, Any]:
        agent, frame = await asyncio.wait_for(self.frames.get(), 5)
        assert agent == "alice"
        return frame

    def kinds(self) -> list[str]:
        return [e.type for e in self.events]


def live(store: SqlCrmStore, directory: Any, desk: Desk, **config: Any) -> LiveCrm:
    settings: dict[str, Any] = {"lookup_budget_ms": BUDGET_MS, "route_rules": [COMPLAINTS], **config}
    crm = LiveCrm(store, directory, CrmConfig(default_country_code="+972", **settings), now=lambda: NOW)
    crm.bind(record=desk.events.append, deliver=desk.deliver)
    return crm


def offer_frame(contact_id: str, caller: str | None = "050-123 4567") -> Offer:
    return Offer(
        offer_id=f"o-{contact_id}",
        contact_id=contact_id,
        agent_id="alice",
        queue="general",
        channel="voice",
        ring_deadline=NOW + 20,
        trace="",
        caller=caller,
        attributes={},
    )


async def add_noa(store: SqlCrmStore) -> str:
    noa = await store.create_customer(
        {
            "name": "Levi",
            "first_name": "Noa",
            "account_number": "AC-9",
            "tier": "top",
            "phones": ["050-123 4567"],
            "emails": ["Noa.Levi@example.com"],
        }
    )
    await create_ticket(
        store.engine,
        noa["id"],
        {"kind": "complaint", "subject": "Fee charged twice"},
        ticket_id="T-1",
        now=NOW - DAY,
    )
    return str(noa["id"])


@pytest.fixture
async def noa(crm_store: SqlCrmStore) -> str:
    return await add_noa(crm_store)


async def test_a_known_caller_in_time_gets_attributes_and_the_offer_carries_the_pop(
    crm_store: SqlCrmStore, noa: str, write_events: Callable[..., Any]
) -> None:
    await write_events(
        [
            ("ivr.started", NOW - 40, "c-1", {"flow": "bank"}),
            ("ivr.node", NOW - 39, "c-1", {"node": "main_menu"}),
            ("ivr.input", NOW - 35, "c-1", {"node": "main_menu", "digits": "3"}),
            ("ivr.node", NOW - 34, "c-1", {"node": "ask_id"}),
            ("ivr.input", NOW - 20, "c-1", {"node": "ask_id", "digits": "*****6789"}),
        ]
    )
    desk = Desk()
    crm = live(crm_store, crm_store, desk)
    queue, attributes = await crm.arrival(
        contact_id="c-1", caller="+972 50 123 4567", queue="general", attributes={}
    )
    assert queue == "general"  # not a repeat: no earlier contact
    assert attributes["tier"] == "top" and attributes["open_complaint"] == "yes"
    assert desk.kinds() == ["contact.identified"] and desk.events[0].data["customer_id"] == noa
    crm.offer("alice", offer_frame("c-1"))
    frame = await desk.next()
    assert frame["type"] == "offer" and frame["screen_pop_pending"] is False
    pop = frame["screen_pop"]
    assert pop["customer"]["first_name"] == "Noa" and pop["customer"]["tier"] == "top"
    assert [t["subject"] for t in pop["open_tickets"]] == ["Fee charged twice"]
    assert pop["ivr"]["path"] == ["main_menu", "ask_id"]  # this contact's IVR path and input, masked
    assert [i["digits"] for i in pop["ivr"]["inputs"]] == ["3", "*****6789"]
    await crm.close()


async def test_a_slow_crm_does_not_hold_the_contact_and_the_card_fills_in_later(
    crm_store: SqlCrmStore, noa: str
) -> None:
    desk, slow = Desk(), SlowDirectory(crm_store)
    crm = live(crm_store, slow, desk)
    started = time.monotonic()
    queue, attributes = await crm.arrival(
        contact_id="c-2", caller="0501234567", queue="general", attributes={}
    )
    assert time.monotonic() - started < 1.0  # the budget (60 ms), not the CRM, decided
    assert (queue, attributes) == ("general", {"identified": "no"}) and desk.events == []

    crm.offer("alice", offer_frame("c-2"))
    first = await desk.next()  # the offer goes out at the budget with the placeholder card
    assert first["type"] == "offer" and first["screen_pop_pending"] is True
    assert first["screen_pop"]["identified"] is False
    assert first["screen_pop"]["customer"]["name"] == "Unidentified caller"

    slow.release.set()  # the CRM answers
    filled = await desk.next()
    assert (filled["type"], filled["offer_id"], filled["contact_id"]) == ("screen_pop", "o-c-2", "c-2")
    assert filled["screen_pop"]["customer"]["name"] == "Levi"
    assert [t["id"] for t in filled["screen_pop"]["open_tickets"]] == ["T-1"]
    identified = [e for e in desk.events if e.type == "contact.identified"]
    assert [(e.data["customer_id"], e.data["late"]) for e in identified] == [(noa, True)]
    assert slow.asked == [("caller_number", "0501234567")]  # one lookup served both
    await crm.close()


async def test_an_offer_withdrawn_before_its_frame_went_out_never_reaches_the_desk(
    crm_store: SqlCrmStore, noa: str
) -> None:
    desk, slow = Desk(), SlowDirectory(crm_store)
    crm = live(crm_store, slow, desk, lookup_budget_ms=5000)
    crm.offer("alice", offer_frame("c-3"))
    await asyncio.wait_for(slow.called.wait(), 5)  # the offer is waiting on the CRM
    crm.withdrawn("o-c-3")
    slow.release.set()
    await crm.close()
    assert desk.frames.empty()


async def test_a_failing_crm_still_lets_the_offer_out_unidentified(crm_store: SqlCrmStore, noa: str) -> None:
    desk, broken = Desk(), SlowDirectory(crm_store, fail=True)
    broken.release.set()
    crm = live(crm_store, broken, desk)
    queue, attributes = await crm.arrival(
        contact_id="c-4", caller="0501234567", queue="general", attributes={}
    )
    assert (queue, attributes) == ("general", {"identified": "no"})
    crm.offer("alice", offer_frame("c-4"))
    frame = await desk.next()
    assert frame["type"] == "offer" and frame["screen_pop"]["identified"] is False
    await crm.close()


async def test_whatever_breaks_in_the_crm_the_contact_is_still_queued(
    crm_store: SqlCrmStore, noa: str
) -> None:
    crm = live(crm_store, crm_store, Desk())

    def closed_log(event: InteractionEvent) -> None:
        raise RuntimeError("the interaction log is closed")

    crm.bind(record=closed_log, deliver=lambda agent, frame: None)
    assert await crm.arrival(contact_id="c-9", caller="0501234567", queue="general", attributes={}) == (
        "general",
        {"identified": "no"},
    )
    await crm.close()


async def test_a_repeat_caller_with_an_open_complaint_is_routed_to_complaints(
    crm_store: SqlCrmStore, noa: str, write_events: Callable[..., Any]
) -> None:
    await write_events(contact_events("c-old", noa, NOW - 2 * DAY, disposition="follow-up"))
    desk = Desk()
    crm = live(crm_store, crm_store, desk)
    queue, attributes = await crm.arrival(
        contact_id="c-5", caller="0501234567", queue="general", attributes={}
    )
    assert queue == "complaints" and attributes["repeat_contact"] == "yes"
    card = await crm_store.lookup("caller_number", "0501234567")  # what IVR branches see as customer.*
    assert card is not None and card.to_dict()["repeat_contact"] is True and card.to_dict()["open_complaint"]
    routed = next(e for e in desk.events if e.type == "contact.crm_routed")
    assert routed.data == {
        "from_queue": "general",
        "to_queue": "complaints",
        "rule": 0,
        "when": {"repeat_contact": "yes", "open_complaint": "yes"},
    }
    elsewhere, _ = await crm.arrival(contact_id="c-6", caller="0501234567", queue="cards", attributes={})
    assert elsewhere == "cards"  # the rule names general only
    crm.offer("alice", offer_frame("c-5"))
    pop = (await desk.next())["screen_pop"]
    assert pop["repeat"]["previous_contact_id"] == "c-old"
    assert pop["recent_contacts"][0]["disposition"] == "follow-up"
    await crm.close()


async def test_a_contact_the_ivr_identified_is_looked_up_by_its_customer_id(
    crm_store: SqlCrmStore, noa: str
) -> None:
    desk = Desk()
    crm = live(crm_store, crm_store, desk)
    _, attributes = await crm.arrival(
        contact_id="c-7", caller=None, queue="general", attributes={"customer_id": noa}
    )
    assert attributes["tier"] == "top"
    assert desk.events == []  # the IVR logged its identification already
    _, nobody = await crm.arrival(contact_id="c-8", caller=None, queue="general", attributes={})
    assert nobody == {"identified": "no"}
    await crm.close()


async def test_a_chat_offered_without_an_arrival_lookup_is_identified_by_its_email(
    crm_store: SqlCrmStore, noa: str
) -> None:
    desk = Desk()
    crm = live(crm_store, crm_store, desk)
    crm.offer("alice", offer_frame("c-chat", caller="noa.levi@example.com"))
    frame = await desk.next()
    assert frame["screen_pop"]["customer"]["id"] == noa and frame["screen_pop_pending"] is False
    assert [(e.type, e.data["by"]) for e in desk.events] == [("contact.identified", "email")]
    await crm.close()


async def test_the_ivr_self_service_answers_come_from_the_store(crm_store: SqlCrmStore, noa: str) -> None:
    card = await crm_store.card(noa)
    assert card is not None
    assert await crm_store.answer("card_status", card) is None  # no order yet: the flow's not_found
    await add_order(
        crm_store.engine,
        noa,
        {
            "ordered_at": NOW - 3 * DAY,
            "amount": 0,
            "currency": "ILS",
            "status": "shipped",
            "tracking": "TRK-7",
        },
        order_id="ord-1",
    )
    assert await crm_store.answer("card_status", card) == {
        "status": "shipped",
        "tracking": "TRK-7",
        "ordered_at": NOW - 3 * DAY,
        "order_id": "ord-1",
    }
    assert await crm_store.answer("open_tickets", card) == {"count": 1, "latest_subject": "Fee charged twice"}
    assert await crm_store.answer("balance", card) is None  # balances are not kept in the CRM


def test_route_rules_are_checked_where_they_are_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"when\.open_complaints: not a CRM attribute"):
        CrmRouteRule(when={"open_complaints": "yes"}, queue="complaints")
    with pytest.raises(ValueError, match="name at least one attribute"):
        CrmRouteRule(when={}, queue="complaints")
    path = tmp_path / "callcenter.yaml"
    path.write_text(
        "queues:\n  - name: general\ncrm:\n  route_rules:\n"
        '    - when: {open_complaint: "yes"}\n      queue: complaints\n'
        "      from_queues: [general, gold]\n"
    )
    config, problems = check_config(path)
    assert config is None
    text = str(problems.items)
    assert f"{path}:6: crm.route_rules[0].queue: unknown queue 'complaints'" in text
    assert f"{path}:7: crm.route_rules[0].from_queues[1]: unknown queue 'gold'" in text


@pytest.fixture
async def pg_store(pg_url: str) -> AsyncIterator[SqlCrmStore]:
    engine: AsyncEngine = database.create_engine(pg_url)
    await migrate.upgrade(engine)
    yield SqlCrmStore(engine, CrmConfig(default_country_code="+972"), now=lambda: NOW, ids=SequentialIds())
    await engine.dispose()


@pytest.mark.postgres
async def test_the_arrival_lookup_and_the_pop_on_postgres(pg_store: SqlCrmStore) -> None:
    noa = await add_noa(pg_store)
    desk = Desk()
    crm = live(pg_store, pg_store, desk)
    _, attributes = await crm.arrival(contact_id="c-pg", caller="050-1234567", queue="general", attributes={})
    assert attributes["tier"] == "top" and desk.events[0].data["customer_id"] == noa
    crm.offer("alice", offer_frame("c-pg"))
    frame = await desk.next()
    assert frame["screen_pop"]["customer"]["account_number"] == "AC-9"
    assert [t["id"] for t in frame["screen_pop"]["open_tickets"]] == ["T-1"]
    await crm.close()
