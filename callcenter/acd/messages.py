"""The ACD's inputs, named in the past tense: what happened to an agent or a contact.

Inputs, commands and views are frozen, keyword-only ``msgspec.Struct``s with ``gc=False``
(see ``core/events.py``).
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec


class AgentLoggedIn(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    agent_id: str
    skills: Mapping[str, int] = msgspec.field(default_factory=dict)
    chat_capacity: int = 1
    name: str = ""
    voicemail_capacity: int = 1  # voicemails held at once (deferred work, beside chats)


class AgentLoggedOut(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    agent_id: str


class AgentReady(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Ready for contacts; during wrap-up it ends wrap-up early."""

    agent_id: str


class AgentNotReady(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    agent_id: str
    reason: str = "break"


class AgentSkillsChanged(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    agent_id: str
    skills: Mapping[str, int]
    by: str | None = None


class AgentDisconnected(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The agent's desk is gone: ringing offers go back, the agent becomes NOT_READY."""

    agent_id: str


class ContactArrived(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    contact_id: str
    channel: str
    queue: str
    attributes: Mapping[str, str] = msgspec.field(default_factory=dict)
    caller: str | None = None
    priority_class: int | None = None
    head_start_s: float | None = None
    context_id: str | None = None
    arrived_at: float | None = None  # when the contact reached the center (default: now)
    voicemail: VoicemailLeft | None = None  # a ``voicemail`` contact's message (not when restored)


class VoicemailLeft(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The message a ``voicemail`` contact carries, logged as ``contact.voicemail`` when it
    arrives: ``path`` relative to ``telephony.recordings_dir``, its length and size, and the
    call it was left on."""

    path: str
    seconds: float
    bytes: int
    from_contact: str
    capped: bool = False  # cut at the maximum length


class VoicemailCalledBack(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The agent who has a voicemail calls its caller back: the voicemail ends
    (``called_back``) and ``callback_id``, a ``callback`` contact to ``number``, is connected
    to the same agent at once (the callback dialler dials it on ``contact.connected``)."""

    contact_id: str
    agent_id: str
    callback_id: str
    number: str


class OfferAccepted(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    offer_id: str
    agent_id: str


class OfferDeclined(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    offer_id: str
    agent_id: str
    reason: str = "declined"


class ContactAbandoned(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The customer left before being connected (hung up while waiting or ringing)."""

    contact_id: str


class ContactEnded(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A connected contact is over (either side ended it); its agent goes to wrap-up.
    ``reason``: ``completed``, or ``dial_failed`` for a callback whose dialled call never
    reached the customer (busy, no answer)."""

    contact_id: str
    by: str = "agent"
    reason: str = "completed"


class ContactTransferred(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    contact_id: str
    by_agent: str
    to_queue: str | None = None
    to_agent: str | None = None


class ContactRequeued(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A connected contact goes back to its queue through no fault of the customer (its
    agent's desk is gone for good: ``agent_gone``). It keeps its arrival time and priority,
    so it is offered before the contacts that came after it; its agent lets it go as after
    a transfer and, for ``agent_gone``, becomes NOT_READY (``disconnected``). Refused
    (``IllegalTransition``) when the queue is closed: the caller's adapter then ends it."""

    contact_id: str
    reason: str = "agent_gone"


class CallbackRequested(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A waiting caller asked to be called back: they keep their place in line."""

    contact_id: str
    number: str


class ContactHeld(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    contact_id: str
    on: bool = True


class ContactMoved(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A supervisor moves a waiting contact to another queue (it keeps its wait)."""

    contact_id: str
    to_queue: str
    by: str


class AttributesChanged(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What is known of a waiting contact grew (the CRM answered after it was queued): the
    given attributes are merged into its own, which its offer then carries. Routing order
    is not touched (priority rules are applied at arrival; ``PriorityChanged`` moves it)."""

    contact_id: str
    attributes: Mapping[str, str]
    by: str


class PriorityChanged(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    contact_id: str
    by: str
    priority_class: int | None = None
    head_start_s: float | None = None


class ContactsRestored(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """After a restart: contacts that were waiting when the node stopped, in their order."""

    contacts: tuple[ContactArrived, ...]
