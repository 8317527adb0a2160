"""Look a customer up without letting a slow CRM hold up an offer.

``lookup_with_budget`` waits at most ``budget_s`` for the directory. In time, it returns
the answer. Late, it returns the "unidentified caller" placeholder at once, together with
``pending``: a task that finishes with the real card (or None) when the directory answers,
so the desk can fill the card in. The task never raises: a failing directory resolves it
to None and the reason goes to ``error`` of the late result's log line.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from callcenter.ports.crm_directory import CrmDirectory
from callcenter.ports.customer_card import CustomerCard, LookupBy, unidentified_card

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BudgetedLookup:
    """``card`` is the customer's card, or the placeholder (``card.identified`` is False).
    ``pending`` is set only when the answer was late: await it for the real card (None if
    the caller is unknown or the directory failed). ``error`` says why the directory failed
    within the budget."""

    card: CustomerCard
    pending: asyncio.Task[CustomerCard | None] | None = None
    error: str | None = None

    @property
    def late(self) -> bool:
        return self.pending is not None


async def lookup_with_budget(
    directory: CrmDirectory, by: LookupBy, value: str, budget_s: float = 0.2
) -> BudgetedLookup:
    """Ask ``directory`` and wait at most ``budget_s`` seconds (see module docstring).

    The caller must keep the returned object (or its ``pending`` task) until it has
    awaited or dropped the late answer; the task is not cancelled when the budget runs out,
    since the answer is still wanted."""
    task = asyncio.ensure_future(_ask(directory, by, value))
    done, _ = await asyncio.wait({task}, timeout=max(0.0, budget_s))
    if not done:
        return BudgetedLookup(unidentified_card(by, value), pending=asyncio.ensure_future(_quiet(task)))
    card, error = task.result()
    return BudgetedLookup(card if card is not None else unidentified_card(by, value), error=error)


async def _ask(directory: CrmDirectory, by: LookupBy, value: str) -> tuple[CustomerCard | None, str | None]:
    try:
        return await directory.lookup(by, value), None
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # any adapter failure: the contact goes on unidentified
        return None, f"{type(exc).__name__}: {exc}"


async def _quiet(task: asyncio.Future[tuple[CustomerCard | None, str | None]]) -> CustomerCard | None:
    card, error = await task
    if error is not None:
        log.warning("late CRM lookup failed: %s", error)
    return card
