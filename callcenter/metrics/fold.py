"""Contact-center figures as one incremental fold over interaction-log events.

Theory of operation (definitions in docs/metrics.md, written once there):

- ``MetricsFold.apply(event)`` takes events in log order, one at a time, from the live bus
  or from stored events alike, and keeps a little state per open contact and per agent.
- Every count and duration is added to a *cell*: (15-minute bucket of the moment the figure
  happened, queue, agent). A figure belongs to the interval in which it happened: an answer
  to the interval of the connect, an abandon to that of the hang-up, a handled contact to
  that of its release (its wrap-up time joins the same cell when the wrap-up ends).
- ``figures(start, end, queue=, agent=)`` adds up the cells and turns them into ratios; the
  report for any interval, queue or agent and the live view call the same function, so a
  day's report equals the live fold's figures for that day.
- Agent time (staffed, busy) is cut at bucket edges; ``advance(now)`` books the time of the
  states agents are in now, so a live view calls it before reading figures.
- ``live(now)`` gives what is true at this moment: contacts waiting, longest wait, agents by
  state; ``totals`` keeps counters since the fold started, for Prometheus.

The fold never raises on odd input: an event for a contact it has not seen (a report's
window started mid-contact) is counted where it can be and otherwise skipped.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from callcenter.core.events import InteractionEvent, StoredEvent
from callcenter.metrics.cells import (
    BUCKET_S,
    CellKey,
    Cells,
    Counts,
    Slices,
    bucket_of,
    figures,
    slice_cells,
)

__all__ = ["BUCKET_S", "CellKey", "Cells", "Counts", "MetricsFold", "bucket_of", "figures", "normalise"]

SHORT_ABANDON_S = 5.0
REPEAT_WINDOW_S = 7 * 86400.0
DEFAULT_SERVICE_LEVEL_S = 20.0
WAIT_BUCKETS_S = (5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
STAFFED = frozenset({"AVAILABLE", "OFFERED", "ON_CONTACT", "WRAP_UP"})
BUSY = frozenset({"ON_CONTACT", "WRAP_UP"})
AGENT_STATES = ("LOGGED_OUT", "NOT_READY", "AVAILABLE", "OFFERED", "ON_CONTACT", "WRAP_UP")
RECENT_ENDED = 50_000  # ended contacts remembered so a late survey finds its queue and agent

Event = InteractionEvent | StoredEvent | Mapping[str, Any]


@dataclass
class _Contact:
    arrived_at: float | None = None
    caller: str | None = None
    customer: str | None = None
    queue: str | None = None
    waiting: bool = False
    wait_since: float = 0.0
    agent: str | None = None
    last_agent: str | None = None
    held_since: float | None = None
    hold_s: float = 0.0
    counted: bool = False  # counted in ``contacts`` (at its first queue)


@dataclass
class _Agent:
    state: str = "LOGGED_OUT"
    since: float = 0.0
    booked_to: float = 0.0
    wrap_cell: CellKey | None = None


@dataclass
class QueueTotals:
    """Counters since the fold started (Prometheus counters must never go down)."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    wait_counts: list[int] = field(default_factory=lambda: [0] * (len(WAIT_BUCKETS_S) + 1))
    wait_sum: float = 0.0


@dataclass(frozen=True, slots=True)
class LiveQueue:
    waiting: int
    longest_wait_s: float


@dataclass(frozen=True, slots=True)
class Live:
    queues: dict[str, LiveQueue]
    agents: dict[str, str]  # agent id -> state
    agents_by_state: dict[str, int]


def normalise(event: Event) -> tuple[str, float, str | None, str | None, str | None, Mapping[str, Any]]:
    """(type, at, contact_id, agent_id, queue, data) of a stored, live or bus-payload event."""
    if isinstance(event, Mapping):
        return (
            str(event["type"]),
            float(event["at"]),
            event.get("contact_id"),
            event.get("agent_id"),
            event.get("queue"),
            event.get("data") or {},
        )
    return event.type, event.at, event.contact_id, event.agent_id, event.queue, event.data


class MetricsFold:
    """Figures folded from interaction events; see the module docstring for the contract.

    Feed events in log order with :meth:`apply` (or :meth:`apply_all`); call :meth:`advance`
    with the current time before reading agent-time figures of a period still running."""

    def __init__(
        self,
        *,
        service_level_s: Mapping[str, float] | None = None,
        short_abandon_s: float = SHORT_ABANDON_S,
        repeat_window_s: float = REPEAT_WINDOW_S,
    ) -> None:
        self.service_level_s = dict(service_level_s or {})
        self.short_abandon_s = short_abandon_s
        self.repeat_window_s = repeat_window_s
        self.cells = Cells()
        self.totals: dict[str, QueueTotals] = defaultdict(QueueTotals)
        self.contacts: dict[str, _Contact] = {}
        self.agents: dict[str, _Agent] = {}
        self.last_seen: dict[str, float] = {}
        self.ended: OrderedDict[str, tuple[str | None, str | None]] = OrderedDict()
        self.last_at = 0.0
        self.applied = 0  # events folded so far: a view redraws when this moves

    # Public methods for feeding ---------------------------------------------------------------

    def apply_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.apply(event)

    def apply(self, event: Event) -> None:
        """Fold one event; events must come in log order (times never go backwards much)."""
        kind, at, cid, agent, queue, data = normalise(event)
        self.last_at = max(self.last_at, at)
        self.applied += 1
        if kind == "agent.state":
            if agent:
                self._agent_state(agent, at, str(data.get("state") or "").upper())
            return
        if kind in ("ivr.survey", "contact.rated"):
            self._rating(cid, at, queue, agent, data.get("rating"))
            return
        if not cid or not kind.startswith("contact."):
            return
        handler = _CONTACT_HANDLERS.get(kind)
        if handler is not None:
            handler(self, cid, at, queue, agent, data)

    def advance(self, now: float) -> None:
        """Book agents' time in their current state up to ``now``."""
        for agent_id, a in self.agents.items():
            if now > a.booked_to:
                self._book(agent_id, a.state, a.booked_to, now)
                a.booked_to = now

    def prune(self, before: float) -> None:
        """Forget cells before ``before`` (a live fold keeps a few days, not forever)."""
        self.cells.drop_before(bucket_of(before))
        horizon = before - self.repeat_window_s
        for who in [k for k, t in self.last_seen.items() if t < horizon]:
            del self.last_seen[who]

    # Public methods for reading ---------------------------------------------------------------

    def counts(
        self, start: float, end: float, *, queue: str | None = None, agent: str | None = None
    ) -> Counts:
        """The sum of the cells with buckets in [start, end), for one queue and/or agent.

        Agent-time cells carry no queue: with ``queue`` set, occupancy is left out."""
        out = Counts()
        for (_bucket, q, a), c in self.cells.between(start, end):
            if (queue is None or q == queue) and (agent is None or a == agent):
                out.add(c)
        return out

    def figures(
        self, start: float, end: float, *, queue: str | None = None, agent: str | None = None
    ) -> dict[str, Any]:
        return figures(self.counts(start, end, queue=queue, agent=agent))

    def slices(self, start: float, end: float) -> Slices:
        """In one pass over [start, end): the counts per queue, per agent, and in all.

        The same sums as ``counts(start, end, queue=q)``, ``counts(..., agent=a)`` and
        ``counts(start, end)``, for a view that shows every queue and agent at once (a view
        that asks again and again keeps a ``cells.WindowCounts``)."""
        return slice_cells(self.cells.between(start, end))

    def dimensions(self, start: float, end: float) -> tuple[list[str], list[str]]:
        """The queues and agents that have figures in [start, end), sorted."""
        qs = {q for (b, q, _), _c in self.cells.items() if start <= b < end and q}
        ags = {a for (b, _, a), _c in self.cells.items() if start <= b < end and a}
        return sorted(qs), sorted(ags)

    def live(self, now: float) -> Live:
        """Contacts waiting per queue now, the longest wait, and every agent's state."""
        waiting: dict[str, list[float]] = defaultdict(list)
        for c in self.contacts.values():
            if c.waiting and c.queue:
                waiting[c.queue].append(c.wait_since)
        queues = {q: LiveQueue(len(since), max(0.0, now - min(since))) for q, since in waiting.items()}
        by_state = dict.fromkeys(AGENT_STATES, 0)
        for a in self.agents.values():
            by_state[a.state] = by_state.get(a.state, 0) + 1
        return Live(queues, {k: a.state for k, a in self.agents.items()}, by_state)

    # Contacts -------------------------------------------------------------------------------

    def _cell(self, at: float, queue: str | None, agent: str | None) -> Counts:
        return self.cells.cell((bucket_of(at), queue, agent))

    def _arrived(self, cid: str, at: float, q: str | None, ag: str | None, data: Mapping[str, Any]) -> None:
        self.contacts[cid] = _Contact(arrived_at=at, caller=data.get("caller"), queue=q)

    def _identified(
        self, cid: str, at: float, q: str | None, ag: str | None, data: Mapping[str, Any]
    ) -> None:
        c = self.contacts.get(cid)
        if c is not None and data.get("customer_id"):
            c.customer = str(data["customer_id"])

    def _queued(self, cid: str, at: float, q: str | None, ag: str | None, data: Mapping[str, Any]) -> None:
        c = self.contacts.setdefault(cid, _Contact())
        if not c.waiting:  # a move or overflow keeps the caller's waiting time
            c.waiting, c.wait_since = True, at
        c.queue = q
        cell = self._cell(at, q, None)
        cell.offered += 1
        if not c.counted:  # once per contact, however many queues it reaches
            c.counted = True
            cell.contacts += 1
        if q:
            self.totals[q].offered += 1

    def _left_queue(
        self, cid: str, at: float, q: str | None, ag: str | None, data: Mapping[str, Any]
    ) -> None:
        """Overflowed or moved while waiting: the wait in this queue ended unanswered."""
        c = self.contacts.get(cid)
        if c is not None and c.waiting and c.queue == q:
            self._cell(at, q, None).overflowed += 1

    def _connected(self, cid: str, at: float, q: str | None, ag: str | None, data: Mapping[str, Any]) -> None:
        c = self.contacts.get(cid)
        if c is None or not c.waiting:
            return
        queue = c.queue or q
        wait = at - c.wait_since
        c.waiting, c.agent, c.last_agent, c.hold_s, c.held_since = False, ag, ag, 0.0, None
        cell = self._cell(at, queue, ag)
        cell.answered += 1
        cell.answered_wait_s += wait
        threshold = self.service_level_s.get(queue or "", DEFAULT_SERVICE_LEVEL_S)
        cell.answered_within += wait <= threshold + 1e-9
        if queue:
            t = self.totals[queue]
            t.answered += 1
            t.wait_sum += wait
            t.wait_counts[_wait_bucket(wait)] += 1

    def _held(self, cid: str, at: float, q: str | None, ag: str | None, data: Mapping[str, Any]) -> None:
        c = self.contacts.get(cid)
        if c is not None and c.held_since is None:
            c.held_since = at

    def _retrieved(self, cid: str, at: float, q: str | None, ag: str | None, data: Mapping[str, Any]) -> None:
        c = self.contacts.get(cid)
        if c is not None and c.held_since is not None:
            c.hold_s += at - c.held_since
            c.held_since = None

    def _wrap_up(self, cid: str, at: float, q: str | None, ag: str | None, data: Mapping[str, Any]) -> None:
        """The agent released the contact: one handled contact (talk and hold known now)."""
        c = self.contacts.get(cid)
        if c is None or ag is None:
            return
        self._retrieved(cid, at, q, ag, data)
        talk_and_hold = float(data.get("talk_s") or 0.0)
        hold = min(c.hold_s, talk_and_hold)
        key = (bucket_of(at), c.queue or q, ag)
        cell = self.cells.cell(key)
        cell.handled += 1
        cell.talk_s += talk_and_hold - hold
        cell.hold_s += hold
        c.hold_s, c.agent = 0.0, None
        self.agents.setdefault(ag, _Agent(since=at, booked_to=at)).wrap_cell = key

    def _transferred(
        self, cid: str, at: float, q: str | None, ag: str | None, data: Mapping[str, Any]
    ) -> None:
        c = self.contacts.get(cid)
        by = data.get("by_agent") or ag
        self._cell(at, (c.queue if c else None) or q, by).transfers += 1

    def _ended(self, cid: str, at: float, q: str | None, ag: str | None, data: Mapping[str, Any]) -> None:
        c = self.contacts.pop(cid, None)
        if c is None:
            return
        if c.waiting and data.get("reason") == "abandoned":
            wait = at - c.wait_since
            cell = self._cell(at, c.queue, None)
            cell.abandoned += 1
            cell.abandoned_wait_s += wait
            cell.short_abandoned += wait < self.short_abandon_s
            if c.queue:
                self.totals[c.queue].abandoned += 1
        self._repeat(c, at)
        self.ended[cid] = (c.queue, c.last_agent)
        if len(self.ended) > RECENT_ENDED:
            self.ended.popitem(last=False)

    def _repeat(self, c: _Contact, at: float) -> None:
        key = f"customer:{c.customer}" if c.customer else (f"caller:{c.caller}" if c.caller else None)
        if key is None or c.arrived_at is None:
            return
        cell = self._cell(at, c.queue, None)
        cell.identified_ended += 1
        previous = self.last_seen.get(key)
        if previous is not None and 0 <= c.arrived_at - previous <= self.repeat_window_s:
            cell.repeats += 1
        self.last_seen[key] = max(previous or c.arrived_at, c.arrived_at)

    def _rating(self, cid: str | None, at: float, q: str | None, ag: str | None, rating: Any) -> None:
        if isinstance(rating, bool) or not isinstance(rating, int | float) or not 1 <= rating <= 5:
            return
        live = self.contacts.get(cid or "")
        queue, agent = (live.queue, live.last_agent) if live else self.ended.get(cid or "", (q, ag))
        cell = self._cell(at, queue or q, agent or ag)
        cell.ratings += 1
        cell.ratings_good += rating >= 4
        cell.rating_sum += int(rating)

    # Agents ---------------------------------------------------------------------------------

    def _agent_state(self, agent_id: str, at: float, state: str) -> None:
        a = self.agents.get(agent_id)
        if a is None:
            self.agents[agent_id] = _Agent(state=state, since=at, booked_to=at)
            return
        if at > a.booked_to:
            self._book(agent_id, a.state, a.booked_to, at)
            a.booked_to = at
        if a.state == "WRAP_UP" and a.wrap_cell is not None:
            self.cells.cell(a.wrap_cell).wrap_s += max(0.0, at - a.since)
        if state != "WRAP_UP":
            a.wrap_cell = None
        a.state, a.since = state, at

    def _book(self, agent_id: str, state: str, start: float, end: float) -> None:
        """Add staffed and busy seconds from ``start`` to ``end``, cut at bucket edges."""
        if state not in STAFFED:
            return
        t = start
        while t < end:
            edge = min(end, bucket_of(t) + BUCKET_S)
            cell = self._cell(t, None, agent_id)
            cell.staffed_s += edge - t
            if state in BUSY:
                cell.busy_s += edge - t
            t = edge


def _wait_bucket(wait: float) -> int:
    return next((i for i, edge in enumerate(WAIT_BUCKETS_S) if wait <= edge), len(WAIT_BUCKETS_S))


_CONTACT_HANDLERS = {
    "contact.arrived": MetricsFold._arrived,
    "contact.identified": MetricsFold._identified,
    "contact.queued": MetricsFold._queued,
    "contact.overflowed": MetricsFold._left_queue,
    "contact.moved": MetricsFold._left_queue,
    "contact.connected": MetricsFold._connected,
    "contact.held": MetricsFold._held,
    "contact.retrieved": MetricsFold._retrieved,
    "contact.wrap_up": MetricsFold._wrap_up,
    "contact.transferred": MetricsFold._transferred,
    "contact.ended": MetricsFold._ended,
}
