"""``IvrChannel`` for web chat: the IVR in text mode.

Prompts are shown as bot messages with the menu's options as buttons and count as
finished once sent; there is no recognizer (typed text is reported as
``SpeechRecognized`` by the backend); a voicemail is the customer's next typed message.
Routing outcomes become the chat frames the widget already knows (``agent_joined``,
system messages), and the end of the session ends the chat.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from callcenter.acd.commands import ConnectContact, FinishContact, OverflowContact
from callcenter.chat.protocol import AgentJoined, AgentLeft, Message, Option, Prompt
from callcenter.i18n.catalogue import english
from callcenter.ivr import messages as ivr
from callcenter.runtime.center import Center
from callcenter.runtime.ivr_runner.ports import IvrCall

if TYPE_CHECKING:
    from callcenter.chat.sessions import ChatSession, ChatSessions


class ChatLink(Protocol):
    """What a chat's IVR channel needs of the chat backend (``backend.ChatBackend``)."""

    center: Center
    ivr: dict[str, ChatIvrChannel]
    sessions: ChatSessions | None

    def log(self, session: ChatSession, kind: str, data: dict[str, Any]) -> None: ...


class ChatIvrChannel:
    kind = "chat"

    def __init__(self, backend: ChatLink, session: ChatSession) -> None:
        self.backend = backend
        self.session = session
        self.call: IvrCall | None = None
        self.with_agent = False  # from queueing until the agent part is over: text goes to the agent
        self.voicemail = False  # the next typed text is the message

    # IvrChannel ---------------------------------------------------------------------------

    def opened(self, call: IvrCall) -> None:
        self.call = call

    def play(self, prompt: ivr.PlayPrompt) -> None:
        options = [Option(key=key, label=label) for key, label in prompt.options]
        self.session.send(Prompt(text=prompt.text, options=options))
        if self.call is not None:
            self.call.post(ivr.PromptFinished(prompt_id=prompt.prompt_id))

    def stop_prompt(self, prompt_id: str) -> None:
        """Shown text cannot be taken back; nothing to stop."""

    def start_recognition(self, grammar: tuple[str, ...], timeout_s: float) -> None:
        """Typed text is always reported; there is nothing to start."""

    def stop_recognition(self) -> None:
        pass

    def start_voicemail(self, max_s: float, queue: str | None = None) -> None:
        self.voicemail = True

    def transfer(self, uri: str) -> None:
        key = "chat.server.contact_us_at"
        self.session.send(Message(from_="system", text=english(key, uri=uri), key=key, params={"uri": uri}))
        self._end("transferred")

    def hang_up(self, reason: str) -> None:
        self._end(reason)

    def on_routing(self, command: Any) -> None:
        if isinstance(command, ivr.RouteToQueue):
            self.with_agent = True
            self.session.queued = True
        elif isinstance(command, ConnectContact):
            agent = self.backend.center.engine.agents.get(command.agent_id)
            self.session.send(AgentJoined(name=agent.name if agent else command.agent_id))
        elif isinstance(command, OverflowContact) and command.target.message:
            self.session.send(Message(from_="system", text=command.target.message))
        elif isinstance(command, FinishContact):
            self.with_agent = False
            if command.reason == "completed":
                self.session.send(AgentLeft())

    # From the backend -----------------------------------------------------------------------

    def typed(self, text: str) -> None:
        """Customer text while the IVR has the chat."""
        if self.call is None:
            return
        if self.voicemail:
            self.voicemail = False
            self.backend.log(
                self.session, "contact.chat_message", {"from": "customer", "text": text, "voicemail": True}
            )
            self.call.post(ivr.VoicemailRecorded(path=f"chat:{self.session.contact_id}", seconds=0.0))
            return
        self.call.post(ivr.SpeechRecognized(text=text, confidence=1.0))

    def pressed(self, key: str) -> None:
        """A button: keys are digits, anything else is a phrase of the option."""
        if self.call is None:
            return
        if key and all(k in "0123456789*#" for k in key):
            self.call.post(ivr.DigitsReceived(digits=key))
        else:
            self.call.post(ivr.SpeechRecognized(text=key, confidence=1.0))

    def _end(self, reason: str) -> None:
        self.backend.ivr.pop(self.session.contact_id, None)
        sessions = self.backend.sessions
        if sessions is not None:  # the flow's survey node is the rating: no second one
            sessions.finish(self.session, reason, ask_rating=False)
