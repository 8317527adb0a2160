"""Shared fixtures: real PostgreSQL and Redis on this machine (started if they are down),
a fresh PostgreSQL database per test, and a SQLite file per test."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent

# Property tests draw the same examples on every run (a failure in CI is then one anyone can
# reproduce, not a seed's luck); `HYPOTHESIS_PROFILE=explore` draws fresh ones each run.
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
PG_HOST, PG_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _wait_port(host: str, port: int, seconds: float = 20.0) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _port_open(host, port):
            return True
        time.sleep(0.2)
    return False


def ensure_postgres() -> None:
    if _port_open(PG_HOST, PG_PORT):
        return
    versions = os.listdir("/etc/postgresql") if os.path.isdir("/etc/postgresql") else []
    if versions and shutil.which("pg_ctlcluster"):
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", versions[0], "main", "start"],
            check=False,
            capture_output=True,
            timeout=60,
        )
    if not _wait_port(PG_HOST, PG_PORT):
        pytest.fail("PostgreSQL is not running on 127.0.0.1:5432 and could not be started")


def service_env() -> dict[str, str]:
    """The environment for a service a test starts (a Redis server): the machine's own
    clock, as the shared services keep it. Under `CALLCENTER_TEST_CLOCK` the tests run with
    libfaketime preloaded, which Redis (its jemalloc) cannot start with."""
    return {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("FAKETIME")}


def ensure_redis() -> None:
    if _port_open(REDIS_HOST, REDIS_PORT):
        return
    if shutil.which("redis-server"):
        subprocess.run(
            [
                "redis-server",
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "--port",
                str(REDIS_PORT),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            check=False,
            capture_output=True,
            timeout=30,
            env=service_env(),
        )
    if not _wait_port(REDIS_HOST, REDIS_PORT):
        pytest.fail("Redis is not running on 127.0.0.1:6379 and could not be started")


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL (database ``test``) of the local PostgreSQL server."""
    ensure_postgres()
    return f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/test"


def pg_admin(sql: str) -> None:
    """Run one admin statement on the ``test`` database (in its own thread and loop, so
    that it works from sync fixtures whatever loop a test runs)."""
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user="postgres", database="test")
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result(timeout=60)


@pytest.fixture
def pg_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"cc_test_{uuid.uuid4().hex[:12]}"
    pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'callcenter.db'}"


@pytest.fixture(scope="session")
def redis_server() -> str:
    ensure_redis()
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/0"


@pytest.fixture(autouse=True)
def no_log_left_unwritten() -> Iterator[None]:
    """A test's server writes its whole log before its database goes: a stopping server
    spills what it could not write (``storage.spill_file``; for PostgreSQL in the working
    folder), so a spill file appearing here means a fixture dropped the database under a
    running app and the test's last events were lost to it."""
    before = set(Path.cwd().glob("*.unwritten.jsonl"))
    yield
    left = sorted(str(p.name) for p in set(Path.cwd().glob("*.unwritten.jsonl")) - before)
    for name in left:
        Path(name).unlink()
    assert not left, f"the interaction log was spilled (database gone before the app stopped): {left}"


@pytest.fixture(scope="session", autouse=True)
def demo_ports_taken() -> Iterator[None]:
    """The suite must pass beside a running demo server: while it runs, the demo's own
    ports (HTTP 8080, SIP 5060 over UDP and TCP, AudioSocket 9092) are held here, as that
    server would hold them, so a test that binds one fails. Ports already taken (a demo is
    running) are left as they are."""
    from demo_center import DEMO_PORTS

    held: list[socket.socket] = []
    for port, kind in (
        (DEMO_PORTS["http"], socket.SOCK_STREAM),
        (DEMO_PORTS["sip"], socket.SOCK_DGRAM),
        (DEMO_PORTS["sip"], socket.SOCK_STREAM),
        (DEMO_PORTS["audiosocket"], socket.SOCK_STREAM),
    ):
        sock = socket.socket(socket.AF_INET, kind)
        try:
            sock.bind(("127.0.0.1", port))
            if kind == socket.SOCK_STREAM:
                sock.listen()
        except OSError:
            sock.close()
            continue
        held.append(sock)
    yield
    for sock in held:
        sock.close()


@pytest.fixture
def free_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield port
