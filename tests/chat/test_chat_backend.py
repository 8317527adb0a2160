"""The real chat backend in the real app: a customer who leaves at the menu still has a
complete life in the log; one who picks a topic waits in that queue as a chat contact."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from callcenter.app import create_app
from callcenter.appkeys import CENTER, LOG
from callcenter.config.loader import load_config

ROOT = Path(__file__).resolve().parents[2]


async def test_menu_leaver_and_queued_chat(aiohttp_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = load_config(ROOT / "config" / "callcenter.yaml")
    config = replace(config, storage=replace(config.storage, url=f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"))
    client = await aiohttp_client(create_app(config))
    app = client.server.app

    leaver = await client.ws_connect("/ws/chat")
    await leaver.send_json({"type": "start", "name": "Eli"})
    gone = (await leaver.receive_json(timeout=5))["contact_id"]
    await leaver.receive_json(timeout=5)  # the topic menu
    await leaver.send_json({"type": "leave"})

    stayer = await client.ws_connect("/ws/chat")
    await stayer.send_json({"type": "start", "email": "noa@example.com"})
    waiting = (await stayer.receive_json(timeout=5))["contact_id"]
    menu = await stayer.receive_json(timeout=5)
    internet = next(o["key"] for o in menu["options"] if o["label"] == "online banking support")
    await stayer.send_json({"type": "text", "text": "hello?"})  # not a topic: the menu again
    assert (await stayer.receive_json(timeout=5))["type"] == "prompt"
    await stayer.send_json({"type": "choose", "key": internet})
    queued = await stayer.receive_json(timeout=5)
    assert queued == {"type": "queued", "position": 1, "ewt_s": None}  # nobody is logged in yet

    contact = app[CENTER].engine.contacts[waiting]
    assert (contact.channel, contact.queue, contact.caller) == ("chat", "internet", "noa@example.com")
    await app[LOG].flush()
    assert [e.type for e in await app[LOG].read(contact_id=gone)] == ["contact.arrived", "contact.ended"]
    assert [e.type for e in await app[LOG].read(contact_id=waiting)] == ["contact.arrived", "contact.queued"]
    await leaver.close()
    await stayer.close()
