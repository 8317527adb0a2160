"""The ACD engine's timers: ring timeouts, routing-step changes, max waits, wrap-up ends,
the bounded-rate position announcements and, while voicemails wait, a minute tick that
keeps them out of routing while their queue is closed and lets them in when it opens.

One heap of ``(when, sequence, kind, id, token)``; a timer made stale by what happened
since (the offer was answered, the contact moved on) is skipped, never cancelled.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

from callcenter.acd.agents import State
from callcenter.acd.commands import PositionUpdated
from callcenter.acd.contacts import Contact, QueueState
from callcenter.acd.matching import Matching


class Timers(Matching):
    # Public methods for the driver ------------------------------------------------------------

    def handle_timer(self, now: float) -> None:
        """Fire every timer due at ``now``: ring timeouts, step changes, max waits, wrap-ups.

        Timers due at the same instant are all applied before any contact they moved is
        matched, and those contacts are then matched in queue order, so that two contacts
        widening to the next step at once keep their order."""
        while self._timers and self._timers[0][0] <= now:
            instant = self._timers[0][0]
            self._deferred = []
            while self._timers and self._timers[0][0] == instant:
                _, _, kind, ident, token = heapq.heappop(self._timers)
                if kind == "ring":
                    self._ring_timeout(ident, token, now)
                elif kind == "step":
                    self._step_timeout(ident, token, now)
                elif kind == "max_wait":
                    self._max_wait(ident, token, now)
                elif kind == "wrap":
                    self._wrap_end(ident, token, now)
                elif kind == "positions":
                    self._tell_positions(now)
                elif kind == "hours":
                    self._hours_tick(now)
            moved, self._deferred = self._deferred, None
            for contact in sorted(moved, key=lambda c: c.key):
                self._match_contact(contact, now)

    def next_deadline(self) -> float | None:
        """When ``handle_timer`` is next due (None: nothing is pending)."""
        while self._timers and not self._timer_live(self._timers[0]):
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    # Timers ---------------------------------------------------------------------------------------------

    def _timer_live(self, timer: tuple[float, int, str, str, int]) -> bool:
        when, _, kind, ident, token = timer
        if kind == "ring":
            return ident in self.offers
        if kind in ("positions", "hours"):
            return True
        if kind == "wrap":
            a = self.agents.get(ident)
            return a is not None and a.state is State.WRAP_UP and a.wrap_up_until == when
        c = self.contacts.get(ident)
        if c is None:
            return False
        if kind == "max_wait":
            return c.placements == token and c.state in ("waiting", "offered")
        return c.epoch == token and c.state == "waiting"

    def _ring_timeout(self, offer_id: str, _token: int, now: float) -> None:
        offer = self.offers.get(offer_id)
        if offer is None:
            return
        agent = self.agents[offer.agent_id]
        self._take_back(offer, "timed_out", now)
        agent.pending_not_ready = "missed"
        self._set_state(agent, "ring_timeout", now, reason="missed")

    def _step_timeout(self, contact_id: str, token: int, now: float) -> None:
        contact = self.contacts.get(contact_id)
        if contact is None or contact.epoch != token or contact.state != "waiting":
            return
        self._bag(contact.queue, contact.step, contact.pool).remove(contact.key)
        contact.step += 1
        contact.epoch += 1
        contact.step_deadline = None
        self._arm_step(contact, now, fresh=True)
        self._bag(contact.queue, contact.step, contact.pool).add(contact.key)
        self._match_contact(contact, now)

    def _max_wait(self, contact_id: str, token: int, now: float) -> None:
        contact = self.contacts.get(contact_id)
        if contact is None or contact.placements != token or contact.state not in ("waiting", "offered"):
            return
        if contact.state == "offered":  # decide when the ringing is over
            offer = self.offers[contact.offer_id]  # type: ignore[index]
            self._arm("max_wait", contact_id, offer.deadline + 0.001, token)
            return
        target = self.queues[contact.queue].cfg.overflow.on_max_wait
        if target is None or contact.pool == "voicemail":
            return  # a voicemail waits as long as it takes
        if target.to == "callback" and contact.channel != "voice":
            return  # only a call becomes a callback: a chat or a callback keeps waiting
        queue = contact.queue
        self._leave_queue(contact)
        contact.queued_at = now if target.to == "queue" else contact.queued_at
        self._overflow(contact, queue, "max_wait", target, now)

    def _wrap_end(self, agent_id: str, _token: int, now: float) -> None:
        agent = self.agents.get(agent_id)
        if agent is None or agent.state is not State.WRAP_UP or agent.wrap_up_until is None:
            return
        if agent.wrap_up_until > now:
            return
        agent.wrap_up_until = None
        agent.idle_since = now
        self._set_state(agent, "wrap_up_end", now, reason=None, refresh=False)
        self._free_agent(agent, now)

    def _hours_tick(self, now: float) -> None:
        """Voicemails follow their queue's hours: held while it is closed, let into routing
        (from the first step, matched in queue order with the other timers' contacts) when
        it opens. Runs each whole minute while any voicemail waits."""
        self._hours_armed = False
        waiting = False
        for qs in self.queues.values():
            voicemails = [c for c in qs.waiting.values() if c.pool == "voicemail" and c.target_agent is None]
            if not voicemails:
                continue
            waiting = True
            closed = self._closed(qs, now)
            for c in voicemails:
                if closed and not c.held:
                    self._bag(c.queue, c.step, c.pool).remove(c.key)
                    c.held = True
                    c.epoch += 1
                    c.step, c.step_deadline = 0, None
                elif not closed and c.held:
                    c.held = False
                    c.epoch += 1
                    self._arm_step(c, now, fresh=True)
                    self._bag(c.queue, c.step, c.pool).add(c.key)
                    self._match_contact(c, now)  # deferred: matched after this instant's timers
        if waiting:
            self._arm_hours(now)

    # Positions ------------------------------------------------------------------------------------------

    def _ranked(self, qs: QueueState) -> Iterator[tuple[int, Contact, float | None]]:
        """(position, contact, estimated wait) of each waiting contact, in queue order."""
        contacts = self.contacts
        for i, key in enumerate(qs.positions.items):
            yield i + 1, contacts[key[3]], self._ewt(qs, i + 1)

    def _tell_positions(self, now: float) -> None:
        """The bounded-rate position announcements (see ``position_updates_s``)."""
        self._pos_armed = False
        told, self._pos_told = self._pos_told, {}
        for name, qs in self.queues.items():
            for pos, c, ewt in self._ranked(qs):
                shown = (pos, None if ewt is None else round(ewt / 10) * 10.0)  # to 10 s
                self._pos_told[c.contact_id] = shown
                if told.get(c.contact_id) != shown:
                    self._commands.append(
                        PositionUpdated(
                            contact_id=c.contact_id,
                            queue=name,
                            channel=c.channel,
                            position=pos,
                            ewt_s=shown[1],
                        )
                    )
        if self._pos_told:
            self._arm_positions(now)
