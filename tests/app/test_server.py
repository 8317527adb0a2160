"""The server starts, reports health and version, and stops cleanly with its log flushed:
in process through aiohttp's test client, and as a real process stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from demo_center import demo_config
from msgspec.structs import replace

from callcenter import __version__
from callcenter.app import create_app
from callcenter.appkeys import LOG
from callcenter.core.errors import CallcenterError
from callcenter.core.events import InteractionEvent
from callcenter.storage import migrate

ROOT = Path(__file__).resolve().parents[2]


def event_types(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT type FROM events ORDER BY seq")]


async def test_health_version_and_clean_stop(aiohttp_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "cc.db"
    app = create_app(demo_config(f"sqlite+aiosqlite:///{db}"))
    client = await aiohttp_client(app)
    health = await client.get("/healthz")
    assert health.status == 200
    body = await health.json()
    assert body["status"] == "ok" and body["database"]["ok"] is True
    assert body["database"]["url"].endswith("cc.db")
    version = await (await client.get("/api/v1/version")).json()
    assert version == {
        "name": "callcenter",
        "version": __version__,
        "api": "v1",
        "schema": migrate.head_revision(),
    }
    missing = await client.get("/api/v1/no-such-thing")
    assert missing.status == 404 and (await missing.json())["error"]["status"] == 404
    page = await client.get("/")
    assert "Demo Bank support" in await page.text()
    await client.close()  # runs every cleanup_ctx: the log is flushed before the engine closes
    assert event_types(db) == ["server.started", "server.stopped"]


async def test_health_goes_red_with_the_reason_when_the_log_cannot_write(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    db = tmp_path / "cc.db"
    app = create_app(demo_config(f"sqlite+aiosqlite:///{db}"))
    client = await aiohttp_client(app)
    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE events RENAME TO events_away")
    app[LOG].append(InteractionEvent(type="test.tick", at=1.0))
    for _ in range(300):
        response = await client.get("/healthz")
        if response.status == 503:
            break
        await asyncio.sleep(0.01)
    body = await response.json()
    assert response.status == 503 and body["status"] == "unavailable"
    assert "events" in body["interaction_log"]["last_error"]
    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE events_away RENAME TO events")
    await asyncio.wait_for(app[LOG].flush(), 10)
    assert (await client.get("/healthz")).status == 200
    await client.close()


async def test_postgres_with_an_old_schema_refuses_to_start(pg_url: str) -> None:
    app = create_app(demo_config(pg_url))
    runner = aiohttp.web.AppRunner(app)
    with pytest.raises(CallcenterError, match="run `callcenter db upgrade`"):
        await runner.setup()
    await runner.cleanup()


async def test_postgres_serves_after_db_upgrade(aiohttp_client, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    from callcenter.storage import database

    engine = database.create_engine(pg_url)
    await migrate.upgrade(engine)
    await engine.dispose()
    client = await aiohttp_client(create_app(demo_config(pg_url)))
    assert (await (await client.get("/healthz")).json())["database"]["ok"] is True
    await client.close()


def test_sigterm_stops_the_process_cleanly_with_the_log_flushed(tmp_path: Path, free_port: int) -> None:
    (tmp_path / "callcenter.yaml").write_text(
        textwrap.dedent("""\
        storage:
          url: sqlite+aiosqlite:///cc.db
        queues:
          - name: general
        """)
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "callcenter",
            "serve",
            "--config",
            str(tmp_path / "callcenter.yaml"),
            "--port",
            str(free_port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        _wait_healthy(free_port, proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert f"http://127.0.0.1:{free_port}/" in out
    assert "interaction log flushed" in err
    assert event_types(tmp_path / "cc.db") == ["server.started", "server.stopped"]


def test_port_in_use_is_a_clear_message(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        (tmp_path / "callcenter.yaml").write_text("storage:\n  url: sqlite+aiosqlite:///cc.db\n")
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "callcenter",
                "serve",
                "--config",
                str(tmp_path / "callcenter.yaml"),
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "Traceback" not in result.stderr


def _wait_healthy(port: int, proc: subprocess.Popen[str]) -> None:
    import time
    import urllib.request

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("server did not become healthy within 30 s")


async def test_stopping_tells_open_chats_the_server_is_going_away_without_waiting_on_them(
    tmp_path: Path,
) -> None:
    from aiohttp.test_utils import TestServer

    config = demo_config(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    config = replace(config, telephony=replace(config.telephony, enabled=False))
    server = TestServer(create_app(config), host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(server.make_url("/ws/chat"))
        await ws.send_json({"type": "start", "name": "Dana"})
        first = await ws.receive_json(timeout=10)
        assert first["type"] == "session"

        async def customer_page() -> None:  # an open page reads (and so answers a close) all along
            async for _ in ws:
                pass

        reading = asyncio.create_task(customer_page())
        # The page stays open; stopping must not wait on it (it used to take the heartbeat's
        # 20 s and more).
        await asyncio.wait_for(server.close(), timeout=8)
        await asyncio.wait_for(reading, timeout=5)
        assert ws.close_code == 1001
