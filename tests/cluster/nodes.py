"""``callcenter serve`` processes on loopback for cluster tests and the bench: configs that
differ only in node id and port, start, wait until healthy, SIGKILL, stop."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from demo_center import demo_yaml

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(
    folder: Path,
    node_id: str,
    port: int,
    *,
    db_url: str,
    prefix: str,
    redis_url: str = "redis://127.0.0.1:6379/0",
    flush_interval_ms: int = 20,
    **cluster: Any,
) -> Path:
    """The demo config in cluster mode (open at every hour, no telephony: the same config
    on every node); folders stay those of the repository's config."""
    data = demo_yaml(port=port, telephony=False)
    data["storage"] = {"url": db_url, "upgrade_on_start": False, "flush_interval_ms": flush_interval_ms}
    data["bus"] = {"kind": "redis", "url": redis_url, "prefix": prefix}
    data["cluster"] = {"enabled": True, "node_id": node_id, **cluster}
    path = folder / f"{node_id}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class Node:
    node_id: str
    port: int
    config: Path
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "callcenter",
                    "serve",
                    "--config",
                    str(self.config),
                    "--log-level",
                    "WARNING",
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no lease release."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    async def health(self, http: aiohttp.ClientSession) -> dict[str, Any] | None:
        try:
            async with http.get(f"{self.url}/healthz", timeout=aiohttp.ClientTimeout(total=2)) as res:
                body: dict[str, Any] = await res.json()
                return body
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None

    async def wait_healthy(self, http: aiohttp.ClientSession, timeout: float = 40.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"node {self.node_id} exited: {self.log_path.read_text()[-3000:]}")
                body = await self.health(http)
                if body is not None and body["status"] == "ok":
                    return body
                await asyncio.sleep(0.1)


def make_nodes(folder: Path, names: list[str], **config: Any) -> list[Node]:
    nodes = []
    for name in names:
        port = free_port()
        nodes.append(Node(name, port, write_config(folder, name, port, **config), folder / f"{name}.log"))
    return nodes


async def leader_of(http: aiohttp.ClientSession, nodes: list[Node]) -> Node | None:
    for node in nodes:
        body = await node.health(http)
        if body is not None and body.get("cluster", {}).get("leader"):
            return node
    return None
