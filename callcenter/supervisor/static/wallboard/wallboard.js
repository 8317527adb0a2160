// The supervisor wallboard: a snapshot, then updates, over /ws/supervisor.
import { drawChart } from "./chart.js";

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
const clock = (s) => { if (s === null || s === undefined) return "–"; s = Math.max(0, Math.round(s)); return s >= 3600 ? `${Math.floor(s / 3600)}:${String(Math.floor(s / 60) % 60).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`; };
const pct = (x) => (x === null || x === undefined ? "–" : `${Math.round(x * 100)}%`);

const board = { queues: [], agents: [], series: [], skew: 0, thresholds: {}, reasons: [], skills: [], csrf: null, chartQueue: "", timezone: "UTC", today: {}, today_date: "" };

// Times are the center's (the frames' timezone), never the browser's.
const centerTime = (epoch, opts) => new Date(epoch * 1000).toLocaleString("en-GB", { timeZone: board.timezone, ...opts });
const centerNow = () => Date.now() / 1000 + board.skew;
const CHANNEL_WORDS = { voice: ["call", "calls"], chat: ["chat", "chats"], callback: ["callback", "callbacks"], voicemail: ["voicemail", "voicemails"] };
const byChannel = (counts) => Object.entries(counts || {}).filter(([, n]) => n > 0)
  .map(([ch, n]) => { const w = CHANNEL_WORDS[ch] || [ch, ch]; return `${n} ${n === 1 ? w[0] : w[1]}`; }).join(" · ");
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
function setConn(up) { $("conn").textContent = up ? "live" : "offline"; $("conn").classList.toggle("off", !up); }

function onFrame(f) {
  if (f.type === "snapshot" || f.type === "update") {
    if (f.server_time) board.skew = f.server_time - Date.now() / 1000;
    for (const key of ["queues", "agents", "series", "thresholds", "reasons", "skills", "center", "listening", "timezone", "today", "today_date"]) if (f[key] !== undefined) board[key] = f[key];
    if (listening && !(board.listening || []).some((l) => l.listen_id === listening.id)) endListen("the call ended");
    render();
  } else if (f.type === "error") toast(f.message);
}

function render() {
  if (board.center) { $("center-name").textContent = board.center; document.title = `${board.center} · wallboard`; }
  $("queues").replaceChildren(...board.queues.map(queueCard));
  renderToday(); renderAgents(); renderChart(); tick();
}

function renderChart() {
  const pickQ = $("chart-queue");
  const names = ["", ...board.queues.map((q) => q.name)];
  if (pickQ.options.length !== names.length) {
    pickQ.replaceChildren(...names.map((n) => el("option", { value: n }, n || "all queues")));
    pickQ.value = board.chartQueue;
  }
  drawChart($("chart"), board.series, board.thresholds, board.chartQueue, board.timezone);
}

// The day's totals: a contact counts once here, however many queues it was offered to.
function renderToday() {
  const t = board.today || {};
  $("today").textContent = `Today (${board.today_date}, ${board.timezone}): ${t.contacts ?? 0} contacts · ${t.answered ?? 0} answered · ${t.abandoned ?? 0} abandoned. ` +
    "A transferred contact counts once here, and once in each queue it was offered to.";
}

function queueCard(q) {
  const a = q.agents || {}; const total = (a.available || 0) + (a.on_contact || 0) + (a.wrap_up || 0) + (a.not_ready || 0) || 1;
  const bar = (cls, n) => el("i", { class: cls, style: `width:${(100 * (n || 0)) / total}%` });
  const closed = q.open === false;
  const opens = closed && q.opens_at ? `opens ${centerTime(q.opens_at, { weekday: "short", hour: "2-digit", minute: "2-digit" })}` : "";
  return el("article", { class: `queue ${q.status || ""}${closed ? " closed" : ""}`, "data-queue": q.name, "data-open": closed ? "false" : "true" },
    el("h3", {}, q.name, el("span", { class: "muted" }, q.status === "trouble" ? "⚠ trouble" : "")),
    closed ? el("div", { class: "closed-note" }, `Closed${opens ? ` · ${opens}` : ""}`) : null,
    el("div", { class: "big" },
      el("div", {}, el("b", { class: "waiting" }, String(q.waiting ?? 0)), el("span", {}, "waiting")),
      el("div", {}, el("b", {}, clock(q.longest_wait_s)), el("span", {}, "longest")),
      el("div", {}, el("b", { class: "ewt" }, q.waiting > 0 ? clock(q.ewt_s) : "–"), el("span", {}, "est. wait"))),
    el("div", { class: "muted by-channel" }, byChannel(q.waiting_by_channel)),
    el("div", { class: "facts" },
      el("div", {}, el("b", {}, pct(q.service_level)), el("span", {}, "SL today")),
      el("div", {}, el("b", {}, clock(q.asa_s)), el("span", {}, "ASA")),
      el("div", {}, el("b", {}, clock(q.aht_s)), el("span", {}, "AHT")),
      el("div", {}, el("b", {}, pct(q.abandon_rate)), el("span", {}, "abandoned")),
      el("div", { title: "a contact transferred or overflowed here counts in each queue it was offered to" },
        el("b", { class: "offered" }, String(q.offered_today ?? 0)), el("span", {}, "offered to this queue"))),
    el("div", { class: "agentsbar", title: `${a.available || 0} available, ${a.on_contact || 0} on contact, ${a.wrap_up || 0} wrap-up, ${a.not_ready || 0} not ready` },
      bar("a-available", a.available), bar("a-on", a.on_contact), bar("a-wrap", a.wrap_up), bar("a-nr", a.not_ready)),
    el("div", { class: "muted agents-count" }, `${a.available || 0} available · ${a.on_contact || 0} on contact · ${a.wrap_up || 0} wrap-up · ${a.not_ready || 0} not ready`));
}

function renderAgents() {
  const now = centerNow();
  const rows = board.agents.map((ag) => el("tr", { "data-agent": ag.agent_id },
    el("td", {}, ag.name || ag.agent_id),
    el("td", {}, el("span", { class: `st ${ag.state}` }, ag.state === "NOT_READY" && ag.reason ? `not ready · ${ag.reason}` : ag.state.replace("_", " ").toLowerCase())),
    el("td", { class: "since", "data-since": ag.since }, clock(now - ag.since)),
    el("td", { class: "customer", title: ag.contact_id || "" }, ag.customer || (ag.contact_id ? "unknown caller" : ""), listenButton(ag), ...listeners(ag)),
    el("td", {}, String(ag.handled_today ?? 0)),
    el("td", { class: "skills" }, skillText(ag.skills),
      el("button", { type: "button", "aria-label": `Change skills of ${ag.agent_id}`, onclick: () => openSkills(ag) }, "edit")),
    el("td", {}, forceState(ag))));
  $("agents").tBodies[0].replaceChildren(...rows);
}

function forceState(ag) {
  const pick = el("select", { "aria-label": `Force state of ${ag.agent_id}` }, el("option", { value: "" }, "force…"),
    el("option", { value: "ready" }, "ready"), ...(board.reasons || []).map((r) => el("option", { value: `not_ready:${r}` }, `not ready · ${r}`)),
    el("option", { value: "logged_out" }, "log out"));
  pick.addEventListener("change", async () => {
    if (!pick.value) return;
    const [state, reason] = pick.value.split(":");
    const res = await post(`/api/v1/supervisor/agents/${encodeURIComponent(ag.agent_id)}/state`, { state, reason });
    toast(res.ok ? `${ag.agent_id}: ${state}` : (await res.json()).error?.message || "refused");
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
  return el("button", { type: "button", class: "listen", "aria-label": `Listen to ${ag.agent_id}`, disabled: mine ? "" : null,
    onclick: () => listen(ag) }, mine ? "listening" : "listen");
}

// Who is listening to this agent's call now (any supervisor), shown beside the contact.
const listeners = (ag) => (board.listening || []).filter((l) => l.agent_id === ag.agent_id && l.contact_id === ag.contact_id)
  .map((l) => el("span", { class: "heard-by", title: `${l.by} is listening` }, `🎧 ${l.by}`));

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
  if (!res.ok) { pc.close(); toast(body.error?.message || "cannot listen"); return; }
  listening = { id: body.listen_id, pc, agent: ag.name || ag.agent_id, contact: ag.contact_id, meter: null };
  await pc.setRemoteDescription({ type: "answer", sdp: body.sdp });
  pc.onconnectionstatechange = () => { if (["failed", "closed"].includes(pc.connectionState)) endListen("the connection ended"); };
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
  if (why) toast(`Listening stopped: ${why}`);
  renderAgents();
}

async function stopListening() {
  if (!listening) return;
  const id = listening.id;  // the server first, so it logs who stopped it (not a lost connection)
  await fetch(`/api/v1/supervisor/listen/${encodeURIComponent(id)}`, { method: "DELETE", headers: { "X-CSRF-Token": board.csrf || "" } });
  endListen();
}

const skillText = (skills) => Object.entries(skills || {}).map(([k, v]) => `${k} ${v}`).join(" · ") || "none";

// The skills dialog lives outside the table, so the updates that redraw the table leave it be.
function openSkills(ag) {
  const dlg = $("skills-dialog");
  dlg.dataset.agent = ag.agent_id;
  $("skills-who").textContent = ag.name || ag.agent_id;
  $("skills-fields").replaceChildren(...board.skills.map((name) => el("label", {}, name,
    el("input", { type: "number", min: 1, max: 5, step: 1, name, value: (ag.skills || {})[name] ?? "", placeholder: "–" }))));
  $("skills-error").textContent = "";
  dlg.showModal();
}

async function saveSkills(ev) {
  ev.preventDefault();
  const dlg = $("skills-dialog"); const agent = dlg.dataset.agent; const skills = {};
  for (const input of $("skills-fields").querySelectorAll("input")) if (input.value !== "") skills[input.name] = Number(input.value);
  const res = await post(`/api/v1/supervisor/agents/${encodeURIComponent(agent)}/skills`, { skills });
  if (!res.ok) { $("skills-error").textContent = (await res.json()).error?.message || "refused"; return; }
  dlg.close(); toast(`${agent}: ${skillText(skills)}`);
}

async function post(url, body) {
  if (!board.csrf) board.csrf = (await fetch("/api/v1/auth/me").then((r) => (r.ok ? r.json() : {}))).csrf_token;
  return fetch(url, { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": board.csrf || "" }, body: JSON.stringify(body) });
}

function toast(text) { const t = $("toast"); t.textContent = text; t.classList.add("show"); clearTimeout(toast.t); toast.t = setTimeout(() => t.classList.remove("show"), 2500); }

function tick() {
  const now = centerNow();
  if (board.today_date) $("clock").textContent = `${centerTime(now, { hour: "2-digit", minute: "2-digit", second: "2-digit" })} ${board.timezone}`; // none before the server said
  for (const td of document.querySelectorAll("td.since")) td.textContent = clock(now - Number(td.dataset.since));
}
setInterval(tick, 1000);
$("skills-form").addEventListener("submit", saveSkills);
$("listen-stop").addEventListener("click", stopListening);
$("skills-cancel").addEventListener("click", () => $("skills-dialog").close());
$("chart-queue").addEventListener("change", (ev) => { board.chartQueue = ev.target.value; renderChart(); });
connect();
window.board = board;
