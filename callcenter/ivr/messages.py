"""Inputs to and commands from ``IvrSession``.

Inputs are named in the past tense (what happened on the call); commands are orders the
runtime carries out (play, listen, ask the CRM, hand to the ACD). All are frozen,
keyword-only ``msgspec.Struct``s with ``gc=False`` (see ``core/events.py``).
``RecordEvent`` (from ``callcenter.core.events``) is also among the commands: every step
worth logging becomes one interaction event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from callcenter.core.errors import EngineError
from callcenter.core.events import RecordEvent

# Inputs ---------------------------------------------------------------------------------


class SessionStarted(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The call or chat reached the IVR. ``caller`` is the calling number ("" if withheld),
    a claim that identifies nobody until a verify node proves it. ``login_customer_id``:
    the customer a signed login token handed to the chat widget names (its signature and
    expiry were checked); a verify node turns it into a verified identity."""

    caller: str
    called: str
    channel: str
    login_customer_id: str | None = None


class DigitsReceived(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One or more keys (0-9, * and #) in the order pressed, or chat buttons pressed."""

    digits: str


class SpeechRecognized(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What the recognizer heard (a grammar phrase, "" for a no-match), or chat text."""

    text: str
    confidence: float = 1.0


class PromptFinished(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The prompt finished playing (voice) or was shown (chat). Stopped prompts need not
    report; a report for a prompt that is no longer current is ignored."""

    prompt_id: str


class CallerHungUp(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    pass


class LookupCompleted(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    request_id: str
    found: bool
    customer: Mapping[str, Any] | None = None
    answer: Mapping[str, Any] | None = None


class VerificationCompleted(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The answer to ``VerifyCustomer``. ``verified``: the account and secret (or the
    login token) belong to ``customer`` (its card). ``customer_id`` is set when the account
    exists even if the secret was wrong (for the log; never shown to the contact)."""

    request_id: str
    verified: bool
    customer: Mapping[str, Any] | None = None
    customer_id: str | None = None
    unavailable: bool = False  # the CRM could not answer: not a wrong answer


class VoicemailRecorded(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    path: str
    seconds: float


class ContactCompleted(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The agent part of a routed contact is over (the agent hung up or closed the chat).

    ``reason`` is the ACD's: ``completed`` continues at the queue node's ``after``; any
    other (``voicemail``, ``overflow_disconnect``: the queue sent the contact away) ends
    the session with that reason and hangs up."""

    reason: str = "completed"


class QueueStatusChanged(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Position (1 = next) and estimated wait of the routed contact, for announcements."""

    position: int
    ewt_s: float | None = None


IvrInput = (
    SessionStarted
    | DigitsReceived
    | SpeechRecognized
    | PromptFinished
    | CallerHungUp
    | LookupCompleted
    | VerificationCompleted
    | VoicemailRecorded
    | ContactCompleted
    | QueueStatusChanged
)

# Commands -------------------------------------------------------------------------------


class PlayPrompt(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Speak (voice) or show (chat) ``text``. ``barge_in``: keys or speech may cut it off.
    ``options`` are ``(key, label)`` pairs a chat widget can show as buttons; pressing
    one is reported as ``DigitsReceived(digits=key)``. Report ``PromptFinished`` after."""

    prompt_id: str
    text: str
    barge_in: bool = False
    options: tuple[tuple[str, str], ...] = ()


class StopPrompt(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    prompt_id: str


class StartRecognition(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Listen for these phrases (replacing any running recognition); report the first
    result as ``SpeechRecognized``. ``timeout_s`` bounds one attempt's listening."""

    grammar: tuple[str, ...]
    timeout_s: float


class StopRecognition(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    pass


class LookupCustomer(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Ask the CRM; answer with ``LookupCompleted(request_id=...)``. ``want`` is
    ``customer`` or a self-service answer name (``balance``, ``order_status``...)."""

    request_id: str
    by: Literal["caller_number", "account_number", "customer_id"]
    value: str
    want: str = "customer"
    for_customer: str | None = None  # a self-service answer only for this verified customer


class VerifyCustomer(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Check who the contact is; answer with ``VerificationCompleted(request_id=...)``.
    ``method`` ``pin`` / ``dob``: does ``secret`` (the PIN, or the date of birth as keyed)
    match the customer with account number ``account``? ``token``: the customer
    ``customer_id`` a checked login token named (``account`` and ``secret`` empty).
    Never log ``secret``."""

    request_id: str
    method: Literal["pin", "dob", "token"]
    account: str = ""
    secret: str = ""
    customer_id: str | None = None

    def __repr__(self) -> str:  # every field but the secret, kept out of logs and tracebacks
        return (
            f"VerifyCustomer(request_id={self.request_id!r}, method={self.method!r}, "
            f"account={self.account!r}, customer_id={self.customer_id!r})"
        )


class RouteToQueue(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Hand the contact to the ACD (``acd.ContactArrived`` carries the same fields)."""

    contact_id: str
    queue: str
    channel: str
    caller: str | None
    priority_class: int | None = None
    head_start_s: float | None = None
    attributes: Mapping[str, str] = msgspec.field(default_factory=dict)
    context_id: str | None = None


class OfferCallback(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The caller accepted a callback to ``number``; queue it in ``queue`` (channel callback)."""

    contact_id: str
    number: str
    queue: str
    attributes: Mapping[str, str] = msgspec.field(default_factory=dict)
    context_id: str | None = None


class StartVoicemail(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Record the caller for up to ``max_s`` seconds; report ``VoicemailRecorded``. With
    ``queue``, the message then waits there for an agent (a ``voicemail`` contact)."""

    max_s: float
    queue: str | None = None


class TransferExternal(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    uri: str


class HangUp(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    reason: str


IvrCommand = (
    PlayPrompt
    | StopPrompt
    | StartRecognition
    | StopRecognition
    | LookupCustomer
    | VerifyCustomer
    | RouteToQueue
    | OfferCallback
    | StartVoicemail
    | TransferExternal
    | HangUp
    | RecordEvent
)

# Errors ---------------------------------------------------------------------------------


class IvrError(EngineError):
    code = "ivr_rejected"


class SessionNotStarted(IvrError):
    code = "ivr_not_started"


class SessionAlreadyStarted(IvrError):
    code = "ivr_already_started"


class SessionEnded(IvrError):
    code = "ivr_session_ended"


class UnexpectedInput(IvrError):
    """The input does not fit the session's state (a voicemail result when none was
    being recorded, an answer to a lookup never asked)."""

    code = "ivr_unexpected_input"
