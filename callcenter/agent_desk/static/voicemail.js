// The voicemail panel of the desk (docs/desk-protocol.md, "Voicemail"): a voicemail contact
// the agent has is a message to play and, with one button, a caller to call back. The
// `contact` (from the `contact` frame or welcome's `contacts`) carries `caller`, `seconds`
// and `recording_url`; `act(type, fields)` sends a desk request and resolves true when acked.

const clock = (s) => { s = Math.max(0, Math.round(s)); return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`; };

function node(tag, attrs = {}, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) n.setAttribute(k, v);
  for (const kid of kids) if (kid !== null && kid !== undefined) n.append(kid);
  return n;
}

/** "Voicemail from +972501234567, 0:42": what the panel and its player are called. */
export function voicemailLabel(contact) {
  const who = contact.caller || "an unknown caller";
  return typeof contact.seconds === "number" ? `Voicemail from ${who}, ${clock(contact.seconds)}` : `Voicemail from ${who}`;
}

/** The panel for a voicemail `contact`, or null for any other contact. */
export function voicemailPanel(contact, act) {
  if (!contact || contact.channel !== "voicemail") return null;
  const id = `vm-${contact.contact_id}`;
  const url = contact.recording_url || `/api/v1/recordings/${encodeURIComponent(contact.contact_id)}/voicemail`;
  const over = contact.status === "wrap_up";
  const heading = node("h2", { id: `${id}-label` }, voicemailLabel(contact));
  const player = node("audio", { controls: "", preload: "metadata", src: url, "aria-labelledby": `${id}-label` });
  const problem = node("p", { class: "muted hidden", role: "status" });
  let told = false;
  player.addEventListener("play", () => {
    if (told) return;
    told = true; // the first play is the agent's handling "listened"
    act("voicemail", { contact_id: contact.contact_id, action: "listened" });
  });
  player.addEventListener("error", () => {
    problem.textContent = "The message cannot be played (the recording is missing or unreadable).";
    problem.classList.remove("hidden");
  });
  const callBack = node("button", { class: "btn good", type: "button", disabled: over || !contact.caller ? "" : null,
    title: contact.caller ? `Call ${contact.caller} back` : "The caller left no number" }, "Call back");
  callBack.addEventListener("click", async () => {
    callBack.disabled = true; // one click, one call
    if (!(await act("voicemail", { contact_id: contact.contact_id, action: "call_back" }))) callBack.disabled = false;
  });
  return node("section", { class: "voicemail", "aria-labelledby": `${id}-label` }, heading, player, problem,
    node("div", { class: "row" }, callBack));
}
