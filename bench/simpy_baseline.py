"""The benchmark's scenario written with SimPy: the baseline for the simulator's virtual mode.

``run_simpy_model(scenario)`` is the same model as ``simulator/virtual.py`` runs, written the
SimPy way: a process per caller (IVR time, queue, patience as ``connected | timeout``), a
process per agent shift and per ringing offer, SimPy's clock and event queue. The contact
center inside is the same real ACD engine (``callcenter.acd``: queues, routing steps,
strategies, offers, wrap-up, the interaction log), so both produce the same interaction
events and the same summary; what differs is the simulation kernel: SimPy's generic one
against virtual mode's own heap loop. The random draws are taken in the same order from
the same seeded generators, so for the benchmark's scenario the two logs are identical,
which ``bench/sim_bench.py`` checks before it prints a ratio.

``run_bare_fifo`` is a smaller model kept for reference (the baseline of earlier runs):
one ``simpy.Resource`` of identical servers and counters, no agents by name, no routing,
no interaction log. It does a fraction of the work, so its speed is not the same model's.
"""

from __future__ import annotations

import contextlib
import math
import random
from bisect import bisect_left
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import simpy

from callcenter.acd.commands import ConnectContact, OfferContact
from callcenter.acd.engine import AcdEngine
from callcenter.acd.errors import AcdError
from callcenter.acd.messages import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentReady,
    ContactAbandoned,
    ContactArrived,
    ContactEnded,
    OfferAccepted,
    OfferDeclined,
)
from callcenter.config.hours import HoursTable
from callcenter.core.events import InteractionEvent, RecordEvent
from callcenter.core.ids import SequentialIds
from simulator.arrivals import Arrival, poisson, read_trace
from simulator.scenario import AgentGroup, Scenario
from simulator.shifts import work_periods
from simulator.virtual import MISTAKE_COST_S, RETRY_AFTER_MISS_S

Proc = Generator[simpy.Event, Any, None]


def day_profile() -> list[float]:
    """Relative arrival rate per hour of day: quiet nights, morning and afternoon peaks."""
    return [
        0.05,
        0.03,
        0.02,
        0.02,
        0.02,
        0.05,
        0.2,
        0.6,
        1.0,
        1.3,
        1.4,
        1.3,
        1.1,
        1.3,
        1.3,
        1.2,
        1.0,
        0.8,
        0.6,
        0.5,
        0.4,
        0.3,
        0.2,
        0.1,
    ]


@dataclass
class SimpyRun:
    events: list[InteractionEvent] = field(default_factory=list)
    contacts: int = 0
    start_epoch: float = 0.0
    end_epoch: float = 0.0


class _Model:
    """Scenario features covered: arrivals (Poisson with profiles, or a trace), the contact
    mix, IVR time with mistakes and hang-ups, patience, agent groups with shifts, breaks,
    answer delay, declines, no-answers, handling and wrap-up times. (Not covered: the real
    IVR flows and replayed per-contact values, which the benchmark does not use.)"""

    def __init__(self, s: Scenario) -> None:
        if s.ivr.flow is not None:
            raise ValueError("the SimPy model does not walk IVR flows")
        self.s = s
        self.rng = random.Random(s.seed)
        self.t0 = s.start.timestamp()
        self.env = simpy.Environment(initial_time=self.t0)
        self.engine = AcdEngine(
            s.queues,
            [k.name for k in s.skills],
            ids=SequentialIds(),
            rng=random.Random(s.seed + 1),
            hours=HoursTable({}),
        )
        self.run = SimpyRun(start_epoch=self.t0)
        self.patience = s.patience.sampler(self.rng).draw if s.patience else None
        self.ivr_time = s.ivr.time.sampler(self.rng).draw
        weights = [k.weight for k in s.mix]
        self.mix_cum = [sum(weights[: i + 1]) / sum(weights) for i in range(len(weights))]
        self.mix_cum[-1] = 1.0
        self.kind_attrs = [
            {
                **k.attributes,
                **{key: getattr(k, key) for key in ("intent", "language", "segment") if getattr(k, key)},
            }
            for k in s.mix
        ]
        self.agents: dict[str, tuple[AgentGroup, Any, Any, Any]] = {}
        self.connected: dict[str, simpy.Event] = {}  # contact -> fires with its handling time
        self.timer_at = math.inf

    # The engine ------------------------------------------------------------------------------------

    def feed(self, event: object) -> None:
        self.engine.handle(event, self.env.now)
        self.collect()

    def collect(self) -> None:
        now, append = self.env.now, self.run.events.append
        while cmds := self.engine.take_commands():
            for cmd in cmds:
                kind = type(cmd)
                if kind is RecordEvent:
                    append(cmd.event)
                elif kind is OfferContact:
                    self.offered(cmd)
                elif kind is ConnectContact:
                    _, handle, _, _ = self.agents[cmd.agent_id]
                    self.connected[cmd.contact_id].succeed((cmd.agent_id, handle()))
        due = self.engine.next_deadline()
        if due is not None and due < self.timer_at:  # the engine's own clock: ring, wrap-up, steps
            self.timer_at = due
            self.env.timeout(max(0.0, due - now)).callbacks.append(self.on_timer)

    def on_timer(self, _: simpy.Event) -> None:
        now = self.env.now
        if now < self.timer_at:
            return  # superseded by an earlier one that already ran
        self.timer_at = math.inf
        self.engine.handle_timer(now)
        self.collect()

    # Callers ----------------------------------------------------------------------------------------

    def caller(self, arrival: Arrival) -> Proc:
        env, rng, run = self.env, self.rng, self.run
        run.contacts += 1
        number = f"{run.contacts:07d}"
        cid = "c" + number
        i = bisect_left(self.mix_cum, rng.random())
        kind = self.s.mix[i]
        queue = arrival.queue or kind.queue
        caller = "+1555" + number
        run.events.append(
            InteractionEvent(
                type="contact.arrived",
                at=env.now,
                contact_id=cid,
                queue=queue,
                data={"channel": kind.channel, "caller": caller},
            )
        )
        ivr = self.ivr_time()
        mistake = rng.random() < self.s.ivr.mistake_rate
        hangup = rng.random() < self.s.ivr.hangup_rate
        attrs = dict(self.kind_attrs[i])
        if arrival.priority is not None and arrival.priority >= 2:
            attrs["tier"] = "top"
        if mistake:
            ivr += MISTAKE_COST_S
        if hangup:
            yield env.timeout(ivr * rng.random())
            run.events.append(
                InteractionEvent(
                    type="contact.ended", at=env.now, contact_id=cid, data={"reason": "ivr_hangup"}
                )
            )
            return
        if ivr > 0:
            yield env.timeout(ivr)
        connected = self.connected[cid] = env.event()
        self.feed(
            ContactArrived(contact_id=cid, channel=kind.channel, queue=queue, attributes=attrs, caller=caller)
        )
        patience = self.patience() if self.patience is not None else None
        if not connected.triggered:
            if patience is None:
                yield connected
            else:
                yield connected | env.timeout(patience)
                if not connected.triggered:
                    c = self.engine.contacts.get(cid)
                    if c is not None and c.state in ("waiting", "offered"):
                        self.feed(ContactAbandoned(contact_id=cid))
                    if not connected.triggered:
                        del self.connected[cid]
                        return
                    # connected in the same instant: the engine refused the abandon
        agent_id, handle = cast("tuple[str, Any]", connected.value)  # what ``collect`` succeeds it with
        del self.connected[cid]
        yield env.timeout(handle)
        contact = self.engine.contacts[cid]
        self.feed(ContactEnded(contact_id=cid))
        wrap = self.agents[agent_id][2]()
        if 0 < wrap < self.engine.queues[contact.queue].cfg.wrap_up_s:
            env.process(self.ready_after(agent_id, wrap))

    # Agents -----------------------------------------------------------------------------------------

    def offered(self, offer: OfferContact) -> None:
        group, _, _, answer = self.agents[offer.agent_id]
        r = self.rng.random()
        if r < group.decline_rate:
            self.env.process(self.decline(offer, answer()))
        elif r < group.decline_rate + group.no_answer_rate:
            self.env.process(
                self.ready_after(offer.agent_id, offer.ring_deadline + RETRY_AFTER_MISS_S - self.env.now)
            )
        else:
            delay = answer()
            if delay == 0:
                self.engine.handle(
                    OfferAccepted(offer_id=offer.offer_id, agent_id=offer.agent_id), self.env.now
                )
            else:
                self.env.process(self.accept(offer, delay))

    def accept(self, offer: OfferContact, delay: float) -> Proc:
        yield self.env.timeout(delay)
        with contextlib.suppress(AcdError):  # the caller hung up while it rang
            self.feed(OfferAccepted(offer_id=offer.offer_id, agent_id=offer.agent_id))

    def decline(self, offer: OfferContact, delay: float) -> Proc:
        yield self.env.timeout(delay)
        try:
            self.feed(OfferDeclined(offer_id=offer.offer_id, agent_id=offer.agent_id))
        except AcdError:
            return
        yield from self.ready_after(offer.agent_id, RETRY_AFTER_MISS_S)

    def ready_after(self, agent_id: str, delay: float) -> Proc:
        yield self.env.timeout(delay)
        a = self.engine.agents.get(agent_id)
        if a is not None and a.state.value in ("NOT_READY", "WRAP_UP"):
            self.feed(AgentReady(agent_id=agent_id))

    def shift(self, agent_id: str, group: AgentGroup) -> Proc:
        env = self.env
        for period in work_periods(self.s, group):
            yield env.timeout(period.on - env.now)
            self.feed(
                AgentLoggedIn(agent_id=agent_id, skills=group.skills, chat_capacity=group.chat_capacity)
            )
            self.feed(AgentReady(agent_id=agent_id))
            for start, end in period.breaks:
                yield env.timeout(start - env.now)
                self.feed(AgentNotReady(agent_id=agent_id, reason="break"))
                yield from self.ready_after(agent_id, end - env.now)
            if period.off is not None:
                yield env.timeout(period.off - env.now)
                while (a := self.engine.agents[agent_id]).contacts:
                    self.feed(AgentNotReady(agent_id=agent_id, reason="end of shift"))
                    yield env.timeout(30)
                if a.state.value != "LOGGED_OUT":
                    self.feed(AgentLoggedOut(agent_id=agent_id))

    # The run ----------------------------------------------------------------------------------------

    def go(self) -> SimpyRun:
        s, env = self.s, self.env
        arrivals = (
            read_trace(Path(s.arrivals.trace))
            if s.arrivals.trace
            else poisson(s.arrivals, s.start, s.duration, self.rng)
        )
        arrivals = [a for a in arrivals if a.at < s.duration]
        for gi, group in enumerate(s.agents):
            for n in range(group.count):
                agent_id = f"{group.name}-{gi}-{n}"
                self.agents[agent_id] = (
                    group,
                    group.handle_time.sampler(self.rng).draw,
                    group.wrap_up.sampler(self.rng).draw,
                    group.answer_delay.sampler(self.rng).draw,
                )
                env.process(self.shift(agent_id, group))

        def source() -> Proc:
            for arrival in arrivals:
                yield env.timeout(self.t0 + arrival.at - env.now)
                env.process(self.caller(arrival))

        env.process(source())
        env.run()
        end = self.t0 + s.duration
        self.run.end_epoch = max(end, self.run.events[-1].at if self.run.events else end)
        return self.run


def run_simpy_model(scenario: Scenario) -> SimpyRun:
    """Run ``scenario`` in SimPy around the real ACD engine; its interaction events."""
    return _Model(scenario).go()


@dataclass
class BareResult:
    offered: int
    answered: int
    abandoned: int
    within_sl: int
    total_wait: float


def run_bare_fifo(
    *,
    agents: int,
    calls_per_hour_peak: float,
    aht: float,
    aht_sd: float,
    patience: float,
    wrap_up: float,
    sl_s: float,
    seed: int,
    hours: float = 24.0,
) -> BareResult:
    """The smaller reference model: identical servers in one ``simpy.Resource``, counters only."""
    rng = random.Random(seed)
    env = simpy.Environment()
    pool = simpy.Resource(env, capacity=agents)
    profile = day_profile()
    sigma2 = math.log(1 + (aht_sd / aht) ** 2)
    mu, sigma = math.log(aht) - sigma2 / 2, sigma2**0.5
    result = BareResult(0, 0, 0, 0, 0.0)

    def caller(env: simpy.Environment) -> Proc:
        arrived = env.now
        result.offered += 1
        with pool.request() as req:
            outcome = yield req | env.timeout(rng.expovariate(1 / patience))
            if req not in outcome:
                result.abandoned += 1
                return
            wait = env.now - arrived
            result.answered += 1
            result.total_wait += wait
            result.within_sl += wait <= sl_s
            yield env.timeout(rng.lognormvariate(mu, sigma) + wrap_up)

    def source(env: simpy.Environment) -> Proc:
        end = hours * 3600
        while env.now < end:
            hour = int(env.now // 3600) % 24
            rate = calls_per_hour_peak * profile[hour] / 3600
            gap = rng.expovariate(rate)
            next_hour = (env.now // 3600 + 1) * 3600
            if env.now + gap >= next_hour:  # memoryless: restart at the hour with its rate
                yield env.timeout(next_hour - env.now)
                continue
            yield env.timeout(gap)
            env.process(caller(env))

    env.process(source(env))
    env.run()
    return result
