"""Typed keys for what the application holds, shared by app.py and every web module.

A web module (``crm_link/web.py``, ``agent_desk/routes.py`` ...) exposes
``install(app: web.Application) -> None`` that adds its routes and ``cleanup_ctx``
entries; it reads shared resources through these keys, which ``app.py`` fills first.

Every key is typed by a port (``callcenter.ports``) or a core type, never by an adapter:
which adapter stands behind a key is the composition root's choice. The running center's
own parts (the ACD center, the IVR runner, the agents' audio legs) have their keys in
``runtime/keys.py``.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.config.sections import CenterConfig
from callcenter.core.api import ApiRoutes
from callcenter.core.clock import Clock
from callcenter.core.ids import IdGenerator
from callcenter.ports.chat_resume import ChatResume
from callcenter.ports.crm_directory import CrmDirectory, CustomerAnswers
from callcenter.ports.event_bus import EventBus
from callcenter.ports.interaction_log import InteractionLog
from callcenter.ports.prompt_renderer import PromptRenderer
from callcenter.ports.recognition import SpeechRecognizer

CONFIG = web.AppKey("config", CenterConfig)
CLOCK = web.AppKey("clock", Clock)
IDS = web.AppKey("ids", IdGenerator)  # the unique ids a running server mints (``runtime/ids.py``)
DB = web.AppKey("db", AsyncEngine)
LOG = web.AppKey("interaction_log", InteractionLog)
BUS = web.AppKey("bus", EventBus)
# Single node only (cluster mode keeps chats' resume data in Redis): what a chat's resume
# needs, in the database.
CHAT_RESUME = web.AppKey("chat_resume", ChatResume)
# The CRM (``crm_link``): the directory answers lookups (the local store, or the outside CRM
# when ``crm.external`` has lookup URLs); the answers (self-service, PIN and date of birth
# checks) always come from the center's own customer store.
CRM_DIRECTORY = web.AppKey("crm_directory", CrmDirectory)
CRM_ANSWERS = web.AppKey("crm_answers", CustomerAnswers)
# Speech (``speech/server.py``): the prompt renderer (TTS worker) always; the recognizer
# only when a vosk model is configured and loads (else absent: digits only).
PROMPTS = web.AppKey("prompt_renderer", PromptRenderer)
RECOGNIZER = web.AppKey("speech_recognizer", SpeechRecognizer)
# The operations of ``/api/v1`` (``core.api``), described at ``GET /api/v1/openapi.json``:
# app.py creates it and ``auth.guard.api_route`` adds each route's description.
OPENAPI = web.AppKey("openapi", ApiRoutes)
