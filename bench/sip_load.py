"""SIP front-end load: calls per second without failures, and concurrent calls with audio.

Drives sipp (Debian package sip-tester) against an in-process ``SipServer`` on loopback.
Every answered call plays a looping prompt (20 ms RTP frames from the shared media clock)
and consumes whatever the caller sends.

1. Call rate: for each rate R, sipp places R calls per second for ``--rate-seconds``, each
   call lasting 1 s; the figure is the highest R with every call successful (sipp's count).
2. Concurrency: for each level N, sipp holds N calls (set up at 50 calls/s) with
   ``-rtp_echo`` (so every call also sends audio back to us); once all are up the media
   clock's lateness is measured for ``--hold-seconds``. The figure is the largest N held
   with every call up, none failed, and under 1% of frames sent more than 20 ms late, in
   the better of ``--rounds`` tries (other work on a shared machine stalls the loop).

With ``--center`` the calls go through the whole running center instead of a prompt loop:
``create_app`` with the demo configuration (SQLite in a temporary folder, open all hours),
so every call runs the bank IVR flow (real TTS prompts, rendered once and then cached,
interaction log writes, comfort audio once queued).

Usage: python bench/sip_load.py [--quick] [--center] [--rates 50,100] [--levels 100,200]
Ends with one JSON line: name, mode, cores, max_cps_no_failures, max_concurrent_calls,
late_frame_ratio (at that level), and the per-level detail.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import re
import shutil
import socket
import struct
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from msgspec.structs import replace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine

from callcenter.config.telephony import TelephonyConfig
from callcenter.telephony.media import CallChannel
from callcenter.telephony.sip_server import SipServer

ROOT = Path(__file__).resolve().parent.parent
BANK_LINE = "+15550100"
SCENARIO = Path(__file__).resolve().parent.parent / "tests" / "telephony" / "sipp" / "call_load.xml"
PROMPT = struct.pack("<8000h", *(int(6000 * math.sin(2 * math.pi * 440 * i / 8000)) for i in range(8000)))


async def on_call(channel: CallChannel) -> None:
    async def speak() -> None:
        while await channel.play(PROMPT):
            pass

    speaker = asyncio.ensure_future(speak())
    async for _ in channel.events():
        pass
    await speaker


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sipp_counts(output: str) -> tuple[int, int]:
    ok = re.findall(r"Successful call\s+\|\s+\d+\s+\|\s+(\d+)", output)
    failed = re.findall(r"Failed call\s+\|\s+\d+\s+\|\s+(\d+)", output)
    return (int(ok[-1]) if ok else 0), (int(failed[-1]) if failed else -1)


async def sipp(port: int, workdir: Path, *args: str, timeout: float) -> tuple[int, int]:
    process = await asyncio.create_subprocess_exec(
        "sipp",
        "-sf",
        str(SCENARIO),
        "-i",
        "127.0.0.1",
        "-p",
        "0",
        "-nostdin",
        "-mp",
        str(free_udp_port()),
        "-timeout",
        f"{int(timeout)}s",
        *args,
        f"127.0.0.1:{port}",
        cwd=workdir,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout + 15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return sipp_counts(out.decode("utf-8", "replace"))


async def rate_level(
    server: SipServer, workdir: Path, rate: int, seconds: int, extra: tuple[str, ...] = ()
) -> dict[str, object]:
    total = rate * seconds
    ok, failed = await sipp(
        server.port,
        workdir,
        *extra,
        "-r",
        str(rate),
        "-m",
        str(total),
        "-d",
        "1000",
        "-l",
        str(rate * 3),
        timeout=seconds + 20,
    )
    return {
        "rate": rate,
        "calls": total,
        "successful": ok,
        "failed": failed,
        "passed": ok == total and failed == 0,
    }


async def concurrency_level(
    server: SipServer, workdir: Path, level: int, hold: float, extra: tuple[str, ...] = ()
) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    settle_by = loop.time() + 40  # calls left from a failed rate step end by their own timers
    while server.calls and loop.time() < settle_by:
        await asyncio.sleep(0.2)
    setup = level / 50
    duration_ms = int((setup + hold + 3) * 1000)
    run = asyncio.ensure_future(
        sipp(
            server.port,
            workdir,
            *extra,
            "-r",
            "50",
            "-m",
            str(level),
            "-l",
            str(level),
            "-d",
            str(duration_ms),
            "-rtp_echo",
            timeout=setup + hold + 30,
        )
    )
    deadline = loop.time() + setup + 10
    while len(server.calls) < level and loop.time() < deadline and not run.done():
        await asyncio.sleep(0.1)
    up = len(server.calls)
    server.clock.reset_stats()
    cpu0 = time.process_time()
    await asyncio.sleep(hold)
    cpu = (time.process_time() - cpu0) / hold
    late, max_late, held = server.clock.late_ratio, server.clock.max_lateness, len(server.calls)
    ok, failed = await run
    passed = up >= level and held >= level and failed == 0 and ok == level and late < 0.01
    return {
        "level": level,
        "up": up,
        "held_through": held,
        "successful": ok,
        "failed": failed,
        "late_frame_ratio": round(late, 5),
        "max_lateness_ms": round(max_late * 1000, 1),
        "server_cpu_share": round(cpu, 2),
        "passed": passed,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer levels (a smoke run)")
    parser.add_argument("--center", action="store_true", help="calls through the whole center (IVR, log)")
    parser.add_argument("--rate-seconds", type=int, default=5)
    parser.add_argument("--hold-seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2, help="tries per concurrency level")
    parser.add_argument("--rates", help="comma-separated call rates to try, e.g. 50,100")
    parser.add_argument("--levels", help="comma-separated concurrency levels, e.g. 100,200")
    args = parser.parse_args()
    if shutil.which("sipp") is None:
        sys.exit("sipp is not installed (Debian package sip-tester)")
    logging.basicConfig(level=logging.WARNING)
    rates = [25, 50] if args.quick else [50, 100, 200, 300, 400, 500]
    levels = [50, 100] if args.quick else [50, 100, 200, 300, 400]
    if args.rates:
        rates = [int(r) for r in args.rates.split(",")]
    if args.levels:
        levels = [int(n) for n in args.levels.split(",")]
    telephony = TelephonyConfig(
        sip_port=0, rtp_port_min=40000, rtp_port_max=44999, transports=("udp",), max_calls=5000
    )
    with tempfile.TemporaryDirectory() as tmp:
        if args.center:
            async with running_center(Path(tmp), telephony) as server:
                rate_results, level_results = await measure(server, Path(tmp), rates, levels, args)
        else:
            server = SipServer(telephony, on_call)
            await server.start()
            rate_results, level_results = await measure(server, Path(tmp), rates, levels, args)
            await server.stop()
    report(args, rate_results, level_results)


@contextlib.asynccontextmanager
async def running_center(folder: Path, telephony: TelephonyConfig) -> AsyncIterator[SipServer]:
    """The demo center with telephony on ``telephony``'s ports; yields its SIP server."""
    from aiohttp import web

    from callcenter.app import SQL_LOG, create_app
    from callcenter.appkeys import PROMPTS
    from callcenter.config.loader import load_config
    from callcenter.config.sections import HoursConfig
    from callcenter.runtime.voice.install import TELEPHONY

    config = load_config(ROOT / "config" / "callcenter.yaml")
    config = replace(
        config,
        storage=replace(config.storage, url=f"sqlite+aiosqlite:///{folder / 'cc.db'}"),
        hours={name: HoursConfig(always_open=True) for name in config.hours},
        speech=replace(config.speech, cache_dir=str(folder / "prompts")),
        telephony=replace(
            telephony, enabled=True, audiosocket_port=0, recordings_dir=str(folder / "recordings")
        ),
    )
    app = create_app(config)
    runner = web.AppRunner(app)
    await runner.setup()  # runs every cleanup_ctx: database, log, center, speech, IVR, telephony
    try:
        for text in (
            "Welcome to Demo Bank.",
            "For service in English, press 1 or say English. For service in Hebrew, press 2 or say Hebrew.",
        ):
            await app[PROMPTS].render(text)  # as `callcenter prompts build` would, ahead
        server = app[TELEPHONY].sip
        assert server is not None
        yield server
        await app[SQL_LOG].flush()
        print(f"center: {app[SQL_LOG].last_seq} interaction events logged")
    finally:
        await runner.cleanup()


async def measure(
    server: SipServer, workdir: Path, rates: list[int], levels: list[int], args: argparse.Namespace
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    rate_results: list[dict[str, object]] = []
    level_results: list[dict[str, object]] = []
    extra = ("-s", BANK_LINE) if args.center else ()  # the called number picks the bank flow
    for rate in rates:
        result = await rate_level(server, workdir, rate, args.rate_seconds, extra)
        rate_results.append(result)
        print(
            f"rate {rate:>4} calls/s: {result['successful']}/{result['calls']} successful, "
            f"{result['failed']} failed"
        )
        await asyncio.sleep(1.5)
        if not result["passed"]:
            break
    for level in levels:
        for _ in range(args.rounds):  # the machine is shared: a level passes if a round does
            result = await concurrency_level(server, workdir, level, args.hold_seconds, extra)
            if result["passed"]:
                break
        level_results.append(result)
        print(
            f"concurrent {level:>4}: up {result['up']}, late frames {result['late_frame_ratio']:.3%}, "
            f"max lateness {result['max_lateness_ms']} ms, server CPU {result['server_cpu_share']}, "
            f"failed {result['failed']}"
        )
        await asyncio.sleep(2)
        if not result["passed"]:
            break
    return rate_results, level_results


def report(
    args: argparse.Namespace, rate_results: list[dict[str, object]], level_results: list[dict[str, object]]
) -> None:
    info = machine()
    print(f"machine: {info}")
    passed_rates = [int(str(r["rate"])) for r in rate_results if r["passed"]]
    passed_levels = [r for r in level_results if r["passed"]]
    best = passed_levels[-1] if passed_levels else None
    summary = {
        "name": "sip_load",
        "mode": "center" if args.center else "sip",
        "cores": info["cores"],
        "max_cps_no_failures": max(passed_rates, default=0),
        "max_concurrent_calls": int(str(best["level"])) if best else 0,
        "late_frame_ratio": best["late_frame_ratio"] if best else None,
        "rates": rate_results,
        "levels": level_results,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main())
