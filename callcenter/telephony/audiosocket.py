"""An Asterisk AudioSocket server: one TCP connection is one call.

Framing (Asterisk ``res_audiosocket``): 1 byte type, 2 bytes big-endian length, payload.
Types: 0x00 hangup, 0x01 the call's UUID (16 bytes, first), 0x03 a DTMF digit (one ASCII
byte), 0x10 audio (16-bit signed little-endian PCM, 8 kHz mono), 0xff error. We send 0x10
frames paced at 20 ms by the media clock and 0x00 to hang up. A malformed frame (unknown
type, wrong UUID length, audio before the UUID) ends that connection with a log line;
other calls are not affected. Only peers whose address is on the allow-list
(``telephony.audiosocket_allow``, default loopback) are served: any other connection is
closed at once, before a byte is read, and logged as ``telephony.refused``. Caller and
called numbers are not carried by AudioSocket, so ``CallInfo`` holds the UUID only (Asterisk
can pass them out of band keyed by UUID).
"""

from __future__ import annotations

import asyncio
import logging
import struct
import uuid
from collections.abc import Awaitable, Callable

from callcenter.telephony.carriers import AddressAllowList, refused_log
from callcenter.telephony.media import CallChannel, CallInfo, ChannelCore, run_call, settle
from callcenter.telephony.pacer import MediaClock
from callcenter.telephony.sip_transport import ListenError

log = logging.getLogger(__name__)

OnCall = Callable[[CallChannel], Awaitable[None]]
KIND_HANGUP, KIND_UUID, KIND_DTMF, KIND_AUDIO, KIND_ERROR = 0x00, 0x01, 0x03, 0x10, 0xFF
_HEADER = struct.Struct("!BH")


def frame(kind: int, payload: bytes = b"") -> bytes:
    """One AudioSocket frame."""
    return _HEADER.pack(kind, len(payload)) + payload


class AudioSocketError(ValueError):
    """The peer broke the AudioSocket framing."""


class AudioSocketChannel(ChannelCore):
    def __init__(self, info: CallInfo, clock: MediaClock, writer: asyncio.StreamWriter) -> None:
        super().__init__(info, clock)
        self.continuous = True  # Asterisk plays what it gets; a steady stream avoids underruns
        self._writer = writer

    def _send_frame(self, pcm: bytes) -> None:
        if not self._writer.is_closing():
            self._writer.write(frame(KIND_AUDIO, pcm))

    async def _send_hangup(self) -> None:
        if not self._writer.is_closing():
            self._writer.write(frame(KIND_HANGUP))
            self._writer.close()


class AudioSocketServer:
    """``await start()`` listens; ``await stop()`` hangs up every call and closes sockets."""

    def __init__(
        self,
        host: str,
        port: int,
        on_call: OnCall,
        *,
        clock: MediaClock | None = None,
        idle_timeout: float = 30.0,
        allow: AddressAllowList | None = None,
    ) -> None:
        """``allow``: the peers served (default: loopback only)."""
        self._host = host
        self._allow = allow or AddressAllowList(["127.0.0.0/8", "::1"])
        self._port = port
        self._on_call = on_call
        self.clock = clock or MediaClock()
        self._idle_timeout = idle_timeout
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.channels: dict[str, AudioSocketChannel] = {}

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._serve, self._host, self._port)
        except OSError as exc:
            raise ListenError(
                f"AudioSocket cannot listen on {self._host}:{self._port}/tcp: "
                f"{exc.strerror or exc} (telephony.audiosocket_host, "
                "telephony.audiosocket_port)"
            ) from exc

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for channel in list(self.channels.values()):
            await channel.hangup()
        if self._connections:
            await asyncio.wait(set(self._connections), timeout=6.0)
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        host = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        if not self._allow.allows(host):
            refused_log("audiosocket", host or peer, "address_not_allowed")
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        channel: AudioSocketChannel | None = None
        app: asyncio.Task[None] | None = None
        reason = "caller"
        try:
            kind, payload = await self._read(reader)
            if kind != KIND_UUID or len(payload) != 16:
                raise AudioSocketError(f"first frame must be a 16-byte UUID, got type {kind:#x}")
            call_id = str(uuid.UUID(bytes=payload))
            channel = AudioSocketChannel(
                CallInfo(call_id=call_id, caller="", called="", front_end="audiosocket"), self.clock, writer
            )
            self.channels[call_id] = channel
            app = asyncio.get_running_loop().create_task(run_call(self._on_call, channel))
            while not channel.ended:
                kind, payload = await self._read(reader)
                if kind == KIND_AUDIO:
                    channel.deliver_audio(payload[: len(payload) & ~1])
                elif kind == KIND_DTMF and len(payload) == 1:
                    channel.deliver_digit(chr(payload[0]), "audiosocket")
                elif kind == KIND_HANGUP:
                    break
                elif kind == KIND_ERROR:
                    reason = "error"
                    log.info("audiosocket %s: peer error %s", call_id, payload.hex())
                    break
                else:
                    raise AudioSocketError(f"unexpected frame type {kind:#x} ({len(payload)} bytes)")
        except AudioSocketError as exc:
            reason = "protocol_error"
            log.info("audiosocket from %s: %s", writer.get_extra_info("peername"), exc)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            reason = "caller"
        finally:
            if channel is not None:
                channel.end(reason)
                self.channels.pop(channel.info.call_id, None)
            if app is not None:
                await settle(app)
            writer.close()
            self._connections.discard(task)

    async def _read(self, reader: asyncio.StreamReader) -> tuple[int, bytes]:
        header = await asyncio.wait_for(reader.readexactly(3), self._idle_timeout)
        kind, length = _HEADER.unpack(header)
        payload = await asyncio.wait_for(reader.readexactly(length), self._idle_timeout) if length else b""
        return kind, payload
