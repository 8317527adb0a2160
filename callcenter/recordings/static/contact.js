// One contact's page (supervisors): its summary, its recordings with players, and every
// event the interaction log holds for it, in order. Times are in the center's time zone.
// Its words are the catalogues' "recordings.*" keys in the user's own language (words.js);
// what the log holds of people and the center (numbers, names, queues, dispositions, an
// event's details) is shown as written, marked data-user-content.
import { recordingPlayer } from "/static/common/player.js";
import { dateTime, render as say, t } from "/static/i18n/i18n.js";
import { CHANNEL, END_REASON, EVENT, STATE, codeWord, startLanguage, userData } from "./words.js";

const id = decodeURIComponent(location.pathname.split("/").pop());
const enc = encodeURIComponent(id);
const errorBox = document.getElementById("error");
let zone = "UTC";

const when = (at) => (at === null || at === undefined ? "–"
  : dateTime(at, { timeZone: zone, dateStyle: "medium", timeStyle: "medium" }));
const span = () => document.createElement("span");

async function ask(url) {
  const res = await fetch(url, { credentials: "same-origin" });
  const body = await res.json().catch(() => ({}));
  if (res.status === 401) location.href = `/login?next=${encodeURIComponent(location.pathname)}`;
  if (!res.ok) throw new Error(body.error?.message || res.statusText);
  return body;
}

function summary(contact) {
  const dl = document.getElementById("summary");
  const value = (v) => (v === null || v === undefined || v === "" ? "–" : v);
  const rows = contact ? [
    ["recordings.fact.channel", codeWord(span(), CHANNEL, contact.channel)],
    ["recordings.fact.caller", userData(span(), value(contact.caller))],
    ["recordings.fact.customer", userData(span(), value(contact.customer_id))],
    ["recordings.fact.queue", userData(span(), value(contact.queue))],
    ["recordings.fact.agent", userData(span(), value(contact.agent_id))],
    ["recordings.fact.state", codeWord(span(), STATE, contact.state)],
    ["recordings.fact.arrived", when(contact.arrived_at)],
    ["recordings.fact.answered", when(contact.answered_at)],
    ["recordings.fact.ended", when(contact.ended_at)],
    ["recordings.fact.end_reason", contact.end_reason ? codeWord(span(), END_REASON, contact.end_reason) : "–"],
    ["recordings.fact.disposition", userData(span(), value(contact.disposition))],
    ["recordings.fact.transfers", String(value(contact.transfers))]] : [];
  dl.replaceChildren(...rows.flatMap(([key, shown]) => {
    const dd = document.createElement("dd");
    dd.append(shown);
    return [say(document.createElement("dt"), key), dd];
  }));
}

function recordings(list) {
  const ul = document.getElementById("recordings");
  if (!list.length) { ul.replaceChildren(say(Object.assign(document.createElement("li"), { className: "muted" }), "recordings.none")); return; }
  ul.replaceChildren(...list.map((r) => {
    const li = document.createElement("li");
    const name = r.kind === "voicemail" ? t("recordings.kind.voicemail")
      : r.part > 1 ? t("recordings.kind.call_part", { part: r.part }) : t("recordings.kind.call");
    const head = r.agent_id
      ? say(span(), "recordings.recording_by", { name, when: when(r.recorded_at), agent: r.agent_id })
      : say(span(), "recordings.recording", { name, when: when(r.recorded_at) });
    li.append(head, recordingPlayer(r, t("recordings.player_label", { name, contact_id: id })));
    return li;
  }));
}

function timeline(events) {
  const body = document.querySelector("#timeline tbody");
  body.replaceChildren(...events.map((e) => {
    const tr = document.createElement("tr");
    tr.insertCell().textContent = when(e.at);
    const type = tr.insertCell();
    type.className = "l";
    // the event in words, then its name in the log (as the API and a search know it)
    if (EVENT[e.type]) type.append(say(span(), EVENT[e.type]), " ");
    type.append(Object.assign(document.createElement("code"), { className: "muted", lang: "en", textContent: e.type }));
    for (const [text, cls] of [[e.agent_id ?? "", "l"], [e.queue ?? "", "l"],
      [Object.keys(e.data).length ? JSON.stringify(e.data) : "", "details"]]) {
      userData(tr.insertCell(), text).className = cls;
    }
    return tr;
  }));
}

async function load() {
  await startLanguage();
  say(document.getElementById("title"), "recordings.heading", { contact_id: id });
  document.title = t("recordings.page_title", { contact_id: id });
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
