"""A restart keeps the customer's place: a ``callcenter serve`` process is killed with
SIGKILL while one chat rings on an agent's desk and two wait; started again on the same
database, it keeps them for their customers. The customers who come back with their resume
tokens see the conversation so far and are served in their original order, ahead of a
chat that arrived after the restart, whatever order they came back in; the one who does
not come back is ended ``abandoned`` (after_restart) when the window is over, and the
tokens of chats that ended are refused. The log and the contacts table agree."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
from desk_socket import Desk

from callcenter.storage import database
from callcenter.storage.log import SqlInteractionLog
from callcenter.storage.projections import rebuild
from tests.app.chat_restart import Page, ends, query, wait_for, write_config

pytestmark = pytest.mark.timeout(90)

WINDOW_S = 6.0


def states(db: Path) -> dict[str, str]:
    return dict(query(db, "SELECT contact_id, state FROM contacts"))


def resumable(db: Path) -> set[str]:
    return {r[0] for r in query(db, "SELECT contact_id FROM chat_resume WHERE queued = 1")}


async def test_waiting_and_ringing_chats_resume_in_their_place_after_a_kill_9(tmp_path: Path) -> None:
    node = write_config(tmp_path, window_s=WINDOW_S)
    db = tmp_path / "cc.db"
    async with aiohttp.ClientSession() as http:
        node.start()
        try:
            await node.wait_healthy(http)
            desk = await Desk.open(node.url, "alice")
            assert (await desk.ask("set_state", state="ready"))["type"] == "ack"
            ringing = await Page.start(http, node.url, "ringing@example.com", waits=False)
            offer = await desk.until("offer")
            assert offer["contact_id"] == ringing.contact_id  # rings on alice's desk, not answered
            await ringing.ws.send_json({"type": "text", "text": "my card is blocked"})
            waiting = await Page.start(http, node.url, "waiting@example.com")
            gone = await Page.start(http, node.url, "gone@example.com")
            ids = [ringing.contact_id, waiting.contact_id, gone.contact_id]
            expected = {
                ringing.contact_id: "offered",
                waiting.contact_id: "queued",
                gone.contact_id: "queued",
            }
            await wait_for(lambda: all(states(db).get(c) == s for c, s in expected.items()), "chats logged")
            await wait_for(lambda: resumable(db) >= set(ids), "resume records written")
            await wait_for(
                lambda: query(
                    db,
                    "SELECT 1 FROM chat_resume_frames f JOIN chat_resume r USING (token_sha256) "
                    "WHERE r.contact_id = ? AND f.frame LIKE '%card is blocked%'",
                    ringing.contact_id,
                ),
                "the customer's line kept",
            )
            await desk.close()
            node.kill()
            for page in (ringing, waiting, gone):
                await page.close()

            node.start()  # the same database: the log knows where each chat stood
            await node.wait_healthy(http)
            [recovered] = [
                json.loads(d) for (d,) in query(db, "SELECT data FROM events WHERE type = 'server.recovered'")
            ]
            assert recovered["held"] == ids and recovered["closed"] == []
            later = await Page.start(http, node.url, "later@example.com")  # arrived after the restart
            assert later.frames[-1]["position"] == 1

            # the waiting chat's customer comes back first, the ringing one's second
            back_waiting = await Page.resume(http, node.url, waiting.token)
            assert back_waiting.frames[0]["resumed"] is True
            assert (await back_waiting.until("queued"))["position"] == 1  # ahead of the later chat
            back_ringing = await Page.resume(http, node.url, ringing.token)
            assert back_ringing.frames[0] == {
                "type": "session",
                "contact_id": ringing.contact_id,
                "token": ringing.token,
                "resumed": True,
            }
            assert (await back_ringing.until("queued"))["position"] == 1  # its original place: first
            lines = [f["text"] for f in back_ringing.frames if f["type"] == "message"]
            assert lines == ["my card is blocked"]  # the conversation so far, shown again

            desk = await Desk.open(node.url, "alice")
            assert (await desk.ask("set_state", state="ready"))["type"] == "ack"
            served = []
            for _ in range(3):
                offer = await desk.until("offer")
                served.append(offer["contact_id"])
                assert (await desk.ask("accept", offer_id=offer["offer_id"]))["type"] == "ack"
            assert served == [ringing.contact_id, waiting.contact_id, later.contact_id]
            assert (await back_ringing.until("agent_joined"))["name"] == "Alice"
            await back_ringing.ws.send_json({"type": "text", "text": "still blocked"})
            line = await desk.until("chat_message")
            assert (line["contact_id"], line["text"]) == (ringing.contact_id, "still blocked")

            # the customer who did not come back: ended once the window is over, token refused
            await wait_for(
                lambda: ends(db).get(gone.contact_id), "the absent chat ended", timeout=WINDOW_S + 10
            )
            [end] = [
                json.loads(d)
                for (d,) in query(
                    db,
                    "SELECT data FROM events WHERE type = 'contact.ended' AND contact_id = ?",
                    gone.contact_id,
                )
            ]
            assert end == {"reason": "abandoned", "after_restart": True, "was": "waiting"}
            refused = await Page.resume(http, node.url, gone.token)
            assert refused.frames[0]["type"] == "error" and refused.frames[0]["code"] == "unknown_session"
            await refused.close()

            # a chat that ended: its token is refused too
            assert (await desk.ask("end", contact_id=waiting.contact_id))["type"] == "ack"
            assert (await back_waiting.until("ended"))["reason"] == "completed"
            await back_waiting.close()
            await wait_for(lambda: ends(db).get(waiting.contact_id), "the ended chat logged")
            again = await Page.resume(http, node.url, waiting.token)
            assert again.frames[0]["type"] == "error" and again.frames[0]["code"] == "unknown_session"
            await again.close()
            for page in (back_ringing, later):
                await page.close()
            await desk.close()
        finally:
            node.stop()
    assert node.proc is not None and node.proc.returncode == 0, node.log_path.read_text()[-3000:]
    every_end = ends(db)
    assert all(len(reasons) == 1 for reasons in every_end.values()), every_end  # each ends once
    assert every_end[gone.contact_id] == ["abandoned"]
    engine = database.create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        events = await SqlInteractionLog(engine).read(limit=100_000)
    finally:
        await engine.dispose()
    folded = rebuild(events)
    table = {r[0]: (r[1], r[2]) for r in query(db, "SELECT contact_id, state, end_reason FROM contacts")}
    assert {k: (v["state"], v["end_reason"]) for k, v in folded.items()} == table  # the table agrees
