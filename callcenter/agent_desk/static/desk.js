// The agent desk: one WebSocket (desk protocol v1, docs/desk-protocol.md), plain DOM.
// The server's state is the truth: the desk shows what its frames say (a contact's status,
// mute, disposition, wrap-up deadline) and never guesses after a request. Frames are read
// field by field where they arrive (contactFrom, historyFrom), so the schema test
// (tests/browser/test_desk_schema.py) sees every field the desk reads.
// Its words are the message catalogues' "desk.*" keys, in the agent's own language
// (user.language of /api/v1/auth/me; docs/i18n.md). What the server sends of people and
// the center (names, numbers, queues, dispositions, configured reasons, chat text) is shown
// as written, in elements marked data-user-content.
import { customerName, notePop, popOf, showPop } from "./screenpop.js";
import * as deskAudio from "./audio.js";
import { dateTime, render as say, setup, t } from "/static/i18n/i18n.js";
import { voicemailPanel } from "./voicemail.js";
const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...kids) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined) node.append(kid);
  return node;
};
const fmtClock = (s) => { s = Math.max(0, Math.floor(s)); return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`; };

// The desk's words: catalogue keys, written out whole (docs/i18n.md); codes map to keys
// through these tables, and a code without a key is shown as the server wrote it.
const CHANNEL = { voice: "desk.channel.voice", callback: "desk.channel.callback", chat: "desk.channel.chat",
  voicemail: "desk.channel.voicemail" };
const OFFER_CHANNEL = { voice: "desk.offer.channel.voice", callback: "desk.offer.channel.callback", chat: "desk.offer.channel.chat",
  voicemail: "desk.offer.channel.voicemail" };
const STATUS = { connected: "desk.status.connected", held: "desk.status.held", dialing: "desk.status.dialing",
  dial_failed: "desk.status.dial_failed", wrap_up: "desk.status.wrap_up", closed: "desk.status.closed" };
const STATE = { LOGGED_OUT: "desk.state.logged_out", NOT_READY: "desk.state.not_ready", AVAILABLE: "desk.state.available",
  OFFERED: "desk.state.offered", ON_CONTACT: "desk.state.on_contact", WRAP_UP: "desk.state.wrap_up" };
const HINT = { AVAILABLE: "desk.hint.available", OFFERED: "desk.hint.offered", WRAP_UP: "desk.hint.wrap_up" };
// The server's own not-ready reasons; the center's configured ones (lunch, ...) are its words.
const REASON = { disconnected: "desk.reason.disconnected", missed: "desk.reason.missed", declined: "desk.reason.declined",
  logged_in: "desk.reason.logged_in" };
const WRAP_REASON = { transferred: "desk.wrap_reason.transferred", completed: "desk.wrap_reason.completed",
  abandoned: "desk.wrap_reason.abandoned", dial_failed: "desk.wrap_reason.dial_failed" };
const TICKET_KIND = { "follow-up": "desk.ticket.kind.follow_up", complaint: "desk.ticket.kind.complaint", request: "desk.ticket.kind.request" };
const word = (table, code) => (table[code] ? t(table[code]) : code || "");
const channelWord = (channel) => word(CHANNEL, channel);
const statusWord = (status) => word(STATUS, status);
const data = (tag, text, attrs = {}) => el(tag, { ...attrs, "data-user-content": true }, text ?? ""); // somebody's words

const desk = {
  agent: null, state: "LOGGED_OUT", reason: null, since: Date.now() / 1000, skew: 0, timezone: undefined,
  offers: new Map(), contacts: new Map(), selected: null, history: [], graceS: 30,
  reasons: [], dispositions: [], queues: [], agents: [], typing: new Map(), announced: new Set(),
};

// --- connection -----------------------------------------------------------------
class DeskSocket {
  constructor(onFrame, onStatus) { this.onFrame = onFrame; this.onStatus = onStatus; this.next = 1; this.pending = new Map(); this.backoff = 500; }
  connect() {
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/desk`;
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => { ws.send(JSON.stringify({ type: "hello", protocol: 1 })); this.backoff = 500; };
    ws.onmessage = (ev) => this.receive(JSON.parse(ev.data));
    ws.onclose = (ev) => {
      this.onStatus(false);
      for (const { reject } of this.pending.values()) reject(Object.assign(new Error("connection lost"), { code: "connection_lost" }));
      this.pending.clear();
      if (ev.code === 4401 || ev.code === 4403) { location.href = "/login?next=/desk"; return; }
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 10000);
    };
  }
  receive(frame) {
    if ((frame.type === "ack" || frame.type === "error") && this.pending.has(frame.id)) {
      const { resolve, reject } = this.pending.get(frame.id);
      this.pending.delete(frame.id);
      frame.type === "ack" ? resolve(frame) : reject(Object.assign(new Error(frame.message), { code: frame.code, field: frame.field }));
      return;
    }
    if (frame.type === "welcome") this.onStatus(true);
    this.onFrame(frame);
  }
  request(type, fields = {}) {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) { reject(Object.assign(new Error("not connected"), { code: "not_connected" })); return; }
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ type, id, ...fields }));
    });
  }
}

const socket = new DeskSocket(onFrame, (up) => { say($("conn"), up ? "desk.conn.online" : "desk.conn.offline"); $("conn").classList.toggle("off", !up); });

async function act(type, fields) {
  try { return await socket.request(type, fields); }
  catch (err) { toastError(err); return null; }
}

// --- server frames -------------------------------------------------------------------
// A contact as the desk keeps it: the fields a contact frame or welcome's contacts carry.
function contactFrom(f, old = {}) {
  const pick = (key) => (f[key] !== undefined ? f[key] : old[key]);
  return {
    contact_id: f.contact_id, status: f.status, channel: pick("channel"), queue: pick("queue"), caller: pick("caller"),
    reason: pick("reason"), wrap_up_deadline: pick("wrap_up_deadline"), muted: pick("muted"), disposition: pick("disposition"),
    number: pick("number"), dial: pick("dial"), dial_status: pick("dial_status"), dial_reason: pick("dial_reason"),
    seconds: pick("seconds"), recording_url: pick("recording_url"), transcript: old.transcript || [],
  };
}
// A contact as welcome restates it (its own fields: no dial details, the status says it).
const restated = (c) => ({ contact_id: c.contact_id, status: c.status, channel: c.channel, queue: c.queue, caller: c.caller,
  reason: c.reason, wrap_up_deadline: c.wrap_up_deadline, muted: c.muted, disposition: c.disposition, number: c.number,
  seconds: c.seconds, recording_url: c.recording_url, transcript: c.transcript.map(lineFrom) });
const lineFrom = (m) => ({ from: m.from, text: m.text, at: m.at });
const historyFrom = (h) => ({ contact_id: h.contact_id, channel: h.channel, queue: h.queue, caller: h.caller,
  customer: h.customer, disposition: h.disposition, ended_at: h.ended_at });

const ON = {
  welcome(f, now) {
    desk.agent = { username: f.agent.username, name: f.agent.name };
    desk.reasons = f.reasons; desk.dispositions = f.dispositions; desk.queues = f.queues; desk.agents = f.agents;
    desk.skew = f.server_time - now; desk.graceS = f.reconnect_grace_s; desk.timezone = f.timezone;
    setState(f);
    desk.offers = new Map(f.offers.map((o) => [o.offer_id, o]));
    desk.contacts = new Map(f.contacts.map((c) => [c.contact_id, restated(c)]));
    desk.history = f.history.map(historyFrom);
    if (f.wrap_up_deadline) for (const c of desk.contacts.values()) if (c.status === "wrap_up") c.wrap_up_deadline ??= f.wrap_up_deadline;
    $("away").classList.toggle("hidden", !(f.state === "NOT_READY" && f.reason === "disconnected"));
    say($("away"), "desk.away", { seconds: desk.graceS >= 10 ? Math.round(desk.graceS) : desk.graceS });
    keepSelection();
    const live = [...desk.contacts.values()].find((c) => c.channel !== "chat" && c.status !== "wrap_up");
    deskAudio.setMuted(!!live?.muted);
    deskAudio.onWelcome(f, socket);
  },
  state(f) {
    setState(f);
    if (f.state !== "NOT_READY") $("away").classList.add("hidden");
  },
  offer(f) { desk.offers.set(f.offer_id, f); },
  offer_withdrawn(f) {
    desk.offers.delete(f.offer_id);
    toastSay(f.reason === "timed_out" ? "desk.offer.missed" : "desk.offer.withdrawn");
  },
  screen_pop() {}, // the card is kept by notePop (screenpop.js), shown by renderCard
  contact(f) {
    const c = contactFrom(f, desk.contacts.get(f.contact_id));
    for (const [id, o] of desk.offers) if (o.contact_id === f.contact_id) desk.offers.delete(id); // answered
    if (f.status === "closed") {
      desk.contacts.delete(f.contact_id);
      desk.history = [historyFrom({ ...c, customer: cardName(c.contact_id), ended_at: f.ended_at }),
        ...desk.history.filter((h) => h.contact_id !== f.contact_id)];
    } else desk.contacts.set(f.contact_id, c);
    if (f.status === "connected" && !desk.contacts.get(desk.selected)?.status?.match(/connected|held/)) desk.selected = f.contact_id;
    if (c.channel !== "chat" && c.muted !== undefined && f.status !== "closed") deskAudio.setMuted(!!c.muted);
    keepSelection();
  },
  chat_message(f) {
    const c = desk.contacts.get(f.contact_id);
    if (c) c.transcript.push(lineFrom(f));
    desk.typing.delete(f.contact_id);
  },
  typing(f) {
    desk.typing.set(f.contact_id, Date.now() + 4000);
    setTimeout(render, 4100);
  },
  webrtc_state(f) { deskAudio.onServerState(f); },
  ack() {}, // answers without a waiting request (a request from before a reconnect)
  error(f) { toastError(f); },
};

function onFrame(f) {
  notePop(f); // the customer card (screenpop.js)
  const handle = ON[f.type];
  if (handle) handle(f, Date.now() / 1000);
  render();
}

function keepSelection() {
  if (!desk.contacts.has(desk.selected)) desk.selected = desk.contacts.keys().next().value ?? null;
}

function setState(f) {
  // A second contact taken while on a contact restates ON_CONTACT: the agent's time on
  // contacts goes on rather than starting again at 0:00.
  const still = desk.state === "ON_CONTACT" && f.state === "ON_CONTACT";
  desk.state = f.state; desk.reason = f.reason ?? null;
  if (f.since && !still) desk.since = f.since;
}

// --- rendering ----------------------------------------------------------------------------
function render() {
  $("agent-name").textContent = desk.agent?.name || desk.agent?.username || "";
  const pill = $("state-pill");
  pill.className = `pill ${desk.state}`;
  const words = JSON.stringify([desk.state, desk.reason]);
  if (pill.dataset.shows !== words) { // role=status: said once per change
    pill.dataset.shows = words;
    if (desk.state === "NOT_READY" && desk.reason) say(pill, "desk.state.not_ready_reason", { reason: word(REASON, desk.reason) });
    else if (STATE[desk.state]) say(pill, STATE[desk.state]);
    else pill.textContent = desk.state.replace("_", " ").toLowerCase();
  }
  const reason = $("reason");
  if (reason.options.length !== desk.reasons.length) reason.replaceChildren(...desk.reasons.map((r) => data("option", r, { value: r })));
  renderOffer(); renderContacts(); renderWorkspace(); renderCard(); renderHistory();
}

// The customer's name on their card (as "Today" names them, from the log), or null.
function cardName(contactId) {
  const cust = popOf(contactId)?.customer;
  return cust?.identified ? [cust.first_name, cust.name].filter(Boolean).join(" ") : null;
}

function who(contact) {
  return customerName(contact.contact_id) || contact.caller || t("desk.unidentified");
}
// Who it is, as an element: the customer's name or number as written, else "Unidentified caller".
function whoNode(contact, tag = "span", attrs = {}) {
  const known = customerName(contact.contact_id) || contact.caller;
  return known ? data(tag, known, attrs) : el(tag, attrs, t("desk.unidentified"));
}

function renderOffer() {
  const offer = firstOffer();
  $("offer").classList.toggle("hidden", !offer);
  if (!offer) return;
  const pop = popOf(offer.contact_id) || {};
  const name = customerName(offer.contact_id);
  const shown = name ? `${name} · ${offer.caller || ""}` : offer.caller;
  $("offer-who").textContent = shown || t("desk.unidentified");
  $("offer-who").toggleAttribute("data-user-content", !!shown);
  $("offer-channel").textContent = word(OFFER_CHANNEL, offer.channel);
  $("offer-queue").textContent = `${offer.queue}${pop.customer?.tier ? " · " + pop.customer.tier : ""}`;
  if (offer.trace) say($("offer-trace"), "desk.offer.why_you", { trace: offer.trace });
  else $("offer-trace").replaceChildren();
  $("offer-countdown").textContent = fmtClock(offer.ring_deadline - (Date.now() / 1000 + desk.skew));
  if (!desk.announced.has(offer.offer_id)) { // once per offer, not each second of its countdown
    desk.announced.add(offer.offer_id);
    say($("announce"), "desk.offer.announce", { channel: word(OFFER_CHANNEL, offer.channel), who: who(offer), queue: offer.queue || "",
      accept: "A", decline: "D" });
  }
}

// The contact list is a listbox: Tab reaches it once, the arrows move, Enter or Space picks.
function renderContacts() {
  const list = $("contacts");
  const hadFocus = list.contains(document.activeElement);
  const labels = [];
  const items = [...desk.contacts.values()].map((c, i) => {
    const status = statusWord(c.status);
    const chosen = c.contact_id === desk.selected;
    // its name ("Noa Levi, call, connected") from a hidden sentence, so the name stays data
    const label = say(el("span", { id: `contact-label-${i}` }), "desk.contact_label",
      { who: who(c), channel: channelWord(c.channel), status });
    labels.push(label);
    return el("li", {
      role: "option", "data-id": c.contact_id, class: chosen ? "selected" : "", "aria-selected": chosen ? "true" : "false",
      tabindex: chosen ? "0" : "-1", "aria-labelledby": label.id,
      onclick: () => select(c.contact_id, true),
    }, el("span", { class: "status" }, status), `${i + 1}. `, channelTag(c.channel), whoNode(c));
  });
  $("contact-labels").replaceChildren(...labels);
  list.replaceChildren(...(items.length ? items : [el("li", { class: "empty muted", role: "presentation" }, t("desk.no_contacts"))]));
  if (hadFocus) (list.querySelector('[tabindex="0"]') || $("btn-ready")).focus();
}

function select(id, focus = false) {
  desk.selected = id; render();
  if (focus) $("contacts").querySelector(`[data-id="${CSS.escape(id)}"]`)?.focus();
}

function onListKey(ev) {
  const ids = [...desk.contacts.keys()];
  if (!ids.length) return;
  const at = Math.max(0, ids.indexOf(desk.selected));
  const to = { ArrowDown: Math.min(ids.length - 1, at + 1), ArrowUp: Math.max(0, at - 1), Home: 0, End: ids.length - 1 }[ev.key];
  if (to !== undefined) { ev.preventDefault(); select(ids[to], true); }
  else if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); $("workspace").querySelector("button:not([disabled]), textarea")?.focus(); }
}

// What each status allows: the buttons follow the server's status, never a guess.
const ALLOWED = {
  connected: ["mute", "hold", "transfer", "end"], held: ["mute", "hold", "transfer", "end"], dialing: ["end"],
};

let shown = ""; // what the workspace was drawn from: redrawn only when that changes
function renderWorkspace() {
  const ws = $("workspace");
  const c = desk.contacts.get(desk.selected);
  const typing = c && (desk.typing.get(c.contact_id) || 0) > Date.now();
  const drawn = JSON.stringify([c, desk.state, desk.queues, desk.agents, desk.dispositions, typing, customerName(c?.contact_id)]);
  if (drawn === shown) return;
  shown = drawn;
  ws.classList.toggle("empty-state", !c);
  if (!c) {
    drawnFor = null;
    ws.replaceChildren(el("p", { class: "muted" }, t(HINT[desk.state] || "desk.hint.go_ready")));
    return;
  }
  const kept = keepInputs(ws, c.contact_id);
  const parts = [el("div", { class: "ws-head" }, whoNode(c, "h1", { id: "ws-title" }),
    el("span", { class: "muted", id: "ws-status" }, channelWord(c.channel), " · ", data("span", c.queue || ""), " · ", statusWord(c.status))),
  controls(c)];
  if (c.status === "wrap_up") parts.push(wrapUpBox(c));
  parts.push(...(PANELS[c.channel] || PANELS.voice)(c, typing), ...afterContact(c));
  ws.replaceChildren(...parts);
  ws.setAttribute("aria-labelledby", "ws-title");
  kept();
}

function controls(c) {
  const can = new Set(ALLOWED[c.status] || []);
  const held = c.status === "held";
  const voice = c.channel !== "chat" && c.channel !== "voicemail"; // a message has no line to mute or hold
  return el("div", { class: "controls", role: "group", "aria-label": t("desk.controls_label") },
    voice ? el("button", { id: "btn-mute", class: `btn ${c.muted ? "on" : ""}`, title: t("desk.mute_title"), "aria-pressed": c.muted ? "true" : "false", disabled: !can.has("mute"), onclick: () => toggleMute(c) }, t(c.muted ? "desk.unmute" : "desk.mute")) : null,
    voice ? el("button", { id: "btn-hold", class: `btn ${held ? "on" : ""}`, title: t("desk.hold_title"), "aria-pressed": held ? "true" : "false", disabled: !can.has("hold"), onclick: () => toggleHold(c) }, t(held ? "desk.retrieve" : "desk.hold")) : null,
    el("select", { id: "transfer-to", "aria-label": t("desk.transfer_to"), disabled: !can.has("transfer") },
      el("option", { value: "" }, t("desk.transfer_to")),
      // plain text, not render()'s <bdi>: an option's name is its own text nodes only
      ...desk.queues.map((q) => el("option", { value: `queue:${q}`, "data-user-content": "" }, t("desk.transfer.queue", { queue: q }))),
      ...desk.agents.filter((a) => a !== desk.agent?.username).map((a) => el("option", { value: `agent:${a}`, "data-user-content": "" }, t("desk.transfer.agent", { agent: a })))),
    el("button", { id: "btn-transfer", class: "btn", disabled: !can.has("transfer"), onclick: () => transfer(c) }, t("desk.transfer.button")),
    el("button", { id: "btn-end", class: "btn bad", title: t("desk.end_title"), disabled: !can.has("end"), onclick: () => endContact(c) }, t("desk.end")));
}

function wrapUpBox(c) {
  const left = c.wrap_up_deadline ? c.wrap_up_deadline - (Date.now() / 1000 + desk.skew) : 0;
  return el("div", { class: "wrapup", role: "group", "aria-label": t("desk.wrap_up") },
    el("b", {}, t("desk.wrap_up")), c.reason ? el("span", { class: "muted" }, word(WRAP_REASON, c.reason)) : null,
    el("span", { id: "wrap-left", role: "timer", "aria-label": t("desk.wrap_left") }, fmtClock(left)),
    el("button", { id: "btn-wrap-ready", class: "btn good", title: t("desk.ready_title"), "aria-label": t("desk.wrap_ready_label"), onclick: () => act("wrap_up_done", { contact_id: c.contact_id }) }, t("desk.ready")));
}

// One panel per channel: what the centre of the desk shows for a contact of that channel.
const PANELS = {
  voice: () => [],
  callback: (c) => (c.number ? [el("p", { class: "muted" }, STATUS[c.status] ? t(STATUS[c.status]) : "", " ", data("span", c.number))] : []),
  chat: chatPanel,
  voicemail: (c) => [voicemailPanel(c, act)], // voicemail.js: the message's player and Call back
};

function chatPanel(c, typing) {
  const transcript = el("div", { class: "transcript", role: "log", "aria-label": t("desk.chat_label"), "aria-live": "polite" },
    ...c.transcript.map((m) => data("div", m.text, { class: `msg ${m.from}` })));
  const open = ALLOWED[c.status]?.includes("end");
  const input = el("input", { id: "chat-reply", placeholder: t("desk.reply"), "aria-label": t("desk.reply_label"), disabled: !open });
  input.addEventListener("keydown", async (ev) => {
    if (ev.key === "Enter" && input.value.trim()) {
      const text = input.value; input.value = "";
      if (await act("chat_send", { contact_id: c.contact_id, text })) { c.transcript.push({ from: "agent", text }); shown = ""; render(); $("chat-reply")?.focus(); }
    }
  });
  queueMicrotask(() => { transcript.scrollTop = transcript.scrollHeight; });
  return [transcript, typing ? el("p", { class: "muted typing" }, t("desk.typing")) : null, input].filter(Boolean);
}

function afterContact(c) {
  const note = el("textarea", { id: "note", placeholder: t("desk.note_placeholder"), "aria-label": t("desk.note_label") });
  const disp = el("select", { id: "disposition", "aria-label": t("desk.disposition_label") }, el("option", { value: "" }, t("desk.disposition_pick")),
    ...desk.dispositions.map((d) => data("option", d, { value: d, selected: c.disposition === d })));
  const ticketKind = el("select", { id: "ticket-kind", "aria-label": t("desk.ticket.kind_label") },
    ...Object.entries(TICKET_KIND).map(([k, key]) => el("option", { value: k }, t(key))));
  const ticketSubject = el("input", { id: "ticket-subject", placeholder: t("desk.ticket.subject"), "aria-label": t("desk.ticket.subject") });
  return [note, el("div", { class: "row" },
    el("button", { id: "btn-note", class: "btn", onclick: async () => { if (note.value.trim() && await act("note", { contact_id: c.contact_id, text: note.value })) { toastSay("desk.note_saved"); note.value = ""; } } }, t("desk.save_note")),
    disp, el("button", { id: "btn-disposition", class: "btn", "aria-label": t("desk.set_disposition_label"), onclick: async () => { if (disp.value && await act("disposition", { contact_id: c.contact_id, code: disp.value })) toastSay("desk.disposition_set"); } }, t("desk.set_disposition"))),
  el("div", { class: "row" }, ticketKind, ticketSubject,
    el("button", { id: "btn-ticket", class: "btn", onclick: async () => { if (ticketSubject.value.trim() && await act("create_ticket", { contact_id: c.contact_id, kind: ticketKind.value, subject: ticketSubject.value })) { toastSay("desk.ticket.created"); ticketSubject.value = ""; } } }, t("desk.ticket.create")))];
}

// A redraw of the same contact keeps what the agent was typing and where the focus was.
let drawnFor = null;
function keepInputs(root, contactId) {
  const same = drawnFor === contactId;
  drawnFor = contactId;
  const values = same ? [...root.querySelectorAll("textarea[id], input[id], select[id]")].map((n) => [n.id, n.value]) : [];
  const focusId = root.contains(document.activeElement) ? document.activeElement.id : null;
  return () => {
    for (const [id, value] of values) { const n = $(id); if (n && value) n.value = value; }
    if (focusId === null) return;
    const again = $(focusId);
    (again && !again.disabled ? again : $("btn-wrap-ready") || root.querySelector("button:not([disabled])"))?.focus();
  };
}

function renderCard() {
  // a card fetched later redraws what shows the name, never the workspace (its inputs)
  showPop($("card"), desk.contacts.get(desk.selected) || firstOffer(),
    () => { renderOffer(); renderContacts(); renderCard(); renderHistory(); });
}

function renderHistory() {
  const at = (when) => dateTime(when, { hour: "2-digit", minute: "2-digit", timeZone: desk.timezone });
  const items = desk.history.slice(0, 50).map((h) => el("li", {}, channelTag(h.channel),
    data("span", h.customer || cardName(h.contact_id) || h.caller || h.contact_id), " · ", data("span", h.queue || ""), " · ",
    h.disposition ? data("span", h.disposition) : t("desk.no_disposition"),
    el("time", { class: "muted", datetime: new Date(h.ended_at * 1000).toISOString() }, ` · ${at(h.ended_at)}`)));
  $("history").replaceChildren(...(items.length ? items : [el("li", { class: "muted" }, t("desk.none_today"))]));
}

// A text tag rather than an emoji: it reads the same on every machine, fonts or not.
function channelTag(channel) {
  return el("span", { class: `chan ${channel === "chat" ? "chat" : "voice"}` }, channelWord(channel));
}

// --- actions ---------------------------------------------------------------------------------
// Each sends a request; what it changes comes back as the server's frames.
function toggleHold(c) { if (ALLOWED[c.status]?.includes("hold")) act("hold", { contact_id: c.contact_id, on: c.status !== "held" }); }
function toggleMute(c) { if (ALLOWED[c.status]?.includes("mute")) act("mute", { contact_id: c.contact_id, on: !c.muted }); }
function endContact(c) { if (ALLOWED[c.status]?.includes("end")) act("end", { contact_id: c.contact_id }); }
async function transfer(c) {
  const target = $("transfer-to").value;
  if (!target) { toastSay("desk.transfer.pick_target", null, true); return; }
  const [kind, name] = target.split(":");
  if (await act("transfer", { contact_id: c.contact_id, [kind === "queue" ? "to_queue" : "to_agent"]: name })) toastSay("desk.transfer.done", { name });
}
function firstOffer() { return desk.offers.values().next().value; }

// A toast in the desk's words (toastSay: a key). A refusal (an error frame, or a request
// that could not be sent) says the sentence for its code; only a code the desk does not
// know is shown in the server's English words.
const ERROR = {
  bad_json: "desk.error.bad_json", bad_frame: "desk.error.bad_frame", frame_too_large: "desk.error.frame_too_large",
  too_deep: "desk.error.too_deep", too_long: "desk.error.too_long", bad_number: "desk.error.bad_number",
  rate_limited: "desk.error.rate_limited", unknown_type: "desk.error.unknown_type", bad_field: "desk.error.bad_field",
  hello_first: "desk.error.hello_first", protocol_version: "desk.error.protocol_version", forbidden: "desk.error.forbidden",
  refused: "desk.error.refused", not_yours: "desk.error.forbidden", contact_ended: "desk.error.contact_ended",
  not_in_wrap_up: "desk.error.not_in_wrap_up", not_a_chat: "desk.error.not_a_chat",
  not_a_voicemail: "desk.error.not_a_voicemail", no_number: "desk.error.no_number", no_audio: "desk.error.no_audio",
  illegal_transition: "desk.error.illegal_transition", unknown_offer: "desk.error.unknown_offer",
  unknown_contact: "desk.error.unknown_contact", unknown_agent: "desk.error.unknown_agent",
  unknown_queue: "desk.error.unknown_queue", unknown_skill: "desk.error.unknown_skill",
  duplicate_contact: "desk.error.duplicate_contact", duplicate_login: "desk.error.duplicate_login",
  bad_input: "desk.error.bad_input", acd_error: "desk.error.acd_error", internal_error: "desk.error.internal_error",
  cluster_unavailable: "desk.error.cluster_unavailable", stale_fencing_token: "desk.error.cluster_unavailable",
  log_backlogged: "desk.error.log_backlogged", connection_lost: "desk.error.connection_lost",
  not_connected: "desk.error.not_connected",
};
// The codes that name the field at fault.
const ERROR_FIELD = { bad_field: "desk.error.bad_field_named", too_long: "desk.error.too_long_named",
  bad_number: "desk.error.bad_number_named" };
function toastError(err) {
  const key = (err.field && ERROR_FIELD[err.code]) || ERROR[err.code];
  if (key) { toastSay(key, err.field ? { field: err.field } : null, true); return; }
  toast(err.message || String(err), true);
}
function toast(text, error = false) { $("toast").textContent = text; showToast(error); }
function toastSay(key, params = null, error = false) { say($("toast"), key, params); showToast(error); }
function showToast(error) {
  const box = $("toast"); box.classList.toggle("error", error); box.classList.add("show");
  clearTimeout(toast.timer); toast.timer = setTimeout(() => box.classList.remove("show"), 3000);
}

function tick() {
  const now = Date.now() / 1000 + desk.skew;
  $("state-time").textContent = fmtClock(now - desk.since);
  const offer = firstOffer();
  if (offer) $("offer-countdown").textContent = fmtClock(offer.ring_deadline - now);
  const c = desk.contacts.get(desk.selected);
  if (c?.status === "wrap_up" && $("wrap-left")) $("wrap-left").textContent = fmtClock((c.wrap_up_deadline || now) - now);
}

function wire() {
  $("btn-ready").onclick = () => act("set_state", { state: "ready" });
  $("btn-not-ready").onclick = () => act("set_state", { state: "not_ready", reason: $("reason").value });
  $("btn-accept").onclick = () => { const o = firstOffer(); if (o) act("accept", { offer_id: o.offer_id }); };
  $("btn-decline").onclick = () => { const o = firstOffer(); if (o) act("decline", { offer_id: o.offer_id }); };
  $("btn-help").onclick = () => $("help").showModal();
  $("contacts").addEventListener("keydown", onListKey);
  $("logout").onclick = async (ev) => {
    ev.preventDefault();
    const me = await fetch("/api/v1/auth/me").then((r) => (r.ok ? r.json() : {}));
    await fetch("/api/v1/auth/logout", { method: "POST", headers: { "X-CSRF-Token": me.csrf_token || "" } });
    location.href = "/login";
  };
  document.addEventListener("keydown", (ev) => {
    if (ev.target.matches("input, textarea, select") || ev.ctrlKey || ev.metaKey || ev.altKey || $("help").open) return;
    const c = desk.contacts.get(desk.selected);
    const key = ev.key.toLowerCase();
    if (key === "a") $("btn-accept").click();
    else if (key === "d") $("btn-decline").click();
    else if (key === "r") { if (c?.status === "wrap_up") act("wrap_up_done", { contact_id: c.contact_id }); else $("btn-ready").click(); }
    else if (key === "h" && c) toggleHold(c);
    else if (key === "m" && c) toggleMute(c);
    else if (key === "e" && c) endContact(c);
    else if (key === "n") { const note = $("note"); if (note) { ev.preventDefault(); note.focus(); } }
    else if (key === "?") $("help").showModal();
    else if (/^[1-9]$/.test(key)) { const ids = [...desk.contacts.keys()]; if (ids[key - 1]) select(ids[key - 1], true); }
  });
}

// The agent's language first (the words of everything drawn after), then the socket.
async function language() {
  let chosen = null;
  try {
    const me = await fetch("/api/v1/auth/me").then((r) => (r.ok ? r.json() : {}));
    chosen = me.user?.language ?? null;
  } catch { /* English */ }
  try { await setup({ language: chosen, tags: [] }); } catch (err) { console.warn("desk: no catalogue", err); }
}

wire();
window.desk = desk; // for tests and the curious
await language();
render();
socket.connect();
setInterval(tick, 250);
