"""Virtual mode and the server's driver give the ACD engine the same life: one scripted day
(agents log in, contacts arrive, offers are accepted, declined or left to ring out, callers
abandon, calls end and wrap-ups run out) is fed (a) through ``runtime.driver.Driver`` on a
``VirtualClock``, as the server runs the ACD, and (b) through virtual mode's own loop
(``virtual._Simulation``: ``feed``, ``collect`` and the engine's deadline taken in time
order), and both must write the same interaction log: the same events, contact ids, data
and times. What virtual mode does without the driver is listed in docs/simulator.md.

The script's people are the same on both sides: each step makes its input from the offers
seen so far (an accept names the offer the agent was given). The simulated people of a
real run (answer delays, handling times drawn from the scenario) are left out here: they
are what a script replaces."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, ClassVar

from callcenter.acd.commands import OfferContact
from callcenter.acd.engine import AcdEngine
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
from callcenter.config.sections import QueueConfig, RoutingStep, SkillConfig
from callcenter.core.clock import VirtualClock
from callcenter.core.events import InteractionEvent, RecordEvent
from callcenter.core.ids import SequentialIds
from callcenter.runtime.driver import Driver
from simulator.scenario import AgentGroup, Arrivals, ContactType, Scenario, Seconds
from simulator.virtual import _Simulation

START = datetime.fromisoformat("2026-03-02T09:00:00+00:00")
T0 = START.timestamp()
SEED = 11

Offers = dict[str, str]  # agent id -> the offer they were last given
Step = tuple[float, Callable[[Offers], object]]  # seconds after T0, the input it makes


def _scenario() -> Scenario:
    return Scenario(
        name="same-log",
        duration=Seconds(600.0),
        seed=SEED,
        start=START,
        arrivals=Arrivals(rate_per_hour=1.0),  # unused: the script is the traffic
        mix=[ContactType(queue="general")],
        skills=[SkillConfig(name="billing")],
        queues=[
            QueueConfig(name="general", steps=[RoutingStep()], ring_time_s=15.0, wrap_up_s=5.0),
            QueueConfig(name="billing", steps=[RoutingStep(require={"billing": 1})], ring_time_s=15.0),
        ],
        agents=[AgentGroup(count=0)],
    )


def _accept(agent: str) -> Callable[[Offers], object]:
    return lambda offers: OfferAccepted(offer_id=offers[agent], agent_id=agent)


def _decline(agent: str) -> Callable[[Offers], object]:
    return lambda offers: OfferDeclined(offer_id=offers[agent], agent_id=agent)


def _is(event: object) -> Callable[[Offers], object]:
    return lambda offers: event


def _voice(cid: str, queue: str = "general") -> ContactArrived:
    return ContactArrived(contact_id=cid, channel="voice", queue=queue, caller=f"+1555{cid[1:]:0>7}")


# No step falls on an engine deadline: at equal times the two differ (docs/simulator.md).
SCRIPT: list[Step] = [
    (0.0, _is(AgentLoggedIn(agent_id="a1", skills={"billing": 1}))),
    (1.0, _is(AgentReady(agent_id="a1"))),
    (2.0, _is(AgentLoggedIn(agent_id="a2"))),
    (3.0, _is(AgentReady(agent_id="a2"))),
    (10.0, _is(_voice("c1"))),  # offered to a1 (idle longest)
    (13.0, _accept("a1")),
    (20.0, _is(_voice("c2"))),  # offered to a2, who lets it ring out at 35 (the engine's timer)
    (40.0, _is(ContactEnded(contact_id="c1"))),  # a1 wraps up until 45, then gets c2
    (50.0, _is(_voice("c3", "billing"))),  # waits: a1 rings with c2, a2 is not ready
    (52.0, _accept("a1")),
    (57.0, _is(ContactAbandoned(contact_id="c3"))),
    (70.0, _is(AgentReady(agent_id="a2"))),
    (71.0, _is(_voice("c4"))),
    (74.0, _decline("a2")),
    (80.5, _is(ContactAbandoned(contact_id="c4"))),
    (90.0, _is(ContactEnded(contact_id="c2"))),
    (91.0, _is(AgentNotReady(agent_id="a2", reason="lunch"))),
    (100.0, _is(_voice("c5", "billing"))),  # a1 takes it after wrap-up
    (112.0, _accept("a1")),
    (130.0, _is(AgentLoggedOut(agent_id="a2"))),
    (160.0, _is(ContactEnded(contact_id="c5"))),
    (200.0, _is(AgentNotReady(agent_id="a1", reason="end of shift"))),
    (201.0, _is(AgentLoggedOut(agent_id="a1"))),
]


def _engine(s: Scenario) -> AcdEngine:
    """The engine exactly as virtual mode builds it (``_Simulation.__init__``)."""
    return AcdEngine(
        s.queues,
        [k.name for k in s.skills],
        ids=SequentialIds(),
        rng=random.Random(s.seed + 1),
        hours=HoursTable({}),
    )


async def _through_driver(script: Sequence[Step]) -> list[InteractionEvent]:
    """The server's way: the driver's inbox and its one timer on the clock. Time moves to
    each due timer in turn (the driver reads ``now`` from the clock when it handles it)."""
    clock = VirtualClock(T0)
    log: list[InteractionEvent] = []
    offers: Offers = {}

    def dispatch(commands: Sequence[Any]) -> None:
        for cmd in commands:
            if isinstance(cmd, RecordEvent):
                log.append(cmd.event)
            elif isinstance(cmd, OfferContact):
                offers[cmd.agent_id] = cmd.offer_id

    async def timers_until(t: float) -> None:
        while (due := clock.next_timer()) is not None and due <= t:
            clock.advance_to(due)
            await driver.idle()

    driver = Driver(_engine(_scenario()), clock, dispatch, name="acd")
    driver.start()
    for at, make in script:
        await timers_until(T0 + at)
        clock.advance_to(T0 + at)
        await driver.submit(make(offers))  # a refusal fails the test: the script is legal
    await timers_until(float("inf"))
    await driver.stop()
    assert driver.rejected == 0
    return log


class _Scripted(_Simulation):
    """Virtual mode's loop with the script in place of its simulated callers and agents."""

    KINDS: ClassVar[tuple[str, ...]] = (*_Simulation.KINDS, "step")

    def __init__(self, scenario: Scenario, script: Sequence[Step]) -> None:
        super().__init__(scenario, None)
        self.script = script
        self.offers: Offers = {}

    def schedule(self) -> None:
        for at, make in self.script:
            self.at(self.t0 + at, "step", make)

    def on_step(self, make: Callable[[Offers], object], now: float) -> None:
        self.feed(make(self.offers), now)

    def on_offered(self, offer: OfferContact, now: float) -> None:
        self.offers[offer.agent_id] = offer.offer_id

    def _command(self, cmd: Any, now: float) -> None:
        """Connects and finishes need no simulated people here: the script ends the calls."""


async def test_driver_and_virtual_mode_write_the_same_log() -> None:
    by_driver = await _through_driver(SCRIPT)
    sim = _Scripted(_scenario(), SCRIPT)
    by_virtual = sim.go().events
    assert by_virtual == by_driver
    # the script did reach what it is about: timers, offers of each outcome, abandons
    kinds = [e.type for e in by_driver]
    for kind in ("contact.queued", "contact.offered", "contact.connected", "contact.ended"):
        assert kind in kinds
    states = [
        (e.agent_id, e.data.get("state"), e.data.get("reason")) for e in by_driver if e.type == "agent.state"
    ]
    assert ("a2", "NOT_READY", "missed") in states  # the ring timeout, fired by the timer
    assert ("a2", "NOT_READY", "declined") in states
    assert any(e.type == "contact.ended" and e.data.get("reason") == "abandoned" for e in by_driver)
    assert sum(e.at - T0 in (35.0, 45.0) for e in by_driver) >= 2  # the ring-out and a wrap-up's end
    assert len({e.contact_id for e in by_driver if e.contact_id}) == 5


def test_the_script_gives_the_same_log_twice() -> None:
    """Virtual mode alone: a second run of the same script is the same log (no hidden state)."""
    assert _Scripted(_scenario(), SCRIPT).go().events == _Scripted(_scenario(), SCRIPT).go().events
