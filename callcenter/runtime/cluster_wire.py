"""What travels between cluster nodes, and the Lua that fences the lease holder's writes.

- ``Forwarded``: an input a node hands to the routing-lease holder (inputs stream).
- ``Entry``: what the holder sequenced (applied stream): an ACD input, a timer tick, an
  event to log, or the start of a term. It carries the holder's fencing token and the
  time the holder stamped on it, so every replica applies the same thing at the same time.
- ``ReplicaState``: an engine replica and what the center derived from it, as of one
  applied-stream id; the holder stores it in Redis so a joining node starts from it.

Entries are pickled: only the nodes of one cluster read them, through the Redis they share.
The holder appends entries and stores snapshots with one Lua call that first checks that
the lease still holds its ``node:token``, so a holder whose lease has passed to another
node has its writes refused by Redis itself (``FENCED``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import pickle
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import msgspec
from redis.exceptions import RedisError

from callcenter import __version__
from callcenter.acd.engine import AcdEngine
from callcenter.config.model import CenterConfig
from callcenter.core.ids import prefix_for

log = logging.getLogger(__name__)
T = TypeVar("T")

EntryKind = Literal["in", "rec", "lost", "own", "timer", "term", "mark", "digest"]

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


@dataclass(frozen=True, slots=True)
class Forwarded:
    node: str
    req: int  # 0: nobody waits for the outcome (``post``)
    kind: Literal["in", "rec", "lost", "own"]  # lost: (contact id, owner) of a contact whose node died;
    # own: (contact id, owner) of a chat its customer resumed on another node
    body: Any


@dataclass(frozen=True, slots=True)
class Entry:
    token: int
    now: float
    kind: EntryKind
    node: str = ""
    req: int = 0
    body: Any = None
    src: str = ""  # the inputs-stream id it was sequenced from


class ClusterIds:
    """Ids the engine mints: the same on every replica (a counter under a cluster epoch)."""

    def __init__(self, epoch: str) -> None:
        self.epoch = epoch
        self.n = 0

    def new(self, kind: str) -> str:
        self.n += 1
        return f"{prefix_for(kind)}-{self.epoch}-{self.n:x}"


@dataclass
class ReplicaState:
    engine: AcdEngine
    config_hash: str
    entry_id: str = "0-0"  # the last applied-stream entry folded in
    src: str = "0-0"  # the last inputs-stream id sequenced
    highest_token: int = 0
    last_now: float = 0.0
    owners: dict[str, str] = field(default_factory=dict)  # contact or agent -> node it is on
    agent_of: dict[str, str] = field(default_factory=dict)
    handled_by: OrderedDict[str, str] = field(default_factory=OrderedDict)


def dump(obj: Any) -> bytes:
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def load(blob: Any) -> Any:
    return pickle.loads(blob)  # only nodes of this cluster write these keys


def config_hash(config: CenterConfig) -> str:
    """What every node of a cluster must agree on: the version (replicas exchange pickled
    engine state) and the config without what is per node."""
    shared = msgspec.structs.replace(
        config,
        server=msgspec.structs.replace(config.server, host="", port=0),
        cluster=msgspec.structs.replace(config.cluster, node_id=""),
    )
    text = json.dumps([__version__, msgspec.to_builtins(shared)], sort_keys=True, default=str)
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
