"""Load YAML into frozen dataclasses, reporting every problem with file, line and field.

PyYAML's composer keeps each node's position, so instead of ``safe_load`` we compose the
node tree and walk it against the target dataclass's type hints. Problems are collected,
not raised one by one, so ``check-config`` can print them all at once.

Supported field types: ``str``, ``int``, ``float``, ``bool``, ``X | None``, ``list[X]``,
``tuple[X, ...]``, ``dict[str, X]``, ``Literal[...]``, nested dataclasses, and any type
with a parser given in the field's metadata (``field(metadata={"parse": fn})``, where
``fn(str)`` raises ``ValueError`` with a readable message). A field can read a YAML key
that is a Python keyword with ``metadata={"key": "from"}``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

import yaml

from callcenter.core.errors import ConfigError

T = TypeVar("T")


class Problems:
    """Collects problems as ``file:line: field: message`` lines."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.warnings: list[str] = []

    def add(self, file: str, line: int, where: str, message: str) -> None:
        self.items.append(f"{file}:{line}: {where}: {message}" if where else f"{file}:{line}: {message}")

    def warn(self, file: str, line: int, where: str, message: str) -> None:
        self.warnings.append(f"{file}:{line}: {where}: warning: {message}")

    def raise_if_any(self) -> None:
        if self.items:
            raise ConfigError(list(self.items))

    def __bool__(self) -> bool:
        return bool(self.items)


@dataclasses.dataclass(slots=True)
class Document:
    """A composed YAML file: its root node and where it came from."""

    file: str
    root: yaml.Node | None


def line_of(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def read_document(path: Path | str, display: str | None = None) -> Document:
    """Compose a YAML file; a missing or malformed file raises ``ConfigError``."""
    name = display or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{name}: file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{name}: cannot read: {exc}"]) from None
    return parse_document(text, name)


def parse_document(text: str, name: str) -> Document:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = exc.problem or str(exc)
        raise ConfigError([f"{name}:{line}: malformed YAML: {what}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{name}: malformed YAML: {exc}"]) from None
    return Document(file=name, root=root)


def _join(where: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " or ".join(repr(a) for a in get_args(tp))
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_type_name(a) for a in get_args(tp) if a is not type(None))
    if origin in (list, tuple):
        return "a list"
    if origin is dict:
        return "a mapping"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return {str: "text", int: "a whole number", float: "a number", bool: "true or false"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


_NO_VALUE = object()


class Builder:
    """Walks nodes of one document against dataclass types, recording value lines."""

    def __init__(self, file: str, problems: Problems) -> None:
        self.file = file
        self.problems = problems
        self.lines: dict[str, int] = {}
        # objects built from only the valid fields of a mapping that had problems, so
        # that cross-reference checks can still run and report everything in one pass
        self.partials: dict[str, Any] = {}

    def error(self, node: yaml.Node, where: str, message: str) -> None:
        self.problems.add(self.file, line_of(node), where, message)

    def line(self, where: str, default: int = 1) -> int:
        return self.lines.get(where, default)

    def build(self, tp: Any, node: yaml.Node, where: str) -> Any:
        """Return the value for ``node`` as ``tp``, or ``_NO_VALUE`` after reporting."""
        self.lines[where] = line_of(node)
        origin = get_origin(tp)
        if origin in (types.UnionType, typing.Union):
            args = [a for a in get_args(tp) if a is not type(None)]
            if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
                return None
            if len(args) == 1:
                return self.build(args[0], node, where)
            for arg in args:  # first type the node fits without complaint
                trial = Builder(self.file, Problems())
                value = trial.build(arg, node, where)
                if value is not _NO_VALUE and not trial.problems:
                    self.lines.update(trial.lines)
                    return value
            self.error(node, where, f"expected {_type_name(tp)}")
            return _NO_VALUE
        if origin is Literal:
            value = self._scalar(node, where, str)
            if value is _NO_VALUE:
                return value
            allowed = get_args(tp)
            if value not in allowed:
                self.error(node, where, f"{value!r} is not one of {', '.join(map(repr, allowed))}")
                return _NO_VALUE
            return value
        if origin in (list, tuple):
            return self._sequence(tp, node, where)
        if origin is dict:
            return self._mapping(tp, node, where)
        if dataclasses.is_dataclass(tp):
            return self.build_dataclass(tp, node, where)
        if tp is Any:
            return yaml.safe_load(yaml.serialize(node))
        return self._scalar(node, where, tp)

    def _scalar(self, node: yaml.Node, where: str, tp: Any) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            self.error(node, where, f"expected {_type_name(tp)}, found a {_kind(node)}")
            return _NO_VALUE
        value = yaml.safe_load(yaml.serialize(node)) if node.tag != "tag:yaml.org,2002:str" else node.value
        if tp is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if tp is str and isinstance(value, int | float) and not isinstance(value, bool):
            return node.value
        if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
            self.error(node, where, f"expected {_type_name(tp)}, found {node.value!r}")
            return _NO_VALUE
        return value

    def _sequence(self, tp: Any, node: yaml.Node, where: str) -> Any:
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, where, f"expected a list, found a {_kind(node)}")
            return _NO_VALUE
        (item_tp, *_rest) = get_args(tp) or (Any,)
        items = [self.build(item_tp, child, _join(where, i)) for i, child in enumerate(node.value)]
        if any(item is _NO_VALUE for item in items):
            return _NO_VALUE
        return tuple(items) if get_origin(tp) is tuple else items

    def _mapping(self, tp: Any, node: yaml.Node, where: str) -> Any:
        if not isinstance(node, yaml.MappingNode):
            self.error(node, where, f"expected a mapping, found a {_kind(node)}")
            return _NO_VALUE
        _key_tp, value_tp = get_args(tp) or (str, Any)
        out: dict[str, Any] = {}
        ok = True
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in out:
                self.error(key_node, _join(where, key), "duplicate key")
                ok = False
                continue
            value = self.build(value_tp, value_node, _join(where, key))
            ok = ok and value is not _NO_VALUE
            out[key] = value
        return out if ok else _NO_VALUE

    def build_dataclass(self, cls: Any, node: yaml.Node, where: str) -> Any:
        if not isinstance(node, yaml.MappingNode):
            self.error(node, where or "(top level)", f"expected a mapping, found a {_kind(node)}")
            return _NO_VALUE
        self.lines[where] = line_of(node)
        hints = get_type_hints(cls)
        fields = {f.metadata.get("key", f.name): f for f in dataclasses.fields(cls) if f.init}
        values: dict[str, Any] = {}
        ok = True
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            here = _join(where, key)
            if key in seen:
                self.error(key_node, here, "duplicate key")
                ok = False
                continue
            seen.add(key)
            spec = fields.get(key)
            if spec is None:
                known = ", ".join(sorted(fields))
                self.error(key_node, here, f"unknown key (known keys: {known})")
                ok = False
                continue
            parse: Callable[[Any], Any] | None = spec.metadata.get("parse")
            if parse is not None:
                value = self._parsed(parse, value_node, here)
            else:
                value = self.build(hints[spec.name], value_node, here)
            if value is _NO_VALUE:
                ok = False
            else:
                values[spec.name] = value
        for key, spec in fields.items():
            required = spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING
            if required and key not in seen:
                self.error(node, _join(where, key), "required key is missing")
                ok = False
        if not ok:
            with contextlib.suppress(ValueError, TypeError):
                self.partials[where] = cls(**values)
            return _NO_VALUE
        try:
            return cls(**values)
        except (ValueError, TypeError) as exc:
            self.error(node, where or "(top level)", str(exc))
            return _NO_VALUE

    def _parsed(self, parse: Callable[[Any], Any], node: yaml.Node, where: str) -> Any:
        self.lines[where] = line_of(node)
        raw = yaml.safe_load(yaml.serialize(node))
        try:
            return parse(raw)
        except (ValueError, TypeError) as exc:
            self.error(node, where, str(exc))
            return _NO_VALUE


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "mapping"
    if isinstance(node, yaml.SequenceNode):
        return "list"
    return "value"


def load_dataclass(cls: type[T], doc: Document, problems: Problems) -> tuple[T | None, Builder]:
    """Build ``cls`` from a document's root; ``None`` (with problems recorded) on failure."""
    builder = Builder(doc.file, problems)
    if doc.root is None:
        problems.add(doc.file, 1, "", "file is empty")
        return None, builder
    value = builder.build_dataclass(cls, doc.root, "")
    return (None if value is _NO_VALUE else value), builder
