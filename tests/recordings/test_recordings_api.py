"""Recordings over the real server: found from the interaction log, played with HTTP ranges,
refused to the wrong people, 410 when the file is gone, never a file outside
recordings_dir, and every access logged. The contacts go through the running ACD; the
``contact.recording`` event is appended as the voice bridge appends it (its own path is
covered by tests/telephony)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from demo_center import demo_config
from msgspec.structs import replace
from wav_files import write_wav

from callcenter.acd.messages import AgentLoggedIn, AgentReady, ContactEnded, OfferAccepted
from callcenter.app import create_app
from callcenter.appkeys import LOG
from callcenter.config.recordings import RecordingsConfig
from callcenter.core.clock import VirtualClock
from callcenter.core.events import InteractionEvent
from callcenter.runtime.keys import CENTER
from callcenter.storage.recording_files import facts

pytestmark = pytest.mark.timeout(60)
NOW = 1_750_000_000.0  # a Sunday evening in Jerusalem: the demo's queues are open
USERS = ("alice", "bob", "carol", "sam", "admin")


@dataclass
class Center:
    server: Any
    root: Path
    clock: VirtualClock
    http: dict[str, aiohttp.ClientSession]

    @property
    def app(self) -> Any:
        return self.server.app

    async def handled(
        self, contact_id: str, agent: str, *, end: bool = True, caller: str = "+15550000"
    ) -> None:
        """``contact_id`` arrives, is offered to ``agent`` alone and connected; then ends."""
        center = self.app[CENTER]
        if agent not in center.engine.agents:
            await center.submit(AgentLoggedIn(agent_id=agent, skills={"cards": 4, "banking": 4}))
        await center.submit(AgentReady(agent_id=agent))
        await center.contact_arrived(contact_id=contact_id, channel="voice", queue="cards", caller=caller)
        offer = next(o for o in center.engine.offers.values() if o.contact_id == contact_id)
        await center.submit(OfferAccepted(offer_id=offer.offer_id, agent_id=agent))
        if end:
            await center.submit(ContactEnded(contact_id=contact_id, by="caller"))

    def recorded(self, contact_id: str, agent: str | None, path: Path | str, *, kind: str = "call") -> None:
        data = (
            facts(path, self.root) if isinstance(path, Path) else {"path": path, "seconds": 1.0, "bytes": 1}
        )
        self.app[LOG].append(
            InteractionEvent(
                type="contact.voicemail" if kind == "voicemail" else "contact.recording",
                at=self.clock.now(),
                contact_id=contact_id,
                agent_id=agent,
                data=data,
            )
        )

    async def accesses(self) -> list[tuple[Any, ...]]:
        await self.app[LOG].flush()
        return [
            (e.data["by"], e.data["action"], e.data["allowed"], e.data["status"])
            for e in await self.app[LOG].read(limit=10_000)
            if e.type == "recording.accessed"
        ]


async def open_center(aiohttp_server: Any, tmp_path: Path, **recordings: Any) -> AsyncIterator[Center]:
    root = tmp_path / "recordings"
    config = demo_config(
        f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}",
        telephony={"enabled": False, "recordings_dir": str(root)},
    )
    config = replace(config, recordings=RecordingsConfig(**recordings))
    clock = VirtualClock(start=NOW)
    server = await aiohttp_server(create_app(config, clock=clock))
    sessions: dict[str, aiohttp.ClientSession] = {}
    for user in (None, *USERS):
        http = aiohttp.ClientSession(base_url=server.make_url("/"), cookie_jar=aiohttp.CookieJar(unsafe=True))
        if user is not None:
            res = await http.post("/api/v1/auth/login", json={"username": user, "password": user})
            assert res.status == 200, user
        sessions[user or "anyone"] = http
    try:
        yield Center(server, root, clock, sessions)
    finally:
        for http in sessions.values():
            await http.close()


@pytest.fixture
async def center(aiohttp_server: Any, tmp_path: Path) -> AsyncIterator[Center]:
    async for c in open_center(aiohttp_server, tmp_path, agents_play_own=True):
        yield c


async def test_a_supervisor_lists_plays_seeks_and_downloads_a_call_recording(center: Center) -> None:
    await center.handled("c-1", "alice")
    wav = write_wav(center.root / "c-1.wav", 2.0)
    center.recorded("c-1", "alice", wav)
    sam = center.http["sam"]

    listed = await (await sam.get("/api/v1/contacts/c-1/recordings")).json()
    [rec] = listed["recordings"]
    size = wav.stat().st_size
    assert rec["kind"] == "call" and rec["part"] == 1 and rec["available"] is True
    assert (rec["seconds"], rec["bytes"], rec["recorded_at"]) == (2.0, size, NOW)
    assert rec["url"] == "/api/v1/recordings/c-1/call"

    whole = await sam.get(rec["url"])
    assert whole.status == 200 and whole.headers["Content-Type"] == "audio/wav"
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert await whole.read() == wav.read_bytes()

    part = await sam.get(rec["url"], headers={"Range": "bytes=1000-1999"})
    assert part.status == 206
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{size}"
    assert await part.read() == wav.read_bytes()[1000:2000]
    tail = await sam.get(rec["url"], headers={"Range": "bytes=-10"})
    assert tail.status == 206 and await tail.read() == wav.read_bytes()[-10:]

    down = await sam.get(rec["url"] + "?download=1")
    assert down.status == 200
    assert down.headers["Content-Disposition"] == 'attachment; filename="c-1-call.wav"'
    assert await down.read() == wav.read_bytes()
    assert await center.accesses() == [
        ("sam", "list", True, 200),
        ("sam", "play", True, 200),
        ("sam", "play", True, 200),
        ("sam", "play", True, 200),
        ("sam", "download", True, 200),
    ]


async def test_who_may_hear_a_call_recording_and_every_try_is_logged(center: Center) -> None:
    await center.handled("c-2", "alice")
    center.recorded("c-2", "alice", write_wav(center.root / "c-2.wav", 0.5))
    url = "/api/v1/recordings/c-2/call"

    answers = {who: (await center.http[who].get(url)).status for who in ("anyone", "alice", "bob", "admin")}
    assert answers == {"anyone": 401, "alice": 200, "bob": 403, "admin": 200}
    refused = await center.http["bob"].get("/api/v1/contacts/c-2/recordings")
    assert refused.status == 403
    assert (await refused.json())["error"]["message"] == "you may not hear the recordings of contact c-2"
    assert (await center.http["alice"].get("/api/v1/contacts/c-2/recordings")).status == 200
    assert await center.accesses() == [
        (None, "play", False, 401),
        ("alice", "play", True, 200),
        ("bob", "play", False, 403),
        ("admin", "play", True, 200),
        ("bob", "list", False, 403),
        ("alice", "list", True, 200),
    ]


async def test_agents_hear_no_call_recordings_when_the_config_says_so(
    aiohttp_server: Any, tmp_path: Path
) -> None:
    async for center in open_center(aiohttp_server, tmp_path, agents_play_own=False):
        await center.handled("c-3", "alice")
        center.recorded("c-3", "alice", write_wav(center.root / "c-3.wav", 0.5))
        assert (await center.http["alice"].get("/api/v1/recordings/c-3/call")).status == 403
        assert (await center.http["sam"].get("/api/v1/recordings/c-3/call")).status == 200


async def test_an_agent_hears_a_voicemail_while_it_is_theirs_even_without_own_recordings(
    aiohttp_server: Any, tmp_path: Path
) -> None:
    async for center in open_center(aiohttp_server, tmp_path, agents_play_own=False):
        await center.handled("vm-1", "bob", end=False)  # the voicemail contact is with bob now
        wav = write_wav(center.root / "voicemail" / "c-9.wav", 1.0)
        center.recorded("vm-1", None, wav, kind="voicemail")
        url = "/api/v1/recordings/vm-1/voicemail"
        listed = await (await center.http["bob"].get("/api/v1/contacts/vm-1/recordings")).json()
        assert [(r["kind"], r["url"]) for r in listed["recordings"]] == [("voicemail", url)]
        assert (await center.http["bob"].get(url)).status == 200
        assert (await center.http["carol"].get(url)).status == 403
        await center.app[CENTER].submit(ContactEnded(contact_id="vm-1", by="agent"))
        assert (await center.http["bob"].get(url)).status == 403  # handled, no longer live


async def test_a_recording_whose_file_is_gone_answers_410_and_the_list_says_so(center: Center) -> None:
    await center.handled("c-4", "alice")
    wav = write_wav(center.root / "c-4.wav", 0.5)
    center.recorded("c-4", "alice", wav)
    wav.unlink()
    res = await center.http["sam"].get("/api/v1/recordings/c-4/call")
    assert res.status == 410
    assert (await res.json())["error"]["message"] == (
        "the call recording of contact c-4 is no longer available: its file is missing"
    )
    listed = await (await center.http["sam"].get("/api/v1/contacts/c-4/recordings")).json()
    assert [r["available"] for r in listed["recordings"]] == [False]
    assert (await center.accesses())[0] == ("sam", "play", False, 410)


async def test_bad_requests_name_their_field(center: Center) -> None:
    await center.handled("c-5", "alice")
    sam = center.http["sam"]
    for url, status, field in (
        ("/api/v1/recordings/c-5/video", 400, "kind"),
        ("/api/v1/recordings/c-5/call?part=0", 400, "part"),
        ("/api/v1/recordings/c-5/call", 404, "kind"),  # handled, never recorded
        ("/api/v1/recordings/nobody/call", 404, "contact_id"),
        ("/api/v1/contacts/nobody/recordings", 404, "contact_id"),
    ):
        res = await sam.get(url)
        assert (res.status, (await res.json())["error"]["field"]) == (status, field), url


@pytest.mark.parametrize("how", ["dot-dot", "absolute", "link"])
async def test_a_logged_path_outside_recordings_dir_is_never_served(
    center: Center, tmp_path: Path, how: str
) -> None:
    secret = tmp_path / "secret.wav"
    write_wav(secret, 0.2)
    center.root.mkdir(parents=True, exist_ok=True)
    if how == "link":
        os.symlink(secret, center.root / "c-6.wav")
        logged = "c-6.wav"
    else:
        logged = "../secret.wav" if how == "dot-dot" else str(secret)
    await center.handled("c-6", "alice")
    center.recorded("c-6", "alice", logged)
    res = await center.http["sam"].get("/api/v1/recordings/c-6/call")
    assert res.status == 404
    body = await res.json()
    assert body["error"]["message"] == "the logged file is outside recordings_dir; it is not served"
    listed = await (await center.http["sam"].get("/api/v1/contacts/c-6/recordings")).json()
    assert [r["available"] for r in listed["recordings"]] == [False]
    assert secret.exists()


async def test_a_transferred_call_has_one_recording_per_bridge(center: Center) -> None:
    await center.handled("c-7", "alice")
    center.recorded("c-7", "alice", write_wav(center.root / "c-7.wav", 0.5))
    second = write_wav(center.root / "c-7-2.wav", 0.7)
    center.recorded("c-7", "bob", second)
    listed = await (await center.http["sam"].get("/api/v1/contacts/c-7/recordings")).json()
    assert [(r["part"], r["url"]) for r in listed["recordings"]] == [
        (1, "/api/v1/recordings/c-7/call"),
        (2, "/api/v1/recordings/c-7/call?part=2"),
    ]
    res = await center.http["sam"].get("/api/v1/recordings/c-7/call?part=2")
    assert await res.read() == second.read_bytes()


async def test_the_timeline_the_contact_list_and_the_crm_history_show_the_recording(center: Center) -> None:
    await center.handled("c-8", "alice", caller="+972501234567")  # the demo's cus-demo-0001
    center.recorded("c-8", "alice", write_wav(center.root / "c-8.wav", 0.5))
    sam = center.http["sam"]
    timeline = await (await sam.get("/api/v1/contacts/c-8/timeline")).json()
    kinds = [e["type"] for e in timeline["events"]]
    assert kinds[0] == "contact.arrived" and "contact.connected" in kinds and kinds[-1] == "contact.recording"
    assert timeline["contact"]["agent_id"] == "alice" and timeline["timezone"] == "Asia/Jerusalem"
    found = await (await sam.get(f"/api/v1/contacts?from={NOW - 60}&to={NOW + 60}")).json()
    assert [(c["contact_id"], c["recordings"]) for c in found["contacts"]] == [("c-8", 1)]
    assert (await center.http["alice"].get("/api/v1/contacts/c-8/timeline")).status == 403
    page = await sam.get("/contacts/c-8")
    assert page.status == 200 and "Recordings" in await page.text()

    want = [
        {"kind": "call", "part": 1, "seconds": 0.5, "recorded_at": NOW, "url": "/api/v1/recordings/c-8/call"}
    ]
    await center.app[LOG].flush()  # the history route reads what is written
    history = await (await center.http["alice"].get("/api/v1/customers/cus-demo-0001/contacts")).json()

    assert [c["recordings"] for c in history["contacts"] if c["contact_id"] == "c-8"] == [want]
    await center.handled("c-9", "alice", end=False, caller="+972501234567")  # the next call: its card
    pop = await (await center.http["alice"].get("/api/v1/contacts/c-9/screen-pop")).json()
    assert [c["recordings"] for c in pop["recent_contacts"] if c["contact_id"] == "c-8"] == [want]
