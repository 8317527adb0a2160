"""The agents' audio legs' app key: the desk's WebRTC leg or an agent's phone registers
there; the voice bridge claims it when a call is connected to that agent."""

from __future__ import annotations

from aiohttp import web

from callcenter.runtime.voice.agent_legs import AgentLegs

# Agents' audio legs (``runtime/voice/agent_legs.py``): the desk's WebRTC leg or an agent's phone
# registers here; the voice bridge claims it when a call is connected to that agent.
AGENT_LEGS = web.AppKey("agent_legs", AgentLegs)
