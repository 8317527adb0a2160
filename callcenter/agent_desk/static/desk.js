// The agent desk: one WebSocket (desk protocol v1, docs/desk-protocol.md), plain DOM.
import { customerName, notePop, popOf, showPop } from "./screenpop.js";
import * as deskAudio from "./audio.js";
const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...kids) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined) node.append(kid);
  return node;
};
const fmtClock = (s) => { s = Math.max(0, Math.floor(s)); return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`; };

const desk = {
  agent: null, state: "LOGGED_OUT", reason: null, since: Date.now() / 1000, skew: 0,
  offers: new Map(), contacts: new Map(), selected: null, history: [],
  reasons: [], dispositions: [], queues: [], muted: new Set(),
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
      for (const { reject } of this.pending.values()) reject(new Error("connection lost"));
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
      frame.type === "ack" ? resolve(frame) : reject(Object.assign(new Error(frame.message), frame));
      return;
    }
    if (frame.type === "welcome") this.onStatus(true);
    this.onFrame(frame);
  }
  request(type, fields = {}) {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) { reject(new Error("not connected")); return; }
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ type, id, ...fields }));
    });
  }
}

const socket = new DeskSocket(onFrame, (up) => { $("conn").textContent = up ? "online" : "offline"; $("conn").classList.toggle("off", !up); });

async function act(type, fields) {
  try { return await socket.request(type, fields); }
  catch (err) { toast(err.message || String(err), true); return null; }
}

// --- server frames -------------------------------------------------------------------
function onFrame(f) {
  const now = Date.now() / 1000;
  notePop(f); // the customer card (screenpop.js)
  switch (f.type) {
    case "welcome":
      desk.agent = f.agent; desk.reasons = f.reasons || []; desk.dispositions = f.dispositions || [];
      desk.queues = f.queues || []; desk.agents = f.agents || [];
      if (f.server_time) desk.skew = f.server_time - now;
      setState(f);
      desk.offers = new Map((f.offers || []).map((o) => [o.offer_id, o]));
      desk.contacts = new Map((f.contacts || []).map((c) => [c.contact_id, c]));
      desk.history = f.history || [];
      if (!desk.contacts.has(desk.selected)) desk.selected = desk.contacts.keys().next().value ?? null;
      deskAudio.onWelcome(f, socket);
      break;
    case "webrtc_state": deskAudio.onServerState(f); break;
    case "state": setState(f); break;
    case "offer": desk.offers.set(f.offer_id, f); break;
    case "offer_withdrawn":
      desk.offers.delete(f.offer_id);
      toast(f.reason === "timed_out" ? "Offer not answered in time: you are now Not ready" : "The offer was withdrawn");
      break;
    case "screen_pop": break; // kept by notePop
    case "contact": {
      const c = { ...(desk.contacts.get(f.contact_id) || {}), ...f };
      if (f.status === "closed") { desk.contacts.delete(f.contact_id); desk.history.unshift(c); }
      else desk.contacts.set(f.contact_id, c);
      if (f.status === "connected") { desk.selected = f.contact_id; deskAudio.setMuted(desk.muted.has(f.contact_id)); }
      for (const [id, o] of desk.offers) if (o.contact_id === f.contact_id) desk.offers.delete(id); // answered
      if (!desk.contacts.has(desk.selected)) desk.selected = desk.contacts.keys().next().value ?? null;
      break;
    }
    case "chat_message": {
      const c = desk.contacts.get(f.contact_id);
      if (c) (c.transcript ||= []).push(f);
      break;
    }
    default: break;
  }
  render();
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
  pill.textContent = desk.state === "NOT_READY" && desk.reason ? `Not ready · ${desk.reason}` : desk.state.replace("_", " ").toLowerCase();
  const reason = $("reason");
  if (reason.options.length !== desk.reasons.length) reason.replaceChildren(...desk.reasons.map((r) => el("option", { value: r }, r)));
  renderOffer(); renderContacts(); renderWorkspace(); renderCard(); renderHistory();
}

function renderOffer() {
  const offer = desk.offers.values().next().value;
  $("offer").classList.toggle("hidden", !offer);
  if (!offer) return;
  const pop = popOf(offer.contact_id) || {};
  const name = customerName(offer.contact_id);
  const who = name ? `${name} · ${offer.caller || ""}` : offer.caller || "Unidentified caller";
  $("offer-who").textContent = who;
  $("offer-channel").textContent = offer.channel;
  $("offer-queue").textContent = `${offer.queue}${pop.customer?.tier ? " · " + pop.customer.tier : ""}`;
  $("offer-trace").textContent = offer.trace ? `why you: ${offer.trace}` : "";
  $("offer-countdown").textContent = fmtClock(offer.ring_deadline - (Date.now() / 1000 + desk.skew));
}

function renderContacts() {
  const list = $("contacts");
  const items = [...desk.contacts.values()].map((c, i) => el("li", {
    class: c.contact_id === desk.selected ? "selected" : "",
    onclick: () => { desk.selected = c.contact_id; render(); },
  }, el("span", { class: "status" }, c.status || ""), `${i + 1}. `, channelTag(c.channel),
  customerName(c.contact_id) || c.caller || c.contact_id));
  list.replaceChildren(...(items.length ? items : [el("li", { class: "empty muted" }, "No contacts")]));
}

function renderWorkspace() {
  const ws = $("workspace");
  const c = desk.contacts.get(desk.selected);
  ws.classList.toggle("empty-state", !c);
  if (!c) {
    const hint = { AVAILABLE: "Waiting for a contact…", OFFERED: "A contact is ringing: accept it on the left (A).",
      WRAP_UP: "Wrap-up: press Ready (R) when done." }[desk.state] || "Go Ready to receive contacts.";
    ws.replaceChildren(el("p", { class: "muted" }, hint));
    return;
  }
  const held = c.status === "held"; const wrap = c.status === "wrap_up";
  const controls = el("div", { class: "controls" },
    c.channel !== "chat" ? el("button", { class: `btn ${desk.muted.has(c.contact_id) ? "on" : ""}`, title: "Mute (M)", disabled: wrap ? "" : null, onclick: () => toggleMute(c) }, desk.muted.has(c.contact_id) ? "Unmute" : "Mute") : null,
    c.channel !== "chat" ? el("button", { class: `btn ${held ? "on" : ""}`, title: "Hold (H)", disabled: wrap ? "" : null, onclick: () => toggleHold(c) }, held ? "Retrieve" : "Hold") : null,
    el("select", { id: "transfer-to", "aria-label": "Transfer to", disabled: wrap ? "" : null },
      el("option", { value: "" }, "Transfer to…"),
      ...desk.queues.map((q) => el("option", { value: `queue:${q}` }, `queue ${q}`)),
      ...(desk.agents || []).filter((a) => a !== desk.agent?.username).map((a) => el("option", { value: `agent:${a}` }, `agent ${a}`))),
    el("button", { class: "btn", disabled: wrap ? "" : null, onclick: () => transfer(c) }, "Transfer"),
    el("button", { class: "btn bad", title: "End (E)", disabled: wrap ? "" : null, onclick: () => act("end", { contact_id: c.contact_id }) }, "End"));
  const parts = [el("div", { class: "ws-head" }, el("h1", {}, customerName(c.contact_id) || c.caller || "Unidentified caller"),
    el("span", { class: "muted" }, `${c.channel} · ${c.queue || ""} · ${c.status || ""}`)), controls];
  if (wrap) {
    const left = c.wrap_up_deadline ? c.wrap_up_deadline - (Date.now() / 1000 + desk.skew) : 0;
    parts.push(el("div", { class: "wrapup" }, el("b", {}, "Wrap-up"), el("span", { id: "wrap-left" }, fmtClock(left)),
      el("button", { class: "btn good", title: "Ready (R)", onclick: () => act("wrap_up_done", { contact_id: c.contact_id }) }, "Ready")));
  }
  if (c.channel === "chat") {
    const transcript = el("div", { class: "transcript" }, ...(c.transcript || []).map((m) => el("div", { class: `msg ${m.from}` }, m.text)));
    const input = el("input", { placeholder: "Type a reply and press Enter", "aria-label": "Chat reply" });
    input.addEventListener("keydown", async (ev) => {
      if (ev.key === "Enter" && input.value.trim()) {
        const text = input.value; input.value = "";
        if (await act("chat_send", { contact_id: c.contact_id, text })) { (c.transcript ||= []).push({ from: "agent", text }); render(); }
      }
    });
    parts.push(transcript, input);
    queueMicrotask(() => { transcript.scrollTop = transcript.scrollHeight; });
  }
  const note = el("textarea", { id: "note", placeholder: "Notes (N)", "aria-label": "Note" });
  const disp = el("select", { id: "disposition", "aria-label": "Disposition" }, el("option", { value: "" }, "Disposition…"),
    ...desk.dispositions.map((d) => el("option", { value: d, selected: c.disposition === d ? "" : null }, d)));
  const ticketKind = el("select", { "aria-label": "Ticket kind" }, ...["follow-up", "complaint", "request"].map((k) => el("option", { value: k }, k)));
  const ticketSubject = el("input", { placeholder: "Ticket subject", "aria-label": "Ticket subject" });
  parts.push(note, el("div", { class: "row" },
    el("button", { class: "btn", onclick: async () => { if (note.value.trim() && await act("note", { contact_id: c.contact_id, text: note.value })) { toast("Note saved"); note.value = ""; } } }, "Save note"),
    disp, el("button", { class: "btn", onclick: async () => { if (disp.value && await act("disposition", { contact_id: c.contact_id, code: disp.value })) { c.disposition = disp.value; toast("Disposition set"); } } }, "Set")),
  el("div", { class: "row" }, ticketKind, ticketSubject,
    el("button", { class: "btn", onclick: async () => { if (ticketSubject.value.trim() && await act("create_ticket", { contact_id: c.contact_id, kind: ticketKind.value, subject: ticketSubject.value })) { toast("Ticket created"); ticketSubject.value = ""; } } }, "Create ticket")));
  ws.replaceChildren(...parts);
}

function renderCard() {
  // a card fetched later redraws what shows the name, never the workspace (its inputs)
  showPop($("card"), desk.contacts.get(desk.selected) || desk.offers.values().next().value,
    () => { renderOffer(); renderContacts(); renderCard(); });
}

function renderHistory() {
  $("history").replaceChildren(...desk.history.slice(0, 20).map((h) => el("li", {}, channelTag(h.channel),
    `${customerName(h.contact_id) || h.caller || h.contact_id} · ${h.disposition || "no disposition"}`)));
}

// A text tag rather than an emoji: it reads the same on every machine, fonts or not.
function channelTag(channel) {
  return el("span", { class: `chan ${channel === "chat" ? "chat" : "voice"}` }, channel === "chat" ? "chat" : "call");
}

// --- actions ---------------------------------------------------------------------------------
async function toggleHold(c) {
  const on = c.status !== "held";
  if (await act("hold", { contact_id: c.contact_id, on })) { c.status = on ? "held" : "connected"; render(); }
}
async function toggleMute(c) {
  const on = !desk.muted.has(c.contact_id);
  if (await act("mute", { contact_id: c.contact_id, on })) { on ? desk.muted.add(c.contact_id) : desk.muted.delete(c.contact_id); deskAudio.setMuted(on); render(); }
}
async function transfer(c) {
  const target = $("transfer-to").value;
  if (!target) { toast("Pick where to transfer", true); return; }
  const [kind, name] = target.split(":");
  if (await act("transfer", { contact_id: c.contact_id, [kind === "queue" ? "to_queue" : "to_agent"]: name })) toast(`Transferred to ${name}`);
}
function firstOffer() { return desk.offers.values().next().value; }

function toast(text, error = false) {
  const t = $("toast"); t.textContent = text; t.classList.toggle("error", error); t.classList.add("show");
  clearTimeout(toast.timer); toast.timer = setTimeout(() => t.classList.remove("show"), 3000);
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
  $("logout").onclick = async (ev) => {
    ev.preventDefault();
    const me = await fetch("/api/v1/auth/me").then((r) => (r.ok ? r.json() : {}));
    await fetch("/api/v1/auth/logout", { method: "POST", headers: { "X-CSRF-Token": me.csrf_token || "" } });
    location.href = "/login";
  };
  document.addEventListener("keydown", (ev) => {
    if (ev.target.matches("input, textarea, select") || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const c = desk.contacts.get(desk.selected);
    const key = ev.key.toLowerCase();
    if (key === "a") $("btn-accept").click();
    else if (key === "d") $("btn-decline").click();
    else if (key === "r") { if (c?.status === "wrap_up") act("wrap_up_done", { contact_id: c.contact_id }); else $("btn-ready").click(); }
    else if (key === "h" && c) toggleHold(c);
    else if (key === "m" && c) toggleMute(c);
    else if (key === "e" && c) act("end", { contact_id: c.contact_id });
    else if (key === "n") { const note = $("note"); if (note) { ev.preventDefault(); note.focus(); } }
    else if (key === "?") $("help").showModal();
    else if (/^[1-9]$/.test(key)) { const ids = [...desk.contacts.keys()]; if (ids[key - 1]) { desk.selected = ids[key - 1]; render(); } }
  });
}

wire();
render();
socket.connect();
setInterval(tick, 250);
window.desk = desk; // for tests and the curious
