"""The CRM in the running center: who the caller is when a contact arrives, and the
screen pop that goes out with its offer. ``runtime.center.Center`` calls it (its
``ContactCrm`` port) and does no CRM I/O itself; the ACD engine stays pure.

Theory of operation:

- ``arrival(contact_id=, caller=, queue=, attributes=)``, before the contact is queued,
  looks the caller up within ``crm.lookup_budget_ms`` (by ``attributes["customer_id"]``
  when the IVR already identified the caller, else by caller number, or e-mail address
  for a chat whose customer gave one). In time, it logs
  ``contact.identified`` and returns the card's routing attributes (``tier``,
  ``repeat_contact``, ``open_complaint`` ...) and the queue after ``crm.route_rules``
  (logged as ``contact.crm_routed``). Late, the contact is queued as
  ``identified: no`` at once, and is identified (logged) when the answer arrives.
- A late answer then makes the timely path's decisions for a contact that still waits:
  the card's attributes join the contact's (``AttributesChanged(by="crm")``, so its offer
  carries them; what the IVR gave wins, as on arrival), ``crm.route_rules`` (the ACD
  input ``ContactMoved(by="crm")``, logged as ``contact.crm_routed`` with ``late: true``)
  and the queue's ``priority_rules`` on the card's attributes (``PriorityChanged(by="crm")``
  by the difference from what the contact got without them; the rules are evaluated by
  the ACD's own ``priority_for``).
  The inputs go through the center's ``submit`` (the ACD's inbox, never the engine
  itself); the ACD refuses them unless the contact is waiting, so an offered or connected
  contact keeps its routing and the answer only identifies it.
- ``offer(agent_id, frame)`` sends the ACD's offer frame with ``screen_pop`` (tickets,
  history and IVR trail read fresh) once the pop is ready, but waits at most the budget:
  past it the frame goes out with the "unidentified caller" pop and
  ``screen_pop_pending: true``, and a ``screen_pop`` frame fills it in when ready. The
  offer frame always goes out, whatever the CRM does.
- ``withdrawn(offer_id)``: an offer whose frame has not gone out yet never goes out.
- ``ended(contact_id)`` forgets the contact; ``close()`` cancels what is in flight;
  ``idle()`` waits until the answers in flight are in and applied (tests).

Use from the event loop only; ``bind`` gives it the center's log, desks, inbox and queues.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from callcenter.acd.engine import priority_for
from callcenter.acd.messages import AttributesChanged, ContactMoved, PriorityChanged
from callcenter.config.crm import CrmConfig
from callcenter.config.sections import QueueConfig
from callcenter.core.desk_frames import DeskFrame, Offer, ScreenPop
from callcenter.core.errors import EngineError
from callcenter.core.events import InteractionEvent
from callcenter.crm_link.budget import lookup_with_budget
from callcenter.crm_link.screen_pop import build_screen_pop, load_screen_pop
from callcenter.crm_link.store import SqlCrmStore
from callcenter.ports.crm_directory import CrmDirectory
from callcenter.ports.customer_card import CustomerCard, LookupBy, contact_attributes, unidentified_card
from callcenter.ports.interaction_log import LogUnavailable

log = logging.getLogger(__name__)

Record = Callable[[InteractionEvent], None]
Deliver = Callable[[str, DeskFrame], None]
Submit = Callable[[object], Awaitable[None]]
MAX_CONTACTS = 20_000  # cards kept for contacts still in the center (oldest dropped first)


@dataclass(frozen=True, slots=True)
class _Queued:
    """How a contact whose CRM answer was late went into the ACD: the queue it was headed
    for, its own (IVR) attributes, and the priority its arrival gave explicitly."""

    queue: str
    attributes: dict[str, str]
    priority_class: int | None
    head_start_s: float | None


class LiveCrm:
    """``Center``'s ``ContactCrm``: see the module docstring. ``flush`` writes the
    interaction log out, so the pop's IVR trail and history include this contact."""

    def __init__(
        self,
        store: SqlCrmStore,
        directory: CrmDirectory,
        config: CrmConfig,
        *,
        now: Callable[[], float],
        flush: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.store, self.directory, self.config = store, directory, config
        self._now, self._flush = now, flush
        self._record: Record = lambda event: None
        self._deliver: Deliver = lambda agent_id, frame: None
        self._cards: OrderedDict[str, CustomerCard] = OrderedDict()
        self._late: dict[str, asyncio.Task[None]] = {}  # contact -> its late identification
        self._unsent: dict[str, asyncio.Task[None]] = {}  # offer -> task that will send its frame
        self._tasks: set[asyncio.Task[Any]] = set()
        self._submit: Submit | None = None
        self._queues: Mapping[str, QueueConfig] = {}
        self._rerouting: set[asyncio.Task[None]] = set()  # late answers being applied

    def bind(
        self,
        *,
        record: Record,
        deliver: Deliver,
        submit: Submit | None = None,
        queues: Mapping[str, QueueConfig] | None = None,
    ) -> None:
        """``submit`` hands an input to the ACD's inbox and raises if the ACD refuses it;
        without it (and the queues' config) a late answer only identifies the contact."""
        self._record, self._deliver = record, deliver
        self._submit, self._queues = submit, dict(queues or {})

    # Public methods for the center --------------------------------------------------------

    async def arrival(
        self,
        *,
        contact_id: str,
        caller: str | None,
        queue: str,
        attributes: Mapping[str, str],
        context_id: str | None = None,
        priority_class: int | None = None,
        head_start_s: float | None = None,
    ) -> tuple[str, dict[str, str]]:
        """The queue the contact goes to and the CRM attributes to add (see module doc);
        ``priority_class`` / ``head_start_s`` are what the arrival gives explicitly (a late
        answer's priority rules must not override them, as they would not in time).
        Never raises: whatever goes wrong here, the contact is queued, unidentified."""
        queued = _Queued(queue, dict(attributes), priority_class, head_start_s)
        try:
            return await self._arrival(contact_id, caller, queued, context_id)
        except Exception:
            log.exception("CRM at the arrival of %s failed; queued unidentified", contact_id)
            return queue, {"identified": "no"}

    async def _arrival(
        self,
        contact_id: str,
        caller: str | None,
        queued: _Queued,
        context_id: str | None,
    ) -> tuple[str, dict[str, str]]:
        queue = queued.queue
        by, value = _key(caller, queued.attributes)
        if value is None:
            return queue, {"identified": "no"}
        found = await lookup_with_budget(self.directory, by, value, self.config.lookup_budget_s)
        if found.error is not None:
            log.warning("CRM lookup for %s failed: %s", contact_id, found.error)
        if found.pending is not None:
            late = self._identify_late(contact_id, by, found.pending, queued, context_id)
            self._late[contact_id] = self._spawn(late)
            return queue, {"identified": "no"}
        card = found.card
        self._remember(contact_id, card)
        crm = contact_attributes(card, contact_id=contact_id)
        if card.identified:
            self._identified(contact_id, card, by, context_id)
        target, rule = self.config.route(crm, queue)
        if rule is not None:
            self._routed(contact_id, queue, target, rule, context_id)
        return target, crm

    def offer(self, agent_id: str, frame: Offer) -> None:
        """Send the offer ``frame`` to ``agent_id`` with its screen pop (see module doc)."""
        offer_id = frame.offer_id
        self._unsent[offer_id] = self._spawn(self._send_offer(agent_id, offer_id, frame))

    def withdrawn(self, offer_id: str) -> None:
        task = self._unsent.pop(offer_id, None)
        if task is not None:
            task.cancel()

    def ended(self, contact_id: str) -> None:
        self._cards.pop(contact_id, None)
        late = self._late.pop(contact_id, None)
        if late is not None:
            late.cancel()

    async def idle(self) -> None:
        """Wait until the lookups in flight have answered and what their answers change in
        routing has been handed to the ACD (tests, shutdown); bound it with a timeout."""
        while busy := [t for t in (*self._late.values(), *self._rerouting) if not t.done()]:
            await asyncio.wait(busy)

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # The screen pop -----------------------------------------------------------------------

    async def screen_pop(self, contact_id: str, caller: str | None = None) -> dict[str, Any]:
        """The pop for ``contact_id`` now: its card (from arrival, its late lookup, or a
        lookup of ``caller`` for a contact that did not come through ``arrival``)."""
        late = self._late.get(contact_id)
        if late is not None:
            await asyncio.shield(late)
        card = self._cards.get(contact_id)
        by, value = _key(caller, {})
        if card is None and value is not None:
            card = await self.directory.lookup(by, value)
            if card is not None:
                self._remember(contact_id, card)
                self._identified(contact_id, card, by, None)
        if self._flush is not None:
            try:
                await self._flush()
            except LogUnavailable as exc:  # pop what is written rather than nothing
                log.warning("screen pop for %s shows the log as written so far: %s", contact_id, exc)
        return await load_screen_pop(self.store, contact_id, card if card and card.identified else None)

    def customer_name(self, contact_id: str) -> str | None:
        """The identified customer's name for ``contact_id`` (the wallboard's agent row):
        first name and name ("Noa Levi"); None when the contact is not identified (yet)."""
        card = self._cards.get(contact_id)
        if card is None or not card.identified or not card.name:
            return None
        first = card.first_name or ""
        return f"{first} {card.name}" if first and not card.name.startswith(first) else card.name

    def placeholder_pop(self, contact_id: str) -> dict[str, Any]:
        return build_screen_pop(unidentified_card(), contact_id=contact_id, now=self._now())

    async def _send_offer(self, agent_id: str, offer_id: str, frame: Offer) -> None:
        contact_id = frame.contact_id
        pop_task = asyncio.ensure_future(self.screen_pop(contact_id, frame.caller))
        try:  # cancelled: withdrawn before the frame went out, or the center stops
            done, _ = await asyncio.wait({pop_task}, timeout=self.config.lookup_budget_s)
            pop = _result(pop_task, contact_id) if done else None
            self._unsent.pop(offer_id, None)
            self._deliver(
                agent_id,
                msgspec.structs.replace(
                    frame, screen_pop=pop or self.placeholder_pop(contact_id), screen_pop_pending=not done
                ),
            )
            if done:
                return
            await asyncio.wait({pop_task})
            late_pop = _result(pop_task, contact_id)
            if late_pop is not None:
                self._deliver(
                    agent_id, ScreenPop(contact_id=contact_id, offer_id=offer_id, screen_pop=late_pop)
                )
        finally:
            pop_task.cancel()  # a no-op once it is done

    # Helpers ------------------------------------------------------------------------------

    async def _identify_late(
        self,
        contact_id: str,
        by: LookupBy,
        pending: asyncio.Task[CustomerCard | None],
        queued: _Queued,
        context_id: str | None,
    ) -> None:
        try:
            card = await pending
        finally:
            self._late.pop(contact_id, None)
        if card is not None:
            self._remember(contact_id, card)
            self._identified(contact_id, card, by, context_id, late=True)
        if self._submit is not None:  # its own task: the screen pop need not wait for it
            task = self._spawn(self._reroute(contact_id, card or unidentified_card(), queued, context_id))
            self._rerouting.add(task)
            task.add_done_callback(self._rerouting.discard)

    async def _reroute(
        self, contact_id: str, card: CustomerCard, queued: _Queued, context_id: str | None
    ) -> None:
        """What the timely path would have decided with ``card``, for a contact queued
        without it: the route rules' queue, then the priority rules' difference."""
        try:
            crm = contact_attributes(card, contact_id=contact_id)
            target, rule = self.config.route(crm, queued.queue)
            before = self._priority(queued.queue, {"identified": "no", **queued.attributes}, queued)
            after = self._priority(target, {**crm, **queued.attributes}, queued)  # merged as the center does
            if before is None or after is None:
                return  # a queue the ACD does not know: the contact was never queued
            # what the card tells, for the offer (what the IVR gave wins, as on arrival)
            learnt = {k: v for k, v in crm.items() if k not in queued.attributes}
            if learnt and not await self._give(
                AttributesChanged(contact_id=contact_id, attributes=learnt, by="crm")
            ):
                return
            if rule is not None:
                if not await self._give(ContactMoved(contact_id=contact_id, to_queue=target, by="crm")):
                    return
                self._routed(contact_id, queued.queue, target, rule, context_id, late=True)
            pclass = after[0] if after[0] != before[0] else None
            head = after[1] - before[1] if after[1] != before[1] else None
            if pclass is not None or head is not None:
                await self._give(
                    PriorityChanged(contact_id=contact_id, by="crm", priority_class=pclass, head_start_s=head)
                )
        except Exception:
            log.exception("applying the late CRM answer for %s failed; its routing is unchanged", contact_id)

    def _priority(
        self, queue: str, attributes: Mapping[str, str], queued: _Queued
    ) -> tuple[int, float] | None:
        cfg = self._queues.get(queue)
        if cfg is None:
            return None
        return priority_for(
            cfg, attributes, priority_class=queued.priority_class, head_start_s=queued.head_start_s
        )

    async def _give(self, event: AttributesChanged | ContactMoved | PriorityChanged) -> bool:
        """Hand ``event`` to the ACD; False when it refused (the contact is offered,
        connected or gone by now: its routing stays as it is)."""
        assert self._submit is not None
        try:
            await self._submit(event)
        except EngineError as exc:
            log.info("late CRM answer for %s changes nothing in routing: %s", event.contact_id, exc)
            return False
        return True

    def _routed(
        self,
        contact_id: str,
        from_queue: str,
        target: str,
        rule: int,
        context_id: str | None,
        *,
        late: bool = False,
    ) -> None:
        data: dict[str, Any] = {
            "from_queue": from_queue,
            "to_queue": target,
            "rule": rule,
            "when": dict(self.config.route_rules[rule].when),
        }
        if late:
            data["late"] = True
        self._record(
            InteractionEvent(
                type="contact.crm_routed",
                at=self._now(),
                contact_id=contact_id,
                queue=target,
                data=data,
                context_id=context_id,
            )
        )

    def _identified(
        self, contact_id: str, card: CustomerCard, by: LookupBy, context_id: str | None, *, late: bool = False
    ) -> None:
        if by == "customer_id":
            return  # whoever put the id on the contact (the IVR) has logged it
        data: dict[str, Any] = {"customer_id": card.customer_id, "by": by, "source": card.source}
        if late:
            data["late"] = True
        self._record(
            InteractionEvent(
                type="contact.identified",
                at=self._now(),
                contact_id=contact_id,
                data=data,
                context_id=context_id,
            )
        )

    def _remember(self, contact_id: str, card: CustomerCard) -> None:
        self._cards[contact_id] = card
        self._cards.move_to_end(contact_id)
        while len(self._cards) > MAX_CONTACTS:
            self._cards.popitem(last=False)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _key(caller: str | None, attributes: Mapping[str, str]) -> tuple[LookupBy, str | None]:
    customer_id = attributes.get("customer_id")
    if customer_id:
        return "customer_id", customer_id
    if caller and "@" in caller:  # a web chat's customer gave an e-mail address
        return "email", caller
    return "caller_number", caller or None


def _result(task: asyncio.Future[dict[str, Any]], contact_id: str) -> dict[str, Any] | None:
    if task.cancelled():
        return None
    exc = task.exception()
    if exc is not None:
        log.warning("screen pop for %s failed: %s: %s", contact_id, type(exc).__name__, exc)
        return None
    return task.result()
