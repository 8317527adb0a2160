"""Branch conditions, written as data and never evaluated as code (prompt templates are
``callcenter.core.templates``).

A condition tests one subject: a session variable (``var``), a queue's estimated wait
(``queue_ewt``), an opening-hours calendar (``open``), or combines others (``all``,
``any``, ``not``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import msgspec

from callcenter.core.templates import VAR_NAME


class HoursPort(Protocol):
    """``callcenter.config.hours.HoursTable`` fits."""

    def is_open(self, name: str | None, now: float) -> bool: ...

    def opening(self, name: str | None, now: float) -> str:
        """When a closed calendar opens next, as words ("tomorrow at 7:00"); "" if open."""
        ...


def calendars(cond: Condition) -> list[str]:
    """The opening-hours calendars a condition asks about (``open``), nested ones too."""
    found = [cond.open] if cond.open is not None else []
    for inner in (cond.all_ or []) + (cond.any_ or []) + ([cond.not_] if cond.not_ else []):
        found += calendars(inner)
    return found


class QueueStatusPort(Protocol):
    """Estimated wait of a queue in seconds, or None when there is no estimate."""

    def ewt_s(self, queue: str) -> float | None: ...


def _one(label: str, present: list[str]) -> None:
    if len(present) != 1:
        found = ", ".join(present) if present else "none"
        raise ValueError(f"a condition needs exactly one {label} (found: {found})")


class Condition(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    var: str | None = None
    queue_ewt: str | None = None
    open: str | None = None
    all_: list[Condition] | None = msgspec.field(default=None, name="all")
    any_: list[Condition] | None = msgspec.field(default=None, name="any")
    not_: Condition | None = msgspec.field(default=None, name="not")
    equals: str | None = None
    not_equals: str | None = None
    in_: list[str] | None = msgspec.field(default=None, name="in")
    above: float | None = None
    below: float | None = None
    exists: bool | None = None

    def __post_init__(self) -> None:
        subjects = ("var", "queue_ewt", "open", "all", "any", "not")
        values = (self.var, self.queue_ewt, self.open, self.all_, self.any_, self.not_)
        named = [s for s, v in zip(subjects, values, strict=True) if v is not None]
        _one("subject (var, queue_ewt, open, all, any, not)", named)
        ops = ("equals", "not_equals", "in", "above", "below", "exists")
        given = [o for o, v in zip(ops, self._ops(), strict=True) if v is not None]
        if self.var is not None:
            if not VAR_NAME.match(self.var):
                raise ValueError(f"var {self.var!r} is not a variable name")
            _one("test for var (equals, not_equals, in, above, below, exists)", given)
        elif self.queue_ewt is not None:
            if set(given) - {"above", "below"} or len(given) != 1:
                raise ValueError("queue_ewt takes exactly one of 'above' or 'below' (seconds)")
        elif given:
            raise ValueError(f"{', '.join(given)} only goes with 'var' or 'queue_ewt'")
        for group in (self.all_, self.any_):
            if group is not None and not group:
                raise ValueError("'all' and 'any' need at least one condition")

    def _ops(self) -> tuple[object, ...]:
        return (self.equals, self.not_equals, self.in_, self.above, self.below, self.exists)

    def walk(self) -> list[Condition]:
        """This condition and every condition nested in it."""
        out = [self]
        for child in (*(self.all_ or ()), *(self.any_ or ()), *((self.not_,) if self.not_ else ())):
            out += child.walk()
        return out


@dataclass(frozen=True, slots=True)
class Facts:
    """What a condition may look at."""

    variables: Mapping[str, str]
    hours: HoursPort
    queues: QueueStatusPort
    now: float


def evaluate(cond: Condition, facts: Facts) -> bool:
    """True when the condition holds. Unknown numbers (unset variable, no EWT) make
    ``above``/``below`` false, so a flow never takes a branch on a guess."""
    if cond.all_ is not None:
        return all(evaluate(c, facts) for c in cond.all_)
    if cond.any_ is not None:
        return any(evaluate(c, facts) for c in cond.any_)
    if cond.not_ is not None:
        return not evaluate(cond.not_, facts)
    if cond.open is not None:
        return facts.hours.is_open(cond.open, facts.now)
    if cond.queue_ewt is not None:
        return _compare(facts.queues.ewt_s(cond.queue_ewt), cond)
    assert cond.var is not None
    value = facts.variables.get(cond.var)
    if cond.exists is not None:
        return (value not in (None, "")) == cond.exists
    if cond.equals is not None:
        return value == cond.equals
    if cond.not_equals is not None:
        return value != cond.not_equals
    if cond.in_ is not None:
        return value in cond.in_
    return _compare(_number(value), cond)


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _compare(value: float | None, cond: Condition) -> bool:
    if value is None:
        return False
    if cond.above is not None:
        return value > cond.above
    return cond.below is not None and value < cond.below
