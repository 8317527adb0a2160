"""The ACD engine's timers: one heap of deadlines by kind, and what each kind does when due.

``TimerHeap`` holds ``(when, sequence, kind, id, token)`` entries; every part that sets a
deadline arms one there. A timer made stale by what happened since (the offer was answered,
the contact moved on) is skipped, never cancelled: ``token`` says which placement or epoch
of its contact it was armed for.

``Timers`` fires what is due. ``KINDS`` is its table: per kind, what it does when due and
when it is still live:

| kind | armed for | when due |
|---|---|---|
| ``ring`` | an offer, at its ring deadline | take the offer back; the agent goes NOT_READY ``missed`` |
| ``step`` | a waiting contact, when its routing step runs out | widen it to the next step |
| ``max_wait`` | a placed contact, at its queue's ``max_wait_s`` | overflow it (once it stops ringing) |
| ``wrap`` | an agent in wrap-up, at its end | end the wrap-up; the agent is free |
| ``positions`` | every ``position_updates_s`` while anyone waits | announce changed positions |
| ``hours`` | each whole minute while voicemails wait | hold or let in voicemails by opening hours |
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import ClassVar, NamedTuple

from callcenter.acd.agent_pool import AgentPool
from callcenter.acd.agents import State
from callcenter.acd.commands import PositionUpdated
from callcenter.acd.contacts import OFFERED, WAITING, ContactBook
from callcenter.acd.event_chain import EventChain
from callcenter.acd.routing import Router
from callcenter.acd.timer_heap import TimerHeap
from callcenter.acd.waiting_lines import WaitingLines

_WRAP_UP = State.WRAP_UP


class TimerKind(NamedTuple):
    fire: Callable[[Timers, str, int, float], None]  # (timers, id, token, now)
    live: Callable[[Timers, float, str, int], bool]  # (timers, when, id, token): not stale?


class Timers:
    def __init__(
        self,
        heap: TimerHeap,
        router: Router,
        lines: WaitingLines,
        agents: AgentPool,
        book: ContactBook,
        chain: EventChain,
    ) -> None:
        self._heap = heap
        self._router = router
        self._lines = lines
        self._pool = agents
        self._agents = agents.agents
        self._contacts = book.contacts
        self._chain = chain

    # Public methods for the driver ------------------------------------------------------------

    def handle_timer(self, now: float) -> None:
        """Fire every timer due at ``now``.

        Timers due at the same instant are all applied before any contact they moved is
        matched, and those contacts are then matched in queue order, so that two contacts
        widening to the next step at once keep their order."""
        heap, kinds, router = self._heap.heap, self.KINDS, self._router
        while heap and heap[0][0] <= now:
            instant = heap[0][0]
            router.defer_matching()
            while heap and heap[0][0] == instant:
                _, _, kind, ident, token = heapq.heappop(heap)
                kinds[kind].fire(self, ident, token, now)
            router.match_deferred(now)

    def next_deadline(self) -> float | None:
        """When ``handle_timer`` is next due (None: nothing is pending)."""
        heap, kinds = self._heap.heap, self.KINDS
        while heap:
            when, _, kind, ident, token = heap[0]
            if kinds[kind].live(self, when, ident, token):
                return when
            heapq.heappop(heap)
        return None

    # What each kind does ---------------------------------------------------------------------------

    def _ring_timeout(self, offer_id: str, _token: int, now: float) -> None:
        offer = self._router.offers.get(offer_id)
        if offer is None:
            return
        agent = self._agents[offer.agent_id]
        self._router.take_back(offer, "timed_out", now)
        agent.pending_not_ready = "missed"
        self._pool.set_state(agent, "ring_timeout", now, reason="missed")

    def _step_timeout(self, contact_id: str, token: int, now: float) -> None:
        contact = self._contacts.get(contact_id)
        if contact is None or contact.epoch != token or contact.state != WAITING:
            return
        lines = self._lines
        lines.bag(contact.queue, contact.step, contact.pool).remove(contact.key)
        contact.step += 1
        contact.epoch += 1
        contact.step_deadline = None
        self._router.arm_step(contact, now, fresh=True)
        lines.bag(contact.queue, contact.step, contact.pool).add(contact.key)
        self._router.match_contact(contact, now)

    def _max_wait(self, contact_id: str, token: int, now: float) -> None:
        contact = self._contacts.get(contact_id)
        if contact is None or contact.placements != token or contact.state not in (WAITING, OFFERED):
            return
        if contact.state == OFFERED:  # decide when the ringing is over
            offer = self._router.offers[contact.offer_id]  # type: ignore[index]
            self._heap.arm("max_wait", contact_id, offer.deadline + 0.001, token)
            return
        target = self._lines.queues[contact.queue].cfg.overflow.on_max_wait
        if target is None or contact.pool == "voicemail":
            return  # a voicemail waits as long as it takes
        if target.to == "callback" and contact.channel != "voice":
            return  # only a call becomes a callback: a chat or a callback keeps waiting
        queue = contact.queue
        self._lines.leave(contact)
        contact.queued_at = now if target.to == "queue" else contact.queued_at
        self._router.overflow(contact, queue, "max_wait", target, now)

    def _wrap_end(self, agent_id: str, _token: int, now: float) -> None:
        agent = self._agents.get(agent_id)
        if agent is None or agent.state is not _WRAP_UP or agent.wrap_up_until is None:
            return
        if agent.wrap_up_until > now:
            return
        agent.wrap_up_until = None
        agent.idle_since = now
        self._pool.set_state(agent, "wrap_up_end", now, reason=None, refresh=False)
        self._router.free_agent(agent, now)

    def _tell_positions(self, _ident: str, _token: int, now: float) -> None:
        """The bounded-rate position announcements (see ``position_updates_s``): for the
        contacts whose position or estimate (to 10 s) changed since they were last told."""
        lines = self._lines
        self._heap.positions_armed = False
        told, lines.told = lines.told, {}
        for name, qs in lines.queues.items():
            for pos, c, ewt in lines.ranked(qs):
                shown = (pos, None if ewt is None else round(ewt / 10) * 10.0)
                lines.told[c.contact_id] = shown
                if told.get(c.contact_id) != shown:
                    self._chain.commands.append(
                        PositionUpdated(
                            contact_id=c.contact_id,
                            queue=name,
                            channel=c.channel,
                            position=pos,
                            ewt_s=shown[1],
                        )
                    )
        if lines.told:
            self._heap.arm_positions(now)

    def _hours_tick(self, _ident: str, _token: int, now: float) -> None:
        """Voicemails follow their queue's hours: held while it is closed, let into routing
        (from the first step, matched in queue order with the other timers' contacts) when
        it opens. Runs each whole minute while any voicemail waits."""
        lines, router = self._lines, self._router
        self._heap.hours_armed = False
        waiting = False
        for qs in lines.queues.values():
            voicemails = [c for c in qs.waiting.values() if c.pool == "voicemail" and c.target_agent is None]
            if not voicemails:
                continue
            waiting = True
            closed = lines.closed(qs, now)
            for c in voicemails:
                if closed and not c.held:
                    lines.bag(c.queue, c.step, c.pool).remove(c.key)
                    c.held = True
                    c.epoch += 1
                    c.step, c.step_deadline = 0, None
                elif not closed and c.held:
                    c.held = False
                    c.epoch += 1
                    router.arm_step(c, now, fresh=True)
                    lines.bag(c.queue, c.step, c.pool).add(c.key)
                    router.match_contact(c, now)  # deferred: matched after this instant's timers
        if waiting:
            self._heap.arm_hours(now)

    # When each kind is still live ------------------------------------------------------------------

    def _offer_live(self, _when: float, offer_id: str, _token: int) -> bool:
        return offer_id in self._router.offers

    def _step_live(self, _when: float, contact_id: str, token: int) -> bool:
        c = self._contacts.get(contact_id)
        return c is not None and c.epoch == token and c.state == WAITING

    def _placement_live(self, _when: float, contact_id: str, token: int) -> bool:
        c = self._contacts.get(contact_id)
        return c is not None and c.placements == token and c.state in (WAITING, OFFERED)

    def _wrap_live(self, when: float, agent_id: str, _token: int) -> bool:
        a = self._agents.get(agent_id)
        return a is not None and a.state is _WRAP_UP and a.wrap_up_until == when

    def _always(self, _when: float, _ident: str, _token: int) -> bool:
        return True

    KINDS: ClassVar[dict[str, TimerKind]] = {
        "ring": TimerKind(_ring_timeout, _offer_live),
        "step": TimerKind(_step_timeout, _step_live),
        "max_wait": TimerKind(_max_wait, _placement_live),
        "wrap": TimerKind(_wrap_end, _wrap_live),
        "positions": TimerKind(_tell_positions, _always),
        "hours": TimerKind(_hours_tick, _always),
    }
