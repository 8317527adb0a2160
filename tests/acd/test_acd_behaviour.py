"""ACD behaviour as agents and callers would notice it, on a virtual time axis."""

from __future__ import annotations

import pytest
from acd_harness import Acd, OverflowConfig, OverflowTarget, PriorityRule, RoutingStep, queue

from callcenter.acd.agents import TRANSITIONS, State
from callcenter.acd.commands import FinishContact, PositionUpdated, WithdrawOffer
from callcenter.acd.errors import (
    BadInput,
    ContactEndedAlready,
    DuplicateContact,
    DuplicateLogin,
    IllegalTransition,
    NotYours,
    UnknownAgent,
    UnknownContact,
    UnknownOffer,
    UnknownQueue,
    UnknownSkill,
)
from callcenter.acd.messages import (
    AgentDisconnected,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentReady,
    AgentSkillsChanged,
    AttributesChanged,
    CallbackRequested,
    ContactAbandoned,
    ContactArrived,
    ContactEnded,
    ContactRequeued,
    ContactTransferred,
    OfferAccepted,
    OfferDeclined,
)


@pytest.mark.parametrize(("state", "action"), sorted(TRANSITIONS, key=str))
def test_every_row_of_the_transition_table_is_reachable_state(state: State, action: str) -> None:
    """Each row names a real state and an action the engine uses."""
    assert state in State
    assert action in {
        "login",
        "logout",
        "ready",
        "not_ready",
        "offer",
        "accept",
        "decline",
        "ring_timeout",
        "withdraw",
        "contact_end",
        "wrap_up_end",
        "disconnect",
    }


@pytest.mark.parametrize("state", list(State))
def test_inputs_outside_the_table_are_refused_and_change_nothing(state: State) -> None:
    acd = Acd()
    acd.agent("a")
    if state is State.LOGGED_OUT:
        acd(AgentNotReady(agent_id="a"))
        acd(AgentLoggedOut(agent_id="a"))
    elif state is State.NOT_READY:
        acd(AgentNotReady(agent_id="a"))
    elif state in (State.OFFERED, State.ON_CONTACT, State.WRAP_UP):
        acd.arrive("c1")
        if state is not State.OFFERED:
            acd(OfferAccepted(offer_id=acd.last_offer().offer_id, agent_id="a"))
        if state is State.WRAP_UP:
            acd.engine.queues["general"].cfg = queue(wrap_up_s=30)
            acd(ContactEnded(contact_id="c1"))
    assert acd.state("a") == state.value
    allowed = {action for (s, action) in TRANSITIONS if s is state}
    probes = {
        "logout": AgentLoggedOut(agent_id="a"),
        "ready": AgentReady(agent_id="a"),
        "not_ready": AgentNotReady(agent_id="a"),
        "disconnect": AgentDisconnected(agent_id="a"),
    }
    for action, event in probes.items():
        if action in allowed:
            continue
        before = acd.fingerprint()
        with pytest.raises(IllegalTransition):
            acd(event)
        assert acd.fingerprint() == before


def test_a_contact_is_offered_to_the_longest_idle_agent_with_a_trace() -> None:
    acd = Acd()
    acd.agent("ann", billing=2)
    acd(AgentReady(agent_id="ann"), at=10)
    acd.agent("bob", billing=2)
    acd.now = 20
    acd(AgentLoggedIn(agent_id="cy", skills={"billing": 2}))
    acd(AgentReady(agent_id="cy"), at=30)
    acd.arrive("c1", at=40)
    offer = acd.last_offer()
    assert offer.agent_id == "ann" and offer.ring_deadline == 60.0
    assert "longest-idle: ann idle 40 s, the longest of 3 free" in offer.trace
    assert acd.state("ann") == "OFFERED"


def test_ring_no_answer_puts_the_agent_not_ready_and_the_contact_keeps_its_place() -> None:
    acd = Acd()
    acd.agent("ann")
    acd.arrive("c1", at=1)
    acd.arrive("c2", at=2)
    acd.advance_to(21)  # ann does not answer c1 within 20 s
    assert acd.state("ann") == "NOT_READY" and acd.engine.agents["ann"].reason == "missed"
    assert acd.engine.position("c1") == (1, None) or acd.engine.position("c1")[0] == 1  # type: ignore[index]
    acd.agent("bob")
    assert acd.last_offer().contact_id == "c1" and acd.last_offer().agent_id == "bob"
    assert "contact.offer_timed_out" in acd.types("c1")


def test_decline_is_like_a_miss_but_says_declined() -> None:
    acd = Acd()
    acd.agent("ann")
    acd.arrive("c1")
    acd(OfferDeclined(offer_id=acd.last_offer().offer_id, agent_id="ann"))
    assert acd.engine.agents["ann"].reason == "declined"
    assert acd.engine.contacts["c1"].state == "waiting"


def test_wrap_up_then_ready_and_ended_early_by_the_agent() -> None:
    acd = Acd([queue(wrap_up_s=30)])
    acd.agent("ann")
    acd.arrive("c1", at=0)
    acd(OfferAccepted(offer_id=acd.last_offer().offer_id, agent_id="ann"), at=2)
    acd(ContactEnded(contact_id="c1"), at=62)
    assert acd.state("ann") == "WRAP_UP" and acd.engine.next_deadline() == 92
    acd.arrive("c2", at=70)
    assert acd.last_offer().contact_id == "c1"  # nobody is offered c2 during wrap-up
    acd(AgentReady(agent_id="ann"), at=75)  # ends wrap-up early
    assert acd.last_offer().contact_id == "c2" and acd.state("ann") == "OFFERED"


def test_chats_share_an_agent_up_to_capacity_but_a_call_is_exclusive() -> None:
    acd = Acd([queue(channels=["voice", "chat"])])
    acd.agent("ann", chats=2)
    for cid in ("t1", "t2", "t3"):
        acd.arrive(cid, channel="chat")
        if acd.engine.agents["ann"].offer_id:
            acd(OfferAccepted(offer_id=acd.engine.agents["ann"].offer_id, agent_id="ann"))
    assert sorted(acd.engine.agents["ann"].contacts) == ["t1", "t2"]
    assert acd.engine.contacts["t3"].state == "waiting"
    acd.arrive("v1")  # a call waits for an agent with no contacts at all
    assert acd.engine.contacts["v1"].state == "waiting"
    acd(ContactEnded(contact_id="t1"))
    assert acd.last_offer().contact_id == "t3"  # the freed chat slot goes to the waiting chat


def test_routing_steps_widen_after_their_timeout() -> None:
    steps = [RoutingStep(require={"billing": 4}, timeout=30), RoutingStep(require={"billing": 1})]
    acd = Acd([queue(steps=steps)])
    acd.agent("junior", billing=1)
    acd.arrive("c1", at=0)
    assert acd.offers() == []
    acd.advance_to(29.9)
    assert acd.offers() == []
    acd.advance_to(30)
    assert acd.last_offer().agent_id == "junior" and "step 2/2" in acd.last_offer().trace


def test_priority_head_start_and_fifo_within_a_class() -> None:
    acd = Acd([queue(priority_rules=[PriorityRule(when={"tier": "top"}, head_start_s=90)])])
    acd.arrive("early", at=0)
    acd.arrive("later", at=10)
    acd.arrive("vip", at=60, attributes={"tier": "top"})  # virtual time -30: ahead of both
    acd.arrive("vip-late", at=100, attributes={"tier": "top"})  # virtual time 10: after "early", with "later"
    acd.arrive("urgent", at=200, priority_class=0)
    order = []
    acd.agent("ann")
    for _ in range(5):
        offer = acd.last_offer()
        order.append(offer.contact_id)
        acd(OfferAccepted(offer_id=offer.offer_id, agent_id="ann"))
        acd(ContactEnded(contact_id=offer.contact_id))
    assert order == ["urgent", "vip", "early", "later", "vip-late"]


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [("longest-idle", "old"), ("least-occupied", "fresh"), ("best-skill-match", "expert")],
)
def test_strategies_choose_the_agent_they_promise(strategy: str, expected: str) -> None:
    acd = Acd([queue(strategy=strategy)])
    acd.agent("old", billing=1)  # idle since 0
    acd.now = 50
    acd.agent("expert", billing=5)
    acd.now = 60
    acd.agent("fresh", billing=2)
    for name in ("old", "expert"):  # give them handled time
        acd.engine.agents[name].handle_time = 500.0
        acd.engine.agent_pool.refresh(acd.engine.agents[name])
    acd.arrive("c1", at=100)
    assert acd.last_offer().agent_id == expected


def test_round_robin_takes_turns() -> None:
    acd = Acd([queue(strategy="round-robin")])
    for name in ("a", "b", "c"):
        acd.agent(name)
    got = []
    for i in range(6):
        acd.arrive(f"c{i}")
        offer = acd.last_offer()
        got.append(offer.agent_id)
        acd(OfferAccepted(offer_id=offer.offer_id, agent_id=offer.agent_id))
        acd(ContactEnded(contact_id=offer.contact_id))
    assert got == ["a", "b", "c", "a", "b", "c"]


def test_random_strategy_is_reproducible_from_the_seed() -> None:
    def picks(seed: int) -> list[str]:
        acd = Acd([queue(strategy="random")], seed=seed)
        for name in "abcdef":
            acd.agent(name)
        out = []
        for i in range(8):
            acd.arrive(f"c{i}")
            offer = acd.last_offer()
            out.append(offer.agent_id)
            acd(OfferAccepted(offer_id=offer.offer_id, agent_id=offer.agent_id))
            acd(ContactEnded(contact_id=offer.contact_id))
        return out

    assert picks(3) == picks(3) and len(set(picks(3))) > 1


def test_overflows_closed_full_no_agents_and_max_wait() -> None:
    ov = OverflowConfig(
        on_closed=OverflowTarget(to="voicemail", message="closed"),
        on_no_agents=OverflowTarget(to="queue", queue="backup"),
        on_max_wait=OverflowTarget(to="callback"),
        on_full=OverflowTarget(to="disconnect", message="busy"),
    )
    acd = Acd([queue(hours="office", overflow=ov, max_size=1, max_wait_s=60), queue("backup")])
    acd.arrive("nobody")  # no agent can serve general: it goes to backup
    assert acd.engine.contacts["nobody"].queue == "backup"
    acd.agent("ann", ready=False)
    acd.arrive("first", at=1)
    acd.arrive("second", at=2)  # general holds one: full
    assert acd.types("second")[-1] == "contact.ended" and acd.log[-1].data["reason"] == "overflow_disconnect"
    acd.advance_to(61)  # first waited 60 s: becomes a callback, keeping its place
    first = acd.engine.contacts["first"]
    assert first.channel == "callback" and first.state == "waiting" and first.queue == "general"
    acd.hours.closed.add("office")
    acd.arrive("night", at=70)
    assert [c for c in acd.commands if isinstance(c, FinishContact)][-1].reason == "voicemail"


def test_a_chat_past_its_max_wait_with_a_callback_overflow_keeps_waiting() -> None:
    """Only a call becomes a callback: a chat (even one with a number) stays in line, and
    the engine goes on (it used to fire the overflow again and again, without end)."""
    ov = OverflowConfig(on_max_wait=OverflowTarget(to="callback"))
    acd = Acd([queue(channels=["chat"], overflow=ov, max_wait_s=10)])
    acd(ContactArrived(contact_id="c1", channel="chat", queue="general", caller="+15550199"))
    acd.advance_to(30)
    chat = acd.engine.contacts["c1"]
    assert (chat.channel, chat.state) == ("chat", "waiting") and acd.engine.next_deadline() is None


def test_transfers_to_a_queue_and_to_a_named_agent() -> None:
    acd = Acd([queue(), queue("sales", steps=[RoutingStep(require={"sales": 1})])])
    acd.agent("ann")
    acd.agent("sam", sales=2)
    acd.arrive("c1")
    offer = acd.last_offer()
    acd(OfferAccepted(offer_id=offer.offer_id, agent_id=offer.agent_id))
    first = offer.agent_id
    acd(ContactTransferred(contact_id="c1", by_agent=first, to_queue="sales"))
    assert acd.last_offer().agent_id == "sam" and acd.state(first) == "AVAILABLE"
    acd(OfferAccepted(offer_id=acd.last_offer().offer_id, agent_id="sam"))
    acd(ContactTransferred(contact_id="c1", by_agent="sam", to_agent="ann"))
    assert acd.last_offer().agent_id == "ann" and "transferred" in acd.last_offer().trace
    with pytest.raises(NotYours):
        acd(ContactTransferred(contact_id="c1", by_agent="sam", to_queue="general"))


def test_callback_keeps_the_place_in_line() -> None:
    acd = Acd()
    acd.arrive("c1", at=0)
    acd.arrive("c2", at=1)
    acd(CallbackRequested(contact_id="c1", number="+15550199"), at=5)
    assert acd.engine.position("c1")[0] == 1  # type: ignore[index]
    acd.agent("ann")
    offer = acd.last_offer()
    assert (offer.contact_id, offer.channel, offer.attributes["callback_number"]) == (
        "c1",
        "callback",
        "+15550199",
    )


def test_abandon_while_ringing_frees_the_agent() -> None:
    acd = Acd()
    acd.agent("ann")
    acd.arrive("c1")
    acd(ContactAbandoned(contact_id="c1"))
    assert acd.state("ann") == "AVAILABLE" and "c1" not in acd.engine.contacts
    assert [c.reason for c in acd.commands if isinstance(c, WithdrawOffer)] == ["abandoned"]


def test_a_desk_that_disappears_gives_its_offer_back() -> None:
    acd = Acd()
    acd.agent("ann")
    acd.agent("bob")
    acd.arrive("c1")
    first = acd.last_offer().agent_id
    acd(AgentDisconnected(agent_id=first))
    assert acd.engine.agents[first].reason == "disconnected"
    assert acd.last_offer().agent_id != first and acd.last_offer().contact_id == "c1"


def test_skills_change_at_run_time() -> None:
    acd = Acd([queue(steps=[RoutingStep(require={"cards": 2})])])
    acd.agent("ann", billing=3)
    acd.arrive("c1")
    assert acd.offers() == []
    acd(AgentSkillsChanged(agent_id="ann", skills={"cards": 3}, by="sam"))
    assert acd.last_offer().agent_id == "ann"


def test_position_and_ewt_move_as_the_queue_moves() -> None:
    acd = Acd()
    acd.agent("ann")
    acd.agent("bob")
    for busy in ("b1", "b2"):  # both agents busy: the next four wait
        acd.arrive(busy)
        offer = acd.last_offer()
        acd(OfferAccepted(offer_id=offer.offer_id, agent_id=offer.agent_id))
    for i in range(4):
        acd.arrive(f"c{i}", at=i)
    assert [acd.engine.position(f"c{i}")[0] for i in range(4)] == [1, 2, 3, 4]  # type: ignore[index]
    assert acd.engine.position("c3")[1] == pytest.approx(4 * 180 / 2)  # type: ignore[index]
    acd(ContactAbandoned(contact_id="c0"))
    assert acd.engine.position("c3")[0] == 3  # type: ignore[index]


@pytest.mark.parametrize(
    ("event", "error"),
    [
        (ContactArrived(contact_id="x", channel="voice", queue="nowhere"), UnknownQueue),
        (AgentReady(agent_id="ghost"), UnknownAgent),
        (AgentLoggedIn(agent_id="ann", skills={"juggling": 3}), DuplicateLogin),
        (AgentLoggedIn(agent_id="zed", skills={"juggling": 3}), UnknownSkill),
        (AgentLoggedIn(agent_id="zed", skills={"billing": 9}), BadInput),
        (ContactArrived(contact_id="c1", channel="voice", queue="general"), DuplicateContact),
        (ContactArrived(contact_id="c9", channel="fax", queue="general"), BadInput),
        (OfferAccepted(offer_id="o-999", agent_id="ann"), UnknownOffer),
        (ContactEnded(contact_id="gone"), ContactEndedAlready),
        (ContactEnded(contact_id="c1"), IllegalTransition),
        (ContactAbandoned(contact_id="nope"), UnknownContact),
        (AgentLoggedOut(agent_id="ann"), IllegalTransition),
    ],
)
def test_bad_input_is_a_named_error_and_changes_nothing(event: object, error: type) -> None:
    acd = Acd()
    acd.agent("ann", ready=False)
    acd(AgentReady(agent_id="ann"))
    acd.agent("bob", ready=False)
    acd.arrive("gone")
    acd(OfferAccepted(offer_id=acd.last_offer().offer_id, agent_id="ann"))
    acd(ContactEnded(contact_id="gone"))
    acd(AgentNotReady(agent_id="ann"))
    acd.arrive("c1")
    acd(AgentReady(agent_id="ann"))
    acd(OfferAccepted(offer_id=acd.last_offer().offer_id, agent_id="ann"))  # ann has c1
    if error is IllegalTransition and isinstance(event, ContactEnded):
        event = ContactAbandoned(contact_id="c1")  # abandoning a connected contact is refused
    before = acd.fingerprint()
    with pytest.raises(error):
        acd(event)
    assert acd.fingerprint() == before


def test_accepting_someone_elses_offer_is_refused() -> None:
    acd = Acd()
    acd.agent("ann")
    acd.agent("bob", ready=False)
    acd.arrive("c1")
    before = acd.fingerprint()
    with pytest.raises(NotYours):
        acd(OfferAccepted(offer_id=acd.last_offer().offer_id, agent_id="bob"))
    assert acd.fingerprint() == before


def test_contacts_widening_at_the_same_instant_keep_their_priority_order() -> None:
    """Found by the property test: both contacts reach step 2 at t=30; the priority one wins."""
    steps = [RoutingStep(require={"billing": 3}, timeout=30), RoutingStep(require={"billing": 1})]
    acd = Acd([queue(steps=steps)])
    acd.agent("junior", billing=1)
    acd.arrive("regular", at=0)
    acd.arrive("urgent", at=0, priority_class=0)
    acd.advance_to(31)
    assert acd.last_offer().contact_id == "urgent"


def test_each_contact_is_one_causal_chain_from_the_ivr_context_and_ids_never_repeat() -> None:
    acd = Acd()
    acd.agent("ann")
    acd(ContactArrived(contact_id="c1", channel="voice", queue="general", context_id="ivr-7"))
    acd(OfferDeclined(offer_id=acd.last_offer().offer_id, agent_id="ann"))
    acd(AgentReady(agent_id="ann"))
    acd(OfferAccepted(offer_id=acd.last_offer().offer_id, agent_id="ann"))
    acd(ContactEnded(contact_id="c1"))
    acd(AgentNotReady(agent_id="ann"))
    acd(AgentLoggedOut(agent_id="ann"))
    acd.agent("ann")  # a second login continues the agent's chain with fresh ids
    chain = [(e.context_id, e.parent_id) for e in acd.log if e.contact_id == "c1"]
    assert [e.type for e in acd.log if e.contact_id == "c1"][-1] == "contact.ended"
    assert chain[0][1] == "ivr-7"
    assert all(parent == prev for (_, parent), (prev, _) in zip(chain[1:], chain[:-1], strict=True))
    agent_chain = [(e.context_id, e.parent_id) for e in acd.log if e.contact_id is None]
    assert all(
        parent == prev for (_, parent), (prev, _) in zip(agent_chain[1:], agent_chain[:-1], strict=True)
    )
    ids = [e.context_id for e in acd.log]
    assert len(ids) == len(set(ids))


def _busy_center(**engine_kw: object) -> Acd:
    acd = Acd(**engine_kw)  # type: ignore[arg-type]
    acd.agent("ann")
    acd.arrive("b1")
    acd(OfferAccepted(offer_id=acd.last_offer().offer_id, agent_id="ann"))
    return acd


def test_snapshot_lists_every_waiting_contact_in_order_with_its_wait_estimate() -> None:
    acd = _busy_center()
    for i in range(3):
        acd.arrive(f"c{i}", at=10 + i)
    snap = acd.engine.snapshot(20)
    waiting = snap.waiting["general"]
    assert [(w.contact_id, w.position, w.waited_s) for w in waiting] == [
        ("c0", 1, 10),
        ("c1", 2, 9),
        ("c2", 3, 8),
    ]
    assert [w.ewt_s for w in waiting] == [acd.engine.position(f"c{i}")[1] for i in range(3)]  # type: ignore[index]
    assert snap.queues["general"].waiting == 3 and snap.queues["general"].longest_wait_s == 10


def test_position_updates_come_at_a_bounded_rate_and_only_when_something_changed() -> None:
    acd = _busy_center(position_updates_s=15)
    acd.arrive("c1", at=1)
    acd.arrive("c2", at=2)
    told = [c for c in acd.advance_to(16) if isinstance(c, PositionUpdated)]
    assert [(c.contact_id, c.position) for c in told] == [("c1", 1), ("c2", 2)]
    assert not [c for c in acd.advance_to(31) if isinstance(c, PositionUpdated)]  # nothing moved
    acd(ContactAbandoned(contact_id="c1"), at=33)
    told = [c for c in acd.advance_to(46) if isinstance(c, PositionUpdated)]
    assert [(c.contact_id, c.position) for c in told] == [("c2", 1)]  # told once, within 15 s
    acd(ContactAbandoned(contact_id="c2"))
    acd.advance_to(100)
    assert acd.engine.next_deadline() is None  # nobody waits: the announcements stop


def test_attributes_learnt_while_waiting_join_the_contact_and_its_offer() -> None:
    acd = Acd()
    acd.arrive("c1", attributes={"identified": "no", "intent": "cards"}, at=1)
    acd(AttributesChanged(contact_id="c1", attributes={"identified": "yes", "tier": "top"}, by="crm"), at=2)
    changed = [e for e in acd.log if e.type == "contact.attributes_changed"]
    assert [e.data for e in changed] == [{"attributes": {"identified": "yes", "tier": "top"}, "by": "crm"}]
    before = acd.fingerprint()
    acd(AttributesChanged(contact_id="c1", attributes={"tier": "top"}, by="crm"))  # nothing new
    assert acd.fingerprint() == before
    assert len([e for e in acd.log if e.type == "contact.attributes_changed"]) == 1  # nothing logged
    with pytest.raises(BadInput):
        acd(AttributesChanged(contact_id="c1", attributes={}, by="crm"))
    acd.agent("ann")
    assert acd.last_offer().attributes == {"identified": "yes", "intent": "cards", "tier": "top"}
    before = acd.fingerprint()
    with pytest.raises(IllegalTransition, match="not waiting"):  # ringing: it stays as offered
        acd(AttributesChanged(contact_id="c1", attributes={"tier": "regular"}, by="crm"))
    assert acd.fingerprint() == before


def test_a_callback_whose_dialled_call_failed_ends_dial_failed_and_frees_its_agent() -> None:
    acd = Acd([queue(wrap_up_s=30)])
    acd.agent("ann")
    acd.arrive("c1", channel="callback")
    acd(OfferAccepted(offer_id=acd.last_offer().offer_id, agent_id="ann"))
    before = acd.fingerprint()
    with pytest.raises(BadInput, match="completed or dial_failed"):
        acd(ContactEnded(contact_id="c1", reason="vanished"))
    assert acd.fingerprint() == before
    acd(ContactEnded(contact_id="c1", by="system", reason="dial_failed"))
    ended = [e.data for e in acd.log if e.type == "contact.ended"]
    assert ended == [{"reason": "dial_failed", "by": "system"}]
    assert acd.state("ann") == "WRAP_UP"


def test_a_call_whose_agent_is_gone_goes_back_to_the_front_of_its_queue() -> None:
    acd = Acd([queue(wrap_up_s=30)])
    acd.agent("ann")
    acd.arrive("c1", at=0)
    acd(OfferAccepted(offer_id=acd.last_offer().offer_id, agent_id="ann"), at=1)
    acd.arrive("c2", at=2)  # came later: it waits behind c1 once c1 is back
    acd.arrive("c3", at=3)
    acd(AgentDisconnected(agent_id="ann"), at=40)  # her desk's grace ran out
    acd(ContactRequeued(contact_id="c1", reason="agent_gone"), at=41)
    assert (acd.state("ann"), acd.engine.agents["ann"].reason) == ("NOT_READY", "disconnected")
    assert "c1" not in acd.engine.agents["ann"].contacts
    assert acd.engine.position("c1") == (1, acd.engine.position("c1")[1])  # type: ignore[index]
    assert acd.engine.position("c2")[0] == 2  # type: ignore[index]
    kinds = acd.types("c1")
    assert kinds[kinds.index("contact.requeued") :][:3] == [
        "contact.requeued",
        "contact.wrap_up",
        "contact.queued",
    ]
    assert "contact.ended" not in kinds
    acd.agent("bob")  # the next free agent is offered it first
    offer = acd.last_offer()
    assert (offer.contact_id, offer.agent_id) == ("c1", "bob")
    acd(OfferAccepted(offer_id=offer.offer_id, agent_id="bob"), at=45)
    assert acd.engine.contacts["c1"].agent_id == "bob" and acd.state("bob") == "ON_CONTACT"


def test_a_requeue_needs_a_connected_contact_and_an_open_queue_else_nothing_changes() -> None:
    acd = Acd([queue(hours="bank")])
    acd.agent("ann")
    acd.arrive("c1")
    with pytest.raises(IllegalTransition):  # still ringing: not connected
        acd(ContactRequeued(contact_id="c1"))
    acd(OfferAccepted(offer_id=acd.last_offer().offer_id, agent_id="ann"))
    with pytest.raises(BadInput):
        acd(ContactRequeued(contact_id="c1", reason="bored"))
    acd.hours.closed.add("bank")
    before = acd.fingerprint()
    with pytest.raises(IllegalTransition):  # closed: the adapter ends the contact instead
        acd(ContactRequeued(contact_id="c1"))
    assert acd.fingerprint() == before and acd.engine.contacts["c1"].agent_id == "ann"
    with pytest.raises(UnknownContact):
        acd(ContactRequeued(contact_id="nobody"))
