// The desk's audio: the agent's microphone to the server and the caller to an <audio>
// element, over one WebRTC connection negotiated on the desk socket (desk protocol 1.1:
// webrtc_offer / webrtc_ice / webrtc_close, docs/desk-protocol.md). Mute turns the
// microphone track off (the server silences the leg too); two meters show the levels.
// Remote WebRTC audio reaches Web Audio only while the stream also plays in an <audio>
// element, so the meters read the same stream the element plays.

import { t } from "/static/i18n/i18n.js";

const GATHER_MS = 2000; // host candidates gather in milliseconds; do not wait forever
const RETRY_MS = 3000;

export const audio = {
  state: "off", // off, starting, connecting, connected, failed, closed, unavailable
  pc: null, mic: null, remote: null, muted: false, error: null,
  ctx: null, micMeter: null, callerMeter: null,
};

let socket = null;
let starting = null;
let iceServers = [];

/** Called with every welcome: start the audio unless a live connection survived. */
export function onWelcome(frame, deskSocket) {
  socket = deskSocket;
  if (!frame.audio?.webrtc) { setState("unavailable"); return; }
  if (audio.pc && ["connected", "connecting", "new"].includes(audio.pc.connectionState) && frame.audio.connected) return;
  iceServers = frame.audio.ice_servers || [];
  if (!starting) starting = start(iceServers).finally(() => { starting = null; });
}

/** The server's view of the connection (webrtc_state frames): when it closed ours (ICE
 * failed, the server restarted its side), open a new one a little later. */
export function onServerState(frame) {
  if (frame.state !== "closed" || audio.state === "off") return;
  setState("closed");
  clearTimeout(onServerState.retry);
  onServerState.retry = setTimeout(() => {
    if (!starting && audio.state === "closed") starting = start(iceServers).finally(() => { starting = null; });
  }, RETRY_MS);
}

export function setMuted(on) {
  audio.muted = on;
  for (const track of audio.mic?.getAudioTracks() || []) track.enabled = !on;
  render();
}

/** Level of a side ("mic" or "caller") in dBFS, and the power share of `freq` Hz (0..1). */
export function measure(side, freq) {
  const meter = side === "mic" ? audio.micMeter : audio.callerMeter;
  if (!meter) return { dbfs: -Infinity, tone: 0 };
  const x = new Float32Array(meter.analyser.fftSize);
  meter.analyser.getFloatTimeDomainData(x);
  let total = 0; for (const v of x) total += v * v;
  const rms = Math.sqrt(total / x.length);
  if (!freq) return { dbfs: 20 * Math.log10(rms || 1e-12), tone: 0 };
  const coeff = 2 * Math.cos(2 * Math.PI * freq / audio.ctx.sampleRate); // Goertzel
  let s1 = 0, s2 = 0;
  for (const v of x) { const s0 = v + coeff * s1 - s2; s2 = s1; s1 = s0; }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return { dbfs: 20 * Math.log10(rms || 1e-12), tone: total ? power / (total * x.length / 2) : 0 };
}

async function start(servers) {
  close();
  setState("starting");
  try {
    audio.mic ||= await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
    const pc = new RTCPeerConnection({ iceServers: servers });
    audio.pc = pc;
    for (const track of audio.mic.getAudioTracks()) { track.enabled = !audio.muted; pc.addTrack(track, audio.mic); }
    pc.ontrack = (ev) => attachRemote(ev.streams[0] || new MediaStream([ev.track]));
    pc.onconnectionstatechange = () => { if (audio.pc === pc) setState(pc.connectionState); };
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    setState("connecting");
    const ack = await socket.request("webrtc_offer", { sdp: pc.localDescription.sdp });
    await pc.setRemoteDescription(ack.answer);
    pc.onicecandidate = (ev) => { // late candidates (gathering ran past GATHER_MS)
      const c = ev.candidate;
      socket.request("webrtc_ice", c ? { candidate: c.candidate, sdp_mid: c.sdpMid, sdp_mline_index: c.sdpMLineIndex } : {}).catch(() => {});
    };
    meters();
  } catch (err) {
    audio.error = err.message || String(err);
    setState("failed");
  }
}

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, GATHER_MS);
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") { clearTimeout(timer); resolve(); }
    });
  });
}

function attachRemote(stream) {
  audio.remote = stream;
  const el = document.getElementById("caller-audio");
  el.srcObject = stream;
  el.play().catch(() => {}); // autoplay may wait for a click; the meter still shows the level
  meters();
}

function meters() {
  audio.ctx ||= new AudioContext();
  if (audio.ctx.state === "suspended") audio.ctx.resume().catch(() => {});
  const tap = (stream) => {
    const analyser = audio.ctx.createAnalyser();
    analyser.fftSize = 2048;
    audio.ctx.createMediaStreamSource(stream).connect(analyser);
    return { stream, analyser };
  };
  if (audio.mic && audio.micMeter?.stream !== audio.mic) audio.micMeter = tap(audio.mic);
  if (audio.remote && audio.callerMeter?.stream !== audio.remote) audio.callerMeter = tap(audio.remote);
}

function close() {
  if (audio.pc) { audio.pc.onconnectionstatechange = null; audio.pc.close(); }
  audio.pc = null; audio.remote = null; audio.callerMeter = null;
}

function setState(state) { audio.state = state; render(); }

// The pill's words per state (the desk's own and RTCPeerConnection's connectionState).
const SAYS = {
  off: "desk.audio.off", starting: "desk.audio.starting", new: "desk.audio.new", connecting: "desk.audio.connecting",
  connected: "desk.audio.connected", disconnected: "desk.audio.disconnected", failed: "desk.audio.failed",
  closed: "desk.audio.closed", unavailable: "desk.audio.unavailable",
};

function render() {
  const pill = document.getElementById("audio-state");
  if (!pill) return;
  const key = audio.muted && audio.state === "connected" ? "desk.audio.muted" : SAYS[audio.state];
  pill.textContent = key ? t(key) : t("desk.audio.other", { state: audio.state });
  pill.className = `conn audio ${audio.state === "connected" ? "" : "off"}`;
  // the browser's own reason when it failed (its words, not ours), else what the pill is
  pill.title = audio.error ? t("desk.audio.error_title", { error: audio.error }) : t("desk.audio.title");
}

function level(meter, id) {
  const bar = document.getElementById(id);
  if (!bar) return;
  const dbfs = meter ? measure(meter === audio.micMeter ? "mic" : "caller").dbfs : -Infinity;
  bar.value = Math.max(0, Math.min(1, (dbfs + 60) / 60)); // -60 dBFS .. 0 dBFS
}

setInterval(() => { level(audio.micMeter, "mic-level"); level(audio.callerMeter, "caller-level"); }, 100);
window.addEventListener("pagehide", () => {
  if (audio.pc) socket?.request("webrtc_close").catch(() => {});
  close();
});
window.deskAudio = { audio, measure }; // for tests and the curious
