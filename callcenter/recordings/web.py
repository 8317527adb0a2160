"""Recordings over HTTP and the retention schedule; ``install(app)`` adds these routes and
those of ``timeline.py`` (a contact's timeline, its page, the reports' contact list):

- ``GET /api/v1/contacts/{contact_id}/recordings``: the contact's recordings (kind, part,
  seconds, bytes, recorded_at, available, url, and when retention deleted one);
- ``GET /api/v1/recordings/{contact_id}/{kind}?part=&download=1``: the WAV, with HTTP
  ranges (206, ``Accept-Ranges``, ``Content-Range``) so a player can seek; ``download=1``
  answers it as an attachment. 410 when its file is gone (saying when retention removed
  it), 404 when the log names no such recording or a path outside ``recordings_dir``;
- ``/static/recordings``: the timeline page's script; ``/static/common``: the shared
  player (``callcenter/static/player.js``).

Who may play: supervisors and admins, any recording; an agent, the recordings of a contact
the log shows connected to them when ``recordings.agents_play_own``, and always a voicemail
contact offered or connected to them now. Every answer of the two recordings routes,
allowed or refused, appends ``recording.accessed`` {contact_id, kind, part, by, role,
action, allowed, status} to the interaction log.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from callcenter.appkeys import CLOCK, CONFIG, DB, LOG
from callcenter.auth.guard import Refused, api_route, encode, session_of
from callcenter.auth.store import Principal
from callcenter.core.api import Operation, Param
from callcenter.core.events import InteractionEvent
from callcenter.recordings import timeline
from callcenter.recordings.retention import RetentionSchedule, Sweeper
from callcenter.recordings.timeline import STATIC, contact_page, flushed
from callcenter.runtime.keys import CENTER
from callcenter.storage.recording_files import inside
from callcenter.storage.recording_index import (
    ACCESSED,
    Logged,
    deletions,
    handled_by,
    known_contact,
    logged_recordings,
)

COMMON = Path(__file__).parents[1] / "static"
SCHEDULE = web.AppKey("recordings_retention", RetentionSchedule)
Action = Literal["list", "play", "download"]


# Response bodies ---------------------------------------------------------------------------


class Recording(msgspec.Struct, frozen=True, kw_only=True):
    """One recording of a contact."""

    contact_id: str
    kind: Literal["call", "voicemail"]
    part: Annotated[int, msgspec.Meta(description="1, 2 ... per bridge of a transferred call")]
    seconds: float | None
    bytes: int | None
    recorded_at: float
    agent_id: str | None
    available: bool
    url: str
    deleted_at: Annotated[float | None, msgspec.Meta(description="when retention removed the file")] = None


class RecordingList(msgspec.Struct, frozen=True, kw_only=True):
    contact_id: str
    recordings: list[Recording]


# Setup -------------------------------------------------------------------------------------


def install(app: web.Application) -> None:
    for operation, handler in (*ROUTES, *timeline.ROUTES):
        api_route(app, operation, handler)
    app.router.add_get("/contacts/{contact_id}", contact_page)
    app.router.add_static("/static/recordings", STATIC)
    app.router.add_static("/static/common", COMMON)
    app.cleanup_ctx.append(retention_ctx)


def _root(app: web.Application) -> Path:
    return Path(app[CONFIG].telephony.recordings_dir)


async def retention_ctx(app: web.Application) -> AsyncIterator[None]:
    """With ``recordings.retention_days``, sweep at start and every ``sweep_interval_s``."""
    cfg = app[CONFIG].recordings
    retention = cfg.retention_s()
    if retention is None:
        yield
        return
    append = app[LOG].append
    schedule = RetentionSchedule(
        Sweeper(app[DB], append, _root(app), retention), app[CLOCK], cfg.sweep_interval_s
    )
    app[SCHEDULE] = schedule
    schedule.start()
    yield
    await schedule.stop()


# Who may hear what ----------------------------------------------------------------------------


async def _principal(request: web.Request, contact_id: str, kind: str | None, action: Action) -> Principal:
    found = await session_of(request)
    if found is None:
        _accessed(request, None, contact_id, kind, None, action, 401, known=False)
        raise Refused(401, "log in first (no session, or it has expired)")
    return found[0]


def _live_for(app: web.Application, contact_id: str, agent: str) -> bool:
    """Is ``contact_id`` offered or connected to ``agent`` now?"""
    center = app.get(CENTER)
    if center is None:
        return False
    engine = center.engine
    contact = engine.contacts.get(contact_id)
    if contact is not None and contact.agent_id == agent:
        return True
    return any(o.contact_id == contact_id and o.agent_id == agent for o in engine.offers.values())


async def _may_play(
    request: web.Request, conn: AsyncConnection, who: Principal, contact_id: str, kind: str
) -> bool:
    if who.role in ("supervisor", "admin"):
        return True
    if who.role != "agent":
        return False
    if kind == "voicemail" and _live_for(request.app, contact_id, who.username):
        return True
    return request.app[CONFIG].recordings.agents_play_own and await handled_by(conn, contact_id, who.username)


def _accessed(
    request: web.Request,
    who: Principal | None,
    contact_id: str,
    kind: str | None,
    part: int | None,
    action: Action,
    status: int,
    *,
    known: bool,
    reason: str | None = None,
) -> None:
    """Append ``recording.accessed``; on the contact when the log knows it (an unknown id
    must not make a contact row appear)."""
    data: dict[str, Any] = {
        "contact_id": contact_id,
        "kind": kind,
        "part": part,
        "by": who.username if who else None,
        "role": who.role if who else None,
        "action": action,
        "allowed": status < 400,
        "status": status,
    }
    if reason:
        data["reason"] = reason
    if action != "list" and (rng := request.headers.get("Range")):
        data["range"] = rng[:100]
    request.app[LOG].append(
        InteractionEvent(
            type=ACCESSED,
            at=request.app[CLOCK].now(),
            contact_id=contact_id if known else None,
            agent_id=who.username if who and who.role == "agent" else None,
            data={k: v for k, v in data.items() if v is not None or k in ("by", "role")},
        )
    )


def _deleted_words(when: float, why: str) -> str:
    stamp = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{why} removed it on {stamp}"


# Handlers -----------------------------------------------------------------------------------


async def list_recordings(request: web.Request) -> web.Response:
    contact_id = request.match_info["contact_id"]
    who = await _principal(request, contact_id, None, "list")
    await flushed(request)
    root = _root(request.app)
    async with request.app[DB].connect() as conn:
        if not await known_contact(conn, contact_id):
            _accessed(request, who, contact_id, None, None, "list", 404, known=False)
            raise Refused(404, f"no contact {contact_id!r} in the interaction log", "contact_id")
        found = (await logged_recordings(conn, [contact_id])).get(contact_id, [])
        gone = await deletions(conn, contact_id)
        kinds = {r.kind for r in found} or {"call"}
        allowed = [k for k in sorted(kinds) if await _may_play(request, conn, who, contact_id, k)]
    if not allowed:
        _accessed(request, who, contact_id, None, None, "list", 403, known=True)
        raise Refused(403, f"you may not hear the recordings of contact {contact_id}", "contact_id")
    out = []
    for r in found:
        if r.kind not in allowed:
            continue
        target = inside(root, r.path)
        deleted = gone.get(r.path)
        out.append(
            Recording(
                contact_id=r.contact_id,
                kind=r.kind,
                part=r.part,
                seconds=r.seconds,
                bytes=r.bytes,
                recorded_at=r.recorded_at,
                agent_id=r.agent_id,
                available=target is not None and target.is_file(),
                url=r.url,
                deleted_at=deleted[0] if deleted else None,
            )
        )
    _accessed(request, who, contact_id, None, None, "list", 200, known=True)
    return encode(RecordingList(contact_id=contact_id, recordings=out))


def _part(request: web.Request) -> int:
    text = request.query.get("part", "1")
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise Refused(400, "part must be a whole number from 1 to 1000", "part")
    return int(text)


async def play_recording(request: web.Request) -> web.StreamResponse:
    contact_id, kind = request.match_info["contact_id"], request.match_info["kind"]
    download = request.query.get("download", "") in ("1", "true", "yes")
    action: Action = "download" if download else "play"
    who = await _principal(request, contact_id, kind, action)
    if kind not in ("call", "voicemail"):
        raise Refused(400, f"kind must be call or voicemail, not {kind!r}", "kind")
    part = _part(request)
    await flushed(request)
    async with request.app[DB].connect() as conn:
        known = await known_contact(conn, contact_id)
        may = known and await _may_play(request, conn, who, contact_id, kind)
        found = (await logged_recordings(conn, [contact_id])).get(contact_id, []) if may else []
        gone = await deletions(conn, contact_id) if may else {}

    def refuse(status: int, message: str, field: str | None = None, reason: str | None = None) -> Refused:
        _accessed(request, who, contact_id, kind, part, action, status, known=known, reason=reason)
        return Refused(status, message, field)

    if not known:
        raise refuse(404, f"no contact {contact_id!r} in the interaction log", "contact_id")
    if not may:
        raise refuse(403, f"you may not hear the {kind} recording of contact {contact_id}", "contact_id")
    rec: Logged | None = next((r for r in found if r.kind == kind and r.part == part), None)
    if rec is None:
        raise refuse(404, f"contact {contact_id} has no {kind} recording (part {part})", "kind")
    target = inside(_root(request.app), rec.path)
    if target is None:
        raise refuse(404, "the logged file is outside recordings_dir; it is not served", "path", "outside")
    if not target.is_file():
        deleted = gone.get(rec.path)
        why = _deleted_words(*deleted) if deleted else "its file is missing"
        raise refuse(410, f"the {kind} recording of contact {contact_id} is no longer available: {why}")
    _accessed(request, who, contact_id, kind, part, action, 200, known=True)
    name = f"{contact_id}-{kind}" + (f"-{part}" if part > 1 else "") + ".wav"
    disposition = "attachment" if download else "inline"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    headers = {
        "Content-Type": "audio/wav",
        "Content-Disposition": f'{disposition}; filename="{safe}"',
        "Cache-Control": "private, no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    return web.FileResponse(target, headers=headers)


# Descriptions -------------------------------------------------------------------------------

_CONTACT = Param(name="contact_id", where="path", required=True, description="the contact")
ROUTES = (
    (
        Operation(
            method="GET",
            path="/api/v1/contacts/{contact_id}/recordings",
            summary="A contact's call recordings and voicemail messages",
            description="Supervisors see every recording; an agent those of a contact they handled "
            "(with `recordings.agents_play_own`) or a voicemail offered or connected to them now. "
            "Logged as `recording.accessed`.",
            tag="recordings",
            who=("agent",),
            params=(_CONTACT,),
            response=RecordingList,
            errors={403: "not yours to hear", 404: "no such contact", 503: "the log is not reachable"},
        ),
        list_recordings,
    ),
    (
        Operation(
            method="GET",
            path="/api/v1/recordings/{contact_id}/{kind}",
            summary="Play or download one recording (WAV, with HTTP ranges for seeking)",
            description="Send `Range: bytes=a-b` to get 206 with `Content-Range`; `download=1` "
            "answers with `Content-Disposition: attachment`. Logged as `recording.accessed`.",
            tag="recordings",
            who=("agent",),
            params=(
                _CONTACT,
                Param(
                    name="kind",
                    kind=Literal["call", "voicemail"],
                    where="path",
                    required=True,
                    description="call or voicemail",
                ),
                Param(
                    name="part",
                    kind=Annotated[int, msgspec.Meta(ge=1, le=1000)],
                    description="which bridge of a transferred call (default 1)",
                ),
                Param(name="download", kind=Literal["1"], description="1: as an attachment"),
            ),
            response=bytes,
            response_media=("audio/wav",),
            also={206: "the range asked for"},
            errors={
                403: "not yours to hear",
                404: "no such contact or recording, or its logged path is outside recordings_dir",
                410: "the file is gone (retention removed it, or it is missing)",
                416: "the range is outside the file",
                503: "the log is not reachable",
            },
        ),
        play_recording,
    ),
)
