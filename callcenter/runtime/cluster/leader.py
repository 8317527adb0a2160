"""The routing-lease holder's work: sequence inputs and timers, store snapshots, reap.

A term starts when this node takes the lease (token ``t``):

1. the replica catches up with the whole applied stream (nothing can be appended to it
   any more by the previous holder: its fenced appends fail once the lease changed);
2. on a cluster with no snapshot yet, the replica starts fresh and the contacts the log
   shows open are settled (``runtime/recovery.py``), as after an embedded restart;
3. a ``term`` entry opens the term, and a snapshot is stored so joiners start from it;
4. then, until the lease is lost: inputs forwarded by any node are read in stream order
   from where the last term stopped and appended with the time stamped now (the clock's
   step-free line for the engine, its wall clock for the log); a timer entry
   is appended when the engine's next deadline passes; a snapshot is stored every
   ``snapshot_every_s``; contacts carried by nodes that died are closed and agents whose
   desk is on no live node become NOT_READY.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from redis.exceptions import RedisError, ResponseError
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.acd.messages import AgentDisconnected
from callcenter.core.clock import TimerHandle
from callcenter.ports.interaction_log import LogUnavailable
from callcenter.runtime.cluster.node_center import ClusterCenter, finish
from callcenter.runtime.cluster.wire import (
    APPEND_FENCED,
    STORE_FENCED,
    Entry,
    WireError,
    decode_forwarded,
    encode_entry,
    encode_replica,
    id_after,
    raise_if_cancelled,
    stop_tasks,
    text,
)
from callcenter.runtime.recovery import recover

log = logging.getLogger(__name__)

REAP_AFTER_S = 2.5  # an agent listed by no live node for this long has lost its desk


class Fenced(Exception):
    """Redis refused a write: this node's lease term is over."""


class Lead:
    def __init__(self, center: ClusterCenter, token: int, db: AsyncEngine | None) -> None:
        self.center, self.token, self.db = center, token, db
        self.redis, self.keys = center.redis, center.keys
        self.lease_value = f"{center.node_id}:{token}"
        self._append = self.redis.register_script(APPEND_FENCED)
        self._store = self.redis.register_script(STORE_FENCED)
        self._timer: TimerHandle | None = None
        self._armed_at: float | None = None
        self._timer_sent = False
        self._timer_task: asyncio.Task[None] | None = None
        self._absent_since: dict[str, float] = {}
        self._owner_gone_since: dict[str, float] = {}  # dead nodes whose contacts are not all closed
        self.sequenced = 0
        self.stopping = False  # set to end the term at the next read (``finish``)
        self._marks = 0
        self._digest_tasks: set[asyncio.Task[None]] = set()

    # The term ---------------------------------------------------------------------------------

    async def run(self) -> None:
        c = self.center
        c.my_tokens.add(self.token)
        fresh = await self._catch_up()
        await self._log_what_was_not()
        await self.append([Entry(self.token, c.clock.monotonic(), "term", node=c.owner, wall=c.clock.now())])
        await self.snapshot()
        c.after_apply = self._rearm
        c.on_mark = self._send_digest
        self._rearm()
        log.info("node %s leads with fencing token %d", c.node_id, self.token)
        tasks = [
            asyncio.create_task(self._sequence(), name="lead-sequence"),
            asyncio.create_task(
                self._every(c.config.cluster.snapshot_every_s, self.snapshot), name="lead-snapshot"
            ),
            asyncio.create_task(self._every(1.0, self.reap), name="lead-reap"),
            asyncio.create_task(self._every(0.2, self.mark_durable), name="lead-log-mark"),
        ]
        if fresh and self.db is not None:
            tasks.append(asyncio.create_task(self._recover(), name="lead-recover"))
        try:
            await tasks[0]  # sequencing ends with the term
        finally:
            for task in tasks[1:]:
                task.cancel()
            await finish(tasks, self._stop)
            c.after_apply = None
            c.on_mark = None
            if self._timer is not None:
                self._timer.cancel()
            timer = [self._timer_task] if self._timer_task is not None else []
            await stop_tasks([*timer, *self._digest_tasks])  # entries of this term only

    def _stop(self) -> None:
        self.stopping = True

    async def _catch_up(self) -> bool:
        """Adopt a snapshot or start fresh, then apply the applied stream to its end."""
        c = self.center
        last: Any = await self.redis.xrevrange(self.keys.applied_stream, count=1)
        end = last[0][0].decode() if last else "0-0"
        fresh = False
        if c.state is None:
            state = c.read_snapshot(await self.redis.get(self.keys.snapshot))
            if state is None:
                state = c.fresh_state()
                state.entry_id = end
                newest: Any = await self.redis.xrevrange(self.keys.inputs_stream, count=1)
                state.src = newest[0][0].decode() if newest else "0-0"
                fresh = True
            c.adopt(state)
        assert c.state is not None
        while c.state.entry_id != end and not id_after(c.state.entry_id, end):
            c.applied_event.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.2):
                    await c.applied_event.wait()
        return fresh

    async def _log_what_was_not(self) -> None:
        """Write the events the previous holder sequenced but may not have logged."""
        c = self.center
        if self.db is None:
            return
        mark = await c.log_catch_up.durable_mark(self.redis, self.keys)
        written = await c.log_catch_up.write_missing(self.db, c.interaction_log, mark)
        if written:
            log.warning("logged %d events the previous lease holder had not written", written)

    async def mark_durable(self) -> None:
        st = self.center.state
        assert st is not None
        mark = st.entry_id
        try:
            await self.center.interaction_log.flush()
        except LogUnavailable as exc:  # the mark stays where it was until the log writes
            log.warning("lead: the log is not durable yet: %s", exc)
            return
        await self._store(keys=[self.keys.lease, self.keys.log_durable], args=[self.lease_value, mark])

    async def _recover(self) -> None:
        assert self.db is not None
        try:
            await recover(self.center, self.db)
        except Exception:
            log.exception("recovery of the contacts the log shows open failed")

    # Writes (fenced) -----------------------------------------------------------------------------

    async def append(self, entries: list[Entry]) -> None:
        try:
            await self._append(
                keys=[self.keys.lease, self.keys.applied_stream],
                args=[self.lease_value, 200_000, *[encode_entry(e) for e in entries]],
            )
        except ResponseError as exc:
            if "FENCED" in str(exc):
                raise Fenced(str(exc)) from None
            raise
        self.sequenced += len(entries)

    async def snapshot(self) -> None:
        state = self.center.state
        assert state is not None
        try:
            await self._store(
                keys=[self.keys.lease, self.keys.snapshot], args=[self.lease_value, encode_replica(state)]
            )
        except ResponseError as exc:
            if "FENCED" in str(exc):
                raise Fenced(str(exc)) from None
            raise
        self._marks += 1
        clock = self.center.clock
        await self.append(
            [
                Entry(
                    self.token,
                    clock.monotonic(),
                    "mark",
                    node=self.center.owner,
                    body=self._marks,
                    wall=clock.now(),
                )
            ]
        )

    def _send_digest(self, mark: int, value: str) -> None:
        clock = self.center.clock
        entry = Entry(
            self.token,
            clock.monotonic(),
            "digest",
            node=self.center.owner,
            body=(mark, value),
            wall=clock.now(),
        )
        task = asyncio.create_task(self._append_quietly(entry), name="lead-digest")
        self._digest_tasks.add(task)
        task.add_done_callback(self._digest_tasks.discard)

    async def _append_quietly(self, entry: Entry) -> None:
        try:
            await self.append([entry])
        except (RedisError, OSError, Fenced) as exc:  # the next mark checks again
            log.warning("lead: %s entry failed: %s", entry.kind, exc)

    # Sequencing ---------------------------------------------------------------------------------

    async def _sequence(self) -> None:
        c = self.center
        assert c.state is not None
        cursor = c.state.src
        stream = self.keys.inputs_stream
        while not self.stopping:
            raise_if_cancelled()
            try:
                replies: Any = await self.redis.xread({stream: cursor}, count=500, block=500)
            except (RedisError, OSError) as exc:
                raise_if_cancelled()
                log.warning("lead: reading inputs failed: %s", exc)
                await asyncio.sleep(0.2)
                continue
            for _stream, items in list(replies or ()):
                entries = []
                for item_id, fields in items:
                    try:
                        fwd = decode_forwarded(fields[b"f"])
                    except WireError as exc:
                        c.refuse(f"input {item_id.decode()}", exc)
                        continue
                    entries.append(
                        Entry(
                            self.token,
                            c.clock.monotonic(),
                            fwd.kind,
                            node=fwd.node,
                            req=fwd.req,
                            body=fwd.body,
                            src=item_id.decode(),
                            wall=c.clock.now(),
                        )
                    )
                if entries:
                    await self._append_retrying(entries)
                cursor = items[-1][0].decode()

    async def _append_retrying(self, entries: list[Entry]) -> None:
        while True:
            raise_if_cancelled()
            try:
                await self.append(entries)
                return
            except (RedisError, OSError) as exc:
                raise_if_cancelled()
                log.warning("lead: appending failed: %s", exc)
                await asyncio.sleep(0.2)

    def _rearm(self) -> None:
        deadline = self.center.engine.next_deadline()
        if deadline == self._armed_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._armed_at = deadline
        self._timer_sent = False
        if deadline is not None:
            self._timer = self.center.clock.call_at_monotonic(deadline, self._fire)

    def _fire(self) -> None:
        self._timer = None
        if not self._timer_sent:
            self._timer_sent = True
            self._timer_task = asyncio.create_task(self._send_timer(), name="lead-timer")

    async def _send_timer(self) -> None:
        try:
            clock = self.center.clock
            await self.append(
                [Entry(self.token, clock.monotonic(), "timer", node=self.center.owner, wall=clock.now())]
            )
        except (RedisError, OSError) as exc:
            log.warning("lead: timer entry failed: %s", exc)
            self._armed_at = None  # re-armed at the next apply
            self._timer_sent = False
        except Fenced:
            pass  # the keeper notices the lost lease and ends the term

    # Periodic work ------------------------------------------------------------------------------

    @staticmethod
    async def _every(period: float, work: Any) -> None:
        while True:
            raise_if_cancelled()
            await asyncio.sleep(period)
            try:
                await work()
            except (RedisError, OSError) as exc:
                raise_if_cancelled()
                log.warning("lead: %s failed: %s", getattr(work, "__name__", "work"), exc)
            except Fenced:
                return  # the term is over: the lease keeper notices and ends it

    async def live_nodes(self) -> tuple[set[str], set[str]]:
        """(owners alive: ``node/incarnation``, agents with a desk on some live node)."""
        owners: set[str] = set()
        agents: set[str] = set()
        async for key in self.redis.scan_iter(self.keys.nodes_pattern):
            raw = await self.redis.get(key)
            if raw is None:
                continue
            info = json.loads(text(raw))
            owners.add(info["owner"])
            agents.update(info.get("agents", ()))
        return owners, agents

    async def reap(self) -> None:
        """Close contacts whose node died; agents whose desk is gone become NOT_READY."""
        c = self.center
        st = c.state
        assert st is not None
        owners, agents = await self.live_nodes()
        owners.add(c.owner)
        now = c.clock.monotonic()  # for how long: the step-free line
        chat_wait = c.config.cluster.chat_grace_s  # its customer may resume it on another node
        for cid, owner in list(st.owners.items()):
            contact = c.engine.contacts.get(cid)
            if owner in owners or contact is None:
                continue
            gone_for = now - self._owner_gone_since.setdefault(owner, now)
            if gone_for < REAP_AFTER_S + (chat_wait if contact.channel == "chat" else 0.0):
                continue
            st.owners.pop(cid, None)
            log.warning("contact %s was carried by %s, which is gone: closing it", cid, owner)
            c.cluster.forward("lost", (cid, owner))  # ends it with reason node_lost (cluster.py)
        for agent_id, agent in c.engine.agents.items():
            gone = agent.state.value not in ("LOGGED_OUT", "NOT_READY") and agent_id not in agents
            if not gone:
                self._absent_since.pop(agent_id, None)
            elif self._gone_for(agent_id, now):
                log.warning("agent %s has no desk on any live node: NOT_READY", agent_id)
                c.post(AgentDisconnected(agent_id=agent_id))
        for name in [n for n in self._absent_since if n in owners]:
            del self._absent_since[name]
        carrying = set(st.owners.values())
        for name in [n for n in self._owner_gone_since if n in owners or n not in carrying]:
            del self._owner_gone_since[name]

    def _gone_for(self, name: str, now: float) -> bool:
        """Absent from every presence key for ``REAP_AFTER_S`` (keys are renewed every second,
        and all of them vanish at once if Redis restarted without its data)."""
        since = self._absent_since.setdefault(name, now)
        if now - since < REAP_AFTER_S:
            return False
        del self._absent_since[name]
        return True
