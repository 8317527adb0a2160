"""Listen-in: a supervisor hears a live call, both sides, without being heard.

Signalling is one HTTP round trip in the WHEP style (the browser waits until its ICE
candidates are gathered, so no trickling is needed):

- ``POST /api/v1/supervisor/contacts/{id}/listen`` ``{"sdp": offer}`` -> 201 ``{"listen_id",
  "sdp": answer, "contact_id", "agent_id"}``; the call must be bridged to an agent now
  (404 for a contact the center never had, 409 for one that ended or is not talking to an
  agent, 409 when telephony is off);
- ``DELETE /api/v1/supervisor/listen/{listen_id}`` ends it (404 if it is not running).

Each listen gets its own aiortc peer connection (``agent_desk.webrtc.DeskAudio`` keyed by the
listen id, with no leg registry: its leg never carries a call, so what the supervisor's
microphone sends is dropped). The leg is added to the call's ``Bridge`` as a listener: the
caller and agent are mixed into it, and nothing of it reaches them. The listen ends when
the supervisor stops it, their connection fails or closes, or the bridge ends (the call is
over, transferred, or put back): the peer closes and the browser sees its connection end.
Both ends are logged as ``supervisor.action`` (``listen`` and ``listen_end``, with who did it).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from callcenter.appkeys import CONFIG
from callcenter.auth.guard import api_route, encode, read_body
from callcenter.auth.web import json_error, require
from callcenter.core.api import Operation, Who
from callcenter.core.events import InteractionEvent
from callcenter.runtime.center import Center
from callcenter.runtime.keys import CENTER
from callcenter.runtime.voice.install import TELEPHONY
from callcenter.supervisor.bodies import ListenEnded, ListenOffer, ListenStarted
from callcenter.supervisor.live_metrics import METRICS
from callcenter.telephony.bridge import Bridge
from callcenter.telephony.webrtc import AudioError, DeskAudio, check_sdp

log = logging.getLogger(__name__)
ROLES = ("supervisor",)


class ListenRefused(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.field = status, field


@dataclass(slots=True)
class _Listen:
    listen_id: str
    contact_id: str
    agent_id: str | None
    by: str
    bridge: Bridge
    started_at: float


class ListenIn:
    """The listens of one app; use from the event loop."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.center: Center = app[CENTER]
        self.listens: dict[str, _Listen] = {}
        self._audio: DeskAudio | None = None
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[object]] = set()

    # Public methods ----------------------------------------------------------------------

    async def start(self, contact_id: str, sdp: str, by: str) -> tuple[_Listen, str]:
        """Answer the supervisor's offer and put their leg on the contact's bridge."""
        bridge, agent_id = self._bridge_of(contact_id)
        audio = self._desk_audio()
        listen_id = f"listen-{next(self._ids)}"
        try:
            answer = await audio.offer(listen_id, sdp)
        except AudioError as exc:
            raise ListenRefused(400, str(exc), exc.field or "sdp") from None
        leg = audio.leg(listen_id)
        if leg is None or self._bridge_of(contact_id)[0] is not bridge:  # the call moved on meanwhile
            await audio.close_agent(listen_id, "call_ended")
            raise ListenRefused(409, f"contact {contact_id} is no longer on a live call")
        listen = _Listen(listen_id, contact_id, agent_id, by, bridge, self.center.clock.now())
        self.listens[listen_id] = listen
        bridge.add_listener(leg, on_end=lambda: self._spawn(self.stop(listen_id, "call_ended")))
        self._record(listen, {"action": "listen", "listen_id": listen_id})
        return listen, answer

    async def stop(self, listen_id: str, reason: str) -> bool:
        listen = self.listens.pop(listen_id, None)
        if listen is None:
            return False
        audio = self._desk_audio()
        leg = audio.leg(listen_id)
        if leg is not None:
            listen.bridge.remove_listener(leg)
        await audio.close_agent(listen_id, reason)
        heard = round(self.center.clock.now() - listen.started_at, 3)
        self._record(
            listen, {"action": "listen_end", "listen_id": listen_id, "reason": reason, "listened_s": heard}
        )
        return True

    async def close(self) -> None:
        for listen_id in list(self.listens):
            await self.stop(listen_id, "server_stopped")
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._audio is not None:
            await self._audio.close()

    # Internals ---------------------------------------------------------------------------

    def _bridge_of(self, contact_id: str) -> tuple[Bridge, str | None]:
        contact = self.center.engine.contacts.get(contact_id)
        if contact is None or contact.state == "ended":
            fold = self.app.get(METRICS)  # the engine forgets ended contacts; the live fold remembers
            if contact is not None or (fold is not None and contact_id in fold.ended):
                raise ListenRefused(409, f"contact {contact_id} has already ended")
            raise ListenRefused(404, f"no contact {contact_id!r}")
        telephony = self.app.get(TELEPHONY)
        if telephony is None:
            raise ListenRefused(409, "telephony is off on this server: there is no call audio to listen to")
        call = telephony.front.by_contact(contact_id)
        bridge = call.bridge if call is not None else None
        if bridge is None:
            raise ListenRefused(
                409, f"contact {contact_id} is not on a live call with an agent (it is {contact.state})"
            )
        return bridge, contact.agent_id

    def _desk_audio(self) -> DeskAudio:
        if self._audio is None:
            telephony = self.app.get(TELEPHONY)
            self._audio = DeskAudio(telephony.front.clock if telephony else None, on_state=self._state)
        return self._audio

    def _state(self, listen_id: str, state: str) -> None:
        if state in ("failed", "closed") and listen_id in self.listens:
            self._spawn(self.stop(listen_id, "listener_gone"))

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _record(self, listen: _Listen, data: dict[str, object]) -> None:
        self.center.record(
            InteractionEvent(
                type="supervisor.action",
                at=self.center.clock.now(),
                contact_id=listen.contact_id,
                agent_id=listen.agent_id,
                data={**data, "by": listen.by},
            )
        )


LISTEN = web.AppKey("listen_in", ListenIn)


def install(app: web.Application) -> None:
    app.cleanup_ctx.append(_listen_ctx)
    for operation, handler in ROUTES:
        api_route(app, operation, handler)


async def _listen_ctx(app: web.Application) -> AsyncIterator[None]:
    app[LISTEN] = listen = ListenIn(app)
    yield
    await listen.close()


async def start_listening(request: web.Request) -> web.Response:
    principal = await require(request, *ROLES)
    sdp = (await read_body(request, ListenOffer, request.app[CONFIG].limits.sdp_body_max_bytes)).sdp
    try:
        check_sdp(sdp)
        contact_id = request.match_info["contact_id"]
        listen, answer = await request.app[LISTEN].start(contact_id, sdp, principal.username)
    except AudioError as exc:
        return json_error(400, str(exc), exc.field or "sdp")
    except ListenRefused as exc:
        return json_error(exc.status, str(exc), exc.field)
    started = ListenStarted(
        listen_id=listen.listen_id, sdp=answer, contact_id=listen.contact_id, agent_id=listen.agent_id
    )
    return encode(started, 201)


async def stop_listening(request: web.Request) -> web.Response:
    await require(request, *ROLES)
    listen_id = request.match_info["listen_id"]
    if await request.app[LISTEN].stop(listen_id, "supervisor_stopped"):
        return encode(ListenEnded(listen_id=listen_id, ended=True))
    return json_error(404, f"no listen {listen_id!r} is running")


SUPERVISORS: tuple[Who, ...] = ("supervisor",)
ROUTES = (
    (
        Operation(
            method="POST",
            path="/api/v1/supervisor/contacts/{contact_id}/listen",
            summary="Listen to a live call (WHEP style: SDP offer in, answer out)",
            tag="supervisor",
            who=SUPERVISORS,
            body=ListenOffer,
            response=ListenStarted,
            status=201,
            errors={
                404: "the center never had this contact",
                409: "the contact ended, is not talking to an agent, or telephony is off",
            },
        ),
        start_listening,
    ),
    (
        Operation(
            method="DELETE",
            path="/api/v1/supervisor/listen/{listen_id}",
            summary="Stop listening",
            tag="supervisor",
            who=SUPERVISORS,
            response=ListenEnded,
            errors={404: "no such listen is running"},
        ),
        stop_listening,
    ),
)
