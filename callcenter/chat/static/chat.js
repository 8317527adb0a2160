// Customer web chat: /ws/chat protocol v1 (see callcenter/chat/protocol.py).
const $ = (id) => document.getElementById(id);
const KEY = "callcenter.chat.token";
let ws; let started = false; let intro = {};
// The bank's web login opens the widget as /chat#login_token=<token> (a fragment never
// reaches the server's logs); it is sent once in the start frame and dropped from the URL.
const login = new URLSearchParams(location.hash.slice(1)).get("login_token");
if (login) history.replaceState(null, "", location.pathname + location.search);

function connect(resume) {
  ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/chat`);
  ws.onopen = () => { $("status").textContent = "connected"; ws.send(JSON.stringify(resume ? { type: "start", resume } : { type: "start", ...intro })); };
  ws.onmessage = (ev) => onFrame(JSON.parse(ev.data));
  ws.onclose = () => {
    $("status").textContent = "reconnecting…";
    const token = sessionStorage.getItem(KEY);
    if (started && token) setTimeout(() => connect(token), 1000);
  };
}

function bubble(kind, text) {
  const div = document.createElement("div");
  div.className = kind === "note" ? "note" : `bubble ${kind}`;
  div.textContent = text;
  $("log").append(div);
  $("log").scrollTop = $("log").scrollHeight;
}

function showOptions(options) {
  $("options").replaceChildren(...(options || []).map((o) => {
    const b = document.createElement("button");
    b.type = "button"; b.textContent = o.label; b.dataset.key = o.key;
    b.onclick = () => { bubble("customer", o.label); ws.send(JSON.stringify({ type: "choose", key: o.key })); showOptions([]); };
    return b;
  }));
}

function onFrame(f) {
  switch (f.type) {
    case "session":
      sessionStorage.setItem(KEY, f.token);
      if (f.resumed) { $("log").replaceChildren(); bubble("note", "Reconnected"); }
      break;
    case "prompt": bubble("bot", f.text); showOptions(f.options); break;
    case "queued": bubble("note", f.position ? `You are number ${f.position} in line` + (f.ewt_s ? `, about ${Math.max(1, Math.round(f.ewt_s / 60))} min` : "") : "Waiting for an agent"); break;
    case "agent_joined": bubble("note", `${f.name} joined the chat`); showOptions([]); break;
    case "agent_left": bubble("note", "The agent has left the chat"); break;
    case "message": bubble(f.from === "customer" ? "customer" : "agent", f.text); break;
    case "typing": $("status").textContent = `${f.from || "agent"} is typing…`; setTimeout(() => { $("status").textContent = "connected"; }, 2000); break;
    case "ended":
      bubble("note", "The chat has ended"); showOptions([]); sessionStorage.removeItem(KEY); started = false;
      $("compose").classList.add("hidden"); $("rating").classList.toggle("hidden", !f.rate);
      break;
    case "error":
      if (f.code === "unknown_session") { sessionStorage.removeItem(KEY); location.reload(); return; }
      if (f.field === "login_token") { // expired or refused: chat on without it, unverified
        bubble("note", `${f.message} You can chat without being logged in.`);
        delete intro.login_token; ws.send(JSON.stringify({ type: "start", ...intro })); return;
      }
      bubble("note", f.message); break;
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
  b.onclick = () => { ws.send(JSON.stringify({ type: "rate", rating: Number(b.dataset.r) })); $("rating").replaceChildren("Thank you for your rating!"); };
}
const token = sessionStorage.getItem(KEY);
if (token) { started = true; $("intro").classList.add("hidden"); $("log").classList.remove("hidden"); $("compose").classList.remove("hidden"); connect(token); }
else $("status").textContent = "";
