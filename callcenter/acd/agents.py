"""Agents and their one transition table.

An agent's state is one of LOGGED_OUT, NOT_READY(reason), AVAILABLE, OFFERED, ON_CONTACT,
WRAP_UP. What may happen in each state is the ``TRANSITIONS`` table below: a pair
(state, input) that is not in the table is refused with ``IllegalTransition``.

Some targets depend on what the agent holds, so the table names them symbolically:
``SETTLE`` means "what the agent's contacts make it": ON_CONTACT while it has any,
otherwise NOT_READY if a not-ready reason is pending, otherwise AVAILABLE. ``AFTER_CONTACT``
is SETTLE, except that ending the last contact starts wrap-up when the queue has one.

Capacity: a voice or callback contact is exclusive; chats share up to ``chat_capacity``,
voicemails (deferred work) up to ``voicemail_capacity``, each pool counted on its own. An
agent on chats or voicemails below capacity stays ON_CONTACT and may be offered another.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from callcenter.acd.index import SortedBag

# what a free agent's pools tuple maps to: the waiting-contact bags it takes from, and the
# free-agent bags it goes into as (strategy, requirement, bags) (filled in by the engine)
WaitBags = dict[tuple[str, ...], tuple[SortedBag, ...]]
FreeSlots = dict[tuple[str, ...], tuple[tuple[str, int, tuple[SortedBag, ...]], ...]]


class State(StrEnum):
    LOGGED_OUT = "LOGGED_OUT"
    NOT_READY = "NOT_READY"
    AVAILABLE = "AVAILABLE"
    OFFERED = "OFFERED"
    ON_CONTACT = "ON_CONTACT"
    WRAP_UP = "WRAP_UP"


WORKING = frozenset({State.AVAILABLE, State.OFFERED, State.ON_CONTACT, State.WRAP_UP})

SETTLE = "SETTLE"
AFTER_CONTACT = "AFTER_CONTACT"

S = State
TRANSITIONS: dict[tuple[State, str], str] = {
    (S.LOGGED_OUT, "login"): S.NOT_READY,
    (S.NOT_READY, "ready"): S.AVAILABLE,
    (S.NOT_READY, "not_ready"): S.NOT_READY,
    (S.NOT_READY, "logout"): S.LOGGED_OUT,
    (S.NOT_READY, "disconnect"): S.NOT_READY,
    (S.AVAILABLE, "ready"): S.AVAILABLE,
    (S.AVAILABLE, "not_ready"): S.NOT_READY,
    (S.AVAILABLE, "logout"): S.LOGGED_OUT,
    (S.AVAILABLE, "offer"): S.OFFERED,
    (S.AVAILABLE, "disconnect"): S.NOT_READY,
    (S.OFFERED, "accept"): S.ON_CONTACT,
    (S.OFFERED, "decline"): SETTLE,
    (S.OFFERED, "ring_timeout"): SETTLE,
    (S.OFFERED, "withdraw"): SETTLE,
    (S.OFFERED, "not_ready"): SETTLE,
    (S.OFFERED, "logout"): S.LOGGED_OUT,
    (S.OFFERED, "disconnect"): SETTLE,
    (S.OFFERED, "ready"): S.OFFERED,
    (S.OFFERED, "contact_end"): S.OFFERED,
    (S.ON_CONTACT, "offer"): S.OFFERED,
    (S.ON_CONTACT, "contact_end"): AFTER_CONTACT,
    (S.ON_CONTACT, "not_ready"): S.ON_CONTACT,
    (S.ON_CONTACT, "ready"): S.ON_CONTACT,
    (S.ON_CONTACT, "disconnect"): S.ON_CONTACT,
    (S.WRAP_UP, "ready"): S.AVAILABLE,
    (S.WRAP_UP, "wrap_up_end"): SETTLE,
    (S.WRAP_UP, "not_ready"): S.NOT_READY,
    (S.WRAP_UP, "logout"): S.LOGGED_OUT,
    (S.WRAP_UP, "disconnect"): S.NOT_READY,
}
# Declining, missing an offer, asking for a break or losing the desk set a pending
# not-ready reason first ("declined", "missed", the reason, "disconnected"), so SETTLE lands
# on NOT_READY, or on ON_CONTACT for an agent who still has chats open.

EXCLUSIVE_CHANNELS = frozenset({"voice", "callback"})
DEFERRED_CHANNELS = frozenset({"voicemail"})  # waits for opening hours; its own pool and capacity
# plain module constants: enum attribute access is slow on the hot path
_AVAILABLE, _ON_CONTACT = State.AVAILABLE, State.ON_CONTACT
# the pools an agent may be free for, by (room for a chat, room for a voicemail), with no
# contact at all (voice too) and with shared contacts only
_IDLE_POOLS = {
    (True, True): ("voice", "chat", "voicemail"),
    (True, False): ("voice", "chat"),
    (False, True): ("voice", "voicemail"),
    (False, False): ("voice",),
}
_SHARED_POOLS: dict[tuple[bool, bool], tuple[str, ...]] = {
    (True, True): ("chat", "voicemail"),
    (True, False): ("chat",),
    (False, True): ("voicemail",),
    (False, False): (),
}
POOL_SETS = (*_IDLE_POOLS.values(), *(p for p in _SHARED_POOLS.values() if p))


@dataclass(slots=True, eq=False)
class Agent:
    agent_id: str
    name: str
    skills: dict[str, int]
    chat_capacity: int
    voicemail_capacity: int = 1
    state: State = State.NOT_READY
    reason: str | None = "logged_in"
    since: float = 0.0
    idle_since: float = 0.0
    pending_not_ready: str | None = None
    offer_id: str | None = None
    contacts: dict[str, str] = field(default_factory=dict)  # contact_id -> channel
    wrap_up_until: float | None = None
    wrap_up_contact: str | None = None
    handled: int = 0
    handle_time: float = 0.0
    offers_received: int = 0
    matches: tuple[int, ...] = ()  # ids of the routing requirements this agent meets
    bag_keys: tuple[tuple[str, int], ...] = ()  # (queue, step) pairs whose requirement it meets
    ctx: str | None = None
    ctx_base: str | None = None
    ctx_n: int = 0
    wait_bags: WaitBags = field(default_factory=dict, repr=False)
    free_slots: FreeSlots = field(default_factory=dict, repr=False)

    def meets(self, require: Mapping[str, int]) -> bool:
        skills = self.skills
        return all(skills.get(skill, 0) >= level for skill, level in require.items())

    @property
    def chats(self) -> int:
        return sum(1 for ch in self.contacts.values() if ch == "chat")

    @property
    def exclusive_busy(self) -> bool:
        return any(ch in EXCLUSIVE_CHANNELS for ch in self.contacts.values())

    def free_for(self, pool: str) -> bool:
        """May this agent be offered a contact of ``pool`` ("voice", "chat", "voicemail") now?"""
        return pool in self.free_pools()

    def free_pools(self) -> tuple[str, ...]:
        """The pools ("voice", "chat", "voicemail") this agent may be offered a contact from
        now (one of ``POOL_SETS``)."""
        if self.offer_id is not None or self.pending_not_ready is not None:
            return ()
        state = self.state
        if state is _AVAILABLE and not self.contacts:
            return _IDLE_POOLS[(self.chat_capacity > 0, self.voicemail_capacity > 0)]
        if state is not _ON_CONTACT:
            return ()
        chats = voicemails = 0  # one pass: this runs on every state change
        for channel in self.contacts.values():
            if channel == "chat":
                chats += 1
            elif channel == "voicemail":
                voicemails += 1
            else:
                return ()  # a voice or callback contact is exclusive
        return _SHARED_POOLS[(chats < self.chat_capacity, voicemails < self.voicemail_capacity)]

    def settle_state(self) -> State:
        if self.contacts:
            return State.ON_CONTACT
        if self.pending_not_ready is not None:
            return State.NOT_READY
        return State.AVAILABLE


def pool_of(channel: str) -> str:
    if channel in EXCLUSIVE_CHANNELS:
        return "voice"
    return "voicemail" if channel in DEFERRED_CHANNELS else "chat"
