"""The ACD engine's state as plain typed data, and an engine rebuilt from it.

A cluster node that joins (or resynchronises) starts from the lease holder's replica: the
holder exports its engine with ``export_engine`` and a node rebuilds one with
``restore_engine``. The snapshot holds what the engine has learnt from its inputs (agents,
contacts, offers, timers, counters, the free-agent entries); what follows from the
configuration (queues, routing requirements, per-agent bag lists) and what is derived from
the rest (waiting indexes, staffing counters) is rebuilt. The free-agent entries are kept
as they were, not worked out again: a ``random`` strategy's entry holds a draw from the
engine's random source, and drawing again would change both the entry and the source.

Not to be confused with ``AcdEngine.snapshot(now)``, the queue figures for wallboards.

The injected ids and random source are not part of it: whoever builds the engine passes
them, in the state they were in when the snapshot was taken (``runtime/cluster/wire.py``
keeps both beside the engine). A rebuilt engine goes on exactly as the original would.
"""

from __future__ import annotations

from typing import Any

import msgspec

from callcenter.acd.agents import WORKING, Agent, State
from callcenter.acd.contacts import WAITING, Contact, Offer
from callcenter.acd.engine import AcdEngine
from callcenter.acd.index import SortedBag
from callcenter.acd.timer_heap import Timer


class AgentRecord(msgspec.Struct, frozen=True, kw_only=True):
    agent_id: str
    name: str
    skills: dict[str, int]
    chat_capacity: int
    state: State
    reason: str | None
    since: float
    idle_since: float
    pending_not_ready: str | None
    offer_id: str | None
    contacts: dict[str, str]  # contact id -> channel, in the order they were taken
    wrap_up_until: float | None
    wrap_up_contact: str | None
    handled: int
    handle_time: float
    offers_received: int
    ctx: str | None
    ctx_base: str | None
    ctx_n: int
    seq: int  # its place in the tie-breaks of the free-agent keys
    voicemail_capacity: int = 1


class ContactRecord(msgspec.Struct, frozen=True, kw_only=True):
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
    pool: str
    state: str
    step: int
    epoch: int
    placements: int
    ctx_n: int
    step_deadline: float | None
    offer_id: str | None
    agent_id: str | None
    connected_at: float
    target_agent: str | None
    hops: int
    ctx: str | None
    ctx_base: str | None
    held: bool = False


class OfferRecord(msgspec.Struct, frozen=True, kw_only=True):
    offer_id: str
    contact_id: str
    agent_id: str
    deadline: float
    step: int


class QueueRecord(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    aht: float
    waiting: list[str]  # the contacts in its waiting list, in the order they joined it


class Placement(msgspec.Struct, frozen=True, array_like=True):
    """One entry of a free agent in the bag of (requirement, pool, strategy)."""

    req: int
    pool: str
    strategy: str
    entry: tuple[Any, ...]


class FreeAgent(msgspec.Struct, frozen=True, array_like=True):
    agent_id: str
    placements: list[Placement]


class EngineSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    agents: list[AgentRecord]  # in the engine's order
    contacts: list[ContactRecord]
    offers: list[OfferRecord]
    queues: list[QueueRecord]
    free: list[FreeAgent]
    timers: list[Timer]  # the heap, as a list in heap order
    seq: int
    offer_seq: int
    last_offered: dict[str, int]
    positions_armed: bool
    positions_told: dict[str, tuple[int, float | None]]
    ended_order: list[str]
    ended_ids: list[str]
    hours_armed: bool = False


def export_engine(engine: AcdEngine) -> EngineSnapshot:
    """What ``engine`` holds, copied out. Call it between inputs (after ``take_commands()``)."""
    pool, heap, lines, book = engine.agent_pool, engine.timer_heap, engine.lines, engine.book
    if engine.chain.commands or engine.router.deferred is not None:
        raise RuntimeError("take the engine's commands before exporting it")
    return EngineSnapshot(
        agents=[_agent_record(a, pool.seq[aid]) for aid, a in pool.agents.items()],
        contacts=[_contact_record(c) for c in book.contacts.values()],
        offers=[OfferRecord(**_values(o, OfferRecord)) for o in engine.router.offers.values()],
        queues=[QueueRecord(name=n, aht=qs.aht, waiting=list(qs.waiting)) for n, qs in lines.queues.items()],
        free=[
            FreeAgent(aid, [Placement(*key, entry) for key, entry in placed])
            for aid, placed in pool.free.placements()
        ],
        timers=list(heap.heap),
        seq=heap.seq,
        offer_seq=pool.offer_seq,
        last_offered=dict(pool.last_offered),
        positions_armed=heap.positions_armed,
        positions_told=dict(lines.told),
        ended_order=list(book.ended_order),
        ended_ids=sorted(book.ended_ids),
        hours_armed=heap.hours_armed,
    )


def restore_engine(engine: AcdEngine, snap: EngineSnapshot) -> None:
    """Load ``snap`` into ``engine``, freshly built from the configuration the snapshot's
    engine had (the caller checks that: the cluster compares configuration hashes)."""
    pool, heap, lines, book = engine.agent_pool, engine.timer_heap, engine.lines, engine.book
    requirements = engine.requirements
    if pool.agents or book.contacts or heap.heap:
        raise RuntimeError("restore into a freshly built engine")
    for r in snap.agents:
        agent = _agent(r)
        pool.agents[r.agent_id] = agent
        pool.seq[r.agent_id] = r.seq
        pool.index(agent)
        if agent.state in WORKING:
            requirements.count_staffed(agent, +1)
        if agent.state is not State.LOGGED_OUT:
            requirements.count_logged_in(agent, +1)
    for c in snap.contacts:
        contact = _contact(c)
        book.contacts[c.contact_id] = contact
        if contact.state == WAITING and contact.target_agent is not None:
            lines.targeted.setdefault(contact.target_agent, SortedBag()).add(contact.key)
    for q in snap.queues:
        qs = lines.queues[q.name]
        qs.aht = q.aht
        for cid in q.waiting:
            contact = book.contacts[cid]
            qs.waiting[cid] = contact
            qs.voicemails += contact.pool == "voicemail"
            qs.positions.add(contact.key)
            if not contact.held:
                lines.bag(contact.queue, contact.step, contact.pool).add(contact.key)
    for o in snap.offers:
        engine.router.offers[o.offer_id] = Offer(**_values(o, OfferRecord))
    free = pool.free
    for f in snap.free:
        free.put(f.agent_id, [(free.bag((p.req, p.pool, p.strategy)), p.entry) for p in f.placements])
    heap.heap[:] = [tuple(t) for t in snap.timers]  # type: ignore[misc]
    heap.seq, pool.offer_seq = snap.seq, snap.offer_seq
    pool.last_offered.update(snap.last_offered)
    heap.positions_armed = snap.positions_armed
    lines.told = dict(snap.positions_told)
    book.ended_order[:] = snap.ended_order
    book.ended_ids.update(snap.ended_ids)
    heap.hours_armed = snap.hours_armed


def _agent_record(a: Agent, seq: int) -> AgentRecord:
    values = _values(a, AgentRecord, skip=("seq",))
    values["skills"], values["contacts"] = dict(a.skills), dict(a.contacts)
    return AgentRecord(**values, seq=seq)


def _agent(r: AgentRecord) -> Agent:
    values = _values(r, AgentRecord, skip=("seq",))
    values["skills"], values["contacts"] = dict(r.skills), dict(r.contacts)
    return Agent(**values)


def _values(obj: object, record: type[msgspec.Struct], skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields of ``record`` (all of them plain values) but ``skip``, read from ``obj``."""
    return {name: getattr(obj, name) for name in record.__struct_fields__ if name not in skip}


def _contact_record(c: Contact) -> ContactRecord:
    values = _values(c, ContactRecord)
    values["attributes"] = dict(c.attributes)
    return ContactRecord(**values)


def _contact(r: ContactRecord) -> Contact:
    values = _values(r, ContactRecord)
    values["attributes"] = dict(r.attributes)
    contact = Contact(**values)
    contact.rekey()
    return contact
