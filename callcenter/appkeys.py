"""Typed keys for what the application holds, shared by app.py and every web module.

A web module (``crm_link/web.py``, ``agent_desk/routes.py`` ...) exposes
``install(app: web.Application) -> None`` that adds its routes and ``cleanup_ctx``
entries; it reads shared resources through these keys, which ``app.py`` fills first.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.config.model import CenterConfig
from callcenter.core.clock import Clock
from callcenter.runtime.bus import EventBus
from callcenter.runtime.center import Center
from callcenter.storage.log import SqlInteractionLog

CONFIG = web.AppKey("config", CenterConfig)
CLOCK = web.AppKey("clock", Clock)
DB = web.AppKey("db", AsyncEngine)
LOG = web.AppKey("interaction_log", SqlInteractionLog)
BUS = web.AppKey("bus", EventBus)
CENTER = web.AppKey("center", Center)
