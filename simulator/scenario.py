"""Scenario files: the traffic, the callers' behaviour and the agents of a simulated day.

A scenario is YAML loaded into these frozen structs with the same reader as the
center configuration, so a mistake is reported as ``file:line: field: message``. Queues
and skills come either from a center configuration (``center: path``) or are written in
the scenario itself (``skills``/``queues``, the same keys as in ``callcenter.yaml``).
See docs/simulator.md for a worked example.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

import msgspec
from msgspec.structs import replace

from callcenter.config.loader import load_config
from callcenter.config.sections import WEEKDAYS, QueueConfig, SkillConfig, parse_span
from callcenter.config.yamlnodes import Problems, Reader, read_document
from callcenter.core.errors import ConfigError
from callcenter.ivr import Flow
from callcenter.ivr.loader import load_flows
from simulator.distributions import Dist, exponential, fixed


class Seconds(float):
    """A duration in seconds, written ``3600``, ``"90m"``, ``"8h"`` or ``"2d"``."""

    @classmethod
    def from_yaml(cls, value: object) -> Seconds:
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
        else:
            text = str(value).strip()
            units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
            if not text or text[-1] not in units:
                raise ValueError(f"{value!r} is not a duration like 3600, '90m', '8h' or '2d'")
            try:
                seconds = float(text[:-1]) * units[text[-1]]
            except ValueError:
                raise ValueError(f"{value!r} is not a duration like 3600, '90m', '8h' or '2d'") from None
        if seconds <= 0:
            raise ValueError("duration must be positive")
        return cls(seconds)


class Arrivals(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Poisson arrivals at ``rate_per_hour`` times the hour-of-day and weekday factors, or
    the arrival times of a trace file (CSV with a header: ``at`` in seconds from the start,
    optional ``type``/``queue``/``priority``/``service_s`` columns)."""

    rate_per_hour: float = 0.0
    hourly: list[float] = msgspec.field(default_factory=list)
    weekdays: dict[str, float] = msgspec.field(default_factory=dict)
    trace: str | None = None

    def __post_init__(self) -> None:
        if self.trace is None and self.rate_per_hour <= 0:
            raise ValueError("arrivals need a positive rate_per_hour, or a trace file")
        if self.hourly and len(self.hourly) != 24:
            raise ValueError(f"hourly needs 24 factors (hours 0-23), found {len(self.hourly)}")
        if any(f < 0 for f in self.hourly) or any(f < 0 for f in self.weekdays.values()):
            raise ValueError("arrival factors must not be negative")
        for day in self.weekdays:
            if day not in WEEKDAYS:
                raise ValueError(f"{day!r} is not a weekday ({', '.join(WEEKDAYS)})")


KEYPAD = frozenset("0123456789*#")


class ContactType(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One kind of contact in the mix, drawn with probability weight / total weight."""

    queue: str
    weight: float = 1.0
    channel: Literal["voice", "chat"] = "voice"
    intent: str = ""
    language: str = ""
    segment: str = ""
    attributes: dict[str, str] = msgspec.field(default_factory=dict)
    # live mode, voice: what the caller keys, one entry after each prompt heard to its end
    keys: list[str] = msgspec.field(default_factory=list)
    # live mode, voice, callers who speak (ivr.speech_share): the same, said instead of
    # keyed; "" listens to that prompt silently, keypad input (account numbers) is keyed
    say: list[str] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        if self.weight <= 0:
            raise ValueError("weight must be positive")
        for key in self.keys:
            if not key or any(ch not in KEYPAD for ch in key):
                raise ValueError(f"keys: {key!r} is not keypad input (digits, * and #)")
        if self.say and not any(is_spoken(answer) for answer in self.say):
            raise ValueError("say: no entry is speech (all are silent or keypad input); use keys")


def is_spoken(answer: str) -> bool:
    """A ``say`` entry that is speech (not silence, not keypad input)."""
    return bool(answer.strip()) and any(ch not in KEYPAD for ch in answer)


class IvrBehaviour(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Time callers spend in the IVR, how many hang up there, and how many key a wrong
    option first (which costs one more prompt). With ``flow`` (an IVR flow file) voice
    callers in virtual mode walk that flow through the real IVR engine instead of spending
    ``time``, which is then only when those who hang up do so."""

    time: Dist = msgspec.field(default_factory=lambda: fixed(0.0))
    flow: str | None = None
    called: str = ""  # live mode: the number voice callers dial (the flow's entry)
    hangup_rate: float = 0.0
    mistake_rate: float = 0.0
    input: Literal["digits", "speech"] = "digits"
    # live mode: the share of voice callers (of contact types with ``say``) who speak their
    # answers (``input: speech``: all of them), in this espeak-ng voice at this rate (wpm)
    speech_share: float = 0.0
    voice: str = ""
    voice_rate: int | None = None
    # virtual mode: the share of spoken answers the recogniser hears right (the rest are a
    # no-match); the Korean menu words were heard right 117-119 times in 120 (docs/speech.md)
    speech_accuracy: float = 0.97

    def __post_init__(self) -> None:
        if self.voice_rate is not None and not 80 <= self.voice_rate <= 400:
            raise ValueError(f"voice_rate {self.voice_rate} is outside 80-400 words per minute")
        for name in ("hangup_rate", "mistake_rate", "speech_share", "speech_accuracy"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1")


class Break(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    at: str
    minutes: float

    def __post_init__(self) -> None:
        parse_span(f"{self.at}-24:00")
        if self.minutes <= 0:
            raise ValueError("a break needs positive minutes")


class AgentGroup(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``count`` agents with the same skills, shift and behaviour."""

    count: int
    name: str = "agent"
    skills: dict[str, int] = msgspec.field(default_factory=dict)
    chat_capacity: int = 1
    shift: str = "00:00-24:00"
    breaks: list[Break] = msgspec.field(default_factory=list)
    handle_time: Dist = msgspec.field(default_factory=lambda: exponential(180.0))
    wrap_up: Dist = msgspec.field(default_factory=lambda: fixed(0.0))
    answer_delay: Dist = msgspec.field(default_factory=lambda: fixed(0.0))
    decline_rate: float = 0.0
    no_answer_rate: float = 0.0

    def __post_init__(self) -> None:
        if self.count < 0:
            raise ValueError("count must not be negative")
        parse_span(self.shift)
        for name in ("decline_rate", "no_answer_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1")


class Scenario(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    name: str
    duration: Seconds
    arrivals: Arrivals
    mix: list[ContactType]
    agents: list[AgentGroup]
    seed: int = 1
    start: datetime = datetime.fromisoformat("2026-01-05T00:00:00+00:00")
    center: str | None = None
    skills: list[SkillConfig] = msgspec.field(default_factory=list)
    queues: list[QueueConfig] = msgspec.field(default_factory=list)
    hours: list[str] = msgspec.field(default_factory=list)  # business-hours names a flow may name (all open)
    patience: Dist | None = None
    ivr: IvrBehaviour = msgspec.field(default_factory=IvrBehaviour)
    service_level_s: float = 20.0
    short_abandon_s: float = 0.0
    interval_s: float = 1800.0
    drain: bool = True

    def __post_init__(self) -> None:
        if not self.mix:
            raise ValueError("mix needs at least one contact type")
        if self.start.tzinfo is None:
            raise ValueError("start needs a UTC offset, e.g. 2026-11-23T08:00:00+00:00")

    @property
    def speech_share(self) -> float:
        """The share of voice callers who speak their answers (live mode)."""
        return 1.0 if self.ivr.input == "speech" else self.ivr.speech_share


def load_scenario(path: Path | str) -> Scenario:
    """Load a scenario file; queues from ``center`` are merged in; all problems at once."""
    path = Path(path)
    problems = Problems()
    reader = Reader(read_document(path), problems)
    if reader.value is None:
        problems.add(reader.file, 1, "", "file is empty")
    scenario, _partial = reader.convert_struct(reader.value, Scenario, "")
    if scenario is None:
        problems.raise_if_any()
        raise ConfigError([f"{path}: not a scenario"])
    if scenario.arrivals.trace is not None and not Path(scenario.arrivals.trace).is_absolute():
        trace = str((path.parent / scenario.arrivals.trace).resolve())
        scenario = replace(scenario, arrivals=replace(scenario.arrivals, trace=trace))
    if scenario.center is not None:
        center_path = (path.parent / scenario.center).resolve()
        try:
            center = load_config(center_path)
        except ConfigError as exc:
            problems.items.extend(exc.problems)
            problems.raise_if_any()
        scenario = _with_center(scenario, center.skills, center.queues)
        scenario = replace(scenario, hours=sorted({*scenario.hours, *center.hours}))
    if scenario.ivr.flow is not None:
        flow = str((path.parent / scenario.ivr.flow).resolve())
        scenario = replace(scenario, ivr=replace(scenario.ivr, flow=flow))
    _check(scenario, reader.file, reader.lines, problems)
    problems.raise_if_any()
    _check_flow(scenario, problems)
    return scenario


def _check_flow(s: Scenario, problems: Problems) -> None:
    """The IVR flow loads against the scenario's queues (its own file:line problems)."""
    if s.ivr.flow is None:
        return
    try:
        load_flow(Path(s.ivr.flow), queues={q.name for q in s.queues}, hours=set(s.hours))
    except ConfigError as exc:
        problems.items.extend(exc.problems)
    except (OSError, ValueError) as exc:
        problems.items.append(f"{s.ivr.flow}: {exc}")
    problems.raise_if_any()


def load_flow(path: Path, *, queues: set[str], hours: set[str]) -> Flow:
    """The flow in file ``path`` (its folder is loaded, so cross-checks apply)."""
    flows = load_flows(path.parent, queues=queues, hours=hours)
    for flow in flows.flows.values():
        if Path(flow.file).resolve() == path.resolve():
            return flow
    raise ValueError(f"{path}: no flow loaded from this file")


def _with_center(s: Scenario, skills: list[SkillConfig], queues: list[QueueConfig]) -> Scenario:
    own = {q.name for q in s.queues}
    merged = [*s.queues, *(q for q in queues if q.name not in own)]
    return replace(s, skills=[*s.skills, *skills], queues=merged)


def _check(s: Scenario, file: str, lines: dict[str, int], problems: Problems) -> None:
    queues = {q.name for q in s.queues}
    skills = {k.name for k in s.skills}
    if not queues:
        problems.add(file, 1, "queues", "no queues: name a center config with 'center' or list 'queues'")
    for i, kind in enumerate(s.mix):
        if queues and kind.queue not in queues:
            where = f"mix[{i}].queue"
            problems.add(
                file,
                lines.get(where, 1),
                where,
                f"unknown queue {kind.queue!r} (known: {', '.join(sorted(queues))})",
            )
    for i, group in enumerate(s.agents):
        for skill in group.skills:
            where = f"agents[{i}].skills.{skill}"
            if skill not in skills:
                problems.add(file, lines.get(where, 1), where, f"unknown skill {skill!r}")
    for qi, queue in enumerate(s.queues):
        for si, step in enumerate(queue.steps):
            for skill in step.require:
                if skill not in skills:
                    where = f"queues[{qi}].steps[{si}].require.{skill}"
                    problems.add(file, lines.get(where, 1), where, f"unknown skill {skill!r}")
