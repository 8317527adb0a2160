"""Checks for what people and files send: customer, ticket and order bodies.

The REST API and the CSV import use the same rules, so a row refused by one is refused
by the other with the same words. Every problem raises ``CrmInputError`` naming the
field; the API turns it into ``{"error": {"status", "message", "field"}}``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from callcenter.core.client_json import instant_in_range
from callcenter.core.errors import CallcenterError
from callcenter.crm_link.phone import normalize_email, normalize_phone

TICKET_KINDS = ("complaint", "request", "follow-up")
TICKET_STATUSES = ("open", "pending", "closed")
ORDER_STATUSES = ("placed", "paid", "shipped", "delivered", "cancelled", "returned")
_ACCOUNT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,4})?$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")

CUSTOMER_FIELDS = ("name", "first_name", "account_number", "language", "tier", "phones", "emails")
TICKET_FIELDS = ("kind", "status", "owner", "due_at", "subject", "contact_ids")


class CrmInputError(CallcenterError):
    """A bad value in ``field``; ``status`` is the HTTP status it deserves (400, 404, 409)."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field, self.message, self.status = field, message, status


def _unknown(body: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for key in body:
        if key not in allowed:
            raise CrmInputError(str(key), f"unknown field {key!r}; known: {', '.join(allowed)}")


def _text(body: Mapping[str, Any], key: str, max_len: int, *, required: bool) -> str | None:
    value = body.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise CrmInputError(key, f"{key} is required")
        return None
    if not isinstance(value, str):
        raise CrmInputError(key, f"{key} must be text")
    value = value.strip()
    if len(value) > max_len:
        raise CrmInputError(key, f"{key} is longer than {max_len} characters")
    return value


def _text_list(body: Mapping[str, Any], key: str) -> list[str]:
    value = body.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CrmInputError(key, f"{key} must be a list of text")
    return [v for v in value if v.strip()]


def customer_values(
    body: Mapping[str, Any], *, country_code: str, partial: bool = False
) -> tuple[dict[str, Any], list[str] | None, list[str] | None]:
    """Column values for ``customers`` (only the keys present when ``partial``), plus the
    normalized phones and e-mails (None when absent from a partial body)."""
    _unknown(body, CUSTOMER_FIELDS)
    values: dict[str, Any] = {}
    for key, max_len, required in (
        ("name", 128, True),
        ("first_name", 128, False),
        ("account_number", 32, True),
        ("tier", 16, False),
    ):
        if partial and key not in body:
            continue
        values[key] = _text(body, key, max_len, required=required)
    account = values.get("account_number")
    if account is not None and not _ACCOUNT.match(account):
        raise CrmInputError("account_number", "an account number is letters, digits and '-' (at most 32)")
    if not partial or "language" in body:
        language = _text(body, "language", 8, required=False) or "en"
        if not _LANGUAGE.match(language):
            raise CrmInputError("language", f"{language!r} is not a language code like 'en' or 'he'")
        values["language"] = language
    phones = emails = None
    if not partial or "phones" in body:
        phones = []
        for raw in _text_list(body, "phones"):
            try:
                phones.append(normalize_phone(raw, country_code))
            except ValueError as exc:
                raise CrmInputError("phones", str(exc)) from None
    if not partial or "emails" in body:
        emails = []
        for raw in _text_list(body, "emails"):
            try:
                emails.append(normalize_email(raw))
            except ValueError as exc:
                raise CrmInputError("emails", str(exc)) from None
    return values, _dedupe(phones), _dedupe(emails)


def _dedupe(items: list[str] | None) -> list[str] | None:
    return None if items is None else list(dict.fromkeys(items))


def ticket_values(body: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Column values for ``tickets`` from an API body (only keys present when ``partial``)."""
    _unknown(body, TICKET_FIELDS)
    values: dict[str, Any] = {}
    if not partial or "kind" in body:
        values["kind"] = _choice(body, "kind", TICKET_KINDS, None)
    if not partial or "status" in body:
        values["status"] = _choice(body, "status", TICKET_STATUSES, "open")
    if not partial or "subject" in body:
        values["subject"] = _text(body, "subject", 200, required=True)
    if not partial or "owner" in body:
        values["owner"] = _text(body, "owner", 64, required=False)
    if not partial or "due_at" in body:
        values["due_at"] = parse_time(body.get("due_at"), "due_at")
    if not partial or "contact_ids" in body:
        values["contact_ids"] = _text_list(body, "contact_ids")
    return values


def _choice(body: Mapping[str, Any], key: str, allowed: tuple[str, ...], default: str | None) -> str:
    value = body.get(key, default)
    if value not in allowed:
        raise CrmInputError(key, f"{key} must be one of {', '.join(allowed)}")
    return str(value)


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
