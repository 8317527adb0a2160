"""The running center: the ACD engine under its single writer, and where its commands go.

Adapters (desks, chats, calls) never touch the engine: they ``submit`` inputs (and hear
whether they were accepted) or ``post`` them. The engine's commands are routed here:

- ``RecordEvent`` -> appended to the interaction log and published on the bus (topic =
  event type), so projections, wallboards and other nodes see every transition;
- offers, withdrawals, connections and agent states -> the agent's desk frames, through
  ``DeskSink`` (the desk hub), and the bus; what each desk shows of its contacts (held,
  muted, wrap-up with its deadline, closed) is kept by the ``DeskBook``
  (``runtime/desk_book.py``), settled after each input's commands;
- what concerns a contact's own channel (connected, overflowed, finished) -> the contact's
  ``ContactEndpoint`` (a chat session, a call) registered by its adapter.

With a ``ContactCrm`` (``use_crm``; app.py gives it ``crm_link.live.LiveCrm``), an arriving
contact is looked up within the CRM's budget and queued with the customer's routing
attributes (and the queue the CRM's route rules pick), and each offer goes to the desk with
its screen pop (see crm_link/live.py). A CRM answer that comes after the budget reaches the
engine like any adapter's input: the CRM ``submit``s ``AttributesChanged``,
``ContactMoved`` and ``PriorityChanged`` (``by="crm"``) into the ACD's inbox, and the ACD
refuses them unless the contact still waits.
"""

from __future__ import annotations

import logging
import random
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Protocol

from callcenter.acd.commands import (
    ConnectContact,
    FinishContact,
    OfferContact,
    OverflowContact,
    WithdrawOffer,
)
from callcenter.acd.engine import AcdEngine
from callcenter.acd.errors import AcdError
from callcenter.acd.messages import ContactArrived, VoicemailLeft
from callcenter.config.hours import HoursTable
from callcenter.config.sections import CenterConfig
from callcenter.core import desk_frames as df
from callcenter.core.clock import Clock
from callcenter.core.events import InteractionEvent, RecordEvent
from callcenter.core.ids import IdGenerator
from callcenter.ports.event_bus import EventBus
from callcenter.ports.interaction_log import InteractionLog
from callcenter.runtime.desk_book import DeskBook
from callcenter.runtime.dispatch import CommandRouter
from callcenter.runtime.driver import Driver

log = logging.getLogger(__name__)


class LogBacklogged(AcdError):
    """New contacts wait: the interaction log holds as many unwritten events as it may."""

    code = "log_backlogged"


class DeskSink(Protocol):
    def deliver(self, agent_id: str, frame: df.DeskFrame) -> None: ...


class ContactCrm(Protocol):
    """The CRM as the center uses it (``crm_link.live.LiveCrm`` documents the contract)."""

    def bind(self, *, record: Any, deliver: Any, submit: Any = None, queues: Any = None) -> None: ...

    async def arrival(
        self,
        *,
        contact_id: str,
        caller: str | None,
        queue: str,
        attributes: Mapping[str, str],
        context_id: str | None = None,
        priority_class: int | None = None,
        head_start_s: float | None = None,
    ) -> tuple[str, dict[str, str]]: ...

    def offer(self, agent_id: str, frame: df.Offer) -> None: ...

    def withdrawn(self, offer_id: str) -> None: ...

    def ended(self, contact_id: str) -> None: ...

    async def close(self) -> None: ...


class ContactEndpoint(Protocol):
    """A contact's own channel (chat session, call leg), told what routing decided."""

    def on_routing(self, command: Any) -> None: ...


def event_payload(event: InteractionEvent) -> dict[str, Any]:
    return {
        "type": event.type,
        "at": event.at,
        "contact_id": event.contact_id,
        "agent_id": event.agent_id,
        "queue": event.queue,
        "data": dict(event.data),
        "context_id": event.context_id,
        "parent_id": event.parent_id,
    }


class Center:
    def __init__(
        self,
        config: CenterConfig,
        *,
        clock: Clock,
        log: InteractionLog,
        bus: EventBus,
        ids: IdGenerator,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.ids = ids
        self._log = log
        self._bus = bus
        self.engine = self.new_engine(ids, rng or random.Random())
        router = CommandRouter()
        router.register(RecordEvent, self._record)
        router.register(OfferContact, self._offer)
        router.register(WithdrawOffer, self._withdrawn)
        router.register(ConnectContact, self._connected)
        router.register(OverflowContact, self._to_endpoint)
        router.register(FinishContact, self._finished)
        self._router = router
        self.acd: Driver[AcdEngine] = Driver(self.engine, clock, self._dispatch, name="acd")
        self.desks: DeskSink | None = None
        self.book = DeskBook(self._desk)  # what each desk shows of its contacts
        self.crm: ContactCrm | None = None
        self._endpoints: dict[str, ContactEndpoint] = {}
        self._agent_of: dict[str, str] = {}  # connected contact -> its agent, for desk notices
        self.handled_by: OrderedDict[str, str] = OrderedDict()  # recent contacts -> who had them

    def new_engine(self, ids: IdGenerator, rng: random.Random) -> AcdEngine:
        """An engine for this center's configuration (a cluster node also rebuilds one from a
        snapshot, ``runtime/cluster/wire.py``)."""
        return AcdEngine.from_config(self.config, ids=ids, rng=rng, hours=HoursTable(self.config.hours))

    # Lifecycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        self.acd.start()

    async def stop(self) -> None:
        await self.acd.stop()
        if self.crm is not None:
            await self.crm.close()

    def use_crm(self, crm: ContactCrm) -> None:
        """Look arriving contacts up and pop the customer with each offer (module docstring)."""
        crm.bind(
            record=self.record,
            deliver=self._desk,
            submit=self.submit,
            queues={q.name: q for q in self.config.queues},
        )
        self.crm = crm

    # Public methods for adapters ---------------------------------------------------------------

    async def submit(self, event: object) -> None:
        """Hand an input to the ACD and wait until it is applied (raises ``AcdError`` if not)."""
        if isinstance(event, ContactArrived):
            self._admit()
        await self.acd.submit(event)

    def _admit(self) -> None:
        """Refuse a new contact while the log's fallback buffer is full (``storage/log.py``)."""
        backlog = getattr(self._log, "backlog_error", None)  # recording fakes need not have it
        reason = backlog() if backlog is not None else None
        if reason is not None:
            raise LogBacklogged(reason)

    def post(self, event: object) -> None:
        self.acd.post(event)

    def record(self, event: InteractionEvent) -> None:
        """Log something that happened outside the engine (an arrival, a note, a rating)."""
        self._record(RecordEvent(event=event))

    def attach(self, contact_id: str, endpoint: ContactEndpoint) -> None:
        self._endpoints[contact_id] = endpoint

    def detach(self, contact_id: str) -> None:
        self._endpoints.pop(contact_id, None)

    async def contact_arrived(
        self,
        *,
        contact_id: str,
        channel: str,
        queue: str,
        caller: str | None,
        attributes: Mapping[str, str] | None = None,
        context_id: str | None = None,
        priority_class: int | None = None,
        head_start_s: float | None = None,
        voicemail: VoicemailLeft | None = None,
        parent_id: str | None = None,
    ) -> None:
        """Log the arrival and queue the contact (raises ``AcdError`` if the ACD refuses).
        A ``voicemail`` contact carries its message; ``parent_id`` links its arrival to the
        context of the call it was left on.

        With a CRM, the caller is looked up first (within its budget): the customer's
        attributes join ``attributes`` (which win on a clash) and a route rule may pick
        another queue."""
        self._admit()
        self.record(
            InteractionEvent(
                type="contact.arrived",
                at=self.clock.now(),
                contact_id=contact_id,
                queue=queue,
                data={"channel": channel, "caller": caller},
                context_id=context_id,
                parent_id=parent_id,
            )
        )
        given = dict(attributes or {})
        if self.crm is not None:
            queue, crm_attributes = await self.crm.arrival(
                contact_id=contact_id,
                caller=caller,
                queue=queue,
                attributes=given,
                context_id=context_id,
                priority_class=priority_class,
                head_start_s=head_start_s,
            )
            given = {**crm_attributes, **given}
        await self.submit(
            ContactArrived(
                contact_id=contact_id,
                channel=channel,
                queue=queue,
                attributes=given,
                caller=caller,
                context_id=context_id,
                priority_class=priority_class,
                head_start_s=head_start_s,
                voicemail=voicemail,
            )
        )

    # Command handlers (run in the ACD writer's task; they must not block) ------------------------

    def _dispatch(self, commands: Any) -> None:
        """Carry out one input's commands, then tell the desks what became of their contacts
        (``runtime/desk_book.py``: it reads the engine's state after the whole input)."""
        self._router(commands)
        self.book.settle(self.engine)

    def _record(self, command: RecordEvent) -> None:
        event = command.event
        self._log.append(event)
        self._bus.publish(event.type, event_payload(event))
        if event.type == "agent.state" and event.agent_id is not None:
            data = event.data
            self._desk(
                event.agent_id,
                df.State(
                    state=data.get("state"),
                    reason=data.get("reason"),
                    since=event.at,
                    wrap_up_deadline=data.get("until"),
                ),
            )
        elif event.type == "contact.transferred":
            self._agent_of.pop(event.contact_id or "", None)  # a contact that ends later is not theirs
        self.book.event(event)

    def _desk(self, agent_id: str, frame: df.DeskFrame) -> None:
        if self.desks is not None:
            self.desks.deliver(agent_id, frame)

    def _offer(self, c: OfferContact) -> None:
        extra = df.voicemail_fields(c.channel, c.contact_id, c.attributes)
        frame = df.Offer(
            offer_id=c.offer_id,
            contact_id=c.contact_id,
            agent_id=c.agent_id,
            queue=c.queue,
            channel=c.channel,
            ring_deadline=c.ring_deadline,
            trace=c.trace,
            caller=c.caller,
            attributes=dict(c.attributes),
            **extra,
        )
        if self.crm is not None:
            self.crm.offer(c.agent_id, frame)  # sends it with the screen pop, within the budget
        else:
            self._desk(c.agent_id, frame)

    def _withdrawn(self, c: WithdrawOffer) -> None:
        if self.crm is not None:
            self.crm.withdrawn(c.offer_id)
        self._desk(
            c.agent_id,
            df.OfferWithdrawn(offer_id=c.offer_id, contact_id=c.contact_id, reason=c.reason),
        )

    def _connected(self, c: ConnectContact) -> None:
        self._agent_of[c.contact_id] = c.agent_id
        self.handled_by[c.contact_id] = c.agent_id
        if len(self.handled_by) > 50_000:
            self.handled_by.popitem(last=False)
        contact = self.engine.contacts.get(c.contact_id)
        caller = contact.caller if contact is not None else None
        extra = df.voicemail_fields(c.channel, c.contact_id, contact.attributes) if contact else {}
        self.book.connected(c.agent_id, c.contact_id, c.channel, c.queue, caller, extra)
        self._to_endpoint(c)

    def _finished(self, c: FinishContact) -> None:
        self._agent_of.pop(c.contact_id, None)  # its desk hears of it from the book (wrap-up, closed)
        self._to_endpoint(c)
        self._endpoints.pop(c.contact_id, None)
        if self.crm is not None:
            self.crm.ended(c.contact_id)

    def _to_endpoint(self, c: Any) -> None:
        endpoint = self._endpoints.get(c.contact_id)
        if endpoint is not None:
            try:
                endpoint.on_routing(c)
            except Exception:
                log.exception("endpoint of %s failed on %s", c.contact_id, type(c).__name__)
