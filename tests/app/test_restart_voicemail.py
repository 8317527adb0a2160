"""A restart keeps the messages waiting: a voicemail left for the stock exchange desk was
with an agent when the node died on a Friday afternoon; the node comes back on Saturday at
03:00 (its clock injected), while the desk is closed. The voicemail waits again, offered to
nobody, with the same message (no second ``contact.voicemail``), and is offered to the
first ready agent when the desk opens at 20:00."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from demo_center import demo_config

from callcenter.acd.messages import AgentLoggedIn, AgentReady
from callcenter.app import create_app
from callcenter.appkeys import LOG
from callcenter.core.clock import VirtualClock
from callcenter.core.events import InteractionEvent
from callcenter.runtime.keys import CENTER
from callcenter.storage import database, migrate
from callcenter.storage.log import SqlInteractionLog

ZONE = ZoneInfo("Asia/Jerusalem")
SATURDAY_03 = datetime(2026, 12, 12, 3, 0, tzinfo=ZONE).timestamp()  # the bank's desks: closed
SATURDAY_20 = datetime(2026, 12, 12, 20, 0, tzinfo=ZONE).timestamp()  # and open again
MESSAGE: dict[str, Any] = {
    "path": "voicemail/call-9.wav",
    "seconds": 12.5,
    "bytes": 200_044,
    "from_contact": "call-9",
}


def ev(kind: str, at: float, agent: str | None = None, **data: Any) -> InteractionEvent:
    return InteractionEvent(type=kind, at=at, contact_id="vm-1", agent_id=agent, queue="stocks", data=data)


async def crashed_with_a_voicemail_in_hand(url: str) -> None:
    engine = database.create_engine(url)
    await migrate.upgrade(engine)
    log = SqlInteractionLog(engine)
    await log.start()
    at = SATURDAY_03 - 14 * 3600  # Friday 13:00: open
    attributes = {"voicemail_of": "call-9", "voicemail_seconds": "12.5"}
    for e in [
        ev("contact.arrived", at, channel="voicemail", caller="+15550111"),
        ev("contact.voicemail", at, caller="+15550111", **MESSAGE),
        ev("contact.queued", at, channel="voicemail", priority_class=9, position=1, attributes=attributes),
        ev("contact.offered", at + 5, "carol", offer_id="o-1"),
        ev("contact.connected", at + 8, "carol", offer_id="o-1", wait_s=8.0),
    ]:
        log.append(e)
    await log.close()
    await engine.dispose()


async def test_a_voicemail_in_hand_at_a_crash_waits_again_for_the_opening(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"
    await crashed_with_a_voicemail_in_hand(url)
    clock = VirtualClock(SATURDAY_03)
    app = create_app(demo_config(url, hours="as configured"), clock=clock)
    client = await aiohttp_client(app)
    center = app[CENTER]
    vm = center.engine.contacts["vm-1"]
    assert (vm.channel, vm.state, vm.held, vm.caller) == ("voicemail", "waiting", True, "+15550111")
    assert vm.attributes["voicemail_seconds"] == "12.5" and vm.priority_class == 9
    await center.submit(AgentLoggedIn(agent_id="carol", skills={"stocks": 3}))
    await center.submit(AgentReady(agent_id="carol"))
    assert not center.engine.offers  # closed: the message waits
    clock.advance_to(SATURDAY_20)  # the ACD's minute tick fires into its inbox
    await center.acd.idle()
    [offer] = center.engine.offers.values()
    assert (offer.contact_id, offer.agent_id) == ("vm-1", "carol")
    await app[LOG].flush()
    events = await app[LOG].read(contact_id="vm-1", limit=100)
    assert [e.type for e in events].count("contact.voicemail") == 1
    assert "contact.ended" not in [e.type for e in events]
    [recovered] = [e for e in await app[LOG].read(limit=1000) if e.type == "server.recovered"]
    assert recovered.data["restored"] == ["vm-1"]
    await client.close()
