"""The customer store: create, find by number/e-mail/account/id in any spelling, change,
search; routing attributes; contact history from the interaction log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.crm_link.bodies import CrmInputError
from callcenter.crm_link.customer_activity import create_ticket
from callcenter.crm_link.schema import customer_scores
from callcenter.crm_link.store import SqlCrmStore
from callcenter.ports.customer_card import contact_attributes
from tests.crm_link.conftest import DAY, NOW, contact_events

ADA = {
    "name": "Lovelace",
    "first_name": "Ada",
    "account_number": "AC-1001",
    "language": "he",
    "phones": ["050-123 4567", "+44 20 7946 0958"],
    "emails": ["Ada@Example.com"],
}


async def test_a_customer_is_found_by_any_spelling_of_her_number_mail_account_and_id(
    crm_store: SqlCrmStore,
) -> None:
    created = await crm_store.create_customer(ADA)
    assert created["phones"] == ["+972501234567", "+442079460958"]
    assert created["emails"] == ["ada@example.com"]
    cid = created["id"]
    for by, value in [
        ("caller_number", "+972501234567"),
        ("caller_number", "0501234567"),
        ("caller_number", "sip:050-1234567@pbx"),
        ("caller_number", "0044 20 7946 0958"),
        ("email", " ADA@example.com"),
        ("account_number", "AC-1001"),
        ("customer_id", cid),
    ]:
        card = await crm_store.lookup(by, value)  # type: ignore[arg-type]
        assert card is not None and card.customer_id == cid, (by, value)
        assert (card.first_name, card.language) == ("Ada", "he")
    assert await crm_store.lookup("caller_number", "0509999999") is None
    assert await crm_store.lookup("caller_number", "anonymous") is None
    assert await crm_store.lookup("account_number", "AC-9") is None


async def test_duplicate_accounts_and_bad_fields_are_refused_naming_the_field(crm_store: SqlCrmStore) -> None:
    await crm_store.create_customer(ADA)
    with pytest.raises(CrmInputError) as dup:
        await crm_store.create_customer({**ADA, "phones": []})
    assert (dup.value.status, dup.value.field) == (409, "account_number")
    bad_bodies: list[tuple[dict[str, Any], str]] = [
        ({**ADA, "account_number": "AC-2", "phones": ["12ab"]}, "phones"),
        ({"account_number": "AC-3"}, "name"),
        ({"name": "X", "account_number": "AC 4"}, "account_number"),
        ({"name": "X", "account_number": "AC-5", "emails": ["nope"]}, "emails"),
        ({"name": "X", "account_number": "AC-6", "colour": "red"}, "colour"),
        ({"name": "X", "account_number": "AC-7", "language": "English"}, "language"),
    ]
    for body, field in bad_bodies:
        with pytest.raises(CrmInputError) as bad:
            await crm_store.create_customer(body)
        assert (bad.value.status, bad.value.field) == (400, field)
    assert len(await crm_store.search(None)) == 1  # nothing half-written


async def test_patch_changes_only_what_is_sent_and_replaces_numbers(crm_store: SqlCrmStore) -> None:
    cid = (await crm_store.create_customer(ADA))["id"]
    other = await crm_store.create_customer({"name": "Byron", "account_number": "AC-2002"})
    patched = await crm_store.patch_customer(cid, {"tier": "top", "phones": ["052-7654321"]})
    assert patched["tier"] == "top" and patched["name"] == "Lovelace"
    assert patched["phones"] == ["+972527654321"] and patched["emails"] == ["ada@example.com"]
    assert await crm_store.lookup("caller_number", "0501234567") is None
    with pytest.raises(CrmInputError) as taken:
        await crm_store.patch_customer(other["id"], {"account_number": "AC-1001"})
    assert (taken.value.status, taken.value.field) == (409, "account_number")
    with pytest.raises(CrmInputError) as missing:
        await crm_store.patch_customer("nobody", {"tier": "top"})
    assert missing.value.status == 404


async def test_search_by_name_prefix_number_mail_and_account(crm_store: SqlCrmStore) -> None:
    ada = (await crm_store.create_customer(ADA))["id"]
    byron = (
        await crm_store.create_customer(
            {"name": "Byron", "account_number": "AC-2002", "emails": ["lord@example.com"]}
        )
    )["id"]
    await crm_store.create_customer({"name": "Love_ly", "account_number": "AC-3003"})
    assert [r["id"] for r in await crm_store.search("love")][:1] == [ada]
    assert {r["name"] for r in await crm_store.search("LOVE")} == {"Lovelace", "Love_ly"}
    assert [r["name"] for r in await crm_store.search("love_")] == ["Love_ly"]  # _ is not a wildcard
    assert [r["id"] for r in await crm_store.search("050 123 4567")] == [ada]
    assert [r["id"] for r in await crm_store.search("LORD@example.com")] == [byron]
    assert [r["id"] for r in await crm_store.search("AC-2002")] == [byron]
    assert len(await crm_store.search(None, limit=2)) == 2


async def test_attributes_for_routing_come_from_scores_tickets_and_recent_contacts(
    crm_store: SqlCrmStore, crm_engine: AsyncEngine, write_events: Callable[..., Any]
) -> None:
    cid = (await crm_store.create_customer(ADA))["id"]
    card = await crm_store.lookup("customer_id", cid)
    assert card is not None
    assert contact_attributes(card) == {
        "identified": "yes",
        "language": "he",
        "repeat_contact": "no",
        "open_complaint": "no",
    }
    async with crm_engine.begin() as conn:
        await conn.execute(
            insert(customer_scores).values(
                customer_id=cid,
                computed_at=NOW,
                rfm="545",
                segment="champions",
                pyramid="top",
                value_cell="invest",
                clv=1234.5,
                churn_risk="low",
                churn_score=0.0,
                total_spend=900.0,
                order_count=9,
                last_order_at=NOW - DAY,
            )
        )
    await create_ticket(
        crm_engine, cid, {"kind": "complaint", "subject": "Card blocked"}, ticket_id="T1", now=NOW
    )
    await write_events(
        contact_events("c-old", cid, NOW - 10 * DAY) + contact_events("c-1", cid, NOW - 2 * DAY)
    )
    card = await crm_store.lookup("caller_number", "0501234567")
    assert card is not None
    assert contact_attributes(card, contact_id="c-now") == {
        "identified": "yes",
        "tier": "top",
        "segment": "champions",
        "value_cell": "invest",
        "churn_risk": "low",
        "language": "he",
        "rfm": "545",
        "repeat_contact": "yes",
        "open_complaint": "yes",
    }
    # the only recent contact is the one being handled: not a repeat of itself
    assert contact_attributes(card, contact_id="c-1")["repeat_contact"] == "no"
    # a hand-set tier wins over the pyramid level
    await crm_store.patch_customer(cid, {"tier": "vip"})
    card = await crm_store.card(cid)
    assert card is not None and contact_attributes(card)["tier"] == "vip"
