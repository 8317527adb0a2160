"""Voicemail, the ACD's deferred channel: a message left waits in its queue (never sent
away by overflow), is kept out of routing while the queue is closed, is offered at the
opening, takes its own agent capacity beside chats, and can be called back by the agent
who has it. The hours are a recording fake the test opens and closes (``Hours``)."""

from __future__ import annotations

from typing import Any

import pytest
from acd_harness import Acd, OverflowConfig, OverflowTarget, queue

from callcenter.acd.commands import ConnectContact, FinishContact, WithdrawOffer
from callcenter.acd.errors import AcdError, BadInput, IllegalTransition
from callcenter.acd.messages import (
    AgentLoggedIn,
    AgentReady,
    ContactArrived,
    ContactEnded,
    ContactsRestored,
    OfferAccepted,
    VoicemailCalledBack,
    VoicemailLeft,
)

MESSAGE = VoicemailLeft(path="voicemail/c-1.wav", seconds=12.5, bytes=200_044, from_contact="call-1")
OPENS_AT = 8 * 3600.0  # the test's opening instant, a whole minute


def night_queue(**kw: Any) -> Acd:
    overflow = OverflowConfig(
        on_closed=OverflowTarget(to="voicemail"),
        on_max_wait=OverflowTarget(to="disconnect"),
        on_full=OverflowTarget(to="disconnect"),
        on_no_agents=OverflowTarget(to="disconnect"),
    )
    return Acd([queue(hours="bank", overflow=overflow, max_wait_s=60.0, max_size=1, wrap_up_s=10.0, **kw)])


def leave(acd: Acd, cid: str = "vm-1", at: float | None = None, message: VoicemailLeft = MESSAGE) -> None:
    acd(
        ContactArrived(
            contact_id=cid, channel="voicemail", queue="general", caller="+15550100", voicemail=message
        ),
        at=at,
    )


def test_a_message_left_when_closed_waits_and_is_offered_at_the_opening() -> None:
    acd = night_queue()
    acd.hours.closed.add("bank")
    acd.agent("a1")  # an agent working late: still nobody is offered the message
    leave(acd, at=3 * 3600.0)
    snap = acd.engine.queue_snapshot("general", acd.now)
    assert (snap.waiting, snap.held, dict(snap.waiting_by_channel)) == (1, 1, {"voicemail": 1})
    assert acd.engine.position("vm-1") == (1, acd.engine.position("vm-1")[1])  # type: ignore[index]
    voicemail = next(e for e in acd.log if e.type == "contact.voicemail")
    assert voicemail.contact_id == "vm-1"
    assert voicemail.data == {
        "path": "voicemail/c-1.wav",
        "seconds": 12.5,
        "bytes": 200_044,
        "from_contact": "call-1",
        "caller": "+15550100",
    }
    acd.advance_to(OPENS_AT - 60)
    assert acd.offers() == [] and acd.engine.contacts["vm-1"].held
    acd.hours.closed.clear()
    acd.advance_to(OPENS_AT)  # the minute tick sees the opening
    offer = acd.last_offer("a1")
    assert (offer.contact_id, offer.channel, offer.caller) == ("vm-1", "voicemail", "+15550100")
    assert acd.now == OPENS_AT
    snap = acd.engine.queue_snapshot("general", acd.now)
    assert (snap.waiting, snap.held, dict(snap.waiting_by_channel)) == (0, 0, {})


def test_a_voicemail_never_overflows_on_max_wait_full_or_no_agents() -> None:
    acd = night_queue()
    leave(acd, "vm-1", at=0.0)  # nobody logged in (on_no_agents), then the queue is full
    leave(acd, "vm-2", at=1.0)
    acd.advance_to(3600.0)  # far past max_wait_s
    assert not [e for e in acd.log if e.type == "contact.overflowed"]
    assert dict(acd.engine.queue_snapshot("general", acd.now).waiting_by_channel) == {"voicemail": 2}
    acd.agent("a1")
    assert acd.last_offer("a1").contact_id == "vm-1"  # oldest first


def test_a_queue_closing_takes_its_waiting_messages_out_of_routing() -> None:
    acd = night_queue()
    leave(acd, "vm-1", at=10.0)  # open, nobody to take it
    acd.hours.closed.add("bank")
    acd.advance_to(120.0)
    assert acd.engine.contacts["vm-1"].held
    acd.agent("a1")
    assert acd.offers() == []
    acd.hours.closed.clear()
    acd.advance_to(180.0)
    assert acd.last_offer("a1").contact_id == "vm-1"


def test_live_contacts_come_before_messages_left_earlier() -> None:
    acd = night_queue()
    acd.agent("a1", ready=False)
    leave(acd, "vm-1", at=1.0)
    acd(ContactArrived(contact_id="call-2", channel="voice", queue="general", caller="+1555"), at=50.0)
    acd(AgentReady(agent_id="a1"))
    assert acd.last_offer("a1").contact_id == "call-2"


def test_voicemails_take_their_own_capacity_beside_chats() -> None:
    acd = Acd([queue()])
    acd(AgentLoggedIn(agent_id="a1", skills={"billing": 3}, chat_capacity=1, voicemail_capacity=1))
    acd(AgentReady(agent_id="a1"))
    leave(acd, "vm-1")
    leave(acd, "vm-2")
    acd(OfferAccepted(offer_id=acd.last_offer().offer_id, agent_id="a1"))
    acd(ContactArrived(contact_id="chat-1", channel="chat", queue="general"))
    assert acd.last_offer().contact_id == "chat-1"  # room for a chat beside the message
    acd(OfferAccepted(offer_id=acd.last_offer().offer_id, agent_id="a1"))
    acd(ContactArrived(contact_id="call-1", channel="voice", queue="general"))
    assert [o.contact_id for o in acd.offers()] == ["vm-1", "chat-1"]  # vm-2 and the call wait
    acd(ContactEnded(contact_id="vm-1"))
    assert acd.last_offer().contact_id == "vm-2"


def test_an_agent_with_no_voicemail_capacity_is_offered_none() -> None:
    acd = Acd([queue()])
    acd(AgentLoggedIn(agent_id="a1", skills={"billing": 3}, voicemail_capacity=0))
    acd(AgentReady(agent_id="a1"))
    leave(acd)
    assert acd.offers() == []


def test_call_back_ends_the_message_and_connects_the_callback_to_the_same_agent() -> None:
    acd = night_queue()
    acd.agent("a1")
    leave(acd, at=1.0)
    acd(OfferAccepted(offer_id=acd.last_offer().offer_id, agent_id="a1"))
    out = acd(VoicemailCalledBack(contact_id="vm-1", agent_id="a1", callback_id="cb-1", number="+15550100"))
    connect = next(c for c in out if isinstance(c, ConnectContact))
    assert (connect.contact_id, connect.agent_id, connect.channel) == ("cb-1", "a1", "callback")
    finish = next(c for c in out if isinstance(c, FinishContact))
    assert (finish.contact_id, finish.reason) == ("vm-1", "called_back")
    assert acd.state("a1") == "ON_CONTACT" and dict(acd.engine.agents["a1"].contacts) == {"cb-1": "callback"}
    cb = acd.engine.contacts["cb-1"]
    assert cb.attributes["callback_number"] == "+15550100" and cb.attributes["voicemail_of"] == "vm-1"
    assert acd.types("vm-1")[-3:] == ["contact.voicemail_handled", "contact.wrap_up", "contact.ended"]
    handled = next(e for e in acd.log if e.type == "contact.voicemail_handled")
    assert handled.data == {"handling": "called_back", "callback_id": "cb-1", "by": "a1"}
    connected = next(e for e in acd.log if e.type == "contact.connected" and e.contact_id == "cb-1")
    assert connected.agent_id == "a1"
    acd(ContactEnded(contact_id="cb-1"))
    assert acd.state("a1") == "WRAP_UP"  # the callback's wrap-up, then ready again
    acd.advance_to(acd.now + 10)
    assert acd.state("a1") == "AVAILABLE"


def test_call_back_takes_back_a_ringing_chat() -> None:
    acd = Acd([queue()])
    acd.agent("a1", chats=1)
    leave(acd)
    acd(OfferAccepted(offer_id=acd.last_offer().offer_id, agent_id="a1"))
    acd(ContactArrived(contact_id="chat-1", channel="chat", queue="general"))
    assert acd.state("a1") == "OFFERED"
    out = acd(VoicemailCalledBack(contact_id="vm-1", agent_id="a1", callback_id="cb-1", number="+1555"))
    withdrawn = next(c for c in out if isinstance(c, WithdrawOffer))
    assert (withdrawn.contact_id, withdrawn.reason) == ("chat-1", "agent_busy")
    assert acd.state("a1") == "ON_CONTACT" and acd.engine.contacts["chat-1"].state == "waiting"


def test_call_back_waits_for_the_agent_s_other_contacts_to_end() -> None:
    acd = Acd([queue()])
    acd.agent("a1", chats=1)
    leave(acd)
    acd(OfferAccepted(offer_id=acd.last_offer().offer_id, agent_id="a1"))
    acd(ContactArrived(contact_id="chat-1", channel="chat", queue="general"))
    acd(OfferAccepted(offer_id=acd.last_offer().offer_id, agent_id="a1"))
    before = acd.fingerprint()
    with pytest.raises(IllegalTransition, match="other contacts open"):
        acd(VoicemailCalledBack(contact_id="vm-1", agent_id="a1", callback_id="cb-1", number="+1555"))
    assert acd.fingerprint() == before
    acd(ContactEnded(contact_id="chat-1"))
    acd(VoicemailCalledBack(contact_id="vm-1", agent_id="a1", callback_id="cb-1", number="+1555"))
    assert dict(acd.engine.agents["a1"].contacts) == {"cb-1": "callback"}


@pytest.mark.parametrize(
    ("who", "number", "code"),
    [("a2", "+1555", "not_yours"), ("a1", "  ", "bad_input")],
)
def test_call_back_refusals_change_nothing(who: str, number: str, code: str) -> None:
    acd = Acd([queue()])
    acd.agent("a1")
    acd.agent("a2")
    leave(acd)
    offer = acd.last_offer()
    acd(OfferAccepted(offer_id=offer.offer_id, agent_id=offer.agent_id))
    if offer.agent_id != "a1":
        who = {"a1": "a2", "a2": "a1"}[who]
    before = acd.fingerprint()
    with pytest.raises(AcdError) as err:
        acd(VoicemailCalledBack(contact_id="vm-1", agent_id=who, callback_id="cb-1", number=number))
    assert err.value.code == code
    assert acd.fingerprint() == before


def test_a_voicemail_needs_its_message_and_a_queue_that_takes_it() -> None:
    acd = Acd([queue(), queue("calls", channels=["voice"])])
    with pytest.raises(BadInput, match="needs its message"):
        acd(ContactArrived(contact_id="vm-1", channel="voicemail", queue="general"))
    with pytest.raises(BadInput, match="does not take voicemail"):
        leave_in(acd, "calls")


def leave_in(acd: Acd, queue_name: str) -> None:
    acd(ContactArrived(contact_id="vm-x", channel="voicemail", queue=queue_name, voicemail=MESSAGE))


def test_a_restored_voicemail_waits_again_without_a_second_message_event() -> None:
    acd = night_queue()
    acd.hours.closed.add("bank")
    restored = ContactArrived(
        contact_id="vm-1", channel="voicemail", queue="general", caller="+1555", arrived_at=5.0
    )
    acd(ContactsRestored(contacts=(restored,)), at=100.0)
    assert acd.engine.contacts["vm-1"].held
    assert "contact.voicemail" not in acd.types("vm-1")
    acd.agent("a1")
    acd.hours.closed.clear()
    acd.advance_to(120.0)
    assert acd.last_offer("a1").contact_id == "vm-1"
