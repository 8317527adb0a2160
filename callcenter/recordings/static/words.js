// The recordings' pages' words (the contact timeline, the reports' list of contacts): the
// catalogues' "recordings.*" keys in the signed-in user's own language (docs/i18n.md).
// Codes of the log (a channel, a contact's state, an end reason, an event's type) map to
// keys through these tables; a code without a key is shown as the log wrote it, marked as
// English (lang="en"), the log's own word.
import { setup, t } from "/static/i18n/i18n.js";

/** Load the user's language (user.language of /api/v1/auth/me), else English. */
export async function startLanguage() {
  try {
    const me = await fetch("/api/v1/auth/me", { credentials: "same-origin" }).then((r) => (r.ok ? r.json() : {}));
    await setup({ language: me.user?.language ?? null, tags: [] });
  } catch (err) { console.warn("recordings: no catalogue", err); }
}

export const CHANNEL = { voice: "recordings.channel.voice", callback: "recordings.channel.callback",
  chat: "recordings.channel.chat", voicemail: "recordings.channel.voicemail" };
export const STATE = { arrived: "recordings.state.arrived", ivr: "recordings.state.ivr", queued: "recordings.state.queued",
  offered: "recordings.state.offered", connected: "recordings.state.connected", wrap_up: "recordings.state.wrap_up",
  ended: "recordings.state.ended" };
export const END_REASON = { completed: "recordings.end.completed", abandoned: "recordings.end.abandoned",
  transferred: "recordings.end.transferred", caller_hung_up: "recordings.end.caller_hung_up", agent: "recordings.end.agent",
  customer: "recordings.end.customer", callback: "recordings.end.callback", called_back: "recordings.end.called_back",
  dial_failed: "recordings.end.dial_failed", timed_out: "recordings.end.timed_out" };
export const EVENT = {
  "agent.state": "recordings.event.agent_state",
  "contact.agent_audio_back": "recordings.event.agent_audio_back",
  "contact.agent_audio_gone": "recordings.event.agent_audio_gone",
  "contact.agent_audio_lost": "recordings.event.agent_audio_lost",
  "contact.agent_audio_missing": "recordings.event.agent_audio_missing",
  "contact.arrived": "recordings.event.arrived",
  "contact.attributes_changed": "recordings.event.attributes_changed",
  "contact.bridged": "recordings.event.bridged",
  "contact.callback_requested": "recordings.event.callback_requested",
  "contact.chat_message": "recordings.event.chat_message",
  "contact.connected": "recordings.event.connected",
  "contact.crm_routed": "recordings.event.crm_routed",
  "contact.dial_answered": "recordings.event.dial_answered",
  "contact.dial_failed": "recordings.event.dial_failed",
  "contact.dialing": "recordings.event.dialing",
  "contact.disposition": "recordings.event.disposition",
  "contact.ended": "recordings.event.ended",
  "contact.held": "recordings.event.held",
  "contact.identified": "recordings.event.identified",
  "contact.moved": "recordings.event.moved",
  "contact.muted": "recordings.event.muted",
  "contact.note": "recordings.event.note",
  "contact.offer_declined": "recordings.event.offer_declined",
  "contact.offer_timed_out": "recordings.event.offer_timed_out",
  "contact.offer_withdrawn": "recordings.event.offer_withdrawn",
  "contact.offered": "recordings.event.offered",
  "contact.overflowed": "recordings.event.overflowed",
  "contact.priority_changed": "recordings.event.priority_changed",
  "contact.queued": "recordings.event.queued",
  "contact.rated": "recordings.event.rated",
  "contact.recording": "recordings.event.recording",
  "contact.resumed": "recordings.event.resumed",
  "contact.retrieved": "recordings.event.retrieved",
  "contact.transferred": "recordings.event.transferred",
  "contact.unmuted": "recordings.event.unmuted",
  "contact.verification_failed": "recordings.event.verification_failed",
  "contact.verified": "recordings.event.verified",
  "contact.voicemail": "recordings.event.voicemail",
  "contact.voicemail_handled": "recordings.event.voicemail_handled",
  "contact.wrap_up": "recordings.event.wrap_up",
  "ivr.started": "recordings.event.ivr_started",
  "ivr.node": "recordings.event.ivr_node",
  "ivr.input": "recordings.event.ivr_input",
  "ivr.no_input": "recordings.event.ivr_no_input",
  "ivr.no_match": "recordings.event.ivr_no_match",
  "ivr.lookup": "recordings.event.ivr_lookup",
  "ivr.routed": "recordings.event.ivr_routed",
  "ivr.callback": "recordings.event.ivr_callback",
  "ivr.voicemail": "recordings.event.ivr_voicemail",
  "ivr.survey": "recordings.event.ivr_survey",
  "ivr.ended": "recordings.event.ivr_ended",
  "recording.accessed": "recordings.event.recording_accessed",
  "recording.deleted": "recordings.event.recording_deleted",
  "ticket.created": "recordings.event.ticket_created",
};

/** `el` showing the word for `code` in `table`, or the code itself, marked as the log's English. */
export function codeWord(el, table, code) {
  if (code === null || code === undefined || code === "") { el.textContent = ""; return el; }
  if (table[code]) { el.textContent = t(table[code]); el.removeAttribute("lang"); }
  else { el.textContent = code; el.lang = "en"; }
  return el;
}

/** `el` holding somebody's data (a name, a number, a queue, the event's details). */
export function userData(el, text) {
  el.textContent = text ?? "";
  el.dataset.userContent = "";
  return el;
}
