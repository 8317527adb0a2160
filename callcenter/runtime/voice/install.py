"""Calls in the server: the SIP server (UDP/TCP), the AudioSocket server and the
``/media-stream`` WebSocket, all handing their calls to one ``VoiceFront``.

``install(app)`` (from ``app.py``) puts the agents' leg registry under ``app[AGENT_LEGS]``
at once (the desk's WebRTC leg registers there whether or not telephony is on), adds the
``/media-stream`` route and ``telephony_ctx``. ``/media-stream`` takes calls from the
configured carriers only (``telephony.carriers``), AudioSocket from the addresses of
``telephony.audiosocket_allow`` (``telephony/carriers.py``). With ``telephony.enabled`` the context
starts the front-ends after the IVR runner; on shutdown every call is hung up and every
socket closed before the runner and the center stop.

A busy or unusable port does not stop the server: chat, desks and the wallboard keep
working, and one error names the address and the setting (``telephony.sip_port`` ...);
fix it and restart. The listeners that could bind are serving.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

from callcenter.appkeys import BUS, CONFIG, PROMPTS, RECOGNIZER
from callcenter.runtime.ivr_runner.keys import IVR_RUNNER
from callcenter.runtime.ivr_runner.ports import IvrChannel
from callcenter.runtime.ivr_runner.runner import IvrRunner
from callcenter.runtime.keys import CENTER
from callcenter.runtime.voice.agent_legs import AgentLegs
from callcenter.runtime.voice.call_media import PromptAudio
from callcenter.runtime.voice.callback_dial import CallbackDialling
from callcenter.runtime.voice.front import SessionStarter, VoiceFront
from callcenter.runtime.voice.keys import AGENT_LEGS
from callcenter.speech.flow_prompts import flow_voice
from callcenter.telephony.audiosocket import AudioSocketServer
from callcenter.telephony.carriers import AddressAllowList, CarrierKeys
from callcenter.telephony.media_stream import media_stream_handler
from callcenter.telephony.pacer import MediaClock
from callcenter.telephony.sip_dial import SipDialer
from callcenter.telephony.sip_server import SipServer
from callcenter.telephony.sip_transport import ListenError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(slots=True)
class Telephony:
    """What ``telephony_ctx`` started (``app[TELEPHONY]``); a listener that could not bind
    is None."""

    front: VoiceFront
    media_stream: Handler
    sip: SipServer | None = None
    audiosocket: AudioSocketServer | None = None
    callbacks: CallbackDialling | None = None  # outbound dialling (telephony.dial_uri)

    async def hang_up(self) -> None:
        """Stop the listeners and end every call (idempotent): callers first (callbacks
        dialled or ringing, SIP BYE, AudioSocket hang-up, media-stream close), then agents'
        phone legs."""
        if self.callbacks is not None:
            await self.callbacks.stop()
        for server in (self.sip, self.audiosocket):
            if server is not None:
                await server.stop()
        await self.front.hang_up_all()

    def health(self) -> dict[str, object]:
        """For /healthz: where each listener is (None: it could not bind), live calls,
        callbacks being dialled or talking (None: outbound dialling is off)."""
        return {
            "sip_port": self.sip.port if self.sip is not None else None,
            "audiosocket_port": self.audiosocket.port if self.audiosocket is not None else None,
            "calls": len(self.front.calls),
            "agent_lines": len(self.front.agent_lines),
            "agent_legs": len(self.front.legs),
            "callbacks": len(self.callbacks.calls) if self.callbacks is not None else None,
        }


TELEPHONY = web.AppKey("telephony", Telephony)


def install(app: web.Application) -> None:
    app[AGENT_LEGS] = AgentLegs()
    app.router.add_get("/media-stream", media_stream)
    app.cleanup_ctx.append(telephony_ctx)
    app.on_shutdown.append(_hang_up_calls)


async def _hang_up_calls(app: web.Application) -> None:
    """On shutdown, before aiohttp closes open WebSockets: calls end in order, callers
    first, while the IVR runner and the center still record how they ended."""
    telephony = app.get(TELEPHONY)
    if telephony is not None:
        await telephony.hang_up()


async def media_stream(request: web.Request) -> web.StreamResponse:
    telephony = request.app.get(TELEPHONY)
    if telephony is None:
        raise web.HTTPNotFound(text="telephony is not enabled on this server (telephony.enabled)")
    return await telephony.media_stream(request)


def ivr_starter(runner: IvrRunner) -> SessionStarter:
    async def start(
        channel: IvrChannel, *, caller: str, called: str, attributes: Mapping[str, str] | None = None
    ) -> None:
        await runner.start(channel=channel, caller=caller, called=called, attributes=attributes)

    return start


async def telephony_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    cfg = config.telephony
    if not cfg.enabled:
        yield
        return
    clock = MediaClock()
    runner = app[IVR_RUNNER]

    def voice_for(called: str) -> str | None:  # the voice `callcenter prompts build` used
        flow = runner.flows.entry_for("voice", called)
        return flow_voice(flow, config.speech) if flow is not None else config.speech.tts_voice

    front = VoiceFront(
        center=app[CENTER],
        bus=app[BUS],
        telephony=cfg,
        legs=app[AGENT_LEGS],
        clock=clock,
        start_ivr=ivr_starter(runner),
        audio=PromptAudio(app.get(PROMPTS)),
        recognizer=app.get(RECOGNIZER),
        voice_for=voice_for,
    )
    front.start()
    sip = SipServer(cfg, front.handle_call, clock=clock)
    audiosocket = AudioSocketServer(
        cfg.audiosocket_host,
        cfg.audiosocket_port,
        front.handle_call,
        clock=clock,
        allow=AddressAllowList(cfg.audiosocket_allow),
    )
    started = [server for server in (sip, audiosocket) if await _start(server)]
    stream = media_stream_handler(
        front.handle_call,
        carriers=CarrierKeys(cfg.carriers),
        clock=clock,
        limits=config.limits.json(config.limits.frame_max_bytes),
        frame_rate=lambda: config.limits.frame_rate(media=True),
    )
    telephony = Telephony(front=front, media_stream=stream)
    if sip in started:
        telephony.sip = sip
    if audiosocket in started:
        telephony.audiosocket = audiosocket
        log.info("AudioSocket listening on %s:%s", cfg.audiosocket_host, audiosocket.port)
    if cfg.dial_uri:
        telephony.callbacks = _callbacks(app, front, telephony.sip)
    app[TELEPHONY] = telephony
    yield
    await telephony.hang_up()  # done already on shutdown, unless startup failed after this
    await front.stop()


def _callbacks(app: web.Application, front: VoiceFront, sip: SipServer | None) -> CallbackDialling | None:
    """Outbound dialling of accepted callbacks, over the SIP server's UDP socket."""
    cfg = app[CONFIG].telephony
    if sip is None or "udp" not in cfg.transports:
        log.error(
            "telephony.dial_uri is set but SIP is not listening on UDP; callbacks will not "
            "be dialled (agents phone customers by hand)"
        )
        return None
    callbacks = CallbackDialling(
        front=front,
        center=app[CENTER],
        bus=app[BUS],
        dialer=SipDialer(sip, caller_id=cfg.dial_from),
        telephony=cfg,
    )
    callbacks.start()
    log.info("callbacks are dialled at %s", cfg.dial_uri)
    return callbacks


async def _start(server: SipServer | AudioSocketServer) -> bool:
    try:
        await server.start()
    except ListenError as exc:
        log.error("%s; the server runs without it until restarted", exc)
        return False
    return True
