// The voicemail panel of the desk (docs/desk-protocol.md, "Voicemail"): a voicemail contact
// the agent has is a message to play and, with one button, a caller to call back. The
// `contact` (from the `contact` frame or welcome's `contacts`) carries `caller`, `seconds`
// and `recording_url`; `act(type, fields)` sends a desk request and resolves true when acked.
//
// Its words are the catalogues' "desk.voicemail.*" keys when the page has loaded its
// language (i18n.js setup, as the desk does); on a page that has not, the English here.
// The caller's number is the caller's data (data-user-content).
import { languages, render, t } from "/static/i18n/i18n.js";

const ENGLISH = {
  "desk.voicemail.from": "Voicemail from {caller}",
  "desk.voicemail.from_length": "Voicemail from {caller}, {length}",
  "desk.voicemail.from_unknown": "Voicemail from an unknown caller",
  "desk.voicemail.from_unknown_length": "Voicemail from an unknown caller, {length}",
  "desk.voicemail.cannot_play": "The message cannot be played (the recording is missing or unreadable).",
  "desk.voicemail.call_back": "Call back",
  "desk.voicemail.call_back_title": "Call {caller} back",
  "desk.voicemail.no_number": "The caller left no number",
};
const loaded = () => languages().length > 0;
const fill = (template, params) => template.replace(/\{([a-z_]+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
/** A plain string (an attribute). */
const say = (key, params = {}) => (loaded() ? t(key, params) : fill(ENGLISH[key], params));
/** `el` showing message `key`, its text placeholders in <bdi data-user-content> (as i18n.js render). */
function sayIn(el, key, params = {}) {
  if (loaded()) return render(el, key, params);
  const parts = ENGLISH[key].split(/(\{[a-z_]+\})/).filter(Boolean).map((part) => {
    const name = part.match(/^\{([a-z_]+)\}$/)?.[1];
    if (!name || !(name in params)) return document.createTextNode(part);
    const bdi = document.createElement("bdi");
    bdi.dataset.userContent = "";
    bdi.textContent = String(params[name]);
    return bdi;
  });
  el.replaceChildren(...parts);
  return el;
}

const clock = (s) => { s = Math.max(0, Math.round(s)); return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`; };

function node(tag, attrs = {}, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) n.setAttribute(k, v);
  for (const kid of kids) if (kid !== null && kid !== undefined) n.append(kid);
  return n;
}

/** `el` saying "Voicemail from +972501234567, 0:42": what the panel and its player are called. */
export function voicemailLabel(contact, el = document.createElement("span")) {
  const timed = typeof contact.seconds === "number";
  const length = timed ? clock(contact.seconds) : "";
  if (contact.caller) {
    return timed ? sayIn(el, "desk.voicemail.from_length", { caller: contact.caller, length })
      : sayIn(el, "desk.voicemail.from", { caller: contact.caller });
  }
  return timed ? sayIn(el, "desk.voicemail.from_unknown_length", { length }) : sayIn(el, "desk.voicemail.from_unknown");
}

/** The panel for a voicemail `contact`, or null for any other contact. */
export function voicemailPanel(contact, act) {
  if (!contact || contact.channel !== "voicemail") return null;
  const id = `vm-${contact.contact_id}`;
  const url = contact.recording_url || `/api/v1/recordings/${encodeURIComponent(contact.contact_id)}/voicemail`;
  const over = contact.status === "wrap_up";
  const heading = voicemailLabel(contact, node("h2", { id: `${id}-label` }));
  const player = node("audio", { controls: "", preload: "metadata", src: url, "aria-labelledby": `${id}-label` });
  const problem = node("p", { class: "muted hidden", role: "status" });
  let told = false;
  player.addEventListener("play", () => {
    if (told) return;
    told = true; // the first play is the agent's handling "listened"
    act("voicemail", { contact_id: contact.contact_id, action: "listened" });
  });
  player.addEventListener("error", () => {
    sayIn(problem, "desk.voicemail.cannot_play");
    problem.classList.remove("hidden");
  });
  const callBack = node("button", { class: "btn good", type: "button", disabled: over || !contact.caller ? "" : null,
    title: contact.caller ? say("desk.voicemail.call_back_title", { caller: contact.caller }) : say("desk.voicemail.no_number") });
  sayIn(callBack, "desk.voicemail.call_back");
  callBack.addEventListener("click", async () => {
    callBack.disabled = true; // one click, one call
    if (!(await act("voicemail", { contact_id: contact.contact_id, action: "call_back" }))) callBack.disabled = false;
  });
  return node("section", { class: "voicemail", "aria-labelledby": `${id}-label` }, heading, player, problem,
    node("div", { class: "row" }, callBack));
}
