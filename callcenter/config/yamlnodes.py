"""Load YAML into frozen ``msgspec.Struct``s, reporting problems with file, line and field.

PyYAML's composer keeps each node's position, so instead of ``safe_load`` we compose the
node tree, turn it into plain values (dicts, lists, scalars) and remember which node
every path came from (``queues[2].steps[0].require.billing`` -> its line). msgspec does
the type walk (``msgspec.convert``); its ``ValidationError`` ("... - at `$.queues[2]`")
is translated back into ``file:line: field: message`` with that map, the nearest existing
path standing in for one that is absent (a missing key: the line of its mapping).

msgspec stops at the first error of a value, so ``Reader.convert_struct`` converts the
top-level keys of a mapping separately (and each item of a list or mapping of structs):
a file with mistakes in three sections still lists three problems.

Rules the structs follow: ``frozen=True, forbid_unknown_fields=True, kw_only=True``; a
YAML key that is a Python keyword is a field ``name`` (``msgspec.field(name="from")``);
a single value is checked in ``__post_init__`` (a ``ValueError`` becomes the message);
a custom scalar type (a duration like ``'8h'``) defines ``from_yaml(value)`` raising
``ValueError``, called through msgspec's ``dec_hook``. A plain YAML number or date where
text is expected is taken as the text written (``digit: 1``, ``default_country_code: +972``).
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin

import msgspec
import yaml

from callcenter.core.client_json import ErrorPath, validation_parts
from callcenter.core.errors import ConfigError

T = TypeVar("T")
S = TypeVar("S", bound=msgspec.Struct)


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


def join(where: str, key: str | int) -> str:
    """``queues`` + 2 -> ``queues[2]``; ``queues[2]`` + ``name`` -> ``queues[2].name``."""
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "mapping"
    if isinstance(node, yaml.SequenceNode):
        return "list"
    return "value"


_TEXT_LIKE = (int, float, datetime.date)  # plain scalars that may be read as the text written


def dec_hook(tp: Any, value: Any) -> Any:
    """msgspec's hook for custom scalar types: ``tp.from_yaml(value)``."""
    from_yaml: Callable[[Any], Any] | None = getattr(tp, "from_yaml", None)
    if from_yaml is None:
        raise NotImplementedError(f"no YAML reader for {tp!r}")
    return from_yaml(value)


# ---------------------------------------------------------------------------------------
# msgspec errors back into file:line: field: message

_PARENT = re.compile(r"(\.[^.\[]*|\[\d+\])$")
_EXPECTED = re.compile(r"^Expected `([^`]*)`(.*), got `([^`]*)`$")
_BOUND = re.compile(r"^Expected `([^`]*)` (>=|>|<=|<) (\S+)$")
_BOUND_WORDS = {">": "more than", ">=": "at least", "<=": "at most", "<": "less than"}
_TYPE_WORDS = {
    "int": "a whole number",
    "float": "a number",
    "str": "text",
    "bool": "true or false",
    "object": "a mapping",
    "array": "a list",
    "datetime": "a date and time",
    "date": "a date",
}

Path_ = ErrorPath  # a path below a converted value; None: a key msgspec did not name


def _split(exc: msgspec.ValidationError) -> tuple[str, Path_]:
    return validation_parts(str(exc))


def _get(value: Any, path: Path_) -> Any:
    for key in path:
        value = value[key]
    return value


def _with(value: Any, path: Path_, new: Any) -> Any:
    """A copy of ``value`` with the item at ``path`` replaced (copies only along the path)."""
    if not path:
        return new
    key, rest = path[0], path[1:]
    if isinstance(value, list):
        assert isinstance(key, int)
        return [*value[:key], _with(value[key], rest, new), *value[key + 1 :]]
    return {**value, key: _with(value[key], rest, new)}


_SEQUENCES = (msgspec.inspect.ListType, msgspec.inspect.VarTupleType)


def _type_at(tp: Any, path: Path_) -> Any:
    """msgspec's description of the type at ``path`` below ``tp`` (None: not found)."""
    info: Any = msgspec.inspect.type_info(tp)
    for key in path:
        info = _step(info, key)
        if info is None:
            return None
    return _unwrap(info)


def _unwrap(info: Any) -> Any:
    if isinstance(info, msgspec.inspect.UnionType):
        real = [t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)]
        return real[0] if len(real) == 1 else info
    return info


def _step(info: Any, key: str | int | None) -> Any:
    info = _unwrap(info)
    options = info.types if isinstance(info, msgspec.inspect.UnionType) else (info,)
    for option in options:
        if isinstance(key, str) and isinstance(option, msgspec.inspect.StructType):
            for f in option.fields:
                if f.encode_name == key:
                    return f.type
        if isinstance(key, int) and isinstance(option, _SEQUENCES):
            return option.item_type
        if isinstance(key, str | None) and isinstance(option, msgspec.inspect.DictType):
            return option.value_type
    return None


def _known_keys(info: Any) -> list[str]:
    if not isinstance(info, msgspec.inspect.StructType):
        return []
    keys = [f.encode_name for f in info.fields]
    tag_field = getattr(info, "tag_field", None)
    return sorted([*keys, tag_field] if tag_field else keys)


class Reader:
    """One document as plain values, the line of every path in it, and the conversion of
    its parts into structs with each failure recorded as one problem."""

    def __init__(self, doc: Document, problems: Problems) -> None:
        self.file = doc.file
        self.problems = problems
        self.lines: dict[str, int] = {}
        self.key_lines: dict[str, int] = {}
        self._nodes: dict[str, yaml.Node] = {}
        self._constructor = yaml.constructor.SafeConstructor()
        self._kept: dict[str, list[int]] = {}  # list path -> written index of each item kept
        self.value: Any = None if doc.root is None else self._plain(doc.root, "")

    # Public methods: where things are and what went wrong there

    def line(self, where: str, default: int = 1) -> int:
        """The line of ``where``, else of its nearest ancestor below the top, else ``default``."""
        probe = where
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = _PARENT.sub("", probe)
        return self.lines.get("", default) if not where else default

    def item(self, where: str, index: int) -> str:
        """The path of item ``index`` of a converted list at ``where``: items with a
        problem of their own are left out of it, so later items keep their written index."""
        kept = self._kept.get(where)
        return join(where, kept[index] if kept is not None else index)

    def error(self, where: str, message: str) -> None:
        self.problems.add(self.file, self.line(where), where, message)

    # Public methods: conversion

    def convert(self, value: Any, tp: type[T], where: str) -> T | None:
        """``value`` (a part of this document at ``where``) as ``tp``; ``None`` after
        recording the first problem msgspec finds in it."""
        attempt = value
        for _ in range(len(self._nodes) + 1):  # each round reads one more plain number as text
            try:
                result: T = msgspec.convert(attempt, tp, strict=True, dec_hook=dec_hook)
                return result
            except msgspec.ValidationError as exc:
                message, path = _split(exc)
                path = self._name_keys(attempt, tp, path, message)
                text = self._as_text(attempt, where, path, message)
                if text is None:
                    self._report(tp, where, path, message)
                    return None
                attempt = _with(attempt, path, text)
        raise AssertionError("every round replaced one more scalar")

    def convert_struct(self, value: Any, cls: type[S], where: str) -> tuple[S | None, S | None]:
        """A mapping as the struct ``cls``, its keys converted one by one (a list or mapping
        of structs item by item) so that each wrong part is one problem. Returns the struct
        (``None`` on any problem) and a partial one built from the parts that were right,
        for cross-reference checks that report the rest in the same pass."""
        if not isinstance(value, dict):
            self.error(where or "(top level)", f"expected a mapping, found {self._found(where)}")
            return None, None
        fields = msgspec.structs.fields(cls)
        by_key = {f.encode_name: f for f in fields}
        kwargs: dict[str, Any] = {}
        ok = True
        for key, item in value.items():
            spec = by_key.get(key)
            here = join(where, key)
            if spec is None:
                line = self.key_lines.get(here, self.line(here))
                known = ", ".join(_known_keys(msgspec.inspect.type_info(cls)))
                self.problems.add(self.file, line, here, f"unknown key (known keys: {known})")
                ok = False
                continue
            part, part_ok = self._field(item, spec, here)
            ok = ok and part_ok
            if part is not None:
                kwargs[spec.name] = part
        for spec in fields:
            if spec.required and spec.encode_name not in value:
                here = join(where, spec.encode_name)
                self.problems.add(self.file, self.line(where), here, "required key is missing")
                ok = False
        try:
            built = cls(**kwargs)
        except ValueError as exc:  # its own checks, on what was right (and defaults for the rest)
            self.error(where or "(top level)", str(exc))
            return None, None
        except TypeError as exc:
            if ok:
                self.error(where or "(top level)", str(exc))
            return None, None
        return (built if ok else None), built

    # Internals

    def _field(self, item: Any, spec: msgspec.structs.FieldInfo, where: str) -> tuple[Any, bool]:
        origin, args = get_origin(spec.type), [a for a in get_args(spec.type) if a is not type(None)]
        if origin in (types.UnionType, typing.Union) and len(args) == 1:  # X | None
            origin, args = get_origin(args[0]), list(get_args(args[0]))
        if origin is list and isinstance(item, list):
            parts = [self.convert(x, args[0], join(where, i)) for i, x in enumerate(item)]
            self._kept[where] = [i for i, p in enumerate(parts) if p is not None]
            return [p for p in parts if p is not None], all(p is not None for p in parts)
        if origin is dict and isinstance(item, dict):
            converted = {k: self.convert(v, args[1], join(where, k)) for k, v in item.items()}
            return {k: v for k, v in converted.items() if v is not None}, None not in converted.values()
        target = spec.type if not args else args[0] if len(args) == 1 and origin is None else None
        if isinstance(item, dict) and target is not None and _plain_struct(target):
            built, partial = self.convert_struct(item, target, where)  # a section: key by key
            return (built if built is not None else partial), built is not None
        part = self.convert(item, spec.type, where)
        return part, part is not None

    def _plain(self, node: yaml.Node, where: str) -> Any:
        self._nodes[where] = node
        self.lines[where] = line_of(node)
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                here = join(where, key)
                if key in out:
                    self.problems.add(self.file, line_of(key_node), here, "duplicate key")
                    continue
                self.key_lines[here] = line_of(key_node)
                out[key] = self._plain(value_node, here)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self._plain(child, join(where, i)) for i, child in enumerate(node.value)]
        if node.tag == "tag:yaml.org,2002:str":
            return node.value
        return self._constructor.construct_object(node, deep=True)

    def _name_keys(self, value: Any, tp: Any, path: Path_, message: str) -> Path_:
        """msgspec writes ``[...]`` for a mapping key: find the key whose item alone gives
        the same error."""
        while None in path:
            at = path.index(None)
            container = _get(value, path[:at])
            found = None
            for key in container:
                trial = _with(value, path[:at], {key: container[key]})
                try:
                    msgspec.convert(trial, tp, strict=True, dec_hook=dec_hook)
                except msgspec.ValidationError as exc:
                    again, again_path = _split(exc)
                    if again == message and len(again_path) == len(path):
                        found = key
                        break
            if found is None:
                return path[:at]
            path = [*path[:at], found, *path[at + 1 :]]
        return path

    def _as_text(self, value: Any, where: str, path: Path_, message: str) -> str | None:
        m = _EXPECTED.match(message)
        if m is None or "str" not in m.group(1).split(" | "):
            return None
        node = self._nodes.get(_where(where, path))
        if not isinstance(node, yaml.ScalarNode) or node.style is not None:
            return None
        try:
            current = _get(value, path)
        except (KeyError, IndexError, TypeError):
            return None
        if isinstance(current, _TEXT_LIKE) and not isinstance(current, bool):
            return str(node.value)
        return None

    def _report(self, tp: Any, where: str, path: Path_, message: str) -> None:
        here = _where(where, path)
        if m := re.match(r"^Object contains unknown field `(.*)`$", message):
            key = join(here, m.group(1))
            known = ", ".join(_known_keys(_type_at(tp, path)))
            line = self.key_lines.get(key, self.line(key))
            self.problems.add(self.file, line, key, f"unknown key (known keys: {known})")
        elif m := re.match(r"^Object missing required field `(.*)`$", message):
            self.problems.add(self.file, self.line(here), join(here, m.group(1)), "required key is missing")
        elif m := _EXPECTED.match(message):
            wanted = [_TYPE_WORDS.get(t, t) for t in m.group(1).split(" | ") if t != "null"]
            self.error(here, f"expected {' or '.join(wanted)}{m.group(2)}, found {self._found(here)}")
        elif m := _BOUND.match(message):
            kind = _TYPE_WORDS.get(m.group(1), m.group(1))
            limit = f"{_BOUND_WORDS[m.group(2)]} {float(m.group(3)):g}"
            self.error(here, f"expected {kind} {limit}, found {self._found(here)}")
        elif m := re.match(r"^Invalid (?:enum )?value (.*)$", message):
            info = _type_at(tp, path)
            allowed = getattr(info, "values", None)
            if allowed:
                self.error(here, f"{m.group(1)} is not one of {', '.join(map(repr, allowed))}")
            else:
                self.error(here, f"{m.group(1)} is not allowed here")
        else:
            self.error(here or "(top level)", message)

    def _found(self, where: str) -> str:
        node = self._nodes.get(where)
        if node is None:
            return "nothing"
        if isinstance(node, yaml.ScalarNode):
            return repr(node.value)
        return f"a {_kind(node)}"


def _plain_struct(tp: Any) -> bool:
    """A struct class read key by key: not a tagged union member, not read from a scalar."""
    return (
        isinstance(tp, type)
        and issubclass(tp, msgspec.Struct)
        and tp.__struct_config__.tag is None
        and not hasattr(tp, "from_yaml")
    )


def _where(where: str, path: Path_) -> str:
    for key in path:
        assert key is not None
        where = join(where, key)
    return where
