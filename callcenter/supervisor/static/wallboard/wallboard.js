// The supervisor wallboard: a snapshot, then updates, over /ws/supervisor. Its words are
// the catalogues' "wallboard.*" keys in the supervisor's own language (user.language of
// /api/v1/auth/me; docs/i18n.md); names, queues, skills and reasons are shown as written,
// in elements marked data-user-content.
import { drawChart } from "./chart.js";
import { language, render as say, setup, t } from "/static/i18n/i18n.js";

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...kids) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined) node.setAttribute(k, v);
  }
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined) node.append(kid);
  return node;
};
const data = (tag, text, attrs = {}) => el(tag, { ...attrs, "data-user-content": "" }, text ?? ""); // somebody's words
const said = (tag, key, params = null, attrs = {}) => say(el(tag, attrs), key, params);
const clock = (s) => { if (s === null || s === undefined) return "–"; s = Math.max(0, Math.round(s)); return s >= 3600 ? `${Math.floor(s / 3600)}:${String(Math.floor(s / 60) % 60).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`; };
const pct = (x) => (x === null || x === undefined ? "–" : `${Math.round(x * 100)}%`);

const board = { queues: [], agents: [], series: [], skew: 0, thresholds: {}, reasons: [], skills: [], csrf: null, chartQueue: "", timezone: "UTC", today: {}, today_date: "" };

// Times are the center's (the frames' timezone), never the browser's; English is written
// the British way (24 hours), another language its own way.
export const timeLocale = () => (language() === "en" ? "en-GB" : language());
const centerTime = (epoch, opts) => new Date(epoch * 1000).toLocaleString(timeLocale(), { timeZone: board.timezone, ...opts });
const centerNow = () => Date.now() / 1000 + board.skew;
const CHANNEL_WORDS = {
  voice: ["wallboard.channel.voice_one", "wallboard.channel.voice_many"],
  chat: ["wallboard.channel.chat_one", "wallboard.channel.chat_many"],
  callback: ["wallboard.channel.callback_one", "wallboard.channel.callback_many"],
  voicemail: ["wallboard.channel.voicemail_one", "wallboard.channel.voicemail_many"],
};
const byChannel = (counts) => Object.entries(counts || {}).filter(([, n]) => n > 0)
  .map(([ch, n]) => (CHANNEL_WORDS[ch] ? t(CHANNEL_WORDS[ch][n === 1 ? 0 : 1], { count: n }) : `${n} ${ch}`)).join(" · ");
const STATE = { LOGGED_OUT: "wallboard.state.logged_out", NOT_READY: "wallboard.state.not_ready", AVAILABLE: "wallboard.state.available",
  OFFERED: "wallboard.state.offered", ON_CONTACT: "wallboard.state.on_contact", WRAP_UP: "wallboard.state.wrap_up" };
// The server's own not-ready reasons; the center's configured ones (lunch, ...) are its words.
const REASON = { disconnected: "wallboard.reason.disconnected", missed: "wallboard.reason.missed",
  declined: "wallboard.reason.declined", logged_in: "wallboard.reason.logged_in" };
const FORCED = { ready: "wallboard.force.ready", not_ready: "wallboard.force.not_ready", logged_out: "wallboard.force.log_out" };
let ws; let backoff = 500;

function connect() {
  ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/supervisor`);
  ws.onmessage = (ev) => onFrame(JSON.parse(ev.data));
  ws.onopen = () => { backoff = 500; setConn(true); };
  ws.onclose = (ev) => {
    setConn(false);
    if (ev.code === 4401 || ev.code === 4403) { location.href = "/login?next=/wallboard"; return; }
    setTimeout(connect, backoff); backoff = Math.min(backoff * 2, 10000);
  };
}
function setConn(up) { say($("conn"), up ? "wallboard.conn.live" : "wallboard.conn.offline"); $("conn").classList.toggle("off", !up); }

function onFrame(f) {
  if (f.type === "snapshot" || f.type === "update") {
    if (f.server_time) board.skew = f.server_time - Date.now() / 1000;
    for (const key of ["queues", "agents", "series", "thresholds", "reasons", "skills", "center", "listening", "timezone", "today", "today_date"]) if (f[key] !== undefined) board[key] = f[key];
    if (listening && !(board.listening || []).some((l) => l.listen_id === listening.id)) endListen("wallboard.listen.call_ended");
    render();
  } else if (f.type === "error") toast(f.message);
}

function render() {
  if (board.center) {
    const head = $("center-name");
    delete head.dataset.i18n; head.dataset.userContent = ""; head.textContent = board.center;
    document.title = t("wallboard.page_title_center", { center: board.center });
  }
  $("queues").replaceChildren(...board.queues.map(queueCard));
  renderToday(); renderAgents(); renderChart(); tick();
}

function renderChart() {
  const pickQ = $("chart-queue");
  const names = ["", ...board.queues.map((q) => q.name)];
  if (pickQ.options.length !== names.length) {
    pickQ.replaceChildren(...names.map((n) => (n ? data("option", n, { value: n }) : said("option", "wallboard.chart.all_queues", null, { value: "" }))));
    pickQ.value = board.chartQueue;
  }
  drawChart($("chart"), board.series, board.thresholds, board.chartQueue, board.timezone, timeLocale());
}

// The day's totals: a contact counts once here, however many queues it was offered to.
function renderToday() {
  const day = board.today || {};
  say($("today"), "wallboard.today", { date: board.today_date, timezone: board.timezone,
    contacts: day.contacts ?? 0, answered: day.answered ?? 0, abandoned: day.abandoned ?? 0 });
}

function queueCard(q) {
  const a = q.agents || {}; const total = (a.available || 0) + (a.on_contact || 0) + (a.wrap_up || 0) + (a.not_ready || 0) || 1;
  const bar = (cls, n) => el("i", { class: cls, style: `width:${(100 * (n || 0)) / total}%` });
  const closed = q.open === false;
  const opens = closed && q.opens_at ? centerTime(q.opens_at, { weekday: "short", hour: "2-digit", minute: "2-digit" }) : "";
  const counts = { available: a.available || 0, on_contact: a.on_contact || 0, wrap_up: a.wrap_up || 0, not_ready: a.not_ready || 0 };
  return el("article", { class: `queue ${q.status || ""}${closed ? " closed" : ""}`, "data-queue": q.name, "data-open": closed ? "false" : "true" },
    el("h3", {}, data("span", q.name), el("span", { class: "muted" }, q.status === "trouble" ? t("wallboard.queue.trouble") : "")),
    closed ? (opens ? said("div", "wallboard.queue.closed_opens", { when: opens }, { class: "closed-note" })
      : said("div", "wallboard.queue.closed", null, { class: "closed-note" })) : null,
    el("div", { class: "big" },
      el("div", {}, el("b", { class: "waiting" }, String(q.waiting ?? 0)), said("span", "wallboard.queue.waiting")),
      el("div", {}, el("b", {}, clock(q.longest_wait_s)), said("span", "wallboard.queue.longest")),
      el("div", {}, el("b", { class: "ewt" }, q.waiting > 0 ? clock(q.ewt_s) : "–"), said("span", "wallboard.queue.est_wait"))),
    el("div", { class: "muted by-channel" }, byChannel(q.waiting_by_channel)),
    el("div", { class: "facts" },
      el("div", {}, el("b", {}, pct(q.service_level)), said("span", "wallboard.queue.sl_today")),
      el("div", {}, el("b", {}, clock(q.asa_s)), said("span", "wallboard.queue.asa")),
      el("div", {}, el("b", {}, clock(q.aht_s)), said("span", "wallboard.queue.aht")),
      el("div", {}, el("b", {}, pct(q.abandon_rate)), said("span", "wallboard.queue.abandoned")),
      el("div", { title: t("wallboard.queue.offered_title") },
        el("b", { class: "offered" }, String(q.offered_today ?? 0)), said("span", "wallboard.queue.offered"))),
    el("div", { class: "agentsbar", title: t("wallboard.queue.agents_title", counts) },
      bar("a-available", a.available), bar("a-on", a.on_contact), bar("a-wrap", a.wrap_up), bar("a-nr", a.not_ready)),
    said("div", "wallboard.queue.agents", counts, { class: "muted agents-count" }));
}

function renderAgents() {
  const now = centerNow();
  const rows = board.agents.map((ag) => el("tr", { "data-agent": ag.agent_id },
    data("td", ag.name || ag.agent_id),
    el("td", {}, stateOf(ag)),
    el("td", { class: "since", "data-since": ag.since }, clock(now - ag.since)),
    // the customer as the log names them, the contact's id in the title (the listen button
    // and who listens sit in this cell too: its words are the catalogue's all the same)
    el("td", { class: "customer", title: ag.contact_id || "", "data-user-content": "" },
      ag.customer || (ag.contact_id ? t("wallboard.agent.unknown_caller") : ""), listenButton(ag), ...listeners(ag)),
    el("td", {}, String(ag.handled_today ?? 0)),
    el("td", { class: "skills" }, skillText(ag.skills),
      el("button", { type: "button", "aria-label": t("wallboard.agent.skills_label", { agent: ag.agent_id }), onclick: () => openSkills(ag) }, t("wallboard.agent.edit"))),
    el("td", {}, forceState(ag))));
  $("agents").tBodies[0].replaceChildren(...rows);
}

function stateOf(ag) {
  const box = el("span", { class: `st ${ag.state}` });
  if (ag.state === "NOT_READY" && ag.reason) {
    return say(box, "wallboard.state.not_ready_reason", { reason: REASON[ag.reason] ? t(REASON[ag.reason]) : ag.reason });
  }
  if (STATE[ag.state]) return say(box, STATE[ag.state]);
  box.textContent = ag.state.replace("_", " ").toLowerCase();
  return box;
}

function forceState(ag) {
  const pick = el("select", { "aria-label": t("wallboard.agent.force_label", { agent: ag.agent_id }) }, said("option", "wallboard.force.pick", null, { value: "" }),
    said("option", "wallboard.force.ready", null, { value: "ready" }),
    ...(board.reasons || []).map((r) => said("option", "wallboard.force.not_ready_reason", { reason: r }, { value: `not_ready:${r}` })),
    said("option", "wallboard.force.log_out", null, { value: "logged_out" }));
  pick.addEventListener("change", async () => {
    if (!pick.value) return;
    const [state, reason] = pick.value.split(":");
    const res = await post(`/api/v1/supervisor/agents/${encodeURIComponent(ag.agent_id)}/state`, { state, reason });
    if (res.ok) toastSay("wallboard.forced", { agent: ag.agent_id, state: reason ? t("wallboard.force.not_ready_reason", { reason }) : t(FORCED[state]) });
    else toast((await res.json()).error?.message || t("wallboard.refused"));
    pick.value = "";
  });
  return pick;
}

// Listen-in: a receive-only WebRTC connection to the call's bridge (one HTTP round trip:
// our offer with every ICE candidate, the server's answer). The microphone is never opened.
let listening = null; // {id, pc, agent, contact, meter}

function listenButton(ag) {
  if (ag.state !== "ON_CONTACT" || ag.channel !== "voice" || !ag.contact_id) return null;
  const mine = listening && listening.contact === ag.contact_id;
  return el("button", { type: "button", class: "listen", "aria-label": t("wallboard.agent.listen_label", { agent: ag.agent_id }), disabled: mine ? "" : null,
    onclick: () => listen(ag) }, t(mine ? "wallboard.agent.listening" : "wallboard.agent.listen"));
}

// Who is listening to this agent's call now (any supervisor), shown beside the contact.
const listeners = (ag) => (board.listening || []).filter((l) => l.agent_id === ag.agent_id && l.contact_id === ag.contact_id)
  .map((l) => data("span", `🎧 ${l.by}`, { class: "heard-by", title: t("wallboard.agent.heard_by", { name: l.by }) }));

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, 3000); // host candidates come at once; do not wait forever
  });
}

async function listen(ag) {
  if (listening) await stopListening();
  const pc = new RTCPeerConnection({ iceServers: [] });
  pc.addTransceiver("audio", { direction: "recvonly" });
  const audio = $("listen-audio");
  pc.ontrack = (ev) => { audio.srcObject = ev.streams[0] || new MediaStream([ev.track]); audio.play().catch(() => {}); meter(audio.srcObject); };
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const res = await post(`/api/v1/supervisor/contacts/${encodeURIComponent(ag.contact_id)}/listen`, { sdp: pc.localDescription.sdp });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) { pc.close(); if (body.error?.message) toast(body.error.message); else toastSay("wallboard.listen.cannot"); return; }
  listening = { id: body.listen_id, pc, agent: ag.name || ag.agent_id, contact: ag.contact_id, meter: null };
  await pc.setRemoteDescription({ type: "answer", sdp: body.sdp });
  pc.onconnectionstatechange = () => { if (["failed", "closed"].includes(pc.connectionState)) endListen("wallboard.listen.connection_ended"); };
  $("listen-who").textContent = `${listening.agent} · ${ag.customer || listening.contact}`;
  $("listen-bar").hidden = false;
  renderAgents();
}

function meter(stream) {
  const ctx = new AudioContext(); const an = ctx.createAnalyser(); an.fftSize = 1024;
  ctx.createMediaStreamSource(stream).connect(an);
  const buf = new Float32Array(an.fftSize); const bar = $("listen-level");
  const timer = setInterval(() => {
    an.getFloatTimeDomainData(buf);
    const rms = Math.sqrt(buf.reduce((a, x) => a + x * x, 0) / buf.length);
    const db = rms > 0 ? 20 * Math.log10(rms) : -100;
    bar.dataset.dbfs = db.toFixed(1); bar.value = Math.max(0, 60 + db);
  }, 200);
  if (listening) listening.meter = { ctx, timer }; else { clearInterval(timer); ctx.close(); }
}

function endListen(why) {
  if (!listening) return;
  const { pc, meter: m } = listening;
  listening = null;
  if (m) { clearInterval(m.timer); m.ctx.close(); }
  pc.close(); $("listen-audio").srcObject = null; $("listen-bar").hidden = true;
  if (why) toast(t("wallboard.listen.stopped", { why: t(why) })); // all the wallboard's words
  renderAgents();
}

async function stopListening() {
  if (!listening) return;
  const id = listening.id;  // the server first, so it logs who stopped it (not a lost connection)
  await fetch(`/api/v1/supervisor/listen/${encodeURIComponent(id)}`, { method: "DELETE", headers: { "X-CSRF-Token": board.csrf || "" } });
  endListen();
}

const skillText = (skills) => {
  const text = Object.entries(skills || {}).map(([k, v]) => `${k} ${v}`).join(" · ");
  return text ? data("span", text) : said("span", "wallboard.agent.no_skills");
};

// The skills dialog lives outside the table, so the updates that redraw the table leave it be.
function openSkills(ag) {
  const dlg = $("skills-dialog");
  dlg.dataset.agent = ag.agent_id;
  $("skills-who").textContent = ag.name || ag.agent_id;
  $("skills-fields").replaceChildren(...board.skills.map((name) => el("label", {}, data("span", name),
    el("input", { type: "number", min: 1, max: 5, step: 1, name, value: (ag.skills || {})[name] ?? "", placeholder: "–" }))));
  $("skills-error").textContent = "";
  dlg.showModal();
}

async function saveSkills(ev) {
  ev.preventDefault();
  const dlg = $("skills-dialog"); const agent = dlg.dataset.agent; const skills = {};
  for (const input of $("skills-fields").querySelectorAll("input")) if (input.value !== "") skills[input.name] = Number(input.value);
  const res = await post(`/api/v1/supervisor/agents/${encodeURIComponent(agent)}/skills`, { skills });
  if (!res.ok) { $("skills-error").textContent = (await res.json()).error?.message || t("wallboard.refused"); return; }
  dlg.close(); toast(""); $("toast").append(data("span", `${agent}: `), skillText(skills));
}

async function post(url, body) {
  if (!board.csrf) board.csrf = (await fetch("/api/v1/auth/me").then((r) => (r.ok ? r.json() : {}))).csrf_token;
  return fetch(url, { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": board.csrf || "" }, body: JSON.stringify(body) });
}

// A toast in the server's words (an error's message) or in the wallboard's (toastSay: a key).
function toast(text) { $("toast").textContent = text; showToast(); }
function toastSay(key, params = null) { say($("toast"), key, params); showToast(); }
function showToast() { const box = $("toast"); box.classList.add("show"); clearTimeout(toast.t); toast.t = setTimeout(() => box.classList.remove("show"), 2500); }

function tick() {
  const now = centerNow();
  if (board.today_date) { // none before the server said
    $("clock").replaceChildren(`${centerTime(now, { hour: "2-digit", minute: "2-digit", second: "2-digit" })} `, data("span", board.timezone));
  }
  for (const td of document.querySelectorAll("td.since")) td.textContent = clock(now - Number(td.dataset.since));
}
setInterval(tick, 1000);
$("skills-form").addEventListener("submit", saveSkills);
$("listen-stop").addEventListener("click", stopListening);
$("skills-cancel").addEventListener("click", () => $("skills-dialog").close());
$("chart-queue").addEventListener("change", (ev) => { board.chartQueue = ev.target.value; renderChart(); });
window.board = board;
// The supervisor's language first (the words of everything drawn after), then the socket.
try {
  const me = await fetch("/api/v1/auth/me").then((r) => (r.ok ? r.json() : {}));
  board.csrf = me.csrf_token || null;
  await setup({ language: me.user?.language ?? null, tags: [] });
} catch (err) { console.warn("wallboard: no catalogue", err); }
connect();
