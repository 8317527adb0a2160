"""SIP transactions and dialog states as tables, without I/O (RFC 3261 17 as we use it).

Theory of operation. A transaction takes what happened and the time in, and gives back what
to send and when it next wants to be woken: every method takes ``now`` (monotonic seconds)
and returns an ``Output`` (``sends``: bytes with their destination; ``reports``: what the
transaction user must hear, e.g. ``Report.TIMEOUT``); ``deadline`` is the next time
``on_timer(now)`` has something to do, or None. The I/O shell (``sip_transport.TxDriver``,
used by ``sip_server`` and ``sip_dial``) owns the socket and one loop timer per deadline:
after every call it sends ``sends``, re-arms its timer on ``deadline`` and acts on
``reports``. Nothing here reads a clock, sleeps or touches a socket.

Rules:

- One schedule for every retransmitted message: over UDP it is re-sent T1, 2*T1, 4*T1 ...
  (capped at T2) after the previous send; ``TIMEOUT`` (64*T1) after the first send the
  transaction times out (Timers A/B, E/F, G/H). Over TCP only the time-out is armed.
- Each kind of transaction has one table ``{(state, event): (next state, actions)}``. A
  pair the table lists with no actions and the same state is ignored (a retransmission
  that needs nothing); a pair it does not list raises ``IllegalEvent``.
- ``abandon`` (the transaction user drops it: superseded, call finished, shutdown) ends any
  transaction without a report.
- The destination type ``D`` is the shell's (a ``Peer``); the layer only hands it back.

What each transaction is here (the same behaviour as the RFC's, except where noted):

- ``InviteServerTx``: the INVITE we answer. Proceeding re-sends the last provisional
  response (the 180) for a retransmitted INVITE; a final response (2xx or 487) is
  retransmitted until the ACK (completed -> confirmed) or the time-out (terminated,
  ``Report.TIMEOUT``: no ACK). A confirmed transaction still re-sends its final response
  for a retransmitted INVITE (our 2xx may be lost after the ACK was sent).
- ``InviteClientTx``: the dialler's INVITE. Calling re-sends it; the first provisional
  response stops re-sending and the time-out (proceeding: the ring time is the dialler's);
  a 3xx-6xx is ACKed, and ACKed again when retransmitted (completed); a 2xx ends the
  transaction (its ACK belongs to the dialog). Every non-2xx final is ACKed, in any state.
- ``NonInviteClientTx``: our BYE and CANCEL, re-sent until a final response or the time-out.
- ``ResponseCache``: the non-INVITE server transactions: a retransmitted request gets the
  same final response for ``TIMEOUT`` (at most ``size`` remembered).
- ``DIALOG``: a call's dialog, early -> answered (our 2xx sent) -> confirmed (ACKed, or the
  far end's 2xx to our INVITE) -> terminated.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar, Generic, TypeVar

T1 = 0.5
T2 = 4.0
TIMEOUT = 64 * T1
EARLY_FIRE = 1e-3  # a loop timer may fire this much before its deadline and still count

D = TypeVar("D")


class IllegalEvent(Exception):
    """An event the table does not list for the current state."""

    def __init__(self, machine: str, state: StrEnum, event: StrEnum) -> None:
        super().__init__(f"{machine}: {event.value!r} is not allowed in state {state.value!r}")
        self.machine = machine
        self.state = state
        self.event = event


class TxState(StrEnum):
    CALLING = "calling"
    TRYING = "trying"
    PROCEEDING = "proceeding"
    COMPLETED = "completed"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


class TxEvent(StrEnum):
    START = "start"  # a client transaction sends its request
    PROVISIONAL = "1xx"  # client: received; server: the transaction user sends one
    SUCCESS = "2xx"
    FAILURE = "3xx-6xx"
    REQUEST_AGAIN = "request again"  # server: the request was retransmitted
    ACK = "ack"  # server INVITE: the ACK of our final response
    RETRANSMIT = "retransmit timer"  # Timers A, E, G
    TIMEOUT = "timeout timer"  # Timers B, F, H
    ABANDON = "abandon"


class Do(StrEnum):
    SEND = "send"  # (re)send the transaction's message: its request, or its last response
    SEND_ACK = "send ack"  # client INVITE: ACK a non-2xx final response (hop by hop)
    ARM = "arm"  # start the retransmission schedule from now
    DISARM = "disarm"


class Report(StrEnum):
    """What the transaction user hears (``Output.reports``)."""

    PROVISIONAL = "provisional"
    SUCCESS = "success"
    FAILURE = "failure"
    TIMEOUT = "timeout"


Action = Do | Report
Row = tuple[TxState, tuple[Action, ...]]
Table = Mapping[tuple[TxState, TxEvent], Row]

_S, _E = TxState, TxEvent

INVITE_SERVER: Table = {
    (_S.PROCEEDING, _E.PROVISIONAL): (_S.PROCEEDING, (Do.SEND,)),
    (_S.PROCEEDING, _E.REQUEST_AGAIN): (_S.PROCEEDING, (Do.SEND,)),
    (_S.PROCEEDING, _E.SUCCESS): (_S.COMPLETED, (Do.SEND, Do.ARM)),
    (_S.PROCEEDING, _E.FAILURE): (_S.COMPLETED, (Do.SEND, Do.ARM)),
    (_S.PROCEEDING, _E.ACK): (_S.PROCEEDING, ()),
    (_S.PROCEEDING, _E.ABANDON): (_S.TERMINATED, ()),
    (_S.COMPLETED, _E.REQUEST_AGAIN): (_S.COMPLETED, (Do.SEND,)),
    (_S.COMPLETED, _E.RETRANSMIT): (_S.COMPLETED, (Do.SEND,)),
    (_S.COMPLETED, _E.ACK): (_S.CONFIRMED, (Do.DISARM,)),
    (_S.COMPLETED, _E.TIMEOUT): (_S.TERMINATED, (Do.DISARM, Report.TIMEOUT)),
    (_S.COMPLETED, _E.ABANDON): (_S.TERMINATED, (Do.DISARM,)),
    (_S.CONFIRMED, _E.REQUEST_AGAIN): (_S.CONFIRMED, (Do.SEND,)),
    (_S.CONFIRMED, _E.ACK): (_S.CONFIRMED, ()),
    (_S.CONFIRMED, _E.ABANDON): (_S.TERMINATED, ()),
    (_S.TERMINATED, _E.REQUEST_AGAIN): (_S.TERMINATED, ()),
    (_S.TERMINATED, _E.ACK): (_S.TERMINATED, ()),
    (_S.TERMINATED, _E.ABANDON): (_S.TERMINATED, ()),
}

INVITE_CLIENT: Table = {
    (_S.CALLING, _E.START): (_S.CALLING, (Do.SEND, Do.ARM)),
    (_S.CALLING, _E.RETRANSMIT): (_S.CALLING, (Do.SEND,)),
    (_S.CALLING, _E.TIMEOUT): (_S.TERMINATED, (Do.DISARM, Report.TIMEOUT)),
    (_S.CALLING, _E.PROVISIONAL): (_S.PROCEEDING, (Do.DISARM, Report.PROVISIONAL)),
    (_S.CALLING, _E.SUCCESS): (_S.TERMINATED, (Do.DISARM, Report.SUCCESS)),
    (_S.CALLING, _E.FAILURE): (_S.COMPLETED, (Do.DISARM, Do.SEND_ACK, Report.FAILURE)),
    (_S.CALLING, _E.ABANDON): (_S.TERMINATED, (Do.DISARM,)),
    (_S.PROCEEDING, _E.PROVISIONAL): (_S.PROCEEDING, ()),
    (_S.PROCEEDING, _E.SUCCESS): (_S.TERMINATED, (Report.SUCCESS,)),
    (_S.PROCEEDING, _E.FAILURE): (_S.COMPLETED, (Do.SEND_ACK, Report.FAILURE)),
    (_S.PROCEEDING, _E.ABANDON): (_S.TERMINATED, ()),
    (_S.COMPLETED, _E.PROVISIONAL): (_S.COMPLETED, ()),
    (_S.COMPLETED, _E.SUCCESS): (_S.COMPLETED, ()),
    (_S.COMPLETED, _E.FAILURE): (_S.COMPLETED, (Do.SEND_ACK,)),
    (_S.COMPLETED, _E.ABANDON): (_S.TERMINATED, ()),
    (_S.TERMINATED, _E.PROVISIONAL): (_S.TERMINATED, ()),
    (_S.TERMINATED, _E.SUCCESS): (_S.TERMINATED, ()),
    (_S.TERMINATED, _E.FAILURE): (_S.TERMINATED, (Do.SEND_ACK,)),
    (_S.TERMINATED, _E.ABANDON): (_S.TERMINATED, ()),
}

NON_INVITE_CLIENT: Table = {
    (_S.TRYING, _E.START): (_S.TRYING, (Do.SEND, Do.ARM)),
    (_S.TRYING, _E.RETRANSMIT): (_S.TRYING, (Do.SEND,)),
    (_S.TRYING, _E.TIMEOUT): (_S.TERMINATED, (Do.DISARM, Report.TIMEOUT)),
    (_S.TRYING, _E.PROVISIONAL): (_S.TRYING, ()),
    (_S.TRYING, _E.SUCCESS): (_S.TERMINATED, (Do.DISARM, Report.SUCCESS)),
    (_S.TRYING, _E.FAILURE): (_S.TERMINATED, (Do.DISARM, Report.FAILURE)),
    (_S.TRYING, _E.ABANDON): (_S.TERMINATED, (Do.DISARM,)),
    (_S.TERMINATED, _E.PROVISIONAL): (_S.TERMINATED, ()),
    (_S.TERMINATED, _E.SUCCESS): (_S.TERMINATED, ()),
    (_S.TERMINATED, _E.FAILURE): (_S.TERMINATED, ()),
    (_S.TERMINATED, _E.ABANDON): (_S.TERMINATED, ()),
}


def response_event(status: int) -> TxEvent:
    """The event a response with ``status`` is to a transaction."""
    if status < 200:
        return TxEvent.PROVISIONAL
    return TxEvent.SUCCESS if status < 300 else TxEvent.FAILURE


@dataclass(frozen=True, slots=True, kw_only=True)
class Send(Generic[D]):
    """Bytes to send, and where."""

    data: bytes
    to: D


@dataclass(frozen=True, slots=True, kw_only=True)
class Output(Generic[D]):
    sends: tuple[Send[D], ...] = ()
    reports: tuple[Report, ...] = ()


class Schedule:
    """When a message is re-sent and when its transaction gives up (see the rules above)."""

    __slots__ = ("expires", "interval", "next", "reliable")

    def __init__(self, now: float, *, reliable: bool, timeout: float = TIMEOUT) -> None:
        self.reliable = reliable
        self.expires = now + timeout
        self.interval = T1
        self.next = self._after(now)

    def _after(self, now: float) -> float:
        wait = self.expires - now if self.reliable else self.interval
        return min(now + wait, self.expires)

    def fire(self, now: float) -> TxEvent | None:
        """The timer event due at ``now`` (None if nothing is); a retransmission moves the
        next one on, doubling the interval up to T2."""
        if now < self.next - EARLY_FIRE:
            return None
        if now >= self.expires - EARLY_FIRE:
            return TxEvent.TIMEOUT
        self.interval = min(self.interval * 2, T2)
        self.next = self._after(now)
        return TxEvent.RETRANSMIT


class Transaction(Generic[D]):
    """The shared engine: one table lookup per event, then its actions in order."""

    TABLE: ClassVar[Table]
    INITIAL: ClassVar[TxState]

    def __init__(self, *, to: D, reliable: bool, message: bytes = b"") -> None:
        self.to = to
        self.reliable = reliable
        self.message = message  # what SEND sends: the request, or the last response
        self.state = self.INITIAL
        self._schedule: Schedule | None = None

    @property
    def deadline(self) -> float | None:
        """When ``on_timer`` next has something to do; None when no timer is armed."""
        return None if self._schedule is None else self._schedule.next

    @property
    def done(self) -> bool:
        return self.state is TxState.TERMINATED

    def on_timer(self, now: float) -> Output[D]:
        """Fire what is due at ``now``: a retransmission or the time-out."""
        event = None if self._schedule is None else self._schedule.fire(now)
        return Output() if event is None else self.handle(event, now)

    def abandon(self, now: float) -> Output[D]:
        return self.handle(TxEvent.ABANDON, now)

    def handle(
        self, event: TxEvent, now: float, *, message: bytes | None = None, ack: bytes = b""
    ) -> Output[D]:
        """One table lookup for ``event`` in the current state, then its actions in order.
        The methods below name the events. ``message`` replaces what ``Do.SEND`` sends (a
        final response), once the event is known to be legal; ``Do.SEND_ACK`` sends ``ack``."""
        try:
            self.state, actions = self.TABLE[(self.state, event)]
        except KeyError:
            raise IllegalEvent(type(self).__name__, self.state, event) from None
        if message is not None:
            self.message = message
        sends: list[Send[D]] = []
        reports: list[Report] = []
        for action in actions:
            if action is Do.SEND:
                sends.append(Send(data=self.message, to=self.to))
            elif action is Do.SEND_ACK:
                sends.append(Send(data=ack, to=self.to))
            elif action is Do.ARM:
                self._schedule = Schedule(now, reliable=self.reliable)
            elif action is Do.DISARM:
                self._schedule = None
            else:
                reports.append(Report(action))
        return Output(sends=tuple(sends), reports=tuple(reports))


class InviteServerTx(Transaction[D]):
    """An INVITE we answer. ``message`` starts as the provisional response a retransmitted
    INVITE gets (the 180), and becomes the final response once it is sent."""

    TABLE = INVITE_SERVER
    INITIAL = TxState.PROCEEDING

    def provisional(self, now: float) -> Output[D]:
        """Send the provisional response (``message``)."""
        return self.handle(TxEvent.PROVISIONAL, now)

    def final(self, data: bytes, now: float, *, success: bool) -> Output[D]:
        """Send the final response ``data``, retransmitted until the ACK or the time-out."""
        return self.handle(TxEvent.SUCCESS if success else TxEvent.FAILURE, now, message=data)

    def request_again(self, now: float) -> Output[D]:
        """The INVITE was retransmitted: the last response again."""
        return self.handle(TxEvent.REQUEST_AGAIN, now)

    def ack(self, now: float) -> Output[D]:
        return self.handle(TxEvent.ACK, now)


class InviteClientTx(Transaction[D]):
    """An INVITE we send (``message``); ``start`` sends it."""

    TABLE = INVITE_CLIENT
    INITIAL = TxState.CALLING

    def start(self, now: float) -> Output[D]:
        return self.handle(TxEvent.START, now)

    def response(self, status: int, now: float, *, ack: bytes = b"") -> Output[D]:
        """A response to our INVITE. ``ack`` is the ACK to send for a non-2xx final."""
        return self.handle(response_event(status), now, ack=ack)


class NonInviteClientTx(Transaction[D]):
    """A BYE or CANCEL we send (``message``); ``start`` sends it."""

    TABLE = NON_INVITE_CLIENT
    INITIAL = TxState.TRYING

    def start(self, now: float) -> Output[D]:
        return self.handle(TxEvent.START, now)

    def response(self, status: int, now: float) -> Output[D]:
        return self.handle(response_event(status), now)


@dataclass(slots=True)
class ResponseCache:
    """Final responses to non-INVITE requests, keyed by (branch, method, Call-ID), replayed
    for a retransmitted request. An entry is dropped when a newer one is remembered after it
    expired (``TIMEOUT``), or to keep at most ``size``."""

    size: int = 4096
    _entries: OrderedDict[tuple[str, str, str], tuple[bytes, float]] = field(default_factory=OrderedDict)

    def remember(self, key: tuple[str, str, str], data: bytes, now: float) -> None:
        self._entries[key] = (data, now + TIMEOUT)
        while self._entries:
            oldest, (_, expiry) = next(iter(self._entries.items()))
            if len(self._entries) <= self.size and expiry > now:
                break
            del self._entries[oldest]

    def replay(self, key: tuple[str, str, str]) -> bytes | None:
        cached = self._entries.get(key)
        return None if cached is None else cached[0]

    def __len__(self) -> int:
        return len(self._entries)


# Dialogs


class DialogState(StrEnum):
    EARLY = "early"  # ringing: our 180 (or the far end's 1xx) is out, no final yet
    ANSWERED = "answered"  # our 2xx is out, its ACK not in yet
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


class DialogEvent(StrEnum):
    ANSWER = "answer"  # we send 2xx to the INVITE
    ACK = "ack"  # the ACK of our 2xx
    ACCEPTED = "accepted"  # the far end's 2xx to our INVITE, which we ACKed
    END = "end"  # BYE either way, CANCEL, no ACK, no RTP, shutdown


DIALOG: Mapping[tuple[DialogState, DialogEvent], DialogState] = {
    (DialogState.EARLY, DialogEvent.ANSWER): DialogState.ANSWERED,
    (DialogState.EARLY, DialogEvent.ACCEPTED): DialogState.CONFIRMED,
    (DialogState.EARLY, DialogEvent.ACK): DialogState.EARLY,
    (DialogState.EARLY, DialogEvent.END): DialogState.TERMINATED,
    (DialogState.ANSWERED, DialogEvent.ANSWER): DialogState.ANSWERED,
    (DialogState.ANSWERED, DialogEvent.ACK): DialogState.CONFIRMED,
    (DialogState.ANSWERED, DialogEvent.END): DialogState.TERMINATED,
    (DialogState.CONFIRMED, DialogEvent.ANSWER): DialogState.CONFIRMED,
    (DialogState.CONFIRMED, DialogEvent.ACK): DialogState.CONFIRMED,
    (DialogState.CONFIRMED, DialogEvent.END): DialogState.TERMINATED,
    (DialogState.TERMINATED, DialogEvent.ANSWER): DialogState.TERMINATED,
    (DialogState.TERMINATED, DialogEvent.ACK): DialogState.TERMINATED,
    (DialogState.TERMINATED, DialogEvent.END): DialogState.TERMINATED,
}
"""A pair mapping a state to itself is ignored (a late ring timer, a re-sent ACK); a pair
not listed (e.g. a 2xx accepted on a dialog we answered) raises ``IllegalEvent``."""


def dialog_step(state: DialogState, event: DialogEvent) -> DialogState:
    """The dialog's state after ``event`` (the same state when the table ignores it)."""
    try:
        return DIALOG[(state, event)]
    except KeyError:
        raise IllegalEvent("dialog", state, event) from None
