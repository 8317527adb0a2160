"""Helpers for the voice tests: the demo center with telephony on (always open, loopback
ports), an agent whose audio leg is a media-stream WebSocket, and log reading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from demo_center import demo_config
from msgspec.structs import replace
from stream_phone import StreamPhone as BasePhone
from telsupport import tone_power, until

from callcenter.acd.messages import AgentLoggedIn, AgentReady
from callcenter.appkeys import LOG
from callcenter.config.sections import CenterConfig
from callcenter.core.events import StoredEvent
from callcenter.runtime.center import Center
from callcenter.runtime.keys import CENTER
from callcenter.runtime.voice.keys import AGENT_LEGS

ROOT = Path(__file__).resolve().parents[2]


def voice_config(tmp_path: Path, prompts: Path, *, open_hours: bool = True, **telephony: Any) -> CenterConfig:
    """The demo config, open all hours (or closed all day), with telephony on loopback (SIP
    and AudioSocket on free ports, agent lines on, recording into ``tmp_path``)."""
    values: dict[str, Any] = {
        "enabled": True,
        "agent_lines": True,
        "record": True,
        "recordings_dir": str(tmp_path / "recordings"),
        "no_rtp_timeout_s": 10.0,
        "agent_leg_wait_s": 2.0,
    }
    values.update(telephony)
    config = demo_config(
        f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}",
        hours="open" if open_hours else "closed",
        telephony=values,
    )
    return replace(config, speech=replace(config.speech, cache_dir=str(prompts)))


async def ready_agent(center: Center, agent: str, skills: dict[str, int]) -> None:
    await center.submit(AgentLoggedIn(agent_id=agent, name=agent.title(), skills=skills))
    await center.submit(AgentReady(agent_id=agent))


async def offer_for(center: Center, agent: str, timeout: float = 15.0) -> Any:
    """The engine's offer to ``agent`` (``offer_id``, ``contact_id``), once there is one."""
    await until(lambda: any(o.agent_id == agent for o in center.engine.offers.values()), timeout)
    return next(o for o in center.engine.offers.values() if o.agent_id == agent)


class StreamPhone(BasePhone):
    """A media-stream call on the test client that can count the 1 kHz frames it heard."""

    def tone_frames(self, freq: float = 1000.0) -> int:
        return sum(1 for pcm in self.heard if len(pcm) >= 160 and tone_power(pcm, freq) > 0.5)


class AgentPhone(StreamPhone):
    """An agent's audio leg: a media-stream call to ``agent-<id>``; its voice is 1 kHz."""

    def __init__(self, client: TestClient[Any, Any], agent: str) -> None:
        super().__init__(client, agent, f"agent-{agent}", 1000.0)
        self.agent = agent

    async def dial(self) -> None:
        await super().dial()
        legs = self.client.app[AGENT_LEGS]
        await until(lambda: legs.get(self.agent) is not None)


async def contact_events(client: TestClient[Any, Any], contact_id: str) -> list[StoredEvent]:
    log = client.app[LOG]
    await log.flush()
    return list(await log.read(contact_id=contact_id, limit=1000))


def center_of(client: TestClient[Any, Any]) -> Center:
    center: Center = client.app[CENTER]
    return center
