"""Callbacks dialled by the server: when an agent accepts a ``callback`` contact, the
customer is called over SIP and the answered call is bridged to the agent's leg.

With ``telephony.dial_uri`` set, ``CallbackDialling`` follows the bus. On
``contact.connected`` of a contact whose channel is ``callback`` (and that no live call
of the voice front still holds), it dials ``attributes["callback_number"]`` at
``dial_uri`` through ``sip_dial.SipDialer``:

- ``contact.dialing`` (``number``, ``uri``) is logged and the agent's desk gets a
  ``contact`` frame with ``status: "dialing"``;
- answered: ``contact.dial_answered`` (``status`` 200), a ``contact`` frame ``connected``
  (``dial: "answered"``), then the same ``Bridge`` as an inbound call (the agent's leg from
  ``AgentLegs``, comfort audio while it is missing, desk hold and retrieve, recording as
  ``contact.recording``); the customer hanging up ends the contact ``completed`` by
  ``customer``, the agent's leg hanging up ends it by ``agent`` and hangs up the customer,
  the desk's End hangs up the customer; a transfer puts the customer on comfort audio
  until the next agent's ``contact.connected``; the desk's browser audio ending (a reload)
  pauses the bridge on comfort audio until the desk's next leg, and a desk gone for good
  (before its audio came, or in the call) sends the contact back to its queue first in
  line for the next agent, as an inbound call's (``runtime/voice/call.py``);
- failed (busy, declined, no answer within ``dial_ring_s``, ...): ``contact.dial_failed``
  (``status``: the SIP status or null, ``reason``: ``busy``, ``no_answer``, ...), a
  ``contact`` frame ``dial_failed``, and the contact ends in the ACD as ``ContactEnded(
  reason="dial_failed", by="system")``, so the agent goes to wrap-up as after any contact
  and the contacts row and reports show ``contact.ended`` with ``reason: dial_failed``.

If the desk ends the contact while the customer's phone rings, the dial is cancelled
(``contact.dial_failed`` with ``reason: cancelled``). ``start()``/``stop()`` pair in
``voice_app.telephony_ctx``; ``stop`` (shutdown) hangs up every callback call and ends its
contact by ``system_shutdown``, and cancels every dial still ringing (``contact.dial_failed``
``shutdown``; that contact stays open, so restart recovery puts the callback back in line).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from functools import partial
from typing import Any, TypeVar

from callcenter.config.telephony import TelephonyConfig
from callcenter.core.desk_frames import Contact
from callcenter.core.events import InteractionEvent
from callcenter.ports.event_bus import EventBus, Subscription
from callcenter.runtime.center import Center
from callcenter.runtime.voice.agent_legs import claim_leg, desk_audio_lost, end_contact, requeue_or_end
from callcenter.runtime.voice.front import VoiceFront
from callcenter.storage.recording_files import facts as recording_facts
from callcenter.telephony.bridge import Bridge, BridgeResult
from callcenter.telephony.media import CallChannel, HungUp
from callcenter.telephony.recorder import recording_path
from callcenter.telephony.sip_dial import SipDialer

log = logging.getLogger(__name__)

TOPICS = ("contact.connected", "contact.ended", "contact.held", "contact.retrieved", "contact.transferred")
T = TypeVar("T")


class CallbackDialling:
    """Dials accepted callbacks and bridges them (module docstring)."""

    def __init__(
        self,
        *,
        front: VoiceFront,
        center: Center,
        bus: EventBus,
        dialer: SipDialer,
        telephony: TelephonyConfig,
    ) -> None:
        self.front = front
        self.center = center
        self.dialer = dialer
        self.telephony = telephony
        self.calls: dict[str, CallbackCall] = {}  # contact id -> its callback, dialling or up
        self._bus = bus
        self._subscription: Subscription | None = None
        self._follow: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._subscription = self._bus.subscribe(*TOPICS)
        self._follow = asyncio.get_running_loop().create_task(self._follow_bus(self._subscription))

    async def stop(self) -> None:
        """Hang up every callback call and cancel every dial (before the SIP server stops)."""
        if self._subscription is not None:
            self._subscription.close()
        if self._follow is not None:
            self._follow.cancel()
            await asyncio.gather(self._follow, return_exceptions=True)
        calls = tuple(self.calls.values())
        for call in calls:
            call.shut_down()
        await asyncio.gather(*(call.task for call in calls if call.task), return_exceptions=True)
        await self.dialer.close()

    # The bus ------------------------------------------------------------------------------

    async def _follow_bus(self, subscription: Subscription) -> None:
        with contextlib.suppress(StopAsyncIteration):
            async for message in subscription:
                try:
                    self._heard(message.topic, message.payload)
                except Exception:
                    log.exception("callback dialling failed on %s", message.topic)

    def _heard(self, topic: str, payload: Any) -> None:
        contact_id = payload.get("contact_id")
        if not contact_id:
            return
        call = self.calls.get(contact_id)
        if topic == "contact.connected":
            agent_id = payload.get("agent_id")
            if call is not None and agent_id:
                call.next_agent.put_nowait(agent_id)  # after a transfer
            elif agent_id:
                self._maybe_dial(contact_id, agent_id)
        elif call is None:
            return
        elif topic == "contact.ended":
            call.finish()
        elif topic == "contact.transferred":
            call.transferred()
        else:
            call.hold(topic == "contact.held")

    def _maybe_dial(self, contact_id: str, agent_id: str) -> None:
        contact = self.center.engine.contacts.get(contact_id)
        if contact is None or contact.channel != "callback" or contact.state != "connected":
            return
        live = self.front.by_contact(contact_id)
        if live is not None and not live.channel.ended:
            return  # the caller is still on the line (the callback was just taken): it is bridged
        number = contact.attributes.get("callback_number") or contact.caller or ""
        call = CallbackCall(self, contact_id, number)
        self.calls[contact_id] = call
        call.task = asyncio.get_running_loop().create_task(call.run(agent_id), name=f"callback-{contact_id}")
        call.task.add_done_callback(lambda _: self.calls.pop(contact_id, None))

    # Helpers for calls ---------------------------------------------------------------------

    def record(self, kind: str, contact_id: str, agent_id: str | None, **data: Any) -> None:
        self.center.record(
            InteractionEvent(
                type=kind, at=self.center.clock.now(), contact_id=contact_id, agent_id=agent_id, data=data
            )
        )

    def tell_desk(self, agent_id: str, contact_id: str, status: str, **details: Any) -> None:
        if self.center.desks is not None:
            frame = Contact(contact_id=contact_id, status=status, channel="callback", **details)
            self.center.desks.deliver(agent_id, frame)

    async def end_contact(self, contact_id: str, by: str, reason: str = "completed") -> None:
        await end_contact(self.center, contact_id, by=by, reason=reason)


class CallbackCall:
    """One callback contact's outbound call: dial, then bridge to each agent in turn."""

    def __init__(self, owner: CallbackDialling, contact_id: str, number: str) -> None:
        self.owner = owner
        self.contact_id = contact_id
        self.number = number
        self.task: asyncio.Task[None] | None = None
        self.channel: CallChannel | None = None
        self.bridge: Bridge | None = None
        self.held = False
        self.bridges = 0
        self.agent_id = ""  # the agent it is connected to now
        self.shutting_down = False
        self.dialing = False
        self.finished = asyncio.Event()
        self.next_agent: asyncio.Queue[str] = asyncio.Queue()

    # Bus events --------------------------------------------------------------------------

    def finish(self) -> None:
        """The contact ended in the ACD (the desk's End, or our own ContactEnded)."""
        self.finished.set()
        if self.bridge is not None:
            self.bridge.stop()
        elif self.dialing and self.task is not None:
            self.task.cancel()  # the agent gave up while it rang: CANCEL

    def transferred(self) -> None:
        self.held = False
        if self.bridge is not None:
            self.bridge.stop()

    def hold(self, on: bool) -> None:
        self.held = on
        if self.bridge is not None:
            (self.bridge.hold if on else self.bridge.resume)()

    def shut_down(self) -> None:
        self.shutting_down = True
        if self.task is not None:
            self.task.cancel()

    # The call ------------------------------------------------------------------------------

    async def run(self, agent_id: str) -> None:
        self.agent_id = agent_id
        try:
            if await self._dial(agent_id):
                await self._serve(agent_id)
        except asyncio.CancelledError:
            await self._stopped()
        finally:
            if self.channel is not None and not self.channel.ended:
                await self.channel.hangup()

    async def _stopped(self) -> None:
        """Cancelled: by the desk's End while it rang, or by shutdown. A dial cut short is
        logged; a call that was up is hung up and, at shutdown, its contact ended (a dial
        that never reached the customer leaves the contact open: after a restart the
        callback is back in line)."""
        if self.channel is None:
            reason = "shutdown" if self.shutting_down else "cancelled"
            self.owner.record(
                "contact.dial_failed", self.contact_id, self.agent_id, status=None, reason=reason
            )
            log.info("callback %s: dial stopped (%s)", self.contact_id, reason)
            return
        await self.channel.hangup()
        if self.shutting_down and not self.finished.is_set():
            await self.owner.end_contact(self.contact_id, "system_shutdown")

    async def _dial(self, agent_id: str) -> bool:
        owner, cfg = self.owner, self.owner.telephony
        uri = cfg.dial_uri.format(number=self.number)
        owner.record("contact.dialing", self.contact_id, agent_id, number=self.number, uri=uri)
        owner.tell_desk(agent_id, self.contact_id, "dialing", number=self.number)
        self.dialing = True
        try:
            result = await owner.dialer.dial(uri, ring_s=cfg.dial_ring_s)
        finally:
            self.dialing = False
        if result.call is None:
            owner.record(
                "contact.dial_failed", self.contact_id, agent_id, status=result.status, reason=result.reason
            )
            owner.tell_desk(
                agent_id, self.contact_id, "dial_failed", dial_status=result.status, dial_reason=result.reason
            )
            await owner.end_contact(self.contact_id, "system", reason="dial_failed")
            return False
        self.channel = result.call
        owner.record("contact.dial_answered", self.contact_id, agent_id, status=result.status)
        if self.finished.is_set():  # ended from the desk as the customer answered
            return False
        owner.tell_desk(agent_id, self.contact_id, "connected", dial="answered")
        return True

    async def _serve(self, agent_id: str) -> None:
        channel = self.channel
        assert channel is not None
        while not self._over() and await self._with_agent(agent_id):
            next_agent = await self._waiting(self.next_agent.get())  # transferred, or requeued
            if next_agent is None or self._over():
                break
            agent_id = self.agent_id = next_agent
        if channel.ended and not self.finished.is_set():  # hung up while waiting for a leg
            await self.owner.end_contact(self.contact_id, "customer")

    async def _with_agent(self, agent_id: str) -> bool:
        """Bridge the customer to ``agent_id``'s leg (pausing on comfort audio while the
        desk's audio is lost) until the call is over (False) or goes on to another agent
        (True): transferred, or back in its queue because the agent's desk is gone."""
        legs, wait, contact_id = self.owner.front.legs, self.owner.telephony.agent_leg_wait_s, self.contact_id
        since = legs.gone_count(agent_id)  # a desk departure from before this call is not its own

        def record(kind: str, **data: Any) -> None:
            self.owner.record(kind, contact_id, agent_id, **data)

        loop = asyncio.get_running_loop()
        started = loop.time()
        missing = partial(record, "contact.agent_audio_missing", waited_s=wait)
        leg = await self._waiting(
            claim_leg(legs, agent_id, wait, since=since, over=self._over, missing=missing)
        )
        if leg is None and not self._over():  # the desk went before its audio came
            record("contact.agent_audio_gone", waited_s=round(loop.time() - started, 1), before_audio=True)
        while leg is not None:
            if self._over():  # in the same instant
                legs.release(agent_id)
                return False
            desk = legs.is_desk(agent_id)
            try:
                result = await self._bridged(agent_id, leg)
            finally:
                legs.release(agent_id)
            if desk and result.ended_by == "agent" and not self._over():  # lost audio, not a hang-up
                leg = await self._waiting(
                    desk_audio_lost(
                        legs,
                        agent_id,
                        wait,
                        since=since,
                        over=self._over,
                        record=record,
                        reason=result.reason,
                    )
                )
                continue
            if result.ended_by in ("caller", "agent"):
                await self.owner.end_contact(
                    contact_id, "customer" if result.ended_by == "caller" else "agent"
                )
                return False
            return not self.finished.is_set()  # transferred
        if self._over():
            return False
        return await requeue_or_end(self.owner.center, contact_id, agent_id)

    def _over(self) -> bool:
        """The customer hung up or the contact ended."""
        return self.channel is None or self.channel.ended or self.finished.is_set()

    async def _bridged(self, agent_id: str, leg: CallChannel) -> BridgeResult:
        assert self.channel is not None
        front, cfg = self.owner.front, self.owner.telephony
        self.bridges += 1
        name = self.contact_id if self.bridges == 1 else f"{self.contact_id}-{self.bridges}"
        self.bridge = Bridge(
            self.channel,
            leg,
            clock=front.clock,
            music=front.music,
            recording=recording_path(cfg.recordings_dir, name) if cfg.record else None,
        )
        if self.held:
            self.bridge.hold()
        self.owner.record("contact.bridged", self.contact_id, agent_id, agent_leg=leg.info.front_end)
        try:
            result = await self.bridge.run()
        finally:
            self.bridge = None
        if result.recording is not None:
            facts = recording_facts(result.recording, cfg.recordings_dir)
            self.owner.record("contact.recording", self.contact_id, agent_id, **facts)
        return result

    async def _waiting(self, want: Awaitable[T]) -> T | None:
        """Await ``want`` while the customer hears comfort audio; None if the customer hangs
        up or the contact ends first (the caller checks both when it gets a value too)."""
        channel = self.channel
        assert channel is not None
        loop = asyncio.get_running_loop()
        target = asyncio.ensure_future(want)
        others = [
            loop.create_task(_until_hung_up(channel)),
            loop.create_task(self.finished.wait()),
            loop.create_task(_comfort(channel, self.owner.front.music)),
        ]
        try:
            await asyncio.wait({target, *others[:2]}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)
            channel.clear()
            if not target.done():
                target.cancel()
                await asyncio.gather(target, return_exceptions=True)
        if target.cancelled():
            return None
        return target.result()


async def _until_hung_up(channel: CallChannel) -> None:
    async for event in channel.events():
        if isinstance(event, HungUp):
            return


async def _comfort(channel: CallChannel, music: bytes) -> None:
    while not channel.ended and await channel.play(music):
        pass
