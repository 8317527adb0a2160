// The screen pop on the desk (docs/desk-protocol.md, "Screen pop"): the customer's card
// beside the offer and all through the contact. The `offer` frame carries `screen_pop`;
// past the CRM's budget it is the "unidentified caller" card (`screen_pop_pending`) and a
// `screen_pop` frame fills it in. A desk that (re)connects mid-contact asks the REST API.

// Its words are the catalogues' "desk.pop.*" keys; the customer's record is shown as the
// CRM wrote it, in elements marked data-user-content.

import { recordingPlayer } from "/static/common/player.js";
import { dateTime, number, render as say, t } from "/static/i18n/i18n.js";

const pops = new Map(); // contact_id -> {pop, pending}
const asked = new Set(); // contacts already fetched over REST

const h = (tag, cls, ...kids) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined && kid !== false) node.append(kid);
  return node;
};
const data = (tag, cls, ...kids) => { const node = h(tag, cls, ...kids); node.dataset.userContent = ""; return node; };
const said = (tag, cls, key, params = null) => say(h(tag, cls), key, params);
const when = (at) => (at ? dateTime(at, { dateStyle: "short", timeStyle: "short" }) : "");
const money = (v) => (v === null || v === undefined ? "–" : number(Number(v), { maximumFractionDigits: 0 }));

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
  return pop.verified ? name : t("desk.pop.name_unverified", { name });
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
    return [h("h3", "pop-name", t("desk.unidentified")),
      pending ? said("p", "muted", "desk.pop.looking_up")
        : contact.caller ? said("p", "muted", "desk.pop.number", { number: contact.caller }) : said("p", "muted", "desk.pop.number_withheld"),
      ivr(pop.ivr)];
  }
  const tickets = pop.open_tickets || [];
  return [
    data("h3", "pop-name", [cust.first_name, cust.name].filter(Boolean).join(" ")),
    identity(pop),
    h("div", "badges", cust.tier ? data("span", `badge pop-tier ${cust.tier}`, cust.tier) : said("span", "badge pop-tier", "desk.pop.no_tier"),
      cust.segment ? data("span", "badge pop-segment", cust.segment) : null,
      cust.churn_risk ? said("span", `badge risk-${cust.churn_risk}`, "desk.pop.churn", { risk: cust.churn_risk }) : null),
    pop.repeat ? repeatText(pop.repeat) : null,
    h("dl", "facts", said("dt", "", "desk.pop.account"), data("dd", "", cust.account_number || "–"),
      said("dt", "", "desk.pop.language"), data("dd", "", cust.language || "–"),
      said("dt", "", "desk.pop.clv"), h("dd", "", money(cust.clv)), said("dt", "", "desk.pop.value"), data("dd", "", cust.value_cell || "–")),
    said("b", "", "desk.pop.open_tickets", { count: tickets.length }),
    data("ul", "pop-tickets", tickets.map((k) => h("li", "", `${k.kind}: ${k.subject} (${k.status})`))),
    said("b", "", "desk.pop.last_contacts"),
    (pop.recent_contacts || []).length ? h("ul", "pop-history", pop.recent_contacts.map(contactLine))
      : said("p", "muted pop-history", "desk.pop.no_earlier_contacts"),
    ivr(pop.ivr),
  ];
}

// A card found by the caller's number or what a chat customer typed is a candidate: the
// agent confirms who it is by asking before telling anything personal.
const PROOF = { pin: "desk.pop.verified.pin", dob: "desk.pop.verified.dob", token: "desk.pop.verified.token" };
function identity(pop) {
  if (PROOF[pop.verified_by] && pop.verified) return said("div", "pop-verified", PROOF[pop.verified_by]);
  if (pop.verified) return said("div", "pop-verified", "desk.pop.verified.other", { how: pop.verified_by || "" });
  return said("div", "warn pop-unverified", "desk.pop.unverified");
}

function repeatText(r) {
  const days = Math.round(r.days_since);
  const box = h("div", "warn pop-repeat");
  if (r.reason === "open_ticket") {
    return r.days_since < 1 ? say(box, "desk.pop.repeat.ticket_today", { ticket: String(r.ticket_id) })
      : say(box, "desk.pop.repeat.ticket_days", { days, ticket: String(r.ticket_id) });
  }
  return r.days_since < 1 ? say(box, "desk.pop.repeat.called_today") : say(box, "desk.pop.repeat.called_days", { days });
}

// A past contact: when (in the agent's language), then what the log says of it, as written.
function contactLine(c) {
  const notes = (c.notes || []).map((n) => n.text).join(" · ");
  return h("li", "", `${when(c.arrived_at)} `, data("span", "", `${c.channel || ""} ${c.disposition || c.end_reason || ""}`),
    notes ? data("div", "muted", notes) : null, (c.recordings || []).map((r) => recording(c, r)));
}

// A past contact's recording: played on demand (an agent hears their own contacts' where the
// center allows; the player says so plainly when the server refuses or the file is gone).
const players = new Map(); // url -> the player, kept across re-renders so playback goes on
function recording(c, r) {
  const name = r.kind === "voicemail" ? t("desk.pop.voicemail")
    : r.part > 1 ? t("desk.pop.call_recording_part", { part: r.part }) : t("desk.pop.call_recording");
  const label = t("desk.pop.recording_of", { name, when: when(c.arrived_at) });
  if (!players.has(r.url)) players.set(r.url, recordingPlayer(r, label, { preload: "none" }));
  return h("div", "pop-recording", h("span", "muted", name), players.get(r.url));
}

function ivr(trail) {
  if (!trail || !(trail.path || []).length) return null;
  const inputs = (trail.inputs || []).map((i) => h("li", "", `${i.node}: ${i.digits ?? i.speech ?? ""}`));
  return h("div", "pop-ivr", said("b", "", "desk.pop.ivr"), data("div", "muted", trail.path.join(" → ")),
    inputs.length ? data("ul", "", inputs) : null);
}
