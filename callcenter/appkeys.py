"""Typed keys for what the application holds, shared by app.py and every web module.

A web module (``crm_link/web.py``, ``agent_desk/routes.py`` ...) exposes
``install(app: web.Application) -> None`` that adds its routes and ``cleanup_ctx``
entries; it reads shared resources through these keys, which ``app.py`` fills first.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.config.model import CenterConfig
from callcenter.core.api import ApiRoutes
from callcenter.core.clock import Clock
from callcenter.core.ids import IdGenerator
from callcenter.crm_link.ports import CrmDirectory
from callcenter.crm_link.store import SqlCrmStore
from callcenter.runtime.bus import EventBus
from callcenter.runtime.center import Center
from callcenter.runtime.ivr_runner.runner import IvrRunner
from callcenter.runtime.recovery import HeldChats
from callcenter.runtime.voice.agent_legs import AgentLegs
from callcenter.speech.pyttsx3_renderer import Pyttsx3Renderer
from callcenter.speech.vosk_recognizer import VoskRecognizer
from callcenter.storage.chat_resume import SqlChatResume
from callcenter.storage.log import SqlInteractionLog

CONFIG = web.AppKey("config", CenterConfig)
CLOCK = web.AppKey("clock", Clock)
IDS = web.AppKey("ids", IdGenerator)  # the unique ids a running server mints (``runtime/ids.py``)
DB = web.AppKey("db", AsyncEngine)
LOG = web.AppKey("interaction_log", SqlInteractionLog)
BUS = web.AppKey("bus", EventBus)
CENTER = web.AppKey("center", Center)
# Single node only (cluster mode keeps chats' resume data in Redis): what a chat's resume
# needs, in the database, and the chats a restart set aside for their customers.
CHAT_RESUME = web.AppKey("chat_resume", SqlChatResume)
HELD_CHATS = web.AppKey("held_chats", HeldChats)
# The CRM (``crm_link``): the directory answers lookups (the local store, or the outside CRM
# when ``crm.external`` has lookup URLs); the store is always the center's own database.
CRM_DIRECTORY = web.AppKey("crm_directory", CrmDirectory)
CRM_STORE = web.AppKey("crm_store", SqlCrmStore)
# Speech (``speech/server.py``): the prompt renderer (TTS worker) always; the recognizer
# only when a vosk model is configured and loads (else absent: digits only).
PROMPTS = web.AppKey("prompt_renderer", Pyttsx3Renderer)
RECOGNIZER = web.AppKey("speech_recognizer", VoskRecognizer)
# The IVR runner (``runtime/ivr_runner/install.py``): chat and voice front-ends start sessions on it.
IVR_RUNNER = web.AppKey("ivr_runner", IvrRunner)
# Agents' audio legs (``runtime/voice/agent_legs.py``): the desk's WebRTC leg or an agent's phone
# registers here; the voice bridge claims it when a call is connected to that agent.
AGENT_LEGS = web.AppKey("agent_legs", AgentLegs)
# The operations of ``/api/v1`` (``core.api``), described at ``GET /api/v1/openapi.json``:
# app.py creates it and ``auth.guard.api_route`` adds each route's description.
OPENAPI = web.AppKey("openapi", ApiRoutes)
