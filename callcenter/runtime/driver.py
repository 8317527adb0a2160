"""The single writer around a pure engine.

Theory of operation
-------------------
One asyncio task owns one engine. Adapters never touch the engine: they ``post`` an input
(fire and forget) or ``submit`` it (and await whether it was accepted). A timer puts a
marker into the same inbox, so inputs and timers are handled strictly one at a time, in
arrival order, with no locks.

After every input the driver takes the engine's commands and hands them, in order, to
``dispatch`` (a plain callable; it must not block — it queues I/O elsewhere), then re-arms
its one timer from ``engine.next_deadline()`` on the injected ``Clock``.

Two time lines (``core/clock.py``): the engine runs on the clock's step-free line
(``monotonic()``), so its deadlines and the timer armed for them (``call_at_monotonic``)
agree even when the wall clock is stepped; the events it logs are stamped on the wall line
(``on_the_wall``): an event stamped with the step's ``now`` gets the wall time read at that
step, one stamped earlier or later keeps its distance from it.

An input the engine refuses (``EngineError``) leaves the engine unchanged; ``submit``
raises it to the caller and ``post`` logs it. Any other exception is a bug in the engine:
it is logged with its traceback and reported to the submitter, and the driver keeps
running so that one bad input cannot take the center down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

import msgspec

from callcenter.core.clock import Clock, TimerHandle
from callcenter.core.errors import EngineError
from callcenter.core.events import RecordEvent

log = logging.getLogger(__name__)


class Engine(Protocol):
    def handle(self, event: Any, now: float) -> None: ...
    def handle_timer(self, now: float) -> None: ...
    def take_commands(self) -> list[Any]: ...
    def next_deadline(self) -> float | None: ...


E = TypeVar("E", bound=Engine)
Dispatch = Callable[[Sequence[Any]], None]

_TIMER = object()
_STOP = object()


def on_the_wall(commands: list[Any], now: float, wall: float) -> list[Any]:
    """``commands`` with the events they log moved from the engine's time line (``now``)
    to the wall clock's (``wall`` read at the same step); unchanged when the two agree."""
    if wall == now:
        return commands
    moved: list[Any] = []
    for c in commands:
        if isinstance(c, RecordEvent):
            at = c.event.at
            event = msgspec.structs.replace(c.event, at=wall if at == now else at + (wall - now))
            c = msgspec.structs.replace(c, event=event)
        moved.append(c)
    return moved


class Rejected(EngineError):
    """Wraps an unexpected engine failure so a submitter sees a refusal, not a crash."""

    code = "internal_error"


class Driver(Generic[E]):
    """Runs ``engine`` as the single writer of its state (see module docstring)."""

    def __init__(self, engine: E, clock: Clock, dispatch: Dispatch, *, name: str = "engine") -> None:
        self.engine = engine
        self.name = name
        self._clock = clock
        self._dispatch = dispatch
        self._inbox: asyncio.Queue[tuple[object, asyncio.Future[None] | None]] = asyncio.Queue()
        self._timer: TimerHandle | None = None
        self._armed_at: float | None = None
        self._task: asyncio.Task[None] | None = None
        self.handled = 0
        self.rejected = 0

    # Public methods for the owner ----------------------------------------------------

    def start(self) -> None:
        """Start the writer task; commands from a first settle (timers) are dispatched."""
        self._task = asyncio.create_task(self._run(), name=f"driver-{self.name}")
        self._rearm()

    async def stop(self) -> None:
        """Handle everything already in the inbox, then stop and cancel the timer."""
        if self._task is None:
            return
        self._inbox.put_nowait((_STOP, None))
        await self._task
        self._task = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def idle(self) -> None:
        """Wait until every input posted so far has been handled (tests, shutdown)."""
        await self._inbox.join()

    # Public methods for adapters ------------------------------------------------------

    def post(self, event: object) -> None:
        """Queue an input; a refusal is logged, not raised."""
        self._inbox.put_nowait((event, None))

    async def submit(self, event: object) -> None:
        """Queue an input and wait until it is handled; raises ``EngineError`` if refused."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inbox.put_nowait((event, future))
        await future

    # Internals ---------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            item, future = await self._inbox.get()
            try:
                if item is _STOP:
                    return
                self._step(item, future)
            finally:
                self._inbox.task_done()

    def _step(self, item: object, future: asyncio.Future[None] | None) -> None:
        now, wall = self._clock.monotonic(), self._clock.now()
        try:
            if item is _TIMER:
                self._armed_at = None
                self.engine.handle_timer(now)
            else:
                self.engine.handle(item, now)
        except EngineError as exc:
            self.rejected += 1
            self._settle(future, exc)
            if future is None:
                log.warning("%s refused %s: %s", self.name, type(item).__name__, exc)
        except Exception as exc:
            self.rejected += 1
            log.exception("%s failed on %r", self.name, item)
            self._settle(future, Rejected(f"internal error handling {type(item).__name__}: {exc}"))
        else:
            self.handled += 1
            self._settle(future, None)
        commands = self.engine.take_commands()
        if commands:
            try:
                self._dispatch(on_the_wall(commands, now, wall))
            except Exception:
                log.exception("%s: dispatching %d commands failed", self.name, len(commands))
        self._rearm()

    @staticmethod
    def _settle(future: asyncio.Future[None] | None, exc: BaseException | None) -> None:
        if future is None or future.done():
            return
        if exc is None:
            future.set_result(None)
        else:
            future.set_exception(exc)

    def _rearm(self) -> None:
        deadline = self.engine.next_deadline()
        if deadline == self._armed_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._armed_at = deadline
        if deadline is not None:
            self._timer = self._clock.call_at_monotonic(deadline, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._inbox.put_nowait((_TIMER, None))
