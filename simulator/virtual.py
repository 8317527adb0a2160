"""Virtual mode: the real ACD engine on a virtual clock, with simulated callers and agents.

One heap of future happenings keyed by (time, sequence) drives everything; the engine is
called directly (it is pure; not through the server's ``runtime/driver.py``, and
docs/simulator.md lists what that skips), and its ``RecordEvent`` commands are the run's interaction
log, the same events the server writes. All randomness comes from one generator seeded by
the scenario, and the order of happenings is fully determined, so the same seed gives the
identical event log.

Callers: arrive (Poisson or trace), spend time in the IVR (some hang up there, some key a
wrong option first), join a queue, and abandon if their patience runs out before an agent
connects. Agents: log in for their shift, take breaks, answer offers after a delay (or
decline, or let them ring out, at configured rates; they are ready again 10 s later),
handle contacts for a sampled time and wrap up.
"""

from __future__ import annotations

import gc
import heapq
import itertools
import math
import random
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from callcenter.acd.commands import ConnectContact, FinishContact, OfferContact
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
from simulator.ivr_caller import IvrCallers, SpeechCount
from simulator.scenario import AgentGroup, Scenario, load_flow
from simulator.shifts import work_periods

RETRY_AFTER_MISS_S = 10.0
MISTAKE_COST_S = 8.0
CONTACT_KEYS = ("intent", "language", "segment")


@dataclass
class VirtualRun:
    scenario: Scenario
    events: list[InteractionEvent] = field(default_factory=list)
    start_epoch: float = 0.0
    end_epoch: float = 0.0
    contacts: int = 0
    speech: SpeechCount | None = None  # with an IVR flow: what the speaking callers did


@dataclass(slots=True)
class _Agent:
    agent_id: str
    group: AgentGroup
    handle: Callable[[], float]
    wrap: Callable[[], float]
    answer: Callable[[], float]


class _Simulation:
    def __init__(self, scenario: Scenario, progress: Callable[[float], None] | None) -> None:
        self.s = scenario
        self.rng = random.Random(scenario.seed)
        # who speaks and what the recogniser hears: streams of their own, as in live mode, so
        # the rest of the traffic is the seed's whatever the speech settings
        self.speech_rng = random.Random(scenario.seed + 3)
        self.hear_rng = random.Random(scenario.seed + 4)
        self.engine = AcdEngine(
            scenario.queues,
            [k.name for k in scenario.skills],
            ids=SequentialIds(),
            rng=random.Random(scenario.seed + 1),
            hours=HoursTable({}),
        )
        self.t0 = scenario.start.timestamp()
        self.heap: list[tuple[float, int, str, Any]] = []
        self.seq = itertools.count(1)
        self.run = VirtualRun(scenario=scenario, start_epoch=self.t0)
        self.progress = progress
        self.patience = scenario.patience.sampler(self.rng).draw if scenario.patience else None
        self.ivr_time = scenario.ivr.time.sampler(self.rng).draw
        weights = [k.weight for k in scenario.mix]
        total = sum(weights)
        self.mix_cum = [sum(weights[: i + 1]) / total for i in range(len(weights))]
        self.mix_cum[-1] = 1.0  # no draw falls past the last kind through rounding
        self.kind_attrs = [
            {
                **k.attributes,
                **{key: getattr(k, key) for key in ("intent", "language", "segment") if getattr(k, key)},
            }
            for k in scenario.mix
        ]
        self.agents: dict[str, _Agent] = {}
        self.arrivals: list[Arrival] = []
        self.connected: dict[str, str] = {}
        self.more = False  # the engine took an input while its commands were carried out
        self.touched = True  # the engine took an input since its deadline was last asked
        self.callers: IvrCallers | None = None
        if scenario.ivr.flow is not None:  # voice callers walk the real IVR flow
            flow = load_flow(
                Path(scenario.ivr.flow), queues={q.name for q in scenario.queues}, hours=set(scenario.hours)
            )
            self.callers = IvrCallers(self, flow)
            self.run.speech = self.callers.speech
        # per-contact values that replace the scenario's draws (a replay's recorded ones)
        self.service_for: dict[str, float] = {}
        self.patience_for: dict[str, float] = {}

    def at(self, t: float, kind: str, payload: Any) -> None:
        heapq.heappush(self.heap, (t, next(self.seq), kind, payload))

    # Set-up -------------------------------------------------------------------------------------

    def schedule(self) -> None:
        s = self.s
        arrivals = (
            read_trace(Path(s.arrivals.trace))
            if s.arrivals.trace
            else poisson(s.arrivals, s.start, s.duration, self.rng)
        )
        # drawn in full before anything else, as they are the first happenings scheduled
        self.arrivals = [a for a in arrivals if a.at < s.duration]
        for gi, group in enumerate(s.agents):
            for n in range(group.count):
                agent_id = f"{group.name}-{gi}-{n}"
                self.agents[agent_id] = _Agent(
                    agent_id,
                    group,
                    handle=group.handle_time.sampler(self.rng).draw,
                    wrap=group.wrap_up.sampler(self.rng).draw,
                    answer=group.answer_delay.sampler(self.rng).draw,
                )
                self._schedule_shifts(agent_id, group)

    def _schedule_shifts(self, agent_id: str, group: AgentGroup) -> None:
        for period in work_periods(self.s, group):
            self.at(period.on, "login", agent_id)
            for start, end in period.breaks:
                self.at(start, "break", agent_id)
                self.at(end, "ready", agent_id)
            if period.off is not None:
                self.at(period.off, "logout", agent_id)

    # The loop -----------------------------------------------------------------------------------

    def go(self) -> VirtualRun:
        """Run to the end, with the cyclic garbage collector paused meanwhile.

        A run keeps nearly everything it makes (the log grows by ten events per contact), so
        the collector's passes would find nothing to free and only cost time: about 15% of a
        one-day run, and as much again in the summary fold after it (see the end). Nothing a
        run makes forms a reference cycle (``tests/simulator`` checks that a run leaves no
        cyclic garbage), so reference counting frees all that is dropped and memory stays
        as it would be with the collector on."""
        paused = gc.isenabled()
        gc.collect(1)  # young garbage from before the run goes first: what is moved below is the run's
        gc.disable()
        try:
            return self._loop()
        finally:
            # What the run made was never seen by the collector, so its first passes after
            # the run would walk all of it (a day: a million objects, 25-70 ms) three times
            # over, young generation to old; moving it all to the oldest generation at once
            # (freeze, then unfreeze) skips that: old objects are walked only in the rare
            # full collections, as any long-lived data is.
            gc.freeze()
            gc.unfreeze()
            if paused:
                gc.enable()

    def _loop(self) -> VirtualRun:
        """Three sources of happenings, taken in time order: the arrivals (a
        sorted list, scheduled before anything else, so they go first at equal times), the
        heap of everything else, and the engine's own deadline (after both at equal times).
        Locals stand in for attribute look-ups: this loop runs a few times per contact."""
        self.schedule()
        arrivals, ai, n_arrivals = self.arrivals, 0, len(self.arrivals)
        heap, pop, inf = self.heap, heapq.heappop, math.inf
        engine = self.engine
        next_deadline, handle_timer = engine.next_deadline, engine.handle_timer
        handlers = {kind: getattr(self, f"on_{kind}") for kind in self.KINDS}
        if self.callers is not None:
            handlers.update({kind: getattr(self.callers, f"on_{kind}") for kind in self.callers.KINDS})
        on_arrive, collect, acd_error = self.on_arrive, self.collect, AcdError
        end, skip_late = self.t0 + self.s.duration, not self.s.drain
        progress, t0, step = self.progress, self.t0, self.s.duration / 100
        next_report = t0
        d = inf  # the engine's deadline, asked again only after the engine took an input
        self.touched = True
        while True:
            if self.touched:
                self.touched = False
                due = next_deadline()
                d = inf if due is None else due
            h = heap[0][0] if heap else inf
            if ai < n_arrivals and arrivals[ai].at + t0 <= h and arrivals[ai].at + t0 <= d:
                arrival = arrivals[ai]
                ai += 1
                now = arrival.at + t0
                on_arrive(arrival, now)
            elif h <= d and h < inf:
                now, _, kind, payload = pop(heap)
                if skip_late and now >= end and kind == "login":
                    continue
                # an abandon for a contact connected a moment earlier is a real race: the
                # engine's refusal is the right outcome, nothing to do (try is cheaper here
                # than contextlib.suppress)
                try:  # noqa: SIM105
                    handlers[kind](payload, now)  # handlers reach the engine through feed()
                except acd_error:
                    pass
            elif d < inf:
                now = d
                handle_timer(now)
                collect(now)
                self.touched = True
            else:
                break
            if progress is not None and now >= next_report:
                progress(min(1.0, (now - t0) / self.s.duration))
                next_report += step
        self.run.end_epoch = max(end, self.run.events[-1].at if self.run.events else end)
        return self.run

    KINDS: ClassVar[tuple[str, ...]] = (
        "queue",
        "ivr_hangup",
        "abandon",
        "end",
        "accept",
        "decline",
        "login",
        "ready",
        "wrap_done",
        "break",
        "logout",
    )

    def feed(self, event: object, now: float) -> None:
        """Give the engine one input and carry out what it commands (handlers use this)."""
        self.engine.handle(event, now)
        self.touched = True  # its deadline may have moved
        self.collect(now)

    def collect(self, now: float) -> None:
        """Carry out the engine's commands; only an offer accepted at once (``on_offered``)
        gives the engine an input meanwhile, so only then are there more to take."""
        take, append = self.engine.take_commands, self.run.events.append
        while cmds := take():
            self.more = False
            for cmd in cmds:
                kind = type(cmd)
                if kind is RecordEvent:
                    append(cmd.event)
                elif kind is OfferContact:
                    self.on_offered(cmd, now)
                else:
                    self._command(cmd, now)
            if not self.more:
                return

    def _command(self, cmd: Any, now: float) -> None:
        kind = type(cmd)
        if kind is ConnectContact:
            agent = self.agents[cmd.agent_id]
            self.connected[cmd.contact_id] = cmd.agent_id
            handle = self.service_for.pop(cmd.contact_id, None)
            if handle is None:
                handle = agent.handle()
            self.at(now + handle, "end", cmd.contact_id)
        elif kind is FinishContact:
            self.connected.pop(cmd.contact_id, None)
            if self.callers is not None:
                self.callers.completed(cmd.contact_id, cmd.reason, now)

    # Callers ------------------------------------------------------------------------------------

    def on_arrive(self, arrival: Arrival, now: float) -> None:
        self.run.contacts += 1
        number = f"{self.run.contacts:07d}"
        cid = "c" + number
        rng = self.rng
        i = bisect_left(self.mix_cum, rng.random())  # the first kind whose share reaches the draw
        kind = self.s.mix[i]
        queue = arrival.queue or kind.queue
        caller = "+1555" + number
        data = {"channel": kind.channel, "caller": caller}
        self.run.events.append(
            InteractionEvent(type="contact.arrived", at=now, contact_id=cid, queue=queue, data=data)
        )
        ivr = self.ivr_time()
        ivr_s = self.s.ivr
        mistake = rng.random() < ivr_s.mistake_rate
        hangup = rng.random() < ivr_s.hangup_rate
        attrs = dict(self.kind_attrs[i])
        if arrival.priority is not None and arrival.priority >= 2:
            attrs["tier"] = "top"
        if arrival.service_s is not None:
            attrs["service_s"] = str(arrival.service_s)
        if self.callers is not None and kind.channel == "voice":  # the real IVR flow
            if hangup:  # their IVR time is when they give up
                self.at(now + ivr * rng.random(), "ivr_caller_hangup", cid)
            s = self.s
            speaks = bool(kind.say) and self.speech_rng.random() < s.speech_share  # live mode's rule
            say = kind.say if speaks or s.ivr.input == "speech" else None
            self.callers.start(cid, caller, queue, attrs, mistake, now, say)
            return
        if mistake:
            ivr += MISTAKE_COST_S
        if hangup:
            self.at(now + ivr * rng.random(), "ivr_hangup", cid)
            return
        if ivr > 0:
            self.at(now + ivr, "queue", (cid, queue, kind.channel, attrs, caller))
        else:  # straight to the queue: no IVR time to wait
            arrived = ContactArrived(
                contact_id=cid, channel=kind.channel, queue=queue, attributes=attrs, caller=caller
            )
            self.enqueue(arrived, now)

    def on_ivr_hangup(self, cid: str, now: float) -> None:
        self.run.events.append(
            InteractionEvent(type="contact.ended", at=now, contact_id=cid, data={"reason": "ivr_hangup"})
        )

    def on_queue(self, payload: tuple[str, str, str, dict[str, str], str], now: float) -> None:
        cid, queue, channel, attrs, caller = payload
        self.enqueue(
            ContactArrived(contact_id=cid, channel=channel, queue=queue, attributes=attrs, caller=caller),
            now,
        )

    def enqueue(self, arrived: ContactArrived, now: float) -> None:
        """The contact joins its queue; its patience starts."""
        cid = arrived.contact_id
        self.feed(arrived, now)
        patience = self.patience_for.pop(cid, None)
        if patience is None and self.patience is not None:
            patience = self.patience()
        # connected at once: no abandon to come (contacts never go back to a queue here), but
        # the patience is drawn all the same so the draws stay in step
        if patience is not None and cid not in self.connected:
            self.at(now + patience, "abandon", cid)

    def on_abandon(self, cid: str, now: float) -> None:
        c = self.engine.contacts.get(cid)
        if c is not None and c.state in ("waiting", "offered"):
            self.feed(ContactAbandoned(contact_id=cid), now)

    def on_end(self, cid: str, now: float) -> None:
        agent_id = self.connected.get(cid)
        if agent_id is None:
            return
        contact = self.engine.contacts[cid]
        self.feed(ContactEnded(contact_id=cid), now)
        wrap = self.agents[agent_id].wrap()
        queue_wrap = self.engine.queues[contact.queue].cfg.wrap_up_s
        if 0 < wrap < queue_wrap:
            self.at(now + wrap, "wrap_done", agent_id)

    # Agents -------------------------------------------------------------------------------------

    def on_offered(self, offer: OfferContact, now: float) -> None:
        agent = self.agents[offer.agent_id]
        r = self.rng.random()
        g = agent.group
        if r < g.decline_rate:
            self.at(now + agent.answer(), "decline", offer)
        elif r < g.decline_rate + g.no_answer_rate:
            self.at(offer.ring_deadline + RETRY_AFTER_MISS_S, "ready", agent.agent_id)
        else:
            delay = agent.answer()
            if delay == 0:
                self.engine.handle(OfferAccepted(offer_id=offer.offer_id, agent_id=offer.agent_id), now)
                self.more = True  # collect() takes what this yields
            else:
                self.at(now + delay, "accept", offer)

    def on_accept(self, offer: OfferContact, now: float) -> None:
        self.feed(OfferAccepted(offer_id=offer.offer_id, agent_id=offer.agent_id), now)

    def on_decline(self, offer: OfferContact, now: float) -> None:
        self.feed(OfferDeclined(offer_id=offer.offer_id, agent_id=offer.agent_id), now)
        self.at(now + RETRY_AFTER_MISS_S, "ready", offer.agent_id)

    def on_login(self, agent_id: str, now: float) -> None:
        g = self.agents[agent_id].group
        self.feed(AgentLoggedIn(agent_id=agent_id, skills=g.skills, chat_capacity=g.chat_capacity), now)
        self.feed(AgentReady(agent_id=agent_id), now)

    def on_ready(self, agent_id: str, now: float) -> None:
        a = self.engine.agents.get(agent_id)
        if a is not None and a.state.value in ("NOT_READY", "WRAP_UP"):
            self.feed(AgentReady(agent_id=agent_id), now)

    on_wrap_done = on_ready

    def on_break(self, agent_id: str, now: float) -> None:
        self.feed(AgentNotReady(agent_id=agent_id, reason="break"), now)

    def on_logout(self, agent_id: str, now: float) -> None:
        a = self.engine.agents.get(agent_id)
        if a is None:
            return
        if a.contacts:  # finish the contact first
            self.feed(AgentNotReady(agent_id=agent_id, reason="end of shift"), now)
            self.at(now + 30, "logout", agent_id)
            return
        if a.state.value != "LOGGED_OUT":
            self.feed(AgentLoggedOut(agent_id=agent_id), now)


def run_virtual(scenario: Scenario, progress: Callable[[float], None] | None = None) -> VirtualRun:
    """Run a scenario on a virtual clock; returns its interaction events."""
    return _Simulation(scenario, progress).go()
