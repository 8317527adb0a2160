"""The IVR session interpreter: walks one flow for one contact, sans I/O.

Theory of operation
-------------------
The runtime feeds inputs with ``handle(event, now)`` and timer expiries with
``handle_timer(now)``; after each call it must ``take_commands()`` (in order) and re-arm
its one timer at ``next_deadline()``. ``SessionStarted`` comes first; after the session
ended every input raises ``SessionEnded``. An input that does not fit raises an
``IvrError`` subclass and changes nothing.

The session sits in one phase at a time:

* ``prompt``: a prompt plays; when it finishes (``PromptFinished``, or the guard timer
  if the runtime never reports) the phase's ``after`` action runs: continue to ``next``
  (say), listen (menu, collect, survey), record (voicemail), or end the call;
* ``input``: waiting for keys or speech, with a no-input timer (or, once a collect node
  has keys, an inter-digit timer);
* ``lookup``: waiting for ``LookupCompleted`` (timer: give up and take ``not_found``);
* ``verifying``: waiting for ``VerificationCompleted`` (timer: the CRM did not answer;
  take ``failed`` without counting a wrong answer);
* ``recording``: waiting for ``VoicemailRecorded``;
* ``queued``: handed to the ACD; announcements on ``QueueStatusChanged``; on
  ``ContactCompleted`` the flow continues at the queue node's ``after`` (a survey).

What each phase does with each input (the timer's expiry included) is one table,
``HANDLING`` in ``callcenter.ivr.handling``: ``handle`` and ``handle_timer`` look the pair
up in ``_dispatch`` and run the handler it names. (``idle`` is the phase between nodes;
no input finds a running session resting in it.)

Nodes that do not wait (set, branch, a lookup without a value) run straight through, at
most ``MAX_STEPS`` at a time; load-time validation already rejects such loops.
Identity has a level: ``unverified`` (the caller's number, a chat's typed details, or
nothing: a claim) until a verify node proves it (account number plus PIN or date of
birth, or a signed login token), then ``verified`` for the rest of the session
(variables ``identity`` and ``identity.by``). Self-service lookups refuse to run while
unverified (the loader already rejects flows that could reach them), and only answer for
the verified customer.
Keys pressed while a barge-in prompt plays cut it off and count as input; keys left over
(``12`` at a menu where ``1`` leads to a collect node) are typed ahead into the next node.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal, TypeVar

from callcenter.core.context import Context
from callcenter.core.events import InteractionEvent, RecordEvent
from callcenter.core.ids import IdGenerator
from callcenter.core.templates import render, render_known
from callcenter.ivr import asking
from callcenter.ivr.conditions import (
    Facts,
    HoursPort,
    QueueStatusPort,
    calendars,
    evaluate,
)
from callcenter.ivr.flow import (
    KEYS,
    Branch,
    Callback,
    Collect,
    Flow,
    HangUpNode,
    Lookup,
    Menu,
    Node,
    Queue,
    Say,
    SetVars,
    Survey,
    Transfer,
    Verify,
    Voicemail,
    disclosure,
)
from callcenter.ivr.handling import AFTER_PROMPT, HANDLING, PHASES, TIMER, After, Input, Phase, handler_name
from callcenter.ivr.messages import (
    CallerHungUp,
    ContactCompleted,
    DigitsReceived,
    HangUp,
    IvrCommand,
    IvrError,
    LookupCompleted,
    LookupCustomer,
    OfferCallback,
    PlayPrompt,
    PromptFinished,
    QueueStatusChanged,
    RouteToQueue,
    SessionAlreadyStarted,
    SessionEnded,
    SessionNotStarted,
    SessionStarted,
    SpeechRecognized,
    StartRecognition,
    StartVoicemail,
    StopPrompt,
    StopRecognition,
    TransferExternal,
    UnexpectedInput,
    VerificationCompleted,
    VerifyCustomer,
    VoicemailRecorded,
)
from callcenter.ivr.variables import flatten, mask, wait_vars

N = TypeVar("N")
MAX_STEPS = 200
VOICEMAIL_GRACE_S = 15.0
_PLACEHOLDER_NAMES = re.compile(r"\{([a-z0-9_.]+)\}")


def prompt_guard_s(text: str) -> float:
    """How long a prompt may play before the session stops waiting for ``PromptFinished``:
    slow speech (about 8 characters a second) plus ten seconds."""
    return 10.0 + len(text) / 8.0


class IvrSession:
    """One contact's walk through ``flow`` (see the module docstring for the contract)."""

    def __init__(
        self,
        *,
        flow: Flow,
        contact_id: str,
        context: Context | str,
        ids: IdGenerator,
        hours: HoursPort,
        queues: QueueStatusPort,
    ) -> None:
        self.flow = flow
        self.contact_id = contact_id
        self.context = context if isinstance(context, Context) else Context(id=context)
        self._ids = ids
        self._hours = hours
        self._queues = queues
        self.variables: dict[str, str] = {
            "contact_id": contact_id,
            "flow": flow.name,
            "identity": "unverified",
        }
        self.verified_customer_id: str | None = None
        self.verified_by: str | None = None
        self._login_customer: str | None = None
        self._token_tried = False
        self._wrong = 0  # wrong verification answers in this session
        self._verifying: str | None = None  # the method of the verification asked
        self._preface = ""  # said before the next prompt (a verify node's no_match)
        self.state: Literal["new", "running", "ended"] = "new"
        self.end_reason: str | None = None
        self.node_id: str | None = None
        self._phase: Phase = "idle"
        self._after: After = "none"
        self._prompt_id: str | None = None
        self._deadline: float | None = None
        self._attempt = 0
        self._buffer = ""
        self._typeahead = ""
        self._listening = False
        self._request_id: str | None = None
        self._requests: set[str] = set()
        self._routed: RouteToQueue | None = None
        self._secrets: set[str] = set()
        self._commands: list[IvrCommand] = []

    # Public methods for the runtime -------------------------------------------------------

    def handle(self, event: Any, now: float) -> None:
        """Apply one input; then call ``take_commands()`` and re-arm ``next_deadline()``."""
        if isinstance(event, SessionStarted):
            if self.state != "new":
                raise SessionAlreadyStarted("this session has already started")
            self._start(event, now)
            return
        if self.state == "new":
            raise SessionNotStarted(f"{type(event).__name__} before SessionStarted")
        if self.state == "ended":
            raise SessionEnded(f"{type(event).__name__} after the session ended ({self.end_reason})")
        self._dispatch(type(event), event, now)

    def handle_timer(self, now: float) -> None:
        """Run the timer if it is due; calling it early or after the end does nothing."""
        if self.state != "running" or self._deadline is None or now < self._deadline:
            return
        self._deadline = None
        self._dispatch(TIMER, None, now)

    def take_commands(self) -> list[IvrCommand]:
        """Commands produced since the last call, in the order they must be carried out."""
        out, self._commands = self._commands, []
        return out

    def next_deadline(self) -> float | None:
        return self._deadline if self.state == "running" else None

    # Inputs: the handlers of the HANDLING table (handling.py) ------------------------------

    def _dispatch(self, on: Input, event: Any, now: float) -> None:
        """The one place an input meets the phase: run the handler ``HANDLING`` names for
        the pair, then walk to the node it returns."""
        handler = _DISPATCH.get((self._phase, on))
        if handler is None:
            raise IvrError(f"not an IVR input: {type(event).__name__}", code="ivr_unknown_input")
        self._goto(handler(self, event, now), now)

    def _start(self, event: SessionStarted, now: float) -> None:
        self.state = "running"
        self.variables.update(caller=event.caller, called=event.called, channel=event.channel)
        self._login_customer = event.login_customer_id or None
        self._record(
            "ivr.started",
            now,
            {
                "flow": self.flow.name,
                "caller": event.caller,
                "called": event.called,
                "channel": event.channel,
            },
        )
        self._goto(self.flow.start, now)

    def _check_keys(self, event: DigitsReceived, now: float) -> None:
        if not event.digits or any(k not in KEYS for k in event.digits):
            raise IvrError(f"keys must be 0-9, * or #, not {event.digits!r}", code="ivr_bad_keys")

    def _barge_in_keys(self, event: DigitsReceived, now: float) -> str | None:
        self._check_keys(event, now)
        node = self._current()
        if self._after == "next" and isinstance(node, Say) and node.barge_in:
            self._stop_prompt()
            self._typeahead += event.digits
            return node.next
        if not self._barge_in_question(node):
            return None
        return self._keys(event.digits, now)

    def _take_keys(self, event: DigitsReceived, now: float) -> str | None:
        self._check_keys(event, now)
        return self._keys(event.digits, now)

    def _barge_in_speech(self, event: SpeechRecognized, now: float) -> str | None:
        if not self._barge_in_question(self._current()):
            return None
        return self._take_speech(event, now)

    def _take_speech(self, event: SpeechRecognized, now: float) -> str | None:
        node = self._current()
        self._input_stop_prompt()
        if isinstance(node, Collect):
            keys = asking.typed_digits(event.text)
            if keys is not None and node.terminator:
                keys = keys.rstrip(node.terminator)
            if not keys:
                return self._no_match(now, {"speech": "*" if node.sensitive else event.text})
            self._buffer = keys
            return self._collected(node, now)
        if isinstance(node, Menu):
            option = asking.menu_by_speech(node, event.text, event.confidence)
            if option is None:
                return self._no_match(now, {"speech": event.text, "confidence": event.confidence})
            self._record(
                "ivr.input", now, {"node": self.node_id, "speech": event.text, "confidence": event.confidence}
            )
            return self._chose(option.key, option.next, option.set)
        assert isinstance(node, Survey)
        rating = asking.survey_by_speech(node, event.text, event.confidence)
        if rating is None:
            return self._no_match(now, {"speech": event.text, "confidence": event.confidence})
        return self._rated(node, rating, "speech", now)

    def _ignore(self, event: Any, now: float) -> None:
        return None

    def _prompt_finished(self, event: PromptFinished, now: float) -> str | None:
        if event.prompt_id != self._prompt_id:
            return None  # a stopped or earlier prompt; nothing waits for it
        self._prompt_id = None
        return self._prompt_done(now)

    def _forget_prompt(self, event: PromptFinished, now: float) -> None:
        if event.prompt_id == self._prompt_id:
            self._prompt_id = None

    def _prompt_timed_out(self, event: None, now: float) -> str | None:
        return self._prompt_done(now)

    def _hung_up(self, event: CallerHungUp, now: float) -> None:
        self._end("caller_hung_up", now, hang_up=False)

    def _late_lookup(self, event: LookupCompleted, now: float) -> None:
        if event.request_id not in self._requests:
            raise UnexpectedInput(f"no lookup {event.request_id!r} was asked by this session")
        # else answered after it timed out: the flow has moved on

    def _lookup_answered(self, event: LookupCompleted, now: float) -> str | None:
        self._late_lookup(event, now)
        if event.request_id != self._request_id:
            return None  # an earlier lookup's answer, after it timed out
        node = self._node(Lookup)
        self._request_id = None
        self._deadline = None
        if event.customer:
            self.variables.update(flatten("customer", event.customer))
        if event.answer:
            self.variables.update(flatten("answer", event.answer))
        customer_id = (event.customer or {}).get("id") or (event.customer or {}).get("customer_id")
        self._record_lookup(node, now, found=event.found, customer_id=customer_id)
        if event.found and customer_id is not None:
            self._record("contact.identified", now, {"customer_id": customer_id, "by": node.by})
        return node.found if event.found else node.not_found

    def _lookup_timed_out(self, event: None, now: float) -> str:
        lookup = self._node(Lookup)
        self._record(
            "ivr.lookup",
            now,
            {"node": self.node_id, "by": lookup.by, "want": lookup.want, "found": False, "timed_out": True},
        )
        return lookup.not_found

    def _late_verification(self, event: VerificationCompleted, now: float) -> None:
        if event.request_id not in self._requests:
            raise UnexpectedInput(f"no verification {event.request_id!r} was asked by this session")
        # else answered after it timed out: the flow has moved on

    def _verification_answered(self, event: VerificationCompleted, now: float) -> str | None:
        self._late_verification(event, now)
        if event.request_id != self._request_id:
            return None  # an earlier verification's answer, after it timed out
        node = self._node(Verify)
        method, self._verifying = self._verifying or node.method, None
        self._request_id, self._deadline, self._phase = None, None, "idle"
        self._forget_answers(node)
        customer_id = event.customer_id or (event.customer or {}).get("id")
        if event.unavailable:
            self._verify_failed(method, now, reason="unavailable")
            return node.failed
        if event.verified and event.customer and customer_id:
            return self._verified(node, method, str(customer_id), event.customer, now)
        if method == "token":  # the token named nobody the CRM knows: ask, as without one
            self._verify_failed(method, now, reason="unknown_customer", customer_id=customer_id)
            return self._enter_verify(node, now)
        self._wrong += 1
        locked = self._wrong >= node.attempts
        self._verify_failed(method, now, reason="no_match", customer_id=customer_id, locked=locked)
        if locked:
            return node.failed
        self._preface = render(node.no_match, self.variables)
        return node.ask

    def _verification_timed_out(self, event: None, now: float) -> str:
        self._request_id, self._phase = None, "idle"
        self._verify_failed(self._verifying or "", now, reason="timed_out")
        return self._node(Verify).failed

    def _verified(
        self, node: Verify, method: str, customer_id: str, customer: Mapping[str, Any], now: float
    ) -> str:
        self.verified_customer_id, self.verified_by = customer_id, method
        for name in [n for n in self.variables if n.startswith("customer.")]:
            del self.variables[name]  # what an unverified lookup found may be someone else
        self.variables.update(flatten("customer", customer))
        self.variables.update({"identity": "verified", "identity.by": method})
        self._record("contact.verified", now, {"customer_id": customer_id, "method": method})
        by = "customer_id" if method == "token" else "account_number"
        self._record("contact.identified", now, {"customer_id": customer_id, "by": by, "verified": True})
        return node.verified

    def _verify_failed(
        self, method: str, now: float, *, reason: str, customer_id: Any = None, locked: bool = False
    ) -> None:
        """Never the PIN or the date of birth: what was tried, not what was keyed."""
        data: dict[str, Any] = {"node": self.node_id, "method": method, "reason": reason}
        if reason == "no_match":
            data.update(attempt=self._wrong, locked=locked)
        if customer_id:
            data["customer_id"] = customer_id
        self._record("contact.verification_failed", now, data)

    def _forget_answers(self, node: Verify) -> None:
        """What was keyed for a verification is used once (asked again after a wrong one)."""
        for name in _PLACEHOLDER_NAMES.findall(node.account + node.secret):
            self.variables.pop(name, None)

    def _refuse_voicemail(self, event: VoicemailRecorded, now: float) -> None:
        raise UnexpectedInput("no voicemail is being recorded")

    def _voicemail_recorded(self, event: VoicemailRecorded, now: float) -> str:
        node = self._node(Voicemail)
        self._deadline = None
        self._record(
            "ivr.voicemail",
            now,
            {"node": self.node_id, "recorded": True, "path": event.path, "seconds": event.seconds},
        )
        return node.next

    def _voicemail_timed_out(self, event: None, now: float) -> str:
        self._record("ivr.voicemail", now, {"node": self.node_id, "recorded": False})
        return self._node(Voicemail).next

    def _refuse_completed(self, event: ContactCompleted, now: float) -> None:
        raise UnexpectedInput("the contact was not handed to a queue")

    def _contact_completed(self, event: ContactCompleted, now: float) -> str | None:
        node = self._node(Queue)
        if event.reason != "completed":
            self._end(event.reason, now, hang_up=True)
            return None
        if node.after is None:
            self._end("completed", now, hang_up=False)
            return None
        self._phase = "idle"
        return node.after

    def _refuse_queue_status(self, event: QueueStatusChanged, now: float) -> None:
        raise UnexpectedInput("the contact is not waiting in a queue")

    def _queue_status(self, event: QueueStatusChanged, now: float) -> None:
        for stale in ("ewt_s", "ewt_minutes"):  # an estimate may go away (no agents left)
            self.variables.pop(stale, None)
        self.variables.update(wait_vars(event.position, event.ewt_s))
        node = self._node(Queue)
        text = render_known(node.announce, self.variables)
        if text.strip():
            self._play(text, barge_in=False)
        return None

    # Asking: menus, collect, survey ---------------------------------------------------------

    def _barge_in_question(self, node: Node) -> bool:
        """In phase ``prompt``: the prompt asks a question the caller may answer before it ends."""
        return isinstance(node, Menu | Collect | Survey) and self._after == "listen" and node.barge_in

    def _input_stop_prompt(self) -> None:
        if self._phase == "prompt":
            self._stop_prompt()
        self._phase = "input"
        self._deadline = None

    def _keys(self, keys: str, now: float) -> str | None:
        node = self._current()
        self._input_stop_prompt()
        if isinstance(node, Collect):
            return self._collect_keys(node, keys, now)
        key, self._typeahead = keys[0], keys[1:]
        if isinstance(node, Menu):
            option = asking.menu_by_key(node, key)
            if option is None:
                return self._no_match(now, {"digits": key})
            self._record("ivr.input", now, {"node": self.node_id, "digits": key})
            return self._chose(option.key, option.next, option.set)
        assert isinstance(node, Survey)
        rating = asking.survey_by_key(key)
        if rating is None:
            return self._no_match(now, {"digits": key})
        return self._rated(node, rating, "digits", now)

    def _collect_keys(self, node: Collect, keys: str, now: float) -> str | None:
        for i, key in enumerate(keys):
            if key == node.terminator:
                self._typeahead = keys[i + 1 :]
                return self._collected(node, now)
            self._buffer += key
            if len(self._buffer) >= node.max_length:
                rest = keys[i + 1 :]  # a terminator keyed after a full entry ends it, too
                self._typeahead = rest[1:] if node.terminator and rest[:1] == node.terminator else rest
                return self._collected(node, now)
        self._deadline = now + node.inter_digit_s
        return None

    def _collected(self, node: Collect, now: float) -> str | None:
        value, self._buffer = self._buffer, ""
        shown = mask(value, node.show_last) if node.sensitive else value
        if not asking.collect_valid(node, value):
            return self._no_match(now, {"digits": shown})
        if node.sensitive:
            self._secrets.add(value)
        self.variables[node.var or f"digits.{self.node_id}"] = value
        self._record("ivr.input", now, {"node": self.node_id, "digits": shown})
        return self._leave_asking(node.next)

    def _chose(self, key: str, target: str, values: Mapping[str, str]) -> str:
        self.variables[f"choice.{self.node_id}"] = key
        self.variables.update({k: render(v, self.variables) for k, v in values.items()})
        return self._leave_asking(target)

    def _rated(self, node: Survey, rating: int, via: str, now: float) -> str:
        self.variables["rating"] = str(rating)
        self._record(
            "ivr.survey",
            now,
            {"node": self.node_id, "rating": rating, "via": via},
            queue=self._routed.queue if self._routed else None,
        )
        return self._leave_asking(node.next)

    def _leave_asking(self, target: str) -> str:
        if self._listening:
            self._commands.append(StopRecognition())
            self._listening = False
        self._deadline = None
        return target

    def _input_timed_out(self, event: None, now: float) -> str | None:
        node = self._current()
        if isinstance(node, Collect) and self._buffer:
            return self._collected(node, now)
        return self._retry("ivr.no_input", now, {})

    def _no_match(self, now: float, data: dict[str, Any]) -> str | None:
        self._buffer = ""
        self._typeahead = ""
        return self._retry("ivr.no_match", now, data)

    def _retry(self, kind: str, now: float, data: dict[str, Any]) -> str | None:
        node = self._current()
        assert isinstance(node, Menu | Collect | Survey)
        self._attempt += 1
        self._record(kind, now, {"node": self.node_id, "attempt": self._attempt, **data})
        if self._attempt > node.retries:
            return self._leave_asking(node.next if isinstance(node, Survey) else node.fallback)
        sorry = node.no_input if kind == "ivr.no_input" else node.no_match
        self._ask(node, f"{sorry} {render(node.prompt, self.variables)}".strip(), now)
        return None

    def _ask(self, node: Menu | Collect | Survey, text: str, now: float) -> None:
        self._play(text, barge_in=node.barge_in, options=asking.buttons(node))
        self._phase, self._after = "prompt", "listen"
        self._deadline = now + prompt_guard_s(text)
        words = asking.grammar(node)
        if words:
            listen_s = prompt_guard_s(text) + node.timeout_s
            self._commands.append(StartRecognition(grammar=words, timeout_s=listen_s))
            self._listening = True

    # Walking the flow ------------------------------------------------------------------------

    def _goto(self, node_id: str | None, now: float) -> None:
        steps = 0
        while node_id is not None and self.state == "running":
            steps += 1
            if steps > MAX_STEPS:
                self._end("flow_error", now, hang_up=True)
                return
            node_id = self._enter(node_id, now)

    def _opening(self, name: str, now: float) -> str:
        """When calendar ``name`` opens next, in the flow's language when the hours port
        speaks it (``HoursTable.opening_in``), else as the port's ``opening`` says it."""
        spoken = getattr(self._hours, "opening_in", None)
        if spoken is None:
            return self._hours.opening(name, now)
        return str(spoken(name, now, self.flow.language or "en"))

    def _enter(self, node_id: str, now: float) -> str | None:
        node = self.flow.node(node_id)
        self.node_id = node_id
        self._phase, self._after, self._deadline = "idle", "none", None
        self._record("ivr.node", now, {"node": node_id, "kind": node.kind})
        if isinstance(node, Menu | Collect | Survey):
            return self._enter_asking(node, now)
        if isinstance(node, SetVars):
            self.variables.update({k: render(v, self.variables) for k, v in node.values.items()})
            return node.next
        if isinstance(node, Branch):
            facts = Facts(self.variables, self._hours, self._queues, now)
            for case in node.cases:  # the prompts after it can say when a closed line opens
                for name in calendars(case.when):
                    self.variables[f"opens.{name}"] = self._opening(name, now)
            return next((c.next for c in node.cases if evaluate(c.when, facts)), node.otherwise)
        if isinstance(node, Lookup):
            return self._enter_lookup(node, now)
        if isinstance(node, Verify):
            return self._enter_verify(node, now)
        if isinstance(node, Queue):
            self._enter_queue(node, now)
            return None
        if isinstance(node, Callback):
            self._offer_callback(node, now)
            return self._closing(node.prompt, "hangup", now)
        if isinstance(node, Voicemail):
            return self._closing(node.prompt, "record", now)
        if isinstance(node, Transfer):
            return self._closing(node.prompt, "transfer", now)
        if isinstance(node, HangUpNode):
            return self._closing(node.prompt, "hangup", now)
        assert isinstance(node, Say)
        text = render(node.text, self.variables)
        if not text.strip():
            return node.next
        self._play(text, barge_in=node.barge_in)
        self._phase, self._after = "prompt", "next"
        self._deadline = now + prompt_guard_s(text)
        return None

    def _enter_asking(self, node: Menu | Collect | Survey, now: float) -> str | None:
        self._attempt = 0
        self._buffer = ""
        typed, self._typeahead = self._typeahead, ""
        if typed and node.barge_in:
            self._phase = "input"
            return self._keys(typed, now)
        self._ask(node, render(node.prompt, self.variables), now)
        return None

    def _enter_verify(self, node: Verify, now: float) -> str | None:
        if self.verified_customer_id is not None:
            return node.verified
        if self._login_customer is not None and not self._token_tried:
            self._token_tried = True
            return self._verify(node, "token", now, customer_id=self._login_customer)
        if node.method == "token" or self._wrong >= node.attempts:
            return node.failed
        account = render(node.account, self.variables).strip()
        secret = render(node.secret, self.variables).strip()
        if not account or not secret:
            return node.ask
        return self._verify(node, node.method, now, account=account, secret=secret)

    def _verify(self, node: Verify, method: Any, now: float, **what: Any) -> str | None:
        self._request_id = self._ids.new("verify")
        self._requests.add(self._request_id)
        self._verifying = method
        self._commands.append(VerifyCustomer(request_id=self._request_id, method=method, **what))
        self._phase = "verifying"
        self._deadline = now + node.timeout_s
        return None

    def _record_lookup(self, node: Lookup, now: float, *, found: bool, **outcome: Any) -> None:
        """``ivr.lookup``: which node asked what, whether it was found, and why not."""
        self._record(
            "ivr.lookup",
            now,
            {"node": self.node_id, "by": node.by, "want": node.want, "found": found, **outcome},
        )

    def _enter_lookup(self, node: Lookup, now: float) -> str | None:
        if disclosure(node) is not None and self.verified_customer_id is None:
            self._record_lookup(node, now, found=False, refused="unverified")
            return node.not_found
        value = render(node.value, self.variables).strip()
        if not value:
            self._record_lookup(node, now, found=False, no_value=True)
            return node.not_found
        self._request_id = self._ids.new("lookup")
        self._requests.add(self._request_id)
        self._commands.append(
            LookupCustomer(
                request_id=self._request_id,
                by=node.by,
                value=value,
                want=node.want,
                for_customer=self.verified_customer_id if node.want != "customer" else None,
            )
        )
        self._phase = "lookup"
        self._deadline = now + node.timeout_s
        return None

    def _enter_queue(self, node: Queue, now: float) -> None:
        self._typeahead = ""
        attributes = self._attributes(node.attributes)
        self.variables["queue"] = node.queue
        if node.prompt:
            self._play(render(node.prompt, self.variables), barge_in=False)
        self._routed = RouteToQueue(
            contact_id=self.contact_id,
            queue=node.queue,
            channel=self.variables.get("channel", "voice"),
            caller=self.variables.get("caller") or None,
            priority_class=node.priority_class,
            head_start_s=node.head_start_s,
            attributes=attributes,
            context_id=self.context.id,
        )
        self._commands.append(self._routed)
        self._record(
            "ivr.routed",
            now,
            {
                "node": self.node_id,
                "priority_class": node.priority_class,
                "head_start_s": node.head_start_s,
                "attributes": self._masked(attributes),
            },
            queue=node.queue,
        )
        self._phase = "queued"

    def _offer_callback(self, node: Callback, now: float) -> None:
        number = render(node.number, self.variables).strip()
        attributes = self._attributes(node.attributes)
        self._commands.append(
            OfferCallback(
                contact_id=self.contact_id,
                number=number,
                queue=node.queue,
                attributes=attributes,
                context_id=self.context.id,
            )
        )
        self._record(
            "ivr.callback",
            now,
            {"node": self.node_id, "number": number, "attributes": self._masked(attributes)},
            queue=node.queue,
        )

    def _closing(self, prompt: str, after: After, now: float) -> str | None:
        """Play the node's last words, then act; act at once when there are none."""
        self._typeahead = ""
        text = render(prompt, self.variables)
        self._after = after
        if not text.strip():
            return self._prompt_done(now)
        self._play(text, barge_in=False)
        self._phase = "prompt"
        self._deadline = now + prompt_guard_s(text)
        return None

    def _prompt_done(self, now: float) -> str | None:
        """What follows a prompt: the handler ``AFTER_PROMPT`` names for why it played."""
        node = self._current()
        self._prompt_id = None
        self._deadline = None
        after, self._after, self._phase = self._after, "none", "idle"
        return _AFTER_PROMPT[after](self, node, now)

    def _say_next(self, node: Node, now: float) -> str:
        assert isinstance(node, Say)
        return node.next

    def _listen(self, node: Node, now: float) -> None:
        assert isinstance(node, Menu | Collect | Survey)
        self._phase = "input"
        self._deadline = now + node.timeout_s

    def _start_recording(self, node: Node, now: float) -> None:
        assert isinstance(node, Voicemail)
        self._commands.append(StartVoicemail(max_s=node.max_s, queue=node.queue))
        self._phase = "recording"
        self._deadline = now + node.max_s + VOICEMAIL_GRACE_S

    def _transfer(self, node: Node, now: float) -> None:
        assert isinstance(node, Transfer)
        self._commands.append(TransferExternal(uri=node.uri))
        self._end("transferred", now, hang_up=False, data={"uri": node.uri})

    def _hang_up(self, node: Node, now: float) -> None:
        reason = node.reason if isinstance(node, HangUpNode) else "callback"
        self._end(reason, now, hang_up=True)

    def _stay(self, node: Node, now: float) -> None:
        return None

    # Helpers ----------------------------------------------------------------------------------

    def _current(self) -> Node:
        assert self.node_id is not None
        return self.flow.node(self.node_id)

    def _node(self, cls: type[N]) -> N:
        node = self._current()
        assert isinstance(node, cls)
        return node

    def _play(self, text: str, *, barge_in: bool, options: tuple[tuple[str, str], ...] = ()) -> None:
        if self._preface:
            text, self._preface = f"{self._preface} {text}".strip(), ""
        self._prompt_id = self._ids.new("prompt")
        self._commands.append(
            PlayPrompt(prompt_id=self._prompt_id, text=text, barge_in=barge_in, options=options)
        )

    def _stop_prompt(self) -> None:
        if self._prompt_id is not None:
            self._commands.append(StopPrompt(prompt_id=self._prompt_id))
            self._prompt_id = None

    def _attributes(self, templates: Mapping[str, str]) -> dict[str, str]:
        """The node's attributes; a verified contact also carries who it is, so the CRM
        and the screen pop take the customer the flow verified."""
        rendered = {k: render(v, self.variables).strip() for k, v in templates.items()}
        out = {k: v for k, v in rendered.items() if v}
        if self.verified_customer_id is not None:
            out.update(customer_id=self.verified_customer_id, verified="yes")
        return out

    def _masked(self, values: Mapping[str, str]) -> dict[str, str]:
        """Sensitive input never reaches the log, even when a flow copies it elsewhere."""
        return {k: ("*" * len(v) if v in self._secrets else v) for k, v in values.items()}

    def _end(self, reason: str, now: float, *, hang_up: bool, data: Mapping[str, Any] | None = None) -> None:
        if self._listening:
            self._commands.append(StopRecognition())
            self._listening = False
        if hang_up:
            self._commands.append(HangUp(reason=reason))
        self._record("ivr.ended", now, {"reason": reason, "node": self.node_id, **(data or {})})
        self.state, self.end_reason = "ended", reason
        self._phase, self._deadline = "idle", None

    def _record(self, kind: str, now: float, data: Mapping[str, Any], *, queue: str | None = None) -> None:
        self._commands.append(
            RecordEvent(
                event=InteractionEvent(
                    type=kind,
                    at=now,
                    contact_id=self.contact_id,
                    queue=queue,
                    data=dict(data),
                    context_id=self.context.id,
                    parent_id=self.context.parent_id,
                )
            )
        )


Handler = Callable[[IvrSession, Any, float], str | None]


def _handler(name: str) -> Handler:
    handler: Handler = getattr(IvrSession, f"_{name}")
    return handler


# HANDLING and AFTER_PROMPT (handling.py) with their names resolved to the methods above
_DISPATCH: Final[dict[tuple[Phase, Input], Handler]] = {
    (phase, on): _handler(name)
    for on in HANDLING
    for phase in PHASES
    if (name := handler_name(phase, on)) is not None
}
_AFTER_PROMPT: Final[dict[After, Handler]] = {after: _handler(name) for after, name in AFTER_PROMPT.items()}
