"""The ACD engine's inputs: one handler per kind of input, each validating everything
before it changes anything (an input refused with an ``AcdError`` leaves the engine as it
was), then acting through the parts. ``Inputs.HANDLERS`` is the table from input type to
handler.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from callcenter.acd.agent_pool import AgentPool
from callcenter.acd.agents import Agent, State, pool_of
from callcenter.acd.commands import ConnectContact, event_data
from callcenter.acd.contacts import CONNECTED, OFFERED, WAITING, Contact, ContactBook, Offer, move
from callcenter.acd.errors import (
    BadInput,
    DuplicateContact,
    DuplicateLogin,
    IllegalTransition,
    NotYours,
    UnknownOffer,
)
from callcenter.acd.event_chain import EventChain
from callcenter.acd.messages import (
    AgentDisconnected,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentReady,
    AgentSkillsChanged,
    AttributesChanged,
    CallbackRequested,
    ContactAbandoned,
    ContactArrived,
    ContactEnded,
    ContactHeld,
    ContactMoved,
    ContactRequeued,
    ContactsRestored,
    ContactTransferred,
    OfferAccepted,
    OfferDeclined,
    PriorityChanged,
    VoicemailCalledBack,
)
from callcenter.acd.requirements import Requirements
from callcenter.acd.routing import Router
from callcenter.acd.timer_heap import TimerHeap
from callcenter.acd.waiting_lines import WaitingLines
from callcenter.config.sections import QueueConfig

DEFAULT_PRIORITY_CLASS = 1
DEFERRED_PRIORITY_CLASS = 9  # a voicemail comes after the live contacts waiting beside it
CHANNELS = ("voice", "chat", "callback", "voicemail")
ENDED_REASONS = ("completed", "dial_failed")  # what ``ContactEnded`` may say
REQUEUED_REASONS = ("agent_gone",)  # what ``ContactRequeued`` may say


def priority_for(
    cfg: QueueConfig,
    attributes: Mapping[str, str],
    *,
    priority_class: int | None = None,
    head_start_s: float | None = None,
) -> tuple[int, float]:
    """(priority class, head start in seconds) that a contact with ``attributes`` gets on
    arrival in the queue ``cfg``: what the arrival gives explicitly, else the first of the
    queue's ``priority_rules`` that matches and gives one. Pure; the CRM's late answer
    (crm_link/live.py) reuses it so both paths decide alike."""
    pclass, head = priority_class, head_start_s
    for rule in cfg.priority_rules:
        if all(attributes.get(k) == v for k, v in rule.when.items()):
            if pclass is None and rule.priority_class is not None:
                pclass = rule.priority_class
            if head is None and rule.head_start_s:
                head = rule.head_start_s
    return (DEFAULT_PRIORITY_CLASS if pclass is None else pclass), (head or 0.0)


class Inputs:
    def __init__(
        self,
        requirements: Requirements,
        lines: WaitingLines,
        agents: AgentPool,
        book: ContactBook,
        router: Router,
        heap: TimerHeap,
        chain: EventChain,
    ) -> None:
        self._requirements = requirements
        self._lines = lines
        self._queues = lines.queues
        self._pool = agents
        self._agents = agents.agents
        self._book = book
        self._contacts = book.contacts
        self._router = router
        self._offers = router.offers
        self._heap = heap
        self._chain = chain
        self._emit = chain.commands.append

    # Agents ------------------------------------------------------------------------------------------

    def _login(self, e: AgentLoggedIn, now: float) -> None:
        existing = self._agents.get(e.agent_id)
        if existing is not None and existing.state is not State.LOGGED_OUT:
            raise DuplicateLogin(f"agent {e.agent_id} is already logged in")
        self._requirements.check_skills(e.skills)
        if e.chat_capacity < 0 or e.voicemail_capacity < 0:
            raise BadInput("chat_capacity and voicemail_capacity must not be negative")
        agent = Agent(
            agent_id=e.agent_id,
            name=e.name or e.agent_id,
            skills=dict(e.skills),
            chat_capacity=e.chat_capacity,
            voicemail_capacity=e.voicemail_capacity,
            state=State.LOGGED_OUT,
            since=now,
            idle_since=now,
            ctx=existing.ctx if existing else None,
        )
        if existing is not None:
            agent.handled, agent.handle_time = existing.handled, existing.handle_time
        self._pool.add(agent)
        self._pool.set_state(agent, "login", now, reason="logged_in")

    def _logout(self, e: AgentLoggedOut, now: float) -> None:
        agent = self._pool.agent(e.agent_id)
        self._pool.allowed(agent, "logout")
        if agent.contacts:
            raise IllegalTransition(f"agent {agent.agent_id} still has {len(agent.contacts)} contact(s) open")
        self._router.withdraw_agent_offer(agent, "logged_out", now)
        agent.pending_not_ready = None
        self._pool.set_state(agent, "logout", now, reason=None)

    def _ready(self, e: AgentReady, now: float) -> None:
        agent = self._pool.agent(e.agent_id)
        self._pool.allowed(agent, "ready")
        agent.pending_not_ready = None
        if agent.state in (State.NOT_READY, State.WRAP_UP):
            agent.idle_since = now
            agent.wrap_up_until = None
        self._pool.set_state(agent, "ready", now, reason=None, refresh=False)
        self._router.free_agent(agent, now)

    def _not_ready(self, e: AgentNotReady, now: float) -> None:
        agent = self._pool.agent(e.agent_id)
        self._pool.allowed(agent, "not_ready")
        agent.pending_not_ready = e.reason
        agent.wrap_up_until = None
        self._router.withdraw_agent_offer(agent, "agent_not_ready", now)
        self._pool.set_state(agent, "not_ready", now, reason=e.reason)

    def _disconnected(self, e: AgentDisconnected, now: float) -> None:
        agent = self._pool.agent(e.agent_id)
        self._pool.allowed(agent, "disconnect")
        agent.pending_not_ready = "disconnected"
        agent.wrap_up_until = None
        self._router.withdraw_agent_offer(agent, "agent_gone", now)
        self._pool.set_state(agent, "disconnect", now, reason="disconnected")

    def _skills_changed(self, e: AgentSkillsChanged, now: float) -> None:
        agent = self._pool.agent(e.agent_id)
        self._requirements.check_skills(e.skills)
        self._pool.change_skills(agent, dict(e.skills))
        self._chain.log_agent(agent, "agent.skills_changed", now, event_data(skills=dict(e.skills), by=e.by))
        self._router.free_agent(agent, now)

    # Contacts ----------------------------------------------------------------------------------------

    def _arrived(self, e: ContactArrived, now: float, *, restored: bool = False) -> None:
        if e.contact_id in self._contacts:
            raise DuplicateContact(f"contact {e.contact_id} is already known")
        qs = self._lines.queue(e.queue)
        if e.channel not in CHANNELS:
            raise BadInput(f"unknown channel {e.channel!r} (voice, chat, callback or voicemail)")
        if e.channel not in qs.cfg.channels:
            raise BadInput(f"queue {e.queue} does not take {e.channel} contacts")
        if e.channel == "voicemail" and e.voicemail is None and not restored:
            raise BadInput("a voicemail contact needs its message (voicemail)")
        pclass, head_start = self._priority_for(qs.cfg, e)
        arrived_at = e.arrived_at if e.arrived_at is not None else now
        contact = Contact(
            contact_id=e.contact_id,
            channel=e.channel,
            queue=e.queue,
            attributes=dict(e.attributes),
            caller=e.caller,
            priority_class=pclass,
            vtime=arrived_at - head_start,
            seq=self._heap.next_seq(),
            arrived_at=arrived_at,
            queued_at=now,
            pool=pool_of(e.channel),
            ctx=e.context_id,
        )
        contact.rekey()
        self._contacts[e.contact_id] = contact
        if e.voicemail is not None and not restored:
            vm = e.voicemail
            data = event_data(
                path=vm.path,
                seconds=vm.seconds,
                bytes=vm.bytes,
                from_contact=vm.from_contact,
                caller=e.caller,
                capped=vm.capped or None,
            )
            self._chain.log_contact(contact, "contact.voicemail", now, None, data)
        self._router.enter_queue(contact, e.queue, now, head_start=head_start, restored=restored)

    def _accepted(self, e: OfferAccepted, now: float) -> None:
        offer = self._find_offer(e.offer_id, e.agent_id)
        agent, contact = self._agents[offer.agent_id], self._contacts[offer.contact_id]
        self._pool.allowed(agent, "accept")
        del self._offers[offer.offer_id]
        agent.offer_id = None
        agent.contacts[contact.contact_id] = contact.channel
        agent.offers_received += 1
        move(contact, "accept")
        contact.agent_id, contact.offer_id = agent.agent_id, None
        contact.connected_at = now
        contact.epoch += 1
        self._pool.set_state(agent, "accept", now, reason=None, refresh=False)
        data = {"offer_id": offer.offer_id, "wait_s": round(now - contact.queued_at, 3)}
        self._chain.log_contact(contact, "contact.connected", now, agent.agent_id, data)
        self._emit(
            ConnectContact(
                contact_id=contact.contact_id,
                agent_id=agent.agent_id,
                offer_id=offer.offer_id,
                queue=contact.queue,
                channel=contact.channel,
            )
        )
        if contact.pool != "voice":
            self._router.free_agent(agent, now)  # room for another chat or voicemail?
        else:
            self._pool.refresh(agent)

    def _declined(self, e: OfferDeclined, now: float) -> None:
        offer = self._find_offer(e.offer_id, e.agent_id)
        agent = self._agents[offer.agent_id]
        self._pool.allowed(agent, "decline")
        self._router.take_back(offer, "declined", now)
        agent.pending_not_ready = "declined"
        self._pool.set_state(agent, "decline", now, reason="declined")

    def _abandoned(self, e: ContactAbandoned, now: float) -> None:
        contact = self._book.live(e.contact_id)
        if contact.state == CONNECTED:
            raise IllegalTransition(f"contact {contact.contact_id} is connected; end it instead")
        if contact.state == OFFERED:
            offer = self._offers[contact.offer_id]  # type: ignore[index]
            agent = self._agents[offer.agent_id]
            self._router.withdraw(offer, "abandoned", now, requeue=False)
            self._pool.set_state(agent, "withdraw", now, reason=agent.pending_not_ready, refresh=False)
            self._router.free_agent(agent, now)
        else:
            self._lines.leave(contact)
        self._router.finish(contact, "abandoned", now)

    def _ended(self, e: ContactEnded, now: float) -> None:
        contact = self._connected_contact(e.contact_id)
        if e.reason not in ENDED_REASONS:
            raise BadInput(f"a connected contact ends {' or '.join(ENDED_REASONS)}, not {e.reason!r}")
        agent = self._agents[contact.agent_id]  # type: ignore[index]
        self._router.release(agent, contact, now)
        self._router.finish(contact, e.reason, now, by=e.by)
        self._router.after_contact(agent, contact, now)

    def _transferred(self, e: ContactTransferred, now: float) -> None:
        contact = self._book.live(e.contact_id)
        if contact.state != CONNECTED or contact.agent_id != e.by_agent:
            raise NotYours(f"contact {contact.contact_id} is not connected to {e.by_agent}")
        if (e.to_queue is None) == (e.to_agent is None):
            raise BadInput("a transfer names exactly one of to_queue and to_agent")
        if e.to_queue is not None:
            qs = self._lines.queue(e.to_queue)
            if contact.channel not in qs.cfg.channels:
                raise BadInput(f"queue {e.to_queue} does not take {contact.channel} contacts")
        else:
            target = self._pool.agent(e.to_agent)  # type: ignore[arg-type]
            if target.state is State.LOGGED_OUT:
                raise IllegalTransition(f"agent {target.agent_id} is logged out")
            if target.agent_id == e.by_agent:
                raise BadInput("a contact cannot be transferred to the agent who has it")
        agent = self._agents[e.by_agent]
        self._router.release(agent, contact, now)
        data = event_data(to_queue=e.to_queue, to_agent=e.to_agent, by_agent=e.by_agent)
        self._chain.log_contact(contact, "contact.transferred", now, agent.agent_id, data)
        contact.agent_id = None
        if e.to_queue is not None:
            self._router.place(contact, e.to_queue, now)
        else:
            self._router.place_targeted(contact, e.to_agent, now)  # type: ignore[arg-type]
        self._router.after_contact(agent, contact, now)

    def _requeued(self, e: ContactRequeued, now: float) -> None:
        contact = self._connected_contact(e.contact_id)
        if e.reason not in REQUEUED_REASONS:
            raise BadInput(f"a contact is requeued for {' or '.join(REQUEUED_REASONS)}, not {e.reason!r}")
        qs = self._queues[contact.queue]
        if self._lines.closed(qs, now):
            raise IllegalTransition(f"queue {contact.queue} is closed; contact {contact.contact_id} ends")
        agent = self._agents[contact.agent_id]  # type: ignore[index]
        if e.reason == "agent_gone":
            agent.pending_not_ready = "disconnected"
        data = {"reason": e.reason, "from_agent": agent.agent_id}
        self._chain.log_contact(contact, "contact.requeued", now, agent.agent_id, data)
        self._router.release(agent, contact, now)
        contact.agent_id = None
        contact.queued_at = now  # its wait starts over (max wait); its place in line does not
        self._router.place(contact, contact.queue, now)
        self._router.after_contact(agent, contact, now)

    def _callback(self, e: CallbackRequested, now: float) -> None:
        contact = self._book.live(e.contact_id)
        if contact.state not in (WAITING, OFFERED) or contact.channel != "voice":
            raise IllegalTransition(f"contact {contact.contact_id} is not a waiting call")
        if not e.number.strip():
            raise BadInput("a callback needs a number")
        contact.channel = "callback"
        contact.attributes["callback_number"] = e.number
        self._chain.log_contact(contact, "contact.callback_requested", now, None, {"number": e.number})

    def _called_back(self, e: VoicemailCalledBack, now: float) -> None:
        vm = self._book.live(e.contact_id)
        if vm.channel != "voicemail" or vm.state != CONNECTED or vm.agent_id != e.agent_id:
            raise NotYours(f"contact {vm.contact_id} is not a voicemail connected to {e.agent_id}")
        if not e.number.strip():
            raise BadInput("a callback needs a number")
        if self._book.known(e.callback_id):
            raise DuplicateContact(f"contact {e.callback_id} is already known")
        agent = self._agents[e.agent_id]
        if len(agent.contacts) > 1:  # the call will be exclusive, as every call is
            raise IllegalTransition(f"agent {agent.agent_id} has other contacts open; end them first")
        if agent.offer_id is not None:  # a ringing chat or voicemail goes to another agent
            self._router.withdraw_agent_offer(agent, "agent_busy", now)
            self._pool.set_state(agent, "withdraw", now, reason=None, refresh=False)
        cb = Contact(
            contact_id=e.callback_id,
            channel="callback",
            queue=vm.queue,
            attributes={**vm.attributes, "callback_number": e.number, "voicemail_of": vm.contact_id},
            caller=e.number,
            priority_class=DEFAULT_PRIORITY_CLASS,
            vtime=now,
            seq=self._heap.next_seq(),
            arrived_at=now,
            queued_at=now,
            pool=pool_of("callback"),
            ctx=vm.ctx,  # the callback's chain goes on from the voicemail's
            agent_id=agent.agent_id,
            connected_at=now,
        )
        move(cb, "call_back")
        cb.rekey()
        self._contacts[cb.contact_id] = cb
        agent.contacts[cb.contact_id] = cb.channel
        self._chain.log_contact(cb, "contact.arrived", now, None, {"channel": "callback", "caller": e.number})
        data = {"channel": "callback", "number": e.number, "from_contact": vm.contact_id}
        queued = {**data, "position": 1, "ewt_s": 0.0, "attributes": dict(cb.attributes)}
        self._chain.log_contact(cb, "contact.queued", now, None, queued)
        self._chain.log_contact(cb, "contact.connected", now, agent.agent_id, {"wait_s": 0.0, **data})
        self._emit(
            ConnectContact(
                contact_id=cb.contact_id,
                agent_id=agent.agent_id,
                offer_id="",
                queue=cb.queue,
                channel=cb.channel,
            )
        )
        handled = {"handling": "called_back", "callback_id": cb.contact_id, "by": agent.agent_id}
        self._chain.log_contact(vm, "contact.voicemail_handled", now, agent.agent_id, handled)
        self._router.release(agent, vm, now)
        self._router.finish(vm, "called_back", now, by="agent")
        self._router.after_contact(agent, vm, now)

    def _held(self, e: ContactHeld, now: float) -> None:
        contact = self._book.live(e.contact_id)
        if contact.state != CONNECTED:
            raise IllegalTransition(f"contact {contact.contact_id} is not connected")
        self._chain.log_contact(
            contact, "contact.held" if e.on else "contact.retrieved", now, contact.agent_id, {}
        )

    def _moved(self, e: ContactMoved, now: float) -> None:
        contact = self._book.live(e.contact_id)
        if contact.state != WAITING:
            raise IllegalTransition(f"contact {contact.contact_id} is not waiting (it is {contact.state})")
        qs = self._lines.queue(e.to_queue)
        if contact.channel not in qs.cfg.channels:
            raise BadInput(f"queue {e.to_queue} does not take {contact.channel} contacts")
        old = contact.queue
        self._lines.leave(contact)
        data = event_data(from_queue=old, to_queue=e.to_queue, by=e.by)
        self._chain.log_contact(contact, "contact.moved", now, None, data)
        self._router.place(contact, e.to_queue, now)

    def _attributes(self, e: AttributesChanged, now: float) -> None:
        contact = self._book.live(e.contact_id)
        if contact.state != WAITING:
            raise IllegalTransition(f"contact {contact.contact_id} is not waiting (it is {contact.state})")
        if not e.attributes:
            raise BadInput("give the attributes to change")
        changed = {k: str(v) for k, v in e.attributes.items() if contact.attributes.get(k) != str(v)}
        if not changed:
            return
        contact.attributes.update(changed)
        data = {"attributes": changed, "by": e.by}
        self._chain.log_contact(contact, "contact.attributes_changed", now, None, data)

    def _priority(self, e: PriorityChanged, now: float) -> None:
        contact = self._book.live(e.contact_id)
        if contact.state != WAITING:
            raise IllegalTransition(f"contact {contact.contact_id} is not waiting (it is {contact.state})")
        if e.priority_class is None and e.head_start_s is None:
            raise BadInput("give a priority_class or a head_start_s")
        queue = contact.queue
        self._lines.leave(contact)
        if e.priority_class is not None:
            contact.priority_class = e.priority_class
        if e.head_start_s is not None:
            contact.vtime -= e.head_start_s
        contact.rekey()
        data = event_data(priority_class=e.priority_class, head_start_s=e.head_start_s, by=e.by)
        self._chain.log_contact(contact, "contact.priority_changed", now, None, data)
        self._router.place(contact, queue, now, log=False)

    def _restored(self, e: ContactsRestored, now: float) -> None:
        for arrival in e.contacts:
            if arrival.contact_id in self._contacts:
                raise DuplicateContact(f"contact {arrival.contact_id} is already known")
            self._lines.queue(arrival.queue)
        for arrival in e.contacts:
            self._arrived(arrival, now, restored=True)

    HANDLERS: ClassVar[dict[type, Callable[[Inputs, Any, float], None]]] = {
        AgentLoggedIn: _login,
        AgentLoggedOut: _logout,
        AgentReady: _ready,
        AgentNotReady: _not_ready,
        AgentSkillsChanged: _skills_changed,
        AgentDisconnected: _disconnected,
        ContactArrived: _arrived,
        OfferAccepted: _accepted,
        OfferDeclined: _declined,
        ContactAbandoned: _abandoned,
        ContactEnded: _ended,
        ContactTransferred: _transferred,
        ContactRequeued: _requeued,
        CallbackRequested: _callback,
        VoicemailCalledBack: _called_back,
        ContactHeld: _held,
        ContactMoved: _moved,
        AttributesChanged: _attributes,
        PriorityChanged: _priority,
        ContactsRestored: _restored,
    }

    # Helpers -----------------------------------------------------------------------------------------

    def _priority_for(self, cfg: QueueConfig, e: ContactArrived) -> tuple[int, float]:
        pclass = e.priority_class
        if pclass is None and e.channel == "voicemail":
            pclass = next(
                (
                    r.priority_class
                    for r in cfg.priority_rules
                    if r.priority_class is not None
                    and all(e.attributes.get(k) == v for k, v in r.when.items())
                ),
                DEFERRED_PRIORITY_CLASS,
            )
        return priority_for(cfg, e.attributes, priority_class=pclass, head_start_s=e.head_start_s)

    def _connected_contact(self, contact_id: str) -> Contact:
        contact = self._book.live(contact_id)
        if contact.state != CONNECTED:
            raise IllegalTransition(f"contact {contact_id} is not connected (it is {contact.state})")
        return contact

    def _find_offer(self, offer_id: str, agent_id: str) -> Offer:
        offer = self._offers.get(offer_id)
        if offer is None:
            raise UnknownOffer(f"offer {offer_id!r} is not ringing (answered, taken back or unknown)")
        if offer.agent_id != agent_id:
            raise NotYours(f"offer {offer_id} is not for {agent_id}")
        return offer
