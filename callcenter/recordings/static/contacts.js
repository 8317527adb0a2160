// The reports page's list of the range's contacts, each linking to its timeline
// (/contacts/{contact_id}) where its recordings play. Called by reports.js after a report,
// which has loaded the user's language: its words are the catalogues' "recordings.contacts.*"
// keys; what the log holds of the center (ids, queues, agents) is marked data-user-content.
import { dateTime, render as say } from "/static/i18n/i18n.js";
import { CHANNEL, END_REASON, codeWord, userData } from "./words.js";

const when = (at, zone) => (at === null || at === undefined ? ""
  : dateTime(at, { timeZone: zone, dateStyle: "short", timeStyle: "short" }));

const HEAD = [["recordings.contacts.col.contact", ""], ["recordings.contacts.col.arrived", "l"],
  ["recordings.contacts.col.channel", "l"], ["recordings.contacts.col.queue", "l"], ["recordings.contacts.col.agent", "l"],
  ["recordings.contacts.col.ended", "l"], ["recordings.contacts.col.recordings", ""]];

function section() {
  let panel = document.getElementById("contacts-panel");
  if (panel) return panel;
  panel = document.createElement("section");
  panel.id = "contacts-panel";
  panel.className = "panel";
  panel.innerHTML = `<h2 data-i18n="recordings.contacts.heading"></h2><p class="muted" id="contacts-note"></p>
    <table id="contacts"><thead><tr></tr></thead><tbody></tbody></table>`;
  say(panel.querySelector("h2"), "recordings.contacts.heading");
  panel.querySelector("thead tr").replaceChildren(...HEAD.map(([key, cls]) => {
    const th = say(document.createElement("th"), key);
    if (cls) th.className = cls;
    return th;
  }));
  document.querySelector("main").append(panel);
  return panel;
}

/** Show the contacts of `report`'s range (and queue/agent), newest first. */
export async function showContacts(report) {
  const panel = section();
  const p = new URLSearchParams({ from: Date.parse(report.from) / 1000, to: Date.parse(report.to) / 1000 });
  if (report.queue) p.set("queue", report.queue);
  if (report.agent) p.set("agent", report.agent);
  const note = panel.querySelector("#contacts-note");
  let res;
  try {
    res = await fetch(`/api/v1/contacts?${p}`, { credentials: "same-origin" });
  } catch (e) {
    say(note, "reports.no_answer", { error: e.message });
    return;
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) { note.textContent = body.error?.message || res.statusText; return; }
  if (body.truncated) say(note, "recordings.contacts.newest", { count: body.contacts.length });
  else if (!body.contacts.length) say(note, "recordings.contacts.none");
  else { note.replaceChildren(); delete note.dataset.i18n; }
  const zone = report.timezone || "UTC";
  panel.querySelector("tbody").replaceChildren(...body.contacts.map((c) => {
    const tr = document.createElement("tr");
    const link = userData(Object.assign(document.createElement("a"), { href: `/contacts/${encodeURIComponent(c.contact_id)}` }), c.contact_id);
    tr.insertCell().append(link);
    const cells = [when(c.arrived_at, zone), codeWord(document.createElement("span"), CHANNEL, c.channel),
      userData(document.createElement("span"), c.queue), userData(document.createElement("span"), c.agent_id),
      codeWord(document.createElement("span"), END_REASON, c.end_reason)];
    for (const v of cells) {
      const td = tr.insertCell();
      td.className = "l";
      td.append(v);
    }
    tr.insertCell().textContent = c.recordings || "";
    return tr;
  }));
}
