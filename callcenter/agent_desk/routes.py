"""Desk routes: the desk page (``/desk``) and its WebSocket (``/ws/desk``), both behind login.

An agent's desk connecting logs the agent in to the ACD (NOT_READY, with their skills from
the users table); the desk then speaks protocol v1 (docs/desk-protocol.md) with the hub.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from callcenter.agent_desk.hub import DeskHub
from callcenter.agent_desk.service import DeskService
from callcenter.appkeys import CONFIG, DB, LOG
from callcenter.auth.web import Refused, require, session_of
from callcenter.core.desk_frames import WebRtcState
from callcenter.runtime.keys import CENTER
from callcenter.runtime.voice.keys import AGENT_LEGS
from callcenter.telephony.webrtc import DeskAudio

STATIC = Path(__file__).with_name("static")
HUB = web.AppKey("desk_hub", DeskHub)
SERVICE = web.AppKey("desk_service", DeskService)
AUDIO = web.AppKey("desk_audio", DeskAudio)  # agents' browser audio (legs go into AGENT_LEGS)
DESK_ROLES = ("agent", "supervisor")


def install(app: web.Application) -> None:
    app.cleanup_ctx.append(_desk_ctx)
    app.router.add_get("/desk", desk_page)
    app.router.add_get("/ws/desk", desk_socket)
    app.router.add_static("/static/desk", STATIC)


async def _desk_ctx(app: web.Application) -> AsyncIterator[None]:
    center = app[CENTER]
    audio = DeskAudio(
        legs=app.get(AGENT_LEGS),  # each desk's connection is its agent's leg
        on_state=lambda agent, state: hub.deliver(agent, WebRtcState(state=state)),
    )
    service = DeskService(center, audio=audio, db=app.get(DB), log=app.get(LOG))
    hub = DeskHub(
        on_message=service.on_message,
        snapshot=service.snapshot,
        on_gone=service.on_gone,
        grace_s=app[CONFIG].desk.reconnect_grace_s,
        limits=app[CONFIG].limits,
    )
    center.desks = hub
    app[HUB], app[SERVICE], app[AUDIO] = hub, service, audio
    yield
    await audio.close()
    await hub.close()


async def desk_page(request: web.Request) -> web.StreamResponse:
    if await session_of(request) is None:
        raise web.HTTPFound("/login?next=/desk")
    return web.FileResponse(STATIC / "desk.html")


async def desk_socket(request: web.Request) -> web.StreamResponse:
    try:
        principal = await require(request, *DESK_ROLES)
    except Refused as refusal:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.close(code=4401 if refusal.status_code == 401 else 4403, message=b"log in as an agent")
        return ws
    service = request.app[SERVICE]
    await service.ensure_logged_in(
        principal.username, principal.name, principal.skills, principal.chat_capacity
    )
    return await request.app[HUB].serve(request, principal.username)
