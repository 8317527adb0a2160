"""An IVR ``VerifyCustomer`` answered from the CRM: who the contact proved to be.

``pin`` / ``dob``: the customer with that account number (the directory), then the
secret against the credentials the CRM store keeps (``SqlCrmStore.check_secret``: the
PIN's scrypt hash, the date of birth). An unknown account costs the same hash as a known
one, so the answer's timing does not tell which accounts exist. ``token``: the customer
a checked login token named (``chat/login_token.py`` checked signature and expiry).
A directory that cannot answer is ``unavailable`` (the session does not count it as a
wrong answer). Nothing here logs the secret.
"""

from __future__ import annotations

import logging

from callcenter.ivr.messages import VerificationCompleted, VerifyCustomer
from callcenter.ports.crm_directory import Credentials
from callcenter.runtime.ivr_runner.ports import IvrDirectory

log = logging.getLogger(__name__)


async def answer_verification(
    directory: IvrDirectory | None, credentials: Credentials | None, c: VerifyCustomer, contact_id: str
) -> VerificationCompleted:
    refused = VerificationCompleted(request_id=c.request_id, verified=False)
    if directory is None:
        return VerificationCompleted(request_id=c.request_id, verified=False, unavailable=True)
    try:
        if c.method == "token":
            card = await directory.lookup("customer_id", c.customer_id or "") if c.customer_id else None
            if card is None or not card.identified:
                return refused
            return VerificationCompleted(
                request_id=c.request_id, verified=True, customer=card.to_dict(), customer_id=card.customer_id
            )
        card = await directory.lookup("account_number", c.account) if c.account else None
        known = card.customer_id if card is not None and card.identified else None
        if credentials is None:
            return VerificationCompleted(request_id=c.request_id, verified=False, unavailable=True)
        ok = await credentials.check_secret(known, c.method, c.secret)
    except Exception as exc:  # CrmUnavailable and adapter bugs alike: the contact goes on
        log.warning("IVR %s: verification by %s failed: %s", contact_id, c.method, type(exc).__name__)
        return VerificationCompleted(request_id=c.request_id, verified=False, unavailable=True)
    if not ok or card is None:
        return VerificationCompleted(request_id=c.request_id, verified=False, customer_id=known)
    return VerificationCompleted(
        request_id=c.request_id, verified=True, customer=card.to_dict(), customer_id=known
    )
