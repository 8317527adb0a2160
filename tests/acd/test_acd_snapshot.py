"""An engine rebuilt from a snapshot (the way a cluster node joins) goes on exactly as the
original: a seeded run of every kind of input is snapshotted part-way, the snapshot goes
through the wire format (msgpack), and from then on both engines get the same inputs and
timers and must produce the same commands and log records, and refuse the same inputs."""

from __future__ import annotations

import random

import msgspec
import pytest

from callcenter.acd.engine import AcdEngine
from callcenter.acd.errors import AcdError
from callcenter.acd.messages import (
    AgentDisconnected,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentReady,
    AgentSkillsChanged,
    AttributesChanged,
    CallbackRequested,
    ContactAbandoned,
    ContactArrived,
    ContactEnded,
    ContactHeld,
    ContactMoved,
    ContactRequeued,
    ContactsRestored,
    ContactTransferred,
    OfferAccepted,
    OfferDeclined,
    PriorityChanged,
    VoicemailCalledBack,
    VoicemailLeft,
)
from callcenter.acd.snapshot import EngineSnapshot, export_engine, restore_engine
from callcenter.config.sections import (
    OverflowConfig,
    OverflowTarget,
    PriorityRule,
    QueueConfig,
    RoutingStep,
    Strategy,
)

SKILLS = ["billing", "cards", "english", "sales"]
STRATEGIES: list[Strategy] = ["random", "longest-idle", "least-occupied", "round-robin", "best-skill-match"]
AGENTS = [f"a{i}" for i in range(8)]


class Open:
    def is_open(self, name: str | None, now: float) -> bool:
        return name != "night" or now % 600 < 300

    def opening(self, name: str | None, now: float) -> str:
        return "soon"


class CountedIds:
    """The cluster's kind of ids: one counter (the snapshot's caller carries it over)."""

    def __init__(self, n: int = 0) -> None:
        self.n = n

    def new(self, kind: str) -> str:
        self.n += 1
        return f"{kind[0]}-{self.n:x}"


def _queues() -> list[QueueConfig]:
    queues = [
        QueueConfig(
            name=f"q{i}",
            strategy=strategy,
            wrap_up_s=[0.0, 4.0][i % 2],
            ring_time_s=20,
            channels=["voice", "chat", "callback", "voicemail"],
            max_size=[None, 6][i % 2],
            max_wait_s=[None, 40.0, 90.0][i % 3],
            hours="night" if i == 3 else None,
            priority_rules=[PriorityRule(when={"tier": "top"}, head_start_s=30.0)],
            overflow=OverflowConfig(
                on_max_wait=[None, OverflowTarget(to="queue", queue="q0"), OverflowTarget(to="callback")][
                    i % 3
                ],
                on_full=OverflowTarget(to="voicemail"),
                on_closed=OverflowTarget(to="disconnect", message="Closed. We open {opens}."),
            ),
            steps=[
                RoutingStep(require={SKILLS[i % 4]: 3}, timeout=9),
                RoutingStep(require={SKILLS[i % 4]: 1}),
            ],
        )
        for i, strategy in enumerate(STRATEGIES)
    ]
    return queues


def _engine(ids: CountedIds, rng: random.Random) -> AcdEngine:
    return AcdEngine(_queues(), SKILLS, ids=ids, rng=rng, hours=Open(), position_updates_s=15.0)


def _pick(r: random.Random, items: list[str]) -> str:
    return r.choice(items) if items else "nobody"


def _next_input(r: random.Random, e: AcdEngine, n: int) -> object:
    """One input of any kind the engine takes, mostly one that applies."""
    agent = r.choice(AGENTS)
    contacts = sorted(e.contacts)
    waiting = sorted(c for c, x in e.contacts.items() if x.state == "waiting")
    connected = sorted(c for c, x in e.contacts.items() if x.state == "connected")
    offers = sorted(e.offers)
    kind = r.randrange(21)
    if kind == 0:
        skills = {s: r.randint(1, 5) for s in r.sample(SKILLS, r.randint(1, 3))}
        return AgentLoggedIn(
            agent_id=agent,
            skills=skills,
            chat_capacity=r.randint(0, 2),
            name=agent.upper(),
            voicemail_capacity=r.randint(0, 2),
        )
    if kind in (1, 2):
        return AgentReady(agent_id=agent)
    if kind == 3:
        return r.choice([AgentNotReady(agent_id=agent, reason="lunch"), AgentLoggedOut(agent_id=agent)])
    if kind == 4:
        return r.choice(
            [
                AgentSkillsChanged(agent_id=agent, skills={s: r.randint(1, 5) for s in r.sample(SKILLS, 2)}),
                AgentDisconnected(agent_id=agent),
            ]
        )
    if kind in (5, 6, 7):
        channel = r.choice(["voice", "chat", "callback", "voicemail"])
        message = VoicemailLeft(path=f"voicemail/v{n}.wav", seconds=3.0, bytes=48044, from_contact=f"v{n}")
        return ContactArrived(
            contact_id=f"c{n}",
            channel=channel,
            voicemail=message if channel == "voicemail" else None,
            queue=f"q{r.randrange(5)}",
            attributes={"tier": r.choice(["top", "regular"])},
            caller=r.choice([None, "+15550001"]),
            priority_class=r.choice([None, 0, 2]),
        )
    if kind in (8, 9, 10) and offers:
        o = e.offers[r.choice(offers)]
        if r.random() < 0.85:
            return OfferAccepted(offer_id=o.offer_id, agent_id=o.agent_id)
        return OfferDeclined(offer_id=o.offer_id, agent_id=o.agent_id)
    if kind in (11, 12) and connected:
        return ContactEnded(contact_id=r.choice(connected), reason=r.choice(["completed", "dial_failed"]))
    if kind == 13:
        cid = _pick(r, connected)
        by = e.contacts[cid].agent_id if cid in e.contacts else "nobody"
        if r.random() < 0.5:
            return ContactTransferred(contact_id=cid, by_agent=by or "", to_queue=f"q{r.randrange(5)}")
        return ContactTransferred(contact_id=cid, by_agent=by or "", to_agent=r.choice(AGENTS))
    if kind == 14:
        return r.choice(
            [
                CallbackRequested(contact_id=_pick(r, waiting), number="+15550002"),
                ContactHeld(contact_id=_pick(r, connected), on=r.random() < 0.5),
                ContactRequeued(contact_id=_pick(r, connected)),
            ]
        )
    if kind == 15:
        return ContactMoved(contact_id=_pick(r, waiting), to_queue=f"q{r.randrange(5)}", by="sup")
    if kind == 16:
        return AttributesChanged(contact_id=_pick(r, waiting), attributes={"tier": "top"}, by="crm")
    if kind == 17:
        return PriorityChanged(
            contact_id=_pick(r, waiting), by="crm", priority_class=r.choice([None, 0]), head_start_s=5.0
        )
    if kind == 18:
        arrivals = tuple(
            ContactArrived(
                contact_id=f"r{n}-{i}", channel=r.choice(["chat", "voicemail"]), queue=f"q{i}", arrived_at=1.0
            )
            for i in range(r.randint(1, 3))
        )
        return ContactsRestored(contacts=arrivals)
    if kind == 19:
        cid = _pick(r, sorted(c for c in connected if e.contacts[c].channel == "voicemail"))
        by = e.contacts[cid].agent_id if cid in e.contacts else "nobody"
        return VoicemailCalledBack(contact_id=cid, agent_id=by or "", callback_id=f"b{n}", number="+15550003")
    return ContactAbandoned(contact_id=_pick(r, contacts))


def _step(e: AcdEngine, event: object, now: float) -> list[object]:
    """What the engine did with ``event`` at ``now`` (timers due first), refusals included."""
    out: list[object] = []
    while (due := e.next_deadline()) is not None and due <= now:
        e.handle_timer(due)
        out += e.take_commands()
    try:
        e.handle(event, now)
    except AcdError as err:
        out.append(("refused", err.code, str(err)))
    out += e.take_commands()
    return out


def _through_the_wire(snap: EngineSnapshot) -> EngineSnapshot:
    return msgspec.msgpack.decode(msgspec.msgpack.encode(snap), type=EngineSnapshot)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_an_engine_rebuilt_from_a_snapshot_goes_on_exactly_as_the_original(seed: int) -> None:
    r = random.Random(seed)
    ids, rng = CountedIds(), random.Random(seed)
    a = _engine(ids, rng)
    now, n = 0.0, 0
    while n < 1000 or len(a.contacts) < 3 or not a.offers:  # snapshot at a busy moment
        now += r.choice([0.0, 0.5, 2.0, 5.0])
        _step(a, _next_input(r, a, n), now)
        n += 1

    snap = _through_the_wire(export_engine(a))
    rng_b = random.Random()
    rng_b.setstate(rng.getstate())
    b = _engine(CountedIds(ids.n), rng_b)
    restore_engine(b, snap)
    assert export_engine(b) == export_engine(a)
    assert (b.requirements.staffed, b.requirements.logged_in) == (
        a.requirements.staffed,
        a.requirements.logged_in,
    )

    kinds: set[str] = set()
    for i in range(n, n + 1500):
        now += r.choice([0.0, 0.5, 2.0, 5.0])
        event = _next_input(r, a, i)
        kinds.add(type(event).__name__)
        assert _step(b, event, now) == _step(a, event, now), f"input {i}: {event}"
    assert export_engine(b) == export_engine(a)
    assert kinds >= {t.__name__ for t in AcdEngine._HANDLERS}  # every kind of input was tried


def test_a_snapshot_restores_only_into_a_fresh_engine() -> None:
    a = _engine(CountedIds(), random.Random(0))
    a.handle(AgentLoggedIn(agent_id="a0", skills={"billing": 3}), 0.0)
    a.take_commands()
    with pytest.raises(RuntimeError, match="freshly built"):
        restore_engine(a, export_engine(a))
    a.handle(AgentReady(agent_id="a0"), 1.0)
    with pytest.raises(RuntimeError, match="take the engine's commands"):
        export_engine(a)
