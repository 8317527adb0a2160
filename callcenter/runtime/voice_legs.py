"""Agents' audio legs: which ``CallChannel`` carries a given agent's voice.

When the ACD connects a call to an agent (``ConnectContact``), the voice runtime
(``callcenter/runtime/voice.py``) asks this registry for the agent's leg and bridges the
caller to it (``callcenter/telephony/bridge.py``). Whoever owns an agent's audio registers
it here: the desk's WebRTC leg (``callcenter/agent_desk/webrtc.py``), or a SIP phone or a
media-stream connection that dialled the agent line (``agent-<agent id>``, when
``telephony.agent_lines`` is on).

Calling contract for a leg owner:

- ``register(agent_id, leg)`` once the leg carries audio; a newer leg for the same agent
  replaces the older one. ``unregister(agent_id, leg)`` when it goes away (passing the leg
  makes a late unregister of a replaced leg harmless). A leg whose ``ended`` is true counts
  as absent.
- A leg may live across many calls (a desk's peer connection) or only one (a phone call).
  While ``in_use(agent_id)`` is true a bridge is the one reader of ``leg.events()`` and
  ``feed``s the caller's audio into it; between calls nobody reads ``events()``, so a
  long-lived leg should not queue inbound audio while it is not in use (drop it), and
  ``on_change`` tells it when that changes.
- The bridge never hangs up a leg: when the call ends the leg stays registered for the next
  one. If an agent's phone leg ends (``HungUp``) during a call, the call ends as ended by
  the agent.
- A desk's browser audio registers with ``desk=True``: a reloaded page, a dropped
  connection or a closed tab ends that leg and a new one may come back, so its end during a
  call is lost audio, not a hang-up (the call waits for the next leg on comfort audio).
  When the desk is gone for good (its reconnect grace ran out) the owner says
  ``desk_gone(agent_id)``, and whoever waits for that agent's desk audio stops waiting.

Calling contract for the voice runtime: ``claim(agent_id)`` returns the live leg (waiting up
to ``timeout`` for one to register) and marks it in use; ``is_desk(agent_id)`` (asked right
after the claim) says whether it is desk audio; ``release(agent_id)`` after the bridge. A
call whose desk audio was lost claims again with ``until_desk_gone=True``, which gives up
(None) as soon as ``desk_gone`` is said, and ``desk_is_gone(agent_id)`` tells it why.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from callcenter.telephony.media import CallChannel

LegListener = Callable[[str, bool], None]


class AgentLegs:
    """Registry of agent id -> audio leg. Use from the event loop thread only."""

    def __init__(self) -> None:
        self._legs: dict[str, CallChannel] = {}
        self._desk: set[str] = set()  # agents whose registered leg is their desk's audio
        self._desk_gone: set[str] = set()  # agents whose desk left for good (no leg since)
        self._in_use: set[str] = set()
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._listeners: list[LegListener] = []

    # Public methods for leg owners -------------------------------------------------------

    def register(self, agent_id: str, leg: CallChannel, *, desk: bool = False) -> None:
        """Make ``leg`` the agent's audio from now on (replacing any older leg); ``desk``:
        it is the desk's browser audio, whose end in a call is lost audio (see the module)."""
        self._legs[agent_id] = leg
        (self._desk.add if desk else self._desk.discard)(agent_id)
        self._desk_gone.discard(agent_id)
        self._wake(agent_id)

    def unregister(self, agent_id: str, leg: CallChannel | None = None) -> None:
        """Forget the agent's leg; with ``leg``, only if it is still the registered one."""
        if leg is None or self._legs.get(agent_id) is leg:
            self._legs.pop(agent_id, None)
            self._desk.discard(agent_id)

    def desk_gone(self, agent_id: str) -> None:
        """The agent's desk left for good: a call waiting for its desk audio to come back
        (``claim(..., until_desk_gone=True)``) gives up. Forgotten when a leg registers."""
        self._desk_gone.add(agent_id)
        self._wake(agent_id)

    def on_change(self, listener: LegListener) -> Callable[[], None]:
        """Call ``listener(agent_id, in_use)`` when a leg starts or stops carrying a call;
        returns a function that removes the listener."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # Queries -----------------------------------------------------------------------------

    def get(self, agent_id: str) -> CallChannel | None:
        """The agent's live leg, or None (an ended leg is dropped here)."""
        leg = self._legs.get(agent_id)
        if leg is not None and leg.ended:
            del self._legs[agent_id]
            self._desk.discard(agent_id)
            return None
        return leg

    def in_use(self, agent_id: str) -> bool:
        return agent_id in self._in_use

    def is_desk(self, agent_id: str) -> bool:
        """Whether the agent's registered leg is their desk's browser audio."""
        return self.get(agent_id) is not None and agent_id in self._desk

    def desk_is_gone(self, agent_id: str) -> bool:
        """Whether ``desk_gone`` was said for the agent and no leg registered since."""
        return agent_id in self._desk_gone

    def __len__(self) -> int:
        return sum(1 for agent in tuple(self._legs) if self.get(agent) is not None)

    # Public methods for the voice runtime ------------------------------------------------

    async def claim(
        self, agent_id: str, timeout: float, *, until_desk_gone: bool = False
    ) -> CallChannel | None:
        """The agent's live leg, waiting up to ``timeout`` s for one to register (or for
        the call on it to release it); marks it in use. None if there is none by then, or
        (``until_desk_gone``) once the agent's desk is gone for good."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (leg := self.get(agent_id)) is None or agent_id in self._in_use:
            if until_desk_gone and agent_id in self._desk_gone:
                return None
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            future: asyncio.Future[None] = loop.create_future()
            self._waiters.setdefault(agent_id, []).append(future)
            try:
                await asyncio.wait_for(future, remaining)
            except TimeoutError:
                return None
            finally:
                waiting = self._waiters.get(agent_id)
                if waiting is not None and future in waiting:
                    waiting.remove(future)
                    if not waiting:
                        del self._waiters[agent_id]
        self._in_use.add(agent_id)
        self._tell(agent_id, True)
        return leg

    def release(self, agent_id: str) -> None:
        if agent_id in self._in_use:
            self._in_use.discard(agent_id)
            self._tell(agent_id, False)
            self._wake(agent_id)

    def _tell(self, agent_id: str, in_use: bool) -> None:
        for listener in tuple(self._listeners):
            listener(agent_id, in_use)

    def _wake(self, agent_id: str) -> None:
        for future in self._waiters.pop(agent_id, []):
            if not future.done():
                future.set_result(None)
