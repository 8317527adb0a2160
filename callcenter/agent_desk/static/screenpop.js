// The screen pop on the desk (docs/desk-protocol.md, "Screen pop"): the customer's card
// beside the offer and all through the contact. The `offer` frame carries `screen_pop`;
// past the CRM's budget it is the "unidentified caller" card (`screen_pop_pending`) and a
// `screen_pop` frame fills it in. A desk that (re)connects mid-contact asks the REST API.

import { recordingPlayer } from "/static/common/player.js";

const pops = new Map(); // contact_id -> {pop, pending}
const asked = new Set(); // contacts already fetched over REST

const h = (tag, cls, ...kids) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined && kid !== false) node.append(kid);
  return node;
};
const when = (at) => (at ? new Date(at * 1000).toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" }) : "");
const money = (v) => (v === null || v === undefined ? "–" : Number(v).toLocaleString(undefined, { maximumFractionDigits: 0 }));

/** Keep the pop a server frame carries (offer, screen_pop, welcome's offers). */
export function notePop(frame) {
  if (frame.type === "offer" && frame.screen_pop) keep(frame.contact_id, frame.screen_pop, !!frame.screen_pop_pending);
  else if (frame.type === "screen_pop" && frame.screen_pop) keep(frame.contact_id, frame.screen_pop, false);
  else if (frame.type === "welcome") for (const o of frame.offers || []) if (o.screen_pop) keep(o.contact_id, o.screen_pop, !!o.screen_pop_pending);
}

function keep(contactId, pop, pending) {
  const had = pops.get(contactId);
  if (had && had.pop.identified && !pop.identified) return; // never replace a card by the placeholder
  pops.set(contactId, { pop, pending });
}

export function popOf(contactId) { return pops.get(contactId)?.pop ?? null; }

/** "Noa Levi", "Noa Levi (unverified)" for a candidate, or null while not identified. */
export function customerName(contactId) {
  const pop = popOf(contactId);
  const cust = pop?.customer;
  if (!cust || !cust.identified) return null;
  const name = [cust.first_name, cust.name].filter(Boolean).join(" ");
  return pop.verified ? name : `${name} (unverified)`;
}

/** Fill `node` with the card of `contact` (an offer or a contact); hide it when none. */
export function showPop(node, contact, rerender) {
  if (!contact) { node.classList.add("hidden"); return; }
  const entry = pops.get(contact.contact_id);
  if (!entry) { fetchPop(contact.contact_id, rerender); node.classList.add("hidden"); return; }
  node.classList.remove("hidden");
  node.replaceChildren(...card(entry.pop, entry.pending, contact).filter(Boolean));
}

async function fetchPop(contactId, rerender) {
  if (asked.has(contactId)) return;
  asked.add(contactId);
  try {
    const res = await fetch(`/api/v1/contacts/${encodeURIComponent(contactId)}/screen-pop`, { credentials: "same-origin" });
    if (!res.ok) return;
    keep(contactId, await res.json(), false);
    rerender();
  } catch { /* the desk keeps working without the card */ }
}

function card(pop, pending, contact) {
  const cust = pop.customer || {};
  if (!pop.identified) {
    return [h("h3", "pop-name", "Unidentified caller"),
      h("p", "muted", pending ? "Looking up the caller…" : `Number ${contact.caller || "withheld"}`), ivr(pop.ivr)];
  }
  const tickets = pop.open_tickets || [];
  return [
    h("h3", "pop-name", [cust.first_name, cust.name].filter(Boolean).join(" ")),
    identity(pop),
    h("div", "badges", h("span", `badge pop-tier ${cust.tier || ""}`, cust.tier || "no tier"),
      cust.segment ? h("span", "badge pop-segment", cust.segment) : null,
      cust.churn_risk ? h("span", `badge risk-${cust.churn_risk}`, `churn ${cust.churn_risk}`) : null),
    pop.repeat ? h("div", "warn pop-repeat", repeatText(pop.repeat)) : null,
    h("dl", "facts", h("dt", "", "Account"), h("dd", "", cust.account_number || "–"),
      h("dt", "", "Language"), h("dd", "", cust.language || "–"),
      h("dt", "", "CLV"), h("dd", "", money(cust.clv)), h("dt", "", "Value"), h("dd", "", cust.value_cell || "–")),
    h("b", "", `Open tickets (${tickets.length})`),
    h("ul", "pop-tickets", tickets.map((t) => h("li", "", `${t.kind}: ${t.subject} (${t.status})`))),
    h("b", "", "Last contacts"),
    (pop.recent_contacts || []).length ? h("ul", "pop-history", pop.recent_contacts.map(contactLine))
      : h("p", "muted pop-history", "No earlier contacts"),
    ivr(pop.ivr),
  ];
}

// A card found by the caller's number or what a chat customer typed is a candidate: the
// agent confirms who it is by asking before telling anything personal.
const PROOF = { pin: "account number and PIN", dob: "account number and date of birth", token: "the bank's web login" };
function identity(pop) {
  if (pop.verified) return h("div", "pop-verified", `Verified by ${PROOF[pop.verified_by] || pop.verified_by}`);
  return h("div", "warn pop-unverified", "Unverified: the contact's number or typed details match this customer. Confirm their identity before disclosing anything.");
}

function repeatText(r) {
  const days = r.days_since < 1 ? "today" : `${Math.round(r.days_since)} d ago`;
  return r.reason === "open_ticket" ? `Repeat contact (${days}) about open ticket ${r.ticket_id}` : `Repeat contact: called ${days}`;
}

function contactLine(c) {
  const notes = (c.notes || []).map((n) => n.text).join(" · ");
  return h("li", "", `${when(c.arrived_at)} ${c.channel || ""} ${c.disposition || c.end_reason || ""}`,
    notes ? h("div", "muted", notes) : null, (c.recordings || []).map((r) => recording(c, r)));
}

// A past contact's recording: played on demand (an agent hears their own contacts' where the
// center allows; the player says so plainly when the server refuses or the file is gone).
const players = new Map(); // url -> the player, kept across re-renders so playback goes on
function recording(c, r) {
  const name = r.kind === "voicemail" ? "Voicemail" : `Call recording${r.part > 1 ? ` ${r.part}` : ""}`;
  if (!players.has(r.url)) players.set(r.url, recordingPlayer(r, `${name} of ${when(c.arrived_at)}`, { preload: "none" }));
  return h("div", "pop-recording", h("span", "muted", name), players.get(r.url));
}

function ivr(trail) {
  if (!trail || !(trail.path || []).length) return null;
  const inputs = (trail.inputs || []).map((i) => h("li", "", `${i.node}: ${i.digits ?? i.speech ?? ""}`));
  return h("div", "pop-ivr", h("b", "", "IVR"), h("div", "muted", trail.path.join(" → ")),
    inputs.length ? h("ul", "", inputs) : null);
}
