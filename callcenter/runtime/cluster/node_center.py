"""Cluster mode: one routing-lease holder sequences, every node keeps a replica of the ACD.

Theory of operation
-------------------
Adapters on any node use ``Center.submit/post/record/contact_arrived`` as in embedded
mode. A ``ClusterCenter`` forwards each input to the inputs stream in Redis. The node that
holds the routing lease (``cluster_lead.Lead``) reads that stream and appends every input,
with the time it stamps on it and its fencing token, to the applied stream; it also
appends a timer entry whenever the engine's next deadline passes. Every node (the holder
too) reads the applied stream in its one order and applies each entry to its own replica of
the pure ACD engine, so every replica goes through the same states and emits the same
commands. Each node then does with the commands only what concerns it:

- desk frames go to the desks connected to this node (the hub ignores other agents);
- endpoint notices go to the chats and calls this node carries;
- the interaction log and the bus are written once, by the node that sequenced the entry.

The submitter's node settles the submitter's future from its own replica's outcome, so a
refusal reaches the adapter exactly as in embedded mode. Adapters keep reading
``center.engine`` (positions, offers, agent states) and the wallboard sees the whole
center, from any node.

Fencing: the holder's appends are one Lua call that checks the lease first, so a holder
whose lease has passed to another node has its writes refused by Redis; replicas also keep
the largest token seen (``FencingGate``) and refuse entries with a smaller one.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from collections import deque
from collections.abc import Callable
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

from callcenter.acd.commands import FinishContact, OfferContact
from callcenter.acd.engine import AcdEngine
from callcenter.acd.errors import AcdError, BadInput
from callcenter.acd.messages import ContactAbandoned, ContactArrived, ContactEnded
from callcenter.config.sections import CenterConfig
from callcenter.core.clock import Clock
from callcenter.core.desk_frames import DeskFrame
from callcenter.core.errors import EngineError
from callcenter.core.events import InteractionEvent, RecordEvent
from callcenter.ports.event_bus import EventBus
from callcenter.ports.interaction_log import InteractionLog
from callcenter.runtime.center import Center, DeskSink
from callcenter.runtime.cluster.frame_relay import Relay
from callcenter.runtime.cluster.lease import FencingGate
from callcenter.runtime.cluster.log_catchup import LogCatchUp, Writes
from callcenter.runtime.cluster.redis_keys import RedisKeys
from callcenter.runtime.cluster.replica_check import Checks
from callcenter.runtime.cluster.wire import (
    ClusterIds,
    Entry,
    Forwarded,
    ReplicaState,
    WireError,
    cancel_until_done,
    decode_entry,
    decode_replica,
    encode_forwarded,
    raise_if_cancelled,
    replica_state,
    write_head,
)
from callcenter.runtime.driver import Driver, Rejected, on_the_wall
from callcenter.runtime.ids import RandomIds

log = logging.getLogger(__name__)

NODE_LOST = "node_lost"  # why a contact whose node died ended (not a customer's abandon)


async def finish(tasks: list[asyncio.Task[None]], ask_to_stop: Callable[[], None]) -> None:
    """Let loops end by themselves (their blocking reads return within half a second), and
    cancel only what is still running then: cancelling a blocking redis-py read can leave
    the connection pool waiting."""
    ask_to_stop()
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=2.0)
    for task in await cancel_until_done(pending, 2.0):
        log.error("task %s did not stop; shutting down without it", task.get_name())


class ClusterUnavailable(AcdError):
    """The cluster cannot take this input now (Redis unreachable, no routing leader)."""

    code = "cluster_unavailable"


class StaleToken(AcdError):
    code = "stale_fencing_token"


class ClusterCenter(Center):
    """A ``Center`` whose engine is a replica fed from the applied stream (module docstring)."""

    def __init__(
        self,
        config: CenterConfig,
        *,
        clock: Clock,
        log: InteractionLog,
        bus: EventBus,
        redis: Redis,
        keys: RedisKeys,
        node_id: str,
        incarnation: str,
        config_hash: str,
    ) -> None:
        self.writing = False
        writes = Writes(self, log, bus)
        epoch = RandomIds(lambda: int(clock.now() * 1000)).new("epoch")[4:]
        self._engine_ids, self._engine_rng = ClusterIds(epoch), random.Random(0)
        super().__init__(
            config, clock=clock, log=writes, bus=writes, ids=self._engine_ids, rng=self._engine_rng
        )
        self.ids = RandomIds(lambda: int(clock.now() * 1000))  # adapters' ids stay unique per node
        self.redis, self.keys = redis, keys
        self.node_id = node_id
        self.owner = f"{node_id}/{incarnation}"  # where contacts that arrive here live
        self.config_hash = config_hash
        self.state: ReplicaState | None = None
        self.gate = FencingGate()
        self.my_tokens: set[int] = set()
        self.after_apply: Callable[[], None] | None = None  # set by the lead while leading
        self.on_mark: Callable[[int, str], None] | None = None  # the lead sends its digest
        self.checks = Checks()
        self.wire_refused = 0  # messages of another wire version or shape, refused
        self.interaction_log = log
        self.log_catch_up = LogCatchUp()
        self.ready = asyncio.Event()
        self.applied_event = asyncio.Event()
        self.cluster = ClusterDriver(self)
        self.acd = self.cluster
        self.relay = Relay(redis, keys, self.owner)
        self._lost: tuple[str, dict[str, str]] | None = None  # while applying a "lost" entry
        self.on_disowned: Callable[[str], None] | None = None  # a chat here resumed on another node

    # Desks: what the engine decides goes to this node's desks only (every node applies
    # the same entries); what adapters send goes through the relay to wherever the desk is.

    @property
    def desks(self) -> DeskSink | None:
        return self.relay if self.relay.desks is not None else None

    @desks.setter
    def desks(self, hub: Any) -> None:
        if hasattr(self, "relay"):
            self.relay.desks = hub

    def _offer(self, c: OfferContact) -> None:
        desks = self.relay.desks
        if desks is not None and c.agent_id in desks.present():  # the screen pop is looked up once
            super()._offer(c)

    def _desk(self, agent_id: str, frame: DeskFrame) -> None:
        if self.relay.desks is not None:
            self.relay.desks.deliver(agent_id, frame)

    # Replica state ------------------------------------------------------------------------

    def fresh_state(self) -> ReplicaState:
        return ReplicaState(
            engine=self.engine,
            ids=self._engine_ids,
            rng=self._engine_rng,
            config_hash=self.config_hash,
            agent_of=self._agent_of,
            handled_by=self.handled_by,
        )

    def read_snapshot(self, blob: bytes | str | None) -> ReplicaState | None:
        """The replica a stored snapshot holds; None if there is none, it is of another
        configuration (a fresh cluster starts) or this node cannot read it (refused)."""
        if blob is None:
            return None
        try:
            image = decode_replica(blob.encode() if isinstance(blob, str) else blob)
        except WireError as exc:
            self.refuse("the snapshot", exc)
            return None
        if image.config_hash != self.config_hash:
            return None
        return replica_state(image, self.new_engine)

    def refuse(self, what: str, exc: WireError) -> None:
        """A message this node cannot read: logged and counted (``/healthz``), then skipped."""
        self.wire_refused += 1
        log.error("cluster: refused %s: %s", what, exc)

    def adopt(self, state: ReplicaState) -> None:
        """Make ``state`` this node's replica (a snapshot loaded, or a fresh cluster)."""
        self.state = state
        self.engine = self.cluster.engine = state.engine
        self._agent_of, self.handled_by = state.agent_of, state.handled_by
        self.gate.highest = max(self.gate.highest, state.highest_token)
        self.ready.set()

    # Applying the applied stream -----------------------------------------------------------

    def apply(self, entry_id: str, entry: Entry) -> None:
        """Apply one sequenced entry to the replica and carry out this node's part."""
        st = self.state
        assert st is not None
        st.entry_id = entry_id
        if not self.gate.admit(entry.token):
            log.warning(
                "refused an entry with stale fencing token %d (highest %d)", entry.token, self.gate.highest
            )
            self.cluster.settle(entry, StaleToken(f"fencing token {entry.token} is stale"))
            return
        st.highest_token = self.gate.highest
        if entry.src:
            st.src = entry.src
        now = st.last_now = max(entry.now, st.last_now)
        self.writing = entry.token in self.my_tokens
        error: BaseException | None = None
        try:
            if entry.kind == "in":
                self.engine.handle(entry.body, now)
                self._track(entry)
            elif entry.kind == "timer":
                self.engine.handle_timer(now)
            elif entry.kind == "rec":
                self._record(RecordEvent(event=entry.body))
            elif entry.kind == "lost":
                contact_id, owner = entry.body
                self._end_lost(contact_id, owner, now)
            elif entry.kind == "own":
                self._own(*entry.body)
            elif entry.kind == "mark":
                value = self.checks.at_mark(entry.body, self.engine)
                if self.writing and self.on_mark is not None:
                    self.on_mark(entry.body, value)
            elif entry.kind == "digest":
                self.checks.holder_says(*entry.body)
        except EngineError as exc:
            error = exc
        except Exception as exc:
            log.exception("replica failed on %r", entry.body)
            error = Rejected(f"internal error handling {type(entry.body).__name__}: {exc}")
        commands = self.engine.take_commands()
        if commands and entry.wall is not None:  # the log's stamps: the holder's wall clock
            commands = on_the_wall(commands, now, entry.wall)
        try:
            if commands:
                self.cluster.dispatch(commands)
                for c in commands:
                    if isinstance(c, FinishContact):
                        st.owners.pop(c.contact_id, None)
        finally:
            self.writing = False
            self._lost = None
        self.cluster.settle(entry, error)
        if self.after_apply is not None:
            self.after_apply()

    def _end_lost(self, contact_id: str, owner: str, now: float) -> None:
        """End a contact whose node died with what happened: a connected one ``by: node_lost``;
        one waiting or ringing leaves the engine as an abandon would, but its ``contact.ended``
        says ``reason: node_lost`` (with the state it was in and the node), so the contacts
        table and the metrics do not count it as a customer's abandon."""
        contact = self.engine.contacts.get(contact_id)
        assert self.state is not None
        if contact is None or self.state.owners.get(contact_id, owner) != owner:
            return  # ended meanwhile, or its customer resumed it on another node
        if contact.state == "connected":
            self.engine.handle(ContactEnded(contact_id=contact_id, by=NODE_LOST), now)
            return
        self._lost = (contact_id, {"reason": NODE_LOST, "was": contact.state, "node": owner})
        self.engine.handle(ContactAbandoned(contact_id=contact_id), now)

    def _own(self, contact_id: str, owner: str) -> None:
        """A chat's customer resumed it on the node ``owner``: that node carries it now."""
        st = self.state
        assert st is not None
        if contact_id not in self.engine.contacts:
            return
        before = st.owners.get(contact_id)
        st.owners[contact_id] = owner
        if before == self.owner and owner != self.owner and self.on_disowned is not None:
            self.on_disowned(contact_id)

    def claim(self, contact_id: str) -> None:
        """This node carries ``contact_id`` from now on (a chat resumed here)."""
        self.cluster.forward("own", (contact_id, self.owner))

    def _record(self, command: RecordEvent) -> None:
        event, lost = command.event, self._lost
        if lost is not None and event.type == "contact.ended" and event.contact_id == lost[0]:
            command = RecordEvent(event=msgspec.structs.replace(event, data={**event.data, **lost[1]}))
        super()._record(command)

    def _track(self, entry: Entry) -> None:
        body, st = entry.body, self.state
        assert st is not None
        if isinstance(body, ContactArrived) and body.channel != "callback":
            st.owners[body.contact_id] = entry.node

    # Public methods for adapters (cluster versions) -----------------------------------------

    def record(self, event: InteractionEvent) -> None:
        self.cluster.forward("rec", event)

    async def contact_arrived(self, **kwargs: Any) -> None:
        self.cluster.check_available()  # refuse before logging an arrival that could not queue
        await super().contact_arrived(**kwargs)


class ClusterDriver(Driver[AcdEngine]):
    """Stands in for the local driver: forwards inputs, reads and applies the applied stream."""

    def __init__(self, center: ClusterCenter) -> None:
        super().__init__(center.engine, center.clock, self._no_dispatch, name="acd-cluster")
        self.center = center
        self.dispatch: Callable[[Any], None] = center.acd._dispatch
        self._outbox: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self._reqs = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.forward_error: str | None = None
        self.read_error: str | None = None
        self.timeout_s = center.config.cluster.submit_timeout_s
        self._stopping = False

    @staticmethod
    def _no_dispatch(commands: Any) -> None:
        raise AssertionError("the cluster driver dispatches from the applied stream")

    # Lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._forward_loop(), name="cluster-forward"),
            asyncio.create_task(self._apply_loop(), name="cluster-apply"),
        ]

    async def stop(self) -> None:
        try:
            async with asyncio.timeout(2.0):
                await self.idle()
        except TimeoutError:
            log.warning("stopping with %d inputs not forwarded", len(self._outbox))
        await finish(self._tasks, self._stop_loops)
        self._tasks = []
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(ClusterUnavailable("the node is stopping"))

    async def idle(self) -> None:
        """Wait until every input forwarded so far has been applied here."""
        while self._outbox or any(not f.done() for f in self._waiting.values()):
            self.center.applied_event.clear()
            try:
                async with asyncio.timeout(0.1):
                    await self.center.applied_event.wait()
            except TimeoutError:
                pass

    # Public methods for adapters ----------------------------------------------------------

    def post(self, event: object) -> None:
        self.forward("in", event)

    async def submit(self, event: object) -> None:
        self.check_available()
        req = next(self._reqs)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[req] = future
        self.forward("in", event, req)
        try:
            async with asyncio.timeout(self.timeout_s):
                await future
        except TimeoutError:
            raise ClusterUnavailable(
                f"no routing leader applied {type(event).__name__} within {self.timeout_s:g} s"
            ) from None
        finally:
            self._waiting.pop(req, None)

    def check_available(self) -> None:
        error = self.forward_error or self.read_error
        if error is not None:
            raise ClusterUnavailable(f"the cluster is unavailable: {error}")
        if not self.center.ready.is_set():
            raise ClusterUnavailable("the node has not joined the cluster yet")

    def forward(self, kind: Any, body: object, req: int = 0) -> None:
        try:
            blob = encode_forwarded(Forwarded(node=self.center.owner, req=req, kind=kind, body=body))
        except WireError as exc:
            raise BadInput(str(exc)) from None
        self._outbox.append(blob)
        self._wake.set()

    def settle(self, entry: Entry, error: BaseException | None) -> None:
        if entry.node != self.center.owner or not entry.req:
            return
        future = self._waiting.get(entry.req)
        if future is None or future.done():
            return
        if error is None:
            self.handled += 1
            future.set_result(None)
        else:
            self.rejected += 1
            future.set_exception(error)

    # Internals ---------------------------------------------------------------------------

    def _stop_loops(self) -> None:
        self._stopping = True
        self._wake.set()

    async def _forward_loop(self) -> None:
        redis, stream = self.center.redis, self.center.keys.inputs_stream
        while not self._stopping:
            raise_if_cancelled()
            if not self._outbox:
                self._wake.clear()
                await self._wake.wait()
                continue

            async def forward(batch: list[bytes]) -> None:
                async with redis.pipeline(transaction=False) as pipe:
                    for blob in batch:
                        pipe.xadd(stream, {"f": blob}, maxlen=100_000, approximate=True)
                    await pipe.execute()

            if await write_head(
                self._outbox,
                forward,
                limit=500,
                backoff_s=0.3,
                on_error=lambda exc: self._fail("forward", exc),
            ):
                self.forward_error = None

    async def _apply_loop(self) -> None:
        center = self.center
        await center.ready.wait()
        redis, stream = center.redis, center.keys.applied_stream
        while not self._stopping:
            raise_if_cancelled()
            assert center.state is not None
            try:
                replies: Any = await redis.xread({stream: center.state.entry_id}, count=1000, block=500)
            except (RedisError, OSError) as exc:
                raise_if_cancelled()
                self._fail("read", exc)
                await asyncio.sleep(0.3)
                continue
            self.read_error = None
            for _stream, entries in list(replies or ()):
                for entry_id, fields in entries:
                    try:
                        entry = decode_entry(fields[b"e"])
                    except WireError as exc:
                        center.refuse(f"applied-stream entry {entry_id.decode()}", exc)
                        center.state.entry_id = entry_id.decode()
                        continue
                    center.apply(entry_id.decode(), entry)
                    if center.checks.diverged:
                        await self._resync()
                        break
            center.applied_event.set()

    async def _resync(self) -> None:
        state = self.center.read_snapshot(await self.center.redis.get(self.center.keys.snapshot))
        if state is not None:
            self.center.adopt(state)
        self.center.checks.diverged = False

    def _fail(self, what: str, exc: BaseException) -> None:
        reason = f"redis unavailable: {type(exc).__name__}: {exc}"
        if what == "forward":
            if self.forward_error is None:
                log.error("cluster: forwarding inputs failed: %s", exc)
            self.forward_error = reason
        else:
            if self.read_error is None:
                log.error("cluster: reading the applied stream failed: %s", exc)
            self.read_error = reason
