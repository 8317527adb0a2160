"""What the ACD engine keeps per contact, per offer and per queue, and what it is given.

``Contact.key`` is the contact's order key ``(priority class, virtual enqueue time,
sequence, contact id)``; it is stored, not derived, because every index operation needs it:
whoever changes ``priority_class`` or ``vtime`` calls ``rekey()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from callcenter.acd.index import SortedBag
from callcenter.config.sections import QueueConfig
from callcenter.core.templates import render_known

Key = tuple[int, float, int, str]


class RandomSource(Protocol):
    def random(self) -> float: ...


class HoursLike(Protocol):
    """``callcenter.config.hours.HoursTable`` fits."""

    def is_open(self, name: str | None, now: float) -> bool: ...

    def opening(self, name: str | None, now: float) -> str:
        """When a closed calendar opens next, as words ("tomorrow at 7:00"); "" if unknown."""
        ...


OPENS = "{opens}"  # where a closed queue's overflow message says when it opens


def fill_opening(message: str, opening: str) -> str:
    """Put ``opening`` where the message says ``{opens}``; without a known opening, the
    sentences that name it are left out ("We are closed. We open {opens}." -> "We are
    closed.")."""
    return render_known(message, {"opens": opening}) if OPENS in message else message


@dataclass(slots=True, eq=False)
class Contact:
    contact_id: str
    channel: str
    queue: str
    attributes: dict[str, str]
    caller: str | None
    priority_class: int
    vtime: float
    seq: int
    arrived_at: float
    queued_at: float
    pool: str  # "voice", "chat" or "voicemail": fixed for its life (a call may become a callback)
    state: str = "new"  # waiting, offered, connected, ended
    step: int = 0
    epoch: int = 0  # bumps whenever its place changes: stale step timers are ignored
    placements: int = 0  # bumps on each queue entry: stale max-wait timers are ignored
    ctx_n: int = 0
    step_deadline: float | None = None
    offer_id: str | None = None
    agent_id: str | None = None
    connected_at: float = 0.0
    target_agent: str | None = None
    hops: int = 0
    ctx: str | None = None
    ctx_base: str | None = None
    held: bool = False  # a waiting voicemail kept out of routing while its queue is closed
    key: Key = field(init=False, repr=False)

    def rekey(self) -> None:
        self.key = (self.priority_class, self.vtime, self.seq, self.contact_id)


@dataclass(slots=True)
class Offer:
    offer_id: str
    contact_id: str
    agent_id: str
    deadline: float
    step: int


@dataclass(slots=True, eq=False)
class QueueState:
    cfg: QueueConfig
    reqs: tuple[int, ...]  # requirement id per step
    pools: frozenset[str]  # the pools ("voice", "chat") of the channels it takes
    step_texts: tuple[str, ...]  # "step 1/2 (billing>=3)" per step, for offer traces
    positions: SortedBag = field(default_factory=SortedBag)
    waiting: dict[str, Contact] = field(default_factory=dict)
    voicemails: int = 0  # of ``waiting``: messages do not fill the queue for callers (max_size)
    aht: float = 180.0


def step_text(cfg: QueueConfig, step: int) -> str:
    need = ", ".join(f"{k}>={v}" for k, v in sorted(cfg.steps[step].require.items())) or "any agent"
    return f"step {step + 1}/{len(cfg.steps)} ({need})"
