"""What travels between cluster nodes, and the Lua that fences the lease holder's writes.

- ``Forwarded``: an input a node hands to the routing-lease holder (inputs stream).
- ``Entry``: what the holder sequenced (applied stream): an ACD input, a timer tick, an
  event to log, the start of a term, a check mark or digest. It carries the holder's
  fencing token and the time the holder stamped on it, so every replica applies the same
  thing at the same time: ``now`` on the holder's step-free line, which the engine runs on,
  and ``wall``, its wall clock then, which the events the entry logs are stamped with
  (``core/clock.py``).
- ``ReplicaState``: an engine replica and what the center derived from it, as of one
  applied-stream id; the holder stores its image (``ReplicaImage``: the engine's typed
  snapshot, ``acd/snapshot.py``, with its ids and random source) in Redis so a joining
  node starts from it.

The wire is MessagePack through msgspec, one typed envelope per message with the wire
version ``v`` (``WIRE_VERSION``): data only, never code. A body's type follows from the
entry's kind; an ACD input's is named by ``t`` and looked up among the inputs the engine
takes (``ACD_INPUTS``). Decoding checks the version, then the envelope, then the body
against its type, and a message that does not fit raises ``WireError`` naming the version
or the field: the node logs it, counts it and goes on (``ClusterCenter.refuse``).

The holder appends entries and stores snapshots with one Lua call that first checks that
the lease still holds its ``node:token``, so a holder whose lease has passed to another
node has its writes refused by Redis itself (``FENCED``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import msgspec
from redis.exceptions import RedisError

from callcenter import __version__
from callcenter.acd.engine import AcdEngine
from callcenter.acd.messages import (
    AgentDisconnected,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentReady,
    AgentSkillsChanged,
    AttributesChanged,
    CallbackRequested,
    ContactAbandoned,
    ContactArrived,
    ContactEnded,
    ContactHeld,
    ContactMoved,
    ContactRequeued,
    ContactsRestored,
    ContactTransferred,
    OfferAccepted,
    OfferDeclined,
    PriorityChanged,
    VoicemailCalledBack,
)
from callcenter.acd.snapshot import EngineSnapshot, export_engine, restore_engine
from callcenter.config.sections import CenterConfig
from callcenter.core.events import InteractionEvent
from callcenter.core.ids import prefix_for
from callcenter.storage.database import clean_value

log = logging.getLogger(__name__)
T = TypeVar("T")

WIRE_VERSION = 1  # bump on any change to what travels; config_hash includes it

EntryKind = Literal["in", "rec", "lost", "own", "timer", "term", "mark", "digest"]
ForwardedKind = Literal["in", "rec", "lost", "own"]

APPEND_FENCED = """
local cur = redis.call('GET', KEYS[1])
if cur ~= ARGV[1] then
  return redis.error_reply('FENCED the routing lease is ' .. tostring(cur) .. ', not ' .. ARGV[1])
end
local last = ''
for i = 3, #ARGV do
  last = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'e', ARGV[i])
end
return last
"""

STORE_FENCED = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('FENCED the routing lease is not ' .. ARGV[1])
end
redis.call('SET', KEYS[2], ARGV[2])
return 1
"""


class WireError(ValueError):
    """A cluster message this node cannot read: another wire version, or a field that does
    not fit its type. The message says which."""


# What travels, in memory --------------------------------------------------------------------


class Forwarded(msgspec.Struct, frozen=True):
    node: str
    req: int  # 0: nobody waits for the outcome (``post``)
    kind: ForwardedKind  # lost: (contact id, owner) of a contact whose node died;
    # own: (contact id, owner) of a chat its customer resumed on another node
    body: Any


class Entry(msgspec.Struct, frozen=True):
    token: int
    now: float
    kind: EntryKind
    node: str = ""
    req: int = 0
    body: Any = None
    src: str = ""  # the inputs-stream id it was sequenced from
    wall: float | None = None  # the holder's wall clock at ``now`` (None: log at ``now``)


class ClusterIds:
    """Ids the engine mints: the same on every replica (a counter under a cluster epoch)."""

    def __init__(self, epoch: str, n: int = 0) -> None:
        self.epoch = epoch
        self.n = n

    def new(self, kind: str) -> str:
        self.n += 1
        return f"{prefix_for(kind)}-{self.epoch}-{self.n:x}"


@dataclass
class ReplicaState:
    engine: AcdEngine
    ids: ClusterIds  # the engine's ids and random source, which travel with it
    rng: random.Random
    config_hash: str
    entry_id: str = "0-0"  # the last applied-stream entry folded in
    src: str = "0-0"  # the last inputs-stream id sequenced
    highest_token: int = 0
    last_now: float = 0.0
    owners: dict[str, str] = field(default_factory=dict)  # contact or agent -> node it is on
    agent_of: dict[str, str] = field(default_factory=dict)
    handled_by: OrderedDict[str, str] = field(default_factory=OrderedDict)


# Bodies ---------------------------------------------------------------------------------------

ACD_INPUTS: tuple[type, ...] = (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentReady,
    AgentNotReady,
    AgentSkillsChanged,
    AgentDisconnected,
    ContactArrived,
    OfferAccepted,
    OfferDeclined,
    ContactAbandoned,
    ContactEnded,
    ContactTransferred,
    ContactRequeued,
    CallbackRequested,
    ContactHeld,
    ContactMoved,
    AttributesChanged,
    PriorityChanged,
    ContactsRestored,
    VoicemailCalledBack,
)
_INPUT_NAMES = {cls: cls.__name__ for cls in ACD_INPUTS}
Decoders = dict[str, msgspec.msgpack.Decoder[Any]]
_INPUT_DECODERS: Decoders = {cls.__name__: msgspec.msgpack.Decoder(cls) for cls in ACD_INPUTS}
_BODY_DECODERS: Decoders = {
    "rec": msgspec.msgpack.Decoder(InteractionEvent),
    "lost": msgspec.msgpack.Decoder(tuple[str, str]),  # (contact id, owner)
    "own": msgspec.msgpack.Decoder(tuple[str, str]),
    "mark": msgspec.msgpack.Decoder(int),
    "digest": msgspec.msgpack.Decoder(tuple[int, str]),  # (mark, digest)
    "timer": msgspec.msgpack.Decoder(None),
    "term": msgspec.msgpack.Decoder(None),
}


def _body_tag(kind: str, body: Any) -> str:
    if kind != "in":
        return ""
    name = _INPUT_NAMES.get(type(body))
    if name is None:
        raise WireError(f"the ACD does not take {type(body).__name__}")
    return name


def _body(kind: str, tag: str, raw: msgspec.Raw, what: str) -> Any:
    decoder = _INPUT_DECODERS.get(tag) if kind == "in" else _BODY_DECODERS[kind]
    if decoder is None:
        raise WireError(f"cluster {what}: {tag!r} is not an ACD input this node knows")
    try:
        return decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise WireError(f"cluster {what}: its body ({tag or kind}) does not fit: {exc}") from None


# Envelopes on the wire --------------------------------------------------------------------------


class _Versioned(msgspec.Struct, frozen=True):
    v: int


class _ForwardedOut(msgspec.Struct, frozen=True):
    v: int
    node: str
    req: int
    kind: str
    t: str
    body: Any


class _ForwardedIn(_Versioned, frozen=True):
    node: str
    req: int
    kind: ForwardedKind
    t: str
    body: msgspec.Raw


class _EntryOut(msgspec.Struct, frozen=True):
    v: int
    token: int
    now: float
    kind: str
    node: str
    req: int
    t: str
    body: Any
    src: str
    wall: float | None


class _EntryIn(_Versioned, frozen=True):
    token: int
    now: float
    kind: EntryKind
    node: str
    req: int
    t: str
    body: msgspec.Raw
    src: str
    wall: float | None = None


class ReplicaImage(_Versioned, frozen=True, kw_only=True):
    """A ``ReplicaState`` as stored in Redis."""

    config_hash: str
    engine: EngineSnapshot
    epoch: str  # the engine's ids: a counter under a cluster epoch
    minted: int
    rng: tuple[int, tuple[int, ...], float | None]  # ``random.Random.getstate()``
    entry_id: str
    src: str
    highest_token: int
    last_now: float
    owners: dict[str, str]
    agent_of: dict[str, str]
    handled_by: dict[str, str]  # in order, oldest first


_encoder = msgspec.msgpack.Encoder(enc_hook=str)  # an odd value in an event's data: its text, as the log
_untyped = msgspec.msgpack.Decoder()
_forwarded_in = msgspec.msgpack.Decoder(_ForwardedIn)
_entry_in = msgspec.msgpack.Decoder(_EntryIn)
_replica_in = msgspec.msgpack.Decoder(ReplicaImage)


def _encode(wire: msgspec.Struct) -> bytes:
    try:
        return _encoder.encode(wire)
    except (UnicodeEncodeError, OverflowError, TypeError):
        # a lone surrogate or the like got past the edges: send what the log would write
        return _encoder.encode(clean_value(msgspec.to_builtins(wire, enc_hook=str)))


V = TypeVar("V", bound=_Versioned)


def _decode(decoder: msgspec.msgpack.Decoder[V], blob: bytes, what: str) -> V:
    try:
        wire = decoder.decode(blob)
    except msgspec.DecodeError as exc:
        raise _why_not(blob, what, exc) from None
    if wire.v != WIRE_VERSION:
        raise _other_version(what, wire.v)
    return wire


def _why_not(blob: bytes, what: str, exc: msgspec.DecodeError) -> WireError:
    """Say why ``blob`` did not decode: not MessagePack, another version, or a field."""
    try:
        raw = _untyped.decode(blob)
    except msgspec.DecodeError as bad:
        return WireError(f"cluster {what} is not MessagePack (nor anything this node reads): {bad}")
    version = raw.get("v") if isinstance(raw, dict) else None
    if version is None:
        return WireError(f"cluster {what} carries no wire version (this node speaks {WIRE_VERSION}): {exc}")
    if version != WIRE_VERSION:
        return _other_version(what, version)
    return WireError(f"cluster {what} does not fit: {exc}")


def _other_version(what: str, version: Any) -> WireError:
    return WireError(f"cluster {what} has wire version {version!r}; this node speaks version {WIRE_VERSION}")


def encode_forwarded(f: Forwarded) -> bytes:
    return _encode(_ForwardedOut(WIRE_VERSION, f.node, f.req, f.kind, _body_tag(f.kind, f.body), f.body))


def decode_forwarded(blob: bytes) -> Forwarded:
    w = _decode(_forwarded_in, blob, "input")
    return Forwarded(w.node, w.req, w.kind, _body(w.kind, w.t, w.body, "input"))


def encode_entry(e: Entry) -> bytes:
    tag = _body_tag(e.kind, e.body)
    return _encode(_EntryOut(WIRE_VERSION, e.token, e.now, e.kind, e.node, e.req, tag, e.body, e.src, e.wall))


def decode_entry(blob: bytes) -> Entry:
    w = _decode(_entry_in, blob, "entry")
    return Entry(w.token, w.now, w.kind, w.node, w.req, _body(w.kind, w.t, w.body, "entry"), w.src, w.wall)


def encode_replica(state: ReplicaState) -> bytes:
    version, internal, gauss = state.rng.getstate()
    image = ReplicaImage(
        v=WIRE_VERSION,
        config_hash=state.config_hash,
        engine=export_engine(state.engine),
        epoch=state.ids.epoch,
        minted=state.ids.n,
        rng=(version, internal, gauss),
        entry_id=state.entry_id,
        src=state.src,
        highest_token=state.highest_token,
        last_now=state.last_now,
        owners=state.owners,
        agent_of=state.agent_of,
        handled_by=state.handled_by,
    )
    return _encode(image)


def decode_replica(blob: bytes) -> ReplicaImage:
    return _decode(_replica_in, blob, "snapshot")


def replica_state(
    image: ReplicaImage, new_engine: Callable[[ClusterIds, random.Random], AcdEngine]
) -> ReplicaState:
    """The replica ``image`` holds, its engine rebuilt by ``new_engine(ids, rng)`` (an engine
    built from the same configuration: the caller has compared ``config_hash``)."""
    ids = ClusterIds(image.epoch, image.minted)
    rng = random.Random()
    rng.setstate(image.rng)
    engine = new_engine(ids, rng)
    restore_engine(engine, image.engine)
    return ReplicaState(
        engine=engine,
        ids=ids,
        rng=rng,
        config_hash=image.config_hash,
        entry_id=image.entry_id,
        src=image.src,
        highest_token=image.highest_token,
        last_now=image.last_now,
        owners=dict(image.owners),
        agent_of=dict(image.agent_of),
        handled_by=OrderedDict(image.handled_by),
    )


def config_hash(config: CenterConfig) -> str:
    """What every node of a cluster must agree on: the version and the wire version (replicas
    exchange the engine's state) and the config without what is per node."""
    shared = msgspec.structs.replace(
        config,
        server=msgspec.structs.replace(config.server, host="", port=0),
        cluster=msgspec.structs.replace(config.cluster, node_id=""),
    )
    plain = msgspec.to_builtins(shared, enc_hook=str, str_keys=True, order="deterministic")
    text = json.dumps([__version__, WIRE_VERSION, plain], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def id_after(a: str, b: str) -> bool:
    """Stream id ``a`` comes after ``b``."""
    ams, _, aseq = a.partition("-")
    bms, _, bseq = b.partition("-")
    return (int(ams), int(aseq or 0)) > (int(bms), int(bseq or 0))


def raise_if_cancelled() -> None:
    """Raise ``CancelledError`` if the current task is being cancelled. redis-py (8.2) can
    swallow a cancellation: it may turn the cancellation of a read into a connection error
    (which a retry loop would catch), and it often returns a command's reply although the
    task was cancelled while it waited (558 of 1,000 tasks cancelled at random moments of a
    GET loop on loopback went on). Every loop over Redis calls this at the top of each turn
    and where it catches a Redis error, so a cancelled task still ends."""
    task = asyncio.current_task()
    if task is not None and task.cancelling() > 0:
        raise asyncio.CancelledError


async def write_head(
    outbox: deque[T],
    write: Callable[[list[T]], Awaitable[None]],
    *,
    limit: int,
    on_error: Callable[[Exception], None],
    backoff_s: float,
) -> bool:
    """Write up to ``limit`` entries from the head of ``outbox`` in one ``write`` and drop
    them once written. On a Redis or socket error they stay, in order, for the next try: the
    error is reported, the caller backs off ``backoff_s`` and hears False. A cancellation
    that redis-py turned into an error stays a cancellation."""
    batch = [outbox[i] for i in range(min(limit, len(outbox)))]
    try:
        await write(batch)
    except (RedisError, OSError) as exc:
        raise_if_cancelled()
        on_error(exc)
        await asyncio.sleep(backoff_s)
        return False
    for _ in batch:
        outbox.popleft()
    return True


# Shutting down while Redis is away: nothing in a cleanup may wait without a bound.

STOP_TIMEOUT_S = 2.0


RECANCEL_S = 0.05


async def cancel_until_done(tasks: Iterable[asyncio.Task[None]], timeout: float) -> set[asyncio.Task[None]]:
    """Cancel ``tasks``, again every ``RECANCEL_S`` while one still runs (a cancellation
    redis-py swallowed is not the last), for at most ``timeout``: the tasks still running."""
    pending = {t for t in tasks if not t.done()}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while pending:
        for task in pending:
            task.cancel()
        left = deadline - loop.time()
        if left <= 0:
            break
        _, pending = await asyncio.wait(pending, timeout=min(RECANCEL_S, left))
    return pending


async def stop_tasks(tasks: Iterable[asyncio.Task[None]], timeout: float = STOP_TIMEOUT_S) -> None:
    """Cancel ``tasks`` and wait for them at most ``timeout``: a task stuck in a Redis call
    is left behind with an error logged, rather than holding up the node's shutdown."""
    for task in await cancel_until_done(tasks, timeout):
        log.error("task %s did not stop within %g s; shutting down without it", task.get_name(), timeout)


async def bounded(step: Awaitable[object], what: str, timeout: float = STOP_TIMEOUT_S) -> None:
    """Await one cleanup step for at most ``timeout``; Redis being away only logs a warning."""
    try:
        async with asyncio.timeout(timeout):
            await step
    except TimeoutError:
        log.warning("%s took more than %g s; going on without it", what, timeout)
    except (RedisError, OSError) as exc:
        log.warning("%s failed: %s", what, exc)
