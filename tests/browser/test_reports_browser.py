"""The reports and staffing pages in real Chromium, over a small hand-written log.

Monday 2026-03-02 in the demo's zone (Asia/Jerusalem), service level within 20 s:
  09:00 c1 general, answered after 10 s, talks 180 s      09:10 c2 general, answered after 30 s
  09:20 c3 cards, hangs up after 60 s                     (c2 talks 120 s)
  10:05 c4 cards, answered after 5 s, talks 120 s
so 09:00-10:00: offered 3, answered 2, abandoned 1, service level 1/3, ASA 20 s, AHT 150 s;
10:00-11:00: offered 1, answered 1, service level 1, ASA 5 s, AHT 120 s; the day: offered
4, service level 2/4, ASA 15 s, AHT 140 s. Staffing Monday 2026-03-09 from the log: the one
Monday with contacts gives 3 calls at 09:00 and 1 at 10:00, patience (10+30+60+5)/1 = 105 s.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from browser_support import login, screenshot

from callcenter.appkeys import LOG
from callcenter.core.events import InteractionEvent
from callcenter.metrics.forecast import Forecast, ForecastRow
from callcenter.supervisor.staffing import Target, staffing_table

pytestmark = pytest.mark.browser
ZONE = ZoneInfo("Asia/Jerusalem")
NO_FIGURE = "\u2013"  # the pages' dash for a ratio with no base


def at(hh: int, mm: int, ss: int = 0) -> float:
    return datetime(2026, 3, 2, hh, mm, ss, tzinfo=ZONE).timestamp()


def answered(
    cid: str, queue: str, agent: str, start: float, wait: float, talk: float
) -> list[InteractionEvent]:
    def ev(kind: str, t: float, **data: Any) -> InteractionEvent:
        return InteractionEvent(
            type=kind,
            at=start + t,
            contact_id=cid,
            queue=queue,
            agent_id=agent if kind in ("contact.connected", "contact.wrap_up") else None,
            data=data,
        )

    return [
        ev("contact.arrived", 0, caller=f"+972{cid}"),
        ev("contact.queued", 0),
        ev("contact.connected", wait),
        ev("contact.wrap_up", wait + talk, talk_s=talk),
        ev("contact.ended", wait + talk, reason="completed"),
    ]


def monday() -> list[InteractionEvent]:
    abandon = at(9, 20)
    events = [
        *answered("c1", "general", "a1", at(9, 0), 10, 180),
        *answered("c2", "general", "a1", at(9, 10), 30, 120),
        InteractionEvent(
            type="contact.arrived", at=abandon, contact_id="c3", queue="cards", data={"caller": "+9723"}
        ),
        InteractionEvent(type="contact.queued", at=abandon, contact_id="c3", queue="cards"),
        InteractionEvent(
            type="contact.ended",
            at=abandon + 60,
            contact_id="c3",
            queue="cards",
            data={"reason": "abandoned"},
        ),
        *answered("c4", "cards", "a2", at(10, 5), 5, 120),
    ]
    return sorted(events, key=lambda e: e.at)


async def seeded(live_server: Any) -> None:
    log = live_server.app[LOG]
    for event in monday():
        log.append(event)
    await log.flush()


async def table(page: Any) -> list[dict[str, str]]:
    """The page's table as header -> cell text, one dict a row."""
    return list(
        await page.evaluate(
            """() => { const t = document.querySelector('#rows');
        const head = [...t.tHead.rows[0].cells].map((c) => c.textContent);
        return [...t.tBodies[0].rows].map((r) => Object.fromEntries([...r.cells].map((c, i) => [head[i], c.textContent]))); }"""
        )
    )


async def totals(page: Any) -> dict[str, str]:
    return dict(
        await page.evaluate(
            "() => Object.fromEntries([...document.querySelectorAll('#totals div')]"
            ".map((d) => [d.querySelector('span').textContent, d.querySelector('b').textContent]))"
        )
    )


async def test_the_reports_page_shows_the_hand_computed_figures_charts_and_csv(
    browser: Any, live_server: Any, tmp_path: Path
) -> None:
    await seeded(live_server)
    errors: list[str] = []
    page = await browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await login(page, live_server, "/reports", "sam")
    await page.fill("input[name=from]", "2026-03-02")
    await page.fill("input[name=to]", "2026-03-02")
    await page.select_option("select[name=interval]", "60")
    await page.click("button[type=submit]")
    await page.wait_for_function("document.querySelectorAll('#rows tbody tr').length === 24", timeout=5000)
    rows = {r["Start"][11:]: r for r in await table(page)}
    nine, ten = rows["09:00"], rows["10:00"]
    assert (nine["Offered"], nine["Answered"], nine["Abandoned"], nine["SL"]) == ("3", "2", "1", "33.3%")
    assert (nine["ASA"], nine["AHT"]) == ("20 s", "150 s")
    assert (ten["Offered"], ten["SL"], ten["ASA"], ten["AHT"]) == ("1", "100.0%", "5 s", "120 s")
    assert rows["11:00"]["Offered"] == "0" and rows["11:00"]["SL"] == NO_FIGURE  # no base: no ratio
    total = await totals(page)
    assert (total["Offered"], total["SL"], total["ASA"], total["AHT"]) == ("4", "50.0%", "15 s", "140 s")
    # Charts: a bar per non-zero count (offered, answered, abandoned at 09:00; offered,
    # answered at 10:00) and the service level line through its two points.
    assert await page.locator("#volume rect").count() == 5
    assert (
        await page.locator("#volume path").count() == 1 and await page.locator("#volume circle").count() == 2
    )
    assert await page.locator("#times path").count() == 2  # ASA and AHT (no agent time: no occupancy)

    async with page.expect_download() as download_info:
        await page.click("#csv")
    download = await download_info.value
    text = Path(await download.path()).read_text()
    by_start = {r["start"][11:16]: r for r in csv.DictReader(io.StringIO(text))}
    assert len(by_start) == 24 and by_start["09:00"]["offered"] == "3"
    assert (
        float(by_start["09:00"]["service_level"]) == pytest.approx(1 / 3)
        and by_start["11:00"]["service_level"] == ""
    )

    await page.select_option("select[name=by]", "queue")
    await page.click("button[type=submit]")
    await page.wait_for_selector("#rows th:text('Queue')", timeout=5000)
    per_queue = {(r["Start"][11:], r["Queue"]): r for r in await table(page)}
    assert (
        per_queue[("09:00", "general")]["Offered"] == "2"
        and per_queue[("09:00", "cards")]["Abandoned"] == "1"
    )
    assert per_queue[("10:00", "cards")]["SL"] == "100.0%"
    await screenshot(page, "reports.png", tmp_path)

    # Bad ranges: reversed, too long for the interval; the page names the parameter.
    await page.fill("input[name=from]", "2026-03-05")
    await page.click("button[type=submit]")
    await page.wait_for_selector("#error:text('to: to is before from')", timeout=5000)
    await page.fill("input[name=from]", "2026-01-01")
    await page.fill("input[name=to]", "2026-12-31")
    await page.select_option("select[name=interval]", "15")
    await page.click("button[type=submit]")
    await page.wait_for_selector("#error:text('at most 93 days')", timeout=5000)
    await page.close()
    assert errors == []


async def test_the_staffing_page_staffs_the_log_and_an_uploaded_forecast(
    browser: Any, live_server: Any, tmp_path: Path
) -> None:
    await seeded(live_server)
    errors: list[str] = []
    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await login(page, live_server, "/staffing", "sam")
    await page.fill("input[name=date]", "2026-03-09")
    await page.click("button[type=submit]")
    await page.wait_for_selector("#about:text('Forecast for 2026-03-09')", timeout=5000)
    about = await page.text_content("#about") or ""
    assert "the mean of 2026-03-02" in about and "Patience 105 s" in about
    rows = {r["Start"]: r for r in await table(page)}
    assert len(rows) == 24
    assert (rows["09:00"]["Calls"], rows["09:00"]["AHT"], rows["10:00"]["Calls"]) == ("3", "150 s", "1")
    api = await (
        await page.request.get(
            str(live_server.make_url("/api/v1/staffing?date=2026-03-09&interval=60&target=0.8&shrinkage=0"))
        )
    ).json()
    for want in api["rows"]:  # the table is the API's, interval for interval
        got = rows[want["start"]]
        assert got["C agents"] == str(want["erlang_c"]["agents"]) and got["A agents"] == str(
            want["erlang_a"]["agents"]
        )
    assert await page.locator("#chart rect").count() == 2  # calls at 09:00 and 10:00
    assert await page.locator("#chart path").count() == 2  # agents by Erlang C and by Erlang A

    await page.click("summary")
    await page.fill("#csv", "interval,calls,aht\n08:00,100,180\n09:00,140,175\n")
    await page.click("#upload")
    await page.wait_for_selector("#about:text('Your forecast')", timeout=5000)
    rows = {r["Start"]: r for r in await table(page)}
    assert (rows["08:00"]["Calls"], rows["09:00"]["Calls"], rows["09:00"]["AHT"]) == ("100", "140", "175 s")
    assert (
        rows["08:00"]["Load (Erl)"] == "5" and rows["09:00"]["Load (Erl)"] == "6.81"
    )  # 100*180/3600, 140*175/3600
    uploaded = Forecast(
        3600.0, [ForecastRow("08:00", 100, 180), ForecastRow("09:00", 140, 175)], "csv", 105.0
    )
    for want in staffing_table(uploaded, Target(service_level=0.8, threshold_s=20.0)):
        got = rows[want["start"]]
        assert (got["C agents"], got["A agents"]) == (
            str(want["erlang_c"]["agents"]),
            str(want["erlang_a"]["agents"]),
        )
    await screenshot(page, "staffing.png", tmp_path)

    await page.fill("#csv", "interval,calls\n08:00,100\n8 o'clock,12\n")
    await page.click("#upload")
    await page.wait_for_selector("#error:text('line 3')", timeout=5000)
    assert "HH:MM" in (await page.text_content("#error") or "")
    await page.close()
    assert errors == []


async def test_the_reports_and_staffing_pages_take_today_from_the_center_not_the_browser(
    browser: Any, tmp_path: Path
) -> None:
    """Monday 01:30 in the center's zone is still Sunday in a New York browser: the reports
    page opens on the center's Monday, the staffing page plans the center's Tuesday, and
    both say the zone their times are in; the reports say how contacts are counted."""
    from aiohttp.test_utils import TestServer
    from demo_center import demo_config

    from callcenter.app import create_app
    from callcenter.core.clock import VirtualClock

    monday_0130 = datetime(2026, 12, 7, 1, 30, tzinfo=ZONE).timestamp()
    config = demo_config(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    server = TestServer(create_app(config, clock=VirtualClock(monday_0130)), host="127.0.0.1")
    await server.start_server()
    context = await browser.new_context(
        timezone_id="America/New_York", viewport={"width": 1400, "height": 1000}
    )
    try:
        errors: list[str] = []
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        assert await page.evaluate("new Date().getTimezoneOffset()") > 0
        await login(page, server, "/reports", "sam")
        await page.wait_for_function("document.querySelector('input[name=from]')?.value", timeout=5000)
        assert await page.input_value("input[name=from]") == "2026-12-07"
        assert await page.input_value("input[name=to]") == "2026-12-07"
        rows = await table(page)
        assert rows[0]["Start"] == "2026-12-07 00:00" and len(rows) == 24
        assert await page.text_content("#zone") == "Times in Asia/Jerusalem (the center's time zone)."
        counting = await page.text_content("#counting") or ""
        assert "Contacts counts each contact once" in counting and "once in each queue" in counting
        assert "Contacts" in await totals(page)

        await page.goto(str(server.make_url("/staffing")))
        await page.wait_for_selector("#about:text('Forecast for 2026-12-08')", timeout=5000)
        assert await page.input_value("input[name=date]") == "2026-12-08"
        assert "Times in Asia/Jerusalem" in (await page.text_content("#about") or "")
        await page.close()
        assert errors == []
    finally:
        await context.close()
        await server.close()
