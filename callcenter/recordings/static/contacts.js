// The reports page's list of the range's contacts, each linking to its timeline
// (/contacts/{contact_id}) where its recordings play. Called by reports.js after a report.
const when = (at, zone) => (at === null || at === undefined ? ""
  : new Intl.DateTimeFormat("en-GB", { timeZone: zone, dateStyle: "short", timeStyle: "short" }).format(new Date(at * 1000)));

function section() {
  let panel = document.getElementById("contacts-panel");
  if (panel) return panel;
  panel = document.createElement("section");
  panel.id = "contacts-panel";
  panel.className = "panel";
  panel.innerHTML = `<h2>Contacts</h2><p class="muted" id="contacts-note"></p>
    <table id="contacts"><thead><tr><th>Contact</th><th class="l">Arrived</th><th class="l">Channel</th><th class="l">Queue</th>
    <th class="l">Agent</th><th class="l">Ended</th><th>Recordings</th></tr></thead><tbody></tbody></table>`;
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
    note.textContent = `The server did not answer (${e.message}).`;
    return;
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) { note.textContent = body.error?.message || res.statusText; return; }
  note.textContent = body.truncated ? "The newest 200 contacts of the range:" : body.contacts.length ? "" : "No contacts in this range.";
  const zone = report.timezone || "UTC";
  panel.querySelector("tbody").replaceChildren(...body.contacts.map((c) => {
    const tr = document.createElement("tr");
    const link = Object.assign(document.createElement("a"), { href: `/contacts/${encodeURIComponent(c.contact_id)}`, textContent: c.contact_id });
    tr.insertCell().append(link);
    for (const v of [when(c.arrived_at, zone), c.channel, c.queue, c.agent_id, c.end_reason]) {
      const td = tr.insertCell();
      td.className = "l";
      td.textContent = v ?? "";
    }
    tr.insertCell().textContent = c.recordings || "";
    return tr;
  }));
}
