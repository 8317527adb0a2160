"""Agents' audio legs: which ``CallChannel`` carries a given agent's voice.

When the ACD connects a call to an agent (``ConnectContact``), the voice runtime
(``callcenter/runtime/voice/front.py``) asks this registry for the agent's leg and bridges the
caller to it (``callcenter/telephony/bridge.py``). Whoever owns an agent's audio registers
it here: the desk's WebRTC leg (``callcenter/telephony/webrtc.py``), or a SIP phone or a
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

Desk departures are also counted (``gone_count``): a call takes the count when it starts
waiting for an agent and claims with ``gone_after=`` that count, so only a departure said
after it started ends its wait; one from before (the desk came back since, its audio not
yet) is not this call's. ``claim_leg`` is that wait, ``desk_audio_lost`` the pause of a
call whose desk audio ended, and ``requeue_or_end`` what a call does when its agent's desk
is gone for good; inbound calls (``voice_call.py``) and dialled callbacks
(``voice_callback.py``) share them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from callcenter.acd.errors import AcdError
from callcenter.acd.messages import ContactEnded, ContactRequeued
from callcenter.telephony.media import CallChannel

log = logging.getLogger(__name__)

LegListener = Callable[[str, bool], None]
Record = Callable[..., None]  # record(kind, **data): an event of the call's contact and agent


class Submitter(Protocol):
    async def submit(self, event: object) -> None: ...


class AgentLegs:
    """Registry of agent id -> audio leg. Use from the event loop thread only."""

    def __init__(self) -> None:
        self._legs: dict[str, CallChannel] = {}
        self._desk: set[str] = set()  # agents whose registered leg is their desk's audio
        self._desk_gone: set[str] = set()  # agents whose desk left for good (no leg since)
        self._gone_count: dict[str, int] = {}  # agent -> how many times ``desk_gone`` was said
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
        self._gone_count[agent_id] = self._gone_count.get(agent_id, 0) + 1
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

    def gone_count(self, agent_id: str) -> int:
        """How many times ``desk_gone`` was said for the agent (a call's wait takes it at its
        start and gives up only on a departure said after it)."""
        return self._gone_count.get(agent_id, 0)

    def __len__(self) -> int:
        return sum(1 for agent in tuple(self._legs) if self.get(agent) is not None)

    # Public methods for the voice runtime ------------------------------------------------

    async def claim(
        self,
        agent_id: str,
        timeout: float,
        *,
        until_desk_gone: bool = False,
        gone_after: int | None = None,
    ) -> CallChannel | None:
        """The agent's live leg, waiting up to ``timeout`` s for one to register (or for
        the call on it to release it); marks it in use. None if there is none by then, or
        once the agent's desk is gone for good (``until_desk_gone``), or gone since
        ``gone_count`` was ``gone_after``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (leg := self.get(agent_id)) is None or agent_id in self._in_use:
            if until_desk_gone and agent_id in self._desk_gone:
                return None
            if gone_after is not None and self.gone_count(agent_id) > gone_after:
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


# Shared by the calls that bridge an agent's leg ------------------------------------------------


async def claim_leg(
    legs: AgentLegs,
    agent_id: str,
    wait: float,
    *,
    since: int,
    over: Callable[[], bool],
    missing: Callable[[], None] | None = None,
) -> CallChannel | None:
    """The agent's leg, however long it takes: None once ``over()`` (the customer left, the
    contact ended) or the agent's desk is said gone after ``gone_count`` was ``since``.
    ``missing`` is called once if the first ``wait`` s bring no leg (the log says so)."""
    leg = await legs.claim(agent_id, wait, gone_after=since)
    if leg is None and missing is not None and not over() and legs.gone_count(agent_id) <= since:
        missing()
    while leg is None and not over() and legs.gone_count(agent_id) <= since:
        leg = await legs.claim(agent_id, wait, gone_after=since)
    return leg


async def desk_audio_lost(
    legs: AgentLegs,
    agent_id: str,
    wait: float,
    *,
    since: int,
    over: Callable[[], bool],
    record: Record,
    reason: str,
) -> CallChannel | None:
    """The desk's browser audio ended in a call (a reload, a dropped connection, a closed
    tab): ``contact.agent_audio_lost``, then the desk's next leg (``contact.agent_audio_back``
    with ``waited_s``), or None: the customer left (``over()``), or the desk is gone for good
    (``contact.agent_audio_gone``). The customer hears comfort audio meanwhile (the caller's
    business)."""
    record("contact.agent_audio_lost", reason=reason)
    loop = asyncio.get_running_loop()
    lost_at = loop.time()
    leg = await claim_leg(legs, agent_id, wait, since=since, over=over)
    waited = round(loop.time() - lost_at, 1)
    if leg is not None:
        record("contact.agent_audio_back", waited_s=waited)
    elif not over():
        record("contact.agent_audio_gone", waited_s=waited)
    return leg


async def requeue_or_end(center: Submitter, contact_id: str, agent_id: str) -> bool:
    """The agent's desk is gone for good with the customer still on the line: the contact
    goes back to its queue, first in line (``ContactRequeued``), to be offered to the next
    agent; if the queue will not have it (closed), it ends by ``system``. True if requeued."""
    try:
        await center.submit(ContactRequeued(contact_id=contact_id, reason="agent_gone"))
    except AcdError as exc:
        log.warning("contact %s: not requeued after %s left (%s); it ends", contact_id, agent_id, exc)
    else:
        log.info(
            "contact %s: the desk of %s is gone; the contact waits for the next agent", contact_id, agent_id
        )
        return True
    await end_contact(center, contact_id, by="system")
    return False


async def end_contact(center: Submitter, contact_id: str, *, by: str, reason: str = "completed") -> None:
    """``ContactEnded``; a contact ended meanwhile (the desk's End) is only logged."""
    try:
        await center.submit(ContactEnded(contact_id=contact_id, by=by, reason=reason))
    except AcdError as exc:
        log.info("contact %s: %s", contact_id, exc)
