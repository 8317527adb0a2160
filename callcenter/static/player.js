// The one recording player of every page (contact timeline, desk customer card): an
// <audio controls> with its seek bar, a download link, and a plain sentence when the
// recording cannot be heard. The server (GET /api/v1/recordings/{contact_id}/{kind}) answers
// ranges, so seeking fetches only what is needed; an <audio> element never tells why it
// failed, so on an error the player asks the server once and says what it answered.
//
// Its words are the catalogues' "common.player.*" keys when the page has loaded its
// language (i18n.js setup, as the desk does); on a page that has not, the English here.
import { languages, t } from "/static/i18n/i18n.js";

const ENGLISH = {
  "common.player.log_in_again": "Log in again to play this recording.",
  "common.player.forbidden": "You may not play this recording.",
  "common.player.gone": "Recording no longer available.",
  "common.player.gone_because": "Recording no longer available ({why}).",
  "common.player.removed_on": "Recording no longer available (removed by retention on {date}).",
  "common.player.cannot_play": "This recording cannot be played.",
  "common.player.download": "Download",
  "common.player.download_label": "Download {label}",
  "common.player.the_recording": "the recording",
  "common.player.kind_recording": "{kind} recording",
};
const say = (key, params = {}) => (languages().length ? t(key, params)
  : ENGLISH[key].replace(/\{([a-z_]+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole)));

const WHY = {
  401: "common.player.log_in_again",
  403: "common.player.forbidden",
  404: "common.player.gone",
  410: "common.player.gone",
};

const clock = (s) => {
  if (s === null || s === undefined || !Number.isFinite(s)) return "";
  const whole = Math.round(s);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
};

// The player's own layout, so it looks right on any page; a page's stylesheet may refine it.
const STYLE = `.rec-player { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 10px; max-width: 100%; }
.rec-player audio { max-width: 100%; height: 36px; } .rec-status:empty { display: none; }
.rec-status { color: #b3261e; font-weight: 600; }`;
function styled() {
  if (document.getElementById("rec-player-style")) return;
  const style = Object.assign(document.createElement("style"), { id: "rec-player-style", textContent: STYLE });
  document.head.prepend(style); // first, so the page's own rules win
}

/** The URL that answers the recording as an attachment. */
export function downloadUrl(url) {
  return `${url}${url.includes("?") ? "&" : "?"}download=1`;
}

/**
 * A player for `rec` ({url, kind, part?, seconds?, available?, deleted_at?}); `label` names
 * it for screen readers ("Call recording of c-17"). `preload: "none"` fetches nothing until
 * played (a list of many); the default reads the length at once. Returns the element.
 */
export function recordingPlayer(rec, label, { preload = "metadata" } = {}) {
  styled();
  const box = document.createElement("div");
  box.className = "rec-player";
  const status = document.createElement("span");
  status.className = "rec-status";
  status.setAttribute("role", "status");
  if (rec.available === false) {
    status.textContent = gone(rec);
    box.append(status);
    return box;
  }
  const audio = document.createElement("audio");
  audio.controls = true;
  audio.preload = preload;
  audio.src = rec.url;
  audio.setAttribute("aria-label", label || say("common.player.kind_recording", { kind: rec.kind }));
  const link = document.createElement("a");
  link.className = "rec-download";
  link.href = downloadUrl(rec.url);
  link.setAttribute("download", "");
  link.textContent = say("common.player.download");
  link.setAttribute("aria-label", say("common.player.download_label", { label: label || say("common.player.the_recording") }));
  const length = document.createElement("span");
  length.className = "rec-length muted";
  length.textContent = clock(rec.seconds);
  audio.addEventListener("error", () => explain(rec, box, [audio, link, length], status), { once: true });
  box.append(audio, length, link, status);
  return box;
}

function gone(rec) {
  if (rec.deleted_at) {
    const when = new Date(rec.deleted_at * 1000).toISOString().slice(0, 10);
    return say("common.player.removed_on", { date: when });
  }
  return say("common.player.gone");
}

async function explain(rec, box, controls, status) {
  let text = say("common.player.cannot_play");
  try {
    const res = await fetch(rec.url, { credentials: "same-origin", headers: { Range: "bytes=0-0" } });
    const body = res.ok ? null : await res.json().catch(() => null);
    text = WHY[res.status] ? say(WHY[res.status]) : body?.error?.message || text;
    const why = res.status === 410 ? (body?.error?.message || "").split("available: ")[1] : "";
    if (why) text = say("common.player.gone_because", { why });
  } catch { /* the sentence above stands */ }
  for (const node of controls) node.remove();
  status.textContent = text;
  box.classList.add("rec-unavailable");
}
