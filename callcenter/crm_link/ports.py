"""The port the IVR, the ACD offer and the desk use to find a customer.

Two adapters implement it: ``store.SqlCrmStore`` (the center's own database) and
``http_crm.HttpCrmDirectory`` (an outside CRM over HTTP JSON).
"""

from __future__ import annotations

from typing import Protocol

from callcenter.core.errors import CallcenterError
from callcenter.crm_link.model import CustomerCard, LookupBy


class CrmUnavailable(CallcenterError):
    """The directory could not answer (timeout, error, circuit open). Not finding anybody
    is not an error: ``lookup`` returns None."""


class CrmDirectory(Protocol):
    async def lookup(self, by: LookupBy, value: str) -> CustomerCard | None:
        """The customer whose ``by`` (caller_number, email, account_number, customer_id) is
        ``value``, or None. Numbers and addresses may be in any spelling; the directory
        normalizes them. Raises ``CrmUnavailable`` when it cannot answer."""
        ...
