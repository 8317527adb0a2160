"""The shift test's harness: what the agent's desk and the supervisor's wallboard show,
read from their DOM into plain records, and what the server knows, read from its own state
(the ACD engine's agents, contacts and queues, the calendars, and the interaction log) into
the same records; ``Shift.check`` compares them after a step and keeps a readable diff.

The truth a desk must show, per agent:

- ``contacts``: the agent's contacts in the engine, each "connected" (or "held" after a
  ``contact.held`` with no ``contact.retrieved`` since), and in wrap-up the contact that
  started it as "wrap_up"; each named by the customer (the caller's number or e-mail,
  else the contact id). A finished contact is not in the list.
- ``selected``: when the agent has contacts, one of them is selected and the workspace
  names it; with none, nothing is selected.
- ``state``/``pill``/``timer``: the engine's state (a not-ready pill names the reason) and
  the seconds since the agent's ``since``, within ``SLACK_S``.
- ``wrap_left``: in wrap-up, the seconds to the engine's ``wrap_up_until``.
- ``today``: the contacts the agent finished this shift, newest first (at most
  ``TODAY_MAX``: a longer list may stop there), each with its customer and disposition
  ("no disposition" without one); from the log.
  The contact of a wrap-up in progress may or may not be there yet.
- ``buttons``: Accept and Decline only with an offer; End, Transfer (and Hold, Mute on a
  call) only for a live selected contact; wrap-up's Ready only in wrap-up.

And per agent row of the wallboard: the state (and reason), the time in it, the customer
(the name the customer gave, their number or e-mail; never a raw contact id) and the contacts handled today (those it let go: ended
or passed on); per queue tile: the number
waiting, no estimated wait when nobody waits, "closed" when its calendar is closed, and the
agents by state (the engine's ``queue_snapshot``: offered counts as on contact).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

from callcenter.appkeys import LOG
from callcenter.config.hours import HoursTable
from callcenter.config.sections import HoursConfig
from callcenter.i18n.catalogue import catalogue
from callcenter.runtime.center import Center
from callcenter.runtime.keys import CENTER


def reason_words(face: str, code: str) -> str:
    """How an English page words a not-ready reason: the server's own reasons (``logged_in``,
    ``disconnected``, ...) through the catalogue, the configured ones as they are."""
    return catalogue("en").get(f"{face}.reason.{code}", code)


SLACK_S = 2  # timers may differ by this many seconds (rounding, a tick of 250 ms or 1 s)
TODAY_MAX = 20
SETTLE_S = 1.5  # how long a view may take to catch up with the server
SETTLE_AGAIN_S = 0.2  # ... for a field that already disagreed at an earlier step

DESK_JS = r"""
() => {
  const $ = (s) => document.querySelector(s);
  const text = (n) => (n ? n.textContent.trim() : null);
  const label = (li) => {
    const copy = li.cloneNode(true);
    for (const n of copy.querySelectorAll(".status, .chan, button")) n.remove();
    return copy.textContent.trim().replace(/^\d+\.\s*/, "");
  };
  const pill = $("#state-pill");
  const offerBox = $("#offer");
  const offer = offerBox && !offerBox.classList.contains("hidden") && !offerBox.hidden
    ? { who: text($("#offer-who")), channel: text($("#offer-channel")) } : null;
  const contacts = [...document.querySelectorAll("#contacts li")].filter((li) => !li.classList.contains("empty"))
    .map((li) => ({ status: text(li.querySelector(".status")) || "", label: label(li), id: li.dataset.id || null,
      selected: li.classList.contains("selected") || li.getAttribute("aria-selected") === "true" }));
  const today = [...document.querySelectorAll("#history li")].filter((li) => li.querySelector(".chan"))
    .map((li) => label(li));
  const ws = $("#workspace");
  const head = ws && !ws.classList.contains("empty-state") ? ws.querySelector(".ws-head h1") : null;
  const buttons = {};
  const scopes = [["#workspace", ws], ["#offer", offer ? offerBox : null]];
  for (const [, scope] of scopes) {
    if (!scope) continue;
    for (const b of scope.querySelectorAll("button")) {
      const name = (b.title || b.textContent).trim();
      buttons[name] = !b.disabled;
    }
  }
  const wrap = $("#wrap-left");
  return {
    online: text($("#conn")), state: [...pill.classList].filter((c) => c !== "pill").join(" "),
    pill: text(pill), timer: text($("#state-time")), offer, contacts, today,
    workspace: text(head), wrap: wrap && wrap.isConnected ? text(wrap) : null, buttons,
  };
}
"""

BOARD_JS = r"""
() => {
  const text = (n) => (n ? n.textContent.trim() : "");
  const heads = [...document.querySelectorAll("#agents thead th")].map((th) => th.textContent.trim().toLowerCase());
  const col = (name) => heads.indexOf(name);
  const agents = {};
  for (const tr of document.querySelectorAll("#agents tbody tr[data-agent]")) {
    const cell = (...names) => names.map(col).filter((i) => i >= 0).map((i) => tr.cells[i])[0];
    const st = tr.querySelector(".st");
    const contact = cell("customer", "contact") ? cell("customer", "contact").cloneNode(true) : null;
    if (contact) for (const n of contact.querySelectorAll("button, .heard-by")) n.remove();
    agents[tr.dataset.agent] = {
      state: st ? [...st.classList].filter((c) => c !== "st").join(" ") : "",
      text: text(st), time: text(cell("time")), contact: text(contact), handled: text(cell("handled")),
    };
  }
  const queues = {};
  for (const art of document.querySelectorAll("article[data-queue]")) {
    const figure = (word) => {
      for (const div of art.querySelectorAll("div")) {
        const span = div.querySelector(":scope > span");
        if (span && span.textContent.trim().toLowerCase() === word) return text(div.querySelector(":scope > b"));
      }
      return null;
    };
    queues[art.dataset.queue] = {
      classes: [...art.classList].join(" "), text: art.textContent, waiting: text(art.querySelector("b.waiting")),
      ewt: figure("est. wait"), agents: text(art.querySelector(".agents-count")),
    };
  }
  return { online: text(document.querySelector("#conn")), agents, queues };
}
"""


def status_word(shown: str) -> str:
    """A status as the desk words it ("wrap-up", "on hold") in the server's terms."""
    word = shown.strip().lower().replace("-", "_").replace(" ", "_")
    return {"on_hold": "held"}.get(word, word)


def today_item(text: str) -> tuple[str, str]:
    """(customer, disposition) of a Today line "customer · [queue ·] disposition [· time]"."""
    parts = [p.strip() for p in text.split(" · ")]
    if len(parts) > 2 and re.fullmatch(r"\d{1,2}:\d\d( [AP]M)?", parts[-1]):
        parts = parts[:-1]
    return parts[0], parts[-1] if len(parts) > 1 else ""


def clock_s(text: str | None) -> int | None:
    """Seconds of "m:ss" or "h:mm:ss"; None for anything else (a dash, empty)."""
    if not text or not re.fullmatch(r"\d+(:\d\d){1,2}", text.strip()):
        return None
    total = 0
    for part in text.strip().split(":"):
        total = total * 60 + int(part)
    return total


@dataclass
class Seen:
    """What the log told so far: who had which contact, who finished what, dispositions."""

    after: int = 0
    holder: dict[str, str] = field(default_factory=dict)  # contact -> agent connected now
    released: dict[str, int] = field(default_factory=dict)  # agent -> contacts let go (handled)
    finished: dict[str, list[str]] = field(default_factory=dict)  # agent -> contacts over, oldest first
    disposition: dict[str, str] = field(default_factory=dict)
    held: set[str] = field(default_factory=set)
    caller: dict[str, str] = field(default_factory=dict)  # contact -> caller (contact.arrived)
    kinds: list[tuple[str, str | None, dict[str, Any]]] = field(default_factory=list)

    def take(self, ev: Any) -> None:
        cid, agent, data = ev.contact_id, ev.agent_id, dict(ev.data or {})
        self.after = max(self.after, ev.seq)
        self.kinds.append((ev.type, cid, data))
        if ev.type == "contact.arrived" and cid and data.get("caller"):
            self.caller[cid] = str(data["caller"])
        elif ev.type == "contact.connected" and cid and agent:
            self.holder[cid] = agent
        elif ev.type in ("contact.ended", "contact.transferred") and cid:
            who = self.holder.pop(cid, None)
            if who is not None:
                self.released[who] = self.released.get(who, 0) + 1
                done = self.finished.setdefault(who, [])
                if cid in done:
                    done.remove(cid)
                done.append(cid)
            self.held.discard(cid)
        elif ev.type == "contact.disposition" and cid:
            self.disposition[cid] = str(data.get("code"))
        elif ev.type == "contact.held" and cid:
            self.held.add(cid)
        elif ev.type == "contact.retrieved" and cid:
            self.held.discard(cid)


@dataclass
class Mismatch:
    step: str
    where: str  # "desk alice", "wallboard row alice", "wallboard queue general"
    what: str
    shown: Any
    truth: Any

    def __str__(self) -> str:
        return f"[{self.step}] {self.where}: {self.what}: shows {self.shown!r}, server says {self.truth!r}"


class Shift:
    """The desk page of ``agent``, the wallboard page and the app; ``check(step)`` after
    every step. Mismatches are kept (``mismatches``) so one run lists every disagreement;
    ``assert_truthful()`` fails with all of them."""

    def __init__(self, app: Any, desk: Any, board: Any, agent: str, queues: list[str]) -> None:
        self.app, self.desk, self.board, self.agent, self.queues = app, desk, board, agent, queues
        self.center: Center = app[CENTER]
        self.hours = HoursTable(self.center.config.hours)
        self.seen = Seen()
        self.names: dict[str, str] = {}  # contact -> how the server names its customer
        self.aliases: dict[str, str] = {}  # a chat's given name -> that customer's name here
        self.mismatches: list[Mismatch] = []
        self.disagreed: set[tuple[str, str]] = set()
        self.steps = 0
        self.reads = 0  # reads of both pages and the server
        self.check_s = 0.0  # time spent comparing (waiting for the views to catch up included)

    # The server's truth -----------------------------------------------------------------

    async def read_log(self) -> None:
        log = self.app[LOG]
        await log.flush()
        while True:
            events = await log.read(after=self.seen.after, limit=1000)
            for ev in events:
                self.seen.take(ev)
            if len(events) < 1000:
                return

    def name_of(self, cid: str) -> str:
        """The customer as the server knows them: the caller (number or e-mail), else the
        contact id. (The shift's customers are none the CRM knows, so no CRM name is due.)"""
        if cid not in self.names:
            contact = self.center.engine.contacts.get(cid)
            caller = (contact.caller if contact is not None else None) or self.seen.caller.get(cid)
            if contact is None and caller is None:
                return cid
            self.names[cid] = caller or cid
            given = contact.attributes.get("name") if contact is not None else None
            self.aliases[given or self.names[cid]] = self.names[cid]
        return self.names[cid]

    def named(self, label: str) -> str:
        """A label as the server's name of that customer: a chat's given name counts as
        naming its customer as much as the caller's e-mail or number does."""
        return self.aliases.get(label, label)

    def desk_truth(self, agent: str) -> dict[str, Any]:
        engine, now = self.center.engine, self.center.clock.now()
        a = engine.agents.get(agent)
        if a is None:
            return {"state": "LOGGED_OUT", "contacts": [], "offer": None, "today": [], "timer": 0}
        contacts = [
            ("held" if cid in self.seen.held else "connected", self.name_of(cid), channel, cid)
            for cid, channel in a.contacts.items()
        ]
        wrap_cid = a.wrap_up_contact if a.state.value == "WRAP_UP" else None
        if wrap_cid is not None and wrap_cid not in a.contacts:
            contacts.append(("wrap_up", self.name_of(wrap_cid), self.channel_of(wrap_cid), wrap_cid))
        offers = [o for o in engine.offers.values() if o.agent_id == agent]
        offer = None
        if offers:
            c = engine.contacts.get(offers[0].contact_id)
            offer = {"contact": offers[0].contact_id, "channel": c.channel if c else None}
        done = [
            c for c in reversed(self.seen.finished.get(agent, [])) if c not in a.contacts and c != wrap_cid
        ]
        today = [(self.name_of(cid), self.seen.disposition.get(cid, "no disposition")) for cid in done]
        return {
            "state": a.state.value,
            "reason": a.reason,
            "timer": now - a.since,
            "contacts": contacts,
            "wrap_cid": wrap_cid,
            "wrap_left": (a.wrap_up_until - now) if wrap_cid is not None and a.wrap_up_until else None,
            "offer": offer,
            "today": today,
        }

    def channel_of(self, cid: str) -> str:
        contact = self.center.engine.contacts.get(cid)
        if contact is not None:
            return contact.channel
        for kind, c, data in self.seen.kinds:
            if kind == "contact.arrived" and c == cid:
                return str(data.get("channel") or "")
        return ""

    # The comparisons --------------------------------------------------------------------

    def compare_desk(
        self, agent: str, shown: dict[str, Any], truth: dict[str, Any]
    ) -> list[tuple[str, Any, Any]]:
        out: list[tuple[str, Any, Any]] = []

        def differ(what: str, dom: Any, server: Any) -> None:
            out.append((what, dom, server))

        if shown["online"] != "online":
            differ("connection", shown["online"], "online")
        if shown["state"] != truth["state"]:
            differ("status pill", shown["state"], truth["state"])
        if (
            truth["state"] == "NOT_READY"
            and truth["reason"]
            and reason_words("desk", truth["reason"]) not in (shown["pill"] or "")
        ):
            differ("status pill reason", shown["pill"], truth["reason"])
        timer = clock_s(shown["timer"])
        if timer is None or abs(timer - truth["timer"]) > SLACK_S:
            differ("status timer (s)", shown["timer"], round(truth["timer"]))
        dom_contacts = [(status_word(c["status"]), self.named(c["label"])) for c in shown["contacts"]]
        want_contacts = [(status, name) for status, name, _, _ in truth["contacts"]]
        if sorted(dom_contacts) != sorted(want_contacts):
            differ("contact list", dom_contacts, want_contacts)
        # which contact is selected: a label that is the customer's name or the contact id
        # (a wrong name is the contact list's disagreement, not the selection's)
        selected = [c["id"] or c["label"] for c in shown["contacts"] if c["selected"]]
        names = [name for _, name, _, _ in truth["contacts"]]
        by_label = {label: c for c in truth["contacts"] for label in (c[1], c[3])}
        want_sel = by_label.get(self.named(selected[0])) if len(selected) == 1 else None
        if names:
            if want_sel is None:
                differ("selected contact", selected, f"one of {names}")
            elif self.named(shown["workspace"] or "") not in (want_sel[1], want_sel[3]):
                differ("workspace names the selected contact", shown["workspace"], want_sel[1])
        elif selected or shown["workspace"]:
            differ("selected contact", selected or shown["workspace"], None)
        if truth["wrap_left"] is not None:
            left = clock_s(shown["wrap"])
            if left is None or abs(left - truth["wrap_left"]) > SLACK_S:
                differ("wrap-up countdown (s)", shown["wrap"], round(truth["wrap_left"]))
        today_dom = [(self.named(who), how) for who, how in map(today_item, shown["today"])]
        wrap_name = self.name_of(truth["wrap_cid"]) if truth["wrap_cid"] else None
        want_all = truth["today"]
        # the contact in wrap-up may already be listed first (named as it is; another
        # contact of the same customer, a voicemail called back, may be first instead)
        if (
            wrap_name is not None
            and today_dom
            and today_dom[0][0] == wrap_name
            and today_dom[: len(want_all)] != want_all[: len(today_dom)]
        ):
            today_dom = today_dom[1:]
        today_want = want_all[: len(today_dom)] if len(today_dom) >= TODAY_MAX else want_all
        if today_dom != today_want:
            differ("Today list (customer, disposition)", today_dom, today_want)
        # which buttons are enabled
        sel_status = next((status_word(c["status"]) for c in shown["contacts"] if c["selected"]), None)
        buttons = shown["buttons"]
        enabled = {
            "Accept": buttons.get("Accept (A)", False),
            "Decline": buttons.get("Decline (D)", False),
            "End": buttons.get("End (E)", False),
            "Transfer": buttons.get("Transfer", False),
            "Hold": buttons.get("Hold (H)", buttons.get("Retrieve", False)),
            "Wrap-up Ready": buttons.get("Ready (R)", False),
        }
        live = want_sel is not None and want_sel[0] in ("connected", "held")
        want = {
            "Accept": truth["offer"] is not None,
            "Decline": truth["offer"] is not None,
            "End": live,
            "Transfer": live,
            # a chat or a voicemail (a message) has no line to hold
            "Hold": live and want_sel is not None and want_sel[2] not in ("chat", "voicemail"),
            "Wrap-up Ready": want_sel is not None and want_sel[0] == "wrap_up",
        }
        if enabled != want:
            differ(
                f"enabled buttons (selected shows {sel_status!r})",
                sorted(k for k, v in enabled.items() if v),
                sorted(k for k, v in want.items() if v),
            )
        return out

    def compare_board(self, shown: dict[str, Any]) -> list[tuple[str, str, Any, Any]]:
        engine, now = self.center.engine, self.center.clock.now()
        out: list[tuple[str, str, Any, Any]] = []
        if shown["online"] != "live":
            out.append(("wallboard", "connection", shown["online"], "live"))
        for agent_id, a in engine.agents.items():
            where = f"wallboard row {agent_id}"
            row = shown["agents"].get(agent_id)
            if row is None:
                out.append((where, "row", None, a.state.value))
                continue
            if row["state"] != a.state.value:
                out.append((where, "state", row["state"], a.state.value))
            if (
                a.state.value == "NOT_READY"
                and a.reason
                and reason_words("wallboard", a.reason) not in row["text"]
            ):
                out.append((where, "reason", row["text"], a.reason))
            t = clock_s(row["time"])
            if t is None or abs(t - (now - a.since)) > SLACK_S:
                out.append((where, "time in state (s)", row["time"], round(now - a.since)))
            names = [self.name_of(cid) for cid in a.contacts]
            if names:
                if self.named(row["contact"]) not in names:
                    out.append((where, "customer", row["contact"], f"names one of {names}"))
            elif row["contact"]:
                out.append((where, "customer", row["contact"], ""))
            handled = self.seen.released.get(agent_id, 0)
            if row["handled"] != str(handled):
                out.append((where, "handled today", row["handled"], str(handled)))
        for name in self.queues:
            where = f"wallboard queue {name}"
            tile = shown["queues"].get(name)
            qs = engine.queues[name]
            if tile is None:
                out.append((where, "tile", None, name))
                continue
            waiting = len(qs.waiting)
            if tile["waiting"] != str(waiting):
                out.append((where, "waiting", tile["waiting"], str(waiting)))
            if waiting == 0 and clock_s(tile["ewt"]) is not None:
                out.append((where, "est. wait with nobody waiting", tile["ewt"], "none shown"))
            closed = not self.hours.is_open(qs.cfg.hours, now)
            marked = "closed" in tile["classes"].split() or "closed" in tile["text"].lower()
            if marked != closed:
                out.append((where, "marked closed", marked, closed))
            snap = engine.queue_snapshot(name, now)
            c = snap.agents
            agents = (
                f"{c['available']} available · {c['on_contact'] + c['offered']} on contact · "
                f"{c['wrap_up']} wrap-up · {c['not_ready']} not ready"
            )
            if tile["agents"] != agents:
                out.append((where, "agents", tile["agents"], agents))
        return out

    async def views(self) -> list[tuple[str, str, Any, Any]]:
        desk, board = await asyncio.gather(self.desk.evaluate(DESK_JS), self.board.evaluate(BOARD_JS))
        await self.read_log()
        diffs = [
            (f"desk {self.agent}", w, s, t)
            for w, s, t in self.compare_desk(self.agent, desk, self.desk_truth(self.agent))
        ]
        return diffs + self.compare_board(board)

    async def check(self, step: str) -> None:
        """Compare the desk and the wallboard with the server after ``step``: wait (bounded)
        for them to agree, then keep what still differs."""
        self.steps += 1
        loop = asyncio.get_running_loop()
        start = loop.time()
        while True:
            diffs = await self.views()
            self.reads += 1
            keys = {(where, what) for where, what, _, _ in diffs}
            budget = SETTLE_AGAIN_S if keys and keys <= self.disagreed else SETTLE_S
            if not diffs or loop.time() - start > budget:
                break
            await asyncio.sleep(0.05)
        self.check_s += loop.time() - start
        for where, what, shown, truth in diffs:
            self.disagreed.add((where, what))
            self.mismatches.append(Mismatch(f"{self.steps:02d} {step}", where, what, shown, truth))

    async def open_calendar(self, name: str) -> None:
        """The calendar ``name`` opens: the test's stand-in for its opening minute coming
        round (the center's clock is the wall clock; a test does not wait a whole minute).
        Whatever reads the center's calendars sees it always open from now on (the engine's
        table, the wallboard, which reads the config's, and this harness), and the engine's
        minute tick that lets held voicemails into routing (``Timers._hours_tick``) runs now,
        as a timer through the engine's driver, instead of at the next whole minute."""
        from callcenter.runtime import driver

        calendars = self.center.config.hours
        calendars[name] = HoursConfig(timezone=calendars[name].timezone, always_open=True)
        self.hours = HoursTable(calendars)
        engine, acd = self.center.engine, self.center.acd
        engine._hours = HoursTable(calendars)
        engine._arm("hours", "", self.center.clock.now(), 0)  # due now: the minute has come
        acd._inbox.put_nowait((driver._TIMER, None))  # what the driver's timer posts when due
        await acd.idle()

    def disagree(self, step: str, where: str, what: str, shown: Any, truth: Any) -> None:
        """Keep a disagreement the test found itself (the server's own behaviour)."""
        self.mismatches.append(Mismatch(f"{self.steps:02d} {step}", where, what, shown, truth))

    def report(self) -> str:
        """Every disagreement, grouped by what disagreed, with the first step it happened at."""
        groups: dict[tuple[str, str], list[Mismatch]] = {}
        for mm in self.mismatches:
            groups.setdefault((mm.where, mm.what), []).append(mm)
        lines = [f"{len(self.mismatches)} disagreements in {self.steps} checked steps:"]
        for (where, what), mms in groups.items():
            first = mms[0]
            lines.append(f"- {where}: {what} ({len(mms)} steps; first at {first.step}):")
            lines.append(f"    shows {first.shown!r}")
            lines.append(f"    server {first.truth!r}")
        return "\n".join(lines)

    def assert_truthful(self) -> None:
        assert not self.mismatches, self.report()
