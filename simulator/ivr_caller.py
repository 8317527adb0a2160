"""Virtual mode's IVR: the real ``IvrSession`` walks a flow for each voice caller.

Theory of operation: a caller who arrives starts a session (``SessionStarted`` from their
number to the flow's first entry number). What the session commands is carried out on
the virtual clock: a prompt takes the time its text takes to say (``CHARS_PER_S``), a
CRM lookup answers after ``LOOKUP_S`` (found for callers whose contact type names a
segment or tier, with those; not found for the others), the session's own timers are armed in
the simulation's heap, ``RouteToQueue`` hands the contact to the ACD with the flow's
attributes, priority and context, and ``HangUp`` ends the call in the IVR. When a prompt of
a menu, collect or survey node has finished, the caller answers after ``THINK_S``: at a
menu the option whose path reaches their queue in the fewest nodes (a caller who makes
the scenario's mistake first keys a digit that is no option; an option that sets what the
caller is not, such as another ``language``, comes last), digits for a collect node,
a rating for a survey. Once the ACD is done with the contact the session hears
``ContactCompleted`` and goes on to its survey, if the flow has one.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from callcenter.acd import model as m
from callcenter.core.context import Context
from callcenter.core.events import InteractionEvent, RecordEvent
from callcenter.core.ids import SequentialIds
from callcenter.ivr import (
    ContactCompleted,
    DigitsReceived,
    Flow,
    IvrSession,
    LookupCompleted,
    LookupCustomer,
    PlayPrompt,
    PromptFinished,
    RouteToQueue,
    SessionStarted,
    SpeechRecognized,
    load_flows,
)
from callcenter.ivr.messages import (
    CallerHungUp,
    HangUp,
    IvrError,
    OfferCallback,
    StartVoicemail,
    TransferExternal,
)
from callcenter.ivr.model import Branch, Collect, Menu, Queue, Survey

if TYPE_CHECKING:
    from simulator.virtual import _Simulation

CHARS_PER_S = 15.0  # espeak-ng speaks about 175 words a minute
THINK_S = 1.5
LOOKUP_S = 0.3
ENDS_IN_IVR = (OfferCallback, StartVoicemail, TransferExternal)


def load_flow(path: Path, *, queues: set[str], hours: set[str]) -> Flow:
    """The flow in file ``path`` (its folder is loaded, so cross-checks apply)."""
    flows = load_flows(path.parent, queues=queues, hours=hours)
    for flow in flows.flows.values():
        if Path(flow.file).resolve() == path.resolve():
            return flow
    raise ValueError(f"{path}: no flow loaded from this file")


def _next_nodes(node: Any) -> Iterable[str]:
    for name in ("next", "fallback", "found", "not_found", "otherwise", "after"):
        target = getattr(node, name, None)
        if isinstance(target, str):
            yield target
    if isinstance(node, Menu):
        yield from (o.next for o in node.options)
    if isinstance(node, Branch):
        yield from (c.next for c in node.cases)


def distances(flow: Flow) -> dict[str, dict[str, int]]:
    """For each queue, the fewest nodes from each node to a queue node routing there."""
    back: dict[str, list[str]] = defaultdict(list)
    for name, node in flow.nodes.items():
        for target in _next_nodes(node):
            back[target].append(name)
    out: dict[str, dict[str, int]] = {}
    for queue in {n.queue for n in flow.nodes.values() if isinstance(n, Queue)}:
        dist = {name: 0 for name, n in flow.nodes.items() if isinstance(n, Queue) and n.queue == queue}
        todo = deque(dist)
        while todo:
            here = todo.popleft()
            for before in back[here]:
                if before not in dist:
                    dist[before] = dist[here] + 1
                    todo.append(before)
        out[queue] = dist
    return out


class _Open:
    def is_open(self, name: str | None, now: float) -> bool:
        return True  # the ACD runs without business hours in virtual mode too


class _Estimates:
    """The ACD's estimated wait, for flows that branch on it (a callback offer)."""

    def __init__(self, callers: IvrCallers) -> None:
        self.callers = callers

    def ewt_s(self, queue: str) -> float | None:
        return self.callers.sim.engine.queue_snapshot(queue, self.callers.now).ewt_s


class _Caller:
    __slots__ = ("armed", "attributes", "mistake", "prompt", "routed", "session", "target")

    def __init__(
        self, session: IvrSession, target: str, attributes: Mapping[str, str], mistake: bool
    ) -> None:
        self.session = session
        self.target = target
        self.attributes = attributes
        self.mistake = mistake
        self.armed: float | None = None
        self.prompt: str | None = None
        self.routed = False


class IvrCallers:
    KINDS = ("ivr_prompt_done", "ivr_input", "ivr_lookup", "ivr_timer", "ivr_caller_hangup")

    def __init__(self, sim: _Simulation, flow: Flow) -> None:
        self.sim = sim
        self.flow = flow
        self.dist = distances(flow)
        self.called = flow.entry.numbers[0] if flow.entry.numbers else ""
        self.callers: dict[str, _Caller] = {}
        self.hours, self.estimates = _Open(), _Estimates(self)
        self.ids = SequentialIds()
        self.now = 0.0

    def start(
        self, cid: str, caller: str, queue: str, attributes: Mapping[str, str], mistake: bool, now: float
    ) -> None:
        session = IvrSession(
            flow=self.flow,
            contact_id=cid,
            context=Context(id=f"x{cid}"),
            ids=self.ids,
            hours=self.hours,
            queues=self.estimates,
        )
        self.callers[cid] = _Caller(session, queue, attributes, mistake)
        self._feed(cid, SessionStarted(caller=caller, called=self.called, channel="voice"), now)

    # Happenings on the simulation's heap --------------------------------------------------------

    def on_ivr_prompt_done(self, payload: tuple[str, str], now: float) -> None:
        cid, prompt_id = payload
        c = self.callers.get(cid)
        if c is None or c.prompt != prompt_id:
            return  # cut off (barge-in, a timer) or the call is over
        c.prompt = None
        self._feed(cid, PromptFinished(prompt_id=prompt_id), now)

    def on_ivr_input(self, payload: tuple[str, str], now: float) -> None:
        cid, node_id = payload
        c = self.callers.get(cid)
        if c is None or c.session.node_id != node_id or c.prompt is not None:
            return
        self._feed(cid, self._answer(c), now)

    def on_ivr_lookup(self, payload: tuple[str, str, str], now: float) -> None:
        """Callers whose contact type names a segment or tier are customers the CRM knows
        (by number, account or id); the others, and self-service questions, find nothing."""
        cid, request_id, want = payload
        c = self.callers.get(cid)
        if c is None:
            return
        attrs = c.attributes
        if want == "customer" and ("segment" in attrs or "tier" in attrs):
            customer = {
                "id": f"cu-{cid}",
                "first_name": "Sim",
                "tier": attrs.get("tier", "regular"),
                "segment": attrs.get("segment", ""),
            }
            self._feed(cid, LookupCompleted(request_id=request_id, found=True, customer=customer), now)
        else:
            self._feed(cid, LookupCompleted(request_id=request_id, found=False), now)

    def on_ivr_timer(self, payload: tuple[str, float], now: float) -> None:
        cid, deadline = payload
        c = self.callers.get(cid)
        if c is not None and c.armed == deadline:
            c.armed = None
            self.now = now
            c.session.handle_timer(now)
            self._carry_out(cid, c, now)

    def on_ivr_caller_hangup(self, cid: str, now: float) -> None:
        c = self.callers.get(cid)
        if c is not None and not c.routed:
            self._feed(cid, CallerHungUp(), now)
            self._ended(cid, "ivr_hangup", now)

    def completed(self, cid: str, reason: str, now: float) -> None:
        """The ACD is done with the contact: the flow goes on (a survey) or ends."""
        c = self.callers.get(cid)
        if c is not None:
            self._feed(cid, ContactCompleted(reason=reason), now)
            if reason != "completed":
                self.callers.pop(cid, None)

    # Carrying out the session's commands --------------------------------------------------------

    def _feed(self, cid: str, event: Any, now: float) -> None:
        self.now = now
        c = self.callers.get(cid)
        if c is None or c.session.state == "ended":
            return
        try:
            c.session.handle(event, now)
        except IvrError:
            return  # a late input the session refuses changes nothing
        self._carry_out(cid, c, now)

    def _carry_out(self, cid: str, c: _Caller, now: float) -> None:
        sim = self.sim
        for cmd in c.session.take_commands():
            if isinstance(cmd, RecordEvent):
                sim.run.events.append(cmd.event)
            elif isinstance(cmd, PlayPrompt):
                c.prompt = cmd.prompt_id
                sim.at(now + len(cmd.text) / CHARS_PER_S, "ivr_prompt_done", (cid, cmd.prompt_id))
            elif isinstance(cmd, LookupCustomer):
                sim.at(now + LOOKUP_S, "ivr_lookup", (cid, cmd.request_id, cmd.want))
            elif isinstance(cmd, RouteToQueue):
                c.routed = True
                sim.enqueue(self._arrived(c, cmd), now)
            elif isinstance(cmd, HangUp):
                if not c.routed:
                    self._ended(
                        cid, "ivr_hangup" if cmd.reason == "caller_hung_up" else f"ivr_{cmd.reason}", now
                    )
                self.callers.pop(cid, None)
                return
            elif isinstance(cmd, ENDS_IN_IVR) and not c.routed:
                self._ended(cid, f"ivr_{type(cmd).__name__}", now)
                self.callers.pop(cid, None)
                return
        deadline = c.session.next_deadline()
        if deadline is not None and deadline != c.armed:
            c.armed = deadline
            sim.at(deadline, "ivr_timer", (cid, deadline))
        node = self.flow.nodes.get(c.session.node_id or "")
        if c.prompt is None and c.session.state == "running" and isinstance(node, Menu | Collect | Survey):
            sim.at(now + THINK_S, "ivr_input", (cid, c.session.node_id))

    def _arrived(self, c: _Caller, cmd: RouteToQueue) -> m.ContactArrived:
        return m.ContactArrived(
            contact_id=cmd.contact_id,
            channel=cmd.channel,
            queue=cmd.queue,
            attributes={**c.attributes, **cmd.attributes},
            caller=cmd.caller,
            priority_class=cmd.priority_class,
            head_start_s=cmd.head_start_s,
            context_id=cmd.context_id,
        )

    def _answer(self, c: _Caller) -> DigitsReceived | SpeechRecognized:
        """What the caller keys (or, with ``ivr.input: speech``, says) at their node."""
        node = self.flow.nodes[c.session.node_id or ""]
        rng = self.sim.rng
        speech = self.sim.s.ivr.input == "speech"
        if isinstance(node, Menu):
            keyed = [o for o in node.options if o.digit or (speech and o.say)]
            if c.mistake:  # no option: a key no option has, or words the grammar lacks
                c.mistake = False
                digits = {o.digit for o in node.options}
                if speech:
                    return SpeechRecognized(text="")
                return DigitsReceived(digits=next(d for d in "9876543210*" if d not in digits))
            dist = self.dist.get(c.target, {})
            attrs = c.attributes

            def clash(o: Any) -> int:  # an option setting what the caller is not (language: he)
                return sum(k in attrs and attrs[k] != v for k, v in o.set.items())

            best = min(keyed, key=lambda o: (clash(o), dist.get(o.next, 1_000_000)), default=None)
            if best is None:
                return DigitsReceived(digits="1")
            if speech and best.say:
                return SpeechRecognized(text=best.say[0])
            return DigitsReceived(digits=best.digit or "1")
        if isinstance(node, Collect):
            keys = "".join(str(rng.randrange(10)) for _ in range(max(1, node.min_length)))
            full = len(keys) >= node.max_length  # the node takes them without a terminator
            return DigitsReceived(digits=keys if full else keys + (node.terminator or ""))
        rating = 1 + rng.randrange(5)  # a survey's
        if speech and isinstance(node, Survey):
            words = [w for w, n in node.phrases.items() if n == rating]
            if words:
                return SpeechRecognized(text=words[0])
        return DigitsReceived(digits=str(rating))

    def _ended(self, cid: str, reason: str, now: float) -> None:
        self.sim.run.events.append(
            InteractionEvent(type="contact.ended", at=now, contact_id=cid, data={"reason": reason})
        )
