"""WebSocket frames, both ways: typed structs, one decoder for clients' frames, one encoder.

Theory of operation
-------------------
Every frame is a JSON object whose ``type`` names it. Each protocol (the desk's, the chat's,
the wallboard's) is a set of frozen ``msgspec`` structs tagged on ``type``: clients' frames
subclass ``ClientFrame`` (unknown fields refused), the server's subclass ``ServerFrame``.

A client frame is read in three steps, and any refusal is a ``FrameError`` that becomes an
``error`` frame (``ErrorFrame``) and changes nothing:

1. ``core.client_json.decode_json``: size, nesting, string and number limits; lone
   surrogates and NULs become U+FFFD;
2. the ``id`` the client may give its request (a string or a whole number) is taken out,
   so every later refusal echoes it; a ``type`` the protocol does not have is refused
   naming the known ones;
3. ``msgspec.convert`` into the protocol's union: field types and the constraints in each
   field's ``msgspec.Meta`` (non-empty text up to a length, whole numbers in a range,
   literal choices). Its ``ValidationError`` is told again as ``bad_field`` naming the
   field, in words a person reads ("rating must be a whole number from 1 to 5").

Server frames are encoded by ``encode_frame`` (``msgspec.json``): a field whose value is
``UNSET`` is left out, a ``None`` is sent as ``null``. Pure: no I/O.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType
from msgspec import inspect as mi

from callcenter.core.client_json import InputRefused, JsonLimits, decode_json, validation_parts

MsgId = str | int  # what a client may give as a request's ``id``
NON_BLANK = r"\S"  # the pattern of text that must not be empty (``re.search``)


class ClientFrame(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="type"):
    """A frame a client sends; subclasses give their ``tag``."""


class ServerFrame(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """A frame the server sends; subclasses give their ``tag``."""


class ErrorFrame(ServerFrame, tag="error", frozen=True):
    """A refusal: a stable ``code``, a ``message``, the ``field`` at fault and the ``id`` of
    the request it answers (both left out when there is none)."""

    code: str
    message: str
    field: str | UnsetType = UNSET
    id: MsgId | UnsetType = UNSET


class FrameError(Exception):
    """A client frame is not acceptable; becomes an ``error`` frame and changes nothing."""

    def __init__(self, code: str, message: str, *, field: str | None = None, msg_id: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.msg_id = msg_id

    def frame(self) -> ErrorFrame:
        return ErrorFrame(
            code=self.code,
            message=self.message,
            field=UNSET if self.field is None else self.field,
            id=UNSET if self.msg_id is None else self.msg_id,
        )


_ENCODER = msgspec.json.Encoder()


def encode_frame(frame: ServerFrame) -> bytes:
    """The JSON text (UTF-8) of one server frame."""
    return _ENCODER.encode(frame)


@functools.cache
def tags(union: Any) -> dict[str, type[ClientFrame]]:
    """``{type: class}`` of a union of frame classes (worked out once per union)."""
    return {str(cls.__struct_config__.tag): cls for cls in _members(union)}


def decode_object(raw: str | bytes, limits: JsonLimits) -> dict[str, Any]:
    """One frame as a JSON object, read by ``core.client_json``."""
    try:
        data = decode_json(raw, limits, what="frame")
    except InputRefused as exc:
        code = "frame_too_large" if exc.code == "too_large" else exc.code
        raise FrameError(code, exc.message, field=None if exc.field == "body" else exc.field) from None
    if not isinstance(data, dict):
        raise FrameError("bad_frame", "a frame must be a JSON object")
    return data


def decode_frame(
    raw: str | bytes, union: Any, *, limits: JsonLimits, with_id: bool = False
) -> tuple[Any, Any]:
    """Decode and validate one client frame into a member of ``union``: ``(msg_id,
    frame)``; ``msg_id`` is taken out only ``with_id`` (else an ``id`` is an unknown field)."""
    data = decode_object(raw, limits)
    msg_id = data.pop("id", None) if with_id else None
    if msg_id is not None and (isinstance(msg_id, bool) or not isinstance(msg_id, str | int)):
        raise FrameError("bad_field", "id must be a string or a number", field="id")
    known = tags(union)
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in known:
        raise FrameError(
            "unknown_type",
            f"unknown message type {kind!r} (known: {', '.join(sorted(known))})",
            field="type",
            msg_id=msg_id,
        )
    try:
        return msg_id, msgspec.convert(data, union)
    except msgspec.ValidationError as exc:
        field, message = explain(known[kind], str(exc))
        raise FrameError("bad_field", message, field=field, msg_id=msg_id) from None


# Refusals in words ------------------------------------------------------------------------

_MISSING = "Object missing required field `"
_UNKNOWN = "Object contains unknown field `"


def explain(cls: type[ClientFrame], error: str) -> tuple[str | None, str]:
    """``(field, message)`` for msgspec's ``error`` converting into ``cls``."""
    if error.startswith(_MISSING):
        name = error.removeprefix(_MISSING).removesuffix("`")
        return name, f"{name} is required"
    if error.startswith(_UNKNOWN):
        name = error.removeprefix(_UNKNOWN).removesuffix("`")
        return name, f"unknown field {name!r}"
    text, path = validation_parts(error)
    if not path or not isinstance(path[0], str):
        return None, error
    name = path[0]
    kind = _field_types(cls).get(name)
    if kind is None:
        return name, f"{name}: {text}"
    return name, f"{name} {_expected(kind, error)}"


def _expected(kind: mi.Type, error: str) -> str:
    if isinstance(kind, mi.StrType):
        if kind.max_length is not None and f"length <= {kind.max_length}" in error:
            return f"is longer than {kind.max_length} characters"
        if kind.pattern == NON_BLANK and "matching regex" in error:
            return "must not be empty"
        return "must be text"
    if isinstance(kind, mi.IntType):
        low, high = kind.ge, kind.le
        span = f" from {low} to {high}" if low is not None and high is not None else ""
        return f"must be a whole number{span}"
    if isinstance(kind, mi.BoolType):
        return "must be true or false"
    if isinstance(kind, mi.LiteralType):
        return f"must be one of {', '.join(map(repr, kind.values))}"
    return error.split(" - at ")[0]


@functools.cache
def _field_types(cls: type[ClientFrame]) -> dict[str, mi.Type]:
    """Each field's type, ``None`` taken out of optional ones (worked out once per class)."""
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    out: dict[str, mi.Type] = {}
    for f in info.fields:
        kind = f.type
        if isinstance(kind, mi.UnionType):
            rest = [t for t in kind.types if not isinstance(t, mi.NoneType)]
            kind = rest[0] if len(rest) == 1 else kind
        out[f.encode_name] = kind
    return out


def _members(union: Any) -> tuple[type[ClientFrame], ...]:
    args: tuple[type[ClientFrame], ...] = getattr(union, "__args__", (union,))
    return args
