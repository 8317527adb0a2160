"""The REST API's typed seam: one ``Operation`` per route, bodies as ``msgspec.Struct``
types, and the OpenAPI 3.1 document generated from both.

Theory of operation
-------------------
Each web module declares its routes as ``Operation`` values (method, path, summary, who
may call it, query parameters, the request and response types, the errors it answers
with) and registers each with its handler in one call (``auth.guard.api_route``), so a
route cannot be added without its description. ``openapi_document`` turns the app's
operations into the document served at ``/api/v1/openapi.json``: the components come from
``msgspec.json.schema_components`` over the very types the handlers decode and encode.

A request body is first read by ``core.client_json.decode_json`` (size, nesting, lone
surrogates, huge numbers), then ``convert_body`` turns the JSON value into its struct.
Request structs forbid unknown fields. Every ``msgspec.ValidationError`` becomes an
``InputRefused`` (400) naming the field (``phones[1]``, ``skills``), in plain words.
Pure: msgspec only; no I/O.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterable
from typing import Any, Literal, TypeVar

import msgspec

from callcenter.core.client_json import InputRefused, dotted, validation_parts

T = TypeVar("T")
REF = "#/components/schemas/{name}"
JSON = "application/json"
# Who may call a route, in the words of docs/security.md's "Entry points" table.
Who = Literal["anyone", "customer", "agent", "supervisor", "admin", "metrics-token", "carrier"]
_SESSION_ROLES = ("agent", "supervisor", "admin")


class ErrorDetail(msgspec.Struct, frozen=True, kw_only=True):
    status: int
    message: str
    field: str | msgspec.UnsetType | None = msgspec.UNSET  # the part of the request at fault


class Error(msgspec.Struct, frozen=True, kw_only=True):
    """Every error the API answers: ``{"error": {"status", "message", "field"}}``."""

    error: ErrorDetail


class Param(msgspec.Struct, frozen=True, kw_only=True):
    """A query (or path) parameter; ``kind`` is its type with its constraints
    (``Annotated[int, Meta(ge=1)]``, a ``Literal``)."""

    name: str
    description: str
    kind: Any = str
    where: Literal["query", "path"] = "query"
    required: bool = False


class Operation(msgspec.Struct, frozen=True, kw_only=True):
    """One route of the API: what it does, who may call it, what goes in and comes out.
    Path parameters (``{customer_id}``) are described as text unless ``params`` names them.
    ``body``/``response`` are msgspec types; ``body_media``/``response_media`` other than
    JSON are plain text (a CSV upload, Prometheus text). ``errors``: status -> why (the
    body is ``Error``); ``also``: status -> why, answered with a ``response`` body."""

    method: str
    path: str
    summary: str
    tag: str
    who: tuple[Who, ...]
    description: str = ""
    params: tuple[Param, ...] = ()
    body: Any = None
    body_media: str = JSON
    response: Any = None
    status: int = 200
    response_media: tuple[str, ...] = (JSON,)
    errors: dict[int, str] = {}
    also: dict[int, str] = {}  # other statuses that answer with ``response`` too


class ApiRoutes:
    """The operations an app serves (``appkeys.OPENAPI``), in registration order."""

    def __init__(self) -> None:
        self.operations: list[Operation] = []
        self._document: dict[str, Any] | None = None

    def add(self, operation: Operation) -> None:
        self.operations.append(operation)
        self._document = None

    def document(self, *, title: str, version: str) -> dict[str, Any]:
        if self._document is None:
            self._document = openapi_document(self.operations, title=title, version=version)
        return self._document


# Bodies ------------------------------------------------------------------------------


def convert_body(value: Any, kind: type[T], *, what: str = "body") -> T:
    """``value`` (a decoded JSON document) as ``kind``, or ``InputRefused`` 400 naming the
    field in plain words."""
    if not isinstance(value, dict):
        raise InputRefused(400, "bad_json", f"the {what} must be a JSON object", what)
    try:
        return msgspec.convert(value, kind)
    except msgspec.ValidationError as exc:
        field, message = explain(str(exc), kind)
        raise InputRefused(400, "bad_field", message, field or what) from None


_NAMES = {
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "null",
}


def explain(error: str, kind: Any = None) -> tuple[str, str]:
    """(field, message) for a msgspec validation error: ``Expected `int` >= 1 - at
    `$.limit``` is ("limit", "limit must be at least 1")."""
    text, path = validation_parts(error)
    field = dotted(path)
    if found := re.match(r"Object missing required field `([^`]+)`", text):
        field = f"{field}.{found[1]}" if field else found[1]
        return field, f"{field} is required"
    if found := re.match(r"Object contains unknown field `([^`]+)`", text):
        field = f"{field}.{found[1]}" if field else found[1]
        known = ", ".join(_fields(kind)) if not path else ""
        return field, f"unknown field {found[1]!r}" + (f"; known: {known}" if known else "")
    name = field or "the body"
    hint = _hint(kind, field)
    if found := re.match(r"Invalid enum value (.+)", text):
        choices = _choices(kind, field)
        return field, f"{name} must be one of {choices}" if choices else f"{name}: {found[1]} is not allowed"
    if found := re.match(r"Expected `([^`]+)`, got `([^`]+)`", text):
        wanted = " or ".join(_NAMES.get(t, t) for t in found[1].split(" | "))
        return field, f"{name} must be {wanted}, not {_NAMES.get(found[2], found[2])}{hint}"
    if found := re.match(r"Expected `(str|array|object)` of length (<=|>=) (\d+)", text):
        unit = {"str": "characters", "array": "items", "object": "entries"}[found[1]]
        if found[2] == ">=" and found[3] == "1":
            return field, f"{name} must not be empty{hint}"
        bound = "at most" if found[2] == "<=" else "at least"
        return field, f"{name} must have {bound} {found[3]} {unit}{hint}"
    if found := re.match(r"Expected `(int|float)` (<=|>=|<|>) (\S+)", text):
        bound = {"<=": "at most", ">=": "at least", "<": "below", ">": "above"}[found[2]]
        return field, f"{name} must be {bound} {found[3]}{hint}"
    if text.startswith("Expected `str` matching regex"):
        return field, f"{name} is not in the expected form{hint or ' (' + text.split('regex ', 1)[1] + ')'}"
    return field, f"{name}: {text}"


def _field_type(kind: Any, field: str) -> Any:
    """The annotation of a top-level field of struct ``kind`` (None when unknown)."""
    if not field or "." in field or "[" in field or not isinstance(kind, type):
        return None
    try:
        return typing.get_type_hints(kind, include_extras=True).get(field)
    except (NameError, TypeError):
        return None


def _hint(kind: Any, field: str) -> str:
    annotation = _field_type(kind, field)
    for meta in _flatten(annotation):
        if isinstance(meta, msgspec.Meta) and meta.description:
            return f" ({meta.description})"
    return ""


def _choices(kind: Any, field: str) -> str:
    values = [v for v in _flatten(_field_type(kind, field)) if isinstance(v, str)]
    return ", ".join(values)


def _flatten(annotation: Any) -> list[Any]:
    """The metadata and literal values anywhere inside an annotation."""
    if annotation is None:
        return []
    out: list[Any] = []
    if typing.get_origin(annotation) is typing.Annotated:
        base, *meta = typing.get_args(annotation)
        return [*meta, *_flatten(base)]
    if typing.get_origin(annotation) is Literal:
        return list(typing.get_args(annotation))
    for arg in typing.get_args(annotation):
        out += _flatten(arg)
    return out


def _fields(kind: Any) -> tuple[str, ...]:
    return tuple(getattr(kind, "__struct_fields__", ()))


# The document ------------------------------------------------------------------------


def openapi_document(operations: Iterable[Operation], *, title: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``operations``; every schema a body names is a
    component generated from its type."""
    ops = list(operations)
    types: list[Any] = [Error]
    for op in ops:
        for kind in (op.body, op.response):
            if kind is not None and op_uses_json(op, kind) and kind not in types:
                types.append(kind)
    refs, components = msgspec.json.schema_components(types, ref_template=REF)
    schema_of = dict(zip(map(_key, types), refs, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for op in sorted(ops, key=lambda o: (o.tag, o.path, o.method)):
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, schema_of)
    tags = sorted({op.tag for op in ops})
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "tags": [{"name": tag} for tag in tags],
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(components.items()))},
    }


def op_uses_json(op: Operation, kind: Any) -> bool:
    if kind is op.body:
        return op.body_media == JSON
    return JSON in op.response_media


def _key(kind: Any) -> str:
    return repr(kind)


def _operation(op: Operation, schema_of: dict[str, Any]) -> dict[str, Any]:
    login = any(w in _SESSION_ROLES for w in op.who)
    out: dict[str, Any] = {
        "tags": [op.tag],
        "summary": op.summary,
        "operationId": f"{op.method.lower()}{re.sub(r'[^A-Za-z0-9]+', '_', op.path)}".rstrip("_"),
        "x-roles": list(op.who),
        "description": _who_text(op.who) + (f"\n\n{op.description}" if op.description else ""),
        "parameters": [_parameter(p) for p in _params(op)],
        "responses": {},
    }
    if op.body is not None:
        schema = schema_of[_key(op.body)] if op.body_media == JSON else {"type": "string"}
        out["requestBody"] = {"required": True, "content": {op.body_media: {"schema": schema}}}
    ok: dict[str, Any] = {"description": "OK" if op.status < 300 else "created"}
    if op.response is not None:
        ok["content"] = {
            media: {"schema": schema_of[_key(op.response)] if media == JSON else {"type": "string"}}
            for media in op.response_media
        }
    out["responses"][str(op.status)] = ok
    for status, why in op.also.items():
        out["responses"][str(status)] = {**ok, "description": why}
    errors = dict(op.errors)
    if op.body is not None or op.params:
        errors.setdefault(400, "bad input; the error names the field")
    if op.body is not None:
        errors.setdefault(413, "the body is over the size limit")
    if login:
        errors.setdefault(401, "not logged in")
        if op.who != ("agent",):
            errors.setdefault(403, f"needs the {' or '.join(op.who)} role")
    for status, why in sorted(errors.items()):
        error_ref = schema_of[_key(Error)]
        out["responses"][str(status)] = {"description": why, "content": {JSON: {"schema": error_ref}}}
    return out


def _who_text(who: tuple[str, ...]) -> str:
    if who == ("anyone",):
        return "Open to anyone."
    return f"Who: {' or '.join(who)}."


def _params(op: Operation) -> list[Param]:
    named = {p.name for p in op.params}
    in_path = [
        Param(name=name, description=name.replace("_", " "), where="path", required=True)
        for name in re.findall(r"\{([^}]+)\}", op.path)
        if name not in named
    ]
    return [*in_path, *op.params]


def _parameter(param: Param) -> dict[str, Any]:
    return {
        "name": param.name,
        "in": param.where,
        "required": param.required or param.where == "path",
        "description": param.description,
        "schema": msgspec.json.schema(param.kind),
    }
