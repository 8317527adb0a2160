"""Queue placement, overflow, matching and offers: the routing half of the ACD engine.

A contact that enters a queue looks up the best free agent for its current step
(``_match_contact``); an agent who becomes free takes the oldest contact among the steps it
meets (``_match_agent``, one peek per bag). Either way ``_offer`` makes the offer.
"""

from __future__ import annotations

from typing import Any

from msgspec.structs import replace

from callcenter.acd.agents import Agent, State
from callcenter.acd.commands import FinishContact, OfferContact, OverflowContact, WithdrawOffer, event_data
from callcenter.acd.contacts import OPENS, Contact, Key, Offer, QueueState, fill_opening
from callcenter.acd.index import SortedBag
from callcenter.acd.state import EngineState
from callcenter.config.sections import OverflowTarget

MAX_OVERFLOW_HOPS = 5
_ON_CONTACT = State.ON_CONTACT
_WITHDRAWN = {"declined": "contact.offer_declined", "timed_out": "contact.offer_timed_out"}


class Matching(EngineState):
    # Queue placement and overflow ----------------------------------------------------------------

    def _enter_queue(
        self, contact: Contact, queue: str, now: float, *, head_start: float = 0.0, restored: bool = False
    ) -> None:
        """Place a contact unless the queue sends it elsewhere (closed, full, nobody staffed).
        ``restored``: back in line after a restart (a callback then keeps its promise)."""
        qs = self.queues[queue]
        if contact.pool == "voicemail":  # a message left is kept: it never overflows
            self._place(contact, queue, now, head_start=head_start)
            return None
        ov = qs.cfg.overflow
        if qs.cfg.hours is not None and ov.on_closed and not self._hours.is_open(qs.cfg.hours, now):
            if contact.channel == "callback" and restored and qs.cfg.keep_callbacks_when_closed:
                # a callback accepted before a restart is a promise: it waits for the opening
                self._place(contact, queue, now, head_start=head_start)
                return None
            target = ov.on_closed
            if OPENS in target.message:
                target = replace(
                    target, message=fill_opening(target.message, self._hours.opening(qs.cfg.hours, now))
                )
            return self._overflow(contact, queue, "closed", target, now)
        if qs.cfg.max_size is not None and len(qs.waiting) - qs.voicemails >= qs.cfg.max_size:
            target = ov.on_full or OverflowTarget(to="disconnect", message="All our lines are busy.")
            return self._overflow(contact, queue, "full", target, now)
        if ov.on_no_agents and self._logged_in[qs.reqs[-1]] == 0:
            return self._overflow(contact, queue, "no_agents", ov.on_no_agents, now)
        self._place(contact, queue, now, head_start=head_start)
        return None

    def _overflow(
        self, contact: Contact, queue: str, reason: str, target: OverflowTarget, now: float
    ) -> None:
        contact.queue = queue
        data = event_data(reason=reason, to=target.to, to_queue=target.queue, message=target.message or None)
        self._log_contact(contact, "contact.overflowed", now, None, data)
        self._commands.append(
            OverflowContact(contact_id=contact.contact_id, queue=queue, reason=reason, target=target)
        )
        if target.to == "queue" and contact.hops < MAX_OVERFLOW_HOPS:
            contact.hops += 1
            self._enter_queue(contact, target.queue, now)  # type: ignore[arg-type]
        elif target.to == "callback" and contact.caller:
            if contact.channel == "voice":
                contact.channel = "callback"
                contact.attributes["callback_number"] = contact.caller
                data = {"number": contact.caller}
                self._log_contact(contact, "contact.callback_requested", now, None, data)
            self._place(contact, queue, now)
        else:
            reason_out = "voicemail" if target.to == "voicemail" else "overflow_disconnect"
            self._finish(contact, reason_out, now)

    def _place(
        self, contact: Contact, queue: str, now: float, *, head_start: float = 0.0, log: bool = True
    ) -> None:
        qs = self.queues[queue]
        cfg = qs.cfg
        contact.queue, contact.state, contact.step = queue, "waiting", 0
        contact.epoch += 1
        contact.placements += 1
        contact.target_agent = None
        if contact.pool == "voicemail" and self._closed(qs, now):
            self._hold(contact, qs, now, log=log)
            return
        self._arm_step(contact, now, fresh=True)
        key = (qs.reqs[contact.step], contact.pool, cfg.strategy)
        free = self._pools.best(key)
        # Offered at once (a free agent and no batch of timers being settled): the contact
        # never enters the waiting indexes, only its place in the queue is looked up.
        direct = free is not None and self._deferred is None
        rank = qs.positions.rank(contact.key) if direct else self._index_waiting(contact, qs)
        if log:
            pos = rank + 1
            ewt = 0.0 if free is not None else self._ewt(qs, pos)
            data: dict[str, Any] = {"channel": contact.channel, "priority_class": contact.priority_class}
            if head_start:
                data["head_start_s"] = head_start
            data["position"] = pos
            if ewt is not None:
                data["ewt_s"] = round(ewt, 1)
            if contact.attributes:
                data["attributes"] = dict(contact.attributes)
            self._log_contact(contact, "contact.queued", now, None, data)
        if self._pos_every is not None and not self._pos_armed:
            self._arm_positions(now)
        if contact.pool == "voicemail":
            self._arm_hours(now)  # it waits out closing times off routing (``_hours_tick``)
        elif cfg.max_wait_s is not None and cfg.overflow.on_max_wait is not None:
            self._arm("max_wait", contact.contact_id, contact.queued_at + cfg.max_wait_s, contact.placements)
        if direct and free is not None:
            agent = self.agents[free[-1]]
            why = self._why(qs, contact.step, agent, len(self._pools.bag(key)), now)
            self._offer(contact, agent, now, why, indexed=False)
        else:
            self._match_contact(contact, now)

    def _place_targeted(self, contact: Contact, agent_id: str, now: float) -> None:
        contact.state, contact.target_agent = "waiting", agent_id
        contact.epoch += 1
        self._targeted.setdefault(agent_id, SortedBag()).add(contact.key)
        self._match_agent(self.agents[agent_id], now)

    def _index_waiting(self, contact: Contact, qs: QueueState) -> int:
        """Index a waiting contact; returns its 0-based position in its queue."""
        qs.waiting[contact.contact_id] = contact
        qs.voicemails += contact.pool == "voicemail"
        self._bag(contact.queue, contact.step, contact.pool).add(contact.key)
        return qs.positions.add(contact.key)

    def _leave_queue(self, contact: Contact) -> None:
        """Take a waiting contact out of every waiting index."""
        if contact.target_agent is not None:
            self._targeted[contact.target_agent].remove(contact.key)
            contact.target_agent = None
        elif contact.state == "waiting":
            qs = self.queues[contact.queue]
            qs.positions.remove(contact.key)
            del qs.waiting[contact.contact_id]
            qs.voicemails -= contact.pool == "voicemail"
            if contact.held:
                contact.held = False
            else:
                self._waiting_bags[(contact.queue, contact.step, contact.pool)].remove(contact.key)
        contact.epoch += 1

    def _arm_step(self, contact: Contact, now: float, *, fresh: bool) -> None:
        """Set the contact's step deadline (``fresh``: it starts its step now) or, coming back
        from an offer, catch up on steps whose time ran out while it rang; then arm it."""
        steps = self.queues[contact.queue].cfg.steps
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
            self._arm("step", contact.contact_id, contact.step_deadline, contact.epoch)

    # Matching ------------------------------------------------------------------------------------

    def _match_contact(self, contact: Contact, now: float) -> None:
        if self._deferred is not None:
            self._deferred.append(contact)
            return
        if contact.state != "waiting" or contact.target_agent is not None or contact.held:
            return
        qs = self.queues[contact.queue]
        key = (qs.reqs[contact.step], contact.pool, qs.cfg.strategy)
        best = self._pools.best(key)
        if best is None:
            return
        agent = self.agents[best[-1]]
        free = len(self._pools.bag(key))
        self._offer(contact, agent, now, self._why(qs, contact.step, agent, free, now))

    def _match_agent(self, agent: Agent, now: float) -> bool:
        """Offer the agent the oldest contact it can take now, if any (True if it did)."""
        pools = agent.free_pools()
        if not pools:
            return False
        best: Key | None = None
        targeted = self._targeted.get(agent.agent_id)
        if targeted:
            for key in targeted.items:
                if self.contacts[key[3]].pool in pools:
                    best = key
                    break
        if best is None:
            for bag in agent.wait_bags[pools]:
                items = bag.items
                if items and (best is None or items[0] < best):
                    best = items[0]
            if best is None:
                return False
            contact = self.contacts[best[3]]
            qs = self.queues[contact.queue]
            why = f"{qs.step_texts[contact.step]}; {agent.agent_id} became free, oldest waiting contact"
        else:
            contact = self.contacts[best[3]]
            why = "transferred to this agent"
        self._offer(contact, agent, now, why)
        return True

    def _free_agent(self, agent: Agent, now: float) -> None:
        """After a state change made with ``refresh=False``: offer the agent a contact, or
        else index it as free (an agent who takes a contact at once never enters the pools)."""
        if not self._match_agent(agent, now):
            self._refresh(agent)

    def _offer(self, contact: Contact, agent: Agent, now: float, trace: str, *, indexed: bool = True) -> None:
        if indexed:
            self._leave_queue(contact)
        else:  # placed and offered in one go (``_place``): only its step timer to make stale
            contact.epoch += 1
        qs = self.queues[contact.queue]
        offer_id = self._ids.new("offer")
        deadline = now + qs.cfg.ring_time_s
        self.offers[offer_id] = Offer(
            offer_id=offer_id,
            contact_id=contact.contact_id,
            agent_id=agent.agent_id,
            deadline=deadline,
            step=contact.step,
        )
        contact.state, contact.offer_id = "offered", offer_id
        agent.offer_id = offer_id
        self._offer_seq += 1
        self._last_offered[agent.agent_id] = self._offer_seq
        self._set_state(agent, "offer", now, reason=None)
        self._arm("ring", offer_id, deadline, 0)
        data = {
            "offer_id": offer_id,
            "step": contact.step,
            "strategy": qs.cfg.strategy,
            "trace": trace,
            "ring_deadline": deadline,
        }
        self._log_contact(contact, "contact.offered", now, agent.agent_id, data)
        self._commands.append(
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

    def _take_back(self, offer: Offer, reason: str, now: float) -> None:
        """An offer that did not work: the contact keeps its place and looks again."""
        self._withdraw(offer, reason, now, requeue=True)

    def _withdraw(self, offer: Offer, reason: str, now: float, *, requeue: bool) -> None:
        del self.offers[offer.offer_id]
        agent, contact = self.agents[offer.agent_id], self.contacts[offer.contact_id]
        agent.offer_id = None
        contact.offer_id = None
        kind = _WITHDRAWN.get(reason, "contact.offer_withdrawn")
        data = {"offer_id": offer.offer_id, "reason": reason}
        self._log_contact(contact, kind, now, agent.agent_id, data)
        self._commands.append(
            WithdrawOffer(
                offer_id=offer.offer_id, contact_id=contact.contact_id, agent_id=agent.agent_id, reason=reason
            )
        )
        if requeue:
            contact.state = "waiting"
            contact.epoch += 1
            qs = self.queues[contact.queue]
            if contact.pool == "voicemail" and self._closed(qs, now):
                self._hold(contact, qs, now, log=False)
                return
            self._arm_step(contact, now, fresh=False)
            self._index_waiting(contact, qs)
            self._match_contact(contact, now)

    def _withdraw_agent_offer(self, agent: Agent, reason: str, now: float) -> None:
        if agent.offer_id is not None:
            self._take_back(self.offers[agent.offer_id], reason, now)

    # Contacts leaving agents -----------------------------------------------------------------------

    def _release(self, agent: Agent, contact: Contact, now: float) -> None:
        del agent.contacts[contact.contact_id]
        talk = now - contact.connected_at
        agent.handled += 1
        agent.handle_time += talk
        qs = self.queues[contact.queue]
        qs.aht += self._aht_weight * (talk + qs.cfg.wrap_up_s - qs.aht)
        self._log_contact(contact, "contact.wrap_up", now, agent.agent_id, {"talk_s": round(talk, 3)})

    def _after_contact(self, agent: Agent, contact: Contact, now: float) -> None:
        wrap = self.queues[contact.queue].cfg.wrap_up_s
        if agent.state is _ON_CONTACT and not agent.contacts and wrap > 0 and agent.pending_not_ready is None:
            agent.wrap_up_until = now + wrap
            agent.wrap_up_contact = contact.contact_id
            self._set_state(agent, "contact_end", now, reason=None, wrap=True)
            self._arm("wrap", agent.agent_id, agent.wrap_up_until, 0)
            return
        if not agent.contacts:
            agent.idle_since = now
        self._set_state(agent, "contact_end", now, reason=agent.pending_not_ready, refresh=False)
        self._free_agent(agent, now)

    def _finish(self, contact: Contact, reason: str, now: float, by: str | None = None) -> None:
        contact.state = "ended"
        data = {"reason": reason} if by is None else {"reason": reason, "by": by}
        self._log_contact(contact, "contact.ended", now, None, data)
        self._commands.append(FinishContact(contact_id=contact.contact_id, reason=reason))
        del self.contacts[contact.contact_id]
        self._ended_ids.add(contact.contact_id)
        self._ended_order.append(contact.contact_id)
        if len(self._ended_order) > 200_000:  # remember recent ones to name late events
            for old in self._ended_order[:100_000]:
                self._ended_ids.discard(old)
            del self._ended_order[:100_000]

    # Voicemails and opening hours -----------------------------------------------------------

    def _closed(self, qs: QueueState, now: float) -> bool:
        return qs.cfg.hours is not None and not self._hours.is_open(qs.cfg.hours, now)

    def _hold(self, contact: Contact, qs: QueueState, now: float, *, log: bool) -> None:
        """A voicemail in a closed queue: it waits (counted, with a position) but is offered
        to nobody until the queue opens (``Timers._hours_tick`` lets it in)."""
        contact.held = True
        contact.epoch += 1  # its step timers are moot; it starts over at the opening
        contact.step, contact.step_deadline = 0, None
        qs.waiting[contact.contact_id] = contact
        qs.voicemails += 1
        pos = qs.positions.add(contact.key) + 1
        if log:
            data: dict[str, Any] = {"channel": contact.channel, "priority_class": contact.priority_class}
            data["position"] = pos
            data["held"] = "closed"
            if contact.attributes:
                data["attributes"] = dict(contact.attributes)
            self._log_contact(contact, "contact.queued", now, None, data)
        self._arm_hours(now)

    def _arm_hours(self, now: float) -> None:
        """Look at opening hours again at the next whole minute (calendars open and close on
        whole minutes) while voicemails wait."""
        if not self._hours_armed:
            self._hours_armed = True
            self._arm("hours", "", (now // 60 + 1) * 60, 0)

    def _arm_positions(self, now: float) -> None:
        if self._pos_every is not None and not self._pos_armed:
            self._pos_armed = True
            self._arm("positions", "", now + self._pos_every, 0)
