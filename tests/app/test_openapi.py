"""The OpenAPI 3.1 document at /api/v1/openapi.json is generated from the routes' own
declarations and types: every /api/v1 route of the running app (and /metrics) is in it and
nothing else is; every $ref resolves; each operation says who may call it, as
docs/security.md does; a body that breaks its schema is a 4xx naming the field; and the
browsable page at /api/docs is served by us with nothing fetched from elsewhere."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from demo_center import demo_config

from callcenter.app import create_app
from callcenter.core.clock import VirtualClock

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_750_000_000.0
DESCRIBED = re.compile(r"^/api/v1(/|$)|^/metrics$")
_ROW = re.compile(r"^\|\s*(GET|POST|PUT|PATCH|DELETE)\s*\|\s*`([^`]+)`\s*\|\s*([^|]+?)\s*\|$")
Client = TestClient[Any, Any]


@pytest.fixture
async def client(aiohttp_client: Callable[..., Any], sqlite_url: str) -> Client:
    result: Client = await aiohttp_client(create_app(demo_config(sqlite_url), clock=VirtualClock(NOW)))
    return result


async def document(client: Client) -> dict[str, Any]:
    response = await client.get("/api/v1/openapi.json")
    assert response.status == 200
    doc: dict[str, Any] = await response.json()
    return doc


async def test_every_api_route_is_described_and_every_description_is_a_route(client: Client) -> None:
    routed = set()
    for route in client.app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if DESCRIBED.match(path) and route.method != "HEAD":
            routed.add((route.method.lower(), path))
    doc = await document(client)
    described = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert len(routed) > 30
    assert routed - described == set(), "routes without a description in the OpenAPI document"
    assert described - routed == set(), "described routes the app does not serve"


async def test_the_document_is_openapi_3_1_and_every_reference_resolves(client: Client) -> None:
    doc = await document(client)
    assert doc["openapi"] == "3.1.0" and doc["info"]["version"]
    schemas = doc["components"]["schemas"]
    refs = _refs(doc)
    assert refs and all(ref.startswith("#/components/schemas/") for ref in refs)
    assert {ref.rsplit("/", 1)[1] for ref in refs} <= set(schemas)
    tags = {t["name"] for t in doc["tags"]}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            assert op["summary"] and op["tags"][0] in tags and op["x-roles"], where
            assert any(code.startswith("2") for code in op["responses"]), where
            assert all(answer["description"] for answer in op["responses"].values()), where
            in_path = set(re.findall(r"\{([^}]+)\}", path))
            assert in_path == {p["name"] for p in op["parameters"] if p["in"] == "path"}, where
            if "requestBody" in op and "application/json" in op["requestBody"]["content"]:
                name = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
                assert schemas[name]["additionalProperties"] is False, f"{where}: {name} takes unknown fields"
                assert "400" in op["responses"] and "413" in op["responses"], where
    assert schemas["NewUser"]["properties"]["chat_capacity"]["maximum"] == 20
    assert schemas["PriorityChange"]["properties"]["priority_class"]["anyOf"][0]["maximum"] == 9


async def test_who_may_call_each_route_is_what_docs_security_md_says(client: Client) -> None:
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    table = {}
    for line in text.split("## Entry points", 1)[1].split("\n## ", 1)[0].splitlines():
        if m := _ROW.match(line.strip()):
            table[(m[1].lower(), m[2])] = [w.strip() for w in m[3].split(" or ")]
    doc = await document(client)
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op["x-roles"] == table[(method, path)], f"{method.upper()} {path}"


async def _login(client: Client, user: str) -> dict[str, str]:
    res = await client.post("/api/v1/auth/login", json={"username": user, "password": user})
    assert res.status == 200, await res.text()
    return {"X-CSRF-Token": (await res.json())["csrf_token"]}


@pytest.mark.parametrize(
    ("user", "method", "path", "body", "field", "words"),
    [
        ("alice", "POST", "/api/v1/customers", {"name": 5, "account_number": "A-1"}, "name", "must be text"),
        (
            "alice",
            "POST",
            "/api/v1/customers",
            {"name": "N", "account_number": "A 1"},
            "account_number",
            "letters",
        ),
        (
            "alice",
            "POST",
            "/api/v1/customers",
            {"name": "N", "account_number": "A-1", "vip": 1},
            "vip",
            "known:",
        ),
        ("alice", "PATCH", "/api/v1/tickets/t-1", {"status": "solved"}, "status", "open, pending, closed"),
        ("alice", "PATCH", "/api/v1/customers/c-1", {"phones": ["x", 5]}, "phones[1]", "must be text"),
        (
            "admin",
            "POST",
            "/api/v1/auth/users",
            {"username": "zed", "password": "long enough", "chat_capacity": 99},
            "chat_capacity",
            "at most 20",
        ),
        (
            "admin",
            "PUT",
            "/api/v1/auth/users/alice/password",
            {"password": "short"},
            "password",
            "at least 8",
        ),
        (
            "sam",
            "POST",
            "/api/v1/supervisor/contacts/c-1/priority",
            {"priority_class": 12},
            "priority_class",
            "at most 9",
        ),
        (
            "sam",
            "POST",
            "/api/v1/supervisor/agents/alice/state",
            {"state": "asleep"},
            "state",
            "ready, not_ready",
        ),
        ("sam", "POST", "/api/v1/supervisor/contacts/c-1/move", {}, "to_queue", "required"),
        (
            "anyone",
            "POST",
            "/api/v1/auth/login",
            {"username": "a", "password": "b", "remember": True},
            "remember",
            "unknown",
        ),
    ],
)
async def test_a_body_that_breaks_its_schema_is_a_400_naming_the_field(
    client: Client, user: str, method: str, path: str, body: dict[str, Any], field: str, words: str
) -> None:
    headers = await _login(client, user) if user != "anyone" else {}
    res = await client.request(method, path, json=body, headers=headers)
    assert res.status == 400, await res.text()
    error = (await res.json())["error"]
    assert error["field"] == field and words in error["message"], error


async def test_the_docs_page_is_served_here_and_linked_from_home(client: Client) -> None:
    page = await client.get("/api/docs")
    assert page.status == 200 and page.content_type == "text/html"
    html = await page.text()
    assert "/api/v1/openapi.json" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "the page loads something from elsewhere"
    assert not re.search(r"""(import|fetch)\(?\s*["'](https?:)?//""", html)
    home = await (await client.get("/")).text()
    assert 'href="/api/docs"' in home
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "/api/docs" in readme


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()
