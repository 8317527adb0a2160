"""Report, staffing and Prometheus routes, and the live metrics fold they share.

Routes (supervisors and admins, except ``/metrics``):
- ``GET /reports`` (page), ``GET /api/v1/reports?from=&to=&interval=&queue=&agent=&by=``
  (JSON, or CSV with ``format=csv``); parameters in ``reports.parse_request``;
- ``GET /staffing`` (page), ``GET /api/v1/staffing?date=&interval=&queue=&target=&t=
  &shrinkage=&max_occupancy=&patience=`` (forecast from the log) and ``POST`` of the same
  with a CSV body ``interval,calls[,aht]`` (forecast given);
- ``GET /metrics``: Prometheus text format from the live fold, for a scraper sending
  ``Authorization: Bearer <metrics.token>`` (compared in constant time) or a logged-in
  supervisor or admin; anyone else gets 401 (403 for an agent).

``/metrics`` reads the app's live fold (``live.METRICS``, shared with the wallboard).
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import msgspec
from aiohttp import web

from callcenter.appkeys import CLOCK, CONFIG, DB, LOG
from callcenter.auth.guard import Refused, api_route, encode, json_error, require, session_of, unavailable
from callcenter.config.hours import center_zone
from callcenter.core.api import Operation, Param, Who
from callcenter.metrics.forecast import Forecast, StaffingError, parse_forecast_csv
from callcenter.ports.interaction_log import LogUnavailable
from callcenter.supervisor import live_metrics as live
from callcenter.supervisor import prometheus
from callcenter.supervisor.bodies import Report, Staffing
from callcenter.supervisor.live_metrics import METRICS, REGISTRY
from callcenter.supervisor.reports import ReportError, build_report, fold_range, parse_request, to_csv
from callcenter.supervisor.staffing import Target, forecast_from_log, staffing_table, summary

STATIC = Path(__file__).with_name("static") / "reports"
ROLES = ("supervisor",)
CSV_LIMIT = 256 * 1024

__all__ = ["METRICS", "REGISTRY", "install"]


def install(app: web.Application) -> None:
    live.install(app)
    app.router.add_get("/reports", _page("reports.html", "/reports"))
    app.router.add_get("/staffing", _page("staffing.html", "/staffing"))
    for operation, handler in ROUTES:
        api_route(app, operation, handler)
    app.router.add_static("/static/reports", STATIC)


def _thresholds(app: web.Application) -> dict[str, float]:
    return {q.name: q.service_level_s for q in app[CONFIG].queues}


def _zone(app: web.Application) -> ZoneInfo:
    return center_zone(app[CONFIG])


async def metrics(request: web.Request) -> web.Response:
    if not _scraper(request):
        await require(request, *ROLES)  # 401 without a session, 403 for an agent
    registry = request.app[REGISTRY]
    body = prometheus.render(registry)  # type: ignore[arg-type]
    return web.Response(body=body, headers={"Content-Type": prometheus.CONTENT_TYPE})


def _scraper(request: web.Request) -> bool:
    """The request carries the configured metrics token as a bearer token. A wrong token
    is refused outright (401), so a scraper's mistake is not hidden behind a session."""
    sent = request.headers.get("Authorization")
    if sent is None:
        return False
    scheme, _, token = sent.partition(" ")
    expected = request.app[CONFIG].metrics.token_value()
    if (
        scheme.lower() != "bearer"
        or not expected
        or not hmac.compare_digest(token.strip().encode(), expected.encode())
    ):
        raise Refused(
            401, "wrong or unknown metrics token (Authorization: Bearer <metrics.token>)", "Authorization"
        )
    return True


# Reports ----------------------------------------------------------------------------------


async def reports_api(request: web.Request) -> web.Response:
    await require(request, *ROLES)
    app = request.app
    zone, now = _zone(app), app[CLOCK].now()
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "csv"):
        return json_error(400, "format must be json or csv", "format")
    try:
        req = parse_request(request.query, zone, now)
    except ReportError as exc:
        return json_error(400, str(exc), exc.field)
    try:
        await app[LOG].flush()  # bounded: a stuck log is a 503 with its reason, not a hang
    except LogUnavailable as exc:
        return unavailable(str(exc))
    fold = await fold_range(app[DB], req.start, req.end, service_level_s=_thresholds(app), now=now)
    report = build_report(fold, req, zone)
    report["today"] = datetime.fromtimestamp(now, zone).date().isoformat()
    if fmt == "csv":
        name = f"report-{req.interval}-{report['from'][:10]}.csv"
        return web.Response(
            text=to_csv(report),
            content_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return encode(msgspec.convert(report, Report))  # an infinite or NaN figure is null


# Staffing ---------------------------------------------------------------------------------


def _target(query: Mapping[str, str], default_t: float) -> Target:
    def number(
        name: str, default: float | None, low: float, high: float, *, open_low: bool = True
    ) -> float | None:
        text = query.get(name)
        if text in (None, ""):
            return default
        try:
            value = float(text)
        except ValueError:
            raise StaffingError(f"{name} must be a number", name) from None
        if not math.isfinite(value) or value > high or value < low or (open_low and value == low):
            raise StaffingError(
                f"{name} must be {'above' if open_low else 'at least'} {low} and at most {high}", name
            )
        return value

    sl = number("target", 0.8, 0.0, 0.999)
    t = number("t", default_t, 0.0, 3600.0, open_low=False)
    shrink = number("shrinkage", 0.0, 0.0, 0.9, open_low=False)
    occ = number("max_occupancy", None, 0.0, 1.0)
    return Target(service_level=sl or 0.8, threshold_s=t or 0.0, shrinkage=shrink or 0.0, max_occupancy=occ)


async def staffing_api(request: web.Request) -> web.Response:
    await require(request, *ROLES)
    app = request.app
    q, zone, now = request.query, _zone(app), app[CLOCK].now()
    try:
        interval = q.get("interval", "60")
        if interval not in ("15", "30", "60"):
            raise StaffingError("interval must be 15, 30 or 60 (minutes)", "interval")
        interval_s = float(interval) * 60.0
        queue = q.get("queue") or None
        if queue is not None and app[CONFIG].queue(queue) is None:
            raise StaffingError(f"no queue named {queue!r}", "queue")
        qcfg = app[CONFIG].queue(queue) if queue else None
        target = _target(q, qcfg.service_level_s if qcfg else 20.0)
        day = _day(q.get("date"), zone, now)
        uploaded = await _uploaded(request, interval_s) if request.method == "POST" else None
        forecast = await forecast_from_log(
            app[DB], day, zone, interval_s, queue=queue, service_level_s=_thresholds(app), now=now
        )
        if uploaded is not None:  # the log still gives the callers' patience
            forecast = Forecast(interval_s, uploaded.rows, "csv", forecast.patience_s)
        if q.get("patience"):
            forecast = _with_patience(forecast, q["patience"])
    except StaffingError as exc:
        return json_error(400 if exc.field != "body" else 413, str(exc), exc.field)
    table = staffing_table(forecast, target)
    answer = msgspec.convert(
        {
            "date": day.isoformat(),
            "interval": interval,
            "queue": queue,
            "source": forecast.source,
            "days_averaged": list(forecast.days),
            "patience_s": forecast.patience_s,
            "target": {
                "service_level": target.service_level,
                "t": target.threshold_s,
                "shrinkage": target.shrinkage,
                "max_occupancy": target.max_occupancy,
            },
            "rows": table,
            "summary": summary(table),
            "timezone": zone.key,
            "today": datetime.fromtimestamp(now, zone).date().isoformat(),
        },
        Staffing,
    )
    return encode(answer)  # an unstable queue's ASA is infinite: null


def _day(text: str | None, zone: ZoneInfo, now: float) -> date:
    if not text:
        return datetime.fromtimestamp(now, zone).date() + timedelta(days=1)
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise StaffingError("date must be YYYY-MM-DD", "date") from None
    if not 1971 <= day.year <= 8999:  # the forecast reads weeks before it
        raise StaffingError("date must be from 1971 to 8999", "date")
    return day


def _with_patience(forecast: Forecast, text: str) -> Forecast:
    try:
        value = float(text)
    except ValueError:
        raise StaffingError("patience must be a number of seconds", "patience") from None
    if not math.isfinite(value) or not 0 < value <= 86400:
        raise StaffingError("patience must be above 0 and at most a day (seconds)", "patience")
    return Forecast(forecast.interval_s, forecast.rows, forecast.source, value, forecast.days)


async def _uploaded(request: web.Request, interval_s: float) -> Forecast:
    if request.content_length is not None and request.content_length > CSV_LIMIT:
        raise StaffingError(f"the forecast is over {CSV_LIMIT} bytes", "body")
    raw = await request.content.read(CSV_LIMIT + 1)
    if len(raw) > CSV_LIMIT:
        raise StaffingError(f"the forecast is over {CSV_LIMIT} bytes", "body")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise StaffingError("the forecast must be UTF-8 text", "csv") from None
    return Forecast(interval_s, parse_forecast_csv(text, interval_s), "csv")


# Descriptions -----------------------------------------------------------------------------

SUPERVISORS: tuple[Who, ...] = ("supervisor",)
_DAY = "YYYY-MM-DD, or a time (ISO 8601 or epoch seconds) in wallboard.timezone"
_STAFFING_PARAMS = (
    Param(name="date", description="the day to staff, YYYY-MM-DD (default: tomorrow)"),
    Param(name="interval", kind=Literal["15", "30", "60"], description="minutes (default 60)"),
    Param(name="queue", description="one queue (default: all)"),
    Param(name="target", kind=float, description="service level to reach, above 0 and below 1 (default 0.8)"),
    Param(name="t", kind=float, description="answered within t seconds (default: the queue's)"),
    Param(name="shrinkage", kind=float, description="share of paid time off the phones, 0 to 0.9"),
    Param(name="max_occupancy", kind=float, description="cap on occupancy, above 0 and at most 1"),
    Param(name="patience", kind=float, description="callers' mean patience in seconds (Erlang A)"),
)
_STAFFING_ERRORS = {413: "the uploaded forecast is over 256 KiB", 503: "the interaction log is not reachable"}
ROUTES = (
    (
        Operation(
            method="GET",
            path="/api/v1/reports",
            summary="Interval report: offered, answered, service level, ASA, AHT ... (JSON or CSV)",
            tag="reports",
            who=SUPERVISORS,
            params=(
                Param(name="from", description=f"start: {_DAY} (default: today)"),
                Param(name="to", description=f"end: {_DAY} (default: the end of from's day)"),
                Param(name="interval", kind=Literal["15", "30", "60", "day"], description="minutes, or day"),
                Param(name="queue", description="one queue"),
                Param(name="agent", description="one agent"),
                Param(name="by", kind=Literal["queue", "agent"], description="a row per queue or agent"),
                Param(name="format", kind=Literal["json", "csv"], description="default json"),
            ),
            response=Report,
            response_media=("application/json", "text/csv"),
            errors={503: "the interaction log is not reachable"},
        ),
        reports_api,
    ),
    (
        Operation(
            method="GET",
            path="/api/v1/staffing",
            summary="Agents needed per interval (Erlang C and A) for a forecast from the log",
            tag="reports",
            who=SUPERVISORS,
            params=_STAFFING_PARAMS,
            response=Staffing,
            errors=_STAFFING_ERRORS,
        ),
        staffing_api,
    ),
    (
        Operation(
            method="POST",
            path="/api/v1/staffing",
            summary="Agents needed per interval for an uploaded forecast",
            description="The body is CSV: a header `interval,calls[,aht]`, then one row per interval.",
            tag="reports",
            who=SUPERVISORS,
            params=_STAFFING_PARAMS,
            body=str,
            body_media="text/csv",
            response=Staffing,
            errors=_STAFFING_ERRORS,
        ),
        staffing_api,
    ),
    (
        Operation(
            method="GET",
            path="/metrics",
            summary="Live figures in the Prometheus text format",
            description="For a scraper: `Authorization: Bearer <metrics.token>` (compared in constant "
            "time); a logged-in supervisor or admin may read it too. See docs/metrics.md.",
            tag="metrics",
            who=("metrics-token", "supervisor"),
            response=str,
            response_media=(prometheus.CONTENT_TYPE.split(";")[0],),
        ),
        metrics,
    ),
)


# Pages -------------------------------------------------------------------------------------


def _page(name: str, path: str) -> Any:
    async def page(request: web.Request) -> web.StreamResponse:
        found = await session_of(request)
        if found is None:
            raise web.HTTPFound(f"/login?next={path}")
        if found[0].role not in ("supervisor", "admin"):
            return web.Response(status=403, text="Reports are for supervisors.")
        return web.FileResponse(STATIC / name)

    return page
