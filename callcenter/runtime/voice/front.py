"""The voice front: every answered call, whatever its front-end, starts here.

``VoiceFront.handle_call(channel)`` is the ``on_call`` of the SIP server, the media-stream
WebSocket and the AudioSocket server (``docs/telephony.md``):

- a call to ``agent-<agent id>`` (when ``telephony.agent_lines``) is that agent's audio leg:
  it is registered in ``AgentLegs`` until it hangs up, and calls connected to the agent are
  bridged to it (between calls its audio is dropped);
- any other call is a customer: a ``VoiceCall`` (``voice_call.py``) runs the IVR flow for
  the called number through the IVR runner, then queue, agent and survey.

The front also follows the bus for what the desk does to a connected call (hold, retrieve,
transfer) and tells the call. ``start()``/``stop()`` pair in the composition root.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from callcenter.config.telephony import TelephonyConfig
from callcenter.ports.event_bus import EventBus, Subscription
from callcenter.ports.recognition import SpeechRecognizer
from callcenter.runtime.center import Center
from callcenter.runtime.ivr_runner.ports import IvrChannel
from callcenter.runtime.voice.agent_legs import AgentLegs
from callcenter.runtime.voice.call import VoiceCall
from callcenter.runtime.voice.call_media import PromptAudio
from callcenter.telephony.bridge import hold_music
from callcenter.telephony.media import AudioFrame, CallChannel, HungUp
from callcenter.telephony.pacer import MediaClock

log = logging.getLogger(__name__)

AGENT_LINE = "agent-"
DESK_TOPICS = ("contact.held", "contact.retrieved", "contact.transferred")


class SessionStarter(Protocol):
    """How the front starts the IVR for a call (the IVR runner, adapted in voice_app.py)."""

    async def __call__(
        self, channel: IvrChannel, *, caller: str, called: str, attributes: Mapping[str, str] | None = None
    ) -> None: ...


class VoiceFront:
    def __init__(
        self,
        *,
        center: Center,
        bus: EventBus,
        telephony: TelephonyConfig,
        legs: AgentLegs,
        clock: MediaClock,
        start_ivr: SessionStarter,
        audio: PromptAudio,
        recognizer: SpeechRecognizer | None,
        voice_for: Callable[[str], str | None] = lambda called: None,
    ) -> None:
        """``voice_for(called)``: the TTS voice of the flow answering that number."""
        self.center = center
        self.telephony = telephony
        self.legs = legs
        self.clock = clock
        self.audio = audio
        self.recognizer = recognizer
        self.music = hold_music()
        self.calls: dict[str, VoiceCall] = {}  # front-end call id -> live customer call
        self.agent_lines: dict[str, CallChannel] = {}
        self._bus = bus
        self._start_ivr = start_ivr
        self._voice_for = voice_for
        self._follow: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None

    # Lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self._subscription = self._bus.subscribe(*DESK_TOPICS)
        self._follow = asyncio.get_running_loop().create_task(self._follow_desks(self._subscription))

    async def hang_up_all(self) -> None:
        """Shutdown: end every call still up (media-stream ones; SIP and AudioSocket servers
        end their own), agents' phone legs included."""
        for call in tuple(self.calls.values()):
            await call.channel.hangup()
        for leg in tuple(self.agent_lines.values()):
            await leg.hangup()

    async def stop(self) -> None:
        """After the front-ends stopped (their calls are over): stop following the bus."""
        if self._subscription is not None:
            self._subscription.close()
        if self._follow is not None:
            self._follow.cancel()
            await asyncio.gather(self._follow, return_exceptions=True)

    # The front-ends' on_call ----------------------------------------------------------------

    async def handle_call(self, channel: CallChannel) -> None:
        called = channel.info.called
        if self.telephony.agent_lines and called.startswith(AGENT_LINE):
            await self._agent_line(called[len(AGENT_LINE) :], channel)
            return
        call = VoiceCall(self, channel, voice=self._voice_for(self.called(channel)))
        self.calls[channel.info.call_id] = call
        try:
            await call.run()
        finally:
            self.calls.pop(channel.info.call_id, None)

    async def start_session(self, call: VoiceCall) -> None:
        info = call.channel.info
        attributes = {"carrier": info.carrier} if info.carrier else None  # who vouched for the caller
        await self._start_ivr(
            call, caller=info.caller, called=self.called(call.channel), attributes=attributes
        )

    def called(self, channel: CallChannel) -> str:
        """The number the call dialled (``default_called`` for calls that carry none)."""
        return channel.info.called or self.telephony.default_called

    def by_contact(self, contact_id: str) -> VoiceCall | None:
        return next((c for c in self.calls.values() if c.contact_id == contact_id), None)

    # Agent lines ------------------------------------------------------------------------------

    async def _agent_line(self, agent_id: str, channel: CallChannel) -> None:
        """Hold the agent's phone as their leg; drain its events while no call uses it."""
        self.legs.register(agent_id, channel)
        self.agent_lines[agent_id] = channel
        free, busy = asyncio.Event(), asyncio.Event()
        free.set()

        def changed(agent: str, in_use: bool) -> None:
            if agent == agent_id:
                (free.clear if in_use else free.set)()
                (busy.set if in_use else busy.clear)()

        remove = self.legs.on_change(changed)
        log.info("agent %s audio leg up (%s %s)", agent_id, channel.info.front_end, channel.info.call_id)
        try:
            while not channel.ended:
                await free.wait()
                if channel.ended:
                    break
                loop = asyncio.get_running_loop()  # named: a live leg's tasks, not leaks
                drain = loop.create_task(_drain(channel), name=f"agent-line-{agent_id}")
                claimed = loop.create_task(busy.wait(), name=f"agent-line-{agent_id}-claimed")
                await asyncio.wait({drain, claimed}, return_when=asyncio.FIRST_COMPLETED)
                for task in (drain, claimed):
                    task.cancel()
                await asyncio.gather(drain, claimed, return_exceptions=True)
        finally:
            remove()
            self.legs.unregister(agent_id, channel)
            if self.agent_lines.get(agent_id) is channel:
                del self.agent_lines[agent_id]
            log.info("agent %s audio leg down", agent_id)

    # Desk actions on connected calls -----------------------------------------------------------

    async def _follow_desks(self, subscription: Subscription) -> None:
        with contextlib.suppress(StopAsyncIteration):
            async for message in subscription:
                self._desk_did(message.topic, message.payload)

    def _desk_did(self, topic: str, payload: Any) -> None:
        contact_id = payload.get("contact_id")
        call = self.by_contact(contact_id) if contact_id else None
        if call is None:
            return
        if topic == "contact.transferred":
            call.on_transferred()
        else:
            call.on_held(topic == "contact.held")


async def _drain(channel: CallChannel) -> None:
    async for event in channel.events():
        if isinstance(event, AudioFrame):
            continue
        if isinstance(event, HungUp):
            return
