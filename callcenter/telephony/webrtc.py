"""The agent's browser audio: one aiortc peer connection per agent desk, and per call a
``CallChannel`` on it (the agent leg a bridge connects to the caller).

Theory of operation
-------------------
The desk page opens its microphone and sends an SDP offer over the desk WebSocket
(``webrtc_offer``); ``DeskAudio.offer`` answers it from an ``RTCPeerConnection`` with no
STUN or TURN servers (host candidates only: the browser and the server reach each other
directly). aiortc does not trickle, so the answer carries all our candidates; the browser
may trickle its own (``webrtc_ice``). A new offer from the same agent (a reloaded page)
replaces the old connection.

The connection outlives calls: its ``WebRtcLeg`` (a ``CallChannel``) is registered as the
agent's leg in the agent-leg registry (``runtime/voice/agent_legs.py``: ``register`` once the
connection is up, ``unregister`` when it goes) and the voice runtime bridges each call to
it. Inbound audio (Opus, 48 kHz stereo, or whatever was negotiated) is resampled to 8 kHz
mono 16-bit and delivered as 20 ms frames only while the registry says the leg carries a
call; between calls it is dropped, and what a previous call left unread is discarded when
the next one starts. Outbound, the leg is paced by the shared ``MediaClock`` and sends
silence between prompts; our track hands aiortc one 20 ms frame at a time on its own
absolute-deadline pacing, taking the leg's newest frames (a small jitter allowance, bounded
so latency cannot grow) and silence when there is none.

When the browser closes its audio (``close_agent``: a reloaded page or a closed tab says
``webrtc_close``), its ICE/DTLS connection fails, a new offer replaces it, or someone hangs
the leg up, the peer closes and the leg ends with ``HungUp`` (``desk_closed``,
``agent_gone``, ``replaced``...), so a bridge never waits on a dead agent. The leg is
registered as desk audio, so a call on it takes that end as lost audio and waits for the
desk's next leg (``runtime/voice/agent_legs.py``). ``desk_gone`` is for a desk whose reconnect
grace ran out: it tells the registry first (a call waiting for the audio gives up), then
closes the connection (``agent_gone``) if it is still up. ``set_muted`` makes the leg
deliver silence (the log says muted: it is); a new call starts unmuted.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp

from callcenter.telephony.media import (
    FRAME_BYTES,
    FRAME_SAMPLES,
    FRAME_SECONDS,
    SAMPLE_RATE,
    CallChannel,
    CallInfo,
    ChannelCore,
)
from callcenter.telephony.pacer import MediaClock
from callcenter.telephony.sdp_limits import MAX_SDP

log = logging.getLogger(__name__)

JITTER_FRAMES = 3  # at most 60 ms of our audio waits for the track
TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)
SILENT_FRAME = bytes(FRAME_BYTES)

StateListener = Callable[[str, str], None]  # (agent_id, connection state)


class LegRegistry(Protocol):
    """The agent-leg registry's side for leg owners (``runtime/voice_legs.AgentLegs``)."""

    def register(self, agent_id: str, leg: CallChannel, *, desk: bool = False) -> None: ...

    def unregister(self, agent_id: str, leg: CallChannel | None = None) -> None: ...

    def desk_gone(self, agent_id: str) -> None: ...

    def on_change(self, listener: Callable[[str, bool], None]) -> Callable[[], None]: ...

    def get(self, agent_id: str) -> CallChannel | None: ...


class AudioError(Exception):
    """A signalling message that cannot be applied (bad SDP, no connection, ...)."""

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


class WebRtcLeg(ChannelCore):
    """The agent's audio over their desk's connection, for as many calls as it lives."""

    def __init__(self, info: CallInfo, clock: MediaClock, peer: _Peer) -> None:
        super().__init__(info, clock)
        self.continuous = True
        self.carrying = False
        self._peer = peer

    def carry(self, on: bool) -> None:
        """A call starts (``on``) or stops using this leg."""
        self.carrying = on
        self._peer.muted = False
        self._peer.outbound.flush()
        if on and not self.ended:  # what nobody read after the last call is not this call's audio
            while not self._events.empty():
                self._events.get_nowait()

    def _send_frame(self, pcm: bytes) -> None:
        self._peer.outbound.push(pcm)

    async def _send_hangup(self) -> None:
        await self._peer.close("server")


class _OutboundTrack(MediaStreamTrack):
    """Our audio to the browser: 20 ms frames of 8 kHz mono s16, paced on absolute deadlines."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._frames: deque[bytes] = deque()
        self._pts = 0
        self._start: float | None = None
        self.frames_sent = 0

    def push(self, pcm: bytes) -> None:
        self._frames.append(pcm)
        while len(self._frames) > JITTER_FRAMES:
            self._frames.popleft()  # the oldest: keep latency bounded

    def flush(self) -> None:
        self._frames.clear()

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        else:
            self._pts += FRAME_SAMPLES
            delay = self._start + self._pts / SAMPLE_RATE - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -5 * FRAME_SECONDS:  # a stalled loop: resynchronise, do not burst
                self._start = loop.time() - self._pts / SAMPLE_RATE
        pcm = self._frames.popleft() if self._frames else SILENT_FRAME
        frame = av.AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(pcm)
        frame.pts = self._pts
        frame.sample_rate = SAMPLE_RATE
        frame.time_base = TIME_BASE
        self.frames_sent += 1
        return frame


class _Peer:
    """One agent desk's peer connection, its two audio directions and its leg."""

    def __init__(
        self,
        agent_id: str,
        pc: RTCPeerConnection,
        clock: MediaClock,
        on_closed: Callable[[_Peer, str], None],
        on_done: Callable[[_Peer], None],
    ) -> None:
        self.agent_id = agent_id
        self.pc = pc
        self.outbound = _OutboundTrack()
        self.muted = False
        self.frames_in = 0
        self.up = asyncio.Event()
        self.closed = False
        self._on_closed = on_closed
        self._on_done = on_done
        self._closing: asyncio.Future[None] | None = None
        self.negotiation: asyncio.Future[str] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        info = CallInfo(
            call_id=f"desk-audio-{agent_id}-{id(self):x}",
            caller=agent_id,
            called=agent_id,
            front_end="webrtc",
        )
        self.leg = WebRtcLeg(info, clock, self)

    def start_reading(self, track: MediaStreamTrack) -> None:
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(self._read(track))

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                assert isinstance(frame, av.AudioFrame)
                for out in self._resampler.resample(frame):
                    pcm = bytes(out.planes[0])[: out.samples * 2]
                    self.frames_in += 1
                    if self.leg.carrying:
                        self.leg.deliver_audio(bytes(len(pcm)) if self.muted else pcm)

    async def close(self, reason: str) -> None:
        """Close once; later callers wait for the same close. The close runs in its own
        task, so a caller cancelled meanwhile (a desk's request when the server stops)
        cannot leave it half done with the connection's sockets open."""
        if self._closing is None:
            self.closed = True
            self.leg.end(reason)
            self._on_closed(self, reason)
            self._closing = asyncio.ensure_future(self._release())
        await asyncio.shield(self._closing)

    async def _release(self) -> None:
        try:
            self.outbound.stop()
            if self.negotiation is not None:  # let it finish gathering: see DeskAudio.offer
                await asyncio.wait({self.negotiation})
            try:
                await self.pc.close()
            except Exception:
                log.exception("closing the desk audio of %s failed", self.agent_id)
            if self._reader is not None:
                self._reader.cancel()
                await asyncio.gather(self._reader, return_exceptions=True)
        finally:
            self._on_done(self)  # before the close counts as done: DeskAudio.close relies on it


class DeskAudio:
    """The WebRTC side of every desk in this process: signalling in, agent legs out.

    Use from the event loop. ``offer`` / ``add_ice`` / ``close_agent`` / ``set_muted`` come
    from desk messages; each connection's leg goes into ``legs`` (the agent-leg registry)
    once it is up; ``close()`` at shutdown. ``on_state(agent_id, state)`` hears connection
    states (``connected``, ``failed``, ``closed``) so the desk can show them.
    """

    def __init__(
        self,
        clock: MediaClock | None = None,
        *,
        legs: LegRegistry | None = None,
        on_state: StateListener | None = None,
    ) -> None:
        self.clock = clock or MediaClock()
        self.legs = legs
        self._peers: dict[str, _Peer] = {}
        self._open: set[_Peer] = set()  # every peer until its close has finished
        self._stopped = False
        self._on_state = on_state
        self._stop_listening = legs.on_change(self._carrying) if legs is not None else None

    # Public methods for the desk (signalling) ---------------------------------------------------

    async def offer(self, agent_id: str, sdp: str) -> str:
        """Answer a desk's SDP offer; return the answer SDP (with all our candidates)."""
        check_sdp(sdp)
        old = self._peers.get(agent_id)
        if old is not None:
            await old.close("replaced")
        if self._stopped:
            raise AudioError("no_audio", "the server is shutting down")
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        peer = _Peer(agent_id, pc, self.clock, self._closed, self._open.discard)
        self._peers[agent_id] = peer
        self._open.add(peer)
        self._watch(peer)
        # Run to the end even if the desk's request is cancelled: a connection closed while
        # it gathers its candidates would leave the sockets opened after the close behind.
        peer.negotiation = asyncio.ensure_future(_answer(pc, peer.outbound, sdp))
        peer.negotiation.add_done_callback(_seen)
        try:
            return await asyncio.shield(peer.negotiation)
        except AudioError:
            await peer.close("bad_offer")
            raise

    async def add_ice(
        self, agent_id: str, candidate: str | None, sdp_mid: str | None, sdp_mline_index: int | None
    ) -> None:
        """Add a candidate the browser trickled; ``None`` means no more will come."""
        peer = self._peers.get(agent_id)
        if peer is None:
            raise AudioError("no_audio", "send webrtc_offer before ICE candidates")
        if candidate is None:
            await peer.pc.addIceCandidate(None)
            return
        if sdp_mid is None and sdp_mline_index is None:
            raise AudioError("bad_field", "a candidate needs sdp_mid or sdp_mline_index", field="sdp_mid")
        text = candidate.removeprefix("candidate:")
        bits = text.split()
        refusal = AudioError("bad_field", f"not an ICE candidate: {candidate[:80]!r}", field="candidate")
        if len(bits) < 8 or bits[6] != "typ" or not bits[1].isdigit() or not bits[5].isdigit():
            raise refusal  # checked here: aiortc's parser only asserts
        try:
            parsed = candidate_from_sdp(text)
        except (ValueError, IndexError):
            raise refusal from None
        parsed.sdpMid = sdp_mid
        parsed.sdpMLineIndex = sdp_mline_index
        await peer.pc.addIceCandidate(parsed)

    async def close_agent(self, agent_id: str, reason: str = "agent_gone") -> bool:
        """Tear down the agent's connection (its leg ends with ``reason``); False if none."""
        peer = self._peers.get(agent_id)
        if peer is None:
            return False
        await peer.close(reason)
        return True

    async def desk_gone(self, agent_id: str) -> bool:
        """The agent's desk did not come back within its grace period: the registry hears
        it first (a call waiting for this desk's audio stops waiting), then the connection,
        if still up (the page lost only its socket), closes with ``agent_gone``; False if
        there was none."""
        if self.legs is not None:
            self.legs.desk_gone(agent_id)
        return await self.close_agent(agent_id, "agent_gone")

    def set_muted(self, agent_id: str, muted: bool) -> None:
        peer = self._peers.get(agent_id)
        if peer is not None:
            peer.muted = muted

    async def close(self) -> None:
        """Close every connection, also those whose close is already under way (a desk
        that just left), so no ICE socket outlives the server."""
        self._stopped = True
        while self._open:
            await next(iter(self._open)).close("server_stopped")
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None

    # Queries ------------------------------------------------------------------------------------

    def connected(self, agent_id: str) -> bool:
        peer = self._peers.get(agent_id)
        return peer is not None and peer.pc.connectionState == "connected"

    async def wait_connected(self, agent_id: str, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the agent's connection to be up; False if it is not."""
        peer = self._peers.get(agent_id)
        if peer is None:
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(peer.up.wait(), timeout)
        return self.connected(agent_id)

    def leg(self, agent_id: str) -> WebRtcLeg | None:
        """The agent's leg on their desk connection, or None when there is none."""
        peer = self._peers.get(agent_id)
        return None if peer is None or peer.closed else peer.leg

    def stats(self, agent_id: str) -> dict[str, Any]:
        peer = self._peers.get(agent_id)
        if peer is None:
            return {}
        return {
            "state": peer.pc.connectionState,
            "frames_in": peer.frames_in,
            "frames_out": peer.outbound.frames_sent,
            "muted": peer.muted,
            "carrying": peer.leg.carrying,
        }

    # Internals ------------------------------------------------------------------------------------

    def _watch(self, peer: _Peer) -> None:
        @peer.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio":
                peer.start_reading(track)

        @peer.pc.on("connectionstatechange")
        async def on_state() -> None:
            state = peer.pc.connectionState
            if peer.closed:
                return
            self._tell(peer.agent_id, state)
            if state == "connected" and not peer.up.is_set():
                peer.up.set()
                if self.legs is not None:
                    self.legs.register(peer.agent_id, peer.leg, desk=True)
            elif state == "failed":
                log.info("desk audio of %s failed; closing it", peer.agent_id)
                await peer.close("agent_gone")

    def _closed(self, peer: _Peer, reason: str) -> None:
        if self._peers.get(peer.agent_id) is peer:
            del self._peers[peer.agent_id]
        if self.legs is not None:
            self.legs.unregister(peer.agent_id, peer.leg)
        if peer.up.is_set() and reason != "replaced":  # the desk is negotiating its successor
            self._tell(peer.agent_id, "closed")

    def _carrying(self, agent_id: str, in_use: bool) -> None:
        peer = self._peers.get(agent_id)
        if peer is not None and self.legs is not None and self.legs.get(agent_id) is peer.leg:
            peer.leg.carry(in_use)

    def _tell(self, agent_id: str, state: str) -> None:
        if self._on_state is not None:
            try:
                self._on_state(agent_id, state)
            except Exception:
                log.exception("desk audio state listener failed")


async def _answer(pc: RTCPeerConnection, outbound: MediaStreamTrack, sdp: str) -> str:
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        if not any(t.kind == "audio" for t in pc.getTransceivers()):
            raise AudioError("bad_field", "the offer has no audio section", field="sdp")
        pc.addTrack(outbound)  # takes the offer's audio transceiver: send and receive
        await pc.setLocalDescription(await pc.createAnswer())
    except AudioError:
        raise
    except Exception as exc:  # aiortc refuses SDP it cannot use with ValueError and friends
        raise AudioError("bad_field", f"the offer cannot be answered: {exc}", field="sdp") from None
    return str(pc.localDescription.sdp)


def _seen(future: asyncio.Future[str]) -> None:
    """An answer nobody waits for any more (the desk left) must not log a lost error."""
    if not future.cancelled():
        future.exception()


def check_sdp(sdp: str) -> None:
    """Refuse what is plainly not a WebRTC audio offer, naming the field."""
    if len(sdp) > MAX_SDP:
        raise AudioError("bad_field", f"sdp is longer than {MAX_SDP} characters", field="sdp")
    if not sdp.startswith("v=0"):
        raise AudioError("bad_field", "sdp must be a session description (starting with v=0)", field="sdp")
    if "m=audio" not in sdp:
        raise AudioError("bad_field", "the offer has no audio section (m=audio)", field="sdp")
