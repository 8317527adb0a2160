"""The session's one table (ivr/handling.py): it is total, docs/ivr.md shows it as it is,
and every (phase, input) pair does what its handler says, on a real session."""

from __future__ import annotations

import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from callcenter.ivr import (
    CallerHungUp,
    ContactCompleted,
    DigitsReceived,
    HangUp,
    IvrError,
    IvrSession,
    LookupCompleted,
    LookupCustomer,
    PlayPrompt,
    PromptFinished,
    QueueStatusChanged,
    SessionStarted,
    SpeechRecognized,
    StopPrompt,
    UnexpectedInput,
    VerificationCompleted,
    VerifyCustomer,
    VoicemailRecorded,
)
from callcenter.ivr.flow import Flow
from callcenter.ivr.handling import (
    AFTER_PROMPT,
    AFTERS,
    ANY,
    HANDLING,
    PHASES,
    TIMER,
    WHAT,
    Input,
    Phase,
    handler_name,
    input_name,
    markdown,
)
from callcenter.ivr.messages import IvrInput
from tests.ivr.conftest import Call

DOCS = Path(__file__).resolve().parents[2] / "docs" / "ivr.md"
PAIRS = [(phase, on) for on in HANDLING for phase in PHASES]

# Every waiting phase in one flow: a lookup and a login-token verification come first (so a
# later phase knows an answered request of each), then TARGET, the node the phase is at (the
# menu's other options only make every node reachable).
FLOW = """
start: first
nodes:
  first: {kind: lookup, by: caller_number, value: "{caller}", found: check, not_found: check}
  check: {kind: verify, method: token, verified: TARGET, failed: menu}
  menu:
    kind: menu
    prompt: Press 1 or say sales.
    barge_in: true
    options:
      - {digit: "1", say: [sales], next: picked}
      - {digit: "2", next: again}
      - {digit: "3", next: vm}
      - {digit: "4", next: q}
    fallback: picked
  again: {kind: lookup, by: caller_number, value: "{caller}", found: picked, not_found: picked}
  vm: {kind: voicemail, prompt: Leave a message., next: picked}
  q: {kind: queue, queue: general, prompt: Please hold., announce: "You are number {position}.", after: picked}
  picked: {kind: say, text: Picked., next: bye}
  bye: {kind: hangup}
"""
TARGETS: dict[Phase, str] = {
    "idle": "menu",
    "prompt": "menu",
    "input": "menu",
    "lookup": "again",
    "verifying": "picked",
    "recording": "vm",
    "queued": "q",
}


def in_phase(phase: Phase, flow_from: Callable[[str], Flow], make_call: Callable[..., Call]) -> Call:
    call = make_call(flow_from(FLOW.replace("TARGET", TARGETS[phase])))
    call.start(login_customer_id="cu-1")
    [first] = call.of(LookupCustomer)
    call.send(LookupCompleted(request_id=first.request_id, found=True, customer={"id": "cu-1"}))
    if phase != "verifying":
        [check] = call.of(VerifyCustomer)
        call.send(VerificationCompleted(request_id=check.request_id, verified=True, customer={"id": "cu-1"}))
    if phase in ("input", "recording"):
        call.finish_prompt()
    if phase == "idle":
        call.session._phase = "idle"  # only ever between two nodes: set it to see the row at work
    assert call.session._phase == phase
    assert call.session.node_id == ("check" if phase == "verifying" else TARGETS[phase])
    return call


def probe(call: Call, on: Input) -> Any:
    """The input ``on`` as the runtime would send it now; None for the timer."""
    lookups, checks = call.of(LookupCustomer), call.of(VerifyCustomer)
    prompts = call.of(PlayPrompt)
    probes: dict[Input, Any] = {
        DigitsReceived: DigitsReceived(digits="1"),
        SpeechRecognized: SpeechRecognized(text="sales"),
        PromptFinished: PromptFinished(prompt_id=prompts[-1].prompt_id if prompts else "p-none"),
        CallerHungUp: CallerHungUp(),
        LookupCompleted: LookupCompleted(
            request_id=lookups[-1].request_id, found=True, customer={"id": "cu-1"}
        ),
        VerificationCompleted: VerificationCompleted(
            request_id=checks[-1].request_id, verified=True, customer={"id": "cu-1"}
        ),
        VoicemailRecorded: VoicemailRecorded(path="vm.wav", seconds=3.0),
        ContactCompleted: ContactCompleted(),
        QueueStatusChanged: QueueStatusChanged(position=2),
        TIMER: None,
    }
    return probes[on]


def feed(call: Call, on: Input) -> list[Any]:
    event = probe(call, on)
    if on != TIMER:
        return call.send(event)
    session = call.session
    call.now = session.next_deadline() or call.now + 100_000.0
    session.handle_timer(call.now)
    return session.take_commands()


class Before:
    def __init__(self, session: IvrSession) -> None:
        self.session = session
        self.seen = (session.state, session._phase, session.node_id, dict(session.variables))

    def unchanged(self) -> bool:
        s = self.session
        return (s.state, s._phase, s.node_id, dict(s.variables)) == self.seen


def kinds(commands: list[Any]) -> list[str]:
    return [c.event.type if hasattr(c, "event") else type(c).__name__ for c in commands]


def events(commands: list[Any], kind: str) -> list[dict[str, Any]]:
    return [c.event.data for c in commands if hasattr(c, "event") and c.event.type == kind]


def check_outcome(name: str, call: Call, on: Input) -> None:
    """Feed ``on`` to ``call`` and check it did what handler ``name`` does."""
    session = call.session
    before = Before(session)
    if name.startswith("refuse_"):
        with pytest.raises(UnexpectedInput):
            feed(call, on)
        assert before.unchanged() and session.take_commands() == []
        return
    if name in ("late_lookup", "late_verification", "lookup_answered", "verification_answered"):
        with pytest.raises(UnexpectedInput):
            call.send(msgspec.structs.replace(probe(call, on), request_id="never-asked"))
        assert before.unchanged() and session.take_commands() == []
    if name.endswith("_keys"):
        with pytest.raises(IvrError) as bad:
            call.send(DigitsReceived(digits="1x"))
        assert bad.value.code == "ivr_bad_keys"
        assert before.unchanged() and session.take_commands() == []
    got = feed(call, on)
    picked = session.node_id == "picked"
    if name in ("ignore", "check_keys", "forget_prompt", "late_lookup", "late_verification"):
        assert got == [] and before.unchanged()
    elif name in ("barge_in_keys", "take_keys"):
        assert picked and events(got, "ivr.input") == [{"node": "menu", "digits": "1"}]
        assert any(isinstance(c, StopPrompt) for c in got) is (name == "barge_in_keys")
    elif name in ("barge_in_speech", "take_speech"):
        assert picked and events(got, "ivr.input")[0]["speech"] == "sales"
        assert any(isinstance(c, StopPrompt) for c in got) is (name == "barge_in_speech")
    elif name in ("prompt_finished", "prompt_timed_out"):
        assert (session._phase, session.node_id) == ("input", "menu")
    elif name == "input_timed_out":
        assert events(got, "ivr.no_input") == [{"node": "menu", "attempt": 1}]
    elif name == "hung_up":
        assert (session.state, session.end_reason) == ("ended", "caller_hung_up")
        assert not any(isinstance(c, HangUp) for c in got)
    elif name == "lookup_answered":
        assert picked and events(got, "ivr.lookup")[0]["found"] is True
    elif name == "lookup_timed_out":
        assert picked and events(got, "ivr.lookup")[0]["timed_out"] is True
    elif name == "verification_answered":
        assert picked and events(got, "contact.verified") == [{"customer_id": "cu-1", "method": "token"}]
    elif name == "verification_timed_out":
        assert session.node_id == "menu"  # the verify node's failed
        assert events(got, "contact.verification_failed")[0]["reason"] == "timed_out"
    elif name in ("voicemail_recorded", "voicemail_timed_out"):
        assert picked and events(got, "ivr.voicemail")[0]["recorded"] is (name == "voicemail_recorded")
    elif name == "contact_completed":
        assert picked
    elif name == "queue_status":
        assert [c.text for c in got if isinstance(c, PlayPrompt)] == ["You are number 2."]
        assert session.variables["position"] == "2" and session._phase == "queued"
    else:
        raise AssertionError(f"no outcome written down for handler {name!r}")


@pytest.mark.parametrize(("phase", "on"), PAIRS, ids=[f"{p}-{input_name(o)}" for p, o in PAIRS])
def test_every_pair_of_the_table_does_what_its_handler_says(
    phase: Phase, on: Input, flow_from: Callable[[str], Flow], make_call: Callable[..., Call]
) -> None:
    name = handler_name(phase, on)
    assert name is not None
    check_outcome(name, in_phase(phase, flow_from, make_call), on)


@pytest.mark.parametrize("phase", PHASES)
def test_an_input_the_table_does_not_know_is_refused_in_every_phase(
    phase: Phase, flow_from: Callable[[str], Flow], make_call: Callable[..., Call]
) -> None:
    call = in_phase(phase, flow_from, make_call)
    before = Before(call.session)
    for stranger in (object(), TIMER):  # the timer is not an input to handle()
        with pytest.raises(IvrError) as refused:
            call.send(stranger)
        assert refused.value.code == "ivr_unknown_input"
    assert before.unchanged() and call.session.take_commands() == []


def test_the_table_is_total_and_names_only_handlers_the_session_has() -> None:
    inputs = set(typing.get_args(IvrInput)) - {SessionStarted}
    assert set(HANDLING) == inputs | {TIMER}
    for on, row in HANDLING.items():
        assert set(row) <= {*PHASES, ANY}
        assert ANY in row or set(row) == set(PHASES), input_name(on)
    assert set(AFTER_PROMPT) == set(AFTERS)
    names = {n for row in HANDLING.values() for n in row.values()} | set(AFTER_PROMPT.values())
    assert names == set(WHAT)
    assert all(callable(getattr(IvrSession, f"_{n}", None)) for n in names)


def test_the_docs_show_the_table_as_the_code_has_it() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    assert markdown() in docs, "docs/ivr.md: paste callcenter.ivr.handling.markdown() again:\n" + markdown()
