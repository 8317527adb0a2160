"""The customer store in the center's own database: the ``CrmDirectory`` for local
customers, and creating, changing and searching them.

A lookup is one query (the card with its scores, open-ticket counts, contact points and
contacts inside the repeat window, all by index); the bench measures it with a million
customers. Writes check the same rules as the CSV import (``bodies.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Select, String, and_, bindparam, cast, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.config.crm import CrmConfig
from callcenter.core.ids import IdGenerator
from callcenter.crm_link.bodies import CrmInputError, CustomerIn, CustomerPatch, customer_values
from callcenter.crm_link.customer_activity import self_service_answer
from callcenter.crm_link.phone import InvalidEmail, InvalidPhone, normalize_email, normalize_phone
from callcenter.crm_link.schema import (
    contact_points,
    customer_credentials,
    customer_scores,
    customers,
    tickets,
)
from callcenter.crm_link.verification import birth_dates, hash_pin, pin_matches
from callcenter.ports.customer_card import CustomerCard, LookupBy, RecentContact
from callcenter.storage.schema import contacts

DAY_S = 86400.0
RECENT_LIMIT = 20

_open_tickets = (
    select(func.count())
    .select_from(tickets)
    .where(tickets.c.customer_id == customers.c.id, tickets.c.status != "closed")
    .scalar_subquery()
)
_open_complaints = (
    select(func.count())
    .select_from(tickets)
    .where(
        tickets.c.customer_id == customers.c.id, tickets.c.status != "closed", tickets.c.kind == "complaint"
    )
    .scalar_subquery()
)
# Contact points and recent contacts ride along as one aggregated string each, so a lookup
# is a single round trip (each one costs far more than the index probes it carries).
# Unit/record separators cannot occur in E.164 numbers, e-mail addresses or contact ids.
FIELD, RECORD = "\x1f", "\x1e"
_points = (
    select(
        func.aggregate_strings(
            cast(contact_points.c.id, String)
            + FIELD
            + contact_points.c.kind
            + FIELD
            + contact_points.c.value,
            RECORD,
        )
    )
    .where(contact_points.c.customer_id == customers.c.id)
    .scalar_subquery()
)
_recent_rows = (
    select(contacts.c.contact_id, contacts.c.arrived_at)
    .where(contacts.c.customer_id == customers.c.id, contacts.c.arrived_at >= bindparam("since"))
    .order_by(contacts.c.arrived_at.desc())
    .limit(RECENT_LIMIT)
    .correlate(customers)
    .subquery()
)
_recent = select(
    func.aggregate_strings(
        _recent_rows.c.contact_id + FIELD + cast(_recent_rows.c.arrived_at, String), RECORD
    )
).scalar_subquery()
_CARD = select(
    customers,
    customer_scores.c.pyramid,
    customer_scores.c.segment,
    customer_scores.c.value_cell,
    customer_scores.c.rfm,
    customer_scores.c.clv,
    customer_scores.c.churn_risk,
    customer_scores.c.churn_score,
    _open_tickets.label("open_tickets"),
    _open_complaints.label("open_complaints"),
    _points.label("points"),
    _recent.label("recent"),
).select_from(customers.outerjoin(customer_scores, customer_scores.c.customer_id == customers.c.id))


class SqlCrmStore:
    """``CrmDirectory`` over the CRM tables. ``now`` is the clock (epoch seconds) used for
    the repeat window and for ``created_at``; ``ids`` names new customers."""

    def __init__(
        self,
        engine: AsyncEngine,
        config: CrmConfig | None = None,
        *,
        now: Callable[[], float],
        ids: IdGenerator,
    ) -> None:
        self.engine = engine
        self.config = config or CrmConfig()
        self.now = now
        self.ids = ids

    # Public methods for lookups ------------------------------------------------------

    def normalize(self, by: LookupBy, value: str) -> str | None:
        """``value`` in the stored spelling, or None when it cannot match anybody."""
        try:
            if by == "caller_number":
                return normalize_phone(value, self.config.default_country_code)
            if by == "email":
                return normalize_email(value)
        except (InvalidPhone, InvalidEmail):
            return None
        value = value.strip()
        return value or None

    async def lookup(self, by: LookupBy, value: str) -> CustomerCard | None:
        key = self.normalize(by, value)
        if key is None:
            return None
        query = _CARD.where(customers.c.id == _customer_id_of(by, key)).limit(1)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query, {"since": self._since()})).mappings().first()
        return None if row is None else self._card(row, (by, value))

    def _since(self) -> float:
        return self.now() - self.config.repeat_window_days * DAY_S

    async def answer(self, want: str, card: CustomerCard) -> dict[str, Any] | None:
        """A self-service answer for the IVR's lookup node (``records.self_service_answer``)."""
        if card.customer_id is None:
            return None
        return await self_service_answer(self.engine, want, card.customer_id)

    # Public methods for verification ----------------------------------------------------

    async def set_credentials(
        self, customer_id: str, *, pin: str | None = None, birth_date: str | None = None
    ) -> None:
        """Store what the customer proves who they are with: the PIN (kept as its scrypt
        hash) and the date of birth (``YYYY-MM-DD``). None leaves that part as it is."""
        values: dict[str, Any] = {}
        if pin is not None:
            values["pin_hash"] = await asyncio.to_thread(hash_pin, pin)
        if birth_date is not None:
            values["birth_date"] = birth_date
        async with self.engine.begin() as conn:
            found = await conn.execute(
                select(customer_credentials.c.customer_id).where(
                    customer_credentials.c.customer_id == customer_id
                )
            )
            if found.first() is None:
                await conn.execute(insert(customer_credentials).values(customer_id=customer_id, **values))
            elif values:
                await conn.execute(
                    update(customer_credentials)
                    .where(customer_credentials.c.customer_id == customer_id)
                    .values(**values)
                )

    async def check_secret(self, customer_id: str | None, method: str, secret: str) -> bool:
        """Is ``secret`` the customer's PIN (``method`` ``pin``) or date of birth (``dob``,
        keyed as DDMMYYYY or YYYYMMDD)? An unknown customer, or one without that
        credential, costs the same PIN hash and answers False."""
        row = None
        if customer_id is not None:
            async with self.engine.connect() as conn:
                found = await conn.execute(
                    select(customer_credentials).where(customer_credentials.c.customer_id == customer_id)
                )
                row = found.mappings().first()
        if method == "pin":
            encoded = row["pin_hash"] if row is not None else None
            return await asyncio.to_thread(pin_matches, secret, encoded)
        if method == "dob":
            stored = row["birth_date"] if row is not None else None
            return stored is not None and stored in birth_dates(secret)
        return False

    async def card(self, customer_id: str) -> CustomerCard | None:
        """The card of a known customer id (the desk's refresh, the screen pop)."""
        return await self.lookup("customer_id", customer_id)

    def _card(self, row: Mapping[Any, Any], looked_up: tuple[str, str] | None) -> CustomerCard:
        cid = row["id"]
        points = sorted(_split(row["points"]), key=lambda p: int(p[0]))
        recent = sorted(_split(row["recent"]), key=lambda r: -float(r[1]))
        return CustomerCard(
            customer_id=cid,
            name=row["name"],
            first_name=row["first_name"],
            account_number=row["account_number"],
            language=row["language"],
            tier=row["tier"] or row["pyramid"],
            segment=row["segment"],
            value_cell=row["value_cell"],
            rfm=row["rfm"],
            clv=row["clv"],
            churn_risk=row["churn_risk"],
            churn_score=row["churn_score"],
            phones=tuple(v for _, k, v in points if k == "phone"),
            emails=tuple(v for _, k, v in points if k == "email"),
            open_tickets=int(row["open_tickets"] or 0),
            open_complaint=bool(row["open_complaints"]),
            recent_contacts=tuple(RecentContact(contact_id=c, arrived_at=float(a)) for c, a in recent),
            source="local",
            looked_up=looked_up,
        )

    # Public methods for customer records ---------------------------------------------

    async def create_customer(self, body: CustomerIn | Mapping[str, Any]) -> dict[str, Any]:
        """Create a customer from an API body (see ``bodies.customer_values``); return its
        record. ``CrmInputError`` 400 for a bad field, 409 for an account number in use."""
        values, phones, emails = customer_values(body, country_code=self.config.default_country_code)
        cid = self.ids.new("customer")
        values.update(id=cid, created_at=self.now())
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(customers).values(**values))
                await _write_points(conn, cid, phones, emails)
        except IntegrityError:
            raise _account_taken(values["account_number"]) from None
        return await self.get_customer(cid)

    async def patch_customer(
        self, customer_id: str, body: CustomerPatch | Mapping[str, Any]
    ) -> dict[str, Any]:
        """Change the fields present in ``body``; ``phones`` / ``emails`` replace the lists."""
        values, phones, emails = customer_values(
            body, country_code=self.config.default_country_code, partial=True
        )
        try:
            async with self.engine.begin() as conn:
                found = await conn.execute(select(customers.c.id).where(customers.c.id == customer_id))
                if found.first() is None:
                    raise CrmInputError("customer_id", f"no customer {customer_id!r}", 404)
                if values:
                    await conn.execute(
                        update(customers).where(customers.c.id == customer_id).values(**values)
                    )
                for kind, items in (("phone", phones), ("email", emails)):
                    if items is not None:
                        await conn.execute(
                            delete(contact_points).where(
                                contact_points.c.customer_id == customer_id, contact_points.c.kind == kind
                            )
                        )
                await _write_points(conn, customer_id, phones, emails)
        except IntegrityError:
            raise _account_taken(values.get("account_number")) from None
        return await self.get_customer(customer_id)

    async def get_customer(self, customer_id: str) -> dict[str, Any]:
        """The customer's record and card fields; ``CrmInputError`` 404 if unknown."""
        async with self.engine.connect() as conn:
            query = _CARD.where(customers.c.id == customer_id)
            row = (await conn.execute(query, {"since": self._since()})).mappings().first()
        if row is None:
            raise CrmInputError("customer_id", f"no customer {customer_id!r}", 404)
        card = self._card(row, None)
        return {**card.to_dict(), "created_at": row["created_at"], "manual_tier": row["tier"]}

    async def search(self, q: str | None, *, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """Customers matching ``q``: a phone number or e-mail (exact, any spelling), an account
        number or customer id (exact), or the start of a family name (any case). Without
        ``q``, all customers by id. Rows are short: id, name, first name, account, tier."""
        query: Select[Any] = select(
            customers.c.id,
            customers.c.name,
            customers.c.first_name,
            customers.c.account_number,
            customers.c.language,
            customers.c.tier,
            customer_scores.c.pyramid,
            customer_scores.c.segment,
        ).select_from(customers.outerjoin(customer_scores, customer_scores.c.customer_id == customers.c.id))
        if q and q.strip():
            query = query.where(self._matches(q.strip()))
        query = query.order_by(customers.c.id).limit(limit).offset(offset)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [
            {
                "id": r["id"],
                "name": r["name"],
                "first_name": r["first_name"],
                "account_number": r["account_number"],
                "language": r["language"],
                "tier": r["tier"] or r["pyramid"],
                "segment": r["segment"],
            }
            for r in rows
        ]

    def _matches(self, q: str) -> Any:
        conditions = [
            customers.c.account_number == q,
            customers.c.id == q,
            func.lower(customers.c.name).like(_like_prefix(q.lower()), escape="\\"),
        ]
        for by in ("caller_number", "email"):
            key = self.normalize(by, q)
            if key is not None and (by == "email") == ("@" in q):
                conditions.append(
                    customers.c.id.in_(
                        select(contact_points.c.customer_id).where(contact_points.c.value == key)
                    )
                )
        return or_(*conditions)

    async def exists(self, customer_id: str) -> bool:
        async with self.engine.connect() as conn:
            found = await conn.execute(select(customers.c.id).where(customers.c.id == customer_id))
            return found.first() is not None


def _split(packed: str | None) -> list[list[str]]:
    return [record.split(FIELD) for record in packed.split(RECORD)] if packed else []


def _customer_id_of(by: LookupBy, key: str) -> Any:
    if by == "customer_id":
        return key
    if by == "account_number":
        return select(customers.c.id).where(customers.c.account_number == key).scalar_subquery()
    kind = "phone" if by == "caller_number" else "email"
    return (
        select(contact_points.c.customer_id)
        .where(and_(contact_points.c.value == key, contact_points.c.kind == kind))
        .order_by(contact_points.c.id)
        .limit(1)
        .scalar_subquery()
    )


async def _write_points(
    conn: AsyncConnection, cid: str, phones: Sequence[str] | None, emails: Sequence[str] | None
) -> None:
    rows = [{"customer_id": cid, "kind": "phone", "value": p} for p in phones or ()]
    rows += [{"customer_id": cid, "kind": "email", "value": e} for e in emails or ()]
    if rows:
        await conn.execute(insert(contact_points), rows)


def _account_taken(account: str | None) -> CrmInputError:
    return CrmInputError("account_number", f"account number {account!r} belongs to another customer", 409)


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
