"""What people and files send the CRM, and what its REST API answers, as msgspec types.

Requests (``CustomerIn``, ``CustomerPatch``, ``TicketIn``, ``TicketPatch``) forbid unknown
fields and carry their limits as ``Meta`` constraints, so the OpenAPI document states
them. What is more than shape stays in small functions here: phone and e-mail
normalisation and dedupe (``customer_values``), ISO 8601 times (``parse_time``), ticket
defaults (``ticket_values``), orders from CSV rows (``order_values``). The REST API and
the CSV import use the same rules, so a row refused by one is refused by the other with
the same words. Every problem raises ``CrmInputError`` naming the field; the API turns it
into ``{"error": {"status", "message", "field"}}``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from callcenter.core.api import convert_body
from callcenter.core.client_json import InputRefused, instant_in_range
from callcenter.core.errors import CallcenterError
from callcenter.crm_link.phone import normalize_email, normalize_phone

TICKET_KINDS = ("complaint", "request", "follow-up")
TICKET_STATUSES = ("open", "pending", "closed")
ORDER_STATUSES = ("placed", "paid", "shipped", "delivered", "cancelled", "returned")
_CURRENCY = re.compile(r"^[A-Z]{3}$")

T = TypeVar("T")
TicketKind = Literal["complaint", "request", "follow-up"]
TicketStatus = Literal["open", "pending", "closed"]
Name = Annotated[str, Meta(max_length=128)]
Account = Annotated[
    str,
    Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$", description="letters, digits and '-', at most 32"),
]
Language = Annotated[
    str, Meta(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,4})?$", description="a language code like 'en' or 'he'")
]
Tier = Annotated[str, Meta(max_length=16)]
Texts = Annotated[list[str], Meta(max_length=50, description="any spelling; stored normalized")]
When = Annotated[
    float | str | None, Meta(description="epoch seconds, or ISO 8601 (a date alone is midnight UTC)")
]


class CrmInputError(CallcenterError):
    """A bad value in ``field``; ``status`` is the HTTP status it deserves (400, 404, 409)."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field, self.message, self.status = field, message, status


def crm_convert(body: Any, kind: type[T]) -> T:
    """``body`` (a mapping, or already ``kind``) as ``kind``; ``CrmInputError`` otherwise."""
    if isinstance(body, kind):
        return body
    try:
        return convert_body(dict(body) if isinstance(body, Mapping) else body, kind)
    except InputRefused as exc:
        raise CrmInputError(exc.field, exc.message, exc.status) from None


# Requests ----------------------------------------------------------------------------


class CustomerIn(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A new customer (``POST /api/v1/customers``; a CSV row)."""

    name: Name
    account_number: Account
    first_name: Name | None = None
    language: Language | None = None
    tier: Tier | None = None
    phones: Texts | str = []
    emails: Texts | str = []


class CustomerPatch(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Fields to change; ``phones`` / ``emails`` replace the lists."""

    name: Name | UnsetType = UNSET
    account_number: Account | UnsetType = UNSET
    first_name: Name | UnsetType | None = UNSET
    language: Language | UnsetType | None = UNSET
    tier: Tier | UnsetType | None = UNSET
    phones: Texts | str | UnsetType | None = UNSET
    emails: Texts | str | UnsetType | None = UNSET


class TicketIn(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    kind: TicketKind
    subject: Annotated[str, Meta(max_length=200)]
    status: TicketStatus = "open"
    owner: Annotated[str, Meta(max_length=64)] | None = None
    due_at: When = None
    contact_ids: Annotated[list[str], Meta(max_length=100)] = []


class TicketPatch(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Fields to change; ``add_contact_id`` appends one contact instead of replacing the list."""

    kind: TicketKind | UnsetType = UNSET
    subject: Annotated[str, Meta(max_length=200)] | UnsetType = UNSET
    status: TicketStatus | UnsetType = UNSET
    owner: Annotated[str, Meta(max_length=64)] | UnsetType | None = UNSET
    due_at: When | UnsetType = UNSET
    contact_ids: Annotated[list[str], Meta(max_length=100)] | UnsetType | None = UNSET
    add_contact_id: str | UnsetType = UNSET


# Rules beyond shape ------------------------------------------------------------------


def customer_values(
    body: Any, *, country_code: str, partial: bool = False
) -> tuple[dict[str, Any], list[str] | None, list[str] | None]:
    """Column values for ``customers`` (only the fields sent when ``partial``), plus the
    normalized, deduplicated phones and e-mails (None when a partial body leaves them)."""
    given: CustomerIn | CustomerPatch = (
        crm_convert(body, CustomerPatch) if partial else crm_convert(body, CustomerIn)
    )
    values: dict[str, Any] = {}
    for key, required in (("name", True), ("first_name", False), ("account_number", True), ("tier", False)):
        value = getattr(given, key)
        if value is UNSET:
            continue
        value = value.strip() if isinstance(value, str) else None
        if not value and required:
            raise CrmInputError(key, f"{key} is required")
        values[key] = value or None
    if given.language is not UNSET:
        values["language"] = (given.language or "").strip() or "en"
    phones = _points(given.phones, "phones", lambda raw: normalize_phone(raw, country_code))
    emails = _points(given.emails, "emails", normalize_email)
    return values, phones, emails


def _points(value: Any, field: str, normalize: Any) -> list[str] | None:
    if value is UNSET:
        return None
    items = [value] if isinstance(value, str) else list(value or [])
    out: list[str] = []
    for raw in items:
        if not raw.strip():
            continue
        try:
            out.append(normalize(raw))
        except ValueError as exc:
            raise CrmInputError(field, str(exc)) from None
    return list(dict.fromkeys(out))


def ticket_values(body: Any, *, partial: bool = False) -> dict[str, Any]:
    """Column values for ``tickets`` from an API body (only the fields sent when
    ``partial``; ``add_contact_id`` is left to the caller)."""
    given: TicketIn | TicketPatch = crm_convert(body, TicketPatch) if partial else crm_convert(body, TicketIn)
    values: dict[str, Any] = {}
    for key in ("kind", "status", "subject", "owner", "due_at", "contact_ids"):
        value = getattr(given, key)
        if value is UNSET:
            continue
        if key in ("subject", "owner"):
            value = value.strip() if isinstance(value, str) else None
            if key == "subject" and not value:
                raise CrmInputError("subject", "subject is required")
            value = value or None
        elif key == "due_at":
            value = parse_time(value, "due_at")
        elif key == "contact_ids":
            value = [c for c in value or [] if c.strip()]
        values[key] = value
    return values


def parse_time(value: Any, field: str) -> float | None:
    """Epoch seconds from a number, or from ISO 8601 text (a date alone is midnight UTC;
    a time without offset is UTC). None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise CrmInputError(field, f"{field} must be epoch seconds or an ISO 8601 date/time")
    if isinstance(value, int | float):
        if not instant_in_range(float(value)):
            raise CrmInputError(field, f"{field} must be a time from 1970 to 8999")
        return float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            at = parsed.timestamp()
        except (ValueError, OverflowError):
            raise CrmInputError(field, f"{value!r} is not an ISO 8601 date/time like 2024-05-01") from None
        if not instant_in_range(at):
            raise CrmInputError(field, f"{field} must be a time from 1970 to 8999")
        return at
    raise CrmInputError(field, f"{field} must be epoch seconds or an ISO 8601 date/time")


def order_values(row: Mapping[str, Any]) -> dict[str, Any]:
    """Column values for ``orders`` (without ids) from a CSV row or a seed record."""
    ordered_at = parse_time(row.get("ordered_at"), "ordered_at")
    if ordered_at is None:
        raise CrmInputError("ordered_at", "ordered_at is required")
    try:
        amount = float(row.get("amount", ""))
    except (TypeError, ValueError):
        raise CrmInputError("amount", f"amount {row.get('amount')!r} is not a number") from None
    if not math.isfinite(amount) or amount < 0:
        raise CrmInputError("amount", "amount must be 0 or more")
    currency = str(row.get("currency") or "").strip().upper()
    if not _CURRENCY.match(currency):
        raise CrmInputError("currency", f"currency {currency!r} must be a 3-letter code like USD")
    status = str(row.get("status") or "placed").strip().lower()
    if status not in ORDER_STATUSES:
        raise CrmInputError("status", f"order status must be one of {', '.join(ORDER_STATUSES)}")
    tracking = str(row.get("tracking") or "").strip() or None
    if tracking is not None and len(tracking) > 64:
        raise CrmInputError("tracking", "tracking is longer than 64 characters")
    return {
        "ordered_at": ordered_at,
        "amount": round(amount, 2),
        "currency": currency,
        "status": status,
        "tracking": tracking,
    }


# Responses ---------------------------------------------------------------------------


class Customer(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A customer's card (what a lookup finds) with its record's fields."""

    id: str | None
    identified: bool
    name: str
    first_name: str | None
    account_number: str | None
    language: str | None
    tier: str | None
    segment: str | None
    value_cell: str | None
    rfm: str | None
    clv: float | None
    churn_risk: str | None
    churn_score: float | None
    phones: list[str]
    emails: list[str]
    open_tickets: int
    open_complaint: bool
    repeat_contact: Annotated[bool, Meta(description="another contact within the repeat window")]
    source: Literal["local", "external", "placeholder"]
    created_at: float | UnsetType = UNSET
    manual_tier: str | UnsetType | None = UNSET


class CustomerRow(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A search result: short (the card is ``GET /api/v1/customers/{customer_id}``)."""

    id: str
    name: str
    first_name: str | None
    account_number: str | None
    language: str | None
    tier: Annotated[str | None, Meta(description="the hand-set tier, else the pyramid level")]
    segment: str | None


class CustomerList(Struct, frozen=True, kw_only=True):
    customers: list[CustomerRow]


class Ticket(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    customer_id: str
    kind: str
    status: str
    owner: str | None
    due_at: float | None
    subject: str
    contact_ids: list[str]
    created_at: float
    updated_at: float


class TicketList(Struct, frozen=True, kw_only=True):
    tickets: list[Ticket]


class Note(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    at: float
    by: str | None
    text: str


class PastRecording(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A recording of a past contact: play it at ``url`` (``/api/v1/recordings/...``)."""

    kind: Literal["call", "voicemail"]
    part: int
    seconds: float | None
    recorded_at: float
    url: str


class PastContact(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One contact of the customer's history (from the interaction log)."""

    contact_id: str
    channel: str
    queue: str | None
    agent_id: str | None
    state: str | None
    arrived_at: float | None
    answered_at: float | None
    ended_at: float | None
    end_reason: str | None
    wait_s: float | None
    disposition: str | None
    notes: list[Note]
    rating: int | None
    recordings: list[PastRecording] = []


class ContactHistory(Struct, frozen=True, kw_only=True):
    contacts: list[PastContact]


class RepeatWarning(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    reason: str
    previous_contact_id: str | None
    ticket_id: str | None
    days_since: float


class ScreenPop(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The desk's screen pop for a contact."""

    contact_id: str
    identified: bool
    verified: Annotated[
        bool,
        Meta(
            description="false: the card is a candidate (the caller's number, what a chat customer "
            "typed); confirm the customer's identity before disclosing anything"
        ),
    ]
    verified_by: Literal["pin", "dob", "token"] | None
    customer: Customer
    attributes: dict[str, str]
    open_tickets: list[Ticket]
    recent_contacts: list[PastContact]
    ivr: Annotated[dict[str, Any] | None, Meta(description="the IVR trail: flow, path, inputs, lookups")]
    repeat: RepeatWarning | None


def as_response(value: Any, kind: type[T]) -> T:
    """Our own dict as its response struct (a field the type does not name fails here,
    in tests, instead of reaching a client undocumented)."""
    return msgspec.convert(value, kind)
