"""What desk messages do: each becomes an ACD input or a logged fact, after checking that the
agent may act on that offer or contact.

An agent may answer only offers made to them, and act only on contacts they are handling or
have just handled (notes, dispositions and tickets during wrap-up). Bad values (a reason or
a disposition code not in the config) are refused naming the field, and change nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

import msgspec
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.acd.messages import (
    AgentDisconnected,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentReady,
    ContactEnded,
    ContactHeld,
    ContactTransferred,
    OfferAccepted,
    OfferDeclined,
    VoicemailCalledBack,
)
from callcenter.agent_desk import protocol as p
from callcenter.agent_desk import today
from callcenter.config.hours import center_zone
from callcenter.core import desk_frames as f
from callcenter.core.events import InteractionEvent
from callcenter.ports.interaction_log import InteractionLog
from callcenter.runtime.center import Center
from callcenter.telephony.webrtc import AudioError, DeskAudio

log = logging.getLogger(__name__)


class ChatOut(Protocol):
    def agent_says(self, contact_id: str, agent_name: str, text: str) -> bool: ...


class DeskService:
    def __init__(
        self,
        center: Center,
        chats: ChatOut | None = None,
        audio: DeskAudio | None = None,
        *,
        db: AsyncEngine | None = None,
        log: InteractionLog | None = None,
    ) -> None:
        self.center = center
        self.chats = chats
        self.audio = audio
        self.db = db  # where "Today" and chat transcripts are read from (the interaction log)
        self.log = log
        self.desk = center.config.desk
        self.zone = center_zone(center.config)
        self._closing: set[asyncio.Task[bool]] = set()

    # Hub callbacks --------------------------------------------------------------------------------

    async def on_message(self, agent: str, msg: Any) -> f.Ack | None:
        if isinstance(msg, p.WebRtcOffer | p.WebRtcIce | p.WebRtcClose):
            return await self._audio_message(agent, msg)
        c = self.center
        if isinstance(msg, p.SetState):
            if msg.state == "ready":
                await c.submit(AgentReady(agent_id=agent))
            elif msg.state == "not_ready":
                reason = msg.reason or (
                    self.desk.not_ready_reasons[0] if self.desk.not_ready_reasons else "break"
                )
                if reason not in self.desk.not_ready_reasons:
                    raise p.ProtocolError(
                        "bad_field",
                        f"unknown reason {reason!r} (one of {', '.join(self.desk.not_ready_reasons)})",
                        field="reason",
                    )
                await c.submit(AgentNotReady(agent_id=agent, reason=reason))
            else:
                await c.submit(AgentLoggedOut(agent_id=agent))
            return f.Ack(state=c.engine.agents[agent].state.value)
        if isinstance(msg, p.Accept):
            await c.submit(OfferAccepted(offer_id=msg.offer_id, agent_id=agent))
        elif isinstance(msg, p.Decline):
            await c.submit(
                OfferDeclined(offer_id=msg.offer_id, agent_id=agent, reason=msg.reason or "declined")
            )
        elif isinstance(msg, p.WrapUpDone):
            if self._in_wrap_up(agent, msg.contact_id):
                await c.submit(AgentReady(agent_id=agent))
        elif isinstance(msg, p.Hold):
            self._own_live(agent, msg.contact_id)
            await c.submit(ContactHeld(contact_id=msg.contact_id, on=msg.on))
        elif isinstance(msg, p.Mute):
            self._own_live(agent, msg.contact_id)
            if self.audio is not None:
                self.audio.set_muted(agent, msg.on)
            self._note(agent, msg.contact_id, "contact.muted" if msg.on else "contact.unmuted", {})
        elif isinstance(msg, p.Transfer):
            await c.submit(
                ContactTransferred(
                    contact_id=msg.contact_id, by_agent=agent, to_queue=msg.to_queue, to_agent=msg.to_agent
                )
            )
        elif isinstance(msg, p.End):
            self._own_live(agent, msg.contact_id)
            await c.submit(ContactEnded(contact_id=msg.contact_id, by="agent"))
        elif isinstance(msg, p.Note):
            self._own(agent, msg.contact_id)
            self._note(agent, msg.contact_id, "contact.note", {"text": msg.text, "by": agent})
        elif isinstance(msg, p.Disposition):
            self._own(agent, msg.contact_id)
            if msg.code not in self.desk.dispositions:
                raise p.ProtocolError(
                    "bad_field",
                    f"unknown disposition {msg.code!r} (one of {', '.join(self.desk.dispositions)})",
                    field="code",
                )
            self._note(agent, msg.contact_id, "contact.disposition", {"code": msg.code, "by": agent})
        elif isinstance(msg, p.CreateTicket):
            self._own(agent, msg.contact_id)
            ticket_id = c.ids.new("ticket")
            self._note(
                agent,
                msg.contact_id,
                "ticket.created",
                {
                    "ticket_id": ticket_id,
                    "kind": msg.kind,
                    "subject": msg.subject,
                    "due": msg.due,
                    "owner": agent,
                },
            )
            return f.Ack(ticket_id=ticket_id)
        elif isinstance(msg, p.VoicemailAction):
            await self._voicemail(agent, msg)
        elif isinstance(msg, p.ChatSend):
            self._own_live(agent, msg.contact_id)
            name = c.engine.agents[agent].name
            if self.chats is None or not self.chats.agent_says(msg.contact_id, name, msg.text):
                raise p.ProtocolError(
                    "not_a_chat", f"contact {msg.contact_id} is not an open chat", field="contact_id"
                )
            self._note(agent, msg.contact_id, "contact.chat_message", {"from": "agent", "text": msg.text})
        return None

    async def snapshot(self, agent: str) -> Callable[[], f.Welcome]:
        """Read what ``welcome`` needs from the log (the agent's "Today", open chats' lines);
        the function returned builds the welcome from the center as it is when called, so
        the hub sends it with nothing in between (no frame can slip before it)."""
        now = self.center.clock.now()
        since = today.day_start(self.zone, now)
        history: list[f.HistoryItem] = []
        lines: dict[str, list[f.TranscriptLine]] = {}
        if self.db is not None:
            if self.log is not None:
                try:
                    await self.log.flush(timeout=2.0)
                except Exception as exc:  # a slow log: the book's recent closes cover it
                    log.warning("welcome for %s: the log is behind (%s)", agent, exc)
            a = self.center.engine.agents.get(agent)
            chats = [cid for cid, ch in (a.contacts.items() if a else ()) if ch == "chat"]
            try:
                history = await today.history(self.db, agent, since)
                lines = await today.transcripts(self.db, chats)
            except SQLAlchemyError as exc:
                log.error("welcome for %s without today's contacts: %s", agent, exc)
        return lambda: self._welcome(agent, history, lines, since)

    def _welcome(
        self, agent: str, history: list[f.HistoryItem], lines: dict[str, list[f.TranscriptLine]], since: float
    ) -> f.Welcome:
        center = self.center
        engine = center.engine
        a = engine.agents.get(agent)
        offers = [self._offer_frame(o.offer_id) for o in engine.offers.values() if o.agent_id == agent]
        contacts = [
            msgspec.structs.replace(c, transcript=lines[c.contact_id]) if c.contact_id in lines else c
            for c in center.book.lines(agent, engine)
        ]
        wrap_up = a.wrap_up_until if a is not None and a.state.value == "WRAP_UP" else None
        return f.Welcome(
            agent=f.AgentInfo(username=agent, name=a.name if a else agent),
            state=a.state.value if a else "LOGGED_OUT",
            reason=a.reason if a else None,
            since=a.since if a else center.clock.monotonic(),
            server_time=center.clock.monotonic(),  # the engine's line, which since and deadlines use
            offers=[o for o in offers if o is not None],
            contacts=contacts,
            reasons=list(self.desk.not_ready_reasons),
            dispositions=list(self.desk.dispositions),
            queues=[q.name for q in center.config.queues],
            agents=sorted(x for x, ag in engine.agents.items() if ag.state.value != "LOGGED_OUT"),
            audio=f.AudioInfo(
                webrtc=self.audio is not None,
                ice_servers=[],
                connected=self.audio is not None and self.audio.connected(agent),
            ),
            wrap_up_deadline=wrap_up,
            history=today.merged(history, center.book.recent.get(agent, ()), since),
            reconnect_grace_s=self.desk.reconnect_grace_s,
            timezone=self.zone.key,
        )

    def on_gone(self, agent: str) -> None:
        if self.audio is not None:  # the desk is gone, and with it the agent's microphone
            task = asyncio.get_running_loop().create_task(self.audio.desk_gone(agent))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        a = self.center.engine.agents.get(agent)
        if a is not None and a.state.value != "LOGGED_OUT":
            self.center.post(AgentDisconnected(agent_id=agent))

    async def ensure_logged_in(
        self, agent: str, name: str, skills: dict[str, int], chat_capacity: int
    ) -> None:
        a = self.center.engine.agents.get(agent)
        if a is None or a.state.value == "LOGGED_OUT":
            await self.center.submit(
                AgentLoggedIn(
                    agent_id=agent,
                    name=name,
                    skills=skills,
                    chat_capacity=chat_capacity,
                    voicemail_capacity=self.desk.voicemail_capacity,
                )
            )

    # Helpers -------------------------------------------------------------------------------------

    async def _audio_message(self, agent: str, msg: Any) -> f.Ack | None:
        if self.audio is None:
            raise p.ProtocolError("no_audio", "browser audio is not enabled on this server")
        try:
            if isinstance(msg, p.WebRtcOffer):
                return f.Ack(answer=f.SdpAnswer(sdp=await self.audio.offer(agent, msg.sdp)))
            if isinstance(msg, p.WebRtcIce):
                await self.audio.add_ice(agent, msg.candidate, msg.sdp_mid, msg.sdp_mline_index)
            else:
                await self.audio.close_agent(agent, "desk_closed")
        except AudioError as exc:
            raise p.ProtocolError(exc.code, str(exc), field=exc.field) from None
        return None

    async def _voicemail(self, agent: str, msg: p.VoicemailAction) -> None:
        self._own_live(agent, msg.contact_id)
        c = self.center
        contact = c.engine.contacts[msg.contact_id]
        if contact.channel != "voicemail":
            raise p.ProtocolError(
                "not_a_voicemail", f"contact {msg.contact_id} is not a voicemail", field="contact_id"
            )
        if msg.action == "listened":
            data = {"handling": "listened", "by": agent}
            self._note(agent, msg.contact_id, "contact.voicemail_handled", data)
            return
        number = contact.attributes.get("callback_number") or contact.caller
        if not number:
            raise p.ProtocolError(
                "no_number", f"the caller of {msg.contact_id} left no number to call back", field="contact_id"
            )
        await c.submit(
            VoicemailCalledBack(
                contact_id=msg.contact_id, agent_id=agent, callback_id=c.ids.new("contact"), number=number
            )
        )

    def _offer_frame(self, offer_id: str) -> f.Offer | None:
        offer = self.center.engine.offers.get(offer_id)
        if offer is None:
            return None
        contact = self.center.engine.contacts[offer.contact_id]
        return f.Offer(
            offer_id=offer_id,
            contact_id=contact.contact_id,
            agent_id=offer.agent_id,
            queue=contact.queue,
            channel=contact.channel,
            ring_deadline=offer.deadline,
            caller=contact.caller,
            attributes=dict(contact.attributes),
            trace="",
            **f.voicemail_fields(contact.channel, contact.contact_id, contact.attributes),
        )

    def _in_wrap_up(self, agent: str, contact_id: str | None) -> bool:
        """Whether ``wrap_up_done`` has a wrap-up to end. One that ended a moment before (the
        timer ran out as the agent pressed Ready) is done already: nothing to do. Any other
        (a contact not in wrap-up, an agent on a contact or not ready) is refused."""
        a = self.center.engine.agents.get(agent)
        state = a.state.value if a is not None else "LOGGED_OUT"
        last = a.wrap_up_contact if a is not None else None
        if state == "WRAP_UP" and contact_id in (None, last):
            return True
        if state == "AVAILABLE" and contact_id in (None, last):
            return False
        if contact_id is None:
            raise p.ProtocolError("not_in_wrap_up", f"you are not in wrap-up (you are {state})")
        raise p.ProtocolError(
            "not_in_wrap_up",
            f"contact {contact_id} is not in wrap-up"
            + (f" (the wrap-up is for {last})" if state == "WRAP_UP" else f" (you are {state})"),
            field="contact_id",
        )

    def _own(self, agent: str, contact_id: str) -> None:
        if self.center.handled_by.get(contact_id) != agent:
            raise p.ProtocolError("forbidden", f"contact {contact_id} is not yours", field="contact_id")

    def _own_live(self, agent: str, contact_id: str) -> None:
        self._own(agent, contact_id)
        contact = self.center.engine.contacts.get(contact_id)
        if contact is None or contact.agent_id != agent:
            raise p.ProtocolError(
                "contact_ended", f"contact {contact_id} is no longer connected to you", field="contact_id"
            )

    def _note(self, agent: str, contact_id: str, kind: str, data: dict[str, Any]) -> None:
        self.center.record(
            InteractionEvent(
                type=kind,
                at=self.center.clock.now(),
                contact_id=contact_id,
                agent_id=agent,
                data={k: v for k, v in data.items() if v is not None},
            )
        )
