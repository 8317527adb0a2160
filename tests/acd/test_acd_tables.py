"""The contacts' transition table and the timer kinds' table: every change the engine makes
goes through a row, and a pair that is not in a table is refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from acd_harness import Acd, OverflowConfig, OverflowTarget, RoutingStep, queue

from callcenter.acd.contacts import CONTACT_STATES, CONTACT_TRANSITIONS, Contact, move
from callcenter.acd.errors import IllegalTransition
from callcenter.acd.messages import ContactAbandoned, ContactArrived, ContactEnded, OfferAccepted
from callcenter.acd.timers import Timers

ACD_SOURCES = sorted((Path(__file__).resolve().parents[2] / "callcenter" / "acd").glob("*.py"))
ACTIONS = sorted({action for _, action in CONTACT_TRANSITIONS})


def _contact(state: str) -> Contact:
    c = Contact(
        contact_id="c1",
        channel="voice",
        queue="general",
        attributes={},
        caller=None,
        priority_class=1,
        vtime=0.0,
        seq=1,
        arrived_at=0.0,
        queued_at=0.0,
        pool="voice",
        state=state,
    )
    c.rekey()
    return c


def _source() -> str:
    return "\n".join(p.read_text() for p in ACD_SOURCES)


@pytest.mark.parametrize(("state", "action"), sorted(CONTACT_TRANSITIONS))
def test_each_row_of_the_contact_table_moves_the_contact_to_its_target(state: str, action: str) -> None:
    c = _contact(state)
    move(c, action)
    assert c.state == CONTACT_TRANSITIONS[(state, action)]
    assert state in CONTACT_STATES and c.state in CONTACT_STATES


@pytest.mark.parametrize("state", CONTACT_STATES)
def test_a_pair_outside_the_contact_table_is_refused_and_changes_nothing(state: str) -> None:
    for action in ACTIONS:
        if (state, action) in CONTACT_TRANSITIONS:
            continue
        c = _contact(state)
        with pytest.raises(IllegalTransition, match=f"contact c1 cannot .* while {state}"):
            move(c, action)
        assert c.state == state


def test_an_ended_contact_goes_nowhere() -> None:
    assert not [pair for pair in CONTACT_TRANSITIONS if pair[0] == "ended"]


def test_the_engine_changes_a_contact_state_only_through_the_table() -> None:
    source = _source()
    used = set(re.findall(r"\bmove\(\w+, \"(\w+)\"\)", source))
    assert used == set(ACTIONS)  # every action the code applies has rows, and every row is used
    assert re.findall(r"\b\w+\.state\s*=(?!=)", source) == ["contact.state ="]  # the one, in move()


def test_every_timer_kind_the_engine_arms_has_its_row() -> None:
    armed = set(re.findall(r"\.arm\(\s*\"(\w+)\"", _source()))
    armed |= {"positions", "hours"}  # armed by TimerHeap.arm_positions / arm_hours
    assert armed == set(Timers.KINDS)


def test_contacts_pass_through_the_table_in_a_working_day() -> None:
    """Arrival, offer, a missed ring, the offer again, connection and end; an overflow on
    arrival; an abandon while ringing: the states a caller goes through."""
    acd = Acd(
        [
            queue(ring_time_s=10, steps=[RoutingStep(require={"billing": 1})]),
            queue(
                "closed",
                hours="nights",
                overflow=OverflowConfig(on_closed=OverflowTarget(to="disconnect", message="Closed.")),
            ),
        ]
    )
    acd.hours.closed.add("nights")
    acd.agent("ann")
    acd.agent("bob")
    acd.arrive("c1")
    assert acd.engine.contacts["c1"].state == "offered"
    first = acd.last_offer()
    acd.advance_to(10)  # ann misses it; bob gets it
    second = acd.last_offer()
    assert second.agent_id != first.agent_id and acd.engine.contacts["c1"].state == "offered"
    acd(OfferAccepted(offer_id=second.offer_id, agent_id=second.agent_id))
    assert acd.engine.contacts["c1"].state == "connected"
    acd(ContactEnded(contact_id="c1"))
    assert "c1" not in acd.engine.contacts
    acd(ContactArrived(contact_id="c2", channel="voice", queue="closed"))
    assert "c2" not in acd.engine.contacts and acd.types("c2")[-1] == "contact.ended"
    acd.arrive("c3")
    acd(ContactAbandoned(contact_id="c3"))
    assert acd.types("c3")[-1] == "contact.ended"
