"""The chat channel's brain: a customer chat becomes a contact of channel ``chat``.

When an IVR flow answers the chat entry (``entry: {channels: [chat]}`` in config/ivr, the
flow claiming the widget's ``entry`` id or else the chat default flow), the chat runs it in
text mode through the ``IvrRunner`` (``chat/ivr_channel.py``): prompts are bot messages,
menu options are buttons, typed text is an answer; the flow queues the chat, and after the
agent part its survey is the rating. The IVR part of the transcript is the ``ivr.*``
events (they mask sensitive entries, so the typed text is not logged twice).

Without a chat flow the customer picks a topic from the queues that take chats (each
shown as a button, labelled with the queue's description; typing the topic's number or
name works too), and may rate the chat at the end (``contact.rated``).

Either way the contact waits in its queue like any other; when an agent accepts, both
sides talk in real time through the desk and the chat socket, and every message is logged
(``contact.chat_message``). If the customer leaves, the contact is abandoned or ended.
"""

from __future__ import annotations

import logging
from typing import Any

from callcenter.acd.commands import ConnectContact, FinishContact, OverflowContact
from callcenter.acd.errors import AcdError
from callcenter.acd.messages import ContactAbandoned, ContactArrived, ContactEnded, ContactsRestored
from callcenter.chat.ivr_channel import ChatIvrChannel
from callcenter.chat.login_token import LoginTokenError, check_login_token
from callcenter.chat.protocol import AgentJoined, ChatProtocolError, Message, Option, Prompt, Queued, Start
from callcenter.chat.sessions import ChatSession, ChatSessions
from callcenter.config.hours import closed_message
from callcenter.core.desk_frames import ChatMessage, Typing
from callcenter.core.errors import CallcenterError
from callcenter.core.events import InteractionEvent
from callcenter.i18n.catalogue import english
from callcenter.runtime.center import Center
from callcenter.runtime.ivr_runner.runner import IvrRunner
from callcenter.runtime.recovery import HeldChats

log = logging.getLogger(__name__)

# The topic menu's words (catalogue keys: the page shows them in its language)
GREETING = "chat.server.greeting"
PICK_TOPIC = "chat.server.pick_topic"


class ChatBackend:
    def __init__(self, center: Center, runner: IvrRunner | None = None, *, entry: str = "") -> None:
        self.center = center
        self.runner = runner
        self.entry = entry  # the widget id a chat flow may claim in its entry numbers
        self.ivr: dict[str, ChatIvrChannel] = {}  # chats the IVR runs, by contact id
        self.sessions: ChatSessions | None = None  # set once the sessions exist
        self.held: HeldChats | None = None  # chats a restart set aside for their customers
        self.topics = [
            (str(i + 1), q.name, q.description or q.name)
            for i, q in enumerate(q for q in center.config.queues if "chat" in q.channels)
        ]

    # ChatBackend port (callcenter.chat.sessions) ---------------------------------------------------

    async def started(self, session: ChatSession) -> None:
        entry = session.entry or self.entry
        if self.runner is not None and self.runner.flows.entry_for("chat", entry) is not None:
            channel = ChatIvrChannel(self, session)
            self.ivr[session.contact_id] = channel
            try:
                await self.runner.start(
                    channel=channel,
                    caller=session.phone or session.email or "",
                    called=entry,
                    contact_id=session.contact_id,
                    attributes={"name": session.name} if session.name else None,
                    login_customer_id=session.login_customer_id,
                )
            except CallcenterError:
                log.exception("chat %s: the IVR did not start; showing topics", session.contact_id)
                del self.ivr[session.contact_id]
            else:
                return
        self.log(
            session,
            "contact.arrived",
            {"channel": "chat", "caller": session.phone or session.email, "name": session.name},
        )
        self._prompt(session)

    async def text(self, session: ChatSession, text: str) -> None:
        channel = self.ivr.get(session.contact_id)
        if channel is not None and not channel.with_agent:
            channel.typed(text)
            return
        if not session.queued:
            wanted = text.strip().lower()
            for key, queue, label in self.topics:
                if wanted in (key, queue, label.lower()):
                    await self.choose(session, key)
                    return
            self._prompt(session, PICK_TOPIC)
            return
        self.log(session, "contact.chat_message", {"from": "customer", "text": text})
        agent = self._agent_of(session.contact_id)
        if agent is not None and self.center.desks is not None:
            line = ChatMessage(
                contact_id=session.contact_id, from_="customer", text=text, at=self.center.clock.now()
            )
            self.center.desks.deliver(agent, line)

    async def choose(self, session: ChatSession, key: str) -> None:
        channel = self.ivr.get(session.contact_id)
        if channel is not None:
            if not channel.with_agent:
                channel.pressed(key)
            return
        if session.queued:
            return
        topic = next((t for t in self.topics if t[0] == key), None)
        if topic is None:
            self._prompt(session, PICK_TOPIC)
            return
        closed = self._closed_message(topic[1], session)
        if closed:  # no one would answer before the opening: say when, offer the topics again
            self.log(session, "contact.chat_message", {"from": "system", "text": closed})
            # already in the chat's language (config/hours.py): sent as written, with no key
            session.send(Prompt(text=closed, options=self._options()))
            return
        session.queued = True
        self.center.attach(session.contact_id, _Endpoint(self, session))
        attributes = {"topic": topic[1]}
        if session.name:
            attributes["name"] = session.name
        try:
            await self.center.submit(  # its arrival was logged when the chat started
                ContactArrived(
                    contact_id=session.contact_id,
                    channel="chat",
                    queue=topic[1],
                    caller=session.phone or session.email,
                    attributes=attributes,
                )
            )
        except AcdError as exc:
            log.warning("chat %s could not queue: %s", session.contact_id, exc)
            session.queued = False
            self._prompt(session, "chat.server.topic_unavailable")
            return
        if session.contact_id in self.center.engine.contacts:
            where = self.center.engine.position(session.contact_id)
            if where is not None:
                session.send(Queued(position=where[0], ewt_s=where[1]))

    def typing(self, session: ChatSession) -> None:
        agent = self._agent_of(session.contact_id)
        if agent is not None and self.center.desks is not None:
            self.center.desks.deliver(agent, Typing(contact_id=session.contact_id))

    async def rated(self, session: ChatSession, rating: int, comment: str | None) -> None:
        self.log(session, "contact.rated", {"rating": rating, "comment": comment, "channel": "chat"})

    async def left(self, session: ChatSession, reason: str) -> None:
        channel = self.ivr.pop(session.contact_id, None)
        if channel is not None:
            if channel.call is not None:
                channel.call.hang_up()  # the runner ends the contact in the ACD if it has it
            return
        contact = self.center.engine.contacts.get(session.contact_id)
        self.center.detach(session.contact_id)
        if contact is None:
            if not session.queued:  # left at the menu, before reaching a queue
                self.log(session, "contact.ended", {"reason": "customer_left_menu"})
            return
        if contact.state == "connected":
            await self.center.submit(ContactEnded(contact_id=session.contact_id, by="customer"))
        else:
            await self.center.submit(ContactAbandoned(contact_id=session.contact_id))

    async def resumed(self, session: ChatSession) -> None:
        """A chat carried by another node (dead, or the customer came back here) resumes: a
        queued or connected one goes on where it is in the ACD; one still in the IVR is
        ended, since the IVR's state died with its node (so did the flow's part after the
        agent: the customer is asked to rate the chat instead). A chat a restart set aside
        goes back in line in its place (``runtime/recovery.py``)."""
        held = self.held.take(session.contact_id) if self.held is not None else None
        if held is not None:
            await self._back_in_line(session, held.arrival, held.was)
            return
        contact = self.center.engine.contacts.get(session.contact_id)
        if session.queued and contact is not None:
            self.center.attach(session.contact_id, _Endpoint(self, session))
            where = self.center.engine.position(session.contact_id)
            if where is not None:
                session.send(Queued(position=where[0], ewt_s=where[1]))
            return
        if not session.queued:
            self.log(session, "contact.ended", {"reason": "node_lost", "was": "ivr"})
        if self.sessions is not None:
            self.sessions.finish(session, "node_lost", ask_rating=False)

    def login(self, start: Start) -> str | None:
        """The customer a new chat's ``login_token`` names, checked against
        ``crm.login_token_secret`` and the center's clock; a bad one is refused with an
        error frame naming ``login_token`` (typed details are never an identification)."""
        if start.login_token is None:
            return None
        crm = self.center.config.crm
        try:
            return check_login_token(
                start.login_token,
                secret=crm.login_token_secret,
                now=self.center.clock.now(),
                max_ttl_s=crm.login_token_max_ttl_s,
            )
        except LoginTokenError as exc:
            log.warning("chat login token refused: %s", exc.code)
            raise ChatProtocolError(exc.code, exc.message, field="login_token") from None

    async def _back_in_line(self, session: ChatSession, arrival: ContactArrived, was: str) -> None:
        session.queued = True
        self.center.attach(session.contact_id, _Endpoint(self, session))
        self.log(session, "contact.resumed", {"after_restart": True, "was": was})
        try:
            await self.center.submit(ContactsRestored(contacts=(arrival,)))
        except AcdError as exc:  # its queue cannot take it now: over, with the reason
            log.warning("chat %s could not go back in line: %s", session.contact_id, exc)
            self.center.detach(session.contact_id)
            self.log(session, "contact.ended", {"reason": "system_restart", "was": was, "detail": exc.code})
            if self.sessions is not None:
                self.sessions.finish(session, "system_restart", ask_rating=False)
            return
        where = self.center.engine.position(session.contact_id)
        if where is not None:
            session.send(Queued(position=where[0], ewt_s=where[1]))

    # The desk side -------------------------------------------------------------------------------

    def agent_says(self, contact_id: str, agent_name: str, text: str) -> bool:
        session = self.sessions.get(contact_id) if self.sessions is not None else None
        if session is None or session.ended:
            return False
        session.send(Message(from_="agent", name=agent_name, text=text, at=self.center.clock.now()))
        return True

    # Helpers ------------------------------------------------------------------------------------

    def _closed_message(self, queue: str, session: ChatSession) -> str:
        """A queue closed by its hours and with no ``overflow.on_closed`` of its own says,
        in the chat's language, when it opens ("" when open or when the overflow speaks)."""
        config = self.center.config.queue(queue)
        if config is None or config.hours is None or config.overflow.on_closed is not None:
            return ""
        calendar = self.center.config.hours.get(config.hours)
        if calendar is None:
            return ""
        language = getattr(session, "language", None) or "en"  # the widget's, when it gives one
        return closed_message(calendar, self.center.clock.now(), language)

    def _options(self) -> list[Option]:
        return [Option(key=key, label=label) for key, _, label in self.topics]

    def _prompt(self, session: ChatSession, key: str = GREETING) -> None:
        session.send(Prompt(text=english(key), key=key, options=self._options()))

    def _agent_of(self, contact_id: str) -> str | None:
        contact = self.center.engine.contacts.get(contact_id)
        return contact.agent_id if contact is not None else None

    def log(self, session: ChatSession, kind: str, data: dict[str, Any]) -> None:
        self.center.record(
            InteractionEvent(
                type=kind,
                at=self.center.clock.now(),
                contact_id=session.contact_id,
                data={k: v for k, v in data.items() if v is not None},
            )
        )


class _Endpoint:
    """What routing decisions mean for a chat customer."""

    def __init__(self, backend: ChatBackend, session: ChatSession) -> None:
        self.backend = backend
        self.session = session

    def on_routing(self, command: Any) -> None:
        if isinstance(command, ConnectContact):
            agent = self.backend.center.engine.agents.get(command.agent_id)
            self.session.send(AgentJoined(name=agent.name if agent else command.agent_id))
        elif isinstance(command, OverflowContact):
            if command.target.message:
                self.session.send(Message(from_="system", text=command.target.message))
        elif isinstance(command, FinishContact) and self.backend.sessions is not None:
            self.backend.sessions.finish(
                self.session, command.reason, ask_rating=command.reason == "completed"
            )
