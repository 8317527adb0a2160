"""The CRM's REST API under ``/api/v1`` and its resources; ``install(app)`` adds them.

Routes (JSON; errors are ``{"error": {"status", "message", "field"}}``):

- ``GET /api/v1/customers?q=&limit=&offset=``: search (number, e-mail, account, id, name prefix)
- ``POST /api/v1/customers``, ``GET|PATCH /api/v1/customers/{customer_id}``
- ``GET|POST /api/v1/customers/{customer_id}/tickets`` (``?status=open|pending|closed``)
- ``PATCH /api/v1/tickets/{ticket_id}``: status, owner, due_at, subject, kind, contact_ids
- ``GET /api/v1/customers/{customer_id}/contacts?limit=&before=``: contact history
- ``GET /api/v1/crm/lookup?by=&value=``: the card the IVR and the ACD would get
- ``GET /api/v1/contacts/{contact_id}/screen-pop?customer_id=``: the desk's screen pop

Every route runs ``guard(request, *roles)`` first: by default the auth module's
``require`` (agents, supervisors and admins may use all of them). The app gets
``CRM_STORE`` (the local store), ``CRM_DIRECTORY`` (local, or the outside CRM when
``crm.external`` has lookup URLs) and, with a ``webhook_url``, a sender fed from the bus
with ``contact.ended`` and ``contact.disposition``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from callcenter.appkeys import BUS, CLOCK, CONFIG, CRM_DIRECTORY, CRM_STORE, DB, LOG, OPENAPI
from callcenter.auth.guard import json_error, read_json, require, unavailable
from callcenter.core.client_json import instant_in_range
from callcenter.crm_link.config import LOOKUP_KEYS, CrmConfig
from callcenter.crm_link.demo import ensure_demo_customers
from callcenter.crm_link.history import contact_history, contact_summary
from callcenter.crm_link.http_crm import HttpCrmDirectory, WebhookSender
from callcenter.crm_link.inputs import CrmInputError
from callcenter.crm_link.live import LiveCrm
from callcenter.crm_link.openapi import OPENAPI_PATHS, OPENAPI_SCHEMAS
from callcenter.crm_link.ports import CrmUnavailable
from callcenter.crm_link.records import create_ticket, list_tickets, patch_ticket
from callcenter.crm_link.screen_pop import load_screen_pop
from callcenter.crm_link.store import SqlCrmStore
from callcenter.storage.log import LogUnavailable

__all__ = ["CRM_DIRECTORY", "CRM_STORE", "OPENAPI_PATHS", "crm_ctx", "install", "live_crm"]

log = logging.getLogger(__name__)

CRM_CONFIG = web.AppKey("crm_config", CrmConfig)
ROLES = ("agent", "supervisor")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Guard = Callable[..., Awaitable[Any]]


class _GuardSlot:
    """The guard the routes run (a slot, so a second ``install`` can replace it)."""

    def __init__(self, guard: Guard | None) -> None:
        self.guard = guard


CRM_GUARD = web.AppKey("crm_guard", _GuardSlot)


def install(app: web.Application, config: CrmConfig | None = None, *, guard: Guard | None = require) -> None:
    """Add the CRM routes and resources. ``config`` defaults to ``app[CONFIG].crm``.
    ``guard=None`` leaves the routes open (tests, or a deployment that checks roles in
    front). ``create_app`` installs it; installing again (a test) replaces config and guard."""
    first = CRM_GUARD not in app
    app[CRM_CONFIG] = config or getattr(app[CONFIG], "crm", None) or CrmConfig()
    app[CRM_GUARD] = _GuardSlot(guard)
    if not first:
        return
    if crm_ctx not in app.cleanup_ctx:  # app.py puts it before the center's
        app.cleanup_ctx.append(crm_ctx)
    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/api/v1/customers", search_customers),
        ("POST", "/api/v1/customers", create_customer),
        ("GET", "/api/v1/customers/{customer_id}", get_customer),
        ("PATCH", "/api/v1/customers/{customer_id}", patch_customer),
        ("GET", "/api/v1/customers/{customer_id}/tickets", get_tickets),
        ("POST", "/api/v1/customers/{customer_id}/tickets", post_ticket),
        ("PATCH", "/api/v1/tickets/{ticket_id}", patch_ticket_route),
        ("GET", "/api/v1/customers/{customer_id}/contacts", get_contacts),
        ("GET", "/api/v1/crm/lookup", lookup),
        ("GET", "/api/v1/contacts/{contact_id}/screen-pop", screen_pop),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, _guarded(handler))
    if OPENAPI in app:  # the app's /api/v1/openapi.json
        app[OPENAPI]["paths"].update(OPENAPI_PATHS)
        app[OPENAPI]["schemas"].update(OPENAPI_SCHEMAS)


def _guarded(handler: Handler) -> Handler:
    async def run(request: web.Request) -> web.StreamResponse:
        guard = request.app[CRM_GUARD].guard
        if guard is not None:
            await guard(request, *ROLES)
        try:
            return await handler(request)
        except CrmInputError as exc:
            return json_error(exc.status, exc.message, exc.field)

    run.__name__ = handler.__name__
    return run


async def crm_ctx(app: web.Application) -> AsyncIterator[None]:
    """Open the store on the center's database and the directory (``CRM_DIRECTORY``: the
    store, or the outside CRM); seed the demo customers when the config asks and the
    store is empty; with a webhook URL, start the sender and its bus feed."""
    config = app[CRM_CONFIG] if CRM_CONFIG in app else app[CONFIG].crm
    clock = app[CLOCK]
    store = SqlCrmStore(app[DB], config, now=clock.now)
    await ensure_demo_customers(app[DB], config, clock.now())
    app[CRM_STORE] = store
    app[CRM_DIRECTORY] = store
    external = config.external
    session = aiohttp.ClientSession() if external is not None else None
    feed: asyncio.Task[None] | None = None
    sender: WebhookSender | None = None
    if external is not None and session is not None:
        if external.lookup_urls:
            app[CRM_DIRECTORY] = HttpCrmDirectory(session, external, country_code=config.default_country_code)
        if external.webhook_url:
            sender = WebhookSender(session, external)
            sender.start()
            feed = asyncio.create_task(_webhook_feed(app, sender), name="crm-webhook-feed")
    yield
    if feed is not None:
        feed.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feed
    if sender is not None:
        await sender.close()
    if session is not None:
        await session.close()


def live_crm(app: web.Application) -> LiveCrm:
    """The CRM the running center uses (``Center.use_crm``): after ``crm_ctx`` has run."""
    return LiveCrm(
        app[CRM_STORE], app[CRM_DIRECTORY], app[CRM_STORE].config, now=app[CLOCK].now, flush=app[LOG].flush
    )


async def _webhook_feed(app: web.Application, sender: WebhookSender) -> None:
    """Send the contact's summary when it ends and again when its disposition is set
    (usually after wrap-up); the receiver keys on ``contact_id`` and keeps the latest."""
    subscription = app[BUS].subscribe("contact.ended", "contact.disposition")
    try:
        async for message in subscription:
            contact_id = message.payload.get("contact_id")
            if not contact_id:
                continue
            try:
                await app[LOG].flush()  # the contacts row is written with the event's batch
            except LogUnavailable as exc:
                log.warning("webhook for %s sends the contact as written so far: %s", contact_id, exc)
            summary = await contact_summary(app[DB], str(contact_id))
            if summary is not None:
                sender.send({"event": message.topic, **summary})
    finally:
        subscription.close()


# Query parameters ---------------------------------------------------------------------


def _int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise CrmInputError(name, f"{name} must be a whole number") from None
    if not low <= value <= high:
        raise CrmInputError(name, f"{name} must be between {low} and {high}")
    return value


def _float(request: web.Request, name: str) -> float | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise CrmInputError(name, f"{name} must be a number (epoch seconds)") from None
    if not instant_in_range(value):
        raise CrmInputError(name, f"{name} must be epoch seconds from 1970 to 8999")
    return value


# Routes -------------------------------------------------------------------------------


async def search_customers(request: web.Request) -> web.Response:
    store = request.app[CRM_STORE]
    rows = await store.search(
        request.query.get("q"),
        limit=_int(request, "limit", 50, 1, 500),
        offset=_int(request, "offset", 0, 0, 10**9),
    )
    return web.json_response({"customers": rows})


async def create_customer(request: web.Request) -> web.Response:
    created = await request.app[CRM_STORE].create_customer(await read_json(request))
    return web.json_response(created, status=201, headers={"Location": f"/api/v1/customers/{created['id']}"})


async def get_customer(request: web.Request) -> web.Response:
    return web.json_response(await request.app[CRM_STORE].get_customer(request.match_info["customer_id"]))


async def patch_customer(request: web.Request) -> web.Response:
    store = request.app[CRM_STORE]
    body = await read_json(request)
    return web.json_response(await store.patch_customer(request.match_info["customer_id"], body))


async def get_tickets(request: web.Request) -> web.Response:
    store = request.app[CRM_STORE]
    rows = await list_tickets(
        store.engine,
        request.match_info["customer_id"],
        status=request.query.get("status"),
        limit=_int(request, "limit", 100, 1, 500),
    )
    return web.json_response({"tickets": rows})


async def post_ticket(request: web.Request) -> web.Response:
    store = request.app[CRM_STORE]
    ticket = await create_ticket(
        store.engine,
        request.match_info["customer_id"],
        await read_json(request),
        ticket_id=store.ids.new("ticket"),
        now=store.now(),
    )
    return web.json_response(ticket, status=201)


async def patch_ticket_route(request: web.Request) -> web.Response:
    store = request.app[CRM_STORE]
    ticket = await patch_ticket(
        store.engine, request.match_info["ticket_id"], await read_json(request), now=store.now()
    )
    return web.json_response(ticket)


async def get_contacts(request: web.Request) -> web.Response:
    store = request.app[CRM_STORE]
    customer_id = request.match_info["customer_id"]
    if not await store.exists(customer_id):
        raise CrmInputError("customer_id", f"no customer {customer_id!r}", 404)
    rows = await contact_history(
        store.engine, customer_id, limit=_int(request, "limit", 20, 1, 200), before=_float(request, "before")
    )
    return web.json_response({"contacts": rows})


async def lookup(request: web.Request) -> web.Response:
    by, value = request.query.get("by", ""), request.query.get("value", "")
    if by not in LOOKUP_KEYS:
        raise CrmInputError("by", f"by must be one of {', '.join(LOOKUP_KEYS)}")
    if not value.strip():
        raise CrmInputError("value", "value is required")
    try:
        card = await request.app[CRM_DIRECTORY].lookup(by, value)  # type: ignore[arg-type]
    except CrmUnavailable as exc:
        return json_error(503, str(exc))
    if card is None:
        raise CrmInputError("value", f"no customer with {by} {value!r}", 404)
    return web.json_response(card.to_dict())


async def screen_pop(request: web.Request) -> web.Response:
    store = request.app[CRM_STORE]
    if LOG in request.app:
        try:
            await request.app[LOG].flush()  # this contact's identification and IVR trail
        except LogUnavailable as exc:
            return unavailable(str(exc))
    pop = await load_screen_pop(
        store, request.match_info["contact_id"], customer_id=request.query.get("customer_id") or None
    )
    return web.json_response(pop)
