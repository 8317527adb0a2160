"""``GET /metrics``: Prometheus text that prometheus_client's own parser reads, with the
figures of the hand-written log fed live through the center (log + bus), and again after a
restart from the stored log alone; each app has its own registry. Only a scraper with the
metrics token, or a supervisor or admin, may read it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from demo_center import demo_config
from msgspec.structs import replace
from prometheus_client.parser import text_string_to_metric_families

from callcenter.app import create_app
from callcenter.appkeys import CLOCK
from callcenter.config.sections import MetricsConfig
from callcenter.core.events import InteractionEvent
from callcenter.runtime.keys import CENTER
from callcenter.supervisor import web as supervisor_web

ROOT = Path(__file__).resolve().parents[2]


TOKEN = "scraper-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def make_app(db: Path) -> Any:
    config = replace(demo_config(f"sqlite+aiosqlite:///{db}"), metrics=MetricsConfig(token=TOKEN))
    app = create_app(config)
    supervisor_web.install(app)
    return app


async def scrape(client: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    res = await client.get("/metrics", headers=BEARER)
    assert res.status == 200 and res.content_type == "text/plain"
    out = {}
    for family in text_string_to_metric_families(await res.text()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def sample(values: dict[Any, float], name: str, **labels: str) -> float:
    return values[(name, tuple(sorted(labels.items())))]


def story_until_now(case: SimpleNamespace, now: float) -> list[InteractionEvent]:
    """The hand-written day ending now, plus c9 waiting in general for the last 30 s."""
    t0 = now - 1800
    return [
        *case.events(t0),
        InteractionEvent(
            type="contact.arrived", at=now - 30, contact_id="c9", queue="general", data={"caller": "+9"}
        ),
        InteractionEvent(type="contact.queued", at=now - 30, contact_id="c9", queue="general", data={}),
    ]


def check_story(values: dict[Any, float], *, restarted: bool = False) -> None:
    assert sample(values, "callcenter_contacts_offered_total", queue="general") == 6
    assert sample(values, "callcenter_contacts_offered_total", queue="cards") == 3
    assert sample(values, "callcenter_contacts_answered_total", queue="general") == 3
    assert sample(values, "callcenter_contacts_abandoned_total", queue="cards") == 2
    assert sample(values, "callcenter_contacts_offered_total", queue="stocks") == 0  # configured, idle
    if restarted:  # recovery closed c9's call (its media died with the server)
        assert sample(values, "callcenter_queue_waiting", queue="general") == 0
    else:
        assert sample(values, "callcenter_queue_waiting", queue="general") == 1
        assert 30 <= sample(values, "callcenter_queue_longest_wait_seconds", queue="general") < 90
    assert sample(values, "callcenter_queue_waiting", queue="cards") == 0
    # waits of general's answered contacts: 15, 40, 5 s
    assert sample(values, "callcenter_answer_wait_seconds_bucket", queue="general", le="5.0") == 1
    assert sample(values, "callcenter_answer_wait_seconds_bucket", queue="general", le="20.0") == 2
    assert sample(values, "callcenter_answer_wait_seconds_bucket", queue="general", le="+Inf") == 3
    assert sample(values, "callcenter_answer_wait_seconds_count", queue="general") == 3
    assert sample(values, "callcenter_answer_wait_seconds_sum", queue="general") == 60
    assert sample(values, "callcenter_agents", state="logged_out") == 2
    assert sample(values, "callcenter_agents", state="available") == 0
    assert sample(values, "callcenter_agent_state", agent="a1", state="logged_out") == 1


async def test_metrics_follow_the_center_live_and_survive_a_restart(
    aiohttp_client: Any, tmp_path: Path, case: SimpleNamespace
) -> None:
    db = tmp_path / "cc.db"
    app = make_app(db)
    client = await aiohttp_client(app)
    before = await scrape(client)
    assert sample(before, "callcenter_contacts_offered_total", queue="general") == 0
    for event in story_until_now(case, app[CLOCK].now()):
        app[CENTER].record(event)
    for _ in range(300):  # the fold follows the bus in its own task
        values = await scrape(client)
        if sample(values, "callcenter_contacts_offered_total", queue="general") == 6:
            break
        await asyncio.sleep(0.01)
    check_story(values)
    await client.close()

    restarted = await aiohttp_client(make_app(db))
    check_story(await scrape(restarted), restarted=True)  # primed from the log, nothing twice


async def test_each_app_has_its_own_registry(aiohttp_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    one = await aiohttp_client(make_app(tmp_path / "one.db"))
    two = await aiohttp_client(make_app(tmp_path / "two.db"))
    one.server.app[CENTER].record(
        InteractionEvent(
            type="contact.queued", at=one.server.app[CLOCK].now(), contact_id="x", queue="general"
        )
    )
    for _ in range(300):
        if sample(await scrape(one), "callcenter_queue_waiting", queue="general") == 1:
            break
        await asyncio.sleep(0.01)
    assert sample(await scrape(one), "callcenter_queue_waiting", queue="general") == 1
    assert sample(await scrape(two), "callcenter_queue_waiting", queue="general") == 0


async def test_only_the_token_or_a_supervisor_may_scrape(
    aiohttp_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await aiohttp_client(make_app(tmp_path / "cc.db"))
    anonymous = await client.get("/metrics")
    assert anonymous.status == 401 and "callcenter_agent_state" not in await anonymous.text()
    for wrong in ("Bearer nope", f"Bearer {TOKEN}x", f"Basic {TOKEN}", "Bearer "):
        res = await client.get("/metrics", headers={"Authorization": wrong})
        assert res.status == 401 and (await res.json())["error"]["field"] == "Authorization", wrong
    assert (await client.get("/metrics", headers=BEARER)).status == 200
    for user, status in (("alice", 403), ("sam", 200), ("admin", 200)):
        login = await client.post("/api/v1/auth/login", json={"username": user, "password": user})
        assert login.status == 200
        assert (await client.get("/metrics")).status == status, user
    await client.close()
    # the token may come from the environment; with none configured, only sessions
    monkeypatch.setenv("H17_METRICS_TOKEN", TOKEN)
    config = demo_config(f"sqlite+aiosqlite:///{tmp_path / 'env.db'}")
    for metrics, status in ((MetricsConfig(token_env="H17_METRICS_TOKEN"), 200), (MetricsConfig(), 401)):
        other = await aiohttp_client(create_app(replace(config, metrics=metrics)))
        assert (await other.get("/metrics", headers=BEARER)).status == status
        await other.close()
