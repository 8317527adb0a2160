"""Customer chat: the page (``/chat``, embeddable in an iframe) and its WebSocket (``/ws/chat``).
Customers need no login; each conversation is a contact of channel ``chat``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from callcenter.appkeys import CHAT_RESUME, CONFIG
from callcenter.chat.backend import ChatBackend
from callcenter.chat.resume_store import DbChatStore
from callcenter.chat.sessions import ChatSessions, ChatStore
from callcenter.runtime.ivr_runner.keys import IVR_RUNNER
from callcenter.runtime.keys import CENTER, HELD_CHATS

if TYPE_CHECKING:  # the cluster extra (redis) is imported only in cluster mode
    from callcenter.chat.redis_store import RedisChatStore
    from callcenter.runtime.cluster.node_center import ClusterCenter

STATIC = Path(__file__).with_name("static")
SESSIONS = web.AppKey("chat_sessions", ChatSessions)
# What agents say reaches the chats through it; the root links it to the desk (app.py).
BACKEND = web.AppKey("chat_backend", ChatBackend)


def install(app: web.Application) -> None:
    app.cleanup_ctx.append(_chat_ctx)
    app.router.add_get("/chat", chat_page)
    app.router.add_get("/ws/chat", chat_socket)
    app.router.add_static("/static/chat", STATIC)


async def _chat_ctx(app: web.Application) -> AsyncIterator[None]:
    center = app[CENTER]
    backend = ChatBackend(center, app.get(IVR_RUNNER))
    store: ChatStore | None = None
    redis_store: RedisChatStore | None = None
    grace_s = 120.0
    clustered: ClusterCenter | None = None
    if app[CONFIG].cluster.enabled:  # any node can resume the chat (runtime/cluster/chat_store.py)
        from callcenter.chat.redis_store import RedisChatStore
        from callcenter.runtime.cluster.node_center import ClusterCenter

        assert isinstance(center, ClusterCenter)
        clustered = center
        grace_s = center.config.cluster.chat_grace_s
        store = redis_store = RedisChatStore(center, grace_s)
        redis_store.start()
    else:  # the database keeps it: a token outlives a restart (chat/resume_store.py)
        backend.held = app[HELD_CHATS]
        store = DbChatStore(app[CHAT_RESUME], backend.held.holds)
    sessions = ChatSessions(
        backend,
        lambda: center.ids.new("contact"),
        grace_s=grace_s,
        store=store,
        login=backend.login,
        limits=app[CONFIG].limits,
    )
    backend.sessions = sessions
    app[BACKEND] = backend
    app[SESSIONS] = sessions
    if clustered is not None:
        clustered.on_disowned = sessions.disown
    yield
    await sessions.close()
    if redis_store is not None:
        await redis_store.stop()


async def chat_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "chat.html")


async def chat_socket(request: web.Request) -> web.StreamResponse:
    return await request.app[SESSIONS].serve(request)
