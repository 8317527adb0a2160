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

from callcenter.acd.agents import Agent, State
from callcenter.acd.contacts import Contact, Offer
from callcenter.acd.index import SortedBag
from callcenter.acd.state import WORKING, EngineState


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


Timer = tuple[float, int, str, str, int]  # (when, sequence, kind, id, token)


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


def export_engine(engine: EngineState) -> EngineSnapshot:
    """What ``engine`` holds, copied out. Call it between inputs (after ``take_commands()``)."""
    if engine._commands or engine._deferred is not None:
        raise RuntimeError("take the engine's commands before exporting it")
    return EngineSnapshot(
        agents=[_agent_record(a, engine._agent_seq[aid]) for aid, a in engine.agents.items()],
        contacts=[_contact_record(c) for c in engine.contacts.values()],
        offers=[OfferRecord(**_values(o, OfferRecord)) for o in engine.offers.values()],
        queues=[QueueRecord(name=n, aht=qs.aht, waiting=list(qs.waiting)) for n, qs in engine.queues.items()],
        free=[
            FreeAgent(aid, [Placement(*key, entry) for key, entry in placed])
            for aid, placed in engine._pools.placements()
        ],
        timers=list(engine._timers),
        seq=engine._seq,
        offer_seq=engine._offer_seq,
        last_offered=dict(engine._last_offered),
        positions_armed=engine._pos_armed,
        positions_told=dict(engine._pos_told),
        ended_order=list(engine._ended_order),
        ended_ids=sorted(engine._ended_ids),
        hours_armed=engine._hours_armed,
    )


def restore_engine(engine: EngineState, snap: EngineSnapshot) -> None:
    """Load ``snap`` into ``engine``, freshly built from the configuration the snapshot's
    engine had (the caller checks that: the cluster compares configuration hashes)."""
    if engine.agents or engine.contacts or engine._timers:
        raise RuntimeError("restore into a freshly built engine")
    for r in snap.agents:
        agent = _agent(r)
        engine.agents[r.agent_id] = agent
        engine._agent_seq[r.agent_id] = r.seq
        engine._index_agent(agent)
        if agent.state in WORKING:
            engine._count_staffed(agent, +1)
        if agent.state is not State.LOGGED_OUT:
            engine._count_logged_in(agent, +1)
    for c in snap.contacts:
        contact = _contact(c)
        engine.contacts[c.contact_id] = contact
        if contact.state == "waiting" and contact.target_agent is not None:
            engine._targeted.setdefault(contact.target_agent, SortedBag()).add(contact.key)
    for q in snap.queues:
        qs = engine.queues[q.name]
        qs.aht = q.aht
        for cid in q.waiting:
            contact = engine.contacts[cid]
            qs.waiting[cid] = contact
            qs.voicemails += contact.pool == "voicemail"
            qs.positions.add(contact.key)
            if not contact.held:
                engine._bag(contact.queue, contact.step, contact.pool).add(contact.key)
    for o in snap.offers:
        engine.offers[o.offer_id] = Offer(**_values(o, OfferRecord))
    pools = engine._pools
    for f in snap.free:
        pools.put(f.agent_id, [(pools.bag((p.req, p.pool, p.strategy)), p.entry) for p in f.placements])
    engine._timers = [tuple(t) for t in snap.timers]  # type: ignore[misc]
    engine._seq, engine._offer_seq = snap.seq, snap.offer_seq
    engine._last_offered = dict(snap.last_offered)
    engine._pos_armed = snap.positions_armed
    engine._pos_told = dict(snap.positions_told)
    engine._ended_order = list(snap.ended_order)
    engine._ended_ids = set(snap.ended_ids)
    engine._hours_armed = snap.hours_armed


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
