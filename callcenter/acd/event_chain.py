"""The ACD engine's output: the commands in the order they were made, and the interaction
log events among them, each the next link of its contact's (or agent's) causal chain.

Every part that has something to say appends to the one ``commands`` list (the list stays
the same object for the engine's life, so a part may keep its ``append``);
``take()`` hands them over.
"""

from __future__ import annotations

from typing import Any

from callcenter.acd.agents import Agent
from callcenter.acd.contacts import Contact
from callcenter.core.events import InteractionEvent, RecordEvent
from callcenter.core.ids import IdGenerator


class EventChain:
    def __init__(self, ids: IdGenerator) -> None:
        self.ids = ids
        self.commands: list[Any] = []

    def take(self) -> list[Any]:
        """The commands made since the last call, in order."""
        out = self.commands.copy()
        self.commands.clear()
        return out

    def log_contact(
        self, contact: Contact, kind: str, now: float, agent: str | None, data: dict[str, Any]
    ) -> None:
        """Log a contact's event; ``data`` holds no None values (``commands.event_data``
        drops them).

        Each event is the next link of the contact's (or agent's) causal chain: one id is
        minted per contact (and per agent login), then numbered, so ids are unique across
        restarts (the injected ids are), reproducible with seeded ids and cheap per event.
        Written out here and in ``log_agent``: this runs for every event."""
        if contact.ctx_base is None:
            contact.ctx_base = self.ids.new("context")
        contact.ctx_n += 1
        parent = contact.ctx
        contact.ctx = ctx = f"{contact.ctx_base}.{contact.ctx_n}"
        event = InteractionEvent(
            type=kind,
            at=now,
            contact_id=contact.contact_id,
            agent_id=agent,
            queue=contact.queue,
            data=data,
            context_id=ctx,
            parent_id=parent,
        )
        self.commands.append(RecordEvent(event=event))

    def log_agent(self, agent: Agent, kind: str, now: float, data: dict[str, Any]) -> None:
        if agent.ctx_base is None:  # the causal chain, as in ``log_contact``
            agent.ctx_base = self.ids.new("context")
        agent.ctx_n += 1
        parent = agent.ctx
        agent.ctx = ctx = f"{agent.ctx_base}.{agent.ctx_n}"
        event = InteractionEvent(
            type=kind, at=now, agent_id=agent.agent_id, data=data, context_id=ctx, parent_id=parent
        )
        self.commands.append(RecordEvent(event=event))
