"""The ports between the IVR runner and the front-ends that carry a contact (chat, calls).

``IvrChannel`` is what a front-end implements for one contact; ``IvrCall`` is the handle
the runner gives it to report what happened. ``IvrDirectory`` is the CRM as the runner
asks it (``callcenter.ports.crm_directory.CrmDirectory`` fits).

Calling contract
----------------
1. The front-end builds its channel and calls ``await runner.start(channel=..., ...)``.
   The runner calls ``channel.opened(call)`` first, exactly once, before any other method;
   the channel keeps ``call`` and reports every input through ``call.post(...)``:
   ``DigitsReceived``, ``SpeechRecognized``, ``PromptFinished``, ``VoicemailRecorded`` and
   ``CallerHungUp`` (or ``call.hang_up()``). ``post`` never blocks and never raises for a
   refused input (refusals are logged); inputs after the end are dropped.
2. Every other method is called from the runner's task, one at a time, in the order the
   session gave its commands. None may block: start I/O as a task and report later.
3. After ``hang_up`` or ``transfer`` (or once ``closed`` is called) no method is called
   again for this contact and ``post`` is ignored.
"""

from __future__ import annotations

from typing import Any, Protocol

from callcenter.ivr.flow import Flow
from callcenter.ivr.messages import IvrInput, PlayPrompt
from callcenter.ports.customer_card import CustomerCard, LookupBy


class IvrCall(Protocol):
    """The runner's handle for one contact, given to its channel in ``opened``."""

    @property
    def contact_id(self) -> str: ...

    @property
    def ended(self) -> bool:
        """True once the session ended (hung up, transferred, completed)."""
        ...

    @property
    def context_id(self) -> str:
        """The id of the session's causal context (what a message left links back to)."""
        ...

    @property
    def flow(self) -> Flow:
        """The flow this contact walks; speak its prompts with
        ``speech.flow_prompts.flow_voice(call.flow, config.speech)`` (the voice
        ``callcenter prompts build`` rendered them with, so they are cache hits)."""
        ...

    def post(self, event: IvrInput) -> None:
        """Report an input (see the module docstring); never blocks, never raises."""
        ...

    def hang_up(self) -> None:
        """The caller hung up or closed the chat: the same as ``post(CallerHungUp())``.
        The runner also ends the contact in the ACD (abandoned while waiting, ended while
        connected to an agent)."""
        ...


class IvrChannel(Protocol):
    """One contact's front-end (a chat conversation, a call leg), driven by the runner.

    ``kind`` is the session's channel: ``"voice"`` or ``"chat"``.
    """

    @property
    def kind(self) -> str: ...

    def opened(self, call: IvrCall) -> None:
        """First call, before any other: keep ``call`` to report inputs."""
        ...

    def play(self, prompt: PlayPrompt) -> None:
        """Speak (voice) or show (chat) ``prompt.text``; then report
        ``PromptFinished(prompt_id=prompt.prompt_id)``: voice when the audio ended, chat as
        soon as it was shown. Prompts play in the order given: a prompt given while another
        plays starts after it. ``prompt.options`` are ``(key, label)`` buttons for chat; a
        press is ``DigitsReceived(key)`` for a digit/``*``/``#`` key, else
        ``SpeechRecognized(key)``. ``prompt.barge_in``: keys or speech may cut it off (the
        runner then calls ``stop_prompt``)."""
        ...

    def stop_prompt(self, prompt_id: str) -> None:
        """Barge-in: stop that prompt now if it is playing or waiting to play (no
        ``PromptFinished`` is needed for it). Unknown or finished ids are ignored."""
        ...

    def start_recognition(self, grammar: tuple[str, ...], timeout_s: float) -> None:
        """Listen for these phrases, replacing any running recognition; report the first
        result as ``SpeechRecognized(text, confidence)`` (``""`` for a no-match). A channel
        without a recognizer (or chat, where typed text is always reported) ignores it: the
        session's own no-input timer still runs."""
        ...

    def stop_recognition(self) -> None: ...

    def start_voicemail(self, max_s: float, queue: str | None = None) -> None:
        """Record the caller (after a tone) for up to ``max_s`` seconds; report
        ``VoicemailRecorded(path, seconds)``. A call's message then waits in ``queue`` as a
        ``voicemail`` contact (``runtime/voice/call.py``). Chat reports its next typed text
        as the message (path ``chat:<contact id>``)."""
        ...

    def transfer(self, uri: str) -> None:
        """Hand the call to ``uri`` (``sip:``, ``sips:``, ``tel:``); the session has ended."""
        ...

    def hang_up(self, reason: str) -> None:
        """End the call or chat (the session has ended). Prompts given before were
        reported finished, so the last words have been said."""
        ...

    def on_routing(self, command: Any) -> None:
        """What routing did with the contact: ``ivr.RouteToQueue`` (told just before the
        contact is handed to the ACD, so it comes before any ACD outcome: start music on
        hold), ``ivr.OfferCallback`` (after the callback contact was queued), then the
        ACD's ``acd.commands.ConnectContact`` (bridge to / show the agent),
        ``OverflowContact`` and ``FinishContact`` (the agent part is over; the session may
        go on to a survey, so do not hang up on it: ``hang_up`` follows when the session
        ends)."""
        ...


class IvrDirectory(Protocol):
    """The CRM as the runner asks it; ``crm_link.ports.CrmDirectory`` fits. Self-service
    answers come from an optional ``answer(want, card)`` of the same object."""

    async def lookup(self, by: LookupBy, value: str) -> CustomerCard | None: ...
