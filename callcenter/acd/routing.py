"""Routing: queue placement, overflow, matching, offers and their withdrawal, contacts
leaving agents.

A contact that enters a queue looks up the best free agent for its current step
(``match_contact``); an agent who becomes free takes the oldest contact among the steps it
meets (``match_agent``, one peek per bag). Either way ``_offer`` makes the offer. While the
timers due at one instant are applied, contacts they move are not matched at once but
collected (``defer_matching``) and matched afterwards in queue order
(``match_deferred``), so that two contacts widening to the next step together keep their
order.
"""

from __future__ import annotations

from typing import Any

from msgspec.structs import replace

from callcenter.acd.agent_pool import AgentPool
from callcenter.acd.agents import Agent, State
from callcenter.acd.commands import FinishContact, OfferContact, OverflowContact, WithdrawOffer, event_data
from callcenter.acd.contacts import (
    OPENS,
    WAITING,
    Contact,
    ContactBook,
    Key,
    Offer,
    QueueState,
    fill_opening,
    move,
)
from callcenter.acd.event_chain import EventChain
from callcenter.acd.requirements import Requirements
from callcenter.acd.timer_heap import TimerHeap
from callcenter.acd.waiting_lines import WaitingLines
from callcenter.config.sections import OverflowTarget
from callcenter.core.ids import IdGenerator

MAX_OVERFLOW_HOPS = 5
_ON_CONTACT = State.ON_CONTACT
_WITHDRAWN = {"declined": "contact.offer_declined", "timed_out": "contact.offer_timed_out"}


class Router:
    def __init__(
        self,
        requirements: Requirements,
        lines: WaitingLines,
        agents: AgentPool,
        book: ContactBook,
        timers: TimerHeap,
        chain: EventChain,
        ids: IdGenerator,
        *,
        aht_weight: float,
    ) -> None:
        self.offers: dict[str, Offer] = {}
        self.deferred: list[Contact] | None = None  # contacts to match once timers settle
        self._logged_in = requirements.logged_in
        self._score = requirements.score
        self._lines = lines
        self._queues = lines.queues
        self._pool = agents
        self._agents = agents.agents
        self._free = agents.free
        self._book = book
        self._contacts = book.contacts
        self._timers = timers
        self._chain = chain
        self._emit = chain.commands.append
        self._ids = ids
        self._aht_weight = aht_weight

    # Queue placement and overflow ----------------------------------------------------------------

    def enter_queue(
        self, contact: Contact, queue: str, now: float, *, head_start: float = 0.0, restored: bool = False
    ) -> None:
        """Place a contact unless the queue sends it elsewhere (closed, full, nobody staffed).
        ``restored``: back in line after a restart (a callback then keeps its promise)."""
        qs = self._queues[queue]
        if contact.pool == "voicemail":  # a message left is kept: it never overflows
            self.place(contact, queue, now, head_start=head_start)
            return None
        ov = qs.cfg.overflow
        hours = self._lines.hours
        if qs.cfg.hours is not None and ov.on_closed and not hours.is_open(qs.cfg.hours, now):
            if contact.channel == "callback" and restored and qs.cfg.keep_callbacks_when_closed:
                # a callback accepted before a restart is a promise: it waits for the opening
                self.place(contact, queue, now, head_start=head_start)
                return None
            target = ov.on_closed
            if OPENS in target.message:
                target = replace(
                    target, message=fill_opening(target.message, hours.opening(qs.cfg.hours, now))
                )
            return self.overflow(contact, queue, "closed", target, now)
        if qs.cfg.max_size is not None and len(qs.waiting) - qs.voicemails >= qs.cfg.max_size:
            target = ov.on_full or OverflowTarget(to="disconnect", message="All our lines are busy.")
            return self.overflow(contact, queue, "full", target, now)
        if ov.on_no_agents and self._logged_in[qs.reqs[-1]] == 0:
            return self.overflow(contact, queue, "no_agents", ov.on_no_agents, now)
        self.place(contact, queue, now, head_start=head_start)
        return None

    def overflow(self, contact: Contact, queue: str, reason: str, target: OverflowTarget, now: float) -> None:
        contact.queue = queue
        data = event_data(reason=reason, to=target.to, to_queue=target.queue, message=target.message or None)
        self._chain.log_contact(contact, "contact.overflowed", now, None, data)
        self._emit(OverflowContact(contact_id=contact.contact_id, queue=queue, reason=reason, target=target))
        if target.to == "queue" and contact.hops < MAX_OVERFLOW_HOPS:
            contact.hops += 1
            self.enter_queue(contact, target.queue, now)  # type: ignore[arg-type]
        elif target.to == "callback" and contact.caller:
            if contact.channel == "voice":
                contact.channel = "callback"
                contact.attributes["callback_number"] = contact.caller
                data = {"number": contact.caller}
                self._chain.log_contact(contact, "contact.callback_requested", now, None, data)
            self.place(contact, queue, now)
        else:
            reason_out = "voicemail" if target.to == "voicemail" else "overflow_disconnect"
            self.finish(contact, reason_out, now)

    def place(
        self, contact: Contact, queue: str, now: float, *, head_start: float = 0.0, log: bool = True
    ) -> None:
        qs = self._queues[queue]
        cfg = qs.cfg
        move(contact, "queue")
        contact.queue, contact.step = queue, 0
        contact.epoch += 1
        contact.placements += 1
        contact.target_agent = None
        timers = self._timers
        if contact.pool == "voicemail" and self._lines.closed(qs, now):
            self._hold(contact, qs, now, log=log)
            return
        self.arm_step(contact, now, fresh=True)
        key = (qs.reqs[contact.step], contact.pool, cfg.strategy)
        free = self._free.best(key)
        # Offered at once (a free agent and no batch of timers being settled): the contact
        # never enters the waiting indexes, only its place in the queue is looked up.
        direct = free is not None and self.deferred is None
        rank = qs.positions.rank(contact.key) if direct else self._lines.index(contact, qs)
        if log:
            pos = rank + 1
            ewt = 0.0 if free is not None else self._lines.ewt(qs, pos)
            data: dict[str, Any] = {"channel": contact.channel, "priority_class": contact.priority_class}
            if head_start:
                data["head_start_s"] = head_start
            data["position"] = pos
            if ewt is not None:
                data["ewt_s"] = round(ewt, 1)
            if contact.attributes:
                data["attributes"] = dict(contact.attributes)
            self._chain.log_contact(contact, "contact.queued", now, None, data)
        if timers.positions_every is not None and not timers.positions_armed:
            timers.arm_positions(now)
        if contact.pool == "voicemail":
            timers.arm_hours(now)  # it waits out closing times off routing (``Timers._hours_tick``)
        elif cfg.max_wait_s is not None and cfg.overflow.on_max_wait is not None:
            timers.arm("max_wait", contact.contact_id, contact.queued_at + cfg.max_wait_s, contact.placements)
        if direct and free is not None:
            agent = self._agents[free[-1]]
            why = self._why(qs, contact.step, agent, len(self._free.bag(key)), now)
            self._offer(contact, agent, now, why, indexed=False)
        else:
            self.match_contact(contact, now)

    def place_targeted(self, contact: Contact, agent_id: str, now: float) -> None:
        move(contact, "target")
        self._lines.target(contact, agent_id)
        self.match_agent(self._agents[agent_id], now)

    def arm_step(self, contact: Contact, now: float, *, fresh: bool) -> None:
        """Set the contact's step deadline (``fresh``: it starts its step now) or, coming back
        from an offer, catch up on steps whose time ran out while it rang; then arm it."""
        steps = self._queues[contact.queue].cfg.steps
        last = len(steps) - 1
        if fresh:
            timeout = steps[contact.step].timeout
            contact.step_deadline = now + timeout if timeout is not None and contact.step < last else None
        while contact.step_deadline is not None and contact.step_deadline <= now:
            contact.step += 1
            timeout = steps[contact.step].timeout
            contact.step_deadline = (
                contact.step_deadline + timeout if timeout is not None and contact.step < last else None
            )
        if contact.step_deadline is not None:
            self._timers.arm("step", contact.contact_id, contact.step_deadline, contact.epoch)

    def _hold(self, contact: Contact, qs: QueueState, now: float, *, log: bool) -> None:
        """A voicemail in a closed queue: it waits but is offered to nobody until the queue
        opens (``Timers._hours_tick`` lets it in)."""
        pos = self._lines.hold(contact, qs)
        if log:
            data: dict[str, Any] = {"channel": contact.channel, "priority_class": contact.priority_class}
            data["position"] = pos
            data["held"] = "closed"
            if contact.attributes:
                data["attributes"] = dict(contact.attributes)
            self._chain.log_contact(contact, "contact.queued", now, None, data)
        self._timers.arm_hours(now)

    # Matching ------------------------------------------------------------------------------------

    def defer_matching(self) -> None:
        """From now on collect the contacts to match instead of matching them."""
        self.deferred = []

    def match_deferred(self, now: float) -> None:
        """Match the contacts collected since ``defer_matching``, in queue order."""
        moved, self.deferred = self.deferred or [], None
        for contact in sorted(moved, key=lambda c: c.key):
            self.match_contact(contact, now)

    def match_contact(self, contact: Contact, now: float) -> None:
        if self.deferred is not None:
            self.deferred.append(contact)
            return
        if contact.state != WAITING or contact.target_agent is not None or contact.held:
            return
        qs = self._queues[contact.queue]
        key = (qs.reqs[contact.step], contact.pool, qs.cfg.strategy)
        best = self._free.best(key)
        if best is None:
            return
        agent = self._agents[best[-1]]
        free = len(self._free.bag(key))
        self._offer(contact, agent, now, self._why(qs, contact.step, agent, free, now))

    def match_agent(self, agent: Agent, now: float) -> bool:
        """Offer the agent the oldest contact it can take now, if any (True if it did)."""
        pools = agent.free_pools()
        if not pools:
            return False
        best: Key | None = None
        targeted = self._lines.targeted.get(agent.agent_id)
        if targeted:
            for key in targeted.items:
                if self._contacts[key[3]].pool in pools:
                    best = key
                    break
        if best is None:
            for bag in agent.wait_bags[pools]:
                items = bag.items
                if items and (best is None or items[0] < best):
                    best = items[0]
            if best is None:
                return False
            contact = self._contacts[best[3]]
            qs = self._queues[contact.queue]
            why = f"{qs.step_texts[contact.step]}; {agent.agent_id} became free, oldest waiting contact"
        else:
            contact = self._contacts[best[3]]
            why = "transferred to this agent"
        self._offer(contact, agent, now, why)
        return True

    def free_agent(self, agent: Agent, now: float) -> None:
        """After a state change made with ``refresh=False``: offer the agent a contact, or
        else index it as free (an agent who takes a contact at once never enters the pools)."""
        if not self.match_agent(agent, now):
            self._pool.refresh(agent)

    def _offer(self, contact: Contact, agent: Agent, now: float, trace: str, *, indexed: bool = True) -> None:
        if indexed:
            self._lines.leave(contact)
        else:  # placed and offered in one go (``place``): only its step timer to make stale
            contact.epoch += 1
        qs = self._queues[contact.queue]
        offer_id = self._ids.new("offer")
        deadline = now + qs.cfg.ring_time_s
        self.offers[offer_id] = Offer(
            offer_id=offer_id,
            contact_id=contact.contact_id,
            agent_id=agent.agent_id,
            deadline=deadline,
            step=contact.step,
        )
        move(contact, "offer")
        contact.offer_id = offer_id
        agent.offer_id = offer_id
        self._pool.offered(agent)
        self._pool.set_state(agent, "offer", now, reason=None)
        self._timers.arm("ring", offer_id, deadline, 0)
        data = {
            "offer_id": offer_id,
            "step": contact.step,
            "strategy": qs.cfg.strategy,
            "trace": trace,
            "ring_deadline": deadline,
        }
        self._chain.log_contact(contact, "contact.offered", now, agent.agent_id, data)
        self._emit(
            OfferContact(
                offer_id=offer_id,
                contact_id=contact.contact_id,
                agent_id=agent.agent_id,
                queue=contact.queue,
                channel=contact.channel,
                ring_deadline=deadline,
                trace=trace,
                caller=contact.caller,
                attributes=dict(contact.attributes),
            )
        )

    def _why(self, qs: QueueState, step: int, agent: Agent, free: int, now: float) -> str:
        strategy = qs.cfg.strategy
        if strategy == "longest-idle":
            detail = f"idle {now - agent.idle_since:.0f} s, the longest"
        elif strategy == "least-occupied":
            detail = f"{agent.handle_time:.0f} s handled so far, the least"
        elif strategy == "round-robin":
            detail = "next in turn"
        elif strategy == "best-skill-match":
            detail = f"skill score {self._score(agent, qs.reqs[step])}, the best"
        else:
            detail = "drawn at random"
        return f"{qs.step_texts[step]}; {strategy}: {agent.agent_id} {detail} of {free} free"

    # Offers coming back ----------------------------------------------------------------------------

    def take_back(self, offer: Offer, reason: str, now: float) -> None:
        """An offer that did not work: the contact keeps its place and looks again."""
        self.withdraw(offer, reason, now, requeue=True)

    def withdraw(self, offer: Offer, reason: str, now: float, *, requeue: bool) -> None:
        del self.offers[offer.offer_id]
        agent, contact = self._agents[offer.agent_id], self._contacts[offer.contact_id]
        agent.offer_id = None
        contact.offer_id = None
        kind = _WITHDRAWN.get(reason, "contact.offer_withdrawn")
        data = {"offer_id": offer.offer_id, "reason": reason}
        self._chain.log_contact(contact, kind, now, agent.agent_id, data)
        self._emit(
            WithdrawOffer(
                offer_id=offer.offer_id, contact_id=contact.contact_id, agent_id=agent.agent_id, reason=reason
            )
        )
        if requeue:
            move(contact, "take_back")
            contact.epoch += 1
            qs = self._queues[contact.queue]
            if contact.pool == "voicemail" and self._lines.closed(qs, now):
                self._hold(contact, qs, now, log=False)
                return
            self.arm_step(contact, now, fresh=False)
            self._lines.index(contact, qs)
            self.match_contact(contact, now)

    def withdraw_agent_offer(self, agent: Agent, reason: str, now: float) -> None:
        if agent.offer_id is not None:
            self.take_back(self.offers[agent.offer_id], reason, now)

    # Contacts leaving agents -----------------------------------------------------------------------

    def release(self, agent: Agent, contact: Contact, now: float) -> None:
        del agent.contacts[contact.contact_id]
        talk = now - contact.connected_at
        agent.handled += 1
        agent.handle_time += talk
        qs = self._queues[contact.queue]
        qs.aht += self._aht_weight * (talk + qs.cfg.wrap_up_s - qs.aht)
        self._chain.log_contact(contact, "contact.wrap_up", now, agent.agent_id, {"talk_s": round(talk, 3)})

    def after_contact(self, agent: Agent, contact: Contact, now: float) -> None:
        wrap = self._queues[contact.queue].cfg.wrap_up_s
        if agent.state is _ON_CONTACT and not agent.contacts and wrap > 0 and agent.pending_not_ready is None:
            agent.wrap_up_until = now + wrap
            agent.wrap_up_contact = contact.contact_id
            self._pool.set_state(agent, "contact_end", now, reason=None, wrap=True)
            self._timers.arm("wrap", agent.agent_id, agent.wrap_up_until, 0)
            return
        if not agent.contacts:
            agent.idle_since = now
        self._pool.set_state(agent, "contact_end", now, reason=agent.pending_not_ready, refresh=False)
        self.free_agent(agent, now)

    def finish(self, contact: Contact, reason: str, now: float, by: str | None = None) -> None:
        move(contact, "end")
        data = {"reason": reason} if by is None else {"reason": reason, "by": by}
        self._chain.log_contact(contact, "contact.ended", now, None, data)
        self._emit(FinishContact(contact_id=contact.contact_id, reason=reason))
        self._book.forget(contact)
