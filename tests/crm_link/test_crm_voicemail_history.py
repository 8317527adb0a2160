"""A customer's history tells a voicemail as it happened: the call ended "voicemail", and
the message is a contact of its own, with its length, the call it was left on and what
the agent did with it (read from the log, like the rest of the history)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from callcenter.core.events import InteractionEvent
from callcenter.crm_link.history import contact_history
from callcenter.storage import database, migrate
from callcenter.storage.log import SqlInteractionLog


def ev(kind: str, at: float, cid: str, agent: str | None = None, **data: Any) -> InteractionEvent:
    return InteractionEvent(type=kind, at=at, contact_id=cid, agent_id=agent, queue="stocks", data=data)


async def test_the_history_says_voicemail_and_lists_the_message(tmp_path: Path) -> None:
    engine = database.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    await migrate.upgrade(engine)
    log = SqlInteractionLog(engine)
    await log.start()
    message: dict[str, Any] = {
        "path": "voicemail/call-1.wav",
        "seconds": 42.5,
        "bytes": 680_044,
        "from_contact": "call-1",
    }
    for e in [
        ev("contact.arrived", 100, "call-1", channel="voice", caller="+15550111"),
        ev("contact.identified", 101, "call-1", customer_id="cust-7", by="caller_number"),
        ev("contact.ended", 160, "call-1", reason="voicemail", channel="voice", **{"in": "ivr"}),
        ev("contact.arrived", 160, "vm-1", channel="voicemail", caller="+15550111"),
        ev("contact.identified", 160, "vm-1", customer_id="cust-7", by="caller_number"),
        ev("contact.voicemail", 160, "vm-1", caller="+15550111", **message),
        ev("contact.queued", 160, "vm-1", channel="voicemail", priority_class=9, position=1),
        ev("contact.connected", 900, "vm-1", "carol", offer_id="o-1", wait_s=740.0),
        ev("contact.voicemail_handled", 910, "vm-1", "carol", handling="listened", by="carol"),
        ev("contact.voicemail_handled", 960, "vm-1", "carol", handling="called_back", callback_id="cb-1"),
        ev("contact.wrap_up", 960, "vm-1", "carol", talk_s=60.0),
        ev("contact.ended", 960, "vm-1", reason="called_back", by="agent"),
    ]:
        log.append(e)
    await log.close()
    history = await contact_history(engine, "cust-7")
    await engine.dispose()
    by_id = {h["contact_id"]: h for h in history}
    assert by_id["call-1"]["end_reason"] == "voicemail" and "voicemail" not in by_id["call-1"]
    vm = by_id["vm-1"]
    assert (vm["channel"], vm["agent_id"], vm["end_reason"]) == ("voicemail", "carol", "called_back")
    assert vm["voicemail"] == {"seconds": 42.5, "from_contact": "call-1", "handling": "called_back"}
