"""Typed keys for the running center's own parts, which the web faces and the runtime's
installers (``voice/install.py``, ``ivr_runner/install.py``, ``cluster/install.py``) share.
``app.py`` (or cluster mode) fills them before any face starts."""

from __future__ import annotations

from aiohttp import web

from callcenter.runtime.center import Center
from callcenter.runtime.ivr_runner.runner import IvrRunner
from callcenter.runtime.recovery import HeldChats
from callcenter.runtime.voice.agent_legs import AgentLegs

CENTER = web.AppKey("center", Center)
# The chats a restart set aside for their customers (single node; ``recovery.py``).
HELD_CHATS = web.AppKey("held_chats", HeldChats)
# The IVR runner (``runtime/ivr_runner/install.py``): chat and voice front-ends start sessions on it.
IVR_RUNNER = web.AppKey("ivr_runner", IvrRunner)
# Agents' audio legs (``runtime/voice/agent_legs.py``): the desk's WebRTC leg or an agent's phone
# registers here; the voice bridge claims it when a call is connected to that agent.
AGENT_LEGS = web.AppKey("agent_legs", AgentLegs)
