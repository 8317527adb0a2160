"""Helpers for telephony tests: run sipp against a server on loopback, count open fds, tones."""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import struct
from pathlib import Path

import pytest

SIPP_DIR = Path(__file__).parent / "sipp"
PCAP_DIRS = [os.environ.get("CALLCENTER_SIPP_PCAPS", ""), "/usr/share/sip-tester", "/usr/share/sipp"]


def pcap_dir() -> Path | None:
    for folder in PCAP_DIRS:
        if folder and (Path(folder) / "dtmf_2833_1.pcap").exists():
            return Path(folder)
    return None


needs_sipp = pytest.mark.skipif(
    shutil.which("sipp") is None or pcap_dir() is None,
    reason="sipp (Debian package sip-tester) is not installed",
)


async def run_sipp(
    scenario: str, port: int, workdir: Path, *args: str, timeout: float = 30.0
) -> tuple[int, str]:
    """Run one sipp scenario (copied next to the shipped pcaps) against 127.0.0.1:port."""
    source = pcap_dir()
    assert source is not None
    for pcap in source.glob("*.pcap"):
        target = workdir / pcap.name
        if not target.exists():
            target.symlink_to(pcap)
    shutil.copy(SIPP_DIR / scenario, workdir / scenario)
    process = await asyncio.create_subprocess_exec(
        "sipp",
        "-sf",
        str(workdir / scenario),
        "-i",
        "127.0.0.1",
        "-p",
        "0",
        "-nostdin",
        "-timeout",
        f"{int(timeout)}s",
        "-timeout_error",
        *args,
        f"127.0.0.1:{port}",
        cwd=workdir,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout + 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return process.returncode or 0, out.decode("utf-8", "replace")


async def bank_call(
    scenario: str,
    port: int,
    workdir: Path,
    number: str,
    *,
    pause_ms: int | str | None = None,
    timeout: float = 30.0,
) -> tuple[int, str]:
    """One sipp caller dialling ``number`` with its RTP echoed back from a free media port
    (``pause_ms``: the scenario's ``-d`` pause, where it has one)."""
    pause = ("-d", str(pause_ms)) if pause_ms is not None else ()
    return await run_sipp(
        scenario,
        port,
        workdir,
        "-m",
        "1",
        "-mp",
        str(free_port()),
        "-rtp_echo",
        "-s",
        number,
        *pause,
        timeout=timeout,
    )


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def tone(freq: float = 1000.0, seconds: float = 1.0, amplitude: int = 8000) -> bytes:
    n = int(8000 * seconds)
    return struct.pack(
        f"<{n}h", *(int(amplitude * math.sin(2 * math.pi * freq * i / 8000)) for i in range(n))
    )


def tone_power(pcm: bytes, freq: float) -> float:
    """Goertzel power of ``freq`` relative to the frame's total power (0..1)."""
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm[: len(pcm) // 2 * 2])
    if not samples:
        return 0.0
    coeff = 2 * math.cos(2 * math.pi * freq / 8000)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    total = sum(x * x for x in samples) or 1
    return power / (total * len(samples) / 2)


def free_port(kind: int = 2) -> int:
    """A port free right now for UDP (kind=2, SOCK_DGRAM) on loopback."""
    import socket

    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def until(condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    """Wait (bounded) for a condition that has no awaitable, e.g. a peer's reply to our BYE."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
