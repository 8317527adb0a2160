"""Invariants over random callers on the demo bank flow: whatever a caller keys, says or
does, the session is never stuck in silence, refuses only with named errors, and ends
exactly once."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.config.loader import load_config
from callcenter.core.context import Context
from callcenter.core.events import RecordEvent
from callcenter.core.ids import SequentialIds
from callcenter.ivr import (
    CallerHungUp,
    ContactCompleted,
    DigitsReceived,
    Flow,
    IvrError,
    IvrSession,
    LookupCompleted,
    LookupCustomer,
    PlayPrompt,
    PromptFinished,
    QueueStatusChanged,
    SessionStarted,
    SpeechRecognized,
    VoicemailRecorded,
)
from callcenter.ivr.loader import load_flows

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Flow:
    tmp = tmp_path_factory.mktemp("bank")
    config = load_config(ROOT / "config" / "callcenter.yaml")
    shutil.copy(ROOT / "config" / "ivr" / "bank.yaml", tmp / "bank.yaml")
    return load_flows(tmp, queues={q.name for q in config.queues}, hours=set(config.hours))["bank"]


class Hours:
    def __init__(self, open_: bool) -> None:
        self.open = open_

    def is_open(self, name: str | None, now: float) -> bool:
        return self.open

    def opening(self, name: str | None, now: float) -> str:
        return ""


class Queues:
    def __init__(self, ewt: float | None) -> None:
        self.ewt = ewt

    def ewt_s(self, queue: str) -> float | None:
        return self.ewt


steps = st.one_of(
    st.tuples(st.just("keys"), st.text(alphabet="0123456789*#", min_size=1, max_size=10)),
    st.tuples(st.just("say"), st.sampled_from(["agent", "lost card", "balance", "", "five", "blah", "1234"])),
    st.tuples(st.just("finish"), st.none()),
    st.tuples(st.just("wait"), st.floats(min_value=0.1, max_value=40)),
    st.tuples(st.just("lookup"), st.booleans()),
    st.tuples(st.just("queue"), st.integers(min_value=1, max_value=20)),
    st.tuples(st.just("completed"), st.none()),
    st.tuples(st.just("voicemail"), st.none()),
    st.tuples(st.just("hangup"), st.none()),
)


def apply(session: IvrSession, step: tuple[str, Any], now: float, commands: list[Any]) -> float:
    kind, arg = step
    prompts = [c for c in commands if isinstance(c, PlayPrompt)]
    asks = [c for c in commands if isinstance(c, LookupCustomer)]
    makers: dict[str, Callable[[], Any]] = {
        "keys": lambda: DigitsReceived(digits=arg),
        "say": lambda: SpeechRecognized(text=arg, confidence=0.9),
        "finish": lambda: PromptFinished(prompt_id=prompts[-1].prompt_id if prompts else "p-0"),
        "lookup": lambda: (
            LookupCompleted(
                request_id=asks[-1].request_id,
                found=arg,
                customer={"id": "cu-1", "tier": "top"} if arg else None,
                answer={"balance": 5},
            )
            if asks
            else None
        ),
        "queue": lambda: QueueStatusChanged(position=arg, ewt_s=arg * 60.0),
        "completed": lambda: ContactCompleted(),
        "voicemail": lambda: VoicemailRecorded(path="vm.wav", seconds=3),
        "hangup": lambda: CallerHungUp(),
        "wait": lambda: None,
    }
    event = makers[kind]()
    if kind == "wait":
        now += arg
        deadline = session.next_deadline()
        if deadline is not None and deadline <= now:
            session.handle_timer(now)
    elif event is not None:
        try:
            session.handle(event, now)
        except IvrError:
            assert session.take_commands() == []  # a refusal changes nothing
    return now


@settings(max_examples=150, deadline=None)
@given(
    script=st.lists(steps, max_size=40),
    open_=st.booleans(),
    ewt=st.one_of(st.none(), st.floats(min_value=0, max_value=1200)),
)
def test_random_callers_never_leave_the_session_silent_or_stuck(
    bank: Flow, script: list[tuple[str, Any]], open_: bool, ewt: float | None
) -> None:
    session = IvrSession(
        flow=bank,
        contact_id="c-1",
        context=Context(id="x-1"),
        ids=SequentialIds(),
        hours=Hours(open_),
        queues=Queues(ewt),
    )
    now = 1_700_000_000.0
    session.handle(SessionStarted(caller="+15550111", called="+15550100", channel="voice"), now)
    commands = session.take_commands()
    for step in script:
        now = apply(session, step, now, commands)
        commands += session.take_commands()
        if session.state == "running" and session.next_deadline() is None:
            # only a contact handed to the ACD may wait without a timer of its own
            assert session._phase == "queued"
    ended = [c for c in commands if isinstance(c, RecordEvent) and c.event.type == "ivr.ended"]
    assert len(ended) == (1 if session.state == "ended" else 0)
    for c in commands:
        if isinstance(c, PlayPrompt):
            assert c.text.strip()  # every prompt says something
