"""The cluster wire: every ACD input, every entry kind and a replica of the engine go through
MessagePack and come back equal; a message of another wire version, one whose fields do not
fit, or a pickled payload is refused with a ``WireError`` that says which, and runs nothing;
``config_hash`` holds what every node must agree on."""

from __future__ import annotations

import random
from collections import OrderedDict
from typing import Any

import msgspec
import pytest
from msgspec.structs import replace

from callcenter.acd.engine import AcdEngine
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
from callcenter.acd.snapshot import export_engine
from callcenter.config.hours import HoursTable
from callcenter.config.sections import (
    CenterConfig,
    QueueConfig,
    RoutingStep,
    SkillConfig,
)
from callcenter.core.events import InteractionEvent
from callcenter.runtime.cluster import wire as cluster_wire
from callcenter.runtime.cluster.wire import (
    ACD_INPUTS,
    WIRE_VERSION,
    ClusterIds,
    Entry,
    Forwarded,
    ReplicaState,
    WireError,
    config_hash,
    decode_entry,
    decode_forwarded,
    decode_replica,
    encode_entry,
    encode_forwarded,
    encode_replica,
    replica_state,
)

ARRIVAL = ContactArrived(
    contact_id="c-1",
    channel="voice",
    queue="billing",
    attributes={"tier": "gold", "lang": "ko"},
    caller="+821012345678",
    priority_class=0,
    head_start_s=90.0,
    context_id="x-1",
    arrived_at=1_700_000_000.25,
)
INPUTS: list[object] = [
    AgentLoggedIn(agent_id="ann", skills={"billing": 3, "cards": 1}, chat_capacity=2, name="Ann"),
    AgentLoggedOut(agent_id="ann"),
    AgentReady(agent_id="ann"),
    AgentNotReady(agent_id="ann", reason="lunch"),
    AgentSkillsChanged(agent_id="ann", skills={"billing": 5}, by="sup"),
    AgentDisconnected(agent_id="ann"),
    ARRIVAL,
    OfferAccepted(offer_id="o-1", agent_id="ann"),
    OfferDeclined(offer_id="o-1", agent_id="ann", reason="busy"),
    ContactAbandoned(contact_id="c-1"),
    ContactEnded(contact_id="c-1", by="customer", reason="dial_failed"),
    ContactTransferred(contact_id="c-1", by_agent="ann", to_agent="bob"),
    ContactRequeued(contact_id="c-1", reason="agent_gone"),
    CallbackRequested(contact_id="c-1", number="+15550199"),
    ContactHeld(contact_id="c-1", on=False),
    ContactMoved(contact_id="c-1", to_queue="cards", by="sup"),
    AttributesChanged(contact_id="c-1", attributes={"account": "42"}, by="crm"),
    PriorityChanged(contact_id="c-1", by="crm", priority_class=None, head_start_s=30.0),
    ContactsRestored(contacts=(ARRIVAL, replace(ARRIVAL, contact_id="c-2", channel="chat", caller=None))),
    replace(
        ARRIVAL,
        contact_id="vm-1",
        channel="voicemail",
        voicemail=VoicemailLeft(path="voicemail/c-9.wav", seconds=12.5, bytes=200_044, from_contact="c-9"),
    ),
    VoicemailCalledBack(contact_id="vm-1", agent_id="ann", callback_id="c-3", number="+15550199"),
]
EVENT = InteractionEvent(
    type="contact.queued",
    at=12.5,
    contact_id="c-1",
    queue="billing",
    data={"position": 3, "ewt_s": 40.5, "attributes": {"tier": "gold"}, "steps": [1, 2], "ok": True},
    context_id="x-1.2",
    parent_id="x-1.1",
)


def test_the_wire_carries_every_input_the_engine_takes() -> None:
    assert set(ACD_INPUTS) == set(AcdEngine._HANDLERS) == {type(i) for i in INPUTS}


@pytest.mark.parametrize("body", INPUTS, ids=lambda b: type(b).__name__)
def test_every_acd_input_comes_back_equal(body: object) -> None:
    forwarded = Forwarded("n1/abc", 7, "in", body)
    back = decode_forwarded(encode_forwarded(forwarded))
    assert back == forwarded and type(back.body) is type(body)
    entry = Entry(3, 99.5, "in", node="n1/abc", req=7, body=body, src="1-0")
    back_entry = decode_entry(encode_entry(entry))
    assert back_entry == entry and type(back_entry.body) is type(body)


@pytest.mark.parametrize(
    "kind, body",
    [
        ("rec", EVENT),
        ("lost", ("c-1", "n2/def")),
        ("own", ("c-1", "n1/abc")),
        ("timer", None),
        ("term", None),
        ("mark", 12),
        ("digest", (12, "0123456789abcdef")),
    ],
)
def test_every_entry_kind_comes_back_equal(kind: Any, body: Any) -> None:
    entry = Entry(3, 99.5, kind, node="n1/abc", body=body)
    assert decode_entry(encode_entry(entry)) == entry


def test_an_event_with_text_no_encoding_takes_arrives_cleaned() -> None:
    """A lone surrogate that got past the edges does not stop the event: it arrives as the
    log would write it (U+FFFD), like an odd value (its text)."""
    event = replace(EVENT, data={"name": "Noa \ud800", "nan": float("nan")})
    back = decode_entry(encode_entry(Entry(1, 1.0, "rec", body=event))).body
    assert back.data == {"name": "Noa \ufffd", "nan": "nan"}


def test_an_input_the_engine_does_not_take_is_not_sent() -> None:
    with pytest.raises(WireError, match="the ACD does not take InteractionEvent"):
        encode_forwarded(Forwarded("n1/abc", 0, "in", EVENT))


def _altered(blob: bytes, **changes: Any) -> bytes:
    raw = msgspec.msgpack.decode(blob)
    for key, value in changes.items():
        if key.startswith("body_"):
            raw["body"][key[5:]] = value
        else:
            raw[key] = value
    return msgspec.msgpack.encode(raw)


class Payload:
    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return RAN.append, ("code ran",)


RAN: list[str] = []
AN_ENTRY = encode_entry(Entry(3, 1.0, "in", body=ARRIVAL))


@pytest.mark.parametrize(
    "blob, message",
    [
        (
            _altered(AN_ENTRY, v=WIRE_VERSION + 1),
            f"entry has wire version 2; this node speaks version {WIRE_VERSION}",
        ),
        (_altered(AN_ENTRY, v=WIRE_VERSION + 1, token="new"), "entry has wire version 2"),
        (_altered(AN_ENTRY, token="3"), r"entry does not fit: Expected `int`, got `str` - at `\$.token`"),
        (_altered(AN_ENTRY, kind="run"), r"entry does not fit: Invalid enum value 'run' - at `\$.kind`"),
        (_altered(AN_ENTRY, t="Payload"), "entry: 'Payload' is not an ACD input this node knows"),
        (
            _altered(AN_ENTRY, body_queue=7),
            r"its body \(ContactArrived\) does not fit: Expected `str`, got `int` - at `\$.queue`",
        ),
        (_altered(AN_ENTRY, body_attributes={"a": 1}), r"at `\$.attributes\[...\]`"),
        (msgspec.msgpack.encode({"token": 3}), "entry carries no wire version"),
        (b"\x80\x05\x95 not msgpack", "entry is not MessagePack"),
    ],
)
def test_a_message_that_does_not_fit_is_refused_saying_why(blob: bytes, message: str) -> None:
    with pytest.raises(WireError, match=message):
        decode_entry(blob)


def test_a_pickled_payload_is_refused_and_runs_nothing() -> None:
    import pickle  # to write what an attacker would

    blob = pickle.dumps(Payload())
    for decode in (decode_entry, decode_forwarded, decode_replica):
        with pytest.raises(WireError, match="is not MessagePack"):
            decode(blob)
    assert RAN == []


def _config() -> CenterConfig:
    return CenterConfig(
        skills=[SkillConfig(name="billing"), SkillConfig(name="cards")],
        queues=[
            QueueConfig(
                name="billing", strategy="random", wrap_up_s=5, steps=[RoutingStep(require={"billing": 1})]
            ),
            QueueConfig(name="cards", steps=[RoutingStep(require={"cards": 2}, timeout=10), RoutingStep()]),
        ],
    )


def _engine(config: CenterConfig, ids: ClusterIds, rng: random.Random) -> AcdEngine:
    return AcdEngine.from_config(config, ids=ids, rng=rng, hours=HoursTable(config.hours))


def test_a_replica_comes_back_as_it_was_and_goes_on_alike() -> None:
    config = _config()
    ids, rng = ClusterIds("e1"), random.Random(0)
    engine = _engine(config, ids, rng)
    now = 100.0
    for i, agent in enumerate(["ann", "bob", "cy"]):
        engine.handle(AgentLoggedIn(agent_id=agent, skills={"billing": 2, "cards": 2 + i % 2}), now)
        engine.handle(AgentReady(agent_id=agent), now)
    for i in range(5):
        engine.handle(ContactArrived(contact_id=f"c{i}", channel="voice", queue="billing"), now + i)
    engine.handle(ContactArrived(contact_id="k", channel="chat", queue="cards"), now + 6)
    engine.take_commands()
    state = ReplicaState(
        engine=engine,
        ids=ids,
        rng=rng,
        config_hash=config_hash(config),
        entry_id="17-3",
        src="16-0",
        highest_token=4,
        last_now=now + 6,
        owners={"c0": "n1/a", "k": "n2/b"},
        agent_of={"c0": "ann"},
        handled_by=OrderedDict([("old2", "bob"), ("old1", "ann")]),
    )
    image = decode_replica(encode_replica(state))
    assert image.config_hash == state.config_hash
    back = replica_state(image, lambda ids, rng: _engine(config, ids, rng))
    assert export_engine(back.engine) == export_engine(engine)
    assert (back.ids.epoch, back.ids.n, back.rng.getstate()) == ("e1", ids.n, rng.getstate())
    assert (back.entry_id, back.src, back.highest_token, back.last_now) == ("17-3", "16-0", 4, now + 6)
    assert (back.owners, back.agent_of) == (state.owners, state.agent_of)
    assert list(back.handled_by.items()) == [("old2", "bob"), ("old1", "ann")]
    for e in (engine, back.engine):  # an offer is declined: the random strategy draws again
        offer = next(o for o in e.offers.values() if o.contact_id == "c0")
        e.handle(OfferDeclined(offer_id=offer.offer_id, agent_id=offer.agent_id), now + 10)
        e.handle(AgentReady(agent_id=offer.agent_id), now + 11)
    assert back.engine.take_commands() == engine.take_commands()
    assert export_engine(back.engine) == export_engine(engine)


def test_a_snapshot_of_another_version_is_refused() -> None:
    config = _config()
    ids, rng = ClusterIds("e1"), random.Random(0)
    state = ReplicaState(engine=_engine(config, ids, rng), ids=ids, rng=rng, config_hash="h")
    with pytest.raises(WireError, match="snapshot has wire version 2"):
        decode_replica(_altered(encode_replica(state), v=2))
    with pytest.raises(WireError, match=r"snapshot does not fit: .* - at `\$.engine.agents`"):
        decode_replica(
            _altered(
                encode_replica(state),
                engine={**msgspec.to_builtins(export_engine(state.engine)), "agents": 1},
            )
        )


def test_config_hash_is_what_every_node_must_agree_on(monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config()
    here = config_hash(config)
    per_node = replace(
        config,
        server=replace(config.server, host="10.0.0.2", port=9000),
        cluster=replace(config.cluster, node_id="b"),
    )
    assert config_hash(per_node) == here  # what may differ per node does not count
    assert config_hash(replace(config, queues=config.queues[:1])) != here
    monkeypatch.setattr(cluster_wire, "WIRE_VERSION", WIRE_VERSION + 1)
    assert config_hash(config) != here  # nor do nodes that speak another wire version


class StructServer(msgspec.Struct, frozen=True):
    host: str = "127.0.0.1"
    port: int = 8080


class StructCluster(msgspec.Struct, frozen=True):
    node_id: str = ""
    lease_ttl_s: float = 2.0


class StructConfig(msgspec.Struct, frozen=True):
    server: StructServer = StructServer()
    cluster: StructCluster = StructCluster()
    skills: frozenset[str] = frozenset({"billing", "cards", "sales"})


def test_config_hash_reads_a_config_made_of_msgspec_structs_too() -> None:
    config = StructConfig()
    here = config_hash(config)  # type: ignore[arg-type]
    per_node = StructConfig(server=StructServer(host="10.0.0.2", port=1), cluster=StructCluster(node_id="b"))
    assert config_hash(per_node) == here  # type: ignore[arg-type]
    assert config_hash(StructConfig(cluster=StructCluster(lease_ttl_s=3.0))) != here  # type: ignore[arg-type]
