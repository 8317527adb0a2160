"""Retention: a recording logged longer ago than ``recordings.retention_days`` loses its
file, once, with one ``recording.deleted`` event; younger ones and files outside
recordings_dir stay; the player is then told when retention removed it. The schedule runs
on the app's clock (a virtual one here), so no test waits for an hour."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from demo_center import demo_config
from msgspec.structs import replace
from sqlalchemy.ext.asyncio import AsyncEngine
from wav_files import write_wav

from callcenter.app import create_app
from callcenter.appkeys import CLOCK, DB, LOG
from callcenter.config.recordings import DAY_S, RecordingsConfig
from callcenter.core.clock import VirtualClock
from callcenter.core.events import InteractionEvent
from callcenter.recordings.retention import Sweeper
from callcenter.recordings.web import SCHEDULE
from callcenter.storage import database, migrate
from callcenter.storage.log import SqlInteractionLog
from callcenter.storage.recording_files import facts

pytestmark = pytest.mark.timeout(60)
NOW = 1_750_000_000.0


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    found = database.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    await migrate.upgrade(found)
    yield found
    await found.dispose()


@pytest.fixture
async def log(engine: AsyncEngine) -> AsyncIterator[SqlInteractionLog]:
    found = SqlInteractionLog(engine, now=lambda: NOW)
    await found.start()
    yield found
    await found.close()


def recorded(log: SqlInteractionLog, root: Path, contact_id: str, path: str, days_ago: float) -> Path:
    wav = write_wav(root / path, 0.2)
    log.append(
        InteractionEvent(
            type="contact.voicemail" if path.startswith("voicemail/") else "contact.recording",
            at=NOW - days_ago * DAY_S,
            contact_id=contact_id,
            data=facts(wav, root),
        )
    )
    return wav


async def test_one_sweep_deletes_what_is_past_retention_and_logs_each_file(
    engine: AsyncEngine, log: SqlInteractionLog, tmp_path: Path
) -> None:
    root = tmp_path / "recordings"
    old = recorded(log, root, "c-old", "c-old.wav", days_ago=31)
    old_vm = recorded(log, root, "vm-old", "voicemail/vm-old.wav", days_ago=45)
    young = recorded(log, root, "c-young", "c-young.wav", days_ago=29)
    outside = write_wav(tmp_path / "elsewhere.wav", 0.2)
    log.append(
        InteractionEvent(
            type="contact.recording", at=NOW - 99 * DAY_S, contact_id="c-x", data={"path": str(outside)}
        )
    )
    await log.flush()
    sweeper = Sweeper(engine, log.append, root, 30 * DAY_S)

    deleted = await sweeper.sweep(NOW)
    assert [(d["contact_id"], d["kind"], d["path"]) for d in deleted] == [
        ("c-old", "call", "c-old.wav"),
        ("vm-old", "voicemail", "voicemail/vm-old.wav"),
    ]
    assert not old.exists() and not old_vm.exists() and young.exists() and outside.exists()
    assert await sweeper.sweep(NOW + 60) == []  # nothing twice
    await log.flush()
    logged = [
        (e.contact_id, e.at, e.data["reason"]) for e in await log.read() if e.type == "recording.deleted"
    ]
    assert logged == [("c-old", NOW, "retention"), ("vm-old", NOW, "retention")]

    assert [d["contact_id"] for d in await sweeper.sweep(NOW + 2 * DAY_S)] == ["c-young"]


async def test_the_app_sweeps_on_its_clock_and_the_player_hears_when(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    root = tmp_path / "recordings"
    config = demo_config(
        f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}", telephony={"enabled": False, "recordings_dir": str(root)}
    )
    config = replace(config, recordings=RecordingsConfig(retention_days=30, sweep_interval_s=3600))
    clock = VirtualClock(start=NOW)
    client = await aiohttp_client(create_app(config, clock=clock))
    app = client.server.app
    wav = write_wav(root / "c-1.wav", 0.2)
    app[LOG].append(
        InteractionEvent(type="contact.arrived", at=NOW - 30 * DAY_S + 1800, contact_id="c-1", data={})
    )
    app[LOG].append(
        InteractionEvent(
            type="contact.recording", at=NOW - 30 * DAY_S + 1800, contact_id="c-1", data=facts(wav, root)
        )
    )
    await app[LOG].flush()
    schedule = app[SCHEDULE]
    await _passes(schedule, 1)  # the pass at start: 30 days less half an hour old, kept
    assert wav.exists()

    clock.advance(3600)  # the hourly pass
    await _passes(schedule, 2)
    assert not wav.exists()
    assert app[CLOCK].now() == NOW + 3600

    await client.post("/api/v1/auth/login", json={"username": "sam", "password": "sam"})
    res = await client.get("/api/v1/recordings/c-1/call")
    assert res.status == 410
    assert (await res.json())["error"]["message"] == (
        "the call recording of contact c-1 is no longer available: retention removed it on 2025-06-15 16:06 UTC"
    )
    listed = await (await client.get("/api/v1/contacts/c-1/recordings")).json()
    assert [(r["available"], r["deleted_at"]) for r in listed["recordings"]] == [(False, NOW + 3600)]
    assert DB in app


async def _passes(schedule: Any, count: int) -> None:
    import asyncio

    for _ in range(500):
        if schedule.passes >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the retention schedule ran {schedule.passes} passes, not {count}")
