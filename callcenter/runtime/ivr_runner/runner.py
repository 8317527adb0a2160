"""The IVR in the server: one ``IvrSession`` per contact, its commands carried out.

Theory of operation
-------------------
``IvrRunner.start`` picks the flow for ``(channel kind, called)``, builds the session and
its own ``Driver`` (one single writer per session: a session's inputs, its one timer and
its commands never wait behind another caller's, a session that ends takes its task with
it, and a bug in one flow step cannot stall the others). Front-ends implement
``IvrChannel`` (``ivr_runner_ports``) and report inputs through the ``IvrCall`` handle.

Commands go: prompts, recognition, voicemail, transfer and hang-up to the channel;
``RecordEvent`` to ``Center.record`` (log + bus); ``LookupCustomer`` to the CRM directory
(not found when there is none); ``VerifyCustomer`` to the directory and the credentials
(``runtime/ivr_runner/verify.py``); ``RouteToQueue`` and ``OfferCallback`` to the ACD through
``Center.contact_arrived``. The run is then the contact's ``ContactEndpoint``: the ACD's
connect/overflow/finish come back to the channel and to the session (``ContactCompleted``
with the ACD's reason), and while the contact waits the runner reads its position and
estimated wait from the engine every ``announce_interval_s`` of its queue
(``QueueStatusChanged``). Work that awaits (lookups, ACD submits) runs as tasks, chained
per contact so that a hang-up never overtakes the routing it follows.

When a session ends without ever reaching the ACD, the runner logs ``contact.ended`` so
the contact has a complete life in the log; one the ACD had is ended there (abandoned
while waiting, ended when connected) if the caller hung up.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from callcenter.acd.commands import ConnectContact, FinishContact, OverflowContact
from callcenter.acd.errors import AcdError
from callcenter.acd.messages import ContactAbandoned, ContactEnded
from callcenter.config.hours import HoursTable
from callcenter.core.clock import TimerHandle
from callcenter.core.context import Context
from callcenter.core.errors import CallcenterError
from callcenter.core.events import InteractionEvent, RecordEvent
from callcenter.ivr import Flow, IvrSession
from callcenter.ivr import messages as ivr
from callcenter.ivr.loader import FlowSet
from callcenter.ports.crm_directory import Credentials, SelfService
from callcenter.runtime.center import Center
from callcenter.runtime.driver import Driver
from callcenter.runtime.ivr_runner.lookup import answer_lookup
from callcenter.runtime.ivr_runner.ports import IvrCall, IvrChannel, IvrDirectory
from callcenter.runtime.ivr_runner.verify import answer_verification

log = logging.getLogger(__name__)

__all__ = ["IvrCall", "IvrChannel", "IvrDirectory", "IvrRunner", "NoFlow"]


class NoFlow(CallcenterError):
    """No flow answers this channel and number (``entry`` of config/ivr/*.yaml)."""


class _QueueEwt:
    """``ivr.QueueStatusPort`` over the live ACD engine (read from the session's task;
    the engine is only written between awaits by its own writer)."""

    def __init__(self, center: Center) -> None:
        self._center = center

    def ewt_s(self, queue: str) -> float | None:
        if queue not in self._center.engine.queues:
            return None
        return self._center.engine.queue_snapshot(queue, self._center.clock.monotonic()).ewt_s


class IvrRunner:
    """Runs the IVR sessions of one node (see the module docstring)."""

    def __init__(
        self,
        center: Center,
        flows: FlowSet,
        *,
        directory: Callable[[], IvrDirectory | None] | None = None,
        answers: SelfService | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        """``directory`` gives the CRM directory at lookup time (None: nobody is found);
        ``answers`` gives self-service answers (``want: order_status``...); ``credentials``
        checks PINs and dates of birth for verify nodes (None: nobody verifies by them)."""
        self.center = center
        self.flows = flows
        self.answers = answers
        self.credentials = credentials
        self._directory = directory
        self.runs: dict[str, _Run] = {}
        self._hours = HoursTable(center.config.hours)
        self._ewt = _QueueEwt(center)

    # Public methods for front-ends ------------------------------------------------------

    async def start(
        self,
        *,
        channel: IvrChannel,
        caller: str,
        called: str,
        contact_id: str | None = None,
        attributes: Mapping[str, str] | None = None,
        login_customer_id: str | None = None,
    ) -> IvrCall:
        """Start the flow answering ``called`` on ``channel.kind`` for a new contact.

        ``channel.opened(call)`` is called before this returns and before any command;
        ``attributes`` are added to the ACD attributes of the contact (a chat's name);
        ``login_customer_id`` is the customer a checked login token names (chat).
        Raises ``NoFlow`` when no flow answers.
        """
        flow = self.flows.entry_for(channel.kind, called)
        if flow is None:
            raise NoFlow(f"no IVR flow answers {channel.kind} {called!r}; add it to a flow's entry")
        cid = contact_id or self.center.ids.new("contact")
        if cid in self.runs:
            raise CallcenterError(f"contact {cid} already has an IVR session")
        session = IvrSession(
            flow=flow,
            contact_id=cid,
            context=Context.root(self.center.ids),
            ids=self.center.ids,
            hours=self._hours,
            queues=self._ewt,
        )
        run = _Run(self, session, channel, dict(attributes or {}))
        self.runs[cid] = run
        channel.opened(run)
        run.driver.start()
        run.post(
            ivr.SessionStarted(
                caller=caller, called=called, channel=channel.kind, login_customer_id=login_customer_id
            )
        )
        return run

    def directory(self) -> IvrDirectory | None:
        return self._directory() if self._directory is not None else None

    def replace_flows(self, flows: FlowSet) -> None:
        """New sessions use ``flows``; running ones finish on the flow they started with."""
        self.flows = flows

    async def idle(self) -> None:
        """Wait until every posted input and every task of every run is done (tests)."""
        for _ in range(50):
            runs = tuple(self.runs.values())
            pending = [t for r in runs for t in r.tasks]
            for r in runs:
                await r.driver.idle()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            if not any(r.tasks for r in self.runs.values()):
                return

    async def close(self) -> None:
        """Stop every session's task (server shutdown); the channels close themselves."""
        for run in tuple(self.runs.values()):
            await run.stop()


class _Run:
    """One contact's session, driver and channel; the ``IvrCall`` and ``ContactEndpoint``."""

    def __init__(
        self, runner: IvrRunner, session: IvrSession, channel: IvrChannel, attributes: dict[str, str]
    ) -> None:
        self.runner = runner
        self.session = session
        self.channel = channel
        self.extra = attributes
        center = runner.center
        self.center = center
        self.driver: Driver[IvrSession] = Driver(
            session, center.clock, self._dispatch, name=f"ivr-{session.contact_id}"
        )
        self.tasks: set[asyncio.Task[None]] = set()
        self._chain: asyncio.Future[None] | None = None
        self._closed = False
        self._routed: str | None = None  # the queue the ACD has the contact in
        self._acd_had = False  # the ACD took the contact (it logs its end)
        self._callback = False
        self._voicemail_left = False
        self._announce: TimerHandle | None = None

    # IvrCall -------------------------------------------------------------------------------

    @property
    def contact_id(self) -> str:
        return self.session.contact_id

    @property
    def ended(self) -> bool:
        return self.session.state == "ended"

    @property
    def context_id(self) -> str:
        return self.session.context.id

    @property
    def flow(self) -> Flow:
        return self.session.flow

    def post(self, event: ivr.IvrInput) -> None:
        if isinstance(event, ivr.VoicemailRecorded) and event.seconds > 0:
            self._voicemail_left = True  # the call's outcome, however it ends now
        if not self._closed:
            self.driver.post(event)

    def hang_up(self) -> None:
        if self._closed:
            return
        self.driver.post(ivr.CallerHungUp())
        self._acd(self._release_acd)

    # ContactEndpoint (called in the ACD writer's task) ---------------------------------

    def on_routing(self, command: Any) -> None:
        if isinstance(command, ConnectContact | FinishContact):
            self._stop_announcing()
        if not self._closed:
            self.channel.on_routing(command)
        if isinstance(command, FinishContact):
            self._routed = None
            if not self.ended:
                self.post(ivr.ContactCompleted(reason=command.reason))
        elif (
            isinstance(command, OverflowContact)
            and command.target.to == "callback"
            and self.channel.kind == "voice"
        ):
            self._callback = True  # the ACD keeps the contact and calls back later
            self._stop_announcing()
            self.post(ivr.ContactCompleted(reason="callback"))

    # Commands (in the session's driver task; nothing here blocks) ---------------------------

    def _dispatch(self, commands: Sequence[Any]) -> None:
        ch = self.channel
        for c in commands:
            try:
                if isinstance(c, RecordEvent):
                    self.center.record(c.event)
                elif self._closed:
                    continue
                elif isinstance(c, ivr.PlayPrompt):
                    ch.play(c)
                elif isinstance(c, ivr.StopPrompt):
                    ch.stop_prompt(c.prompt_id)
                elif isinstance(c, ivr.StartRecognition):
                    ch.start_recognition(c.grammar, c.timeout_s)
                elif isinstance(c, ivr.StopRecognition):
                    ch.stop_recognition()
                elif isinstance(c, ivr.StartVoicemail):
                    ch.start_voicemail(c.max_s, c.queue)
                elif isinstance(c, ivr.LookupCustomer):
                    self._spawn(self._lookup(c))
                elif isinstance(c, ivr.VerifyCustomer):
                    self._spawn(self._verify(c))
                elif isinstance(c, ivr.RouteToQueue):
                    self._acd(functools.partial(self._route, c))
                elif isinstance(c, ivr.OfferCallback):
                    self._acd(functools.partial(self._offer_callback, c))
                elif isinstance(c, ivr.TransferExternal):
                    self._close()
                    ch.transfer(c.uri)
                elif isinstance(c, ivr.HangUp):
                    self._close()
                    ch.hang_up(c.reason)
            except Exception:
                log.exception("IVR %s: carrying out %s failed", self.contact_id, type(c).__name__)
        if self.ended and not self._closed:
            self._close()
            if self.session.end_reason != "caller_hung_up":
                ch.hang_up(self.session.end_reason or "completed")

    def _close(self) -> None:
        """The session is over: log the end of a contact the ACD never had, stop timers."""
        if self._closed:
            return
        self._closed = True
        self._stop_announcing()
        self._spawn(self._finish())

    def _log_end(self, reason: str | None = None) -> None:
        reason = reason or self.session.end_reason or "completed"
        if self._voicemail_left and reason in ("completed", "caller_hung_up"):
            reason = "voicemail"  # the caller left a message (hanging up is how it ends)
        self.center.record(
            InteractionEvent(
                type="contact.ended",
                at=self.center.clock.now(),
                contact_id=self.contact_id,
                data={
                    "reason": reason,
                    "channel": self.channel.kind,
                    "in": "ivr",
                },
                context_id=self.session.context.id,
            )
        )

    async def _finish(self) -> None:
        if self._chain is not None:
            await asyncio.gather(self._chain, return_exceptions=True)
        if not self._acd_had:
            self._log_end()
        await self.driver.stop()
        if self.runner.runs.get(self.contact_id) is self:
            del self.runner.runs[self.contact_id]
        contact = self.center.engine.contacts.get(self.contact_id)
        if contact is None or self._callback or contact.channel == "callback":
            # gone, or to be called back (by the IVR's offer or the caller's key in the queue)
            self.center.detach(self.contact_id)

    async def stop(self) -> None:
        """Server shutdown: a contact still in the IVR ends here (its session cannot
        survive the process); one the ACD has is left to it and to restart recovery."""
        if not self._closed and not self._acd_had and not self._chain:
            self._log_end("system_shutdown")
        self._closed = True
        self._stop_announcing()
        for task in tuple(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.driver.stop()
        self.runner.runs.pop(self.contact_id, None)

    # Lookups and the ACD -----------------------------------------------------------------

    async def _lookup(self, c: ivr.LookupCustomer) -> None:
        self.post(await answer_lookup(self.runner.directory(), c, self.contact_id, self.runner.answers))

    async def _verify(self, c: ivr.VerifyCustomer) -> None:
        runner = self.runner
        self.post(await answer_verification(runner.directory(), runner.credentials, c, self.contact_id))

    async def _route(self, c: ivr.RouteToQueue) -> None:
        self.center.attach(self.contact_id, self)
        if not self._closed:  # before the ACD can answer, so the channel hears it first
            self.channel.on_routing(c)
        attributes = {**self.extra, **c.attributes}
        try:
            await self.center.contact_arrived(
                contact_id=c.contact_id,
                channel=c.channel,
                queue=c.queue,
                caller=c.caller,
                attributes=attributes,
                context_id=c.context_id,
                priority_class=c.priority_class,
                head_start_s=c.head_start_s,
            )
        except AcdError as exc:
            log.warning("IVR %s: the ACD refused queue %s: %s", self.contact_id, c.queue, exc)
            self.center.detach(self.contact_id)
            self.post(ivr.ContactCompleted(reason="routing_failed"))
            return
        self._acd_had = True
        if self.center.engine.contacts.get(self.contact_id) is None:
            return  # the queue sent it away at once (closed, full): FinishContact came back
        self._routed = c.queue
        self._announce_now()

    async def _offer_callback(self, c: ivr.OfferCallback) -> None:
        attributes = {**self.extra, **c.attributes, "callback_number": c.number}
        try:
            await self.center.contact_arrived(
                contact_id=c.contact_id,
                channel="callback",
                queue=c.queue,
                caller=c.number,
                attributes=attributes,
                context_id=c.context_id,
            )
        except AcdError as exc:
            log.warning("IVR %s: the ACD refused the callback in %s: %s", self.contact_id, c.queue, exc)
            return
        self._acd_had = self._callback = True
        if not self._closed:
            self.channel.on_routing(c)

    async def _release_acd(self) -> None:
        """The caller left: end the contact in the ACD if it has it."""
        contact = self.center.engine.contacts.get(self.contact_id)
        if contact is None or self._callback or contact.channel == "callback":
            return  # gone, or waiting to be called back (the caller may hang up)
        event: object = (
            ContactEnded(contact_id=self.contact_id, by="customer")
            if contact.state == "connected"
            else ContactAbandoned(contact_id=self.contact_id)
        )
        try:
            await self.center.submit(event)
        except AcdError as exc:
            log.warning("IVR %s: ending the contact in the ACD failed: %s", self.contact_id, exc)

    # Announcements -----------------------------------------------------------------------

    def _announce_now(self) -> None:
        self._announce = None
        if self._closed or self._routed is None:
            return
        contact = self.center.engine.contacts.get(self.contact_id)
        if contact is None or contact.state == "connected":
            return  # over, or with an agent: no more announcements
        where = self.center.engine.position(self.contact_id)
        if where is not None:  # not while an agent's desk rings (it may not answer)
            self.post(ivr.QueueStatusChanged(position=where[0], ewt_s=where[1]))
        queue = self.center.engine.queues.get(self._routed)
        every = queue.cfg.announce_interval_s if queue is not None else 60.0
        self._announce = self.center.clock.call_at(self.center.clock.now() + every, self._announce_now)

    def _stop_announcing(self) -> None:
        if self._announce is not None:
            self._announce.cancel()
            self._announce = None

    # Tasks ---------------------------------------------------------------------------------

    def _spawn(self, coro: Awaitable[None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _acd(self, step: Callable[[], Awaitable[None]]) -> None:
        """Run ACD work one after another for this contact (a hang-up follows its routing)."""
        previous = self._chain

        async def chained() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            await step()

        self._chain = self._spawn(chained())

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("IVR %s: task failed", self.contact_id, exc_info=task.exception())
