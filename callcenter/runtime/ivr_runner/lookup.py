"""An IVR ``LookupCustomer`` answered from the CRM directory.

``want: customer`` identifies the caller (the card's fields become ``customer.*``). Any
other ``want`` is a self-service answer for the customer found: from the runner's
``SelfService`` (the CRM store in the server), else from an
``answer(want, card)`` coroutine of the directory, and only when the customer found is the
one the session verified (``for_customer``); None (no such answer) is not found and
the flow takes its ``not_found`` branch (a flow always has one). A directory that cannot
answer (``CrmUnavailable``, any error) counts as not found; the session's own timeout
covers one that hangs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from callcenter.ivr.messages import LookupCompleted, LookupCustomer
from callcenter.ports.crm_directory import SelfService
from callcenter.runtime.ivr_runner.ports import IvrDirectory

log = logging.getLogger(__name__)


async def answer_lookup(
    directory: IvrDirectory | None, c: LookupCustomer, contact_id: str, answers: SelfService | None = None
) -> LookupCompleted:
    not_found = LookupCompleted(request_id=c.request_id, found=False)
    if directory is None or not c.value:
        return not_found
    try:
        card = await directory.lookup(c.by, c.value)
        if card is None or not card.identified:
            return not_found
        customer = card.to_dict()
        if c.want == "customer":
            return LookupCompleted(request_id=c.request_id, found=True, customer=customer)
        if c.for_customer is None or card.customer_id != c.for_customer:
            log.warning("IVR %s: %s refused: not the verified customer", contact_id, c.want)
            return not_found  # personal answers only for the customer the contact proved to be
        answer = await (
            answers.answer(c.want, card) if answers is not None else _answer(directory, c.want, card)
        )
    except Exception as exc:  # CrmUnavailable and adapter bugs alike: the caller goes on
        log.warning("IVR %s: lookup %s=%s (%s) failed: %s", contact_id, c.by, c.value, c.want, exc)
        return not_found
    if answer is None:
        return LookupCompleted(request_id=c.request_id, found=False, customer=customer)
    return LookupCompleted(request_id=c.request_id, found=True, customer=customer, answer=answer)


async def _answer(directory: IvrDirectory, want: str, card: Any) -> Mapping[str, Any] | None:
    ask = getattr(directory, "answer", None)
    if ask is None:
        return None
    result: Mapping[str, Any] | None = await ask(want, card)
    return result
