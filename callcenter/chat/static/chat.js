// Customer web chat: /ws/chat protocol v1 (see callcenter/chat/protocol.py). Its words come
// from the message catalogues (/static/i18n/i18n.js), in the browser's language unless the
// customer picks another; what the center or an agent wrote is shown as written.
import { language, languagePicker, render, setup } from "/static/i18n/i18n.js";

const $ = (id) => document.getElementById(id);
const KEY = "callcenter.chat.token";
const ERRORS = { chat_ended: "chat.error.chat_ended", already_rated: "chat.error.already_rated" };
let ws; let started = false; let intro = {};
// The bank's web login opens the widget as /chat#login_token=<token> (a fragment never
// reaches the server's logs); it is sent once in the start frame and dropped from the URL.
const login = new URLSearchParams(location.hash.slice(1)).get("login_token");
if (login) history.replaceState(null, "", location.pathname + location.search);

function status(key) {
  if (key) render($("status"), key);
  else { delete $("status").dataset.i18n; $("status").textContent = ""; }
}

function connect(resume) {
  ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/chat`);
  ws.onopen = () => {
    status("chat.status.connected");
    ws.send(JSON.stringify(resume ? { type: "start", resume, language: language() } : { type: "start", ...intro, language: language() }));
  };
  ws.onmessage = (ev) => onFrame(JSON.parse(ev.data));
  ws.onclose = () => {
    status("chat.status.reconnecting");
    const token = sessionStorage.getItem(KEY);
    if (started && token) setTimeout(() => connect(token), 1000);
  };
}

function add(div) {
  $("log").append(div);
  $("log").scrollTop = $("log").scrollHeight;
}

/** A line someone wrote (the customer, an agent, the center's flow): shown as written. */
function bubble(kind, text) {
  const div = document.createElement("div");
  div.className = `bubble ${kind}`;
  div.dataset.userContent = "";
  div.textContent = text;
  add(div);
}

/** A line in the page's own words: message `key` of the catalogue. */
function note(key, params = null, className = "note") {
  const div = document.createElement("div");
  div.className = className;
  add(render(div, key, params));
}

/** The server's own words carry their key; a flow's or an agent's text has none. */
function said(kind, f) {
  if (f.key) note(f.key, f.params || null, `bubble ${kind}`);
  else bubble(kind, f.text);
}

function showOptions(options) {
  $("options").replaceChildren(...(options || []).map((o) => {
    const b = document.createElement("button");
    b.type = "button"; b.textContent = o.label; b.dataset.key = o.key;
    b.onclick = () => { bubble("customer", o.label); ws.send(JSON.stringify({ type: "choose", key: o.key })); showOptions([]); };
    return b;
  }));
}

function queued(f) {
  if (!f.position) note("chat.note.waiting");
  else if (f.ewt_s) note("chat.note.position_wait", { position: f.position, minutes: Math.max(1, Math.round(f.ewt_s / 60)) });
  else note("chat.note.position", { position: f.position });
}

function onFrame(f) {
  switch (f.type) {
    case "session":
      sessionStorage.setItem(KEY, f.token);
      if (f.resumed) { $("log").replaceChildren(); note("chat.note.reconnected"); }
      break;
    case "prompt": said("bot", f); showOptions(f.options); break;
    case "queued": queued(f); break;
    case "agent_joined": note("chat.note.agent_joined", { name: f.name }); showOptions([]); break;
    case "agent_left": note("chat.note.agent_left"); break;
    case "message": said(f.from === "customer" ? "customer" : f.from === "system" ? "bot" : "agent", f); break;
    case "ended":
      note("chat.note.ended"); showOptions([]); sessionStorage.removeItem(KEY); started = false;
      $("compose").classList.add("hidden"); $("rating").classList.toggle("hidden", !f.rate);
      break;
    case "error":
      if (f.code === "unknown_session") { sessionStorage.removeItem(KEY); location.reload(); return; }
      if (f.field === "login_token") { // expired or refused: chat on without it, unverified
        note(f.code === "login_token_expired" ? "chat.error.login_token_expired" : "chat.error.login_token");
        delete intro.login_token; ws.send(JSON.stringify({ type: "start", ...intro, language: language() })); return;
      }
      console.warn(`chat: ${f.code}: ${f.message}`);
      note(ERRORS[f.code] || "chat.error.other"); break;
    default: break;
  }
}

$("intro").onsubmit = (ev) => {
  ev.preventDefault();
  const data = new FormData(ev.target);
  intro = Object.fromEntries([...data.entries()].filter(([, v]) => v.trim()));
  const entry = new URLSearchParams(location.search).get("entry");
  if (entry) intro.entry = entry;
  if (login) intro.login_token = login;
  started = true;
  $("intro").classList.add("hidden"); $("log").classList.remove("hidden"); $("compose").classList.remove("hidden");
  connect(null);
};
$("compose").onsubmit = (ev) => {
  ev.preventDefault();
  const text = $("text").value.trim();
  if (!text) return;
  ws.send(JSON.stringify({ type: "text", text })); bubble("customer", text); $("text").value = "";
};
let typingSent = 0;
$("text").oninput = () => { if (Date.now() - typingSent > 3000 && ws?.readyState === 1) { typingSent = Date.now(); ws.send(JSON.stringify({ type: "typing" })); } };
$("leave").onclick = () => { if (ws?.readyState === 1) ws.send(JSON.stringify({ type: "leave" })); };
for (const b of document.querySelectorAll(".stars button")) {
  b.onclick = () => {
    ws.send(JSON.stringify({ type: "rate", rating: Number(b.dataset.r) }));
    $("rating").replaceChildren(render(document.createElement("p"), "chat.rating.thanks"));
  };
}
try { // after the handlers are in place: a quick submit never goes unhandled
  await setup({ remember: true });
  languagePicker($("language"));
} catch (exc) { // the page still works, in the words its HTML carries
  console.warn(`chat: no catalogue (${exc.message})`);
  $("language").classList.add("hidden");
}

try { // after the handlers are in place: a quick submit never goes unhandled
  await setup({ remember: true });
  languagePicker($("language"));
} catch (exc) { // the page still works, in the words its HTML carries
  console.warn(`chat: no catalogue (${exc.message})`);
  $("language").classList.add("hidden");
}

const token = sessionStorage.getItem(KEY);
if (token) { started = true; $("intro").classList.add("hidden"); $("log").classList.remove("hidden"); $("compose").classList.remove("hidden"); connect(token); }
else status(null);
