"""Replay of the Anonymous Bank call records through the real ACD on a virtual clock.

Theory of operation: every usable record (see :func:`simulator.anonymous_bank.usable`)
that reached the queue or an agent becomes one contact that joins the queue of its type
at the moment it did in the data (``q_start``, or the service start for calls that were
served straight from the VRU). What the data records is used as recorded:

- type -> queue (:data:`QUEUE_OF_TYPE`); priority 2 callers carry ``tier: top`` and the
  queues give them the 90 s head start;
- service time: the recorded ``ser_time``; callers who hung up (or whose service time is
  missing) draw one from the recorded service times of their type, with the run's seed;
- patience: an abandoning caller's recorded wait is their patience, exactly; a served
  caller's patience is censored (it was at least the wait), so it is the recorded wait
  plus an exponential remainder with the mean patience estimated from the whole data
  (memoryless, so the remainder is the same distribution again);
- agents: each named agent logs in when the data shows them working (a session runs from
  the start of one service to the end of the last service that follows with gaps under
  ``gap_s``) with a skill for every queue whose calls they served in the replayed days.

Callers who hung up in the VRU never reach the ACD; they are counted, not simulated.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from callcenter.acd.messages import AgentLoggedOut, AgentNotReady, AgentReady
from callcenter.config.sections import PriorityRule, QueueConfig, RoutingStep, SkillConfig
from callcenter.core.events import InteractionEvent
from simulator.anonymous_bank import CallRecord, patience_estimate, usable
from simulator.distributions import exponential, fixed
from simulator.scenario import AgentGroup, Arrivals, ContactType, Scenario, Seconds
from simulator.virtual import VirtualRun, _Agent, _Simulation

QUEUE_OF_TYPE = {
    "PS": "general",  # regular
    "PE": "english",  # regular, in English
    "IN": "internet",  # internet support
    "NE": "stocks",  # stock exchange
    "NW": "sales",  # prospective customers
    "TT": "general",  # a returned call put on hold in the queue
}
HEAD_START_S = 90.0
DEFAULT_GAP_S = 1800.0


@dataclass(frozen=True, slots=True)
class ReplayContact:
    contact_id: str
    at: float  # epoch seconds of the queue entry (the data's clock read as UTC)
    queue: str
    priority: bool
    service_s: float
    patience_s: float
    recorded_wait_s: float
    recorded_outcome: str  # answered, abandoned


@dataclass(frozen=True, slots=True)
class Session:
    agent_id: str
    login: float
    logout: float


@dataclass
class ReplayPlan:
    contacts: list[ReplayContact]
    sessions: list[Session]
    skills: dict[str, dict[str, int]]
    ivr_hangups: list[float]  # entry times of callers who left in the VRU
    days: list[date]
    patience_mean_s: float
    unnamed_agent_calls: int = 0
    notes: list[str] = field(default_factory=list)


def _epoch(moment: datetime) -> float:
    return moment.replace(tzinfo=UTC).timestamp()


def select_days(records: Sequence[CallRecord], first: date | None, last: date | None) -> list[CallRecord]:
    """The records whose VRU entry falls on ``first``..``last`` (inclusive; None: open)."""
    return [r for r in records if (first is None or r.day >= first) and (last is None or r.day <= last)]


def plan_replay(
    records: Sequence[CallRecord],
    *,
    seed: int = 1,
    gap_s: float = DEFAULT_GAP_S,
    patience_mean_s: float | None = None,
) -> ReplayPlan:
    """Turn records into the contacts and agent sessions of a replay (pure, seeded)."""
    calls = usable(records)
    rng = random.Random(seed)
    mean_patience = patience_mean_s or patience_estimate(calls) or 300.0
    services: dict[str, list[int]] = defaultdict(list)
    for r in calls:
        if r.served and r.ser_s > 0:
            services[r.type].append(r.ser_s)
    everyone = [s for v in services.values() for s in v] or [180]
    contacts: list[ReplayContact] = []
    hangups: list[float] = []
    for r in sorted(calls, key=lambda r: (r.vru_entry, r.call_id)):
        enter = r.q_start or (r.ser_start if r.served else None)
        if enter is None:
            hangups.append(_epoch(r.vru_entry))
            continue
        wait = float(max(0, r.q_s)) if r.q_start is not None else 0.0
        if r.served and r.ser_s > 0:
            service = float(r.ser_s)
        else:
            service = float(rng.choice(services.get(r.type) or everyone))
        patience = wait if r.abandoned else wait + rng.expovariate(1.0 / mean_patience)
        contacts.append(
            ReplayContact(
                contact_id=f"ab{len(contacts) + 1:05d}-{r.call_id}",  # call ids repeat across VRUs
                at=_epoch(enter),
                queue=QUEUE_OF_TYPE.get(r.type, "general"),
                priority=r.priority >= 2,
                service_s=service,
                patience_s=patience,
                recorded_wait_s=wait,
                recorded_outcome="answered" if r.served else "abandoned",
            )
        )
    sessions, skills = _sessions(calls, gap_s)
    return ReplayPlan(
        contacts=contacts,
        sessions=sessions,
        skills=skills,
        ivr_hangups=hangups,
        days=sorted({r.day for r in calls}),
        patience_mean_s=mean_patience,
        unnamed_agent_calls=sum(r.served and r.agent is None for r in calls),
    )


def _sessions(calls: Sequence[CallRecord], gap_s: float) -> tuple[list[Session], dict[str, dict[str, int]]]:
    spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
    skills: dict[str, dict[str, int]] = defaultdict(dict)
    for r in calls:
        if r.served and r.agent is not None and r.ser_start is not None:
            agent_id = r.agent.lower()
            start = _epoch(r.ser_start)
            end = _epoch(r.ser_exit) if r.ser_exit is not None else start + r.ser_s
            spans[agent_id].append((start, max(start, end)))
            skills[agent_id][QUEUE_OF_TYPE.get(r.type, "general")] = 1
    sessions: list[Session] = []
    for agent_id, items in sorted(spans.items()):
        items.sort()
        login, logout = items[0]
        for start, end in items[1:]:
            if start - logout > gap_s:
                sessions.append(Session(agent_id, login, logout))
                login = start
            logout = max(logout, end)
        sessions.append(Session(agent_id, login, logout))
    sessions.sort(key=lambda s: (s.login, s.agent_id))
    return sessions, dict(skills)


def replay_scenario(plan: ReplayPlan, *, seed: int, sl_seconds: float, wrap_up_s: float = 0.0) -> Scenario:
    """The queues and skills of the replay as a scenario (its traffic comes from the plan)."""
    names = sorted({c.queue for c in plan.contacts} | {q for s in plan.skills.values() for q in s})
    start = min([c.at for c in plan.contacts] + [s.login for s in plan.sessions] or [0.0])
    day0 = datetime.fromtimestamp(start, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    end = max([c.at for c in plan.contacts] + [s.logout for s in plan.sessions] or [start])
    rule = PriorityRule(when={"tier": "top"}, head_start_s=HEAD_START_S)
    return Scenario(
        name="anonymous-bank-replay",
        duration=Seconds(max(1.0, end - day0.timestamp() + 1.0)),
        seed=seed,
        start=day0,
        arrivals=Arrivals(trace="(records)"),
        mix=[ContactType(queue=names[0] if names else "general")],
        agents=[],
        skills=[SkillConfig(name=n) for n in names],
        queues=[
            QueueConfig(
                name=n,
                steps=[RoutingStep(require={n: 1})],
                wrap_up_s=wrap_up_s,
                priority_rules=[rule],
                service_level_s=sl_seconds,
            )
            for n in names
        ],
        service_level_s=sl_seconds,
        interval_s=3600.0,
    )


class _Replay(_Simulation):
    KINDS: ClassVar[tuple[str, ...]] = (*_Simulation.KINDS, "replayed", "session_start", "session_end")

    def __init__(
        self, scenario: Scenario, plan: ReplayPlan, progress: Callable[[float], None] | None
    ) -> None:
        super().__init__(scenario, progress)
        self.plan = plan
        self.session_of: dict[str, int] = {}

    def schedule(self) -> None:
        for c in self.plan.contacts:
            self.at(c.at, "replayed", c)
        for n, s in enumerate(self.plan.sessions):
            if s.agent_id not in self.agents:
                group = AgentGroup(
                    count=1,
                    name=s.agent_id,
                    skills=self.plan.skills.get(s.agent_id, {}),
                    wrap_up=fixed(0.0),
                    handle_time=exponential(180.0),
                )
                zero = fixed(0.0).sampler(self.rng).draw
                self.agents[s.agent_id] = _Agent(s.agent_id, group, handle=zero, wrap=zero, answer=zero)
            self.at(s.login, "session_start", (s.agent_id, n))
            self.at(s.logout, "session_end", (s.agent_id, n))

    def on_replayed(self, c: ReplayContact, now: float) -> None:
        self.run.contacts += 1
        self.run.events.append(
            InteractionEvent(
                type="contact.arrived",
                at=now,
                contact_id=c.contact_id,
                queue=c.queue,
                data={"channel": "voice"},
            )
        )
        self.service_for[c.contact_id] = c.service_s
        self.patience_for[c.contact_id] = c.patience_s
        attrs = {"tier": "top" if c.priority else "regular"}
        self.on_queue((c.contact_id, c.queue, "voice", attrs, f"+1555{c.contact_id[1:]}"), now)

    def on_session_start(self, payload: tuple[str, int], now: float) -> None:
        agent_id, n = payload
        self.session_of[agent_id] = n
        a = self.engine.agents.get(agent_id)
        if a is None or a.state.value == "LOGGED_OUT":
            self.on_login(agent_id, now)
        else:  # still finishing the last session's call: stays on
            self.feed(AgentReady(agent_id=agent_id), now)

    def on_session_end(self, payload: tuple[str, int], now: float) -> None:
        agent_id, n = payload
        a = self.engine.agents.get(agent_id)
        if self.session_of.get(agent_id) != n or a is None or a.state.value == "LOGGED_OUT":
            return  # a later session has begun, or the agent is gone already
        if a.contacts:  # finish the call first
            self.feed(AgentNotReady(agent_id=agent_id, reason="end of shift"), now)
            self.at(now + 30, "session_end", payload)
            return
        self.feed(AgentLoggedOut(agent_id=agent_id), now)


def run_replay(
    plan: ReplayPlan,
    *,
    seed: int = 1,
    sl_seconds: float = 20.0,
    wrap_up_s: float = 0.0,
    progress: Callable[[float], None] | None = None,
) -> tuple[Scenario, VirtualRun]:
    """Run the plan; ``wrap_up_s`` adds after-call work the data does not record."""
    scenario = replay_scenario(plan, seed=seed, sl_seconds=sl_seconds, wrap_up_s=wrap_up_s)
    return scenario, _Replay(scenario, plan, progress).go()


def recorded_events(plan: ReplayPlan) -> list[dict[str, Any]]:
    """The recorded outcome of each replayed contact, for the comparison."""
    return [
        {"at": c.at, "queue": c.queue, "wait": c.recorded_wait_s, "outcome": c.recorded_outcome}
        for c in plan.contacts
    ]
