"""The routing requirements: the distinct skill requirements of the queues' routing steps,
and per requirement how many agents who meet it are logged in and working.

A requirement is numbered the first time a routing step names it, in the configuration's
order (queues, then their steps), so its number is the same on every node: free-agent
entries in a snapshot name it. The counts are kept by ``AgentPool`` as agents change state
and read by the waiting lines (the estimated wait divides by the agents working) and by
routing (overflow when nobody logged in could serve a queue).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from callcenter.acd.agents import Agent, pool_of
from callcenter.acd.errors import BadInput, UnknownSkill
from callcenter.config.sections import QueueConfig


class Requirements:
    def __init__(self, skills: Sequence[str]) -> None:
        self.skills = frozenset(skills)
        self.reqs: list[dict[str, int]] = []  # requirement id -> minimum level per skill
        self._ids: dict[tuple[tuple[str, int], ...], int] = {}
        self.strategies: dict[int, set[str]] = {}  # the strategies of the queues that use it
        self.pools: dict[int, set[str]] = {}  # pools some queue step with this requirement takes
        self.steps: dict[int, list[tuple[str, int]]] = {}  # the (queue, step) pairs that use it
        self.staffed: list[int] = []  # agents working (ready, ringing, busy, wrap-up) who meet it
        self.logged_in: list[int] = []  # agents logged in who meet it, whatever their state

    def of_queue(self, q: QueueConfig) -> tuple[int, ...]:
        """The requirement of each of the queue's steps (numbering new ones)."""
        reqs = tuple(self._requirement(step.require, q.strategy, q.channels) for step in q.steps)
        for i, req in enumerate(reqs):
            self.steps.setdefault(req, []).append((q.name, i))
        return reqs

    def _requirement(self, require: Mapping[str, int], strategy: str, channels: Sequence[str]) -> int:
        for skill in require:
            if skill not in self.skills:
                raise UnknownSkill(f"routing step requires unknown skill {skill!r}")
        key = tuple(sorted(require.items()))
        req = self._ids.get(key)
        if req is None:
            req = self._ids[key] = len(self.reqs)
            self.reqs.append(dict(require))
            self.staffed.append(0)
            self.logged_in.append(0)
        self.strategies.setdefault(req, set()).add(strategy)
        self.pools.setdefault(req, set()).update(pool_of(ch) for ch in channels)
        return req

    def check_skills(self, skills: Mapping[str, int]) -> None:
        """Refuse an agent's skills that name an unknown skill or a level outside 1-5."""
        for skill, level in skills.items():
            if skill not in self.skills:
                raise UnknownSkill(f"unknown skill {skill!r}")
            if not isinstance(level, int) or not 1 <= level <= 5:
                raise BadInput(f"skill level for {skill!r} is {level!r}; levels run from 1 to 5")

    def met_by(self, agent: Agent) -> tuple[int, ...]:
        return tuple(i for i, require in enumerate(self.reqs) if agent.meets(require))

    def score(self, agent: Agent, req: int) -> int:
        """The agent's sum of levels in the skills ``req`` names (all its skills if none)."""
        require = self.reqs[req]
        return sum(agent.skills.get(s, 0) for s in require) if require else sum(agent.skills.values())

    def count_staffed(self, agent: Agent, delta: int) -> None:
        staffed = self.staffed
        for req in agent.matches:
            staffed[req] += delta

    def count_logged_in(self, agent: Agent, delta: int) -> None:
        logged_in = self.logged_in
        for req in agent.matches:
            logged_in[req] += delta
