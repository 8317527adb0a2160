"""Typed keys for the running center, which the web faces and the runtime's installers
share; ``app.py`` (or cluster mode) fills them before any face starts. The rooms below have
their own: ``ivr_runner/keys.py`` (the IVR runner), ``voice/keys.py`` (agents' audio legs)."""

from __future__ import annotations

from aiohttp import web

from callcenter.runtime.center import Center
from callcenter.runtime.recovery import HeldChats

CENTER = web.AppKey("center", Center)
# The chats a restart set aside for their customers (single node; ``recovery.py``).
HELD_CHATS = web.AppKey("held_chats", HeldChats)
