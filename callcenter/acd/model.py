"""The ACD's inputs (named in the past tense), commands (named as orders) and errors.

Inputs and commands are frozen, slotted, keyword-only dataclasses. Every refusal is an
``AcdError`` with a stable ``code``; the engine's state is unchanged when one is raised.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from callcenter.config.model import OverflowTarget
from callcenter.core.errors import EngineError
from callcenter.core.fastinit import fast_init

# Errors ----------------------------------------------------------------------------------


class AcdError(EngineError):
    code = "acd_error"


class UnknownAgent(AcdError):
    code = "unknown_agent"


class UnknownQueue(AcdError):
    code = "unknown_queue"


class UnknownSkill(AcdError):
    code = "unknown_skill"


class UnknownContact(AcdError):
    code = "unknown_contact"


class ContactEndedAlready(AcdError):
    code = "contact_ended"


class DuplicateContact(AcdError):
    code = "duplicate_contact"


class DuplicateLogin(AcdError):
    code = "duplicate_login"


class IllegalTransition(AcdError):
    code = "illegal_transition"


class UnknownOffer(AcdError):
    code = "unknown_offer"


class NotYours(AcdError):
    code = "not_yours"


class BadInput(AcdError):
    code = "bad_input"


# Inputs ------------------------------------------------------------------------------------


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class AgentLoggedIn:
    agent_id: str
    skills: Mapping[str, int] = field(default_factory=dict)
    chat_capacity: int = 1
    name: str = ""


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class AgentLoggedOut:
    agent_id: str


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class AgentReady:
    """Ready for contacts; during wrap-up it ends wrap-up early."""

    agent_id: str


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class AgentNotReady:
    agent_id: str
    reason: str = "break"


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class AgentSkillsChanged:
    agent_id: str
    skills: Mapping[str, int]
    by: str | None = None


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class AgentDisconnected:
    """The agent's desk is gone: ringing offers go back, the agent becomes NOT_READY."""

    agent_id: str


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class ContactArrived:
    contact_id: str
    channel: str
    queue: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    caller: str | None = None
    priority_class: int | None = None
    head_start_s: float | None = None
    context_id: str | None = None
    arrived_at: float | None = None  # when the contact reached the center (default: now)


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class OfferAccepted:
    offer_id: str
    agent_id: str


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class OfferDeclined:
    offer_id: str
    agent_id: str
    reason: str = "declined"


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class ContactAbandoned:
    """The customer left before being connected (hung up while waiting or ringing)."""

    contact_id: str


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class ContactEnded:
    """A connected contact is over (either side ended it); its agent goes to wrap-up.
    ``reason``: ``completed``, or ``dial_failed`` for a callback whose dialled call never
    reached the customer (busy, no answer)."""

    contact_id: str
    by: str = "agent"
    reason: str = "completed"


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class ContactTransferred:
    contact_id: str
    by_agent: str
    to_queue: str | None = None
    to_agent: str | None = None


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackRequested:
    """A waiting caller asked to be called back: they keep their place in line."""

    contact_id: str
    number: str


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class ContactHeld:
    contact_id: str
    on: bool = True


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class ContactMoved:
    """A supervisor moves a waiting contact to another queue (it keeps its wait)."""

    contact_id: str
    to_queue: str
    by: str


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class AttributesChanged:
    """What is known of a waiting contact grew (the CRM answered after it was queued): the
    given attributes are merged into its own, which its offer then carries. Routing order
    is not touched (priority rules are applied at arrival; ``PriorityChanged`` moves it)."""

    contact_id: str
    attributes: Mapping[str, str]
    by: str


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class PriorityChanged:
    contact_id: str
    by: str
    priority_class: int | None = None
    head_start_s: float | None = None


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class ContactsRestored:
    """After a restart: contacts that were waiting when the node stopped, in their order."""

    contacts: tuple[ContactArrived, ...]


# Commands ------------------------------------------------------------------------------------


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class OfferContact:
    offer_id: str
    contact_id: str
    agent_id: str
    queue: str
    channel: str
    ring_deadline: float
    trace: str
    caller: str | None
    attributes: Mapping[str, str]


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class WithdrawOffer:
    offer_id: str
    contact_id: str
    agent_id: str
    reason: str  # timed_out, declined, abandoned, agent_not_ready, agent_gone, logged_out


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectContact:
    contact_id: str
    agent_id: str
    offer_id: str
    queue: str
    channel: str


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class OverflowContact:
    """The contact leaves its queue for ``target``; adapters act on callback, voicemail,
    disconnect (play ``target.message`` and hang up); a queue move needs nothing from them."""

    contact_id: str
    queue: str
    reason: str  # closed, full, max_wait, no_agents
    target: OverflowTarget


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class FinishContact:
    """The contact is over as far as routing goes; adapters release what they hold."""

    contact_id: str
    reason: str


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class PositionUpdated:
    """Tell a waiting customer where they are: sent at a bounded rate, and only to contacts
    whose position or (rounded) estimated wait changed since they were last told."""

    contact_id: str
    queue: str
    channel: str
    position: int
    ewt_s: float | None


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class ContactPosition:
    contact_id: str
    queue: str
    channel: str
    position: int
    ewt_s: float | None
    waited_s: float


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class AgentSnapshot:
    agent_id: str
    name: str
    state: str
    reason: str | None
    since: float
    skills: Mapping[str, int]
    contacts: tuple[str, ...]
    offer_id: str | None
    handled: int


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class QueueSnapshot:
    name: str
    waiting: int
    longest_wait_s: float
    ewt_s: float | None
    agents: Mapping[str, int]


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class CenterSnapshot:
    """Every queue's figures and every waiting contact's place, in queue order."""

    at: float
    queues: Mapping[str, QueueSnapshot]
    waiting: Mapping[str, tuple[ContactPosition, ...]]


def event_data(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
