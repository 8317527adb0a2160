"""The demo bank flow loads cleanly against the demo center config and serves its callers."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from callcenter.config.loader import load_config
from callcenter.ivr import (
    ContactCompleted,
    DigitsReceived,
    Flow,
    HangUp,
    LookupCompleted,
    LookupCustomer,
    OfferCallback,
    RouteToQueue,
    SpeechRecognized,
    StartVoicemail,
    VerificationCompleted,
    VerifyCustomer,
)
from callcenter.ivr.loader import load_flows

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "callcenter.yaml"


@pytest.fixture(scope="module")
def names() -> tuple[set[str], set[str]]:
    config = load_config(CONFIG)
    return {q.name for q in config.queues}, set(config.hours)


@pytest.fixture
def bank(tmp_path: Path, names: tuple[set[str], set[str]]) -> Flow:
    shutil.copy(ROOT / "config" / "ivr" / "bank.yaml", tmp_path / "bank.yaml")
    queues, hours = names
    flows = load_flows(tmp_path, queues=queues, hours=hours)
    assert flows.warnings == ()
    return flows["bank"]


def test_the_configured_flow_folder_loads_cleanly(names: tuple[set[str], set[str]]) -> None:
    queues, hours = names
    flows = load_flows(ROOT / "config" / "ivr", queues=queues, hours=hours)
    assert flows.entry_for("voice", "+15550100") is flows["bank"]
    assert flows.entry_for("chat", "web-bank") is flows["bank"]


def identify(call: Any, customer: dict[str, Any] | None) -> None:
    ask = call.of(LookupCustomer)[-1]
    call.send(LookupCompleted(request_id=ask.request_id, found=customer is not None, customer=customer))


ADA = {"id": "cu-1", "first_name": "Ada", "tier": "top"}


def test_known_caller_with_a_lost_card_goes_first_to_the_cards_queue_then_rates(
    bank: Flow, make_call: Any
) -> None:
    call = make_call(bank)
    call.start()
    call.send(DigitsReceived(digits="1"))  # barge into the welcome: English
    assert call.of(LookupCustomer)[0].value == "+15550111"
    identify(call, ADA)  # the number is a claim: a candidate for routing, no greeting
    assert call.prompts()[-1].startswith("For your balance, press 1")
    assert not any("Ada" in p for p in call.prompts())
    call.finish_prompt()
    call.send(SpeechRecognized(text="lost card", confidence=0.9))
    [route] = call.of(RouteToQueue)
    assert (route.queue, route.priority_class) == ("cards", 0)
    assert route.attributes == {"intent": "lost_card", "tier": "top", "language": "en"}
    call.send(ContactCompleted(), after=240)
    call.send(DigitsReceived(digits="5"))
    assert call.events("ivr.survey")[0].data["rating"] == 5
    call.finish_prompt()
    assert call.of(HangUp) == [HangUp(reason="completed")]


def test_a_caller_verified_by_account_number_and_pin_hears_the_balance(bank: Flow, make_call: Any) -> None:
    call = make_call(bank)
    call.start(caller="+15550999")
    call.send(DigitsReceived(digits="1"))
    identify(call, None)
    call.send(DigitsReceived(digits="1"))  # "I have an account": the main menu
    call.send(DigitsReceived(digits="1"))  # balance: personal, so verify first
    assert call.prompts()[-1].startswith("Please key in the eight digits of your account number")
    call.send(DigitsReceived(digits="90000001#"))
    call.send(DigitsReceived(digits="4321#"))
    [check] = call.of(VerifyCustomer)
    assert (check.method, check.account, check.secret) == ("pin", "AC90000001", "4321")
    call.send(
        VerificationCompleted(
            request_id=check.request_id, verified=True, customer={"id": "cu-2", "first_name": "Bo"}
        )
    )
    assert call.prompts()[-1] == "Thank you, Bo."
    call.finish_prompt()
    ask = call.of(LookupCustomer)[-1]
    assert (ask.by, ask.value, ask.want, ask.for_customer) == ("customer_id", "cu-2", "balance", "cu-2")
    call.send(
        LookupCompleted(request_id=ask.request_id, found=True, answer={"balance": 310, "currency": "dollars"})
    )
    assert call.prompts()[-1] == "Your balance is 310 dollars."
    assert [e.data for e in call.events("contact.verified")] == [{"customer_id": "cu-2", "method": "pin"}]
    assert [e.data["digits"] for e in call.events("ivr.input")][-2:] == ["****0001", "****"]
    logged = repr([e.data for e in call.events()])
    assert "4321" not in logged and "90000001" not in logged


def test_a_caller_who_says_nothing_is_prompted_again_then_reaches_an_agent(
    bank: Flow, make_call: Any
) -> None:
    call = make_call(bank)
    call.start()
    call.finish_prompt()  # welcome
    for _ in range(3):  # language menu: first try and two retries, then English by default
        call.finish_prompt()
        call.wait(6)
    identify(call, ADA)
    for _ in range(3):
        call.finish_prompt()
        call.wait(6)
    assert len(call.events("ivr.no_input")) == 6
    assert call.of(RouteToQueue)[0].queue == "english"


def test_a_long_english_wait_offers_a_callback(bank: Flow, make_call: Any) -> None:
    call = make_call(bank, ewt={"english": 900})
    call.start()
    call.send(DigitsReceived(digits="1"))
    identify(call, ADA)
    call.send(DigitsReceived(digits="0"))  # barge into the main menu: an agent
    call.send(DigitsReceived(digits="1"))  # call me back
    [offer] = call.of(OfferCallback)
    assert (offer.queue, offer.number) == ("english", "+15550111")
    call.finish_prompt()
    assert call.of(HangUp) == [HangUp(reason="callback")]


def test_outside_its_hours_the_stock_desk_takes_a_message_and_says_when_it_opens(
    bank: Flow, make_call: Any
) -> None:
    call = make_call(bank, open_=False)
    call.start()
    call.send(DigitsReceived(digits="2"))  # Hebrew
    identify(call, None)
    call.send(DigitsReceived(digits="9"))  # no such choice
    call.finish_prompt()
    call.send(DigitsReceived(digits="1"))  # an account: the main menu
    call.send(DigitsReceived(digits="5"))  # the stock exchange desk keeps office hours
    assert call.prompts()[-1].startswith("The stock exchange desk is closed. It opens tomorrow at 7:00. ")
    call.finish_prompt()
    assert call.of(StartVoicemail) == [StartVoicemail(max_s=120, queue="stocks")]  # waits there as work
