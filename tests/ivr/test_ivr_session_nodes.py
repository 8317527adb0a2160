"""Say, lookup, branch, set, queue, callback, voicemail, transfer, hangup; the session's life."""

from __future__ import annotations

from typing import Any

import pytest

from callcenter.ivr import (
    CallerHungUp,
    ContactCompleted,
    DigitsReceived,
    HangUp,
    LookupCompleted,
    LookupCustomer,
    OfferCallback,
    PromptFinished,
    QueueStatusChanged,
    RouteToQueue,
    SessionAlreadyStarted,
    SessionEnded,
    SessionNotStarted,
    SessionStarted,
    StartVoicemail,
    TransferExternal,
    UnexpectedInput,
    VerificationCompleted,
    VerifyCustomer,
    VoicemailRecorded,
)
from callcenter.ivr.session import prompt_guard_s


def test_say_waits_for_its_prompt_then_moves_on(call_flow: Any) -> None:
    call = call_flow("""
        start: hi
        nodes:
          hi: {kind: say, text: "Hello {caller}.", next: bye}
          bye: {kind: hangup, reason: done}
    """)
    assert call.prompts() == ["Hello +15550111."]
    assert call.session.next_deadline() == call.now + prompt_guard_s("Hello +15550111.")
    assert call.send(DigitsReceived(digits="5")) == []  # no barge-in: keys do nothing
    out = call.finish_prompt()
    assert HangUp(reason="done") in out
    assert call.events("ivr.ended")[0].data == {"reason": "done", "node": "bye"}
    assert call.session.state == "ended"


def test_a_prompt_never_reported_finished_does_not_strand_the_caller(call_flow: Any) -> None:
    call = call_flow("""
        start: hi
        nodes:
          hi: {kind: say, text: Hello., next: bye}
          bye: {kind: hangup}
    """)
    call.wait(prompt_guard_s("Hello."))
    assert call.of(HangUp) == [HangUp(reason="completed")]


LOOKUP = """
start: who
nodes:
  who:
    kind: lookup
    by: caller_number
    value: "{caller}"
    timeout_s: 4
    found: hello
    not_found: stranger
  hello: {kind: say, text: "Welcome back.", next: q}
  stranger: {kind: say, text: Hello stranger., next: q}
  q: {kind: queue, queue: general, attributes: {tier: "{customer.tier}", segment: "{customer.segment}"}}
"""


def test_lookup_by_caller_fills_customer_variables_and_identifies_the_contact(call_flow: Any) -> None:
    call = call_flow(LOOKUP)
    [ask] = call.of(LookupCustomer)
    assert (ask.by, ask.value, ask.want) == ("caller_number", "+15550111", "customer")
    customer = {"id": "cu-7", "first_name": "Ada", "tier": "top", "segment": None, "vip": True}
    call.send(LookupCompleted(request_id=ask.request_id, found=True, customer=customer), after=0.3)
    assert call.prompts() == ["Welcome back."]  # a candidate: nothing personal is said
    assert call.session.variables["customer.vip"] == "true"
    assert call.session.variables["identity"] == "unverified"
    assert call.events("contact.identified")[0].data == {"customer_id": "cu-7", "by": "caller_number"}
    assert call.events("ivr.lookup")[0].data["found"] is True
    call.finish_prompt()
    assert call.of(RouteToQueue)[0].attributes == {"tier": "top"}  # unset segment is left out


def test_lookup_not_found_and_timeout_both_take_not_found(call_flow: Any) -> None:
    call = call_flow(LOOKUP)
    ask = call.of(LookupCustomer)[0]
    call.send(LookupCompleted(request_id=ask.request_id, found=False))
    assert call.prompts() == ["Hello stranger."]

    late = call_flow(LOOKUP)
    ask = late.of(LookupCustomer)[0]
    late.wait(4)
    assert late.events("ivr.lookup")[0].data["timed_out"] is True
    assert late.prompts() == ["Hello stranger."]
    # the answer arriving after the timeout is ignored, not an error
    assert late.send(LookupCompleted(request_id=ask.request_id, found=True, customer={"id": "x"})) == []


def test_a_lookup_never_asked_is_refused(call_flow: Any) -> None:
    call = call_flow(LOOKUP)
    with pytest.raises(UnexpectedInput):
        call.send(LookupCompleted(request_id="look-999", found=True))
    assert call.session.take_commands() == []


def test_a_withheld_number_skips_the_crm(call_flow: Any) -> None:
    call = call_flow(LOOKUP, caller="")
    assert call.of(LookupCustomer) == []
    assert call.events("ivr.lookup")[0].data["no_value"] is True
    assert call.prompts() == ["Hello stranger."]


def test_self_service_answer_is_read_back_once_verified(
    call_flow: Any, flow_from: Any, make_call: Any
) -> None:
    text = """
        start: login
        nodes:
          login: {kind: verify, method: token, verified: bal, failed: bye}
          bal: {kind: lookup, by: customer_id, value: "{customer.id}", want: balance, found: say, not_found: say}
          say: {kind: say, text: "Your balance is {answer.balance} {answer.currency}.", next: bye}
          bye: {kind: hangup}
    """
    call = call_flow(text)
    assert call.prompts() == []  # no login token: no answer, no questions
    call = make_call(flow_from(text))
    call.start(login_customer_id="42")
    [check] = call.of(VerifyCustomer)
    assert (check.method, check.customer_id) == ("token", "42")
    call.send(VerificationCompleted(request_id=check.request_id, verified=True, customer={"id": "42"}))
    ask = call.of(LookupCustomer)[0]
    assert (ask.by, ask.value, ask.want, ask.for_customer) == ("customer_id", "42", "balance", "42")
    call.send(
        LookupCompleted(
            request_id=ask.request_id, found=True, answer={"balance": 1250.0, "currency": "dollars"}
        )
    )
    assert call.prompts() == ["Your balance is 1250 dollars."]


BRANCH = """
start: set
nodes:
  set: {kind: set, values: {tier: gold, greeting: "hi {caller}", score: "72"}, next: pick}
  pick:
    kind: branch
    cases:
      - when: {not: {open: bank}}
        next: closed
      - when: {queue_ewt: general, above: 300}
        next: long
      - when: {all: [{var: tier, in: [gold, platinum]}, {var: score, above: 70}]}
        next: vip
      - when: {any: [{var: nothing, exists: true}, {var: tier, equals: silver}]}
        next: silver
    otherwise: plain
  closed: {kind: hangup, reason: closed}
  long: {kind: hangup, reason: long}
  vip: {kind: hangup, reason: vip}
  silver: {kind: hangup, reason: silver}
  plain: {kind: hangup, reason: plain}
"""


@pytest.mark.parametrize(
    ("open_", "ewt", "edit", "reason"),
    [
        (False, {}, None, "closed"),
        (True, {"general": 301}, None, "long"),
        (True, {"general": 300}, None, "vip"),  # not above 300
        (True, {}, None, "vip"),  # no estimate: never a guess
        (True, {}, ('score: "72"', 'score: "70"'), "plain"),
        (True, {}, ("tier: gold", "tier: silver"), "silver"),
        (True, {}, ('score: "72"', "score: lots"), "plain"),  # not a number: false
    ],
)
def test_branch_conditions_are_data(
    call_flow: Any, open_: bool, ewt: dict[str, float], edit: tuple[str, str] | None, reason: str
) -> None:
    text = BRANCH.replace(*edit) if edit else BRANCH
    call = call_flow(text, open_=open_, ewt=ewt)
    assert call.of(HangUp) == [HangUp(reason=reason)]
    assert call.session.variables["greeting"] == "hi +15550111"


def test_queue_routes_with_priority_and_announces_position_and_wait(call_flow: Any) -> None:
    call = call_flow("""
        start: q
        nodes:
          q:
            kind: queue
            queue: cards
            prompt: Please hold.
            priority_class: 0
            head_start_s: 90
            attributes: {intent: lost_card}
            announce: "You are number {position}. About {ewt_minutes} minutes."
    """)
    [route] = call.of(RouteToQueue)
    assert route == RouteToQueue(
        contact_id="c-1",
        queue="cards",
        channel="voice",
        caller="+15550111",
        priority_class=0,
        head_start_s=90.0,
        attributes={"intent": "lost_card"},
        context_id="x-9",
    )
    routed = call.events("ivr.routed")[0]
    assert routed.queue == "cards" and routed.context_id == "x-9" and routed.parent_id == "x-1"
    call.send(QueueStatusChanged(position=3, ewt_s=125))
    assert call.prompts()[-1] == "You are number 3. About 3 minutes."
    call.send(QueueStatusChanged(position=2, ewt_s=None))  # no estimate: that sentence is left out
    assert call.prompts()[-1] == "You are number 2."
    assert call.send(DigitsReceived(digits="1")) == []  # keys while queued do nothing
    call.send(ContactCompleted(), after=600)
    assert call.events("ivr.ended")[0].data["reason"] == "completed"
    assert call.of(HangUp) == []  # the agent leg ends the call, not the IVR


def test_a_queue_that_sends_the_contact_away_ends_the_session_with_its_reason(call_flow: Any) -> None:
    call = call_flow("""
        start: q
        nodes:
          q: {kind: queue, queue: cards, after: rate}
          rate: {kind: survey, prompt: Rate us., next: bye}
          bye: {kind: hangup}
    """)
    call.send(ContactCompleted(reason="overflow_disconnect"), after=30)
    assert call.events("ivr.ended")[0].data == {"reason": "overflow_disconnect", "node": "q"}
    assert call.of(HangUp) == [HangUp(reason="overflow_disconnect")]
    assert call.events("ivr.survey") == [] and "Rate us." not in call.prompts()


def test_callback_offers_the_callers_number_then_hangs_up(call_flow: Any) -> None:
    call = call_flow("""
        start: cb
        nodes:
          cb: {kind: callback, queue: general, attributes: {intent: loan}, prompt: We will call you.}
    """)
    [offer] = call.of(OfferCallback)
    assert (offer.number, offer.queue, offer.attributes) == ("+15550111", "general", {"intent": "loan"})
    assert call.of(HangUp) == []  # not before the caller heard the confirmation
    call.finish_prompt()
    assert call.of(HangUp) == [HangUp(reason="callback")]


VOICEMAIL = """
start: vm
nodes:
  vm: {kind: voicemail, prompt: Leave a message., max_s: 60, next: bye}
  bye: {kind: hangup, prompt: Goodbye.}
"""


def test_voicemail_records_after_the_prompt_and_continues(call_flow: Any) -> None:
    call = call_flow(VOICEMAIL)
    with pytest.raises(UnexpectedInput):
        call.send(VoicemailRecorded(path="/x.wav", seconds=3))  # still prompting
    out = call.finish_prompt()
    assert out == [StartVoicemail(max_s=60)]
    call.send(VoicemailRecorded(path="vm/c-1.wav", seconds=42.5), after=43)
    assert call.events("ivr.voicemail")[0].data == {
        "node": "vm",
        "recorded": True,
        "path": "vm/c-1.wav",
        "seconds": 42.5,
    }
    assert call.prompts()[-1] == "Goodbye."


def test_voicemail_that_never_reports_moves_on_after_its_limit(call_flow: Any) -> None:
    call = call_flow(VOICEMAIL)
    call.finish_prompt()
    call.wait(60 + 15)
    assert call.events("ivr.voicemail")[0].data["recorded"] is False


def test_transfer_to_an_external_uri_ends_the_session(call_flow: Any) -> None:
    call = call_flow("""
        start: out
        nodes:
          out: {kind: transfer, uri: "sip:partner@example.org"}
    """)
    assert call.of(TransferExternal) == [TransferExternal(uri="sip:partner@example.org")]
    assert call.events("ivr.ended")[0].data == {
        "reason": "transferred",
        "node": "out",
        "uri": "sip:partner@example.org",
    }


def test_inputs_before_the_start_or_after_the_end_are_refused_and_change_nothing(
    flow_from: Any, make_call: Any
) -> None:
    call = make_call(flow_from(VOICEMAIL))
    with pytest.raises(SessionNotStarted):
        call.send(DigitsReceived(digits="1"))
    call.start()
    with pytest.raises(SessionAlreadyStarted):
        call.send(SessionStarted(caller="1", called="2", channel="voice"))
    call.send(CallerHungUp(), after=2)
    assert call.events("ivr.ended")[-1].data == {"reason": "caller_hung_up", "node": "vm"}
    assert call.of(HangUp) == []
    for late in (
        DigitsReceived(digits="1"),
        PromptFinished(prompt_id="p-1"),
        CallerHungUp(),
        ContactCompleted(),
    ):
        with pytest.raises(SessionEnded) as err:
            call.send(late)
        assert err.value.code == "ivr_session_ended"
    assert call.session.take_commands() == []
    assert call.session.next_deadline() is None
    call.session.handle_timer(call.now + 10_000)
    assert call.session.take_commands() == []


def test_contact_completed_or_queue_status_when_not_queued_is_refused(call_flow: Any) -> None:
    call = call_flow(VOICEMAIL)
    for event in (ContactCompleted(), QueueStatusChanged(position=1, ewt_s=None)):
        with pytest.raises(UnexpectedInput):
            call.send(event)


def test_every_event_is_one_causal_chain_for_the_contact(call_flow: Any) -> None:
    call = call_flow(VOICEMAIL)
    call.finish_prompt()
    events = call.events()
    assert events[0].type == "ivr.started"
    assert events[0].data == {
        "flow": "test",
        "caller": "+15550111",
        "called": "+15550100",
        "channel": "voice",
    }
    assert {(e.contact_id, e.context_id, e.parent_id) for e in events} == {("c-1", "x-9", "x-1")}
