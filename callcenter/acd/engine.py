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

``AcdEngine`` is a facade over parts, each built here and given the others it talks to:
``Requirements`` (the routing steps' skill requirements and who meets them),
``ContactBook`` (the contacts held), ``WaitingLines`` (who waits where, positions, the
estimated wait), ``AgentPool`` (agents, their state table, the free-agent indexes),
``EventChain`` (the commands and the log's causal chains), ``TimerHeap`` (the deadlines),
``Router`` (placement, overflow, matching, offers), ``Timers`` (what each timer kind does)
and ``Inputs`` (one handler per input). This file holds the public methods and queries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from callcenter.acd.agent_pool import AgentPool
from callcenter.acd.agents import State
from callcenter.acd.contacts import WAITING, Contact, ContactBook, Offer, QueueState
from callcenter.acd.errors import BadInput
from callcenter.acd.event_chain import EventChain
from callcenter.acd.inputs import Inputs, priority_for
from callcenter.acd.ports import HoursLike, RandomSource
from callcenter.acd.requirements import Requirements
from callcenter.acd.routing import Router
from callcenter.acd.timer_heap import TimerHeap
from callcenter.acd.timers import Timers
from callcenter.acd.views import AgentSnapshot, CenterSnapshot, ContactPosition, QueueSnapshot
from callcenter.acd.waiting_lines import WaitingLines
from callcenter.config.sections import CenterConfig, QueueConfig
from callcenter.core.ids import IdGenerator

__all__ = ["AcdEngine", "Contact", "HoursLike", "Offer", "QueueState", "RandomSource", "priority_for"]


class AcdEngine:
    _HANDLERS: ClassVar[dict[type, Callable[[Inputs, Any, float], None]]] = Inputs.HANDLERS

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
            raise BadInput("position_updates_s must be positive")
        self._ids = ids  # the cluster's replica check counts the ids minted (runtime/cluster_check.py)
        self.chain = EventChain(ids)
        self.book = ContactBook()
        self.requirements = Requirements(skills)
        self.lines = WaitingLines(queues, self.requirements, self.book, hours, default_aht=default_aht)
        self.agent_pool = AgentPool(self.requirements, self.lines, rng, self.chain)
        self.timer_heap = TimerHeap(position_updates_s)
        self.router = Router(
            self.requirements,
            self.lines,
            self.agent_pool,
            self.book,
            self.timer_heap,
            self.chain,
            ids,
            aht_weight=aht_weight,
        )
        self.timers = Timers(self.timer_heap, self.router, self.lines, self.agent_pool, self.book, self.chain)
        self.inputs = Inputs(
            self.requirements,
            self.lines,
            self.agent_pool,
            self.book,
            self.router,
            self.timer_heap,
            self.chain,
        )
        # what callers read: the parts' own tables (read-only outside the engine)
        self.skills = self.requirements.skills
        self.queues = self.lines.queues
        self.agents = self.agent_pool.agents
        self.contacts = self.book.contacts
        self.offers = self.router.offers

    @classmethod
    def from_config(
        cls, cfg: CenterConfig, *, ids: IdGenerator, rng: RandomSource, hours: HoursLike, **kwargs: Any
    ) -> AcdEngine:
        return cls(cfg.queues, [s.name for s in cfg.skills], ids=ids, rng=rng, hours=hours, **kwargs)

    # Public methods for the driver ------------------------------------------------------------

    def handle(self, event: object, now: float) -> None:
        """Apply one input. Raises ``AcdError`` (state unchanged) if it cannot be applied."""
        handler = self._HANDLERS.get(type(event))
        if handler is None:
            raise BadInput(f"the ACD does not take {type(event).__name__}")
        handler(self.inputs, event, now)

    def handle_timer(self, now: float) -> None:
        """Fire every timer due at ``now``: ring timeouts, step changes, max waits, wrap-ups,
        position announcements, the opening-hours tick (see ``timers.py``)."""
        self.timers.handle_timer(now)

    def next_deadline(self) -> float | None:
        """When ``handle_timer`` is next due (None: nothing is pending)."""
        return self.timers.next_deadline()

    def take_commands(self) -> list[Any]:
        """Commands produced since the last call, in order; the caller must carry them out."""
        return self.chain.take()

    # Public queries (read-only; safe from the writer's own task) ------------------------------

    def position(self, contact_id: str) -> tuple[int, float | None] | None:
        """(1-based position in its queue, estimated wait in seconds) of a waiting contact."""
        c = self.contacts.get(contact_id)
        if c is None or c.state != WAITING:
            return None
        return self.lines.position(c)

    def queue_snapshot(self, name: str, now: float) -> QueueSnapshot:
        qs = self.queues[name]
        longest = max((now - c.queued_at for c in qs.waiting.values()), default=0.0)
        by_channel: dict[str, int] = {}
        held = 0
        for c in qs.waiting.values():
            by_channel[c.channel] = by_channel.get(c.channel, 0) + 1
            held += c.held
        counts = {"available": 0, "on_contact": 0, "wrap_up": 0, "not_ready": 0, "offered": 0}
        steps = set(qs.reqs)  # agents who can serve the queue at any of its steps
        for a in self.agents.values():
            if a.state is State.LOGGED_OUT or steps.isdisjoint(a.matches):
                continue
            counts[a.state.value.lower()] += 1
        return QueueSnapshot(
            name=name,
            waiting=len(qs.waiting),
            longest_wait_s=longest,
            ewt_s=self.lines.ewt(qs, len(qs.waiting) + 1),
            agents=counts,
            waiting_by_channel=by_channel,
            held=held,
        )

    def snapshot(self, now: float) -> CenterSnapshot:
        """Every queue's figures and every waiting contact's position and estimated wait
        (costs one pass over the waiting contacts; ``position()`` is the cheap one)."""
        return CenterSnapshot(
            at=now,
            queues={name: self.queue_snapshot(name, now) for name in self.queues},
            waiting={
                name: tuple(
                    ContactPosition(
                        contact_id=c.contact_id,
                        queue=name,
                        channel=c.channel,
                        position=pos,
                        ewt_s=ewt,
                        waited_s=now - c.queued_at,
                    )
                    for pos, c, ewt in self.lines.ranked(qs)
                )
                for name, qs in self.queues.items()
            },
        )

    def agent_snapshot(self, agent_id: str) -> AgentSnapshot:
        a = self.agent_pool.agent(agent_id)
        return AgentSnapshot(
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

    # For tests that stand in for the clock (tests/support/shift_support.py) ---------------------

    @property
    def _hours(self) -> HoursLike:
        return self.lines.hours

    @_hours.setter
    def _hours(self, hours: HoursLike) -> None:
        self.lines.hours = hours

    def _arm(self, kind: str, ident: str, when: float, token: int) -> None:
        self.timer_heap.arm(kind, ident, when, token)
