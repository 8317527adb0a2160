"""The README's first command installs no extras: the embedded defaults must start without
the cluster extra's packages (redis, asyncpg), and a configuration that names one says
which install line it needs. Each case runs in a fresh interpreter where those packages
cannot be imported (``.ci/run`` also checks a real clean virtual environment)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WITHOUT_EXTRAS = "import sys\nsys.modules['redis'] = None\nsys.modules['asyncpg'] = None\n"


def run_without_extras(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRAS + textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_the_demo_starts_and_answers_without_the_cluster_extra(tmp_path: Path) -> None:
    done = run_without_extras(
        """
        import asyncio, sys
        from aiohttp.test_utils import TestClient, TestServer
        sys.path.insert(0, "tests/support")
        from demo_center import demo_config
        from callcenter.app import create_app

        async def main() -> None:
            config = demo_config(f"sqlite+aiosqlite:///{sys.argv[1]}/cc.db", telephony=False)
            async with TestClient(TestServer(create_app(config))) as client:
                health = await (await client.get("/healthz")).json()
                pages = [(await client.get(p)).status for p in ("/chat", "/desk", "/wallboard")]
                print(health["status"], pages)
            print("redis" in sys.modules and sys.modules["redis"] is not None)

        asyncio.run(main())
    """,
        str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["ok [200, 200, 200]", "False"]


@pytest.mark.parametrize(
    ("config", "where"),
    [
        ("bus:\n  kind: redis\n", "callcenter.yaml:2: bus.kind: the Redis bus needs the redis package"),
        (
            "storage:\n  url: postgresql+asyncpg://cc@db/cc\n",
            "callcenter.yaml:2: storage.url: PostgreSQL needs the asyncpg driver",
        ),
    ],
)
def test_a_config_that_needs_a_missing_extra_names_the_install_line(
    tmp_path: Path, config: str, where: str
) -> None:
    path = tmp_path / "callcenter.yaml"
    path.write_text(config, encoding="utf-8")
    for command in ("check-config", "serve"):
        done = run_without_extras(
            """
            import sys
            from callcenter.cli import main
            sys.exit(main(sys.argv[1:]))
        """,
            command,
            "--config",
            str(path),
        )
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        assert where in done.stderr, done.stderr
        assert "pip install 'callcenter[cluster]'" in done.stderr
