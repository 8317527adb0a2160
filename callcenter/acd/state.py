"""The ACD engine's state, agent state changes, the free-agent indexes and the log.

``EngineState`` holds everything the engine knows; ``matching.Matching``, ``timers.Timers``
and ``engine.AcdEngine`` build on it, one layer each (see ``engine.py`` for the theory of
operation). Per agent, what never changes between skill changes is worked out once
(``_index_agent``): the requirements it meets, the waiting-contact bags it takes from and
the free-agent bags it goes into, so that a state change costs a few list operations.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from typing import Any

from callcenter.acd.agents import AFTER_CONTACT, POOL_SETS, TRANSITIONS, Agent, State, pool_of
from callcenter.acd.contacts import Contact, HoursLike, Offer, QueueState, RandomSource, step_text
from callcenter.acd.errors import (
    BadInput,
    ContactEndedAlready,
    IllegalTransition,
    UnknownAgent,
    UnknownContact,
    UnknownQueue,
    UnknownSkill,
)
from callcenter.acd.index import AgentPools, SortedBag
from callcenter.config.sections import QueueConfig
from callcenter.core.events import InteractionEvent, RecordEvent
from callcenter.core.ids import IdGenerator

WORKING = frozenset({State.AVAILABLE, State.OFFERED, State.ON_CONTACT, State.WRAP_UP})
_NAMES = {s: s.value for s in State}  # enum .value is slow on the hot path
_NOT_READY, _ON_CONTACT, _LOGGED_OUT, _WRAP_UP = (
    State.NOT_READY,
    State.ON_CONTACT,
    State.LOGGED_OUT,
    State.WRAP_UP,
)


class EngineState:
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
        self._ids = ids
        self._rng = rng
        self._hours = hours
        self._aht_weight = aht_weight
        self._pos_every = position_updates_s
        self._pos_armed = False
        self._hours_armed = False  # the minute tick that moves voicemails in and out of routing
        self._pos_told: dict[str, tuple[int, float | None]] = {}
        self.skills = frozenset(skills)
        self._reqs: list[dict[str, int]] = []
        self._req_ids: dict[tuple[tuple[str, int], ...], int] = {}
        self._req_strategies: dict[int, set[str]] = {}
        self._req_pools: dict[int, set[str]] = {}  # pools some queue step with this requirement takes
        self.queues: dict[str, QueueState] = {}
        self._steps_for_req: dict[int, list[tuple[str, int]]] = {}
        self._setup_queues(queues, default_aht)
        self._waiting_bags: dict[tuple[str, int, str], SortedBag] = {}
        self._targeted: dict[str, SortedBag] = {}  # agent id -> contacts transferred to them
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

    def _setup_queues(self, queues: Sequence[QueueConfig], default_aht: float) -> None:
        for q in queues:
            reqs = tuple(self._requirement(step.require, q.strategy, q.channels) for step in q.steps)
            self.queues[q.name] = QueueState(
                cfg=q,
                reqs=reqs,
                pools=frozenset(pool_of(ch) for ch in q.channels),
                step_texts=tuple(step_text(q, i) for i in range(len(q.steps))),
                aht=default_aht,
            )
            for i, req in enumerate(reqs):
                self._steps_for_req.setdefault(req, []).append((q.name, i))

    # State changes and the pools -----------------------------------------------------------------

    def _illegal(self, agent: Agent, action: str) -> IllegalTransition:
        return IllegalTransition(
            f"agent {agent.agent_id} cannot {action.replace('_', ' ')} while {agent.state.value}"
        )

    def _allowed(self, agent: Agent, action: str) -> str:
        target = TRANSITIONS.get((agent.state, action))
        if target is None:
            raise self._illegal(agent, action)
        return target

    def _set_state(
        self,
        agent: Agent,
        action: str,
        now: float,
        *,
        reason: str | None,
        wrap: bool = False,
        refresh: bool = True,
    ) -> None:
        """Apply ``action`` by the table, log it, keep the counters and (unless the caller
        does it itself, ``refresh=False``) the agent's place in the free-agent indexes."""
        previous = agent.state
        target = TRANSITIONS.get((previous, action))
        if target is None:
            raise self._illegal(agent, action)
        if isinstance(target, State):
            new = target
        elif wrap and target == AFTER_CONTACT:
            new = _WRAP_UP
        else:
            new = agent.settle_state()
        if new is _NOT_READY:
            reason = agent.pending_not_ready or reason
            agent.pending_not_ready = None
        elif new is not _ON_CONTACT:
            reason = None
        previous_reason = agent.reason
        agent.state, agent.reason = new, reason
        if new is not previous or reason != previous_reason:
            agent.since = now
            self._log_state(agent, previous, now, wrap)
        working = new in WORKING
        if (previous in WORKING) != working:
            self._count_staffed(agent, +1 if working else -1)
        if (previous is _LOGGED_OUT) != (new is _LOGGED_OUT):
            self._count_logged_in(agent, +1 if previous is _LOGGED_OUT else -1)
        if refresh:
            self._refresh(agent)

    def _log_state(self, agent: Agent, previous: State, now: float, wrap: bool) -> None:
        # the log event is also what desks and wallboards are told (no second command)
        if agent.reason is None:
            data: dict[str, Any] = {"state": _NAMES[agent.state], "previous": _NAMES[previous]}
        else:
            data = {"state": _NAMES[agent.state], "reason": agent.reason, "previous": _NAMES[previous]}
        if wrap and agent.wrap_up_until is not None:
            data["until"] = agent.wrap_up_until
        self._log_agent(agent, "agent.state", now, data)

    def _refresh(self, agent: Agent) -> None:
        """Put the agent in, or take it out of, the free-agent indexes it belongs in now."""
        pools = agent.free_pools()
        if not pools:
            self._pools.drop(agent.agent_id)
            return
        seq = self._agent_seq[agent.agent_id]
        placements = []
        for strategy, req, bags in agent.free_slots[pools]:
            key = self._strategy_key(strategy, agent, req, seq)
            for bag in bags:
                placements.append((bag, key))
        self._pools.put(agent.agent_id, placements)

    def _index_agent(self, agent: Agent) -> None:
        """Work out what the agent's skills make it meet, and the bags that follow from it."""
        agent.matches = tuple(i for i, require in enumerate(self._reqs) if agent.meets(require))
        agent.bag_keys = tuple(qs for req in agent.matches for qs in self._steps_for_req.get(req, ()))
        for pools in POOL_SETS:  # every tuple Agent.free_pools() returns
            agent.wait_bags[pools] = tuple(
                self._bag(queue, step, pool)
                for pool in pools
                for queue, step in agent.bag_keys
                if pool in self.queues[queue].pools
            )
            agent.free_slots[pools] = tuple(
                (
                    strategy,
                    req,
                    tuple(
                        self._pools.bag((req, pool, strategy))
                        for pool in pools
                        if pool in self._req_pools[req]
                    ),
                )
                for req in agent.matches
                for strategy in sorted(self._req_strategies[req])
            )

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
        staffed = self._staffed
        for req in agent.matches:
            staffed[req] += delta

    def _count_logged_in(self, agent: Agent, delta: int) -> None:
        logged_in = self._logged_in
        for req in agent.matches:
            logged_in[req] += delta

    # Helpers -----------------------------------------------------------------------------------------

    def _requirement(self, require: Mapping[str, int], strategy: str, channels: Sequence[str]) -> int:
        for skill in require:
            if skill not in self.skills:
                raise UnknownSkill(f"routing step requires unknown skill {skill!r}")
        key = tuple(sorted(require.items()))
        req = self._req_ids.get(key)
        if req is None:
            req = self._req_ids[key] = len(self._reqs)
            self._reqs.append(dict(require))
        self._req_strategies.setdefault(req, set()).add(strategy)
        self._req_pools.setdefault(req, set()).update(pool_of(ch) for ch in channels)
        return req

    def _bag(self, queue: str, step: int, pool: str) -> SortedBag:
        bag = self._waiting_bags.get((queue, step, pool))
        if bag is None:
            bag = self._waiting_bags[(queue, step, pool)] = SortedBag()
        return bag

    def _check_skills(self, skills: Mapping[str, int]) -> None:
        for skill, level in skills.items():
            if skill not in self.skills:
                raise UnknownSkill(f"unknown skill {skill!r}")
            if not isinstance(level, int) or not 1 <= level <= 5:
                raise BadInput(f"skill level for {skill!r} is {level!r}; levels run from 1 to 5")

    def _ewt(self, qs: QueueState, position: int) -> float | None:
        staffed = self._staffed[qs.reqs[-1]]
        if staffed == 0:
            return None
        return position * qs.aht / staffed

    def _agent(self, agent_id: str) -> Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise UnknownAgent(f"unknown agent {agent_id!r}")
        return agent

    def _queue(self, name: str) -> QueueState:
        qs = self.queues.get(name)
        if qs is None:
            raise UnknownQueue(f"unknown queue {name!r} (known: {', '.join(sorted(self.queues))})")
        return qs

    def _live_contact(self, contact_id: str) -> Contact:
        contact = self.contacts.get(contact_id)
        if contact is None:
            if contact_id in self._ended_ids:
                raise ContactEndedAlready(f"contact {contact_id} has already ended")
            raise UnknownContact(f"unknown contact {contact_id!r}")
        return contact

    def _arm(self, kind: str, ident: str, when: float, token: int) -> None:
        self._seq += 1
        heapq.heappush(self._timers, (when, self._seq, kind, ident, token))

    # The interaction log ---------------------------------------------------------------------------

    def _log_contact(
        self, contact: Contact, kind: str, now: float, agent: str | None, data: dict[str, Any]
    ) -> None:
        """Log a contact's event; ``data`` holds no None values (``model.event_data`` drops them).

        Each event is the next link of the contact's (or agent's) causal chain: one id is
        minted per contact (and per agent login), then numbered, so ids are unique across
        restarts (the injected ids are), reproducible with seeded ids and cheap per event.
        Written out here and in ``_log_agent``: this runs for every event."""
        if contact.ctx_base is None:
            contact.ctx_base = self._ids.new("context")
        contact.ctx_n += 1
        parent = contact.ctx
        contact.ctx = ctx = f"{contact.ctx_base}.{contact.ctx_n}"
        event = InteractionEvent(
            type=kind,
            at=now,
            contact_id=contact.contact_id,
            agent_id=agent,
            queue=contact.queue,
            data=data,
            context_id=ctx,
            parent_id=parent,
        )
        self._commands.append(RecordEvent(event=event))

    def _log_agent(self, agent: Agent, kind: str, now: float, data: dict[str, Any]) -> None:
        if agent.ctx_base is None:  # the causal chain, as in ``_log_contact``
            agent.ctx_base = self._ids.new("context")
        agent.ctx_n += 1
        parent = agent.ctx
        agent.ctx = ctx = f"{agent.ctx_base}.{agent.ctx_n}"
        event = InteractionEvent(
            type=kind, at=now, agent_id=agent.agent_id, data=data, context_id=ctx, parent_id=parent
        )
        self._commands.append(RecordEvent(event=event))
