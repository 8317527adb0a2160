"""What the ACD engine keeps per contact, per offer and per queue; the contacts' one
transition table; the book of the contacts it holds.

``Contact.key`` is the contact's order key ``(priority class, virtual enqueue time,
sequence, contact id)``; it is stored, not derived, because every index operation needs it:
whoever changes ``priority_class`` or ``vtime`` calls ``rekey()``.

A contact's state is one of NEW, WAITING, OFFERED, CONNECTED, ENDED (plain strings: they
are what ``Contact.state`` holds, what snapshots carry and what callers compare). What may
happen in each state is the ``CONTACT_TRANSITIONS`` table; ``move()`` applies a row and
refuses a pair that is not in it with ``IllegalTransition``. The inputs check first, with
their own words ("contact c1 is not waiting"); the table is what every change goes through.
A voicemail held while its queue is closed is WAITING with ``held`` set: it keeps its
place and position, only routing passes it by.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from callcenter.acd.errors import ContactEndedAlready, IllegalTransition, UnknownContact
from callcenter.acd.index import SortedBag
from callcenter.config.sections import QueueConfig
from callcenter.core.templates import render_known

Key = tuple[int, float, int, str]

NEW: Final = "new"  # made from an arrival, not placed yet (between inputs: never seen)
WAITING: Final = "waiting"  # in a queue's waiting line, or waiting for one named agent
OFFERED: Final = "offered"  # ringing at an agent
CONNECTED: Final = "connected"  # with an agent
ENDED: Final = "ended"  # finished; the engine forgets it
CONTACT_STATES = (NEW, WAITING, OFFERED, CONNECTED, ENDED)

CONTACT_TRANSITIONS: dict[tuple[str, str], str] = {
    (NEW, "queue"): WAITING,  # arrived (or overflowed on arrival, or became a callback)
    (WAITING, "queue"): WAITING,  # moved, reprioritised, overflowed on max wait
    (CONNECTED, "queue"): WAITING,  # transferred to a queue, requeued (its agent gone)
    (CONNECTED, "target"): WAITING,  # transferred to a named agent: waits for that one only
    (WAITING, "offer"): OFFERED,
    (OFFERED, "take_back"): WAITING,  # declined, timed out, agent not ready or gone: keeps its key
    (OFFERED, "accept"): CONNECTED,
    (NEW, "call_back"): CONNECTED,  # a voicemail's callback: connected to its agent when made
    (NEW, "end"): ENDED,  # overflowed away on arrival (disconnect, voicemail)
    (WAITING, "end"): ENDED,  # abandoned, overflowed away on max wait
    (OFFERED, "end"): ENDED,  # abandoned while ringing
    (CONNECTED, "end"): ENDED,  # completed, dial failed, called back
}


def move(contact: Contact, action: str) -> None:
    """Apply ``action`` to the contact's state by the table."""
    new = CONTACT_TRANSITIONS.get((contact.state, action))
    if new is None:
        raise IllegalTransition(
            f"contact {contact.contact_id} cannot {action.replace('_', ' ')} while {contact.state}"
        )
    contact.state = new


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
    state: str = NEW  # changed by ``move()`` only
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


class ContactBook:
    """The contacts the engine holds, from arrival to their end, and the ids of those that
    ended lately (so that a late input about one is told so rather than "unknown")."""

    def __init__(self) -> None:
        self.contacts: dict[str, Contact] = {}
        self.ended_ids: set[str] = set()
        self.ended_order: list[str] = []

    def live(self, contact_id: str) -> Contact:
        contact = self.contacts.get(contact_id)
        if contact is None:
            if contact_id in self.ended_ids:
                raise ContactEndedAlready(f"contact {contact_id} has already ended")
            raise UnknownContact(f"unknown contact {contact_id!r}")
        return contact

    def known(self, contact_id: str) -> bool:
        """Held now or ended lately."""
        return contact_id in self.contacts or contact_id in self.ended_ids

    def forget(self, contact: Contact) -> None:
        """The contact has ended: drop it, remembering its id."""
        del self.contacts[contact.contact_id]
        self.ended_ids.add(contact.contact_id)
        self.ended_order.append(contact.contact_id)
        if len(self.ended_order) > 200_000:  # remember recent ones to name late events
            for old in self.ended_order[:100_000]:
                self.ended_ids.discard(old)
            del self.ended_order[:100_000]
