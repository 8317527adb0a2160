"""The one way to read JSON a client sent (an HTTP body or a WebSocket frame).

Theory of operation
-------------------
Whatever arrives from outside goes through ``decode_json`` before any handler looks at it:

1. size: more than ``limits.max_bytes`` is refused (``too_large``; HTTP 413);
2. nesting: the raw text's bracket depth is counted (strings skipped) *before* parsing,
   so a deeply nested document is refused (``too_deep``) instead of reaching the parser's
   recursion; a ``RecursionError`` that slips through anyway is refused the same way;
3. parsing: not JSON, or not UTF-8, is ``bad_json``;
4. values: every string longer than ``limits.max_string`` characters (``too_long``),
   every integer outside the 64-bit range the databases store, every float that is not
   finite (``1e400``, ``NaN``, ``Infinity``: ``bad_number``) is refused, naming its field;
5. text is made safe: lone surrogates (``"\\ud800"``, which no UTF-8 encoder takes) and
   NUL characters (which PostgreSQL text refuses) in keys and values become U+FFFD, so they
   never reach the database, the password hasher or the log.

Each refusal is an ``InputRefused`` with an HTTP status, a stable ``code`` for WebSocket
error frames, a message, and the field at fault (``body`` for the whole document, else a
dotted path like ``skills.cards`` or ``contact_ids[2]``). Pure: no I/O, no clock.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # a BIGINT column in SQLite and PostgreSQL
_INT_DIGITS = 20  # a longer integer literal is outside INT_MIN..INT_MAX whatever its digits
_UNSAFE_TEXT = re.compile("[\x00\ud800-\udfff]")
_SPECIAL = re.compile(r'["\\\[\]{}]')
REPLACEMENT = "\ufffd"
# The instants a client may name (epoch seconds, 1970-01-01 to 9000-01-01 UTC): far enough
# for any real date, near enough that a day or a year added to one stays a valid datetime.
EARLIEST_INSTANT, LATEST_INSTANT = 0.0, 253_370_764_800.0


def instant_in_range(at: float) -> bool:
    """Whether epoch seconds ``at`` is a finite instant from 1970 to 9000."""
    return math.isfinite(at) and EARLIEST_INSTANT <= at <= LATEST_INSTANT


ErrorPath = list[str | int | None]  # field names and list indexes; None: a key msgspec did not name

_VALIDATION_AT = re.compile(r"^(.*?) - at `\$([^`]*)`$", re.DOTALL)
_PATH_SEGMENT = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[(\.\.\.)\]")


def validation_parts(error: str) -> tuple[str, ErrorPath]:
    """A msgspec ``ValidationError``'s text as its message and the path it names:
    ``Expected `int` - at `$.queues[2].name``` is ``("Expected `int`", ["queues", 2, "name"])``.
    The one reading of that text for the config, REST bodies and WebSocket frames."""
    match = _VALIDATION_AT.match(error)
    if match is None:
        return error, []
    path: ErrorPath = []
    for name, index, _dots in _PATH_SEGMENT.findall(match.group(2)):
        path.append(name if name else int(index) if index else None)
    return match.group(1), path


def dotted(path: ErrorPath) -> str:
    """``["items", 0, "name"]`` as ``items[0].name`` (keys msgspec did not name left out)."""
    out = ""
    for key in path:
        if isinstance(key, int):
            out += f"[{key}]"
        elif key is not None:
            out += f".{key}" if out else key
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class JsonLimits:
    """How much one document may hold. ``max_depth`` counts nested arrays and objects
    (``{}`` is 1, ``{"a": []}`` is 2)."""

    max_bytes: int = 16 * 1024
    max_depth: int = 32
    max_string: int = 32 * 1024


class InputRefused(ValueError):
    """A client document is refused; ``status`` is the HTTP status it deserves."""

    def __init__(self, status: int, code: str, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


class _BigInt:
    """An integer literal too long to be in range, kept as text until its field is known."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def unsafe_text(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate or NUL (what ``clean_text`` replaces)."""
    return _UNSAFE_TEXT.search(text) is not None


def clean_text(text: str) -> str:
    """``text`` with each lone surrogate and NUL replaced by U+FFFD (encodable anywhere)."""
    return _UNSAFE_TEXT.sub(REPLACEMENT, text) if _UNSAFE_TEXT.search(text) else text


def nesting_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON ``text``, brackets inside strings
    not counted; one linear pass without recursion, so any input is safe to measure."""
    depth = deepest = 0
    in_string, escaped_at = False, -1
    for match in _SPECIAL.finditer(text):
        at, char = match.start(), match.group()
        if at == escaped_at:
            continue
        if in_string:
            if char == "\\":
                escaped_at = at + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def decode_json(raw: str | bytes | bytearray, limits: JsonLimits, *, what: str = "body") -> Any:
    """The cleaned JSON value of ``raw``, or ``InputRefused`` naming what is wrong
    (``what`` names the document in messages: ``body`` or ``frame``). A ``str`` is
    measured in characters, bytes in bytes."""
    if len(raw) > limits.max_bytes:
        raise InputRefused(413, "too_large", f"the {what} is over the limit of {limits.max_bytes} bytes")
    if isinstance(raw, bytes | bytearray):
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise InputRefused(400, "bad_json", f"the {what} must be JSON in UTF-8") from None
    else:
        text = raw
    if nesting_depth(text) > limits.max_depth:
        raise InputRefused(400, "too_deep", f"the {what} is nested deeper than {limits.max_depth} levels")
    try:
        value = json.loads(text, parse_int=_int, parse_constant=float)
    except RecursionError:
        raise InputRefused(400, "too_deep", f"the {what} is nested too deeply") from None
    except ValueError as exc:
        raise InputRefused(400, "bad_json", f"the {what} must be JSON ({exc})") from None
    return _clean(value, "", limits.max_string)


def _int(text: str) -> int | _BigInt:
    return _BigInt(text) if len(text.lstrip("-")) > _INT_DIGITS else int(text)


def _clean(value: Any, path: str, max_string: int) -> Any:
    """Check and clean one value; recursion is bounded by the depth checked above."""
    field = path or "body"
    if isinstance(value, str):
        if len(value) > max_string:
            raise InputRefused(400, "too_long", f"{field} is longer than {max_string} characters", field)
        return clean_text(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, _BigInt) or (isinstance(value, int) and not INT_MIN <= value <= INT_MAX):
        raise InputRefused(400, "bad_number", f"{field} is a number too big (limit: 64-bit integers)", field)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputRefused(400, "bad_number", f"{field} must be a finite number", field)
        return value
    if isinstance(value, list):
        return [_clean(v, f"{path}[{i}]", max_string) for i, v in enumerate(value)]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if len(key) > max_string:
                raise InputRefused(
                    400, "too_long", f"a key of {field} is over {max_string} characters", field
                )
            name = clean_text(key)
            out[name] = _clean(item, f"{path}.{name}" if path else name, max_string)
        return out
    return value
