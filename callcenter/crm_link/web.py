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
from typing import Annotated, Any

import aiohttp
from aiohttp import web
from msgspec import Meta

from callcenter.appkeys import BUS, CLOCK, CONFIG, CRM_ANSWERS, CRM_DIRECTORY, DB, IDS, LOG
from callcenter.auth.guard import api_route, encode, json_error, read_json, require, unavailable
from callcenter.config.crm import LOOKUP_KEYS, CrmConfig
from callcenter.core.api import Operation, Param, Who
from callcenter.core.client_json import instant_in_range
from callcenter.crm_link.bodies import (
    ContactHistory,
    CrmInputError,
    Customer,
    CustomerIn,
    CustomerList,
    CustomerPatch,
    ScreenPop,
    Ticket,
    TicketIn,
    TicketList,
    TicketPatch,
    TicketStatus,
    as_response,
    crm_convert,
)
from callcenter.crm_link.caller_lookup import LiveCrm
from callcenter.crm_link.customer_activity import create_ticket, list_tickets, patch_ticket
from callcenter.crm_link.demo import ensure_demo_customers
from callcenter.crm_link.history import contact_history, contact_summary
from callcenter.crm_link.http_crm import HttpCrmDirectory, WebhookSender
from callcenter.crm_link.screen_pop import load_screen_pop
from callcenter.crm_link.store import SqlCrmStore
from callcenter.ports.crm_directory import CrmUnavailable
from callcenter.ports.customer_card import LookupBy
from callcenter.ports.interaction_log import LogUnavailable

__all__ = ["CRM_ANSWERS", "CRM_DIRECTORY", "CRM_STORE", "ROUTES", "crm_ctx", "install", "live_crm"]

log = logging.getLogger(__name__)

CRM_CONFIG = web.AppKey("crm_config", CrmConfig)
# The center's own customer store, for this package's routes (the rest of the center sees it
# through the ports of ``appkeys``: ``CRM_DIRECTORY`` and ``CRM_ANSWERS``).
CRM_STORE = web.AppKey("crm_store", SqlCrmStore)
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
    for operation, handler in ROUTES:
        api_route(app, operation, _guarded(handler))


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
    store = SqlCrmStore(app[DB], config, now=clock.now, ids=app[IDS])
    await ensure_demo_customers(app[DB], config, clock.now())
    app[CRM_STORE] = store
    app[CRM_ANSWERS] = store
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


# Routes: each handler with its description -------------------------------------------

WHO: tuple[Who, ...] = ("agent",)  # agents, supervisors and admins
_LIMIT = Annotated[int, Meta(ge=1, le=500)]
_UNKNOWN_CUSTOMER = {404: "no such customer"}


async def search_customers(request: web.Request) -> web.Response:
    store = request.app[CRM_STORE]
    rows = await store.search(
        request.query.get("q"),
        limit=_int(request, "limit", 50, 1, 500),
        offset=_int(request, "offset", 0, 0, 10**9),
    )
    return encode(as_response({"customers": rows}, CustomerList))


SEARCH = Operation(
    method="GET",
    path="/api/v1/customers",
    summary="Search customers",
    tag="crm",
    who=WHO,
    params=(
        Param(name="q", description="phone number, e-mail, account number, customer id or name prefix"),
        Param(name="limit", kind=_LIMIT, description="most rows to return (default 50)"),
        Param(name="offset", kind=Annotated[int, Meta(ge=0)], description="rows to skip"),
    ),
    response=CustomerList,
)


async def create_customer(request: web.Request) -> web.Response:
    body = crm_convert(await read_json(request), CustomerIn)
    created = await request.app[CRM_STORE].create_customer(body)
    location = f"/api/v1/customers/{created['id']}"
    return encode(as_response(created, Customer), 201, Location=location)


CREATE = Operation(
    method="POST",
    path="/api/v1/customers",
    summary="Create a customer",
    tag="crm",
    who=WHO,
    body=CustomerIn,
    response=Customer,
    status=201,
    errors={409: "the account number belongs to another customer"},
)


async def get_customer(request: web.Request) -> web.Response:
    found = await request.app[CRM_STORE].get_customer(request.match_info["customer_id"])
    return encode(as_response(found, Customer))


GET = Operation(
    method="GET",
    path="/api/v1/customers/{customer_id}",
    summary="A customer's record and card",
    tag="crm",
    who=WHO,
    response=Customer,
    errors=_UNKNOWN_CUSTOMER,
)


async def patch_customer(request: web.Request) -> web.Response:
    store = request.app[CRM_STORE]
    body = crm_convert(await read_json(request), CustomerPatch)
    return encode(as_response(await store.patch_customer(request.match_info["customer_id"], body), Customer))


PATCH = Operation(
    method="PATCH",
    path="/api/v1/customers/{customer_id}",
    summary="Change a customer (phones and emails replace the lists)",
    tag="crm",
    who=WHO,
    body=CustomerPatch,
    response=Customer,
    errors={**_UNKNOWN_CUSTOMER, 409: "the account number belongs to another customer"},
)


async def get_tickets(request: web.Request) -> web.Response:
    store = request.app[CRM_STORE]
    rows = await list_tickets(
        store.engine,
        request.match_info["customer_id"],
        status=request.query.get("status"),
        limit=_int(request, "limit", 100, 1, 500),
    )
    return encode(as_response({"tickets": rows}, TicketList))


TICKETS = Operation(
    method="GET",
    path="/api/v1/customers/{customer_id}/tickets",
    summary="A customer's tickets, newest first",
    tag="crm",
    who=WHO,
    params=(
        Param(name="status", kind=TicketStatus, description="open = open or pending"),
        Param(name="limit", kind=_LIMIT, description="most rows to return (default 100)"),
    ),
    response=TicketList,
    errors=_UNKNOWN_CUSTOMER,
)


async def post_ticket(request: web.Request) -> web.Response:
    store = request.app[CRM_STORE]
    ticket = await create_ticket(
        store.engine,
        request.match_info["customer_id"],
        crm_convert(await read_json(request), TicketIn),
        ticket_id=store.ids.new("ticket"),
        now=store.now(),
    )
    return encode(as_response(ticket, Ticket), 201)


OPEN_TICKET = Operation(
    method="POST",
    path="/api/v1/customers/{customer_id}/tickets",
    summary="Open a ticket",
    tag="crm",
    who=WHO,
    body=TicketIn,
    response=Ticket,
    status=201,
    errors=_UNKNOWN_CUSTOMER,
)


async def patch_ticket_route(request: web.Request) -> web.Response:
    store = request.app[CRM_STORE]
    body = crm_convert(await read_json(request), TicketPatch)
    ticket = await patch_ticket(store.engine, request.match_info["ticket_id"], body, now=store.now())
    return encode(as_response(ticket, Ticket))


PATCH_TICKET = Operation(
    method="PATCH",
    path="/api/v1/tickets/{ticket_id}",
    summary="Change a ticket's status, owner, due date, subject, kind or contacts",
    tag="crm",
    who=WHO,
    body=TicketPatch,
    response=Ticket,
    errors={404: "no such ticket"},
)


async def get_contacts(request: web.Request) -> web.Response:
    store = request.app[CRM_STORE]
    customer_id = request.match_info["customer_id"]
    if not await store.exists(customer_id):
        raise CrmInputError("customer_id", f"no customer {customer_id!r}", 404)
    rows = await contact_history(
        store.engine, customer_id, limit=_int(request, "limit", 20, 1, 200), before=_float(request, "before")
    )
    return encode(as_response({"contacts": rows}, ContactHistory))


CONTACTS = Operation(
    method="GET",
    path="/api/v1/customers/{customer_id}/contacts",
    summary="Contact history from the interaction log",
    tag="crm",
    who=WHO,
    params=(
        Param(name="limit", kind=Annotated[int, Meta(ge=1, le=200)], description="most rows (default 20)"),
        Param(name="before", kind=float, description="only contacts that arrived earlier (epoch seconds)"),
    ),
    response=ContactHistory,
    errors=_UNKNOWN_CUSTOMER,
)


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
    return encode(as_response(card.to_dict(), Customer))


LOOKUP = Operation(
    method="GET",
    path="/api/v1/crm/lookup",
    summary="Find a customer as the IVR and the ACD do",
    tag="crm",
    who=WHO,
    params=(
        Param(name="by", kind=LookupBy, description="what value is", required=True),
        Param(name="value", description="number, address, account or id, any spelling", required=True),
    ),
    response=Customer,
    errors={404: "nobody matches", 503: "the outside CRM cannot answer"},
)


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
    return encode(as_response(pop, ScreenPop))


SCREEN_POP = Operation(
    method="GET",
    path="/api/v1/contacts/{contact_id}/screen-pop",
    summary="The agent's screen pop for a contact",
    tag="crm",
    who=WHO,
    params=(Param(name="customer_id", description="default: the customer identified on the contact"),),
    response=ScreenPop,
    errors={503: "the interaction log is not reaching its database"},
)

ROUTES: tuple[tuple[Operation, Handler], ...] = (
    (SEARCH, search_customers),
    (CREATE, create_customer),
    (GET, get_customer),
    (PATCH, patch_customer),
    (TICKETS, get_tickets),
    (OPEN_TICKET, post_ticket),
    (PATCH_TICKET, patch_ticket_route),
    (CONTACTS, get_contacts),
    (LOOKUP, lookup),
    (SCREEN_POP, screen_pop),
)
