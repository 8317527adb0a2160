"""The agents: their state changes by the table, and the free-agent indexes.

``AgentPool`` holds every agent the engine knows and, per free agent, its entries in the
free-agent bags of (requirement, pool, strategy). Per agent, what never changes between
skill changes is worked out once (``index``): the requirements it meets, the waiting bags
it takes from and the free-agent bags it goes into, so that a state change costs a few
list operations. It keeps the per-requirement counts of ``Requirements`` as agents log in,
start or stop working.
"""

from __future__ import annotations

from typing import Any

from callcenter.acd.agents import AFTER_CONTACT, POOL_SETS, TRANSITIONS, WORKING, Agent, State
from callcenter.acd.errors import IllegalTransition, UnknownAgent
from callcenter.acd.event_chain import EventChain
from callcenter.acd.index import AgentPools
from callcenter.acd.ports import RandomSource
from callcenter.acd.requirements import Requirements
from callcenter.acd.waiting_lines import WaitingLines

_NAMES = {s: s.value for s in State}  # enum .value is slow on the hot path
_NOT_READY, _ON_CONTACT, _LOGGED_OUT, _WRAP_UP = (
    State.NOT_READY,
    State.ON_CONTACT,
    State.LOGGED_OUT,
    State.WRAP_UP,
)


class AgentPool:
    def __init__(
        self, requirements: Requirements, lines: WaitingLines, rng: RandomSource, chain: EventChain
    ) -> None:
        self.agents: dict[str, Agent] = {}
        self.seq: dict[str, int] = {}  # agent id -> its place in the tie-breaks of free-agent keys
        self.free = AgentPools()
        self.offer_seq = 0
        self.last_offered: dict[str, int] = {}  # agent id -> offer_seq of its last offer
        self._requirements = requirements
        self._lines = lines
        self._rng = rng
        self._chain = chain

    def agent(self, agent_id: str) -> Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise UnknownAgent(f"unknown agent {agent_id!r}")
        return agent

    def add(self, agent: Agent) -> None:
        """A login: the agent (new, or replacing its logged-out record), indexed."""
        self.agents[agent.agent_id] = agent
        self.seq.setdefault(agent.agent_id, len(self.seq))
        self.index(agent)

    def change_skills(self, agent: Agent, skills: dict[str, int]) -> None:
        requirements = self._requirements
        working = agent.state in WORKING
        present = agent.state is not State.LOGGED_OUT
        if working:
            requirements.count_staffed(agent, -1)
        if present:
            requirements.count_logged_in(agent, -1)
        agent.skills = skills
        self.index(agent)
        if working:
            requirements.count_staffed(agent, +1)
        if present:
            requirements.count_logged_in(agent, +1)

    def offered(self, agent: Agent) -> None:
        """Note an offer to the agent (the round-robin strategy's turn)."""
        self.offer_seq += 1
        self.last_offered[agent.agent_id] = self.offer_seq

    # State changes -----------------------------------------------------------------------------

    def _illegal(self, agent: Agent, action: str) -> IllegalTransition:
        return IllegalTransition(
            f"agent {agent.agent_id} cannot {action.replace('_', ' ')} while {agent.state.value}"
        )

    def allowed(self, agent: Agent, action: str) -> str:
        """Refuse ``action`` if the table has no row for it in the agent's state."""
        target = TRANSITIONS.get((agent.state, action))
        if target is None:
            raise self._illegal(agent, action)
        return target

    def set_state(
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
            self._requirements.count_staffed(agent, +1 if working else -1)
        if (previous is _LOGGED_OUT) != (new is _LOGGED_OUT):
            self._requirements.count_logged_in(agent, +1 if previous is _LOGGED_OUT else -1)
        if refresh:
            self.refresh(agent)

    def _log_state(self, agent: Agent, previous: State, now: float, wrap: bool) -> None:
        # the log event is also what desks and wallboards are told (no second command)
        if agent.reason is None:
            data: dict[str, Any] = {"state": _NAMES[agent.state], "previous": _NAMES[previous]}
        else:
            data = {"state": _NAMES[agent.state], "reason": agent.reason, "previous": _NAMES[previous]}
        if wrap and agent.wrap_up_until is not None:
            data["until"] = agent.wrap_up_until
        self._chain.log_agent(agent, "agent.state", now, data)

    # The free-agent indexes ---------------------------------------------------------------------

    def refresh(self, agent: Agent) -> None:
        """Put the agent in, or take it out of, the free-agent indexes it belongs in now."""
        pools = agent.free_pools()
        if not pools:
            self.free.drop(agent.agent_id)
            return
        seq = self.seq[agent.agent_id]
        placements = []
        for strategy, req, bags in agent.free_slots[pools]:
            key = self._strategy_key(strategy, agent, req, seq)
            for bag in bags:
                placements.append((bag, key))
        self.free.put(agent.agent_id, placements)

    def index(self, agent: Agent) -> None:
        """Work out what the agent's skills make it meet, and the bags that follow from it."""
        requirements, lines, free = self._requirements, self._lines, self.free
        queues = lines.queues
        agent.matches = requirements.met_by(agent)
        agent.bag_keys = tuple(qs for req in agent.matches for qs in requirements.steps.get(req, ()))
        for pools in POOL_SETS:  # every tuple Agent.free_pools() returns
            agent.wait_bags[pools] = tuple(
                lines.bag(queue, step, pool)
                for pool in pools
                for queue, step in agent.bag_keys
                if pool in queues[queue].pools
            )
            agent.free_slots[pools] = tuple(
                (
                    strategy,
                    req,
                    tuple(
                        free.bag((req, pool, strategy)) for pool in pools if pool in requirements.pools[req]
                    ),
                )
                for req in agent.matches
                for strategy in sorted(requirements.strategies[req])
            )

    def _strategy_key(self, strategy: str, agent: Agent, req: int, seq: int) -> tuple[Any, ...]:
        if strategy == "longest-idle":
            return (agent.idle_since, seq, agent.agent_id)
        if strategy == "least-occupied":
            return (agent.handle_time, agent.idle_since, seq, agent.agent_id)
        if strategy == "round-robin":
            return (self.last_offered.get(agent.agent_id, 0), seq, agent.agent_id)
        if strategy == "best-skill-match":
            return (-self._requirements.score(agent, req), agent.idle_since, seq, agent.agent_id)
        return (self._rng.random(), seq, agent.agent_id)
