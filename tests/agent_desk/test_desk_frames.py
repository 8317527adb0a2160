"""The desk's frames are typed both ways, over the real desk WebSocket of the demo app:

- a request with a field of the wrong type, an unknown ``type``, a field the request does
  not have, or text over the limit gets the ``error`` frame of docs/desk-protocol.md
  (its code, a message naming the field, the field, the request's id) and changes nothing;
- every frame the desk receives in an agent's scripted contact (offer, accept, note,
  ticket, end, wrap-up) is exactly the encoding of one of ``core.desk_frames.DeskFrame``:
  a frame built as an ad-hoc dict, or with a field the types do not name, fails here.

The same refusals for the chat's frames are checked on ``chat.protocol.parse``; and
docs/desk-protocol.md names every frame and field the types have."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
from demo_center import demo_config
from desk_socket import logged_in

from callcenter.agent_desk.protocol import ClientMessage
from callcenter.app import create_app
from callcenter.appkeys import LOG
from callcenter.chat import protocol as chat
from callcenter.core.desk_frames import DeskFrame
from callcenter.core.ws_frames import FrameError, tags
from callcenter.runtime.keys import CENTER
from callcenter.supervisor.wallboard_frames import WallboardFrame


@pytest.fixture
async def app_client(aiohttp_client, tmp_path: Path):  # type: ignore[no-untyped-def]
    config = demo_config(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    return await aiohttp_client(create_app(config))


class RawDesk:
    """A desk that keeps every frame it receives as the text that came over the socket."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.session, self.ws = session, ws
        self.texts: list[str] = []
        self.backlog: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=10)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        self.texts.append(msg.data)
        frame: dict[str, Any] = json.loads(msg.data)
        return frame

    async def send(self, frame: dict[str, Any] | str) -> dict[str, Any]:
        """Send one request (with an ``id``) and return its ack or error."""
        await (self.ws.send_str(frame) if isinstance(frame, str) else self.ws.send_json(frame))
        msg_id = json.loads(frame)["id"] if isinstance(frame, str) else frame["id"]
        while (got := await self.receive()).get("id") != msg_id:
            self.backlog.append(got)
        return got

    async def until(self, kind: str) -> dict[str, Any]:
        while True:
            frame = self.backlog.pop(0) if self.backlog else await self.receive()
            if frame["type"] == kind:
                return frame


async def open_desk(client: Any, user: str) -> RawDesk:
    session = await logged_in(client.make_url("/"), user)
    desk = RawDesk(session, await session.ws_connect("/ws/desk"))
    await desk.ws.send_json({"type": "hello", "protocol": 1})
    assert (await desk.receive())["type"] == "welcome"
    return desk


REFUSED = [
    (  # a field of the wrong type
        {"type": "set_state", "state": 3, "id": 11},
        "bad_field",
        "state",
        "state must be one of",
    ),
    (  # a type the protocol does not have: the known ones are named
        {"type": "dance", "id": "r-12"},
        "unknown_type",
        "type",
        "unknown message type 'dance' (known: accept, chat_send,",
    ),
    (  # a field the request does not have
        {"type": "set_state", "state": "not_ready", "mood": "sunny", "id": 13},
        "bad_field",
        "mood",
        "unknown field 'mood'",
    ),
    (  # text longer than a person types
        {"type": "set_state", "state": "not_ready", "reason": "b" * 4001, "id": 14},
        "bad_field",
        "reason",
        "reason is longer than 4000 characters",
    ),
    (  # blank text
        {"type": "set_state", "state": "not_ready", "reason": "  ", "id": 15},
        "bad_field",
        "reason",
        "reason must not be empty",
    ),
    (  # a whole number out of its range
        {"type": "webrtc_ice", "candidate": "c", "sdp_mline_index": 65, "id": 16},
        "bad_field",
        "sdp_mline_index",
        "sdp_mline_index must be a whole number from 0 to 64",
    ),
]


@pytest.mark.parametrize(("frame", "code", "field", "words"), REFUSED)
async def test_a_refused_request_gets_its_error_frame_and_changes_nothing(
    app_client: Any, frame: dict[str, Any], code: str, field: str, words: str
) -> None:
    app = app_client.server.app
    alice = await open_desk(app_client, "alice")
    await app[LOG].flush()
    before = (app[CENTER].engine.agents["alice"].state, len(await app[LOG].read()))
    error = await alice.send(frame)
    assert (error["type"], error["code"], error["field"], error["id"]) == ("error", code, field, frame["id"])
    assert error["message"].startswith(words), error
    await app[LOG].flush()
    assert (app[CENTER].engine.agents["alice"].state, len(await app[LOG].read())) == before
    assert (await alice.send({"type": "heartbeat", "id": 99})) == {"type": "ack", "id": 99}
    await alice.ws.close()
    await alice.session.close()


async def test_every_frame_of_a_contact_on_the_desk_is_a_typed_frame(app_client: Any) -> None:
    app = app_client.server.app
    alice = await open_desk(app_client, "alice")
    assert (await alice.send({"type": "set_state", "state": "ready", "id": 1}))["state"] == "AVAILABLE"
    await app[CENTER].contact_arrived(
        contact_id="c-1", channel="voice", queue="cards", caller="+972501234567"
    )
    offer = await alice.until("offer")
    assert offer["contact_id"] == "c-1" and "screen_pop" in offer

    # an accept with a field it does not have is refused, and the offer still rings
    refused = await alice.send({"type": "accept", "offer_id": offer["offer_id"], "now": True, "id": 2})
    assert (refused["code"], refused["field"]) == ("bad_field", "now")
    assert offer["offer_id"] in app[CENTER].engine.offers

    assert (await alice.send({"type": "accept", "offer_id": offer["offer_id"], "id": 3}))["type"] == "ack"
    assert (await alice.until("contact"))["status"] == "connected"
    await alice.send({"type": "note", "contact_id": "c-1", "text": "lost card", "id": 4})
    ticket = await alice.send(
        {"type": "create_ticket", "contact_id": "c-1", "kind": "request", "subject": "new card", "id": 5}
    )
    assert ticket["ticket_id"]
    await alice.send({"type": "end", "contact_id": "c-1", "id": 6})
    assert (await alice.until("contact"))["status"] == "wrap_up"
    await alice.send({"type": "wrap_up_done", "id": 7})
    while (await alice.until("state"))["state"] != "AVAILABLE":
        pass

    kinds = {json.loads(text)["type"] for text in alice.texts}
    assert {"welcome", "ack", "error", "state", "offer", "contact"} <= kinds
    for text in alice.texts:  # each is one typed frame, encoded as it is typed
        typed = msgspec.json.decode(text, type=DeskFrame)
        assert msgspec.json.encode(typed).decode() == text
    await alice.ws.close()
    await alice.session.close()


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        ('{"type": "rate", "rating": "five"}', "rating", "rating must be a whole number from 1 to 5"),
        ('{"type": "text", "text": "hi", "lang": "he"}', "lang", "unknown field 'lang'"),
        ('{"type": "text", "text": "' + "x" * 2001 + '"}', "text", "text is longer than 2000 characters"),
        ('{"type": "choose"}', "key", "key is required"),
        ('{"type": "shout"}', "type", "unknown message type 'shout' (known: choose, leave, rate,"),
    ],
)
def test_a_chat_frame_is_refused_naming_its_field(raw: str, field: str, words: str) -> None:
    with pytest.raises(FrameError) as refused:
        chat.parse(raw)
    error = msgspec.to_builtins(refused.value.frame())
    assert error["type"] == "error" and error["field"] == field and error["message"].startswith(words)
    assert error["code"] == ("unknown_type" if field == "type" else "bad_field")


def _table(doc: str, heading: str) -> dict[str, str]:
    """The rows of the first table under ``heading``: ``{type: the rest of its row}``."""
    section = doc.split(heading, 1)[1]
    rows = re.findall(r"^\| `([a-z_]+)` \|(.*)$", section.split("\n## ", 1)[0], re.MULTILINE)
    return dict(rows)


def test_the_protocol_page_names_every_frame_and_field_the_types_have() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "desk-protocol.md").read_text()
    for heading, union, left_out in (
        ("## Requests and replies", ClientMessage, set()),
        ("## Server events", DeskFrame, {"ack", "error"}),  # told in "Requests and replies"
    ):
        rows = _table(doc, heading)
        kinds = tags(union)
        assert set(rows) == set(kinds) - left_out, heading
        for kind, row in rows.items():
            info = msgspec.inspect.type_info(kinds[kind])
            assert isinstance(info, msgspec.inspect.StructType)
            missing = [f.encode_name for f in info.fields if f"`{f.encode_name}`" not in row]
            assert not missing, f"{kind}: {missing} not in docs/desk-protocol.md"


def test_the_protocol_page_names_every_wallboard_frame_and_every_record_inside_frames() -> None:
    """The wallboard's frames and the records frames carry (a welcome's contacts, a queue
    row) are the same one schema, on the same page."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "desk-protocol.md").read_text()
    rows = _table(doc, "## Wallboard frames")
    kinds = tags(WallboardFrame)
    assert set(rows) == set(kinds) - {"error"}
    for kind, row in rows.items():
        info = msgspec.inspect.type_info(kinds[kind])
        assert isinstance(info, msgspec.inspect.StructType)
        missing = [f.encode_name for f in info.fields if f"`{f.encode_name}`" not in row]
        assert not missing, f"{kind}: {missing} not in docs/desk-protocol.md"

    section = doc.split("## Records inside frames", 1)[1].split("\n## ", 1)[0]
    records = dict(re.findall(r"^\| `([A-Za-z]+)` \|(.*)$", section, re.MULTILINE))
    inside: dict[str, Any] = {}
    for union in (DeskFrame, WallboardFrame):
        for frame in tags(union).values():
            _records_of(msgspec.inspect.type_info(frame), inside)
    frames = {cls.__name__ for union in (DeskFrame, WallboardFrame) for cls in tags(union).values()}
    inside = {name: info for name, info in inside.items() if name not in frames}  # in their own rows
    assert set(records) == set(inside)
    for name, info in inside.items():
        missing = [f.encode_name for f in info.fields if f"`{f.encode_name}`" not in records[name]]
        assert not missing, f"{name}: {missing} not in docs/desk-protocol.md"


def _records_of(t: Any, found: dict[str, Any], top: bool = True) -> None:
    """Every struct type reachable inside ``t`` (not ``t`` itself)."""
    i = msgspec.inspect
    if isinstance(t, i.StructType):
        if not top:
            if t.cls.__name__ in found:
                return
            found[t.cls.__name__] = t
        for f in t.fields:
            _records_of(f.type, found, False)
    elif isinstance(t, i.UnionType):
        for x in t.types:
            _records_of(x, found, False)
    elif isinstance(t, i.ListType):
        _records_of(t.item_type, found, False)
