"""Live mode against a real in-process server (aiohttp on loopback, SQLite): agents log in
and work from the desk WebSocket, customers come over the chat WebSocket, every contact's
end reaches the server's log; a server that goes away stops the run with what it measured."""

from __future__ import annotations

import asyncio
import json
import random
import textwrap
from pathlib import Path
from typing import Any

import pytest
from demo_center import demo_carrier, demo_config

from callcenter.app import create_app
from callcenter.appkeys import LOG
from callcenter.config.loader import load_config
from simulator.arrivals import poisson
from simulator.live import run_live, users_yaml
from simulator.live_cli import live_summary
from simulator.live_desk import ServerGone
from simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]

SCENARIO = """\
name: live-small
seed: 5
duration: 4m
skills: [{name: billing}, {name: cards}]
queues:
  - {name: general, steps: [{require: {billing: 1}}]}
  - {name: cards, steps: [{require: {cards: 1}}]}
arrivals: {rate_per_hour: 400}
mix:
  - {queue: general, weight: 3, channel: chat}
  - {queue: cards, weight: 1}
patience: {dist: exponential, mean: 90}
ivr: {time: {dist: uniform, min: 2, max: 10}, hangup_rate: 0.05}
agents:
  - name: desk
    count: 3
    skills: {billing: 2, cards: 1}
    handle_time: {dist: exponential, mean: 40}
    wrap_up: {dist: fixed, value: 5}
    answer_delay: {dist: uniform, min: 1, max: 3}
    decline_rate: 0.05
"""


def center(tmp_path: Path, scenario_path: Path) -> Any:
    scenario = load_scenario(scenario_path)
    text = f"""\
    storage: {{url: "sqlite+aiosqlite:///{tmp_path / "cc.db"}"}}
    skills: [{{name: billing}}, {{name: cards}}]
    queues:
      - {{name: general, steps: [{{require: {{billing: 1}}}}], wrap_up_s: 30, ring_time_s: 10}}
      - {{name: cards, steps: [{{require: {{cards: 1}}}}], wrap_up_s: 30, ring_time_s: 10}}
    """
    path = tmp_path / "callcenter.yaml"
    path.write_text(textwrap.dedent(text) + users_yaml(scenario))
    return load_config(path)


@pytest.fixture
def scenario_path(tmp_path: Path) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO)
    return path


async def test_a_live_run_answers_chats_from_real_desks(  # type: ignore[no-untyped-def]
    aiohttp_server, tmp_path: Path, scenario_path: Path
) -> None:
    server = await aiohttp_server(create_app(center(tmp_path, scenario_path)))
    scenario = load_scenario(scenario_path)
    run = await asyncio.wait_for(run_live(scenario, str(server.make_url("")), speed=60.0), 30)
    assert run.stopped is None
    assert run.contacts >= 15 and run.unfinished == []
    # the arrivals are the seed's, whatever the agents drew meanwhile
    expected = poisson(scenario.arrivals, scenario.start, scenario.duration, random.Random(scenario.seed))
    assert run.contacts == len(list(expected))
    assert run.voice_as_chat > 0  # the cards contacts are voice in the mix
    summary = live_summary(run)
    assert summary["offered"] > 10 and summary["answered"] > 5
    assert summary["answered"] + summary["abandoned"] + summary["ivr_hangups"] <= run.contacts
    assert 0 < summary["occupancy"] <= 1
    log = server.app[LOG]
    await log.flush()
    ended = {e.contact_id for e in await log.read(limit=100_000) if e.type == "contact.ended"}
    assert set(run.contact_ids) <= ended  # every contact's end reached the server's log
    dispositions = [e for e in await log.read(limit=100_000) if e.type == "contact.disposition"]
    assert dispositions and all(e.data["code"] == "resolved" for e in dispositions)


async def test_a_server_that_goes_away_stops_the_run_with_what_it_measured(  # type: ignore[no-untyped-def]
    aiohttp_server, tmp_path: Path, scenario_path: Path
) -> None:
    server = await aiohttp_server(create_app(center(tmp_path, scenario_path)))
    scenario = load_scenario(scenario_path)
    task = asyncio.create_task(run_live(scenario, str(server.make_url("")), speed=20.0))
    await asyncio.sleep(4)  # let part of the run happen before the server stops
    await server.close()
    run = await asyncio.wait_for(task, 15)
    assert run.stopped is not None
    summary = live_summary(run)
    assert summary["live"]["stopped"] == run.stopped and summary["offered"] > 0
    json.dumps(summary)  # still a complete summary to write


async def test_an_unreachable_server_is_named(scenario_path: Path) -> None:
    from simulator.live_desk import ServerGone

    with pytest.raises(ServerGone, match=r"cannot reach http://127\.0\.0\.1:9"):
        await run_live(load_scenario(scenario_path), "http://127.0.0.1:9", speed=10.0)


VOICE = """\
name: live-voice
seed: 3
duration: 10s
center: {root}/config/callcenter.yaml
arrivals: {{trace: calls.csv}}
mix:
  - {{queue: sales, keys: ["1", "2"]}}
patience: {{dist: fixed, value: 300}}
ivr: {{called: "+15550100"}}
agents:
  - name: desk
    count: 1
    skills: {{sales: 2}}
    handle_time: {{dist: fixed, value: 2}}
"""


async def test_voice_callers_key_through_the_real_ivr_over_the_media_stream(  # type: ignore[no-untyped-def]
    aiohttp_server, tmp_path: Path
) -> None:
    from msgspec.structs import replace

    from callcenter.config.sections import UserConfig

    (tmp_path / "calls.csv").write_text("at\n0\n1.5\n")
    path = tmp_path / "voice.yaml"
    path.write_text(VOICE.format(root=ROOT))
    scenario = load_scenario(path)
    config = demo_config(
        f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}",
        telephony={"enabled": True},
        users=[UserConfig(username="desk-0-0", password="desk-0-0", skills={"sales": 2})],
    )
    config = replace(config, speech=replace(config.speech, cache_dir=str(tmp_path / "prompts")))
    server = await aiohttp_server(create_app(config))
    url = str(server.make_url(""))
    with pytest.raises(ServerGone, match="refuses the simulator's calls"):  # no carrier: no calls
        await run_live(scenario, url, speed=1.0)
    run = await asyncio.wait_for(run_live(scenario, url, speed=1.0, carrier=demo_carrier()), 60)
    assert run.stopped is None and run.voice_calls == 2 and run.voice_as_chat == 0
    assert run.unfinished == []
    summary = live_summary(run)
    assert summary["answered"] == 2  # one agent: the second caller waited for the first
    log = server.app[LOG]
    await log.flush()
    events = await log.read(limit=100_000)
    for cid in run.contact_ids:  # the server's own contact ids, learnt from the offers
        mine = [e for e in events if e.contact_id == cid]
        kinds = [e.type for e in mine]
        assert "ivr.started" in kinds and "contact.ended" in kinds
        assert "ivr.survey" in kinds  # the caller rated the call after the agent ended it
        assert [e.queue for e in mine if e.type == "contact.queued"] == ["sales"]
        assert [e.data["digits"] for e in mine if e.type == "ivr.input"][:2] == ["1", "2"]


SHIFTS = """\
name: live-shifts
seed: 2
duration: 4m
start: 2026-11-25T08:00:00+00:00
skills: [{name: billing}]
queues: [{name: general, steps: [{require: {billing: 1}}]}]
arrivals: {rate_per_hour: 600}
mix: [{queue: general, channel: chat}]
patience: {dist: exponential, mean: 120}
agents:
  - name: early
    count: 2
    skills: {billing: 1}
    shift: "07:00-08:02"
    handle_time: {dist: fixed, value: 15}
  - name: late
    count: 2
    skills: {billing: 1}
    shift: "08:01-09:00"
    breaks: [{at: "08:02", minutes: 1}]
    handle_time: {dist: fixed, value: 15}
"""


async def test_live_agents_keep_their_shifts_and_breaks(  # type: ignore[no-untyped-def]
    aiohttp_server, tmp_path: Path
) -> None:
    path = tmp_path / "shifts.yaml"
    path.write_text(SHIFTS)
    server = await aiohttp_server(create_app(center(tmp_path, path)))
    scenario = load_scenario(path)
    run = await asyncio.wait_for(run_live(scenario, str(server.make_url("")), speed=30.0), 40)
    assert run.stopped is None
    t0 = scenario.start.timestamp()

    def states(agent: str) -> list[tuple[float, str]]:
        return [
            (e.at - t0, e.data["state"])
            for e in run.events
            if e.type == "agent.state" and e.agent_id == agent
        ]

    early, late = states("early-0-0"), states("late-1-0")
    assert early[0][1] == "AVAILABLE" and early[-1][1] == "LOGGED_OUT"
    assert 115 < early[-1][0] < 160  # off at 08:02 once the open chat (15 s) is done
    assert late[0][1] == "AVAILABLE" and 55 < late[0][0] < 85  # on at 08:01 (after a login)
    breaks = [t for t, state in late if state == "NOT_READY"]
    assert breaks and 115 < breaks[0] < 140  # the break at 08:02
    offered_early = [
        e.at - t0 for e in run.events if e.type == "contact.offered" and str(e.agent_id).startswith("early")
    ]
    assert offered_early and max(offered_early) < 140  # none after the shift's end
