"""Load real customers from a CSV file: ``callcenter crm import FILE.csv``.

Columns (header row required, names case-insensitive, order free):

=================  ========  ================================================================
column             required  meaning
=================  ========  ================================================================
account_number     yes       unique; letters, digits and '-', at most 32
name               yes       family name (or company name)
first_name         no
language           no        ``en``, ``he``, ``pt-BR`` ...; default ``en``
tier               no        a hand-set tier (``vip``); empty: the nightly pyramid level
phones             no        one or more numbers separated by ``;``, any spelling
emails             no        one or more addresses separated by ``;``
customer_id        no        keep this id (e.g. the id in the old system); default: generated
=================  ========  ================================================================

Every row is checked with the same rules as the API. A bad row is reported with its line
number in the file (the header is line 1), the column and the reason, and skipped; the
other rows are imported. Accounts already in the store, or twice in the file, are errors
of the later row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.core.ids import IdGenerator
from callcenter.crm_link.bodies import CrmInputError, customer_values
from callcenter.crm_link.schema import contact_points, customers

REQUIRED = ("account_number", "name")
OPTIONAL = ("first_name", "language", "tier", "phones", "emails", "customer_id")
BATCH = 2000
Pending = tuple[int, dict[str, Any], list[str], list[str]]  # line, customer values, phones, e-mails


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # line in the file; the header is line 1
    column: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.column}: {self.reason}"


@dataclass(slots=True)
class ImportReport:
    rows: int = 0
    imported: int = 0
    errors: list[RowError] = field(default_factory=list)


async def import_csv(
    engine: AsyncEngine,
    path: Path | str,
    *,
    country_code: str = "+1",
    now: float,
    ids: IdGenerator,
) -> ImportReport:
    """Import the customers of the CSV file at ``path`` (UTF-8, a BOM is fine)."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return await import_rows(engine, handle, country_code=country_code, now=now, ids=ids)


async def import_rows(
    engine: AsyncEngine,
    handle: io.TextIOBase | Iterable[str],
    *,
    country_code: str,
    now: float,
    ids: IdGenerator,
) -> ImportReport:
    report = ImportReport()
    reader = csv.DictReader(handle)
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    if missing or unknown:
        for column in missing:
            report.errors.append(RowError(1, column, "required column is missing from the header"))
        for column in unknown:
            known = ", ".join(REQUIRED + OPTIONAL)
            report.errors.append(RowError(1, column, f"unknown column; known: {known}"))
        return report
    reader.fieldnames = header
    seen: set[str] = set()
    pending: list[Pending] = []
    for raw in reader:
        report.rows += 1
        line = reader.line_num
        parsed = _parse(raw, line, country_code, seen, report)
        if parsed is not None:
            pending.append((line, *parsed))
        if len(pending) >= BATCH:
            await _write(engine, pending, report, now, ids.new)
            pending = []
    await _write(engine, pending, report, now, ids.new)
    report.errors.sort(key=lambda e: e.row)
    return report


def _parse(
    raw: dict[str, Any], line: int, country_code: str, seen: set[str], report: ImportReport
) -> tuple[dict[str, Any], list[str], list[str]] | None:
    if None in raw:  # more cells than header columns
        report.errors.append(RowError(line, "*", "the row has more cells than the header has columns"))
        return None
    body = {k: (v or "").strip() for k, v in raw.items() if k != "customer_id"}
    for key in ("phones", "emails"):
        body[key] = [p for p in body.get(key, "").split(";") if p.strip()]
    body = {k: v for k, v in body.items() if v not in ("", [])}
    try:
        values, phones, emails = customer_values(body, country_code=country_code)
    except CrmInputError as exc:
        report.errors.append(RowError(line, exc.field, exc.message))
        return None
    customer_id = (raw.get("customer_id") or "").strip()
    if len(customer_id) > 32:
        report.errors.append(RowError(line, "customer_id", "customer_id is longer than 32 characters"))
        return None
    if values["account_number"] in seen:
        report.errors.append(
            RowError(
                line, "account_number", f"account number {values['account_number']!r} is already in this file"
            )
        )
        return None
    seen.add(values["account_number"])
    values["id"] = customer_id or None
    return values, phones or [], emails or []


async def _write(
    engine: AsyncEngine,
    pending: list[Pending],
    report: ImportReport,
    now: float,
    new_id: Callable[[str], str],
) -> None:
    if not pending:
        return
    async with engine.begin() as conn:
        accounts = [v["account_number"] for _, v, _, _ in pending]
        ids = [v["id"] for _, v, _, _ in pending if v["id"]]
        taken = set(
            (
                await conn.execute(
                    select(customers.c.account_number).where(customers.c.account_number.in_(accounts))
                )
            ).scalars()
        )
        used = set((await conn.execute(select(customers.c.id).where(customers.c.id.in_(ids)))).scalars())
        people, points = [], []
        for line, values, phones, emails in pending:
            if values["account_number"] in taken:
                account = values["account_number"]
                report.errors.append(
                    RowError(line, "account_number", f"account number {account!r} is already in the store")
                )
                continue
            if values["id"] in used:
                report.errors.append(RowError(line, "customer_id", f"customer id {values['id']!r} is taken"))
                continue
            cid = values["id"] or new_id("customer")
            used.add(cid)
            people.append({**values, "id": cid, "created_at": now})
            points += [{"customer_id": cid, "kind": "phone", "value": p, "label": None} for p in phones]
            points += [{"customer_id": cid, "kind": "email", "value": e, "label": None} for e in emails]
        if people:
            await conn.execute(insert(customers), people)
        if points:
            await conn.execute(insert(contact_points), points)
    report.imported += len(people)
