"""Menus, collect and survey: keys, speech, barge-in, timeouts, retries and fallbacks."""

from __future__ import annotations

from typing import Any

import pytest

from callcenter.ivr import (
    DigitsReceived,
    HangUp,
    IvrError,
    PlayPrompt,
    PromptFinished,
    RouteToQueue,
    SpeechRecognized,
    StartRecognition,
    StopPrompt,
    StopRecognition,
)

MENU = """
start: main
nodes:
  main:
    kind: menu
    prompt: For cards press 1 or say cards. For sales press 2.
    timeout_s: 5
    retries: 2
    no_input: I did not hear you.
    no_match: That is not a choice.
    options:
      - {digit: "1", say: [cards, lost card], label: Cards, next: cards, set: {intent: cards}}
      - {digit: "2", label: Sales, next: sales}
      - {say: [agent], next: agent}
    fallback: agent
  cards: {kind: queue, queue: cards, attributes: {intent: "{intent}"}}
  sales: {kind: queue, queue: sales}
  agent: {kind: queue, queue: general}
"""


def routed(call: Any) -> str | None:
    return next((c.queue for c in call.of(RouteToQueue)), None)


def test_menu_plays_its_prompt_with_buttons_and_listens_for_its_phrases(call_flow: Any) -> None:
    call = call_flow(MENU)
    play = call.last_prompt()
    assert play.text == "For cards press 1 or say cards. For sales press 2."
    assert play.barge_in is True
    assert play.options == (("1", "Cards"), ("2", "Sales"), ("agent", "agent"))
    listen = call.of(StartRecognition)[-1]
    assert listen.grammar == ("cards", "lost card", "agent")


def test_a_key_after_the_prompt_chooses_the_option_and_sets_its_variables(call_flow: Any) -> None:
    call = call_flow(MENU)
    call.finish_prompt()
    out = call.send(DigitsReceived(digits="1"), after=2)
    assert any(isinstance(c, StopRecognition) for c in out)
    assert routed(call) == "cards"
    assert call.of(RouteToQueue)[0].attributes == {"intent": "cards"}
    assert call.session.variables["choice.main"] == "1"
    [event] = call.events("ivr.input")
    assert event.data == {"node": "main", "digits": "1"}


def test_a_key_during_a_barge_in_prompt_stops_it_and_counts(call_flow: Any) -> None:
    call = call_flow(MENU)
    prompt_id = call.last_prompt().prompt_id
    out = call.send(DigitsReceived(digits="2"), after=1)
    assert out[0] == StopPrompt(prompt_id=prompt_id)
    assert routed(call) == "sales"


def test_keys_during_a_prompt_without_barge_in_are_ignored(call_flow: Any) -> None:
    call = call_flow(MENU.replace("timeout_s: 5", "timeout_s: 5\n    barge_in: false"))
    assert call.send(DigitsReceived(digits="2"), after=1) == []
    call.finish_prompt()
    call.send(DigitsReceived(digits="2"))
    assert routed(call) == "sales"


def test_speech_chooses_by_phrase_even_inside_a_longer_utterance(call_flow: Any) -> None:
    call = call_flow(MENU)
    call.finish_prompt()
    call.send(SpeechRecognized(text="I  Lost card please", confidence=0.9))
    assert routed(call) == "cards"
    assert call.events("ivr.input")[0].data["speech"] == "I  Lost card please"


def test_speech_below_the_confidence_floor_is_a_no_match(call_flow: Any) -> None:
    call = call_flow(MENU)
    call.finish_prompt()
    call.send(SpeechRecognized(text="cards", confidence=0.2))
    assert routed(call) is None
    assert call.events("ivr.no_match")[0].data["attempt"] == 1
    assert call.last_prompt().text.startswith("That is not a choice.")


def test_silence_gets_the_retry_prompts_then_the_fallback_never_silence(call_flow: Any) -> None:
    call = call_flow(MENU)
    call.finish_prompt()
    assert call.session.next_deadline() == call.now + 5
    call.wait(5)
    assert call.last_prompt().text == "I did not hear you. For cards press 1 or say cards. For sales press 2."
    call.finish_prompt()
    call.wait(5)
    call.finish_prompt()
    call.wait(5)
    attempts = [e.data["attempt"] for e in call.events("ivr.no_input")]
    assert attempts == [1, 2, 3]
    assert len(call.prompts()) == 3  # first prompt and two retries, each with words
    assert routed(call) == "general"  # the fallback
    assert call.nodes() == ["main", "agent"]


def test_garbage_keys_get_no_match_prompts_then_the_fallback(call_flow: Any) -> None:
    call = call_flow(MENU)
    call.finish_prompt()
    for _ in range(3):
        call.send(DigitsReceived(digits="9"), after=1)
    assert [e.data for e in call.events("ivr.no_match")] == [
        {"node": "main", "attempt": 1, "digits": "9"},
        {"node": "main", "attempt": 2, "digits": "9"},
        {"node": "main", "attempt": 3, "digits": "9"},
    ]
    assert call.prompts()[1].startswith("That is not a choice.")
    assert routed(call) == "general"


def test_the_prompt_guard_starts_the_no_input_timer_when_no_finish_is_reported(call_flow: Any) -> None:
    call = call_flow(MENU)
    guard = call.session.next_deadline()
    assert guard is not None and guard > call.now
    call.wait(guard - call.now)
    assert call.session.next_deadline() == guard + 5


def test_keys_that_are_not_keys_are_refused_and_change_nothing(call_flow: Any) -> None:
    call = call_flow(MENU)
    deadline = call.session.next_deadline()
    with pytest.raises(IvrError) as err:
        call.send(DigitsReceived(digits="1a"))
    assert err.value.code == "ivr_bad_keys"
    assert call.session.next_deadline() == deadline
    assert call.session.take_commands() == []


COLLECT = """
start: account
nodes:
  account:
    kind: collect
    prompt: Enter your account number and press hash.
    min_length: 6
    max_length: 8
    pattern: "[1-9][0-9]+"
    sensitive: true
    show_last: 4
    timeout_s: 7
    inter_digit_s: 3
    retries: 1
    no_match: That number is not valid.
    next: done
    fallback: agent
  done: {kind: queue, queue: general, attributes: {account: "{digits.account}"}}
  agent: {kind: queue, queue: sales}
"""


def test_collect_takes_keys_across_several_inputs_until_the_terminator(call_flow: Any) -> None:
    call = call_flow(COLLECT)
    call.finish_prompt()
    call.send(DigitsReceived(digits="123"), after=1)
    assert call.session.next_deadline() == call.now + 3  # inter-digit timer
    call.send(DigitsReceived(digits="4567#"), after=1)
    assert call.session.variables["digits.account"] == "1234567"
    assert call.events("ivr.input")[0].data == {"node": "account", "digits": "***4567"}
    assert call.of(RouteToQueue)[0].queue == "general"


def test_sensitive_digits_are_masked_everywhere_in_the_log(call_flow: Any) -> None:
    call = call_flow(COLLECT)
    call.send(DigitsReceived(digits="12345678"))  # max length ends it without '#'
    logged = repr([e.data for e in call.events()])
    assert "12345678" not in logged
    assert call.of(RouteToQueue)[0].attributes == {"account": "12345678"}  # the ACD needs it
    assert call.events("ivr.routed")[0].data["attributes"] == {"account": "********"}


def test_inter_digit_timeout_ends_the_entry(call_flow: Any) -> None:
    call = call_flow(COLLECT)
    call.finish_prompt()
    call.send(DigitsReceived(digits="987654"))
    call.wait(3)
    assert call.session.variables["digits.account"] == "987654"


def test_too_short_or_off_pattern_entries_retry_then_fall_back(call_flow: Any) -> None:
    call = call_flow(COLLECT)
    call.finish_prompt()
    call.send(DigitsReceived(digits="12#"))
    assert call.events("ivr.no_match")[0].data == {"node": "account", "attempt": 1, "digits": "**"}
    assert call.last_prompt().text == "That number is not valid. Enter your account number and press hash."
    call.finish_prompt()
    call.send(DigitsReceived(digits="0123456#"))  # pattern forbids a leading zero
    assert call.of(RouteToQueue)[0].queue == "sales"
    assert "digits.account" not in call.session.variables


def test_chat_text_fills_a_collect_node(call_flow: Any) -> None:
    call = call_flow(COLLECT, channel="chat")
    call.finish_prompt()
    call.send(SpeechRecognized(text="1234 5678", confidence=1.0))
    assert call.session.variables["digits.account"] == "12345678"
    assert call.of(RouteToQueue)[0].channel == "chat"


def test_keys_typed_ahead_at_a_menu_feed_the_next_collect_node(call_flow: Any) -> None:
    call = call_flow("""
        start: main
        nodes:
          main:
            kind: menu
            prompt: Press 1 for your account.
            options: [{digit: "1", next: account}]
            fallback: bye
          account:
            kind: collect
            prompt: Enter your account number.
            min_length: 4
            max_length: 4
            next: done
            fallback: bye
          done: {kind: queue, queue: general}
          bye: {kind: hangup}
    """)
    call.send(DigitsReceived(digits="14321"))
    assert call.session.variables["digits.account"] == "4321"
    assert call.prompts() == ["Press 1 for your account."]  # the typed-ahead node asks nothing


def test_a_barge_in_say_carries_its_keys_to_the_next_menu(call_flow: Any) -> None:
    call = call_flow("""
        start: hello
        nodes:
          hello: {kind: say, text: Welcome to the bank, barge_in: true, next: main}
          main:
            kind: menu
            prompt: Press 2 for sales.
            options: [{digit: "2", next: sales}]
            fallback: sales
          sales: {kind: queue, queue: sales}
    """)
    call.send(DigitsReceived(digits="2"))
    assert call.of(RouteToQueue)[0].queue == "sales"
    assert call.nodes() == ["hello", "main", "sales"]


SURVEY = """
start: q
nodes:
  q: {kind: queue, queue: cards, after: rate}
  rate:
    kind: survey
    prompt: Rate us from 1 to 5.
    retries: 1
    timeout_s: 4
    next: bye
  bye: {kind: hangup, prompt: Thanks. Goodbye.}
"""


def test_survey_after_the_agent_part_logs_the_rating_with_the_queue(call_flow: Any) -> None:
    from callcenter.ivr import ContactCompleted

    call = call_flow(SURVEY)
    call.send(ContactCompleted(), after=300)
    assert call.last_prompt().options == tuple((k, k) for k in "12345")
    call.send(DigitsReceived(digits="4"))
    [survey] = call.events("ivr.survey")
    assert survey.data == {"node": "rate", "rating": 4, "via": "digits"}
    assert survey.queue == "cards"
    call.finish_prompt()
    assert call.of(HangUp) == [HangUp(reason="completed")]


def test_survey_by_speech_and_a_rating_out_of_range_is_a_no_match(call_flow: Any) -> None:
    from callcenter.ivr import ContactCompleted

    call = call_flow(SURVEY)
    call.send(ContactCompleted())
    call.finish_prompt()
    call.send(DigitsReceived(digits="7"))
    assert len(call.events("ivr.no_match")) == 1
    call.send(SpeechRecognized(text="Five", confidence=0.8))
    assert call.events("ivr.survey")[0].data["rating"] == 5


def test_a_caller_who_does_not_rate_goes_on_without_a_rating(call_flow: Any) -> None:
    from callcenter.ivr import ContactCompleted

    call = call_flow(SURVEY)
    call.send(ContactCompleted())
    call.finish_prompt()
    call.wait(4)
    call.finish_prompt()
    call.wait(4)
    assert call.events("ivr.survey") == []
    assert call.last_prompt().text == "Thanks. Goodbye."


def test_prompt_finished_for_an_old_prompt_is_ignored(call_flow: Any) -> None:
    call = call_flow(MENU)
    old = call.last_prompt().prompt_id
    call.send(DigitsReceived(digits="7"))  # no match: a new prompt replaces the old one
    assert call.send(PromptFinished(prompt_id=old)) == []
    assert isinstance(call.commands[-1], PlayPrompt | StartRecognition)
