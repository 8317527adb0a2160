"""One voice contact's life on its ``CallChannel``: IVR, queue, agent bridge, survey.

``VoiceCall`` is the ``IvrChannel`` (``runtime/ivr_runner/ports.py``) of a call. The IVR
runner drives it: prompts are spoken by ``PromptPlayer`` (barge-in cuts them), the
caller's frames go to the recognizer while a menu listens, keys become
``DigitsReceived``. Routing tells it what happened:

- ``RouteToQueue``: comfort audio between the queue's announcements (the runner sends them
  at the queue's ``announce_interval_s``); the ``callback_key`` takes a callback to the
  calling number that keeps the place in line (``CallbackRequested``), then the call ends;
- ``ConnectContact``: the agent's leg is claimed from ``AgentLegs`` and bridged to the
  caller (recorded to one stereo WAV per contact when ``telephony.record``, logged as
  ``contact.recording`` with its path relative to ``recordings_dir``, seconds and bytes);
  desk hold plays music to the caller; a transfer puts the caller back on comfort audio
  until the next agent; an agent's phone leg hanging up ends the contact as ended by the
  agent, while the desk's browser audio ending (a reload, a dropped connection) only
  pauses the bridge: comfort audio, ``contact.agent_audio_lost``, and the desk's next leg
  resumes it (``contact.agent_audio_back``); a desk gone for good (its grace ran out),
  or gone after the agent accepted but before its audio ever came (``before_audio``), is
  ``contact.agent_audio_gone``: the call goes back to its queue first in line
  (``ContactRequeued``, on comfort audio) for the next agent, or, if the queue is closed,
  ends by ``system``;
- ``FinishContact``: the bridge stops and the flow goes on (a survey) or hangs up.
- ``OverflowContact`` to voicemail: the overflow's message (or ``telephony.voicemail_prompt``)
  is said, then the caller is recorded for up to ``telephony.voicemail_max_s``; the hang-up
  the flow orders waits until the message is over.

A message (from a voicemail node with a ``queue``, or an overflow) becomes a ``voicemail``
contact waiting in that queue: ``contact.voicemail`` (``path`` relative to
``telephony.recordings_dir``, ``seconds``, ``bytes``, ``from_contact``) is its first event
after ``contact.arrived``. A message of no length (the caller hung up at the beep) is no
contact: ``voicemail.empty`` is logged on the call and the file removed.

One task reads the channel's events outside the bridge; the bridge reads them while it
runs; they never overlap. When the caller hangs up the runner hears ``hang_up()`` and ends
the contact in the ACD with the reason for the stage it was in.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Protocol

from callcenter.acd.commands import ConnectContact, FinishContact, OverflowContact
from callcenter.acd.errors import AcdError
from callcenter.acd.messages import CallbackRequested, VoicemailLeft
from callcenter.config.telephony import TelephonyConfig
from callcenter.core.context import Context
from callcenter.core.errors import CallcenterError
from callcenter.core.events import InteractionEvent
from callcenter.ivr import messages as ivr
from callcenter.ports.recognition import Recognition, SpeechRecognizer
from callcenter.runtime.center import Center
from callcenter.runtime.ivr_runner.ports import IvrCall
from callcenter.runtime.voice.agent_legs import (
    AgentLegs,
    claim_leg,
    desk_audio_lost,
    end_contact,
    requeue_or_end,
)
from callcenter.runtime.voice.call_media import PromptAudio, PromptPlayer, SpeechListener, VoicemailTaker
from callcenter.storage.recording_files import facts as recording_facts
from callcenter.telephony.bridge import Bridge, BridgeResult
from callcenter.telephony.media import AudioFrame, CallChannel, DigitPressed, HungUp
from callcenter.telephony.pacer import MediaClock
from callcenter.telephony.recorder import recording_path

log = logging.getLogger(__name__)

OWN_PROMPT = "voice-"  # prompt ids of the front-end's own words (not the flow's)
IVR_KEYS = frozenset("0123456789*#")  # A-D exist on the line but not in flows


class CallFront(Protocol):
    """What a call needs of the front-end that carries it (``front.VoiceFront``)."""

    center: Center
    telephony: TelephonyConfig
    legs: AgentLegs
    clock: MediaClock
    music: bytes
    audio: PromptAudio
    recognizer: SpeechRecognizer | None

    async def start_session(self, call: VoiceCall) -> None: ...


class VoiceCall:
    kind = "voice"

    def __init__(self, front: CallFront, channel: CallChannel, *, voice: str | None = None) -> None:
        """``voice``: the TTS voice of the flow that answers the call (None: the default)."""
        self.front = front
        self.channel = channel
        self.call: IvrCall | None = None
        self.queued = False
        self.callback_taken = False
        self.bridge: Bridge | None = None
        self.held = False
        self.bridges = 0
        self.agent_id: str | None = None
        self._done = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._voicemail: VoicemailTaker | None = None
        self._voicemail_to: tuple[str | None, float] = (None, 0.0)  # (queue, max_s) of the message
        self._overflow_voicemail: asyncio.Event | None = None  # set when that message is over
        self._record_after: str | None = None  # own prompt id after which recording starts
        self._hangup_after: str | None = None  # own prompt id after which we hang up
        self._own_said = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self.player = PromptPlayer(channel, front.audio, front.music, self._prompt_done, voice=voice)
        self.listener = SpeechListener(front.recognizer, self._heard)

    @property
    def taking_message(self) -> bool:
        """A voicemail is being recorded (the beep is over)."""
        return self._voicemail is not None and self._voicemail.recording

    @property
    def contact_id(self) -> str | None:
        return self.call.contact_id if self.call is not None else None

    # Public methods for the front ---------------------------------------------------------

    async def run(self) -> None:
        """Serve the call until it is over (either side hung up), then release everything."""
        self._reader = asyncio.ensure_future(self._read())
        try:
            try:
                await self.front.start_session(self)
            except CallcenterError as exc:  # no flow answers the number: say so in the log
                log.warning(
                    "call %s from %r to %r: %s; hanging up",
                    self.channel.info.call_id,
                    self.channel.info.caller,
                    self.channel.info.called,
                    exc,
                )
                return
            await self._done.wait()
        finally:
            await self._release()

    def on_held(self, on: bool) -> None:
        self.held = on
        if self.bridge is not None:
            (self.bridge.hold if on else self.bridge.resume)()

    def on_transferred(self) -> None:
        """The agent transferred the call: the caller waits again, on comfort audio."""
        self.queued, self.held = True, False
        if self.bridge is not None:
            self.bridge.stop()
        elif self._connecting is not None:
            self._connecting.cancel()
        self.player.comfort(True)

    # IvrChannel port ----------------------------------------------------------------------

    def opened(self, call: IvrCall) -> None:
        self.call = call
        info = self.channel.info
        log.info(
            "call %s from %r to %r (%s) is contact %s",
            info.call_id,
            info.caller,
            info.called,
            info.front_end,
            call.contact_id,
        )

    def play(self, prompt: ivr.PlayPrompt) -> None:
        self.player.say(prompt)

    def stop_prompt(self, prompt_id: str) -> None:
        self.player.stop(prompt_id)

    def start_recognition(self, grammar: tuple[str, ...], timeout_s: float) -> None:
        self.listener.start(grammar, timeout_s)

    def stop_recognition(self) -> None:
        self.listener.stop()

    def start_voicemail(self, max_s: float, queue: str | None = None) -> None:
        folder = self.front.telephony.recordings_dir
        path = recording_path(f"{folder}/voicemail", self.contact_id or self.channel.info.call_id)
        self._voicemail = VoicemailTaker(self.channel, path, max_s)
        self._voicemail_to = (queue, max_s)

    def transfer(self, uri: str) -> None:
        # The SIP front-end is a UAS without REFER; the flow's transfer ends the call.
        log.warning(
            "call %s: transfer to %s is not supported by the %s front-end; hanging up",
            self.channel.info.call_id,
            uri,
            self.channel.info.front_end,
        )
        self.hang_up("transferred")

    def hang_up(self, reason: str) -> None:
        """The flow's prompts were said already; words of our own (an overflow message)
        are let finish first."""
        self._spawn(self._hang_up_when_said())

    async def _hang_up_when_said(self) -> None:
        await self.player.drained(timeout=20.0)
        if self._overflow_voicemail is not None:  # the caller is leaving a message
            await self._overflow_voicemail.wait()
        await self.channel.hangup()

    def on_routing(self, command: Any) -> None:
        if isinstance(command, ivr.RouteToQueue):
            self.queued = True
            self.player.comfort(True)
            if self.front.telephony.callback_key and self.channel.info.caller:
                self._say_own(self._callback_words()[0])
        elif isinstance(command, ConnectContact):
            self.queued = False
            self.agent_id = command.agent_id
            self._connecting = asyncio.ensure_future(self._connect(command))
        elif isinstance(command, OverflowContact):
            # the queue sends the call elsewhere: say why
            if command.target.to == "voicemail":
                self._take_overflow_message(command)
            elif command.target.message:
                self.player.comfort(False)
                self._say_own(command.target.message)
        elif isinstance(command, FinishContact):
            self.queued, self.held = False, False
            self.player.comfort(False)
            if self.bridge is not None:
                self.bridge.stop()
            elif self._connecting is not None:
                self._connecting.cancel()

    # Caller events ------------------------------------------------------------------------

    async def _read(self) -> None:
        async for event in self.channel.events():
            if isinstance(event, AudioFrame):
                self.listener.feed(event.pcm)
                if self._voicemail is not None and not self._voicemail.add(event.pcm):
                    self._spawn(self._voicemail_done())
            elif isinstance(event, DigitPressed):
                self._digit(event.digit)
            elif isinstance(event, HungUp):
                self._caller_gone(event.reason)

    def _digit(self, digit: str) -> None:
        if self._voicemail is not None and digit == "#":
            self._spawn(self._voicemail_done())
        elif self.queued and digit == self.front.telephony.callback_key and not self.callback_taken:
            self._spawn(self._take_callback())
        elif digit in IVR_KEYS and self.call is not None:
            self.call.post(ivr.DigitsReceived(digits=digit))

    def _heard(self, result: Recognition) -> None:
        if self.call is not None:
            self.call.post(ivr.SpeechRecognized(text=result.text, confidence=result.confidence))

    def _prompt_done(self, prompt_id: str) -> None:
        if prompt_id.startswith(OWN_PROMPT):
            if prompt_id == self._hangup_after:
                self._callback_said()
            elif prompt_id == self._record_after and not self.channel.ended:
                queue, max_s = self._voicemail_to
                self.start_voicemail(max_s, queue)
        elif self.call is not None:
            self.call.post(ivr.PromptFinished(prompt_id=prompt_id))

    def _caller_gone(self, reason: str) -> None:
        log.debug("call %s ended (%s)", self.channel.info.call_id, reason)
        if self._voicemail is not None:  # hanging up is how a message usually ends
            self._spawn(self._leave_after_voicemail())
        elif self._overflow_voicemail is not None:  # gone before the tone: no message
            self._overflow_voicemail.set()
        elif self.callback_taken:
            self._callback_said()
        elif self.call is not None and not self.call.ended:
            self.call.hang_up()
        self._done.set()

    async def _leave_after_voicemail(self) -> None:
        await self._voicemail_done()  # reported before the hang-up, so the message is kept
        if self.call is not None and not self.call.ended:
            self.call.hang_up()

    def _callback_said(self) -> None:
        """The caller took a callback: the session ends (and hangs up) without the ACD
        hearing an abandon; the contact keeps its place as a callback."""
        if self.call is not None and not self.call.ended:
            self.call.post(ivr.ContactCompleted(reason="callback"))
        else:
            self._spawn(self.channel.hangup())

    async def _voicemail_done(self) -> None:
        taker, self._voicemail = self._voicemail, None
        if taker is None:
            return
        path, seconds = await taker.finish()
        try:
            await self._deliver_voicemail(path, seconds)
        finally:
            if self._overflow_voicemail is not None:
                self._overflow_voicemail.set()
            elif self.call is not None:
                self.call.post(ivr.VoicemailRecorded(path=str(path), seconds=seconds))

    def _take_overflow_message(self, command: OverflowContact) -> None:
        """The queue sends the call to voicemail: say so, then record (``_prompt_done``)."""
        cfg = self.front.telephony
        self.queued = False
        self.player.comfort(False)
        self._overflow_voicemail = asyncio.Event()
        self._voicemail_to = (command.queue, cfg.voicemail_max_s)
        self._record_after = self._say_own(command.target.message or cfg.voicemail_prompt)

    async def _deliver_voicemail(self, path: Path, seconds: float) -> None:
        """The message waits in its queue as a ``voicemail`` contact (module docstring)."""
        queue, max_s = self._voicemail_to
        from_contact = self.contact_id or self.channel.info.call_id
        relative = f"voicemail/{path.name}"  # under telephony.recordings_dir
        if seconds <= 0:
            path.unlink(missing_ok=True)
            self._record("voicemail.empty", from_contact=from_contact, queue=queue)
            return
        size = path.stat().st_size
        if queue is None:  # a flow's voicemail node without a queue: the file is all there is
            self._record("voicemail.unrouted", path=relative, seconds=seconds, bytes=size)
            return
        center = self.front.center
        caller = self.channel.info.caller or None
        vm_id = center.ids.new("contact")
        parent = self.call.context_id if self.call is not None else None
        context = Context(id=center.ids.new("context"), parent_id=parent)
        message = VoicemailLeft(
            path=relative,
            seconds=seconds,
            bytes=size,
            from_contact=from_contact,
            capped=seconds >= max_s,
        )
        attributes = {"voicemail_of": from_contact, "voicemail_seconds": f"{seconds:g}"}
        try:
            await center.contact_arrived(
                contact_id=vm_id,
                channel="voicemail",
                queue=queue,
                caller=caller,
                attributes=attributes,
                context_id=context.id,
                parent_id=context.parent_id,
                voicemail=message,
            )
        except AcdError as exc:  # the file is kept; the log says why nobody will be offered it
            log.warning("call %s: the voicemail could not be queued in %s: %s", from_contact, queue, exc)
            self._record("voicemail.refused", path=relative, seconds=seconds, queue=queue, reason=str(exc))

    async def _take_callback(self) -> None:
        contact_id = self.contact_id
        if contact_id is None or not self.channel.info.caller:
            return
        self.callback_taken = True
        try:
            await self.front.center.submit(
                CallbackRequested(contact_id=contact_id, number=self.channel.info.caller)
            )
        except AcdError as exc:  # connected meanwhile, or no longer waiting
            log.info("call %s: callback not taken: %s", contact_id, exc)
            self.callback_taken = False
            return
        self.queued = False
        self.player.comfort(False)
        self.player.flush()
        self._hangup_after = self._say_own(self._callback_words()[1])

    def _callback_words(self) -> tuple[str, str]:
        """(offer, confirm): the flow's own callback words (in its language), else the
        telephony section's."""
        telephony = self.front.telephony
        words = self.call.flow.callback if self.call is not None else None
        offer = words.offer if words is not None and words.offer else telephony.callback_offer
        confirm = words.confirm if words is not None and words.confirm else telephony.callback_confirm
        return offer, confirm

    def _say_own(self, text: str) -> str:
        self._own_said += 1
        prompt_id = f"{OWN_PROMPT}{self._own_said}"
        self.player.say(ivr.PlayPrompt(prompt_id=prompt_id, text=text))
        return prompt_id

    # The agent bridge ---------------------------------------------------------------------

    async def _connect(self, command: ConnectContact) -> None:
        legs, wait, agent = self.front.legs, self.front.telephony.agent_leg_wait_s, command.agent_id
        since = legs.gone_count(agent)  # a desk departure from before this call is not its own
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            leg = await claim_leg(
                legs,
                agent,
                wait,
                since=since,
                over=self._caller_left,
                missing=lambda: self._record("contact.agent_audio_missing", agent=agent, waited_s=wait),
            )
            if leg is None and not self.channel.ended:  # the desk went before its audio came
                waited = round(loop.time() - started, 1)
                self._record("contact.agent_audio_gone", agent=agent, waited_s=waited, before_audio=True)
                self._agent_gone(command)
            while leg is not None:
                desk = legs.is_desk(agent)
                try:
                    result = await self._bridged(command, leg)
                finally:
                    legs.release(agent)
                if not (desk and result.ended_by == "agent"):
                    self._after_bridge(command, result)
                    return
                leg = await self._desk_audio_lost(command, result.reason, since)
        finally:
            if self._connecting is asyncio.current_task():
                self._connecting = None

    async def _bridged(self, command: ConnectContact, leg: CallChannel) -> BridgeResult:
        await self._stop_reader()
        self.player.flush()  # what was queued for the wait (announcements) is moot now
        self.player.pause()
        self.listener.stop()
        cfg = self.front.telephony
        self.bridges += 1
        name = command.contact_id if self.bridges == 1 else f"{command.contact_id}-{self.bridges}"
        self.bridge = Bridge(
            self.channel,
            leg,
            clock=self.front.clock,
            music=self.front.music,
            recording=recording_path(cfg.recordings_dir, name) if cfg.record else None,
        )
        if self.held:
            self.bridge.hold()
        self._record("contact.bridged", agent=command.agent_id, agent_leg=leg.info.front_end)
        try:
            result = await self.bridge.run()
        finally:
            self.bridge = None
            self.player.resume()
        if result.recording is not None:
            facts = recording_facts(result.recording, self.front.telephony.recordings_dir)
            self._record("contact.recording", agent=command.agent_id, **facts)
        return result

    def _after_bridge(self, command: ConnectContact, result: BridgeResult) -> None:
        if result.ended_by == "caller":
            self._caller_gone(result.reason)
            return
        self._reader = asyncio.ensure_future(self._read())
        if result.ended_by == "agent":  # the agent's phone hung up
            self._spawn(end_contact(self.front.center, command.contact_id, by="agent"))

    async def _desk_audio_lost(self, command: ConnectContact, reason: str, since: int) -> CallChannel | None:
        """The desk's browser audio ended in the call (a reload, a dropped connection, a
        closed tab): not a hang-up. The caller hears comfort audio and stays connected to
        the agent in the ACD; the desk's next leg resumes the bridge. None when the caller
        left meanwhile, or when the desk is gone for good (its grace ran out): then the
        call goes back to its queue (``_agent_gone``)."""
        legs, wait, agent = self.front.legs, self.front.telephony.agent_leg_wait_s, command.agent_id
        self._reader = asyncio.ensure_future(self._read())  # a caller hanging up is heard
        self.player.comfort(True)
        log.info("call %s: desk audio of %s ended (%s); the caller waits", command.contact_id, agent, reason)
        leg = await desk_audio_lost(
            legs,
            agent,
            wait,
            since=since,
            over=self._caller_left,
            record=lambda kind, **data: self._record(kind, agent=agent, **data),
            reason=reason,
        )
        if leg is None and not self.channel.ended:
            self._agent_gone(command)
        return leg

    def _agent_gone(self, command: ConnectContact) -> None:
        """The agent's desk is gone for good and the caller is still here: on comfort
        audio, the call goes back to its queue, first in line, for the next agent (or, if
        the queue will not have it, ends by ``system``: the caller goes to the survey)."""
        log.warning(
            "call %s: the desk of %s is gone; back to the queue", command.contact_id, command.agent_id
        )
        self.queued, self.held, self.agent_id = True, False, None
        self.player.comfort(True)
        self._spawn(requeue_or_end(self.front.center, command.contact_id, command.agent_id))

    def _caller_left(self) -> bool:
        return self.channel.ended

    async def _stop_reader(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
            self._reader = None

    # Helpers ------------------------------------------------------------------------------

    def _record(self, kind: str, **data: Any) -> None:
        self.front.center.record(
            InteractionEvent(
                type=kind,
                at=self.front.center.clock.now(),
                contact_id=self.contact_id,
                agent_id=data.pop("agent", None),
                data={k: v for k, v in data.items() if v is not None},
            )
        )

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _release(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
            await asyncio.gather(self._connecting, return_exceptions=True)
        await self._stop_reader()
        if self._voicemail is not None:
            await self._voicemail_done()
        await self.listener.close()
        await self.player.close()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=2.0)
        for task in tuple(self._tasks):
            task.cancel()
