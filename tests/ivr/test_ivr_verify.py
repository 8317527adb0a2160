"""Verification in the flow language: wrong answers are limited per session and logged
without the secret, a date of birth typed in a chat verifies, and the loader refuses
flows that could disclose record data to an unverified contact."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from callcenter.core.errors import ConfigError
from callcenter.ivr import (
    DigitsReceived,
    RouteToQueue,
    SpeechRecognized,
    VerificationCompleted,
    VerifyCustomer,
)
from callcenter.ivr.loader import load_flows

PIN_FLOW = """
start: menu
nodes:
  menu:
    kind: menu
    prompt: Press 1 for your orders, 0 for an agent.
    options:
      - {digit: "1", next: verify}
      - {digit: "0", next: agent}
    fallback: agent
  verify:
    kind: verify
    method: pin
    account: "AC{acct}"
    secret: "{pin}"
    ask: ask_account
    verified: tell
    failed: sorry
  ask_account: {kind: collect, prompt: Account number, var: acct, sensitive: true, min_length: 8, max_length: 8, next: ask_pin, fallback: agent}
  ask_pin: {kind: collect, prompt: Your PIN, var: pin, sensitive: true, min_length: 4, max_length: 4, next: verify, fallback: agent}
  tell: {kind: say, text: "Hello {customer.first_name}.", next: agent}
  sorry: {kind: say, text: We could not verify you., next: menu}
  agent: {kind: queue, queue: general}
"""


def wrong(call: Any, account: str = "90000001", pin: str = "1111") -> None:
    call.send(DigitsReceived(digits=account))
    call.send(DigitsReceived(digits=pin))
    check = call.of(VerifyCustomer)[-1]
    call.send(VerificationCompleted(request_id=check.request_id, verified=False, customer_id="cu-9"))


def test_three_wrong_pins_stop_the_asking_for_the_rest_of_the_call(call_flow: Any) -> None:
    call = call_flow(PIN_FLOW)
    call.send(DigitsReceived(digits="1"))
    wrong(call)
    assert call.prompts()[-1] == "Sorry, that does not match our records. Account number"
    wrong(call)
    wrong(call)
    assert call.prompts()[-1] == "We could not verify you."
    failed = [e.data for e in call.events("contact.verification_failed")]
    assert [(f["attempt"], f["locked"], f["customer_id"]) for f in failed] == [
        (1, False, "cu-9"),
        (2, False, "cu-9"),
        (3, True, "cu-9"),
    ]
    assert "1111" not in repr([e.data for e in call.events()])  # never the PIN
    assert call.session.variables.get("pin") is None  # keyed answers are used once
    call.finish_prompt()  # back at the menu: asking for orders again asks nothing
    call.send(DigitsReceived(digits="1"))
    assert len(call.of(VerifyCustomer)) == 3
    assert call.prompts()[-1] == "We could not verify you."
    assert not call.events("contact.verified")


def test_a_date_of_birth_typed_in_a_chat_verifies(call_flow: Any) -> None:
    flow = PIN_FLOW.replace("method: pin", "method: dob").replace("max_length: 4", "max_length: 8")
    call = call_flow(flow, channel="chat")
    call.send(DigitsReceived(digits="1"))
    call.send(SpeechRecognized(text="9000 0001"))
    call.send(SpeechRecognized(text="14.05.1988"))
    [check] = call.of(VerifyCustomer)
    assert (check.method, check.account, check.secret) == ("dob", "AC90000001", "14051988")
    assert "14051988" not in repr(check) and "AC90000001" in repr(check)  # a logged command hides it
    call.send(
        VerificationCompleted(
            request_id=check.request_id, verified=True, customer={"id": "cu-1", "first_name": "Noa"}
        )
    )
    assert call.prompts()[-1] == "Hello Noa."
    assert [e.data for e in call.events("contact.verified")] == [{"customer_id": "cu-1", "method": "dob"}]
    assert "14051988" not in repr([e.data for e in call.events()])
    call.finish_prompt()
    [route] = call.of(RouteToQueue)
    assert route.attributes == {"customer_id": "cu-1", "verified": "yes"}


def refused(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "leaky.yaml").write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_flows(tmp_path, queues={"general"}, hours=set())
    return list(exc.value.problems)


def test_the_loader_refuses_personal_data_before_verification(tmp_path: Path) -> None:
    problems = refused(
        tmp_path,
        """
        start: who
        nodes:
          who: {kind: lookup, by: caller_number, value: "{caller}", found: nick, not_found: q}
          nick: {kind: set, values: {nick: "{customer.first_name}"}, next: hi}
          hi: {kind: say, text: "Hi {nick}.", next: order}
          order: {kind: lookup, by: customer_id, value: "{customer.id}", want: card_status, found: q, not_found: q}
          q: {kind: queue, queue: general}
        """,
    )
    assert problems == [
        f"{tmp_path / 'leaky.yaml'}:5: nodes.hi: discloses personal data (its text says {{nick}}) but can be "
        "reached without verification: who -> nick -> hi; put it behind a verify node's 'verified' branch",
        f"{tmp_path / 'leaky.yaml'}:6: nodes.order: discloses personal data (it looks up the customer's "
        "card_status) but can be reached without verification: who -> nick -> hi -> order; put it behind a "
        "verify node's 'verified' branch",
    ]


def test_the_loader_refuses_a_pin_that_would_reach_the_log(tmp_path: Path) -> None:
    problems = refused(tmp_path, PIN_FLOW.replace("var: pin, sensitive: true", "var: pin"))
    assert len(problems) == 1
    assert problems[0].endswith(
        "nodes.verify.secret: {pin} must be the variable of a collect node with sensitive: true "
        "(a PIN or a date of birth never reaches the log)"
    )
