"""The CRM REST API in the real app (create_app + install) over real HTTP: customers,
tickets, contact history, lookup and screen pop; bad bodies get 4xx naming the field;
the routes need a login by default."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from demo_center import demo_config

from callcenter.app import create_app
from callcenter.config.crm import CrmConfig
from callcenter.core.clock import VirtualClock
from callcenter.crm_link import web as crm_web

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_750_000_000.0


@pytest.fixture
async def client(aiohttp_client: Callable[..., Any], sqlite_url: str) -> TestClient:  # type: ignore[type-arg]
    app = create_app(demo_config(sqlite_url), clock=VirtualClock(NOW))
    crm_web.install(app, CrmConfig(default_country_code="+972"), guard=None)
    result: TestClient = await aiohttp_client(app)  # type: ignore[type-arg]
    return result


async def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    body: dict[str, Any] = (await response.json())["error"]
    assert body["status"] == status
    return body


async def test_customers_create_get_patch_search(client: TestClient) -> None:  # type: ignore[type-arg]
    created = await client.post(
        "/api/v1/customers",
        json={"name": "Lovelace", "first_name": "Ada", "account_number": "AC-1", "phones": ["050-123 4567"]},
    )
    assert created.status == 201
    ada = await created.json()
    assert created.headers["Location"] == f"/api/v1/customers/{ada['id']}"
    assert ada["phones"] == ["+972501234567"] and ada["identified"] is True
    got = await (await client.get(f"/api/v1/customers/{ada['id']}")).json()
    assert got["account_number"] == "AC-1" and got["created_at"] == NOW
    patched = await client.patch(f"/api/v1/customers/{ada['id']}", json={"tier": "vip", "language": "he"})
    assert (await patched.json())["tier"] == "vip"
    found = await (await client.get("/api/v1/customers", params={"q": "+972 50 123 4567"})).json()
    assert [c["id"] for c in found["customers"]] == [ada["id"]]
    card = await (
        await client.get("/api/v1/crm/lookup", params={"by": "caller_number", "value": "0501234567"})
    ).json()
    assert card["id"] == ada["id"] and card["language"] == "he"


async def test_bad_requests_name_the_field(client: TestClient) -> None:  # type: ignore[type-arg]
    ok = await client.post("/api/v1/customers", json={"name": "Lovelace", "account_number": "AC-1"})
    cid = (await ok.json())["id"]
    cases: list[tuple[str, str, Any, int, str]] = [
        ("POST", "/api/v1/customers", {"name": "X", "account_number": "AC-1"}, 409, "account_number"),
        ("POST", "/api/v1/customers", {"account_number": "AC-2"}, 400, "name"),
        (
            "POST",
            "/api/v1/customers",
            {"name": "X", "account_number": "AC-3", "phones": ["call me"]},
            400,
            "phones",
        ),
        ("POST", "/api/v1/customers", {"name": 5, "account_number": "AC-4"}, 400, "name"),
        ("POST", "/api/v1/customers", {"name": "X", "account_number": "AC-5", "vip": True}, 400, "vip"),
        ("POST", "/api/v1/customers", [1, 2], 400, "body"),
        ("PATCH", "/api/v1/customers/nobody", {"tier": "vip"}, 404, "customer_id"),
        ("PATCH", f"/api/v1/customers/{cid}", {"emails": ["no-at-sign"]}, 400, "emails"),
        ("POST", f"/api/v1/customers/{cid}/tickets", {"subject": "Hi"}, 400, "kind"),
        ("POST", f"/api/v1/customers/{cid}/tickets", {"kind": "complaint"}, 400, "subject"),
        ("POST", f"/api/v1/customers/{cid}/tickets", {"kind": "praise", "subject": "Hi"}, 400, "kind"),
        (
            "POST",
            f"/api/v1/customers/{cid}/tickets",
            {"kind": "request", "subject": "Hi", "due_at": "soon"},
            400,
            "due_at",
        ),
        (
            "POST",
            "/api/v1/customers/nobody/tickets",
            {"kind": "request", "subject": "Hi"},
            404,
            "customer_id",
        ),
        ("PATCH", "/api/v1/tickets/nope", {"status": "closed"}, 404, "ticket_id"),
    ]
    for method, path, body, status, field in cases:
        error = await _error(await client.request(method, path, json=body), status)
        assert error["field"] == field, (method, path, body, error)
    for path, params, field in [
        ("/api/v1/customers", {"limit": "many"}, "limit"),
        ("/api/v1/customers", {"limit": "0"}, "limit"),
        (f"/api/v1/customers/{cid}/tickets", {"status": "solved"}, "status"),
        (f"/api/v1/customers/{cid}/contacts", {"before": "yesterday"}, "before"),
        ("/api/v1/crm/lookup", {"by": "name", "value": "x"}, "by"),
        ("/api/v1/crm/lookup", {"by": "email"}, "value"),
    ]:
        error = await _error(await client.get(path, params=params), 400)
        assert error["field"] == field
    error = await _error(
        await client.get("/api/v1/crm/lookup", params={"by": "email", "value": "a@b.cc"}), 404
    )
    assert error["field"] == "value"
    error = await _error(await client.get("/api/v1/customers/nobody/contacts"), 404)
    bad_json = await client.post(
        "/api/v1/customers", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert (await _error(bad_json, 400))["field"] == "body"


async def test_tickets_and_contact_history(client: TestClient) -> None:  # type: ignore[type-arg]
    cid = (await (await client.post("/api/v1/customers", json={"name": "L", "account_number": "A1"})).json())[
        "id"
    ]
    made = await client.post(
        f"/api/v1/customers/{cid}/tickets",
        json={"kind": "complaint", "subject": "Fee charged twice", "owner": "alice", "due_at": "2025-06-20"},
    )
    assert made.status == 201
    ticket = await made.json()
    assert ticket["status"] == "open" and ticket["due_at"] == 1750377600.0
    patched = await client.patch(
        f"/api/v1/tickets/{ticket['id']}", json={"status": "pending", "add_contact_id": "c-9"}
    )
    assert (await patched.json())["contact_ids"] == ["c-9"]
    listed = await (await client.get(f"/api/v1/customers/{cid}/tickets", params={"status": "open"})).json()
    assert [t["status"] for t in listed["tickets"]] == ["pending"]
    await client.patch(f"/api/v1/tickets/{ticket['id']}", json={"status": "closed"})
    listed = await (await client.get(f"/api/v1/customers/{cid}/tickets", params={"status": "open"})).json()
    assert listed["tickets"] == []
    history = await (await client.get(f"/api/v1/customers/{cid}/contacts")).json()
    assert history == {"contacts": []}
    pop = await (await client.get("/api/v1/contacts/c-9/screen-pop", params={"customer_id": cid})).json()
    assert pop["identified"] and pop["customer"]["id"] == cid and pop["open_tickets"] == []


async def test_routes_need_a_login_by_default(aiohttp_client: Callable[..., Any], sqlite_url: str) -> None:
    app = create_app(demo_config(sqlite_url), clock=VirtualClock(NOW))
    crm_web.install(app)
    client = await aiohttp_client(app)
    error = await _error(await client.get("/api/v1/customers"), 401)
    assert "log in" in error["message"]
    login = await client.post("/api/v1/auth/login", json={"username": "alice", "password": "alice"})
    assert login.status == 200, await login.text()
    csrf = (await login.json())["csrf_token"]
    assert (await client.get("/api/v1/customers")).status == 200
    made = await client.post(
        "/api/v1/customers", json={"name": "L", "account_number": "A1"}, headers={"X-CSRF-Token": csrf}
    )
    assert made.status == 201


async def test_the_servers_openapi_document_has_the_crm_routes(client: TestClient) -> None:  # type: ignore[type-arg]
    response = await client.get("/api/v1/openapi.json")
    assert response.status == 200
    doc = await response.json()
    assert doc["openapi"] == "3.1.0" and doc["info"]["version"]
    crm = {
        (path, method)
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if op["tags"] == ["crm"]
    }
    assert crm == {(op.path, op.method.lower()) for op, _ in crm_web.ROUTES}
    new_customer = doc["components"]["schemas"]["CustomerIn"]
    assert new_customer["additionalProperties"] is False and set(new_customer["required"]) == {
        "name",
        "account_number",
    }
    assert new_customer["properties"]["name"]["maxLength"] == 128


async def test_a_contact_ending_is_sent_to_the_crm_webhook(
    aiohttp_client: Callable[..., Any], aiohttp_server: Callable[..., Any], sqlite_url: str
) -> None:
    import asyncio

    from aiohttp import web

    from callcenter.appkeys import BUS, LOG
    from callcenter.config.crm import ExternalCrmConfig
    from callcenter.core.events import InteractionEvent
    from callcenter.runtime.center import event_payload

    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def hook(request: web.Request) -> web.Response:
        await received.put(await request.json())
        return web.Response(status=204)

    fake = web.Application()
    fake.router.add_post("/hook", hook)
    server = await aiohttp_server(fake)
    app = create_app(demo_config(sqlite_url), clock=VirtualClock(NOW))
    crm_web.install(
        app, CrmConfig(external=ExternalCrmConfig(webhook_url=str(server.make_url("/hook")))), guard=None
    )
    client = await aiohttp_client(app)
    cid = (await (await client.post("/api/v1/customers", json={"name": "L", "account_number": "A1"})).json())[
        "id"
    ]
    await client.post(
        f"/api/v1/customers/{cid}/tickets",
        json={"kind": "request", "subject": "Limit", "contact_ids": ["c-1"]},
    )
    for kind, data in [
        ("contact.arrived", {"channel": "voice", "caller": "+15550100"}),
        ("contact.identified", {"customer_id": cid}),
        ("contact.note", {"text": "wants a higher limit", "by": "alice"}),
        ("contact.ended", {"reason": "completed"}),
    ]:
        event = InteractionEvent(type=kind, at=NOW, contact_id="c-1", data=data)
        app[LOG].append(event)
    app[BUS].publish("contact.ended", event_payload(event))  # as the center publishes what it logs
    sent = await asyncio.wait_for(received.get(), 10)
    assert sent["event"] == "contact.ended" and sent["customer_id"] == cid
    assert sent["end_reason"] == "completed" and sent["notes"][0]["text"] == "wants a higher limit"
    assert [t["subject"] for t in sent["tickets"]] == ["Limit"]
