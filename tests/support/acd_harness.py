"""A small harness around AcdEngine for tests: queues built in code, every command kept."""

from __future__ import annotations

import random
from typing import Any

from callcenter.acd.commands import OfferContact
from callcenter.acd.engine import AcdEngine
from callcenter.acd.messages import AgentLoggedIn, AgentReady, ContactArrived
from callcenter.config.sections import OverflowConfig, OverflowTarget, PriorityRule, QueueConfig, RoutingStep
from callcenter.core.events import RecordEvent
from callcenter.core.ids import SequentialIds

SKILLS = ["billing", "cards", "english", "sales"]


class Hours:
    def __init__(self) -> None:
        self.closed: set[str] = set()

    def is_open(self, name: str | None, now: float) -> bool:
        return name not in self.closed

    def opening(self, name: str | None, now: float) -> str:
        return ""


def queue(name: str = "general", **kw: Any) -> QueueConfig:
    kw.setdefault("steps", [RoutingStep(require={"billing": 1})])
    kw.setdefault("wrap_up_s", 0.0)
    return QueueConfig(name=name, **kw)


__all__ = ["OverflowConfig", "OverflowTarget", "PriorityRule", "RoutingStep"]


class Acd:
    def __init__(self, queues: list[QueueConfig] | None = None, seed: int = 1, **engine_kw: Any) -> None:
        self.hours = Hours()
        self.engine = AcdEngine(
            queues or [queue()],
            SKILLS,
            ids=SequentialIds(),
            rng=random.Random(seed),
            hours=self.hours,
            **engine_kw,
        )
        self.now = 0.0
        self.commands: list[Any] = []
        self.log: list[Any] = []

    def __call__(self, event: Any, at: float | None = None) -> list[Any]:
        if at is not None:
            self.advance_to(at)
        self.engine.handle(event, self.now)
        return self._collect()

    def advance_to(self, at: float) -> list[Any]:
        out: list[Any] = []
        while (due := self.engine.next_deadline()) is not None and due <= at:
            self.now = due
            self.engine.handle_timer(due)
            out += self._collect()
        self.now = at
        return out

    def _collect(self) -> list[Any]:
        cmds = self.engine.take_commands()
        for c in cmds:
            (self.log if isinstance(c, RecordEvent) else self.commands).append(
                c.event if isinstance(c, RecordEvent) else c
            )
        return [c for c in cmds if not isinstance(c, RecordEvent)]

    # conveniences
    def agent(self, agent_id: str, *, ready: bool = True, chats: int = 1, **skills: int) -> None:
        self(AgentLoggedIn(agent_id=agent_id, skills=skills or {"billing": 3}, chat_capacity=chats))
        if ready:
            self(AgentReady(agent_id=agent_id))

    def arrive(
        self,
        cid: str,
        queue_name: str = "general",
        channel: str = "voice",
        at: float | None = None,
        **kw: Any,
    ) -> list[Any]:
        return self(
            ContactArrived(contact_id=cid, channel=channel, queue=queue_name, caller="+15550100", **kw),
            at=at,
        )

    def offers(self) -> list[OfferContact]:
        return [c for c in self.commands if isinstance(c, OfferContact)]

    def last_offer(self, agent_id: str | None = None) -> OfferContact:
        return [o for o in self.offers() if agent_id is None or o.agent_id == agent_id][-1]

    def state(self, agent_id: str) -> str:
        return self.engine.agents[agent_id].state.value

    def types(self, contact_id: str) -> list[str]:
        return [e.type for e in self.log if e.contact_id == contact_id]

    def fingerprint(self) -> str:
        e = self.engine
        return repr(
            (
                sorted((k, repr(v)) for k, v in e.agents.items()),
                sorted((k, repr(v)) for k, v in e.contacts.items()),
                sorted((k, repr(v)) for k, v in e.offers.items()),
                sorted(e.timer_heap.heap),
                {k: list(v.positions.items) for k, v in e.queues.items()},
            )
        )
