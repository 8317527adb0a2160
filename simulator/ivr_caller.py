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

Speaking callers (``ivr.speech_share`` of those whose contact type has ``say``; with
``ivr.input: speech`` all): at a menu that listens (the session started recognition) they
say the next spoken entry of their ``say`` list (the option's first phrase once the list is
used up) when the prompt has ended, and the recogniser reports it after the phrase's spoken
time. It hears it right with probability ``ivr.speech_accuracy``; a misheard answer is a
no-match (``SpeechRecognized("")``), so the caller hears the retry prompt and says the same
entry again. Menus that do not listen get keys. ``SpeechCount`` tallies what they did.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from random import Random
from typing import Any, Protocol

from callcenter.acd.engine import AcdEngine
from callcenter.acd.messages import ContactArrived
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
    StartRecognition,
    StopRecognition,
)
from callcenter.ivr.flow import Branch, Collect, Menu, Queue, Survey
from callcenter.ivr.messages import (
    CallerHungUp,
    HangUp,
    IvrError,
    OfferCallback,
    StartVoicemail,
    TransferExternal,
)
from simulator.scenario import KEYPAD, Scenario

CHARS_PER_S = 15.0  # espeak-ng speaks about 175 words a minute
THINK_S = 1.5
LOOKUP_S = 0.3
SPEAK_LEAD_S = 0.2  # a speaking caller's breath before the words (live mode sends 200 ms)
DEFAULT_WPM = 175  # espeak-ng's default rate, the one CHARS_PER_S is measured at
HEARD_CONFIDENCE = 0.9
ENDS_IN_IVR = (OfferCallback, StartVoicemail, TransferExternal)


class EventLog(Protocol):
    @property
    def events(self) -> list[InteractionEvent]: ...


class Simulation(Protocol):
    """What the callers need of the virtual run that holds them (``virtual._Simulation``)."""

    @property
    def s(self) -> Scenario: ...
    @property
    def engine(self) -> AcdEngine: ...
    @property
    def run(self) -> EventLog: ...
    @property
    def rng(self) -> Random: ...
    @property
    def hear_rng(self) -> Random: ...
    def at(self, t: float, kind: str, payload: Any) -> None: ...
    def enqueue(self, arrived: ContactArrived, now: float) -> None: ...


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

    def opening(self, name: str | None, now: float) -> str:
        return ""


class _Estimates:
    """The ACD's estimated wait, for flows that branch on it (a callback offer)."""

    def __init__(self, callers: IvrCallers) -> None:
        self.callers = callers

    def ewt_s(self, queue: str) -> float | None:
        return self.callers.sim.engine.queue_snapshot(queue, self.callers.now).ewt_s


@dataclass
class SpeechCount:
    """What a virtual run's speaking callers did and where their answers took them."""

    callers: int = 0  # voice callers who answer by speech
    answers: int = 0  # phrases said (misheard ones included)
    misheard: int = 0  # ... that the recogniser did not hear right (a no-match)
    routed: int = 0  # speaking callers the flow handed to a queue
    intended: int = 0  # ... to the queue (and intent) they meant
    wrong: list[str] = field(default_factory=list)  # "meant -> taken" for the others

    def as_dict(self) -> dict[str, object]:
        return {
            "callers": self.callers,
            "answers": self.answers,
            "misheard": self.misheard,
            "routed": self.routed,
            "intended_branch": self.intended,
            "wrong_branch": self.wrong[:100],
        }


class _Caller:
    __slots__ = (
        "armed",
        "attributes",
        "listening",
        "mistake",
        "prompt",
        "routed",
        "said",
        "say",
        "session",
        "speaks",
        "target",
    )

    def __init__(
        self,
        session: IvrSession,
        target: str,
        attributes: Mapping[str, str],
        mistake: bool,
        say: Sequence[str] | None,
    ) -> None:
        self.session = session
        self.target = target
        self.attributes = attributes
        self.mistake = mistake
        self.armed: float | None = None
        self.prompt: str | None = None
        self.routed = False
        self.speaks = say is not None
        self.say = [a.strip() for a in say or () if a.strip()]  # silent entries: no menu waits
        self.said = 0  # entries of ``say`` heard right so far
        self.listening = False  # the session's recognition runs


class IvrCallers:
    KINDS = ("ivr_prompt_done", "ivr_input", "ivr_lookup", "ivr_timer", "ivr_caller_hangup")

    def __init__(self, sim: Simulation, flow: Flow) -> None:
        self.sim = sim
        self.flow = flow
        self.dist = distances(flow)
        self.called = flow.entry.numbers[0] if flow.entry.numbers else ""
        self.callers: dict[str, _Caller] = {}
        self.hours, self.estimates = _Open(), _Estimates(self)
        self.ids = SequentialIds()
        self.now = 0.0
        self.speech = SpeechCount()
        rate = sim.s.ivr.voice_rate or DEFAULT_WPM
        self.speak_cps = CHARS_PER_S * rate / DEFAULT_WPM

    def start(
        self,
        cid: str,
        caller: str,
        queue: str,
        attributes: Mapping[str, str],
        mistake: bool,
        now: float,
        say: Sequence[str] | None = None,
    ) -> None:
        """A voice caller calls; ``say`` (their contact type's list) if they speak."""
        session = IvrSession(
            flow=self.flow,
            contact_id=cid,
            context=Context(id=f"x{cid}"),
            ids=self.ids,
            hours=self.hours,
            queues=self.estimates,
        )
        self.callers[cid] = _Caller(session, queue, attributes, mistake, say)
        self.speech.callers += say is not None
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
        answer = self._answer(c)
        if isinstance(answer, SpeechRecognized):
            self.speech.answers += 1
            self.speech.misheard += answer.confidence == 0.0 and not answer.text
        self._feed(cid, answer, now)

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
            elif isinstance(cmd, StartRecognition | StopRecognition):
                c.listening = isinstance(cmd, StartRecognition)
            elif isinstance(cmd, RouteToQueue):
                c.routed = True
                if c.speaks:
                    self._count_branch(c, cmd)
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
            phrase = self._phrase(c, node)
            delay = THINK_S if phrase is None else SPEAK_LEAD_S + len(phrase) / self.speak_cps
            sim.at(now + delay, "ivr_input", (cid, c.session.node_id))

    def _count_branch(self, c: _Caller, cmd: RouteToQueue) -> None:
        """Did the speaking caller's answers take them where they meant to go?"""
        meant, taken = c.attributes.get("intent", ""), cmd.attributes.get("intent", "")
        self.speech.routed += 1
        if cmd.queue == c.target and (not meant or meant == taken):
            self.speech.intended += 1
        else:
            self.speech.wrong.append(f"{c.target}/{meant} -> {cmd.queue}/{taken}")

    def _phrase(self, c: _Caller, node: Any) -> str | None:
        """What a speaking caller will say at this listening menu (None: they key)."""
        if not (c.speaks and c.listening and isinstance(node, Menu)) or c.mistake:
            return None
        if c.said < len(c.say):
            entry = c.say[c.said]
            return entry if any(ch not in KEYPAD for ch in entry) else None
        best = self._best(c, node, speech=True)
        return best.say[0] if best is not None and best.say else None

    def _hear(self, c: _Caller, phrase: str) -> SpeechRecognized:
        """The recogniser's result for what the caller said: right, or a no-match."""
        if self.sim.hear_rng.random() >= self.sim.s.ivr.speech_accuracy:
            return SpeechRecognized(text="", confidence=0.0)
        return SpeechRecognized(text=phrase, confidence=HEARD_CONFIDENCE)

    def _best(self, c: _Caller, node: Menu, *, speech: bool) -> Any:
        """The option whose path reaches the caller's queue in the fewest nodes, never one
        that sets what the caller is not (language: he) while another is left."""
        keyed = [o for o in node.options if o.digit or (speech and o.say)]
        dist = self.dist.get(c.target, {})
        attrs = c.attributes

        def clash(o: Any) -> int:
            return sum(k in attrs and attrs[k] != v for k, v in o.set.items())

        return min(keyed, key=lambda o: (clash(o), dist.get(o.next, 1_000_000)), default=None)

    def _arrived(self, c: _Caller, cmd: RouteToQueue) -> ContactArrived:
        return ContactArrived(
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
        """What the caller keys (or, speaking at a menu that listens, says) at their node."""
        node = self.flow.nodes[c.session.node_id or ""]
        rng = self.sim.rng
        speech = c.speaks and c.listening
        if isinstance(node, Menu):
            if c.mistake:  # no option: a key no option has, or words the grammar lacks
                c.mistake = False
                digits = {o.digit for o in node.options}
                if speech:
                    return SpeechRecognized(text="")
                return DigitsReceived(digits=next(d for d in "9876543210*" if d not in digits))
            phrase = self._phrase(c, node)
            if phrase is not None:
                heard = self._hear(c, phrase)
                c.said += bool(heard.text) and c.said < len(c.say)
                return heard
            if speech and c.said < len(c.say):  # keypad input in ``say``
                c.said += 1
                return DigitsReceived(digits=c.say[c.said - 1])
            best = self._best(c, node, speech=False)
            return DigitsReceived(digits="1" if best is None else best.digit or "1")
        if isinstance(node, Collect):
            keys = "".join(str(rng.randrange(10)) for _ in range(max(1, node.min_length)))
            full = len(keys) >= node.max_length  # the node takes them without a terminator
            return DigitsReceived(digits=keys if full else keys + (node.terminator or ""))
        rating = 1 + rng.randrange(5)  # a survey's
        if speech and isinstance(node, Survey):
            words = [w for w, n in node.phrases.items() if n == rating]
            if words:
                return self._hear(c, words[0])
        return DigitsReceived(digits=str(rating))

    def _ended(self, cid: str, reason: str, now: float) -> None:
        self.sim.run.events.append(
            InteractionEvent(type="contact.ended", at=now, contact_id=cid, data={"reason": reason})
        )
