"""Offers do not wait on a slow CRM; the screen pop shows the customer, open tickets, the
last contacts with dispositions and notes, the IVR path with input masked as logged, and
warns of repeat contacts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.crm_link.budget import lookup_with_budget
from callcenter.crm_link.customer_activity import create_ticket, patch_ticket
from callcenter.crm_link.schema import customer_scores
from callcenter.crm_link.screen_pop import load_screen_pop
from callcenter.crm_link.store import SqlCrmStore
from callcenter.ports.crm_directory import CrmUnavailable
from callcenter.ports.customer_card import CustomerCard, LookupBy
from tests.crm_link.conftest import DAY, NOW, contact_events


class SlowDirectory:
    """Answers after ``release`` is set; records what it was asked."""

    def __init__(self, card: CustomerCard | None, *, fail: bool = False) -> None:
        self.card, self.fail = card, fail
        self.release = asyncio.Event()
        self.asked: list[tuple[str, str]] = []

    async def lookup(self, by: LookupBy, value: str) -> CustomerCard | None:
        self.asked.append((by, value))
        await self.release.wait()
        if self.fail:
            raise CrmUnavailable("CRM answered 503")
        return self.card


ADA = CustomerCard(customer_id="cus-1", name="Lovelace", first_name="Ada", tier="top")


async def test_a_fast_answer_comes_back_within_the_budget() -> None:
    directory = SlowDirectory(ADA)
    directory.release.set()
    result = await lookup_with_budget(directory, "caller_number", "+972501234567", budget_s=1.0)
    assert result.card == ADA and not result.late and result.error is None


async def test_a_slow_crm_gives_a_placeholder_now_and_the_card_later() -> None:
    directory = SlowDirectory(ADA)
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await lookup_with_budget(directory, "caller_number", "+972501234567", budget_s=0.05)
    assert loop.time() - started < 0.5
    assert not result.card.identified and result.card.name == "Unidentified caller"
    assert result.card.looked_up == ("caller_number", "+972501234567")
    assert result.pending is not None and not result.pending.done()
    directory.release.set()
    assert await asyncio.wait_for(result.pending, 5) == ADA


async def test_a_late_failure_resolves_to_none_and_an_early_one_is_reported() -> None:
    late = SlowDirectory(ADA, fail=True)
    result = await lookup_with_budget(late, "email", "ada@example.com", budget_s=0.01)
    late.release.set()
    assert result.pending is not None and await asyncio.wait_for(result.pending, 5) is None
    early = SlowDirectory(ADA, fail=True)
    early.release.set()
    result = await lookup_with_budget(early, "email", "ada@example.com", budget_s=1.0)
    assert not result.card.identified and not result.late
    assert result.error is not None and "503" in result.error


async def test_not_found_in_time_is_final() -> None:
    directory = SlowDirectory(None)
    directory.release.set()
    result = await lookup_with_budget(directory, "account_number", "AC-9", budget_s=1.0)
    assert not result.card.identified and result.pending is None and result.error is None


async def test_screen_pop_has_card_tickets_history_ivr_and_repeat_warning(
    crm_store: SqlCrmStore, crm_engine: AsyncEngine, write_events: Callable[..., Any]
) -> None:
    cid = (
        await crm_store.create_customer(
            {"name": "Lovelace", "first_name": "Ada", "account_number": "AC-1", "phones": ["0501234567"]}
        )
    )["id"]
    async with crm_engine.begin() as conn:
        await conn.execute(
            insert(customer_scores).values(
                customer_id=cid,
                computed_at=NOW,
                rfm="311",
                segment="at_risk",
                pyramid="key",
                value_cell="maintain",
                clv=2500.0,
                churn_risk="high",
                churn_score=0.9,
                total_spend=800.0,
                order_count=3,
                last_order_at=NOW - 200 * DAY,
            )
        )
    history = []
    for i in range(7):  # seven earlier contacts, the newest yesterday
        at = NOW - DAY if i == 6 else NOW - (30 - 4 * i) * DAY
        history += contact_events(f"c-{i}", cid, at, disposition=f"code-{i}", note=f"note {i}")
    history += [  # the contact being offered now, with its IVR trail
        ("contact.arrived", NOW - 60, "c-now", {"channel": "voice", "caller": "+972501234567"}),
        ("ivr.started", NOW - 59, "c-now", {"flow": "bank", "caller": "+972501234567"}),
        ("ivr.node", NOW - 58, "c-now", {"node": "welcome", "kind": "say"}),
        ("ivr.node", NOW - 50, "c-now", {"node": "main_menu", "kind": "menu"}),
        ("ivr.input", NOW - 45, "c-now", {"node": "main_menu", "digits": "3"}),
        ("ivr.node", NOW - 44, "c-now", {"node": "card_pin", "kind": "collect"}),
        ("ivr.input", NOW - 40, "c-now", {"node": "card_pin", "digits": "****5678"}),
        ("ivr.input", NOW - 35, "c-now", {"node": "confirm", "speech": "yes"}),
        ("contact.identified", NOW - 30, "c-now", {"customer_id": cid}),
    ]
    await write_events(history)
    await create_ticket(
        crm_engine,
        cid,
        {"kind": "complaint", "subject": "Card lost", "contact_ids": ["c-6"]},
        ticket_id="T-open",
        now=NOW - DAY,
    )
    await create_ticket(
        crm_engine,
        cid,
        {"kind": "request", "subject": "Old", "status": "closed"},
        ticket_id="T-closed",
        now=NOW - 40 * DAY,
    )
    card = await crm_store.lookup("caller_number", "+972501234567")
    assert card is not None
    pop = await load_screen_pop(crm_store, "c-now", card)
    assert pop["identified"] and pop["customer"]["first_name"] == "Ada"
    assert (
        pop["customer"]["tier"],
        pop["customer"]["segment"],
        pop["customer"]["clv"],
        pop["customer"]["churn_risk"],
    ) == ("key", "at_risk", 2500.0, "high")
    assert [t["id"] for t in pop["open_tickets"]] == ["T-open"]
    recent = pop["recent_contacts"]
    assert [c["contact_id"] for c in recent] == ["c-6", "c-5", "c-4", "c-3", "c-2"]
    assert recent[0]["disposition"] == "code-6"
    assert recent[0]["notes"] == [{"at": NOW - DAY + 210, "by": "alice", "text": "note 6"}]
    assert recent[0]["answered_at"] == NOW - DAY + 40 and recent[0]["end_reason"] == "completed"
    assert pop["ivr"]["flow"] == "bank"
    assert pop["ivr"]["path"] == ["welcome", "main_menu", "card_pin"]
    assert [i.get("digits") or i.get("speech") for i in pop["ivr"]["inputs"]] == ["3", "****5678", "yes"]
    assert "12345678" not in str(pop)
    assert pop["repeat"]["reason"] == "open_ticket" and pop["repeat"]["ticket_id"] == "T-open"
    assert pop["repeat"]["previous_contact_id"] == "c-6"
    assert pop["attributes"]["repeat_contact"] == "yes" and pop["attributes"]["open_complaint"] == "yes"
    # once the ticket is closed the caller is still a repeat, but not chasing a ticket
    await patch_ticket(crm_engine, "T-open", {"status": "closed"}, now=NOW)
    pop = await load_screen_pop(crm_store, "c-now", customer_id=cid)
    assert pop["repeat"]["reason"] == "recent_contact" and pop["open_tickets"] == []


async def test_an_unknown_caller_gets_the_unidentified_pop_with_the_ivr_trail(
    crm_store: SqlCrmStore, write_events: Callable[..., Any]
) -> None:
    await write_events([("ivr.node", NOW, "c-x", {"node": "welcome", "kind": "say"})])
    pop = await load_screen_pop(crm_store, "c-x", customer_id="nobody")
    assert not pop["identified"] and pop["customer"]["name"] == "Unidentified caller"
    assert pop["ivr"]["path"] == ["welcome"] and pop["repeat"] is None
    assert pop["attributes"] == {"identified": "no"}
