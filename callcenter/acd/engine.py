"""The ACD engine: a pure state machine that queues contacts and offers them to agents.

Theory of operation
-------------------
Call ``handle(event, now)`` for each input and ``handle_timer(now)`` when
``next_deadline()`` is reached; after either, call ``take_commands()`` and carry out the
commands in order. Time is only what the caller passes as ``now``; ids and randomness come
from the injected ``ids`` and ``rng``. An input that cannot be applied raises an
``AcdError`` and leaves the engine exactly as it was: every handler validates before it
changes anything.

Routing keeps one invariant after every input: no free agent is left idle while a waiting
contact it could serve is in line. Contacts wait in order of (priority class, virtual
enqueue time, sequence) per (queue, routing step, pool); free agents are indexed per
(requirement, pool, strategy). A contact that arrives looks up the best free agent for its
current step; an agent who becomes free takes the oldest contact among the steps it meets.
See docs/acd.md.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from callcenter.acd import model as m
from callcenter.acd.agents import AFTER_CONTACT, SETTLE, TRANSITIONS, Agent, State, pool_of
from callcenter.acd.index import AgentPools, SortedBag
from callcenter.config.model import CenterConfig, OverflowTarget, QueueConfig
from callcenter.core.events import InteractionEvent, RecordEvent
from callcenter.core.ids import IdGenerator

Key = tuple[int, float, int, str]
MAX_OVERFLOW_HOPS = 5
DEFAULT_PRIORITY_CLASS = 1
WORKING = frozenset({State.AVAILABLE, State.OFFERED, State.ON_CONTACT, State.WRAP_UP})


class RandomSource(Protocol):
    def random(self) -> float: ...


class HoursLike(Protocol):
    def is_open(self, name: str | None, now: float) -> bool: ...


@dataclass(slots=True, eq=False)
class Contact:
    contact_id: str
    channel: str
    queue: str
    attributes: dict[str, str]
    caller: str | None
    priority_class: int
    vtime: float
    seq: int
    arrived_at: float
    queued_at: float
    state: str = "new"  # waiting, offered, connected, ended
    step: int = 0
    epoch: int = 0  # bumps whenever its place changes: stale step timers are ignored
    placements: int = 0  # bumps on each queue entry: stale max-wait timers are ignored
    ctx_n: int = 0
    step_deadline: float | None = None
    offer_id: str | None = None
    agent_id: str | None = None
    connected_at: float = 0.0
    target_agent: str | None = None
    hops: int = 0
    ctx: str | None = None
    ctx_base: str | None = None

    @property
    def key(self) -> Key:
        return (self.priority_class, self.vtime, self.seq, self.contact_id)


@dataclass(slots=True)
class Offer:
    offer_id: str
    contact_id: str
    agent_id: str
    deadline: float
    step: int


@dataclass(slots=True, eq=False)
class QueueState:
    cfg: QueueConfig
    reqs: tuple[int, ...]  # requirement id per step
    positions: SortedBag = field(default_factory=SortedBag)
    waiting: dict[str, Contact] = field(default_factory=dict)
    aht: float = 180.0


class AcdEngine:
    def __init__(
        self,
        queues: Sequence[QueueConfig],
        skills: Sequence[str],
        *,
        ids: IdGenerator,
        rng: RandomSource,
        hours: HoursLike,
        default_aht: float = 180.0,
        aht_weight: float = 0.05,
        position_updates_s: float | None = None,
    ) -> None:
        """``position_updates_s``: every so many seconds while contacts wait, emit
        ``PositionUpdated`` for those whose position or rounded wait estimate changed
        (None: never; ``position()`` and ``snapshot()`` answer at any time)."""
        if position_updates_s is not None and position_updates_s <= 0:
            raise m.BadInput("position_updates_s must be positive")
        self._ids = ids
        self._rng = rng
        self._hours = hours
        self._aht_weight = aht_weight
        self._pos_every = position_updates_s
        self._pos_armed = False
        self._pos_told: dict[str, tuple[int, float | None]] = {}
        self.skills = frozenset(skills)
        self._reqs: list[dict[str, int]] = []
        self._req_ids: dict[tuple[tuple[str, int], ...], int] = {}
        self._req_strategies: dict[int, set[str]] = {}
        self._req_pools: dict[int, set[str]] = {}  # pools some queue step with this requirement takes
        self.queues: dict[str, QueueState] = {}
        for q in queues:
            reqs = tuple(self._requirement(step.require, q.strategy, q.channels) for step in q.steps)
            self.queues[q.name] = QueueState(cfg=q, reqs=reqs, aht=default_aht)
        self._waiting_bags: dict[tuple[str, int, str], SortedBag] = {}
        self._targeted: dict[str, SortedBag] = {}  # agent id -> contacts transferred to them
        self._steps_for_req: dict[int, list[tuple[str, int]]] = {}
        for name, qs in self.queues.items():
            for i, req in enumerate(qs.reqs):
                self._steps_for_req.setdefault(req, []).append((name, i))
        self.agents: dict[str, Agent] = {}
        self._agent_seq: dict[str, int] = {}
        self._staffed = [0] * len(self._reqs)  # agents working (ready, ringing, busy, wrap-up)
        self._logged_in = [0] * len(self._reqs)  # agents logged in, whatever their state
        self._pools = AgentPools()
        self.contacts: dict[str, Contact] = {}
        self.offers: dict[str, Offer] = {}
        self._timers: list[tuple[float, int, str, str, int]] = []
        self._seq = 0
        self._offer_seq = 0
        self._last_offered: dict[str, int] = {}
        self._commands: list[Any] = []
        self._deferred: list[Contact] | None = None  # contacts to match once timers settle
        self._ended_ids: set[str] = set()
        self._ended_order: list[str] = []
        self._handlers: dict[type, Callable[[Any, float], None]] = {
            m.AgentLoggedIn: self._login,
            m.AgentLoggedOut: self._logout,
            m.AgentReady: self._ready,
            m.AgentNotReady: self._not_ready,
            m.AgentSkillsChanged: self._skills_changed,
            m.AgentDisconnected: self._disconnected,
            m.ContactArrived: self._arrived,
            m.OfferAccepted: self._accepted,
            m.OfferDeclined: self._declined,
            m.ContactAbandoned: self._abandoned,
            m.ContactEnded: self._ended,
            m.ContactTransferred: self._transferred,
            m.CallbackRequested: self._callback,
            m.ContactHeld: self._held,
            m.ContactMoved: self._moved,
            m.PriorityChanged: self._priority,
            m.ContactsRestored: self._restored,
        }

    @classmethod
    def from_config(
        cls, cfg: CenterConfig, *, ids: IdGenerator, rng: RandomSource, hours: HoursLike, **kwargs: Any
    ) -> AcdEngine:
        return cls(cfg.queues, [s.name for s in cfg.skills], ids=ids, rng=rng, hours=hours, **kwargs)

    # Public methods for the driver ------------------------------------------------------------

    def handle(self, event: object, now: float) -> None:
        """Apply one input. Raises ``AcdError`` (state unchanged) if it cannot be applied."""
        handler = self._handlers.get(type(event))
        if handler is None:
            raise m.BadInput(f"the ACD does not take {type(event).__name__}")
        handler(event, now)

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
            moved, self._deferred = self._deferred, None
            for contact in sorted(moved, key=lambda c: c.key):
                self._match_contact(contact, now)

    def take_commands(self) -> list[Any]:
        """Commands produced since the last call, in order; the caller must carry them out."""
        out, self._commands = self._commands, []
        return out

    def next_deadline(self) -> float | None:
        while self._timers and not self._timer_live(self._timers[0]):
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    # Public queries (read-only; safe from the writer's own task) ------------------------------

    def position(self, contact_id: str) -> tuple[int, float | None] | None:
        """(1-based position in its queue, estimated wait in seconds) of a waiting contact."""
        c = self.contacts.get(contact_id)
        if c is None or c.state != "waiting":
            return None
        qs = self.queues[c.queue]
        pos = qs.positions.rank(c.key) + 1
        return pos, self._ewt(qs, pos)

    def queue_snapshot(self, name: str, now: float) -> m.QueueSnapshot:
        qs = self.queues[name]
        longest = max((now - c.queued_at for c in qs.waiting.values()), default=0.0)
        counts = {"available": 0, "on_contact": 0, "wrap_up": 0, "not_ready": 0, "offered": 0}
        steps = set(qs.reqs)  # agents who can serve the queue at any of its steps
        for a in self.agents.values():
            if a.state is State.LOGGED_OUT or steps.isdisjoint(a.matches):
                continue
            counts[a.state.value.lower()] += 1
        return m.QueueSnapshot(
            name=name,
            waiting=len(qs.waiting),
            longest_wait_s=longest,
            ewt_s=self._ewt(qs, len(qs.waiting) + 1),
            agents=counts,
        )

    def snapshot(self, now: float) -> m.CenterSnapshot:
        """Every queue's figures and every waiting contact's position and estimated wait
        (costs one pass over the waiting contacts; ``position()`` is the cheap one)."""
        return m.CenterSnapshot(
            at=now,
            queues={name: self.queue_snapshot(name, now) for name in self.queues},
            waiting={
                name: tuple(
                    m.ContactPosition(
                        contact_id=c.contact_id,
                        queue=name,
                        channel=c.channel,
                        position=pos,
                        ewt_s=ewt,
                        waited_s=now - c.queued_at,
                    )
                    for pos, c, ewt in self._ranked(qs)
                )
                for name, qs in self.queues.items()
            },
        )

    def agent_snapshot(self, agent_id: str) -> m.AgentSnapshot:
        a = self._agent(agent_id)
        return m.AgentSnapshot(
            agent_id=a.agent_id,
            name=a.name,
            state=a.state.value,
            reason=a.reason,
            since=a.since,
            skills=dict(a.skills),
            contacts=tuple(a.contacts),
            offer_id=a.offer_id,
            handled=a.handled,
        )

    # Agents ------------------------------------------------------------------------------------------

    def _login(self, e: m.AgentLoggedIn, now: float) -> None:
        existing = self.agents.get(e.agent_id)
        if existing is not None and existing.state is not State.LOGGED_OUT:
            raise m.DuplicateLogin(f"agent {e.agent_id} is already logged in")
        self._check_skills(e.skills)
        if e.chat_capacity < 0:
            raise m.BadInput("chat_capacity must not be negative")
        agent = Agent(
            agent_id=e.agent_id,
            name=e.name or e.agent_id,
            skills=dict(e.skills),
            chat_capacity=e.chat_capacity,
            state=State.LOGGED_OUT,
            since=now,
            idle_since=now,
            ctx=existing.ctx if existing else None,
        )
        if existing is not None:
            agent.handled, agent.handle_time = existing.handled, existing.handle_time
        self.agents[e.agent_id] = agent
        self._agent_seq.setdefault(e.agent_id, len(self._agent_seq))
        agent.matches = self._matching_reqs(agent)
        agent.bag_keys = tuple(qs for req in agent.matches for qs in self._steps_for_req.get(req, ()))
        self._set_state(agent, "login", now, reason="logged_in")

    def _logout(self, e: m.AgentLoggedOut, now: float) -> None:
        agent = self._agent(e.agent_id)
        self._allowed(agent, "logout")
        if agent.contacts:
            raise m.IllegalTransition(
                f"agent {agent.agent_id} still has {len(agent.contacts)} contact(s) open"
            )
        self._withdraw_agent_offer(agent, "logged_out", now)
        agent.pending_not_ready = None
        self._set_state(agent, "logout", now, reason=None)

    def _ready(self, e: m.AgentReady, now: float) -> None:
        agent = self._agent(e.agent_id)
        self._allowed(agent, "ready")
        agent.pending_not_ready = None
        if agent.state in (State.NOT_READY, State.WRAP_UP):
            agent.idle_since = now
            agent.wrap_up_until = None
        self._set_state(agent, "ready", now, reason=None)
        self._match_agent(agent, now)

    def _not_ready(self, e: m.AgentNotReady, now: float) -> None:
        agent = self._agent(e.agent_id)
        self._allowed(agent, "not_ready")
        agent.pending_not_ready = e.reason
        agent.wrap_up_until = None
        self._withdraw_agent_offer(agent, "agent_not_ready", now)
        self._set_state(agent, "not_ready", now, reason=e.reason)

    def _disconnected(self, e: m.AgentDisconnected, now: float) -> None:
        agent = self._agent(e.agent_id)
        self._allowed(agent, "disconnect")
        agent.pending_not_ready = "disconnected"
        agent.wrap_up_until = None
        self._withdraw_agent_offer(agent, "agent_gone", now)
        self._set_state(agent, "disconnect", now, reason="disconnected")

    def _skills_changed(self, e: m.AgentSkillsChanged, now: float) -> None:
        agent = self._agent(e.agent_id)
        self._check_skills(e.skills)
        working = agent.state in WORKING
        present = agent.state is not State.LOGGED_OUT
        if working:
            self._count_staffed(agent, -1)
        if present:
            self._count_logged_in(agent, -1)
        agent.skills = dict(e.skills)
        agent.matches = self._matching_reqs(agent)
        agent.bag_keys = tuple(qs for req in agent.matches for qs in self._steps_for_req.get(req, ()))
        if working:
            self._count_staffed(agent, +1)
        if present:
            self._count_logged_in(agent, +1)
        self._log_agent(agent, "agent.skills_changed", now, skills=dict(e.skills), by=e.by)
        self._refresh(agent)
        self._match_agent(agent, now)

    # Contacts ----------------------------------------------------------------------------------------

    def _arrived(self, e: m.ContactArrived, now: float) -> None:
        if e.contact_id in self.contacts:
            raise m.DuplicateContact(f"contact {e.contact_id} is already known")
        qs = self._queue(e.queue)
        if e.channel not in ("voice", "chat", "callback"):
            raise m.BadInput(f"unknown channel {e.channel!r} (voice, chat or callback)")
        if e.channel not in qs.cfg.channels:
            raise m.BadInput(f"queue {e.queue} does not take {e.channel} contacts")
        pclass, head_start = self._priority_for(qs.cfg, e)
        arrived_at = e.arrived_at if e.arrived_at is not None else now
        self._seq += 1
        contact = Contact(
            contact_id=e.contact_id,
            channel=e.channel,
            queue=e.queue,
            attributes=dict(e.attributes),
            caller=e.caller,
            priority_class=pclass,
            vtime=arrived_at - head_start,
            seq=self._seq,
            arrived_at=arrived_at,
            queued_at=now,
            ctx=e.context_id,
        )
        self.contacts[e.contact_id] = contact
        self._enter_queue(contact, e.queue, now, head_start=head_start)

    def _accepted(self, e: m.OfferAccepted, now: float) -> None:
        offer = self._find_offer(e.offer_id, e.agent_id)
        agent, contact = self.agents[offer.agent_id], self.contacts[offer.contact_id]
        self._allowed(agent, "accept")
        del self.offers[offer.offer_id]
        agent.offer_id = None
        agent.contacts[contact.contact_id] = contact.channel
        agent.offers_received += 1
        contact.state, contact.agent_id, contact.offer_id = "connected", agent.agent_id, None
        contact.connected_at = now
        contact.epoch += 1
        self._set_state(agent, "accept", now, reason=None)
        self._log_contact(
            contact,
            "contact.connected",
            now,
            agent=agent.agent_id,
            offer_id=offer.offer_id,
            wait_s=round(now - contact.queued_at, 3),
        )
        self._emit(
            m.ConnectContact(
                contact_id=contact.contact_id,
                agent_id=agent.agent_id,
                offer_id=offer.offer_id,
                queue=contact.queue,
                channel=contact.channel,
            )
        )
        if contact.channel == "chat":
            self._match_agent(agent, now)  # room for another chat?

    def _declined(self, e: m.OfferDeclined, now: float) -> None:
        offer = self._find_offer(e.offer_id, e.agent_id)
        agent = self.agents[offer.agent_id]
        self._allowed(agent, "decline")
        self._take_back(offer, "declined", now)
        agent.pending_not_ready = "declined"
        self._set_state(agent, "decline", now, reason="declined")

    def _abandoned(self, e: m.ContactAbandoned, now: float) -> None:
        contact = self._live_contact(e.contact_id)
        if contact.state == "connected":
            raise m.IllegalTransition(f"contact {contact.contact_id} is connected; end it instead")
        if contact.state == "offered":
            offer = self.offers[contact.offer_id]  # type: ignore[index]
            agent = self.agents[offer.agent_id]
            self._withdraw(offer, "abandoned", now, requeue=False)
            self._set_state(agent, "withdraw", now, reason=agent.pending_not_ready)
            self._match_agent(agent, now)
        else:
            self._leave_queue(contact)
        self._finish(contact, "abandoned", now)

    def _ended(self, e: m.ContactEnded, now: float) -> None:
        contact = self._live_contact(e.contact_id)
        if contact.state != "connected":
            raise m.IllegalTransition(
                f"contact {contact.contact_id} is not connected (it is {contact.state})"
            )
        agent = self.agents[contact.agent_id]  # type: ignore[index]
        self._release(agent, contact, now)
        self._finish(contact, "completed", now, by=e.by)
        self._after_contact(agent, contact, now)

    def _transferred(self, e: m.ContactTransferred, now: float) -> None:
        contact = self._live_contact(e.contact_id)
        if contact.state != "connected" or contact.agent_id != e.by_agent:
            raise m.NotYours(f"contact {contact.contact_id} is not connected to {e.by_agent}")
        if (e.to_queue is None) == (e.to_agent is None):
            raise m.BadInput("a transfer names exactly one of to_queue and to_agent")
        if e.to_queue is not None:
            qs = self._queue(e.to_queue)
            if contact.channel not in qs.cfg.channels:
                raise m.BadInput(f"queue {e.to_queue} does not take {contact.channel} contacts")
        else:
            target = self._agent(e.to_agent)  # type: ignore[arg-type]
            if target.state is State.LOGGED_OUT:
                raise m.IllegalTransition(f"agent {target.agent_id} is logged out")
            if target.agent_id == e.by_agent:
                raise m.BadInput("a contact cannot be transferred to the agent who has it")
        agent = self.agents[e.by_agent]
        self._release(agent, contact, now)
        self._log_contact(
            contact,
            "contact.transferred",
            now,
            agent=agent.agent_id,
            to_queue=e.to_queue,
            to_agent=e.to_agent,
            by_agent=e.by_agent,
        )
        contact.agent_id = None
        if e.to_queue is not None:
            self._place(contact, e.to_queue, now)
        else:
            self._place_targeted(contact, e.to_agent, now)  # type: ignore[arg-type]
        self._after_contact(agent, contact, now)

    def _callback(self, e: m.CallbackRequested, now: float) -> None:
        contact = self._live_contact(e.contact_id)
        if contact.state not in ("waiting", "offered") or contact.channel != "voice":
            raise m.IllegalTransition(f"contact {contact.contact_id} is not a waiting call")
        if not e.number.strip():
            raise m.BadInput("a callback needs a number")
        contact.channel = "callback"
        contact.attributes["callback_number"] = e.number
        self._log_contact(contact, "contact.callback_requested", now, number=e.number)

    def _held(self, e: m.ContactHeld, now: float) -> None:
        contact = self._live_contact(e.contact_id)
        if contact.state != "connected":
            raise m.IllegalTransition(f"contact {contact.contact_id} is not connected")
        self._log_contact(
            contact, "contact.held" if e.on else "contact.retrieved", now, agent=contact.agent_id
        )

    def _moved(self, e: m.ContactMoved, now: float) -> None:
        contact = self._live_contact(e.contact_id)
        if contact.state != "waiting":
            raise m.IllegalTransition(f"contact {contact.contact_id} is not waiting (it is {contact.state})")
        qs = self._queue(e.to_queue)
        if contact.channel not in qs.cfg.channels:
            raise m.BadInput(f"queue {e.to_queue} does not take {contact.channel} contacts")
        old = contact.queue
        self._leave_queue(contact)
        self._log_contact(contact, "contact.moved", now, from_queue=old, to_queue=e.to_queue, by=e.by)
        self._place(contact, e.to_queue, now)

    def _priority(self, e: m.PriorityChanged, now: float) -> None:
        contact = self._live_contact(e.contact_id)
        if contact.state != "waiting":
            raise m.IllegalTransition(f"contact {contact.contact_id} is not waiting (it is {contact.state})")
        if e.priority_class is None and e.head_start_s is None:
            raise m.BadInput("give a priority_class or a head_start_s")
        queue = contact.queue
        self._leave_queue(contact)
        if e.priority_class is not None:
            contact.priority_class = e.priority_class
        if e.head_start_s is not None:
            contact.vtime -= e.head_start_s
        self._log_contact(
            contact,
            "contact.priority_changed",
            now,
            priority_class=e.priority_class,
            head_start_s=e.head_start_s,
            by=e.by,
        )
        self._place(contact, queue, now, log=False)

    def _restored(self, e: m.ContactsRestored, now: float) -> None:
        for arrival in e.contacts:
            if arrival.contact_id in self.contacts:
                raise m.DuplicateContact(f"contact {arrival.contact_id} is already known")
            self._queue(arrival.queue)
        for arrival in e.contacts:
            self._arrived(arrival, now)

    # Queue placement and overflow ----------------------------------------------------------------

    def _enter_queue(self, contact: Contact, queue: str, now: float, *, head_start: float = 0.0) -> None:
        """Place a contact unless the queue sends it elsewhere (closed, full, nobody staffed)."""
        qs = self.queues[queue]
        ov = qs.cfg.overflow
        if qs.cfg.hours is not None and ov.on_closed and not self._hours.is_open(qs.cfg.hours, now):
            return self._overflow(contact, queue, "closed", ov.on_closed, now)
        if qs.cfg.max_size is not None and len(qs.waiting) >= qs.cfg.max_size:
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
        self._log_contact(
            contact,
            "contact.overflowed",
            now,
            reason=reason,
            to=target.to,
            to_queue=target.queue,
            message=target.message or None,
        )
        self._emit(
            m.OverflowContact(contact_id=contact.contact_id, queue=queue, reason=reason, target=target)
        )
        if target.to == "queue" and contact.hops < MAX_OVERFLOW_HOPS:
            contact.hops += 1
            self._enter_queue(contact, target.queue, now)  # type: ignore[arg-type]
        elif target.to == "callback" and contact.caller:
            if contact.channel == "voice":
                contact.channel = "callback"
                contact.attributes["callback_number"] = contact.caller
                self._log_contact(contact, "contact.callback_requested", now, number=contact.caller)
            self._place(contact, queue, now)
        else:
            reason_out = "voicemail" if target.to == "voicemail" else "overflow_disconnect"
            self._finish(contact, reason_out, now)

    def _place(
        self, contact: Contact, queue: str, now: float, *, head_start: float = 0.0, log: bool = True
    ) -> None:
        qs = self.queues[queue]
        contact.queue, contact.state, contact.step = queue, "waiting", 0
        contact.epoch += 1
        contact.placements += 1
        contact.target_agent = None
        self._arm_step(contact, now, fresh=True)
        self._index_waiting(contact)
        if log:
            pos = qs.positions.rank(contact.key) + 1
            free = self._pools.best((qs.reqs[contact.step], pool_of(contact.channel), qs.cfg.strategy))
            ewt = 0.0 if free is not None else self._ewt(qs, pos)
            self._log_contact(
                contact,
                "contact.queued",
                now,
                channel=contact.channel,
                priority_class=contact.priority_class,
                head_start_s=head_start or None,
                position=pos,
                ewt_s=round(ewt, 1) if ewt is not None else None,
                attributes=dict(contact.attributes) or None,
            )
        if self._pos_every is not None and not self._pos_armed:
            self._arm_positions(now)
        if qs.cfg.max_wait_s is not None and qs.cfg.overflow.on_max_wait is not None:
            self._arm(
                "max_wait", contact.contact_id, contact.queued_at + qs.cfg.max_wait_s, contact.placements
            )
        self._match_contact(contact, now)

    def _place_targeted(self, contact: Contact, agent_id: str, now: float) -> None:
        contact.state, contact.target_agent = "waiting", agent_id
        contact.epoch += 1
        self._targeted.setdefault(agent_id, SortedBag()).add(contact.key)
        self._match_agent(self.agents[agent_id], now)

    def _index_waiting(self, contact: Contact) -> None:
        qs = self.queues[contact.queue]
        qs.positions.add(contact.key)
        qs.waiting[contact.contact_id] = contact
        self._bag(contact.queue, contact.step, pool_of(contact.channel)).add(contact.key)

    def _leave_queue(self, contact: Contact) -> None:
        """Take a waiting contact out of every waiting index."""
        if contact.target_agent is not None:
            self._targeted[contact.target_agent].remove(contact.key)
            contact.target_agent = None
        elif contact.state == "waiting":
            qs = self.queues[contact.queue]
            qs.positions.remove(contact.key)
            del qs.waiting[contact.contact_id]
            self._bag(contact.queue, contact.step, pool_of(contact.channel)).remove(contact.key)
        contact.epoch += 1

    def _arm_step(self, contact: Contact, now: float, *, fresh: bool) -> None:
        """Set the contact's step deadline (``fresh``: it starts its step now) or, coming back
        from an offer, catch up on steps whose time ran out while it rang; then arm it."""
        steps = self.queues[contact.queue].cfg.steps

        def deadline_from(start: float) -> float | None:
            timeout = steps[contact.step].timeout
            return start + timeout if timeout is not None and contact.step + 1 < len(steps) else None

        if fresh:
            contact.step_deadline = deadline_from(now)
        while contact.step_deadline is not None and contact.step_deadline <= now:
            contact.step += 1
            contact.step_deadline = deadline_from(contact.step_deadline)
        if contact.step_deadline is not None:
            self._arm("step", contact.contact_id, contact.step_deadline, contact.epoch)

    # Matching ------------------------------------------------------------------------------------

    def _match_contact(self, contact: Contact, now: float) -> None:
        if self._deferred is not None:
            self._deferred.append(contact)
            return
        if contact.state != "waiting" or contact.target_agent is not None:
            return
        qs = self.queues[contact.queue]
        req = qs.reqs[contact.step]
        pool = pool_of(contact.channel)
        best = self._pools.best((req, pool, qs.cfg.strategy))
        if best is None:
            return
        agent = self.agents[best[-1]]
        free = len(self._pools.bag((req, pool, qs.cfg.strategy)))
        self._offer(contact, agent, now, self._why(qs, contact.step, agent, free, now))

    def _match_agent(self, agent: Agent, now: float) -> None:
        pools = agent.free_pools()
        if not pools:
            return
        best: Key | None = None
        targeted = self._targeted.get(agent.agent_id)
        if targeted:
            for key in targeted.items:
                if pool_of(self.contacts[key[3]].channel) in pools:
                    best = key
                    break
        if best is None:
            bags = self._waiting_bags
            for queue, step in agent.bag_keys:
                for pool in pools:
                    bag = bags.get((queue, step, pool))
                    if bag and (best is None or bag.items[0] < best):
                        best = bag.items[0]
        if best is None:
            return
        contact = self.contacts[best[3]]
        qs = self.queues[contact.queue]
        why = (
            "transferred to this agent"
            if contact.target_agent
            else f"{self._step_text(qs, contact.step)}; {agent.agent_id} became free, oldest waiting contact"
        )
        self._offer(contact, agent, now, why)

    def _offer(self, contact: Contact, agent: Agent, now: float, trace: str) -> None:
        self._leave_queue(contact)
        qs = self.queues[contact.queue]
        offer = Offer(
            offer_id=self._ids.new("offer"),
            contact_id=contact.contact_id,
            agent_id=agent.agent_id,
            deadline=now + qs.cfg.ring_time_s,
            step=contact.step,
        )
        self.offers[offer.offer_id] = offer
        contact.state, contact.offer_id = "offered", offer.offer_id
        agent.offer_id = offer.offer_id
        self._offer_seq += 1
        self._last_offered[agent.agent_id] = self._offer_seq
        self._set_state(agent, "offer", now, reason=None)
        self._arm("ring", offer.offer_id, offer.deadline, 0)
        self._log_contact(
            contact,
            "contact.offered",
            now,
            agent=agent.agent_id,
            offer_id=offer.offer_id,
            step=contact.step,
            strategy=qs.cfg.strategy,
            trace=trace,
            ring_deadline=offer.deadline,
        )
        self._emit(
            m.OfferContact(
                offer_id=offer.offer_id,
                contact_id=contact.contact_id,
                agent_id=agent.agent_id,
                queue=contact.queue,
                channel=contact.channel,
                ring_deadline=offer.deadline,
                trace=trace,
                caller=contact.caller,
                attributes=dict(contact.attributes),
            )
        )

    def _why(self, qs: QueueState, step: int, agent: Agent, free: int, now: float) -> str:
        strategy = qs.cfg.strategy
        detail = {
            "longest-idle": f"idle {now - agent.idle_since:.0f} s, the longest",
            "least-occupied": f"{agent.handle_time:.0f} s handled so far, the least",
            "round-robin": "next in turn",
            "best-skill-match": f"skill score {self._score(agent, qs.reqs[step])}, the best",
            "random": "drawn at random",
        }[strategy]
        return f"{self._step_text(qs, step)}; {strategy}: {agent.agent_id} {detail} of {free} free"

    def _step_text(self, qs: QueueState, step: int) -> str:
        need = ", ".join(f"{k}>={v}" for k, v in sorted(qs.cfg.steps[step].require.items())) or "any agent"
        return f"step {step + 1}/{len(qs.cfg.steps)} ({need})"

    # Offers coming back ----------------------------------------------------------------------------

    def _take_back(self, offer: Offer, reason: str, now: float) -> None:
        """An offer that did not work: the contact keeps its place and looks again."""
        self._withdraw(offer, reason, now, requeue=True)

    def _withdraw(self, offer: Offer, reason: str, now: float, *, requeue: bool) -> None:
        del self.offers[offer.offer_id]
        agent, contact = self.agents[offer.agent_id], self.contacts[offer.contact_id]
        agent.offer_id = None
        contact.offer_id = None
        kind = {"declined": "contact.offer_declined", "timed_out": "contact.offer_timed_out"}.get(
            reason, "contact.offer_withdrawn"
        )
        self._log_contact(contact, kind, now, agent=agent.agent_id, offer_id=offer.offer_id, reason=reason)
        self._emit(
            m.WithdrawOffer(
                offer_id=offer.offer_id, contact_id=contact.contact_id, agent_id=agent.agent_id, reason=reason
            )
        )
        if requeue:
            contact.state = "waiting"
            contact.epoch += 1
            self._arm_step(contact, now, fresh=False)
            self._index_waiting(contact)
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
        self._log_contact(contact, "contact.wrap_up", now, agent=agent.agent_id, talk_s=round(talk, 3))

    def _after_contact(self, agent: Agent, contact: Contact, now: float) -> None:
        wrap = self.queues[contact.queue].cfg.wrap_up_s
        if (
            agent.state is State.ON_CONTACT
            and not agent.contacts
            and wrap > 0
            and agent.pending_not_ready is None
        ):
            agent.wrap_up_until = now + wrap
            agent.wrap_up_contact = contact.contact_id
            self._set_state(agent, "contact_end", now, reason=None, wrap=True)
            self._arm("wrap", agent.agent_id, agent.wrap_up_until, 0)
            return
        if not agent.contacts:
            agent.idle_since = now
        self._set_state(agent, "contact_end", now, reason=agent.pending_not_ready)
        self._match_agent(agent, now)

    def _finish(self, contact: Contact, reason: str, now: float, by: str | None = None) -> None:
        contact.state = "ended"
        self._log_contact(contact, "contact.ended", now, reason=reason, by=by)
        self._emit(m.FinishContact(contact_id=contact.contact_id, reason=reason))
        del self.contacts[contact.contact_id]
        self._ended_ids.add(contact.contact_id)
        self._ended_order.append(contact.contact_id)
        if len(self._ended_order) > 200_000:  # remember recent ones to name late events
            for old in self._ended_order[:100_000]:
                self._ended_ids.discard(old)
            del self._ended_order[:100_000]

    # Timers -------------------------------------------------------------------------------------------

    def _arm(self, kind: str, ident: str, when: float, token: int) -> None:
        self._seq += 1
        heapq.heappush(self._timers, (when, self._seq, kind, ident, token))

    def _timer_live(self, timer: tuple[float, int, str, str, int]) -> bool:
        when, _, kind, ident, token = timer
        if kind == "ring":
            return ident in self.offers
        if kind == "positions":
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
        self._bag(contact.queue, contact.step, pool_of(contact.channel)).remove(contact.key)
        contact.step += 1
        contact.epoch += 1
        contact.step_deadline = None
        self._arm_step(contact, now, fresh=True)
        self._bag(contact.queue, contact.step, pool_of(contact.channel)).add(contact.key)
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
        if target is None or (target.to == "callback" and contact.channel == "callback"):
            return
        queue = contact.queue
        self._leave_queue(contact)
        contact.queued_at = now if target.to == "queue" else contact.queued_at
        self._overflow(contact, queue, "max_wait", target, now)

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
                    self._emit(
                        m.PositionUpdated(
                            contact_id=c.contact_id,
                            queue=name,
                            channel=c.channel,
                            position=pos,
                            ewt_s=shown[1],
                        )
                    )
        if self._pos_told:
            self._arm_positions(now)

    def _arm_positions(self, now: float) -> None:
        if self._pos_every is not None and not self._pos_armed:
            self._pos_armed = True
            self._arm("positions", "", now + self._pos_every, 0)

    def _wrap_end(self, agent_id: str, _token: int, now: float) -> None:
        agent = self.agents.get(agent_id)
        if agent is None or agent.state is not State.WRAP_UP or agent.wrap_up_until is None:
            return
        if agent.wrap_up_until > now:
            return
        agent.wrap_up_until = None
        agent.idle_since = now
        self._set_state(agent, "wrap_up_end", now, reason=None)
        self._match_agent(agent, now)

    # State changes and the pools -----------------------------------------------------------------

    def _allowed(self, agent: Agent, action: str) -> str:
        target = TRANSITIONS.get((agent.state, action))
        if target is None:
            raise m.IllegalTransition(
                f"agent {agent.agent_id} cannot {action.replace('_', ' ')} while {agent.state.value}"
            )
        return target

    def _set_state(
        self, agent: Agent, action: str, now: float, *, reason: str | None, wrap: bool = False
    ) -> None:
        target = self._allowed(agent, action)
        if target == AFTER_CONTACT and wrap:
            new = State.WRAP_UP
        elif target in (SETTLE, AFTER_CONTACT):
            new = agent.settle_state()
        else:
            new = State(target)
        if new is State.NOT_READY:
            reason = agent.pending_not_ready or reason
            agent.pending_not_ready = None
        elif new is not State.ON_CONTACT:
            reason = None
        previous, previous_reason = agent.state, agent.reason
        was_working = previous in WORKING
        agent.state, agent.reason = new, reason
        if (new, reason) != (previous, previous_reason):
            agent.since = now
            # the log event is also what desks and wallboards are told (no second command)
            self._log_agent(
                agent,
                "agent.state",
                now,
                state=new.value,
                reason=reason,
                previous=previous.value,
                until=agent.wrap_up_until if wrap else None,
            )
        if was_working != (new in WORKING):
            self._count_staffed(agent, +1 if new in WORKING else -1)
        if (previous is State.LOGGED_OUT) != (new is State.LOGGED_OUT):
            self._count_logged_in(agent, +1 if previous is State.LOGGED_OUT else -1)
        self._refresh(agent)

    def _refresh(self, agent: Agent) -> None:
        """Put the agent in, or take it out of, the free-agent indexes it belongs in now."""
        pools = agent.free_pools()
        if not pools:
            self._pools.drop(agent.agent_id)
            return
        seq = self._agent_seq[agent.agent_id]
        placements = []
        for req in agent.matches:
            used = self._req_pools[req]
            for strategy in self._req_strategies[req]:
                key = self._strategy_key(strategy, agent, req, seq)
                for pool in pools:
                    if pool in used:
                        placements.append(((req, pool, strategy), key))
        self._pools.put(agent.agent_id, placements)

    def _strategy_key(self, strategy: str, agent: Agent, req: int, seq: int) -> tuple[Any, ...]:
        if strategy == "longest-idle":
            return (agent.idle_since, seq, agent.agent_id)
        if strategy == "least-occupied":
            return (agent.handle_time, agent.idle_since, seq, agent.agent_id)
        if strategy == "round-robin":
            return (self._last_offered.get(agent.agent_id, 0), seq, agent.agent_id)
        if strategy == "best-skill-match":
            return (-self._score(agent, req), agent.idle_since, seq, agent.agent_id)
        return (self._rng.random(), seq, agent.agent_id)

    def _score(self, agent: Agent, req: int) -> int:
        require = self._reqs[req]
        return sum(agent.skills.get(s, 0) for s in require) if require else sum(agent.skills.values())

    def _count_staffed(self, agent: Agent, delta: int) -> None:
        for req in agent.matches:
            self._staffed[req] += delta

    def _count_logged_in(self, agent: Agent, delta: int) -> None:
        for req in agent.matches:
            self._logged_in[req] += delta

    # Helpers -----------------------------------------------------------------------------------------

    def _requirement(self, require: Mapping[str, int], strategy: str, channels: Sequence[str]) -> int:
        for skill in require:
            if skill not in self.skills:
                raise m.UnknownSkill(f"routing step requires unknown skill {skill!r}")
        key = tuple(sorted(require.items()))
        req = self._req_ids.get(key)
        if req is None:
            req = self._req_ids[key] = len(self._reqs)
            self._reqs.append(dict(require))
        self._req_strategies.setdefault(req, set()).add(strategy)
        self._req_pools.setdefault(req, set()).update(pool_of(ch) for ch in channels)
        return req

    def _matching_reqs(self, agent: Agent) -> tuple[int, ...]:
        return tuple(i for i, require in enumerate(self._reqs) if agent.meets(require))

    def _bag(self, queue: str, step: int, pool: str) -> SortedBag:
        bag = self._waiting_bags.get((queue, step, pool))
        if bag is None:
            bag = self._waiting_bags[(queue, step, pool)] = SortedBag()
        return bag

    def _check_skills(self, skills: Mapping[str, int]) -> None:
        for skill, level in skills.items():
            if skill not in self.skills:
                raise m.UnknownSkill(f"unknown skill {skill!r}")
            if not isinstance(level, int) or not 1 <= level <= 5:
                raise m.BadInput(f"skill level for {skill!r} is {level!r}; levels run from 1 to 5")

    def _priority_for(self, cfg: QueueConfig, e: m.ContactArrived) -> tuple[int, float]:
        pclass = e.priority_class
        head = e.head_start_s
        for rule in cfg.priority_rules:
            if all(e.attributes.get(k) == v for k, v in rule.when.items()):
                if pclass is None and rule.priority_class is not None:
                    pclass = rule.priority_class
                if head is None and rule.head_start_s:
                    head = rule.head_start_s
        return (DEFAULT_PRIORITY_CLASS if pclass is None else pclass), (head or 0.0)

    def _ewt(self, qs: QueueState, position: int) -> float | None:
        staffed = self._staffed[qs.reqs[-1]]
        if staffed == 0:
            return None
        return position * qs.aht / staffed

    def _agent(self, agent_id: str) -> Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise m.UnknownAgent(f"unknown agent {agent_id!r}")
        return agent

    def _queue(self, name: str) -> QueueState:
        qs = self.queues.get(name)
        if qs is None:
            raise m.UnknownQueue(f"unknown queue {name!r} (known: {', '.join(sorted(self.queues))})")
        return qs

    def _live_contact(self, contact_id: str) -> Contact:
        contact = self.contacts.get(contact_id)
        if contact is None:
            if contact_id in self._ended_ids:
                raise m.ContactEndedAlready(f"contact {contact_id} has already ended")
            raise m.UnknownContact(f"unknown contact {contact_id!r}")
        return contact

    def _find_offer(self, offer_id: str, agent_id: str) -> Offer:
        offer = self.offers.get(offer_id)
        if offer is None:
            raise m.UnknownOffer(f"offer {offer_id!r} is not ringing (answered, taken back or unknown)")
        if offer.agent_id != agent_id:
            raise m.NotYours(f"offer {offer_id} is not for {agent_id}")
        return offer

    def _emit(self, command: Any) -> None:
        self._commands.append(command)

    def _log_contact(
        self, contact: Contact, kind: str, now: float, *, agent: str | None = None, **data: Any
    ) -> None:
        ctx, parent = self._next_context(contact)
        self._commands.append(
            RecordEvent(
                event=InteractionEvent(
                    type=kind,
                    at=now,
                    contact_id=contact.contact_id,
                    agent_id=agent,
                    queue=contact.queue,
                    data=m.event_data(**data),
                    context_id=ctx,
                    parent_id=parent,
                )
            )
        )

    def _next_context(self, holder: Contact | Agent) -> tuple[str, str | None]:
        """The next link of a contact's or agent's causal chain: (its id, its parent's id).

        One id is minted per contact (and per agent login), then numbered: unique across
        restarts (the injected ids are), reproducible with seeded ids, cheap per event."""
        if holder.ctx_base is None:
            holder.ctx_base = self._ids.new("context")
        holder.ctx_n += 1
        ctx, parent = f"{holder.ctx_base}.{holder.ctx_n}", holder.ctx
        holder.ctx = ctx
        return ctx, parent

    def _log_agent(self, agent: Agent, kind: str, now: float, **data: Any) -> None:
        ctx, parent = self._next_context(agent)
        self._commands.append(
            RecordEvent(
                event=InteractionEvent(
                    type=kind,
                    at=now,
                    agent_id=agent.agent_id,
                    data=m.event_data(**data),
                    context_id=ctx,
                    parent_id=parent,
                )
            )
        )
