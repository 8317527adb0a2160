"""The browser reads only what the server sends, and handles every frame the server sends.

The desk page (desk.js, audio.js, screenpop.js) and the wallboard page (wallboard.js) run
in real Chromium, served from the package's static files, on a WebSocket the test plays
the server's part of. Every frame the test sends is built from the server's own types
(``core.desk_frames.DeskFrame``, ``supervisor.wallboard_frames.WallboardFrame``) with every
field filled, one of each type of the union (and each contact status), and encoded as the
server encodes it. The page parses frames with ``JSON.parse``, which here hands back
recording proxies: every field the page's code reads of a frame, at any depth (a contact
inside ``welcome``, a queue row inside ``snapshot``), is noted with its path.

It fails when the page reads a field its frame's type does not have (a field the server
never sends, like the desk reading ``wrap_up_deadline`` on a frame without it), and when a
type of the union gets no handler (the page read nothing of it but its ``type``).
Fields of free-form dicts (a screen pop, the day's figures) are not checked below the dict.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from callcenter.core import desk_frames as df
from callcenter.core.ws_frames import ErrorFrame, tags
from callcenter.i18n import catalogue
from callcenter.supervisor import wallboard_frames as wf

pytestmark = pytest.mark.browser

PKG = Path(__file__).resolve().parents[2] / "callcenter"
STATIC = {
    "/desk": PKG / "agent_desk" / "static" / "desk.html",
    "/static/desk/": PKG / "agent_desk" / "static",
    "/wallboard": PKG / "supervisor" / "static" / "wallboard" / "wallboard.html",
    "/static/wallboard/": PKG / "supervisor" / "static" / "wallboard",
    "/static/common/": PKG / "static",  # the shared player (recordings/web.py)
    "/static/i18n/": PKG / "i18n" / "static",  # the pages' words (i18n/routes.py)
}
# The pages' questions before they connect: an English user, and the English catalogue.
API: dict[str, Any] = {
    "/api/v1/auth/me": {"user": {"username": "alice", "language": "en"}, "csrf_token": "t"},
    "/api/v1/i18n": {"default": "en", "languages": [{"code": "en", "name": "English"}]},
    "/api/v1/i18n/en": {"language": "en", "messages": dict(catalogue.catalogue("en"))},
}
ORIGIN = "http://center.test"
NOW = 1_800_000_000.0
IGNORED = ("toJSON", "then", "constructor", "valueOf", "toString", "nodeType", "$$typeof")

# A WebSocket the test speaks for, and JSON.parse handing out recording proxies.
RECORDER = """
(() => {
  const reads = (window.__reads = []);
  const ignored = new Set(__IGNORED__);
  const cache = new WeakMap();
  const wrap = (obj, type, prefix) => {
    if (cache.has(obj)) return cache.get(obj);
    const proxy = new Proxy(obj, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver);
        if (typeof key !== "string" || ignored.has(key)) return value;
        const array = Array.isArray(target);
        if (array && !/^\\d+$/.test(key)) return value; // length, map, ...
        if (!array) reads.push([type, prefix + key]);
        if (!value || typeof value !== "object") return value;
        // an item of a list is read below "field.[]."; a field of a struct below "field."
        const below = array ? prefix : prefix + key + (Array.isArray(value) ? ".[]." : ".");
        return wrap(value, type, below);
      },
    });
    cache.set(obj, proxy);
    return proxy;
  };
  const parse = JSON.parse;
  JSON.parse = function (text, reviver) {
    const value = parse.call(JSON, text, reviver);
    if (value && typeof value === "object" && typeof value.type === "string") {
      // a frame: "contacts.[]." for the items of a list field
      return wrap(value, value.type, "");
    }
    return value;
  };
  class FakeSocket extends EventTarget {
    constructor(url) {
      super(); this.url = url; this.readyState = 0; this.sent = [];
      (window.__sockets ||= []).push(this);
      setTimeout(() => { this.readyState = 1; const ev = new Event("open"); this.onopen?.(ev); this.dispatchEvent(ev); }, 0);
    }
    send(data) { this.sent.push(data); }
    close() { this.readyState = 3; }
    deliver(text) { const ev = new MessageEvent("message", { data: text }); this.onmessage?.(ev); this.dispatchEvent(ev); }
  }
  Object.assign(FakeSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  window.WebSocket = FakeSocket;
})();
""".replace("__IGNORED__", json.dumps(list(IGNORED)))


def sample(kind: Any, **given: Any) -> Any:
    """An instance of the struct ``kind`` with every field filled (``given`` wins)."""
    info = msgspec.inspect.type_info(kind)
    assert isinstance(info, msgspec.inspect.StructType)
    values = {}
    for f in info.fields:
        values[f.name] = given[f.name] if f.name in given else _value(f.type, f.name)
    return kind(**values)


def _value(t: msgspec.inspect.Type, name: str) -> Any:
    i = msgspec.inspect
    if isinstance(t, i.UnionType):
        real = [x for x in t.types if not isinstance(x, i.NoneType)]
        return _value(real[0], name)
    if isinstance(t, i.StructType):
        return sample(t.cls)
    if isinstance(t, i.ListType):
        return [_value(t.item_type, name)]
    if isinstance(t, i.DictType | i.AnyType):
        return {}
    if isinstance(t, i.BoolType):
        return True
    if isinstance(t, i.IntType):
        return 2
    if isinstance(t, i.FloatType):
        return NOW + 20 if name.endswith(("deadline", "until")) else NOW - 5
    return WORDS.get(name, f"{name}-1")


# Strings the pages hand to the browser's own parsers (Intl), so they must be real ones.
WORDS = {"timezone": "Asia/Jerusalem", "today_date": "2027-01-15"}


def allowed(t: msgspec.inspect.Type, parts: list[str]) -> bool:
    """Whether a read at ``parts`` below a value of type ``t`` is of a field that type has."""
    i = msgspec.inspect
    if not parts:
        return True
    if isinstance(t, i.UnionType):
        return any(allowed(x, parts) for x in t.types)
    if isinstance(t, i.StructType):
        field = next((f for f in t.fields if f.encode_name == parts[0]), None)
        return field is not None and allowed(field.type, parts[1:])
    if isinstance(t, i.ListType):
        return parts[0] == "[]" and allowed(t.item_type, parts[1:])
    return isinstance(t, i.DictType | i.AnyType)  # a free-form dict: not checked below it


def mismatches(union: Any, sent: set[str], reads: list[list[str]]) -> list[str]:
    """What the page read that its frame's type has not, and the types it ignored."""
    kinds = tags(union)
    bad = []
    for kind, path in reads:
        if path == "type":  # the tag every frame has
            continue
        if kind in kinds and not allowed(msgspec.inspect.type_info(kinds[kind]), path.split(".")):
            bad.append(f"{kind}: reads {path!r}, which {kinds[kind].__name__} does not have")
    for kind in sorted(kinds):
        if kind not in sent:
            bad.append(f"{kind}: the test sent none (add it to the script)")
        elif not {p for k, p in reads if k == kind} - {"type"}:
            bad.append(f"{kind}: the page has no handler for it (it read only its type)")
    return bad


async def open_page(browser: Any, path: str) -> tuple[Any, list[str]]:
    page = await browser.new_page(viewport={"width": 1400, "height": 850})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    async def serve(route: Any) -> None:
        url = route.request.url.removeprefix(ORIGIN).split("?")[0]
        if url in API:  # what a page asks before its socket: the user's language, its words
            await route.fulfill(json=API[url])
            return
        for prefix, where in STATIC.items():
            if url == prefix or (prefix.endswith("/") and url.startswith(prefix)):
                file = where if where.is_file() else where / url.removeprefix(prefix)
                if file.is_file():
                    kind = {".js": "text/javascript", ".css": "text/css"}.get(file.suffix, "text/html")
                    await route.fulfill(body=file.read_bytes(), content_type=kind)
                    return
        await route.fulfill(status=404, json={"error": "not here"})

    await page.route(f"{ORIGIN}/**", serve)
    await page.add_init_script(RECORDER)
    await page.goto(f"{ORIGIN}{path}")
    await page.wait_for_function("() => (window.__sockets || []).length > 0")
    return page, errors


async def play(page: Any, frames: list[msgspec.Struct]) -> tuple[set[str], list[list[str]]]:
    for frame in frames:
        text = msgspec.json.encode(frame).decode()
        await page.evaluate("(t) => window.__sockets.at(-1).deliver(t)", text)
    await page.wait_for_timeout(300)  # the desk's 250 ms tick reads the countdowns
    reads: list[list[str]] = await page.evaluate("() => window.__reads")
    return {json.loads(msgspec.json.encode(f))["type"] for f in frames}, reads


def desk_script() -> list[msgspec.Struct]:
    def contact(status: str, cid: str = "c-1", **more: Any) -> Any:
        return sample(df.Contact, contact_id=cid, status=status, channel="voice", **more)

    return [
        sample(
            df.Welcome,
            state="WRAP_UP",
            server_time=NOW,
            contacts=[
                sample(df.DeskContact, contact_id="c-0", status="wrap_up", channel="voice"),
                sample(df.DeskContact, contact_id="chat-1", status="connected", channel="chat"),
            ],
            offers=[sample(df.Offer, contact_id="c-9", screen_pop={"identified": False})],
            audio=sample(df.AudioInfo, ice_servers=[]),
            timezone="Asia/Jerusalem",
        ),
        sample(df.State, state="AVAILABLE"),
        sample(
            df.Offer,
            offer_id="o-1",
            contact_id="c-1",
            ring_deadline=NOW + 15,
            screen_pop={"identified": False},
        ),
        sample(df.ScreenPop, contact_id="c-1", offer_id="o-1", screen_pop={"identified": False}),
        contact("connected"),
        contact("held"),
        contact("wrap_up"),
        contact("closed"),
        sample(df.ChatMessage, contact_id="chat-1", from_="customer"),
        sample(df.Typing, contact_id="chat-1"),
        sample(df.OfferWithdrawn, offer_id="o-1", contact_id="c-1", reason="timed_out"),
        sample(df.WebRtcState, state="closed"),
        sample(df.Ack, id=999, answer=df.SdpAnswer(sdp="v=0")),
        sample(ErrorFrame, id=998),
    ]


def wallboard_script() -> list[msgspec.Struct]:
    return [
        sample(wf.Snapshot, server_time=NOW, series=[]),
        sample(wf.Update, server_time=NOW, series=[]),
        sample(ErrorFrame),
    ]


PAGES: list[tuple[str, Any, Callable[[], list[msgspec.Struct]]]] = [
    ("/desk", df.DeskFrame, desk_script),
    ("/wallboard", wf.WallboardFrame, wallboard_script),
]


@pytest.mark.parametrize(("path", "union", "script"), PAGES, ids=["desk", "wallboard"])
async def test_the_page_reads_only_fields_the_server_sends(
    browser: Any, path: str, union: Any, script: Any
) -> None:
    page, errors = await open_page(browser, path)
    sent, reads = await play(page, script())
    assert reads, "the recorder saw no frame read"
    assert mismatches(union, sent, reads) == []
    assert errors == []
    await page.close()


def test_the_check_fails_on_a_planted_mismatch() -> None:
    """The comparison itself: a read of an unknown field, a read below a scalar, and a type
    read for nothing but its ``type`` are each reported; what the types have is not."""
    sent = {"contact", "typing"}
    reads = [
        ["contact", "type"],
        ["contact", "status"],
        ["contact", "wrap_up_deadline"],
        ["contact", "mood"],
        ["contact", "status.length"],
        ["typing", "type"],
    ]
    union = df.Contact | df.Typing
    assert mismatches(union, sent, reads) == [
        "contact: reads 'mood', which Contact does not have",
        "contact: reads 'status.length', which Contact does not have",
        "typing: the page has no handler for it (it read only its type)",
    ]
    welcome = msgspec.inspect.type_info(df.Welcome)
    assert allowed(welcome, ["contacts", "[]", "wrap_up_deadline"])
    assert not allowed(welcome, ["contacts", "[]", "dial_status"])
    assert allowed(welcome, ["offers", "[]", "screen_pop", "customer", "name"])  # a free-form dict
