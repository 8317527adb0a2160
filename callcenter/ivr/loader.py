"""Load a folder of flow files and check them as a whole.

``load_flows`` either returns a complete ``FlowSet`` or raises ``ConfigError`` listing
every problem in every file (``file:line: field: message``), so a server reloading its
flows keeps the previous set when the new one has a mistake. Checks, in order:

* shape: unknown node kinds and fields, wrong types, bad values (the YAML builder);
* references: ``start`` and every ``next``-like target exist; queues and opening-hours
  calendars exist in the center config; no two flows claim one number on one channel;
* menus: no key or phrase twice; phrases the recognizer cannot know (a warning);
* speech: a prompt's ``[[...]]`` speech part is said only in a flow whose language speech
  recognition is on for; a prompt that asks to speak outside it there is a warning;
* graph: every node reachable from ``start``; no loop through nodes that never wait for
  the caller (say, set, branch, lookup); from every menu, collect and survey some path
  reaches an ending node (queue, callback, transfer, hangup) — a menu with a way out;
* identity: no node that discloses personal data from the customer's record (a
  self-service lookup, a text naming ``customer.*`` or ``answer.*`` or a variable copied
  from them, ``discloses: true``) can be reached from ``start`` except through a verify
  node's ``verified`` branch; a verify node's ``secret`` is keyed into sensitive collects.

The graph checks run only when every node of the file was built, so one typo does not
bury its file under follow-on reports.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callcenter.config.sections import CenterConfig
from callcenter.config.speech import recognition_languages
from callcenter.config.yamlnodes import Problems, Reader, read_document
from callcenter.core.errors import ConfigError
from callcenter.ivr.flow import (
    ENDING_KINDS,
    NODE_KINDS,
    WAITING_KINDS,
    Branch,
    Callback,
    Collect,
    Flow,
    FlowHeader,
    Menu,
    Node,
    Queue,
    SetVars,
    Survey,
    Verify,
    Voicemail,
    check_node_id,
    disclosure,
    edges,
    normalise,
    personal_names,
)
from callcenter.ivr.spoken import base_language, promises, with_speech

Vocabulary = Iterable[str] | Callable[[str], bool] | None

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FlowSet:
    """Loaded flows by name, with the entry table and any load warnings."""

    flows: Mapping[str, Flow]
    entries: Mapping[tuple[str, str], str]
    warnings: tuple[str, ...] = ()

    def entry_for(self, channel: str, number: str | None = None) -> Flow | None:
        """The flow answering ``number`` on ``channel``; else the channel's default flow
        (one with no numbers); else None."""
        name = self.entries.get((channel, number or "")) or self.entries.get((channel, ""))
        return self.flows[name] if name is not None else None

    def __getitem__(self, name: str) -> Flow:
        return self.flows[name]

    def __iter__(self) -> Iterator[Flow]:
        return iter(self.flows.values())

    def __len__(self) -> int:
        return len(self.flows)


def load_flows(
    folder: Path | str,
    *,
    queues: set[str],
    hours: set[str],
    vocabulary: Vocabulary = None,
    speech_languages: Iterable[str] | None = None,
) -> FlowSet:
    """Load every ``*.yaml``/``*.yml`` file in ``folder`` (sorted by name).

    ``queues`` and ``hours`` are the names defined in the center config; ``vocabulary``
    (a set of words or a ``knows(word) -> bool``) turns on the recognizer warning.
    ``speech_languages``: the languages speech recognition is on for (``ko``...): a flow
    in another language says its prompts' ``[[...]]`` speech parts for keys only, and a
    prompt that still asks the caller to speak is a warning (``ivr/spoken.py``); None
    (not known) keeps the speech parts and checks nothing.
    Raises ``ConfigError`` with every problem found when any file has one.
    """
    hearing = None if speech_languages is None else {base_language(x) for x in speech_languages}
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError([f"{folder}: IVR flow folder not found"])
    problems = Problems()
    knows = _knower(vocabulary)
    flows: dict[str, Flow] = {}
    entries: dict[tuple[str, str], str] = {}
    paths = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    for path in paths:
        try:
            doc = read_document(path)
        except ConfigError as exc:
            problems.items.extend(exc.problems)
            continue
        reader = Reader(doc, problems)
        if reader.value is None:
            problems.add(doc.file, 1, "", "file is empty")
            continue
        checker = _FileChecker(reader, path.stem, queues, hours, knows)
        flow = checker.check(reader.value)
        if flow is None:
            continue
        flow = _spoken(flow, hearing, checker.b)
        if flow.name in flows:
            problems.add(
                doc.file,
                checker.b.line("name"),
                "name",
                f"flow {flow.name!r} is also defined in {flows[flow.name].file}",
            )
            continue
        _claim(flow, flows, entries, checker.b)
        flows[flow.name] = flow
    problems.raise_if_any()
    return FlowSet(flows=flows, entries=entries, warnings=tuple(problems.warnings))


def _spoken(flow: Flow, hearing: set[str] | None, b: Reader) -> Flow:
    """The flow with its speech parts resolved; warns of speech promised where none is heard."""
    if hearing is None:
        return with_speech(flow, True)
    language = base_language(flow.language)
    if language in hearing:
        return with_speech(flow, True)
    for node_id, name in promises(flow):
        where = f"nodes.{node_id}.{name}"
        b.problems.warn(
            b.file,
            b.line(where),
            where,
            f"the text asks the caller to speak, but speech recognition is off for {language!r}"
            " (speech.model_path); put the spoken part in [[...]] so it is said only when heard",
        )
    return with_speech(flow, False)


def _knower(vocabulary: Vocabulary) -> Callable[[str], bool] | None:
    if vocabulary is None or callable(vocabulary):
        return vocabulary
    words = {w.lower() for w in vocabulary}
    return words.__contains__


def _claim(flow: Flow, flows: Mapping[str, Flow], entries: dict[tuple[str, str], str], b: Reader) -> None:
    for channel in flow.entry.channels:
        for number in flow.entry.numbers or [""]:
            owner = entries.get((channel, number))
            if owner is not None:
                what = f"number {number!r}" if number else "the default flow"
                b.problems.add(
                    b.file,
                    b.line("entry"),
                    "entry",
                    f"{what} on {channel} is already claimed by flow {owner!r} ({flows[owner].file})",
                )
            else:
                entries[(channel, number)] = flow.name


class _FileChecker:
    """Builds one flow file's header and nodes, then checks references and the graph."""

    def __init__(
        self, b: Reader, stem: str, queues: set[str], hours: set[str], knows: Callable[[str], bool] | None
    ) -> None:
        self.b = b
        self.stem = stem
        self.queues = queues
        self.hours = hours
        self.knows = knows

    def error(self, where: str, message: str) -> None:
        self.b.problems.add(self.b.file, self.b.line(where), where, message)

    def check(self, root: Any) -> Flow | None:
        before = len(self.b.problems.items)
        if not isinstance(root, dict):
            self.error("(top level)", "expected a mapping with 'entry', 'start' and 'nodes'")
            return None
        header, partial = self.b.convert_struct(
            {k: v for k, v in root.items() if k != "nodes"}, FlowHeader, ""
        )
        if "nodes" not in root:
            self.error("nodes", "required key is missing")
            return None
        nodes, ids, complete = self._nodes(root["nodes"])
        if partial is not None and partial.start not in ids:
            self.error("start", f"start node {partial.start!r} is not defined{_known(ids)}")
            header = None
        for node_id, node in nodes.items():
            self._references(node_id, node, ids)
        if complete and header is not None:
            self._graph(header.start, nodes)
        if header is None or not complete or len(self.b.problems.items) > before:
            return None
        return Flow(
            name=header.name or self.stem,
            file=self.b.file,
            description=header.description,
            entry=header.entry,
            start=header.start,
            language=header.language,
            nodes=nodes,
            callback=header.callback,
        )

    def _nodes(self, mapping: Any) -> tuple[dict[str, Node], set[str], bool]:
        if not isinstance(mapping, dict) or not mapping:
            self.error("nodes", "expected a mapping of node ids to nodes")
            return {}, set(), False
        nodes: dict[str, Node] = {}
        complete = True
        for node_id, value in mapping.items():
            where = f"nodes.{node_id}"
            try:
                check_node_id(node_id)
            except ValueError as exc:
                self.error(where, str(exc))
                complete = False
            node = self._node(value, where)
            if node is None:
                complete = False
            else:
                nodes[node_id] = node
        return nodes, set(mapping), complete

    def _node(self, value: Any, where: str) -> Node | None:
        if not isinstance(value, dict):
            self.error(where, "expected a mapping with a 'kind'")
            return None
        if "kind" not in value:
            self.error(f"{where}.kind", f"required key is missing (kinds: {', '.join(NODE_KINDS)})")
            return None
        cls = NODE_KINDS.get(str(value["kind"]))
        if cls is None:
            self.error(
                f"{where}.kind", f"unknown node kind {value['kind']!r} (kinds: {', '.join(NODE_KINDS)})"
            )
            return None
        node: Node | None = self.b.convert(value, cls, where)
        return node

    def _references(self, node_id: str, node: Node, ids: set[str]) -> None:
        where = f"nodes.{node_id}"
        for path, target in edges(node):
            if target not in ids:
                self.error(f"{where}.{path}", f"no node {target!r} in this flow{_known(ids)}")
        if isinstance(node, Queue | Callback) and node.queue not in self.queues:
            self.error(f"{where}.queue", f"unknown queue {node.queue!r}{_known(self.queues)}")
        if isinstance(node, Voicemail) and node.queue is not None and node.queue not in self.queues:
            self.error(f"{where}.queue", f"unknown queue {node.queue!r}{_known(self.queues)}")
        if isinstance(node, Branch):
            for i, case in enumerate(node.cases):
                for cond in case.when.walk():
                    here = f"{where}.cases[{i}].when"
                    if cond.queue_ewt is not None and cond.queue_ewt not in self.queues:
                        self.error(here, f"unknown queue {cond.queue_ewt!r}{_known(self.queues)}")
                    if cond.open is not None and cond.open not in self.hours:
                        self.error(here, f"unknown hours {cond.open!r}{_known(self.hours)}")
        if isinstance(node, Menu):
            self._menu(where, node)
        if isinstance(node, Survey):
            self.b.lines.setdefault(f"{where}.phrases", self.b.line(where))
            self._vocabulary(f"{where}.phrases", list(node.phrases))

    def _menu(self, where: str, menu: Menu) -> None:
        digits: dict[str, int] = {}
        phrases: dict[str, int] = {}
        for i, option in enumerate(menu.options):
            here = f"{where}.options[{i}]"
            if option.digit is not None:
                if option.digit in digits:
                    self.error(
                        f"{here}.digit", f"key {option.digit!r} is already option {digits[option.digit]}"
                    )
                digits.setdefault(option.digit, i)
            for phrase in option.say:
                key = normalise(phrase)
                if key in phrases:
                    self.error(f"{here}.say", f"phrase {phrase!r} is already option {phrases[key]}")
                phrases.setdefault(key, i)
            self._vocabulary(f"{here}.say", option.say)

    def _vocabulary(self, where: str, phrases: list[str]) -> None:
        if self.knows is None:
            return
        for phrase in phrases:
            unknown = [w for w in normalise(phrase).split() if not self.knows(w)]
            if unknown:
                self.b.problems.warn(
                    self.b.file,
                    self.b.line(where),
                    where,
                    f"the recognizer does not know {', '.join(map(repr, unknown))} "
                    f"in {phrase!r}; callers saying it will not be understood",
                )

    def _graph(self, start: str, nodes: Mapping[str, Node]) -> None:
        succ = {nid: [t for _p, t in edges(n)] for nid, n in nodes.items()}
        reachable = _reach([start], succ)
        for nid in nodes:
            if nid not in reachable:
                self.error(f"nodes.{nid}", f"node {nid!r} cannot be reached from start {start!r}")
        busy = {
            nid: [t for t in ts if nodes[t].kind not in WAITING_KINDS]
            for nid, ts in succ.items()
            if nodes[nid].kind not in WAITING_KINDS
        }
        for cycle in _cycles(busy):
            self.error(
                f"nodes.{cycle[0]}",
                "loop that never waits for the caller: " + " -> ".join([*cycle, cycle[0]]),
            )
        pred: dict[str, list[str]] = {nid: [] for nid in nodes}
        for nid, ts in succ.items():
            for t in ts:
                pred[t].append(nid)
        self._identity(start, nodes, succ)
        can_end = _reach([nid for nid, n in nodes.items() if n.kind in ENDING_KINDS], pred)
        for nid, node in nodes.items():
            if nid in reachable and nid not in can_end and node.kind in ("menu", "collect", "survey"):
                self.error(
                    f"nodes.{nid}",
                    f"{node.kind} {nid!r} has no way out: no path from it reaches "
                    "a queue, callback, transfer or hangup node",
                )

    def _identity(self, start: str, nodes: Mapping[str, Node], succ: Mapping[str, list[str]]) -> None:
        """Personal data only after verification; secrets only through sensitive collects."""
        personal = _personal_vars(nodes)
        # the walk a contact can take without ever passing a verify node's 'verified' branch
        unverified = {
            nid: [t for p, t in edges(n) if not (isinstance(n, Verify) and p == "verified")]
            for nid, n in nodes.items()
        }
        parent: dict[str, str | None] = {start: None}
        todo = [start]
        while todo:
            nid = todo.pop(0)
            for nxt in unverified[nid]:
                if nxt not in parent:
                    parent[nxt] = nid
                    todo.append(nxt)
        for nid in parent:
            why = disclosure(nodes[nid], personal)
            if why is not None:
                path: list[str] = []
                step: str | None = nid
                while step is not None:
                    path.append(step)
                    step = parent[step]
                self.error(
                    f"nodes.{nid}",
                    f"discloses personal data ({why}) but can be reached without verification: "
                    + " -> ".join(reversed(path))
                    + "; put it behind a verify node's 'verified' branch",
                )
        sensitive = {
            (n.var or f"digits.{nid}"): n.sensitive for nid, n in nodes.items() if isinstance(n, Collect)
        }
        for nid, node in nodes.items():
            if isinstance(node, Verify) and node.secret:
                for name in _PLACEHOLDER.findall(node.secret):
                    if not sensitive.get(name, False):
                        self.error(
                            f"nodes.{nid}.secret",
                            f"{{{name}}} must be the variable of a collect node with sensitive: true "
                            "(a PIN or a date of birth never reaches the log)",
                        )


_PLACEHOLDER = re.compile(r"\{([a-z0-9_.]+)\}")


def _personal_vars(nodes: Mapping[str, Node]) -> frozenset[str]:
    """Variables that ``set`` nodes or menu options fill from personal data (to a fixpoint)."""
    writes: list[tuple[str, str]] = []
    for node in nodes.values():
        if isinstance(node, SetVars):
            writes += list(node.values.items())
        elif isinstance(node, Menu):
            writes += [kv for option in node.options for kv in option.set.items()]
    personal: frozenset[str] = frozenset()
    while True:
        more = personal | {name for name, value in writes if personal_names(value, personal)}
        if more == personal:
            return personal
        personal = more


def _reach(starts: list[str], succ: Mapping[str, list[str]]) -> set[str]:
    seen = set(starts)
    todo = list(starts)
    while todo:
        for nxt in succ.get(todo.pop(), []):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _cycles(succ: Mapping[str, list[str]]) -> list[list[str]]:
    """One representative cycle per strongly connected group (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in succ:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            nid, i = work.pop()
            if i == 0:
                index[nid] = low[nid] = len(index)
                stack.append(nid)
                on_stack.add(nid)
            children = succ.get(nid, [])
            if i < len(children):
                work.append((nid, i + 1))
                child = children[i]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[nid] = min(low[nid], index[child])
                continue
            for child in children:
                if child in on_stack:
                    low[nid] = min(low[nid], low[child])
            if low[nid] == index[nid]:
                group = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    group.append(top)
                    if top == nid:
                        break
                if len(group) > 1 or nid in succ.get(nid, []):
                    out.append(_cycle_path(sorted(group), set(group), succ))
    return out


def _cycle_path(group: list[str], members: set[str], succ: Mapping[str, list[str]]) -> list[str]:
    """A readable cycle inside one strongly connected group, starting at its first id."""
    path = [group[0]]
    while True:
        nxt = next(t for t in succ[path[-1]] if t in members)
        if nxt in path:
            return path[path.index(nxt) :]
        path.append(nxt)


def _known(names: Iterable[str]) -> str:
    names = sorted(names)
    return f" (known: {', '.join(names)})" if names else " (none are defined)"


def load_center_flows(config: CenterConfig, vocabulary: Callable[[str], bool] | None = None) -> FlowSet:
    """The flows of ``config.ivr_dir`` checked against the config (and, with ``vocabulary``,
    the speech recognizer's words); raises ``ConfigError``; warnings go to the log."""
    flows = load_flows(
        config.ivr_dir,
        queues={q.name for q in config.queues},
        hours=set(config.hours),
        vocabulary=vocabulary,
        speech_languages=recognition_languages(config.speech),
    )
    for warning in flows.warnings:
        log.warning("IVR flows: %s", warning)
    return flows
