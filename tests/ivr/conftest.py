"""Helpers for IVR tests: flows from YAML text, recording fakes for the ports, and a
driver that feeds a session on a hand-moved clock."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from callcenter.core.context import Context
from callcenter.core.events import InteractionEvent, RecordEvent
from callcenter.core.ids import SequentialIds
from callcenter.ivr import Flow, IvrSession, PlayPrompt, PromptFinished, SessionStarted
from callcenter.ivr.loader import load_flows

QUEUES = {"general", "english", "cards", "internet", "stocks", "sales"}
HOURS = {"bank", "always"}
T0 = 1_700_000_000.0


class FakeHours:
    """Every calendar open, or every calendar closed until "tomorrow at 7:00"; records the
    questions."""

    def __init__(self, open_: bool = True) -> None:
        self.open = open_
        self.asked: list[tuple[str | None, float]] = []

    def is_open(self, name: str | None, now: float) -> bool:
        self.asked.append((name, now))
        return self.open

    def opening(self, name: str | None, now: float) -> str:
        return "" if self.open else "tomorrow at 7:00"


class FakeQueues:
    def __init__(self, ewt: dict[str, float] | None = None) -> None:
        self.ewt = dict(ewt or {})

    def ewt_s(self, queue: str) -> float | None:
        return self.ewt.get(queue)


class Call:
    """One session plus everything it said, on a clock moved by hand."""

    def __init__(
        self, flow: Flow, *, hours: FakeHours | None = None, queues: FakeQueues | None = None
    ) -> None:
        self.hours = hours or FakeHours()
        self.queues = queues or FakeQueues()
        self.session = IvrSession(
            flow=flow,
            contact_id="c-1",
            context=Context(id="x-9", parent_id="x-1"),
            ids=SequentialIds(),
            hours=self.hours,
            queues=self.queues,
        )
        self.now = T0
        self.commands: list[Any] = []

    def start(
        self,
        caller: str = "+15550111",
        called: str = "+15550100",
        channel: str = "voice",
        login_customer_id: str | None = None,
    ) -> list[Any]:
        return self.send(
            SessionStarted(caller=caller, called=called, channel=channel, login_customer_id=login_customer_id)
        )

    def send(self, event: Any, after: float = 0.0) -> list[Any]:
        self.now += after
        self.session.handle(event, self.now)
        return self._take()

    def wait(self, seconds: float) -> list[Any]:
        """Move the clock and fire the timer if due, the way the runtime driver does."""
        target = self.now + seconds
        out: list[Any] = []
        while (deadline := self.session.next_deadline()) is not None and deadline <= target:
            self.now = deadline
            self.session.handle_timer(self.now)
            out += self._take()
        self.now = target
        return out

    def finish_prompt(self) -> list[Any]:
        return self.send(PromptFinished(prompt_id=self.last_prompt().prompt_id))

    def _take(self) -> list[Any]:
        got = self.session.take_commands()
        self.commands += got
        return got

    def last_prompt(self) -> PlayPrompt:
        return [c for c in self.commands if isinstance(c, PlayPrompt)][-1]

    def prompts(self) -> list[str]:
        return [c.text for c in self.commands if isinstance(c, PlayPrompt)]

    def events(self, kind: str | None = None) -> list[InteractionEvent]:
        return [c.event for c in self.commands if isinstance(c, RecordEvent) and kind in (None, c.event.type)]

    def of(self, cls: type) -> list[Any]:
        return [c for c in self.commands if isinstance(c, cls)]

    def nodes(self) -> list[str]:
        return [e.data["node"] for e in self.events("ivr.node")]


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@pytest.fixture
def flow_from(tmp_path: Path) -> Callable[[str], Flow]:
    """Load one flow file's text (dedented) and return its flow."""
    counter = iter(range(1000))

    def build(text: str) -> Flow:
        folder = tmp_path / f"flows{next(counter)}"
        folder.mkdir()
        write(folder, "test.yaml", text)
        return next(iter(load_flows(folder, queues=QUEUES, hours=HOURS)))

    return build


@pytest.fixture
def make_call() -> Callable[..., Call]:
    """``make_call(flow, open_=True, ewt={"general": 400})`` -> a ``Call`` not yet started."""

    def build(flow: Flow, *, open_: bool = True, ewt: dict[str, float] | None = None) -> Call:
        return Call(flow, hours=FakeHours(open_), queues=FakeQueues(ewt))

    return build


@pytest.fixture
def call_flow(flow_from: Callable[[str], Flow], make_call: Callable[..., Call]) -> Callable[..., Call]:
    """``call_flow(yaml_text, **make_call_kwargs)`` -> a started ``Call``."""

    def build(text: str, caller: str = "+15550111", channel: str = "voice", **kwargs: Any) -> Call:
        call = make_call(flow_from(text), **kwargs)
        call.start(caller=caller, channel=channel)
        return call

    return build
