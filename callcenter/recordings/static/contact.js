// One contact's page (supervisors): its summary, its recordings with players, and every
// event the interaction log holds for it, in order. Times are in the center's time zone.
import { recordingPlayer } from "/static/common/player.js";

const id = decodeURIComponent(location.pathname.split("/").pop());
const enc = encodeURIComponent(id);
const errorBox = document.getElementById("error");
let zone = "UTC";

const when = (at) => (at === null || at === undefined ? "–"
  : new Intl.DateTimeFormat("en-GB", { timeZone: zone, dateStyle: "medium", timeStyle: "medium" }).format(new Date(at * 1000)));

async function ask(url) {
  const res = await fetch(url, { credentials: "same-origin" });
  const body = await res.json().catch(() => ({}));
  if (res.status === 401) location.href = `/login?next=${encodeURIComponent(location.pathname)}`;
  if (!res.ok) throw new Error(body.error?.message || res.statusText);
  return body;
}

function summary(contact) {
  const dl = document.getElementById("summary");
  const rows = contact ? [["Channel", contact.channel], ["Caller", contact.caller], ["Customer", contact.customer_id],
    ["Queue", contact.queue], ["Agent", contact.agent_id], ["State", contact.state], ["Arrived", when(contact.arrived_at)],
    ["Answered", when(contact.answered_at)], ["Ended", when(contact.ended_at)], ["End reason", contact.end_reason],
    ["Disposition", contact.disposition], ["Transfers", contact.transfers]] : [];
  dl.replaceChildren(...rows.flatMap(([k, v]) => [
    Object.assign(document.createElement("dt"), { textContent: k }),
    Object.assign(document.createElement("dd"), { textContent: v ?? "–" })]));
}

function recordings(list) {
  const ul = document.getElementById("recordings");
  if (!list.length) { ul.replaceChildren(Object.assign(document.createElement("li"), { className: "muted", textContent: "No recordings" })); return; }
  ul.replaceChildren(...list.map((r) => {
    const li = document.createElement("li");
    const name = r.kind === "voicemail" ? "Voicemail" : `Call recording${r.part > 1 ? ` (part ${r.part})` : ""}`;
    const head = document.createElement("span");
    head.textContent = `${name} · ${when(r.recorded_at)}${r.agent_id ? ` · agent ${r.agent_id}` : ""}`;
    li.append(head, recordingPlayer(r, `${name} of contact ${id}`));
    return li;
  }));
}

function timeline(events) {
  const body = document.querySelector("#timeline tbody");
  body.replaceChildren(...events.map((e) => {
    const tr = document.createElement("tr");
    for (const [text, cls] of [[when(e.at), ""], [e.type, "l"], [e.agent_id ?? "", "l"], [e.queue ?? "", "l"],
      [Object.keys(e.data).length ? JSON.stringify(e.data) : "", "details"]]) {
      const td = tr.insertCell();
      td.textContent = text;
      if (cls) td.className = cls;
    }
    return tr;
  }));
}

async function load() {
  document.getElementById("title").textContent = `Contact ${id}`;
  document.title = `Contact ${id} · callcenter`;
  try {
    const tl = await ask(`/api/v1/contacts/${enc}/timeline`);
    zone = tl.timezone || "UTC";
    summary(tl.contact);
    timeline(tl.events);
    recordings((await ask(`/api/v1/contacts/${enc}/recordings`)).recordings);
  } catch (e) {
    errorBox.textContent = e.message;
  }
}

load();
