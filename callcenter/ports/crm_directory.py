"""The port the IVR, the ACD offer and the desk use to find a customer.

Two adapters implement it: ``store.SqlCrmStore`` (the center's own database) and
``http_crm.HttpCrmDirectory`` (an outside CRM over HTTP JSON).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from callcenter.core.errors import CallcenterError
from callcenter.ports.customer_card import CustomerCard, LookupBy


class CrmUnavailable(CallcenterError):
    """The directory could not answer (timeout, error, circuit open). Not finding anybody
    is not an error: ``lookup`` returns None."""


class CrmDirectory(Protocol):
    async def lookup(self, by: LookupBy, value: str) -> CustomerCard | None:
        """The customer whose ``by`` (caller_number, email, account_number, customer_id) is
        ``value``, or None. Numbers and addresses may be in any spelling; the directory
        normalizes them. Raises ``CrmUnavailable`` when it cannot answer."""
        ...


class SelfService(Protocol):
    """Self-service answers (``crm_link.store.SqlCrmStore.answer`` in the server): a
    mapping, or None when there is no such answer for this customer."""

    async def answer(self, want: str, card: CustomerCard) -> Mapping[str, Any] | None: ...


class Credentials(Protocol):
    """``crm_link.store.SqlCrmStore`` in the server."""

    async def check_secret(self, customer_id: str | None, method: str, secret: str) -> bool:
        """True when ``secret`` is the customer's PIN (``pin``) or date of birth (``dob``).
        ``customer_id`` None (no such account) does the same work and answers False."""
        ...


class CustomerAnswers(SelfService, Credentials, Protocol):
    """What the IVR asks of the center's own customer store: self-service answers and
    credential checks (``crm_link.store.SqlCrmStore`` in the server)."""
