"""IVR flows as data: frozen ``msgspec.Struct``s built from ``config/ivr/*.yaml``.

A flow file names its entry (which numbers and channels it answers), its start node and
a mapping of nodes by id. Each node has a ``kind`` (the struct's tag) and the fields of
that kind; the loader (``callcenter.ivr.loader``) converts each node with the shared YAML
reader, so an unknown field is reported with its file and line. Single values are checked here in
``__post_init__`` (``ValueError`` becomes a ``file:line: field: message`` problem);
references between nodes, queues and calendars are checked by the loader.

``docs/ivr.md`` is the reference for every field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import ClassVar, Literal

import msgspec

from callcenter.config.sections import Channel
from callcenter.core.templates import check_template
from callcenter.ivr.conditions import Condition

KEYS = frozenset("0123456789*#")
_NODE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_VAR = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z0-9_]+)*$")


def check_node_id(value: str) -> None:
    if not _NODE_ID.match(value):
        raise ValueError(f"node id {value!r} must start with a letter and hold letters, digits, '-', '_'")


def check_var(value: str) -> None:
    if not _VAR.match(value):
        raise ValueError(
            f"variable name {value!r} must be lowercase words joined by '.' (like 'customer.tier')"
        )


def _positive(name: str, value: float) -> None:
    if value <= 0:
        raise ValueError(f"{name} must be positive")


def _retries(value: int) -> None:
    if not 0 <= value <= 9:
        raise ValueError("retries must be between 0 and 9")


class NodeStruct(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True, tag_field="kind"):
    """A flow node; the YAML ``kind`` key is its tag (``NODE_KINDS``)."""


class Entry(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Where a flow answers: ``numbers`` (called numbers or chat widget ids) on
    ``channels``. An empty ``numbers`` list makes the flow the default of its channels."""

    numbers: list[str] = msgspec.field(default_factory=list)
    channels: list[Channel] = msgspec.field(default_factory=lambda: ["voice"])

    def __post_init__(self) -> None:
        if not self.channels:
            raise ValueError("an entry needs at least one channel")


class Say(NodeStruct, frozen=True, kw_only=True, tag="say"):
    kind: ClassVar[str] = "say"
    text: str
    next: str
    barge_in: bool = False
    discloses: bool = False  # true: says something personal the loader cannot see in the text

    def __post_init__(self) -> None:
        check_template(self.text)


class MenuOption(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One choice: a key (``digit``), spoken phrases (``say``), or both."""

    digit: str | None = None
    say: list[str] = msgspec.field(default_factory=list)
    label: str = ""
    next: str
    set: dict[str, str] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.digit is None and not self.say:
            raise ValueError("an option needs a 'digit', a list of phrases under 'say', or both")
        if self.digit is not None and self.digit not in KEYS:
            raise ValueError(f"digit {self.digit!r} must be one key: 0-9, * or #")
        for name, value in self.set.items():
            check_var(name)
            check_template(value)

    @property
    def key(self) -> str:
        return self.digit if self.digit is not None else normalise(self.say[0])

    @property
    def title(self) -> str:
        return self.label or (self.say[0] if self.say else str(self.digit))


class Menu(NodeStruct, frozen=True, kw_only=True, tag="menu"):
    kind: ClassVar[str] = "menu"
    prompt: str
    options: list[MenuOption]
    fallback: str
    barge_in: bool = True
    timeout_s: float = 6.0
    retries: int = 2
    no_input: str = "Sorry, I did not hear anything."
    no_match: str = "Sorry, that is not one of the choices."
    min_confidence: float = 0.5

    def __post_init__(self) -> None:
        check_template(self.prompt)
        if not self.options:
            raise ValueError("a menu needs at least one option")
        _positive("timeout_s", self.timeout_s)
        _retries(self.retries)
        if not 0 <= self.min_confidence <= 1:
            raise ValueError("min_confidence must be between 0 and 1")


class Collect(NodeStruct, frozen=True, kw_only=True, tag="collect"):
    """Key in digits. The value goes to ``var`` (default ``digits.<node id>``)."""

    kind: ClassVar[str] = "collect"
    prompt: str
    next: str
    fallback: str
    var: str | None = None
    min_length: int = 1
    max_length: int = 20
    terminator: str | None = "#"
    pattern: str | None = None
    sensitive: bool = False
    show_last: int = 0
    barge_in: bool = True
    timeout_s: float = 8.0
    inter_digit_s: float = 4.0
    retries: int = 2
    no_input: str = "Sorry, I did not hear anything."
    no_match: str = "Sorry, that number is not valid."

    def __post_init__(self) -> None:
        check_template(self.prompt)
        if self.var is not None:
            check_var(self.var)
        if not 1 <= self.min_length <= self.max_length <= 64:
            raise ValueError("lengths must satisfy 1 <= min_length <= max_length <= 64")
        if self.terminator is not None and self.terminator not in KEYS:
            raise ValueError(f"terminator {self.terminator!r} must be one key: 0-9, * or #")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern is not a valid regular expression: {exc}") from None
        if not 0 <= self.show_last < self.min_length or (self.show_last and not self.sensitive):
            raise ValueError("show_last is for sensitive input and must be below min_length")
        _positive("timeout_s", self.timeout_s)
        _positive("inter_digit_s", self.inter_digit_s)
        _retries(self.retries)


LookupBy = Literal["caller_number", "account_number", "customer_id"]


class Lookup(NodeStruct, frozen=True, kw_only=True, tag="lookup"):
    """Ask the CRM: ``want`` is ``customer`` (identify) or the name of a self-service
    answer the CRM adapter knows (``balance``, ``order_status``, ``card_status``...)."""

    kind: ClassVar[str] = "lookup"
    by: LookupBy
    value: str
    want: str = "customer"
    found: str
    not_found: str
    timeout_s: float = 5.0
    discloses: bool = False  # a self-service answer (want other than customer) always does

    def __post_init__(self) -> None:
        check_template(self.value)
        _positive("timeout_s", self.timeout_s)


VerifyMethod = Literal["pin", "dob", "token"]


class Verify(NodeStruct, frozen=True, kw_only=True, tag="verify"):
    """Prove who the contact is before anything personal is disclosed.

    A session that is verified already goes on at ``verified`` at once; one that holds a
    signed login token (a chat started from the bank's web login) is verified by it.
    Otherwise ``method`` decides: ``token`` asks nothing and goes on at ``failed``;
    ``pin`` / ``dob`` check ``account`` (a template, the account number) with ``secret``
    (the PIN, or the date of birth as DDMMYYYY or YYYYMMDD), keyed into collect nodes that
    ``ask`` leads to and that come back here. Both empty: go to ``ask``. A wrong answer
    says ``no_match``, forgets what was keyed and goes to ``ask`` again, until the
    session's wrong answers reach ``attempts``: then (and on every later verify node of
    the session) ``failed``."""

    kind: ClassVar[str] = "verify"
    method: VerifyMethod
    account: str = ""
    secret: str = ""
    ask: str | None = None
    verified: str
    failed: str
    attempts: int = 3
    no_match: str = "Sorry, that does not match our records."
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        for text in (self.account, self.secret, self.no_match):
            check_template(text)
        if self.method == "token":
            if self.account or self.secret or self.ask:
                raise ValueError("method token asks nothing: leave out account, secret and ask")
        elif not (self.account and self.secret and self.ask):
            raise ValueError(f"method {self.method} needs 'account', 'secret' and 'ask'")
        if not 1 <= self.attempts <= 10:
            raise ValueError("attempts must be between 1 and 10")
        _positive("timeout_s", self.timeout_s)


class Case(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    when: Condition
    next: str


class Branch(NodeStruct, frozen=True, kw_only=True, tag="branch"):
    kind: ClassVar[str] = "branch"
    cases: list[Case]
    otherwise: str


class SetVars(NodeStruct, frozen=True, kw_only=True, tag="set"):
    kind: ClassVar[str] = "set"
    values: dict[str, str]
    next: str

    def __post_init__(self) -> None:
        for name, value in self.values.items():
            check_var(name)
            check_template(value)


class Queue(NodeStruct, frozen=True, kw_only=True, tag="queue"):
    """Hand the contact to the ACD; ``after`` is where to go when the agent part is over
    (usually a survey). ``announce`` is played on each queue status update."""

    kind: ClassVar[str] = "queue"
    queue: str
    prompt: str = ""
    priority_class: int | None = None
    head_start_s: float | None = None
    attributes: dict[str, str] = msgspec.field(default_factory=dict)
    announce: str = ""
    after: str | None = None

    def __post_init__(self) -> None:
        for text in (self.prompt, self.announce, *self.attributes.values()):
            check_template(text)
        if self.head_start_s is not None and self.head_start_s < 0:
            raise ValueError("head_start_s must not be negative")


class Callback(NodeStruct, frozen=True, kw_only=True, tag="callback"):
    kind: ClassVar[str] = "callback"
    queue: str
    number: str = "{caller}"
    prompt: str = "Thank you. We will call you back."
    attributes: dict[str, str] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        for text in (self.number, self.prompt, *self.attributes.values()):
            check_template(text)


class Voicemail(NodeStruct, frozen=True, kw_only=True, tag="voicemail"):
    """Record a message of at most ``max_s`` seconds (a longer one is cut there and kept);
    with ``queue`` the message waits there as a ``voicemail`` contact for an agent."""

    kind: ClassVar[str] = "voicemail"
    prompt: str = "Please leave a message after the tone."
    max_s: float = 120.0
    next: str
    queue: str | None = None

    def __post_init__(self) -> None:
        check_template(self.prompt)
        _positive("max_s", self.max_s)


def _default_ratings() -> dict[str, int]:
    return {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}


class Survey(NodeStruct, frozen=True, kw_only=True, tag="survey"):
    kind: ClassVar[str] = "survey"
    prompt: str
    next: str
    phrases: dict[str, int] = msgspec.field(default_factory=_default_ratings)
    barge_in: bool = True
    timeout_s: float = 6.0
    retries: int = 1
    no_input: str = "Sorry, I did not hear anything."
    no_match: str = "Please answer with a number from 1 to 5."
    min_confidence: float = 0.5

    def __post_init__(self) -> None:
        check_template(self.prompt)
        for phrase, rating in self.phrases.items():
            if not 1 <= rating <= 5:
                raise ValueError(f"phrase {phrase!r}: ratings run from 1 to 5")
        _positive("timeout_s", self.timeout_s)
        _retries(self.retries)


class Transfer(NodeStruct, frozen=True, kw_only=True, tag="transfer"):
    kind: ClassVar[str] = "transfer"
    uri: str
    prompt: str = ""

    def __post_init__(self) -> None:
        check_template(self.prompt)
        if not self.uri.startswith(("sip:", "sips:", "tel:")):
            raise ValueError(f"uri {self.uri!r} must start with sip:, sips: or tel:")


class HangUpNode(NodeStruct, frozen=True, kw_only=True, tag="hangup"):
    kind: ClassVar[str] = "hangup"
    prompt: str = ""
    reason: str = "completed"

    def __post_init__(self) -> None:
        check_template(self.prompt)


Node = (
    Say
    | Menu
    | Collect
    | Lookup
    | Verify
    | Branch
    | SetVars
    | Queue
    | Callback
    | Voicemail
    | Survey
    | Transfer
    | HangUpNode
)

NODE_KINDS: Mapping[str, type[Node]] = {
    "say": Say,
    "menu": Menu,
    "collect": Collect,
    "lookup": Lookup,
    "verify": Verify,
    "branch": Branch,
    "set": SetVars,
    "queue": Queue,
    "callback": Callback,
    "voicemail": Voicemail,
    "survey": Survey,
    "transfer": Transfer,
    "hangup": HangUpNode,
}

# Nodes where the session stops until the caller (or the ACD) does something; a loop
# through none of them would spin forever without the caller being able to act.
WAITING_KINDS = frozenset({"menu", "collect", "survey", "voicemail", "queue"})
# Nodes that end the IVR's part of the call (queue ends it unless it has ``after``).
ENDING_KINDS = frozenset({"queue", "callback", "transfer", "hangup"})


class CallbackWords(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What this flow's callers hear about a callback while they wait in a queue, in the
    flow's language: ``offer`` once on queueing, ``confirm`` before the call ends. Empty:
    the ``telephony`` section's words (``callback_offer``, ``callback_confirm``)."""

    offer: str = ""
    confirm: str = ""


class FlowHeader(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The top-level keys of a flow file other than ``nodes``."""

    name: str | None = None
    description: str = ""
    entry: Entry = msgspec.field(default_factory=Entry)
    start: str
    language: str = "en"
    callback: CallbackWords = msgspec.field(default_factory=CallbackWords)


class Flow(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    name: str
    file: str
    description: str
    entry: Entry
    start: str
    language: str
    nodes: Mapping[str, Node]
    callback: CallbackWords = msgspec.field(default_factory=CallbackWords)

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]


_PLACEHOLDER = re.compile(r"\{([a-z0-9_.]+)\}")
PERSONAL_PREFIXES = ("customer.", "answer.")


def is_personal(name: str, personal: frozenset[str] = frozenset()) -> bool:
    """A variable holding data from the customer's record: ``customer.*``, ``answer.*``,
    or one a ``set`` copied them into (``personal``, worked out by the loader)."""
    return name.startswith(PERSONAL_PREFIXES) or name in personal


def personal_names(text: str, personal: frozenset[str] = frozenset()) -> list[str]:
    return [n for n in _PLACEHOLDER.findall(text) if is_personal(n, personal)]


def prompt_texts(node: Node) -> list[tuple[str, str]]:
    """``(field, text)`` of every text the contact hears or reads at this node."""
    names = ("text", "prompt", "no_input", "no_match", "announce")
    return [(n, t) for n in names if isinstance(t := getattr(node, n, None), str) and t]


def disclosure(node: Node, personal: frozenset[str] = frozenset()) -> str | None:
    """Why this node discloses personal data from the customer's record (None: it does
    not): a self-service lookup (``want`` other than ``customer``), a text naming
    ``customer.*``, ``answer.*`` or a variable copied from them, or ``discloses: true``.
    Such a node must not be reachable without verification (the loader checks it)."""
    if getattr(node, "discloses", False):
        return "it is marked discloses: true"
    if isinstance(node, Lookup) and node.want != "customer":
        return f"it looks up the customer's {node.want}"
    for name, text in prompt_texts(node):
        found = personal_names(text, personal)
        if found:
            return f"its {name} says {{{found[0]}}}"
    return None


def normalise(text: str) -> str:
    """Lowercase, single-spaced: how spoken phrases and recognized text are compared."""
    return " ".join(text.lower().split())


def edges(node: Node) -> list[tuple[str, str]]:
    """``(field path, target node id)`` for every node this one can continue to."""
    out: list[tuple[str, str]] = []
    if isinstance(node, Say | SetVars | Voicemail | Survey):
        out.append(("next", node.next))
    elif isinstance(node, Menu):
        out += [(f"options[{i}].next", o.next) for i, o in enumerate(node.options)]
        out.append(("fallback", node.fallback))
    elif isinstance(node, Collect):
        out += [("next", node.next), ("fallback", node.fallback)]
    elif isinstance(node, Lookup):
        out += [("found", node.found), ("not_found", node.not_found)]
    elif isinstance(node, Verify):
        if node.ask is not None:
            out.append(("ask", node.ask))
        out += [("verified", node.verified), ("failed", node.failed)]
    elif isinstance(node, Branch):
        out += [(f"cases[{i}].next", c.next) for i, c in enumerate(node.cases)]
        out.append(("otherwise", node.otherwise))
    elif isinstance(node, Queue) and node.after is not None:
        out.append(("after", node.after))
    return out
