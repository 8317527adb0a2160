"""The waiting lines: the contacts waiting per queue (for positions), per (queue, routing
step, pool) (for routing) and per named agent (transfers to that agent), the estimated wait,
and the queues' opening hours.

Every waiting contact is in its queue's ``waiting`` and ``positions``; one that routing may
offer is also in the bag of its (queue, step, pool), ordered by its order key, whose head
is the oldest contact an agent meeting that step can take. A voicemail held while its queue
is closed is in the first two only; a contact transferred to a named agent only in that
agent's bag. A contact offered the moment it is placed never enters them at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from callcenter.acd.agents import pool_of
from callcenter.acd.contacts import WAITING, Contact, ContactBook, QueueState, step_text
from callcenter.acd.errors import UnknownQueue
from callcenter.acd.index import SortedBag
from callcenter.acd.ports import HoursLike
from callcenter.acd.requirements import Requirements
from callcenter.config.sections import QueueConfig


class WaitingLines:
    def __init__(
        self,
        queues: Sequence[QueueConfig],
        requirements: Requirements,
        book: ContactBook,
        hours: HoursLike,
        *,
        default_aht: float,
    ) -> None:
        self.queues: dict[str, QueueState] = {}
        for q in queues:
            self.queues[q.name] = QueueState(
                cfg=q,
                reqs=requirements.of_queue(q),
                pools=frozenset(pool_of(ch) for ch in q.channels),
                step_texts=tuple(step_text(q, i) for i in range(len(q.steps))),
                aht=default_aht,
            )
        self.hours = hours
        self.bags: dict[tuple[str, int, str], SortedBag] = {}  # (queue, step, pool) -> keys
        self.targeted: dict[str, SortedBag] = {}  # agent id -> contacts transferred to them
        self.told: dict[str, tuple[int, float | None]] = {}  # last position announced per contact
        self._staffed = requirements.staffed
        self._contacts = book.contacts

    def queue(self, name: str) -> QueueState:
        qs = self.queues.get(name)
        if qs is None:
            raise UnknownQueue(f"unknown queue {name!r} (known: {', '.join(sorted(self.queues))})")
        return qs

    def bag(self, queue: str, step: int, pool: str) -> SortedBag:
        bag = self.bags.get((queue, step, pool))
        if bag is None:
            bag = self.bags[(queue, step, pool)] = SortedBag()
        return bag

    def closed(self, qs: QueueState, now: float) -> bool:
        return qs.cfg.hours is not None and not self.hours.is_open(qs.cfg.hours, now)

    # In and out of line ----------------------------------------------------------------------

    def index(self, contact: Contact, qs: QueueState) -> int:
        """Index a waiting contact; returns its 0-based position in its queue."""
        qs.waiting[contact.contact_id] = contact
        qs.voicemails += contact.pool == "voicemail"
        self.bag(contact.queue, contact.step, contact.pool).add(contact.key)
        return qs.positions.add(contact.key)

    def hold(self, contact: Contact, qs: QueueState) -> int:
        """Index a voicemail of a closed queue: it waits (counted, with a position) but out of
        routing; returns its 1-based position."""
        contact.held = True
        contact.epoch += 1  # its step timers are moot; it starts over at the opening
        contact.step, contact.step_deadline = 0, None
        qs.waiting[contact.contact_id] = contact
        qs.voicemails += 1
        return qs.positions.add(contact.key) + 1

    def target(self, contact: Contact, agent_id: str) -> None:
        """Make the contact wait for one agent only (a transfer to that agent)."""
        contact.target_agent = agent_id
        contact.epoch += 1
        self.targeted.setdefault(agent_id, SortedBag()).add(contact.key)

    def leave(self, contact: Contact) -> None:
        """Take a waiting contact out of every waiting index."""
        if contact.target_agent is not None:
            self.targeted[contact.target_agent].remove(contact.key)
            contact.target_agent = None
        elif contact.state == WAITING:
            qs = self.queues[contact.queue]
            qs.positions.remove(contact.key)
            del qs.waiting[contact.contact_id]
            qs.voicemails -= contact.pool == "voicemail"
            if contact.held:
                contact.held = False
            else:
                self.bags[(contact.queue, contact.step, contact.pool)].remove(contact.key)
        contact.epoch += 1

    # Positions and the estimated wait ------------------------------------------------------------

    def ewt(self, qs: QueueState, position: int) -> float | None:
        """``position * AHT / N`` with N the agents working who meet the queue's widest step
        (None: nobody is)."""
        staffed = self._staffed[qs.reqs[-1]]
        if staffed == 0:
            return None
        return position * qs.aht / staffed

    def position(self, contact: Contact) -> tuple[int, float | None]:
        qs = self.queues[contact.queue]
        pos = qs.positions.rank(contact.key) + 1
        return pos, self.ewt(qs, pos)

    def ranked(self, qs: QueueState) -> Iterator[tuple[int, Contact, float | None]]:
        """(position, contact, estimated wait) of each waiting contact, in queue order."""
        contacts = self._contacts
        for i, key in enumerate(qs.positions.items):
            yield i + 1, contacts[key[3]], self.ewt(qs, i + 1)
