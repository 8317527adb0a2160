"""What each agent's desk shows of its contacts, kept beside the ACD so that the live frames
and a reconnecting desk's ``welcome`` say the same thing (docs/desk-protocol.md, "A
contact's life on the desk").

Theory of operation
-------------------
A contact on an agent's desk goes ``connected`` (or ``dialing`` for a callback the server
dials) <-> ``held``, then ``wrap_up`` while the agent's wrap-up for it runs, then
``closed``, when it moves to the desk's "Today" list. The center feeds the book what the
engine decides: ``connected`` for each ``ConnectContact`` and ``event`` for every logged
event (holds, mutes, dispositions, releases, agent states), in order; after each input's
commands are carried out it calls ``settle(engine)``, which looks at the engine's state
*after* that input: a contact the agent no longer holds is ``wrap_up`` if it is the one the
agent's wrap-up is for, else ``closed``; a ``wrap_up`` contact whose wrap-up is over (ready,
the timer, not ready, log out, the desk gone) is ``closed``. So a blind transfer, a chat
ended beside another chat, or an agent who asked for a break during the call each end up
as the ACD says, not as the desk guessed.

``lines(agent, engine)`` is the same truth for ``welcome``. The book keeps no history
beyond a few recent closed contacts per agent: the "Today" list is read from the log
(``agent_desk/today.py``); ``recent`` covers the events the log has not written yet.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from msgspec import UNSET

from callcenter.core import desk_frames as df
from callcenter.core.events import InteractionEvent

Send = Callable[[str, df.DeskFrame], None]
RECENT = 50  # closed contacts kept per agent for a welcome read before the log has them


@dataclass(slots=True)
class Line:
    contact_id: str
    channel: str
    queue: str
    caller: str | None
    status: str = "connected"
    muted: bool = False
    number: str | None = None
    wrap_up_deadline: float | None = None
    disposition: str | None = None
    reason: str | None = None
    released_at: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # a voicemail's seconds and recording_url


class DeskBook:
    def __init__(self, send: Send) -> None:
        self._send = send
        self._lines: dict[str, dict[str, Line]] = {}  # agent -> contact -> line, in arrival order
        self._dirty: set[str] = set()
        self._ended: dict[str, str] = {}  # contact -> how it ended, within one input's events
        self.recent: dict[str, deque[df.HistoryItem]] = {}

    # Public methods for the center (in the ACD writer's task) ------------------------------------

    def connected(
        self,
        agent: str,
        contact_id: str,
        channel: str,
        queue: str,
        caller: str | None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        line = Line(contact_id=contact_id, channel=channel, queue=queue, caller=caller, extra=extra or {})
        self._lines.setdefault(agent, {})[contact_id] = line
        frame = df.Contact(
            contact_id=contact_id,
            status="connected",
            channel=channel,
            queue=queue,
            caller=caller,
            muted=False,
            **line.extra,
        )
        self._send(agent, frame)

    def event(self, event: InteractionEvent) -> None:
        """Follow one logged event (every one passes here, in log order)."""
        kind, agent, cid = event.type, event.agent_id, event.contact_id
        if kind == "agent.state":
            if agent in self._lines:
                self._dirty.add(agent)
            return
        if kind == "contact.ended" and cid is not None:
            self._ended[cid] = str(event.data.get("reason") or "completed")
            return
        line = self._lines.get(agent or "", {}).get(cid or "")
        if line is None or agent is None:
            return
        data = event.data
        if kind in ("contact.held", "contact.retrieved") and line.status in ("connected", "held"):
            line.status = "held" if kind == "contact.held" else "connected"
            self._tell(agent, line)
        elif kind in ("contact.muted", "contact.unmuted"):
            line.muted = kind == "contact.muted"
            self._send(agent, df.Contact(contact_id=line.contact_id, status=line.status, muted=line.muted))
        elif kind == "contact.disposition":
            line.disposition = data.get("code")
            frame = df.Contact(contact_id=line.contact_id, status=line.status, disposition=line.disposition)
            self._send(agent, frame)
        elif kind == "contact.dialing":  # the voice runtime tells the desk itself
            line.status, line.number = "dialing", data.get("number")
        elif kind == "contact.dial_answered":
            line.status = "connected"
        elif kind == "contact.dial_failed" and line.status == "dialing":
            line.status = "dial_failed"
        elif kind == "contact.wrap_up":  # the agent let it go: ended, or transferred away
            line.released_at = event.at
            self._dirty.add(agent)
        elif kind == "contact.transferred":
            line.reason = "transferred"
        elif kind == "contact.requeued":  # its agent is gone: the call waits for another
            line.reason = "requeued"

    def settle(self, engine: Any) -> None:
        """After one input's commands: say what became of the contacts its events touched."""
        dirty, self._dirty = self._dirty, set()
        ended, self._ended = self._ended, {}
        for agent_id in dirty:
            a = engine.agents.get(agent_id)
            lines = self._lines.get(agent_id, {})
            for cid, line in list(lines.items()):
                if a is not None and cid in a.contacts:
                    continue
                if line.reason is None:
                    line.reason = ended.get(cid, "completed")
                if line.released_at is None:
                    line.released_at = a.since if a is not None else 0.0
                if _wrapping(a, cid):
                    if line.status != "wrap_up":
                        line.status, line.wrap_up_deadline = "wrap_up", a.wrap_up_until
                        self._tell(agent_id, line)
                else:
                    self._close(agent_id, line)
            if not lines:
                self._lines.pop(agent_id, None)

    def lines(self, agent_id: str, engine: Any) -> list[df.DeskContact]:
        """The agent's contacts as the engine has them now, as ``welcome`` lists them."""
        a = engine.agents.get(agent_id)
        if a is None:
            return []
        known = self._lines.get(agent_id, {})
        out = []
        for cid, channel in a.contacts.items():
            line = known.get(cid)
            if line is None:  # e.g. a replica adopted from a snapshot: the engine knows it
                contact = engine.contacts[cid]
                line = Line(
                    contact_id=cid,
                    channel=channel,
                    queue=contact.queue,
                    caller=contact.caller,
                    extra=df.voicemail_fields(channel, cid, contact.attributes),
                )
            out.append(_desk_contact(line, line.status))
        wrap = a.wrap_up_contact
        if wrap is not None and _wrapping(a, wrap) and wrap in known:
            line = known[wrap]
            out.append(_desk_contact(line, "wrap_up", a.wrap_up_until))
        return out

    # Helpers -----------------------------------------------------------------------------------

    def _tell(self, agent: str, line: Line) -> None:
        frame = df.Contact(
            contact_id=line.contact_id,
            status=line.status,
            channel=line.channel,
            queue=line.queue,
            caller=line.caller,
            reason=line.reason if line.status == "wrap_up" and line.reason else UNSET,
            wrap_up_deadline=UNSET if line.wrap_up_deadline is None else line.wrap_up_deadline,
            **line.extra,
        )
        self._send(agent, frame)

    def _close(self, agent: str, line: Line) -> None:
        self._lines[agent].pop(line.contact_id, None)
        ended_at = line.released_at or 0.0
        frame = df.Contact(
            contact_id=line.contact_id,
            status="closed",
            channel=line.channel,
            queue=line.queue,
            caller=line.caller,
            reason=line.reason or "completed",
            ended_at=ended_at,
            disposition=line.disposition,
        )
        item = df.HistoryItem(
            contact_id=line.contact_id,
            channel=line.channel,
            queue=line.queue,
            caller=line.caller,
            customer=None,
            disposition=line.disposition,
            ended_at=ended_at,
        )
        self.recent.setdefault(agent, deque(maxlen=RECENT)).appendleft(item)
        self._send(agent, frame)


def _where(line: Line) -> dict[str, Any]:
    return {"channel": line.channel, "queue": line.queue, "caller": line.caller}


def _wrapping(agent: Any, contact_id: str) -> bool:
    return (
        agent is not None
        and agent.state.value == "WRAP_UP"
        and agent.wrap_up_contact == contact_id
        and agent.wrap_up_until is not None
    )


def _desk_contact(line: Line, status: str, deadline: float | None = None) -> df.DeskContact:
    return df.DeskContact(
        contact_id=line.contact_id,
        channel=line.channel,
        queue=line.queue,
        caller=line.caller,
        status=status,
        reason=line.reason if status == "wrap_up" else None,
        wrap_up_deadline=deadline,
        muted=line.muted,
        disposition=line.disposition,
        number=line.number,
        **line.extra,
    )
