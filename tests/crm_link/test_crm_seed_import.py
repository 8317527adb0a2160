"""Seeding is reproducible from its seed; a CSV import loads the good rows and names the
row, column and reason of every bad one; the nightly refresh scores everybody."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.config.crm import CrmConfig
from callcenter.core.ids import SequentialIds
from callcenter.crm_link.csv_import import RowError, import_csv
from callcenter.crm_link.schema import customer_scores
from callcenter.crm_link.scores import refresh_scores, segment_of
from callcenter.crm_link.seed import phone_number, seed
from callcenter.crm_link.store import SqlCrmStore
from callcenter.ports.customer_card import contact_attributes
from callcenter.runtime.ids import RandomIds
from callcenter.storage import database, migrate
from tests.crm_link.conftest import NOW

TABLES = ("customers", "contact_points", "orders", "tickets")


async def _dump(engine: AsyncEngine) -> list[list[tuple[object, ...]]]:
    async with engine.connect() as conn:
        return [list((await conn.execute(text(f"SELECT * FROM {t} ORDER BY 1, 2"))).all()) for t in TABLES]


async def test_the_same_seed_gives_identical_data_and_another_seed_does_not(tmp_path: Path) -> None:
    dumps = []
    for name, value in (("a", 42), ("b", 42), ("c", 43)):
        engine = database.create_engine(f"sqlite+aiosqlite:///{tmp_path / name}.db")
        await migrate.upgrade(engine)
        stats = await seed(engine, 300, value)
        assert stats.customers == 300 and stats.phones == 300 and stats.orders > 300 and stats.tickets > 10
        dumps.append(await _dump(engine))
        await engine.dispose()
    assert dumps[0] == dumps[1]
    assert dumps[0][0] != dumps[2][0]


async def test_seeded_callers_are_found_by_their_number_and_scored(crm_engine: AsyncEngine) -> None:
    await seed(crm_engine, 500, 7, country_code="+972")
    stats = await refresh_scores(crm_engine, NOW)
    assert stats.customers == 500 and sum(stats.pyramid.values()) == 500
    assert stats.pyramid["top"] == 5 and stats.pyramid["key"] == 20  # 1 % and 4 %
    store = SqlCrmStore(
        crm_engine,
        CrmConfig(default_country_code="+972"),
        now=lambda: NOW,
        ids=RandomIds(lambda: int(NOW * 1000)),
    )
    number = phone_number(123, 7, "972")
    card = await store.lookup("caller_number", "0" + number[4:])  # as a national number
    assert card is not None and card.customer_id == "cus-00000123" and card.account_number == "AC00000123"
    assert card.segment is not None and card.value_cell in ("invest", "maintain", "develop", "harvest")
    assert card.tier in ("top", "key", "regular", "small", "vip")
    assert set(contact_attributes(card)) >= {"tier", "segment", "value_cell", "churn_risk"}
    async with crm_engine.connect() as conn:
        rows = (await conn.execute(select(customer_scores))).mappings().all()
    never = [r for r in rows if r["order_count"] == 0]
    assert never and all(r["segment"] == "prospect" and r["churn_risk"] == "unknown" for r in never)
    assert all(r["clv"] >= 0 for r in rows)


def test_segment_names() -> None:
    assert segment_of(5, 5, 1) == "champions"
    assert segment_of(5, 1, 5) == "new"
    assert segment_of(3, 4, 2) == "loyal"
    assert segment_of(2, 3, 5) == "at_risk"
    assert segment_of(1, 2, 5) == "lost"
    assert segment_of(2, 1, 1) == "hibernating"
    assert segment_of(4, 2, 1) == "promising"
    assert segment_of(3, 2, 1) == "needs_attention"


CSV = """\ufeffAccount_Number,name,first_name,language,tier,phones,emails,customer_id
AC-1,Lovelace,Ada,en,,050-123 4567;+44 20 7946 0958,ADA@example.com,legacy-1
AC-2,Turing,Alan,en,,not a number,,
AC-3,,Grace,en,,,,
AC-1,Again,Dup,en,,,,
AC-4,Hopper,Grace,english,,,,
AC-5,Knuth,Donald,,vip,,don@example.com,
AC-6,Dijkstra,Edsger,nl,,,edsger(at)example.com,
AC-7,Liskov,Barbara,en,,,,,extra
AC-8,Backus,John,en,,,,legacy-1
"""


async def test_csv_import_loads_good_rows_and_reports_each_bad_one(
    crm_engine: AsyncEngine, tmp_path: Path
) -> None:
    store = SqlCrmStore(crm_engine, now=lambda: NOW, ids=SequentialIds())
    await store.create_customer({"name": "Old", "account_number": "AC-5"})
    path = tmp_path / "customers.csv"
    path.write_text(CSV, encoding="utf-8")
    report = await import_csv(crm_engine, path, country_code="+972", now=NOW, ids=SequentialIds(100))
    assert (report.rows, report.imported) == (9, 1)
    assert [(e.row, e.column) for e in report.errors] == [
        (3, "phones"),
        (4, "name"),
        (5, "account_number"),
        (6, "language"),
        (7, "account_number"),
        (8, "emails"),
        (9, "*"),
        (10, "customer_id"),
    ]
    assert "contains" in report.errors[0].reason and "already in this file" in report.errors[2].reason
    assert str(report.errors[1]) == "row 4: name: name is required"
    card = await store.lookup("caller_number", "+972501234567")
    assert card is not None and card.customer_id == "legacy-1" and card.emails == ("ada@example.com",)


async def test_a_csv_without_required_columns_imports_nothing(
    crm_engine: AsyncEngine, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("name,colour\nLovelace,red\n", encoding="utf-8")
    report = await import_csv(crm_engine, path, now=NOW, ids=SequentialIds())
    assert report.imported == 0
    assert report.errors == [
        RowError(1, "account_number", "required column is missing from the header"),
        RowError(1, "colour", report.errors[1].reason),
    ]


@pytest.mark.postgres
async def test_seed_lookup_search_and_refresh_on_postgres(pg_url: str) -> None:
    engine = database.create_engine(pg_url)
    try:
        await migrate.upgrade(engine)
        stats = await seed(engine, 300, 42)  # COPY
        assert stats.customers == 300 and stats.tickets > 10
        assert (await refresh_scores(engine, NOW)).customers == 300
        store = SqlCrmStore(engine, now=lambda: NOW, ids=SequentialIds())
        card = await store.lookup("caller_number", phone_number(7, 42, "1"))
        assert card is not None and card.customer_id == "cus-00000007" and card.segment is not None
        made = await store.create_customer({"name": "Love_ly", "account_number": "PG-1"})
        assert [r["id"] for r in await store.search("love_")] == [made["id"]]
    finally:
        await engine.dispose()
