"""JSON frames from WebSocket clients: decoding and validation against message dataclasses.

Both client protocols (the agent desk's and the customer chat's) are sets of frozen
dataclasses keyed by a ``type`` string. ``parse_frame`` decodes one frame, picks the class,
and checks each field against its type hint (text, true/false, whole numbers with an
optional ``min``/``max`` in the field's metadata, literal choices, optional fields), refusing
unknown or missing fields. Every refusal is a ``FrameError`` that names the field. Frames
are decoded by ``core.client_json`` like HTTP bodies, under the ``limits`` the caller gives.
"""

from __future__ import annotations

import functools
from dataclasses import MISSING, Field, fields
from typing import Any, Literal, get_args, get_origin, get_type_hints

from callcenter.core.client_json import InputRefused, JsonLimits, decode_json


class FrameError(Exception):
    """A client frame is not acceptable; becomes an ``error`` frame and changes nothing."""

    def __init__(self, code: str, message: str, *, field: str | None = None, msg_id: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.msg_id = msg_id

    def frame(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "error", "code": self.code, "message": self.message}
        if self.field is not None:
            out["field"] = self.field
        if self.msg_id is not None:
            out["id"] = self.msg_id
        return out


def decode_object(raw: str | bytes, limits: JsonLimits) -> dict[str, Any]:
    """One frame as a JSON object, read by ``core.client_json`` (size, nesting, string
    length and number limits; lone surrogates and NULs become U+FFFD)."""
    try:
        data = decode_json(raw, limits, what="frame")
    except InputRefused as exc:
        code = "frame_too_large" if exc.code == "too_large" else exc.code
        raise FrameError(code, exc.message, field=None if exc.field == "body" else exc.field) from None
    if not isinstance(data, dict):
        raise FrameError("bad_frame", "a frame must be a JSON object")
    return data


def parse_frame(
    raw: str | bytes, types: dict[str, type], *, limits: JsonLimits, max_text: int, with_id: bool = False
) -> tuple[Any, Any]:
    """Decode and validate one frame: ``(msg_id, message)``; ``msg_id`` only ``with_id``."""
    data = decode_object(raw, limits)
    msg_id = data.pop("id", None) if with_id else None
    if msg_id is not None and (isinstance(msg_id, bool) or not isinstance(msg_id, str | int)):
        raise FrameError("bad_field", "id must be a string or a number", field="id")
    kind = data.pop("type", None)
    cls = types.get(kind) if isinstance(kind, str) else None
    if cls is None:
        known = ", ".join(sorted(types))
        raise FrameError(
            "unknown_type", f"unknown message type {kind!r} (known: {known})", field="type", msg_id=msg_id
        )
    return msg_id, build(cls, data, msg_id=msg_id, max_text=max_text)


@functools.cache
def _shape(cls: type) -> tuple[dict[str, Any], dict[str, Field[Any]]]:
    """A frame class's field types and specs, worked out once (``get_type_hints`` compiles)."""
    return get_type_hints(cls), {f.name: f for f in fields(cls)}


def build(cls: type, data: dict[str, Any], *, msg_id: Any, max_text: int) -> Any:
    hints, specs = _shape(cls)
    for key in data:
        if key not in specs:
            raise FrameError("bad_field", f"unknown field {key!r}", field=key, msg_id=msg_id)
    values: dict[str, Any] = {}
    for name, spec in specs.items():
        if name not in data:
            if spec.default is MISSING and spec.default_factory is MISSING:
                raise FrameError("bad_field", f"{name} is required", field=name, msg_id=msg_id)
            continue
        values[name] = _check(hints[name], data[name], name, dict(spec.metadata), msg_id, max_text)
    return cls(**values)


def _check(tp: Any, value: Any, name: str, meta: dict[str, Any], msg_id: Any, max_text: int) -> Any:
    def refuse(message: str) -> FrameError:
        return FrameError("bad_field", message, field=name, msg_id=msg_id)

    args = get_args(tp)
    if type(None) in args:
        if value is None:
            return None
        tp = next(a for a in args if a is not type(None))
        args = get_args(tp)
    if get_origin(tp) is Literal:
        if value not in args:
            raise refuse(f"{name} must be one of {', '.join(map(repr, args))}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise refuse(f"{name} must be true or false")
        return value
    if tp is int:
        low, high = meta.get("min"), meta.get("max")
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or (low is not None and value < low)
            or (high is not None and value > high)
        ):
            span = f" from {low} to {high}" if low is not None and high is not None else ""
            raise refuse(f"{name} must be a whole number{span}")
        return value
    if not isinstance(value, str):
        raise refuse(f"{name} must be text")
    if not value.strip():
        raise refuse(f"{name} must not be empty")
    if len(value) > max_text:
        raise refuse(f"{name} is longer than {max_text} characters")
    return value
