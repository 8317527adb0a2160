"""Invariants of the ACD under random sequences of inputs (hypothesis stateful testing):
no contact offered to two agents at once; no agent over capacity; no eligible free agent
idle while a matching contact waits (a voicemail held for its closed queue's opening is
not waiting for anyone); every contact ends exactly once; FIFO within a priority class and
step; next_deadline() never in the past. A refused input changes nothing. Queue q2 keeps
hours (the ``night`` calendar) that the machine opens and closes."""

from __future__ import annotations

from collections import Counter

from acd_harness import Acd, RoutingStep, queue
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from callcenter.acd.agents import pool_of
from callcenter.acd.errors import AcdError
from callcenter.acd.messages import (
    AgentDisconnected,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentReady,
    AgentSkillsChanged,
    AttributesChanged,
    ContactAbandoned,
    ContactArrived,
    ContactEnded,
    ContactMoved,
    ContactTransferred,
    OfferAccepted,
    OfferDeclined,
    PriorityChanged,
    VoicemailCalledBack,
    VoicemailLeft,
)

AGENTS = ["a0", "a1", "a2", "a3", "a4"]
SKILLS = st.dictionaries(st.sampled_from(["billing", "cards"]), st.integers(1, 5), min_size=1)


class AcdMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.acd = Acd(
            [
                queue(
                    "q1",
                    channels=["voice", "chat"],
                    steps=[
                        RoutingStep(require={"billing": 3}, timeout=30),
                        RoutingStep(require={"billing": 1}),
                    ],
                ),
                queue(
                    "q2",
                    strategy="round-robin",
                    hours="night",
                    wrap_up_s=10,
                    ring_time_s=15,
                    steps=[RoutingStep(require={"cards": 1})],
                ),
            ],
            position_updates_s=20,
        )
        self.n = 0
        self.seen_offers = 0

    def attempt(self, event: object) -> None:
        """Apply an input; if the engine refuses it, nothing may have changed."""
        before = self.acd.fingerprint()
        try:
            self.acd(event)
        except AcdError:
            assert self.acd.fingerprint() == before, f"refused {event} but state changed"
        self.check_fifo()

    @rule(agent=st.sampled_from(AGENTS), skills=SKILLS, chats=st.integers(0, 3), vms=st.integers(0, 2))
    def login(self, agent: str, skills: dict[str, int], chats: int, vms: int) -> None:
        self.attempt(
            AgentLoggedIn(agent_id=agent, skills=skills, chat_capacity=chats, voicemail_capacity=vms)
        )

    @rule(closed=st.booleans())
    def night(self, closed: bool) -> None:
        (self.acd.hours.closed.add if closed else self.acd.hours.closed.discard)("night")

    @rule()
    def voicemail(self) -> None:
        self.n += 1
        message = VoicemailLeft(path="voicemail/x.wav", seconds=3.0, bytes=48_044, from_contact="x")
        self.attempt(
            ContactArrived(
                contact_id=f"c{self.n}", channel="voicemail", queue="q2", caller="+1555", voicemail=message
            )
        )

    @rule(i=st.integers(0, 50))
    def call_back(self, i: int) -> None:
        c = self.acd.engine.contacts.get(f"c{i}")
        by = c.agent_id if c is not None and c.agent_id else "a0"
        self.n += 1
        self.attempt(
            VoicemailCalledBack(contact_id=f"c{i}", agent_id=by, callback_id=f"c{self.n}", number="+1555")
        )

    @rule(agent=st.sampled_from(AGENTS))
    def ready(self, agent: str) -> None:
        self.attempt(AgentReady(agent_id=agent))

    @rule(agent=st.sampled_from(AGENTS), reason=st.sampled_from(["break", "lunch"]))
    def not_ready(self, agent: str, reason: str) -> None:
        self.attempt(AgentNotReady(agent_id=agent, reason=reason))

    @rule(agent=st.sampled_from(AGENTS))
    def logout(self, agent: str) -> None:
        self.attempt(AgentLoggedOut(agent_id=agent))

    @rule(agent=st.sampled_from(AGENTS))
    def disconnect(self, agent: str) -> None:
        self.attempt(AgentDisconnected(agent_id=agent))

    @rule(agent=st.sampled_from(AGENTS), skills=SKILLS)
    def skills(self, agent: str, skills: dict[str, int]) -> None:
        self.attempt(AgentSkillsChanged(agent_id=agent, skills=skills))

    @rule(
        q=st.sampled_from(["q1", "q2"]),
        channel=st.sampled_from(["voice", "chat"]),
        pclass=st.sampled_from([None, 0]),
    )
    def arrive(self, q: str, channel: str, pclass: int | None) -> None:
        self.n += 1
        self.attempt(
            ContactArrived(
                contact_id=f"c{self.n}", channel=channel, queue=q, caller="+1555", priority_class=pclass
            )
        )

    @rule(i=st.integers(0, 50), to=st.sampled_from(["q1", "q2"]))
    def move(self, i: int, to: str) -> None:
        self.attempt(ContactMoved(contact_id=f"c{i}", to_queue=to, by="sup"))

    @rule(i=st.integers(0, 50), pclass=st.sampled_from([None, 0, 2]), head=st.sampled_from([None, 5.0, 90.0]))
    def reprioritise(self, i: int, pclass: int | None, head: float | None) -> None:
        self.attempt(PriorityChanged(contact_id=f"c{i}", by="crm", priority_class=pclass, head_start_s=head))

    @rule(i=st.integers(0, 50), tier=st.sampled_from(["top", "regular"]))
    def learn(self, i: int, tier: str) -> None:
        self.attempt(AttributesChanged(contact_id=f"c{i}", attributes={"tier": tier}, by="crm"))

    @rule(i=st.integers(0, 50))
    def abandon(self, i: int) -> None:
        self.attempt(ContactAbandoned(contact_id=f"c{i}"))

    @rule(i=st.integers(0, 10), decline=st.booleans())
    def answer(self, i: int, decline: bool) -> None:
        offers = sorted(self.acd.engine.offers.values(), key=lambda o: o.offer_id)
        if not offers:
            return
        o = offers[i % len(offers)]
        cls = OfferDeclined if decline else OfferAccepted
        self.attempt(cls(offer_id=o.offer_id, agent_id=o.agent_id))

    @rule(i=st.integers(0, 50))
    def end(self, i: int) -> None:
        self.attempt(ContactEnded(contact_id=f"c{i}"))

    @rule(i=st.integers(0, 50), to=st.sampled_from(["q1", "q2", "a0", "a1"]))
    def transfer(self, i: int, to: str) -> None:
        c = self.acd.engine.contacts.get(f"c{i}")
        by = c.agent_id if c is not None and c.agent_id else "a0"
        kw = {"to_queue": to} if to.startswith("q") else {"to_agent": to}
        self.attempt(ContactTransferred(contact_id=f"c{i}", by_agent=by, **kw))

    @rule(dt=st.sampled_from([0.5, 5.0, 16.0, 31.0, 120.0]))
    def time_passes(self, dt: float) -> None:
        target = self.acd.now + dt
        while (due := self.acd.engine.next_deadline()) is not None and due <= target:
            self.acd.advance_to(due)  # one instant at a time: FIFO is judged when offers are made
            self.check_fifo()
        self.acd.advance_to(target)

    # Invariants -----------------------------------------------------------------------------

    def check_fifo(self) -> None:
        """Each new offer took the oldest contact of its (queue, step, pool)."""
        e = self.acd.engine
        new = self.acd.offers()[self.seen_offers :]
        self.seen_offers = len(self.acd.offers())
        for offer in new:
            if offer.offer_id not in e.offers:
                continue
            c = e.contacts[offer.contact_id]
            if c.target_agent is not None or "transferred" in offer.trace:
                continue
            bag = e.lines.bags.get((c.queue, e.offers[offer.offer_id].step, pool_of(c.channel)))
            if bag:
                assert c.key < bag.items[0] or e.contacts[bag.items[0][3]].target_agent, (c.key, bag.items[0])

    @invariant()
    def one_offer_per_contact_and_agent(self) -> None:
        if not hasattr(self, "acd"):
            return
        e = self.acd.engine
        assert len({o.contact_id for o in e.offers.values()}) == len(e.offers)
        assert len({o.agent_id for o in e.offers.values()}) == len(e.offers)
        for o in e.offers.values():
            assert e.contacts[o.contact_id].state == "offered" and e.agents[o.agent_id].offer_id == o.offer_id

    @invariant()
    def no_agent_over_capacity(self) -> None:
        if not hasattr(self, "acd"):
            return
        for a in self.acd.engine.agents.values():
            channels = list(a.contacts.values())
            exclusive = [ch for ch in channels if ch in ("voice", "callback")]
            assert len(exclusive) <= 1 and (not exclusive or len(channels) == 1)
            assert channels.count("chat") <= a.chat_capacity
            assert channels.count("voicemail") <= a.voicemail_capacity

    @invariant()
    def no_free_agent_idle_while_a_match_waits(self) -> None:
        if not hasattr(self, "acd"):
            return
        e = self.acd.engine
        for c in e.contacts.values():
            if c.state != "waiting" or c.target_agent is not None or c.held:
                continue
            require = e.queues[c.queue].cfg.steps[c.step].require
            for a in e.agents.values():
                assert not (a.free_for(pool_of(c.channel)) and a.meets(require)), (a.agent_id, c.contact_id)

    @invariant()
    def every_contact_ends_exactly_once(self) -> None:
        if not hasattr(self, "acd"):
            return
        ended = Counter(ev.contact_id for ev in self.acd.log if ev.type == "contact.ended")
        assert all(n == 1 for n in ended.values())
        assert not set(ended) & set(self.acd.engine.contacts)
        started = {ev.contact_id for ev in self.acd.log if ev.contact_id}
        assert started == set(ended) | set(self.acd.engine.contacts)

    @invariant()
    def deadline_not_in_the_past(self) -> None:
        if not hasattr(self, "acd"):
            return
        due = self.acd.engine.next_deadline()
        assert due is None or due >= self.acd.now


AcdMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestAcdProperties = AcdMachine.TestCase
