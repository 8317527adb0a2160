// The one recording player of every page (contact timeline, desk customer card): an
// <audio controls> with its seek bar, a download link, and a plain sentence when the
// recording cannot be heard. The server (GET /api/v1/recordings/{contact_id}/{kind}) answers
// ranges, so seeking fetches only what is needed; an <audio> element never tells why it
// failed, so on an error the player asks the server once and says what it answered.

const WHY = {
  401: "Log in again to play this recording.",
  403: "You may not play this recording.",
  404: "Recording no longer available.",
  410: "Recording no longer available.",
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
  audio.setAttribute("aria-label", label || `${rec.kind} recording`);
  const link = document.createElement("a");
  link.className = "rec-download";
  link.href = downloadUrl(rec.url);
  link.setAttribute("download", "");
  link.textContent = "Download";
  link.setAttribute("aria-label", `Download ${label || "the recording"}`);
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
    return `Recording no longer available (removed by retention on ${when}).`;
  }
  return "Recording no longer available.";
}

async function explain(rec, box, controls, status) {
  let text = "This recording cannot be played.";
  try {
    const res = await fetch(rec.url, { credentials: "same-origin", headers: { Range: "bytes=0-0" } });
    const body = res.ok ? null : await res.json().catch(() => null);
    text = WHY[res.status] || body?.error?.message || text;
    const why = res.status === 410 ? (body?.error?.message || "").split("available: ")[1] : "";
    if (why) text = `Recording no longer available (${why}).`;
  } catch { /* the sentence above stands */ }
  for (const node of controls) node.remove();
  status.textContent = text;
  box.classList.add("rec-unavailable");
}
