"""Composition root: the one place that names concrete adapters and wires them together.

Every resource is opened and closed in an aiohttp ``cleanup_ctx`` so that startup and
teardown are paired and run in reverse order on shutdown (SIGINT/SIGTERM included): the
interaction log is flushed before the database engine is disposed.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web

from callcenter import __version__
from callcenter.agent_desk import routes as desk_routes
from callcenter.appkeys import BUS, CHAT_RESUME, CLOCK, CONFIG, DB, IDS, LOG, OPENAPI
from callcenter.auth import web as auth_web
from callcenter.auth.guard import api_route, encode, json_error
from callcenter.chat import routes as chat_routes
from callcenter.config.sections import CenterConfig
from callcenter.core.api import ApiRoutes, Operation
from callcenter.core.client_json import clean_text
from callcenter.core.clock import Clock
from callcenter.core.events import InteractionEvent
from callcenter.crm_link import web as crm_web
from callcenter.recordings import web as recordings_web
from callcenter.runtime.center import Center
from callcenter.runtime.ids import RandomIds
from callcenter.runtime.ivr_runner.install import install as install_ivr_admin
from callcenter.runtime.ivr_runner.install import ivr_ctx
from callcenter.runtime.keys import CENTER, HELD_CHATS
from callcenter.runtime.memory_bus import MemoryBus
from callcenter.runtime.recovery import HeldChats, recover
from callcenter.runtime.system_clock import SystemClock
from callcenter.runtime.voice import install as voice_app
from callcenter.speech.server import speech_ctx
from callcenter.storage import database, migrate
from callcenter.storage.chat_resume import SqlChatResume
from callcenter.storage.log import SqlInteractionLog
from callcenter.supervisor import wallboard
from callcenter.supervisor import web as supervisor_web
from callcenter.web import i18n_routes as i18n_routes

log = logging.getLogger(__name__)
# The root's own handle on the log adapter it built (``/healthz`` reads its health); the
# rest of the center sees the log through ``appkeys.LOG``, typed by the port.
SQL_LOG = web.AppKey("sql_interaction_log", SqlInteractionLog)
Context = Callable[[web.Application], AsyncIterator[None]]


class SchemaOutOfDate(database.DatabaseUnavailable):
    """The database schema is older than this version of callcenter needs."""


def create_app(config: CenterConfig, *, clock: Clock | None = None) -> web.Application:
    """Build the application; resources open when it starts and close when it stops."""
    app = web.Application(middlewares=[json_errors, url_checks], client_max_size=1024**2)
    app[CONFIG] = config
    app[OPENAPI] = ApiRoutes()  # api_route adds each /api/v1 route's description
    if clock is not None:
        app[CLOCK] = clock
    bus: Context = bus_ctx
    center: Context = center_ctx
    resume: list[Context] = [chat_resume_ctx]
    if config.bus.kind == "redis" or config.cluster.enabled:
        # the cluster extra (redis) is imported only by a configuration that uses it
        from callcenter.runtime.cluster import install as cluster_app

        bus = cluster_app.redis_bus_ctx if config.bus.kind == "redis" else bus_ctx
        center = cluster_app.cluster_center_ctx if config.cluster.enabled else center_ctx
        resume = [] if config.cluster.enabled else resume  # a cluster's chats resume from Redis
    app.cleanup_ctx.extend(
        [clock_ctx, database_ctx, log_ctx, bus, crm_ctx, *resume, center, speech_ctx, ivr_ctx]
    )  # speech: TTS worker, vosk; ivr: flows, runner
    auth_web.install(app)
    i18n_routes.install(app)  # the pages' words: /api/v1/i18n, /static/i18n
    desk_routes.install(app)
    chat_routes.install(app)
    app.cleanup_ctx.append(link_desks_to_chats)
    install_ivr_admin(app)  # POST /api/v1/admin/ivr/reload
    wallboard.install(app)
    supervisor_web.install(app)
    crm_web.install(app)  # customers, tickets, contact history, lookup, screen pop
    recordings_web.install(app)  # play and list recordings, a contact's timeline, retention
    if config.cluster.enabled:
        cluster_app.install_relay(app)  # chat lines and desk frames to other nodes
    voice_app.install(app)  # calls: SIP, AudioSocket, /media-stream -> IVR, queue, agent legs
    app.on_shutdown.append(close_client_sockets)  # after the calls' own shutdown hook
    app.router.add_get("/healthz", healthz)
    api_route(app, VERSION, version)
    api_route(app, OPENAPI_DOC, openapi)
    app.router.add_get("/api/docs", api_docs)
    app.router.add_get("/", index)
    return app


# Resources ---------------------------------------------------------------------------


async def clock_ctx(app: web.Application) -> AsyncIterator[None]:
    if CLOCK not in app:
        app[CLOCK] = SystemClock(asyncio.get_running_loop())
    if IDS not in app:
        clock = app[CLOCK]
        app[IDS] = RandomIds(lambda: int(clock.now() * 1000))
    yield


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    storage = app[CONFIG].storage
    engine = await database.open_checked(storage.url)
    try:
        if storage.is_sqlite and storage.upgrade_on_start:
            revision = await migrate.upgrade(engine)
            log.info("database %s at schema %s", database.describe(storage.url), revision)
        else:
            current, head = await migrate.current_revision(engine), migrate.head_revision()
            if current != head:
                raise SchemaOutOfDate(
                    f"database {database.describe(storage.url)} is at schema {current or 'none'}, "
                    f"this version needs {head}: run `callcenter db upgrade`"
                )
    except BaseException:
        await engine.dispose()
        raise
    app[DB] = engine
    yield
    await engine.dispose()


async def log_ctx(app: web.Application) -> AsyncIterator[None]:
    storage = app[CONFIG].storage
    clock = app[CLOCK]
    interaction_log = SqlInteractionLog(
        app[DB],
        batch_max=storage.batch_max,
        flush_interval=storage.flush_interval_ms / 1000,
        flush_timeout=storage.flush_timeout_s,
        stall_after=storage.stall_after_s,
        close_timeout=storage.shutdown_flush_s,
        spill_path=storage.spill_file(),
        now=clock.now,
    )
    await interaction_log.start()  # appends what the last run spilled, first
    app[LOG] = app[SQL_LOG] = interaction_log
    interaction_log.append(
        InteractionEvent(type="server.started", at=clock.now(), data={"version": __version__})
    )
    yield
    interaction_log.append(InteractionEvent(type="server.stopped", at=clock.now()))
    await interaction_log.close()  # bounded; what it could not write is spilled and logged
    if interaction_log.unwritten_at_close == 0:
        log.info("interaction log flushed at seq %d", interaction_log.last_seq)


async def bus_ctx(app: web.Application) -> AsyncIterator[None]:
    bus = MemoryBus()
    app[BUS] = bus
    yield
    await bus.close()


# The CRM store on the center's database, and the directory lookups go to (the store, or
# the outside CRM with ``crm.external``): app[CRM_STORE], app[CRM_DIRECTORY].
crm_ctx = crm_web.crm_ctx


async def chat_resume_ctx(app: web.Application) -> AsyncIterator[None]:
    """What a chat's resume needs, in the database (a single node's chats outlive a restart)."""
    resume = SqlChatResume(app[DB], app[CLOCK].now)
    resume.start()
    app[CHAT_RESUME] = resume
    yield
    await resume.stop()


async def center_ctx(app: web.Application) -> AsyncIterator[None]:
    clock = app[CLOCK]
    center = Center(app[CONFIG], clock=clock, log=app[LOG], bus=app[BUS], ids=app[IDS])
    center.use_crm(crm_web.live_crm(app))  # arrivals get CRM attributes, offers a screen pop
    center.start()
    held = HeldChats(center, app[CHAT_RESUME], app[CONFIG].chat.resume_after_restart_s)
    await recover(center, app[DB], chats=held)  # settle what a previous run left open, before any traffic
    app[CENTER] = center
    app[HELD_CHATS] = held
    yield
    held.close()
    await center.stop()  # handles what is already queued, so its events reach the log


async def close_client_sockets(app: web.Application) -> None:
    """Desks, chats and wallboards still open are told the server is going away (1001), so
    shutdown does not wait on their WebSockets until the heartbeat gives up on them."""
    for closing in (app[desk_routes.HUB].close, app[chat_routes.SESSIONS].close, app[wallboard.FEED].close):
        try:
            await closing()
        except Exception:
            log.exception("closing client sockets at shutdown")


async def link_desks_to_chats(app: web.Application) -> AsyncIterator[None]:
    """What an agent types at the desk goes to the chat backend; in a cluster, through the
    relay, which passes it on to this node's chats or to the node carrying the chat."""
    service, chats = app[desk_routes.SERVICE], app[chat_routes.BACKEND]
    service.chats = chats
    center = app[CENTER]
    if app[CONFIG].cluster.enabled:
        from callcenter.runtime.cluster.node_center import ClusterCenter

        assert isinstance(center, ClusterCenter)
        center.relay.chats = chats  # this node's chats
        service.chats = center.relay
    yield


# Routes ------------------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers and events reach it; else 503 with the reason."""
    app = request.app
    db_ok, db_detail = await database.check(app[DB])
    log_health = app[SQL_LOG].health()
    ok = db_ok and bool(log_health["ok"])
    body = {
        "status": "ok" if ok else "unavailable",
        "reason": None if ok else (log_health["reason"] or f"the database does not answer: {db_detail}"),
        "version": __version__,
        "database": {
            "ok": db_ok,
            "detail": db_detail,
            "url": database.describe(app[CONFIG].storage.url),
        },
        "interaction_log": log_health,
    }
    if app[CONFIG].cluster.enabled:
        from callcenter.runtime.cluster.install import CLUSTER

        cluster = app[CLUSTER].health()
        body["cluster"] = cluster
        if ok and not cluster["ok"]:
            body["reason"] = "the cluster is not healthy"
        ok = ok and bool(cluster["ok"])
        body["status"] = "ok" if ok else "unavailable"
    if voice_app.TELEPHONY in app:  # listeners that could not bind show as null, not a 503
        body["telephony"] = app[voice_app.TELEPHONY].health()
    return web.json_response(body, status=200 if ok else 503)


class Version(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    version: str
    api: str
    schema: str | None


async def version(request: web.Request) -> web.Response:
    return encode(Version(name="callcenter", version=__version__, api="v1", schema=migrate.head_revision()))


VERSION = Operation(
    method="GET",
    path="/api/v1/version",
    summary="The server's version, API version and database schema",
    tag="server",
    who=("anyone",),
    response=Version,
)


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document of /api/v1, generated from the routes' declarations."""
    title = f"callcenter: {request.app[CONFIG].server.name}"
    return web.json_response(request.app[OPENAPI].document(title=title, version=__version__))


OPENAPI_DOC = Operation(
    method="GET",
    path="/api/v1/openapi.json",
    summary="This document (OpenAPI 3.1); browse it at /api/docs",
    tag="server",
    who=("anyone",),
    response=dict[str, Any],
)
API_DOCS_PAGE = Path(__file__).with_name("static") / "api-docs.html"


async def api_docs(request: web.Request) -> web.FileResponse:
    """The OpenAPI document as a page: self-contained HTML and script, nothing fetched
    from elsewhere."""
    return web.FileResponse(API_DOCS_PAGE, headers={"Cache-Control": "no-cache"})


async def index(request: web.Request) -> web.Response:
    name = html.escape(request.app[CONFIG].server.name)
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{name} · callcenter</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:720px;margin:40px auto;padding:0 16px;
color:#1d2733}}
a{{color:#1f5fbf}} li{{margin:6px 0}} code{{background:#eef2f6;padding:1px 5px;border-radius:4px}}</style>
</head><body>
<h1>{name}</h1><p>callcenter {__version__} is running.</p>
<ul>
<li><a href="/desk">Agent desk</a>: answer calls and chats (log in as an agent)</li>
<li><a href="/wallboard">Wallboard</a>: queues and agents live (log in as a supervisor)</li>
<li><a href="/chat">Customer chat</a>: what a customer sees on your website</li>
<li><a href="/api/docs">API reference</a>: every <code>/api/v1</code> route, who may call it,
what it takes and answers (<a href="/api/v1/openapi.json">OpenAPI 3.1</a>)</li>
<li><a href="/healthz">Health</a> · <a href="/api/v1/version">API version</a></li>
</ul>
<p>The demo configuration has agents <code>alice</code>, <code>bob</code>, <code>carol</code>,
<code>dan</code> and supervisor <code>sam</code>; each password is the user name
(see <code>config/callcenter.yaml</code>).</p>
</body></html>"""
    return web.Response(text=page, content_type="text/html")


# Errors ----------------------------------------------------------------------------


@web.middleware
async def json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """API clients get errors as JSON ``{"error": {"status", "message"}}``, never HTML."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if not request.path.startswith("/api/") or exc.status < 400:
            raise
        return web.json_response(
            {"error": {"status": exc.status, "message": exc.text or exc.reason}}, status=exc.status
        )


@web.middleware
async def url_checks(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Query parameters and path segments are client text too: a NUL in one (which the
    database refuses) or one longer than ``limits.max_string_chars`` is a 400 naming it.
    (Invalid UTF-8 in them already arrives as U+FFFD.)"""
    longest = request.app[CONFIG].limits.max_string_chars
    for kind, items in (("query", request.query.items()), ("path", request.match_info.items())):
        for name, value in items:
            if "\x00" in name or "\x00" in value or len(value) > longest:
                field = clean_text(name)
                problem = (
                    "holds a NUL character" if "\x00" in name + value else f"is over {longest} characters"
                )
                return json_error(400, f"the {kind} parameter {field} {problem}", field)
    return await handler(request)
