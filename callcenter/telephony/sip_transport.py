"""SIP transports (UDP and TCP listeners) and RFC 3261 retransmission timers.

Transports only move bytes: each whole message is handed to ``on_message(data, peer)``
with a ``Peer`` that knows how to answer. UDP messages are datagrams; TCP streams are cut
by ``StreamFramer`` and a connection that cannot be framed is closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import cast

from callcenter.telephony.sip_call import Peer
from callcenter.telephony.sipmsg import SipParseError, StreamFramer

log = logging.getLogger(__name__)

T1 = 0.5
T2 = 4.0
TIMEOUT = 64 * T1

OnMessage = Callable[[bytes, Peer], None]


class Retransmitter:
    """Re-sends a message over UDP at T1, 2*T1, ... capped at T2 until ``stop`` or until
    ``timeout`` passes (Timers A/B, E/F and G/H of RFC 3261 17), then calls ``on_timeout``.
    Over a reliable transport it only arms the timeout."""

    def __init__(
        self,
        send: Callable[[], None],
        *,
        reliable: bool,
        on_timeout: Callable[[], None],
        timeout: float = TIMEOUT,
    ) -> None:
        self._send = send
        self._loop = asyncio.get_running_loop()
        self._deadline = self._loop.time() + timeout
        self._on_timeout = on_timeout
        self._interval = T1
        self._handle: asyncio.TimerHandle | None = None
        self._reliable = reliable
        self.sent = 0
        send()
        self._arm()

    def _arm(self) -> None:
        wait = self._interval if not self._reliable else self._deadline - self._loop.time()
        self._handle = self._loop.call_at(min(self._loop.time() + wait, self._deadline), self._fire)

    def _fire(self) -> None:
        if self._loop.time() >= self._deadline - 1e-3:
            self._handle = None
            self._on_timeout()
            return
        self._send()
        self.sent += 1
        self._interval = min(self._interval * 2, T2)
        self._arm()

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    @property
    def running(self) -> bool:
        return self._handle is not None


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, on_message: OnMessage) -> None:
        self._on_message = on_message
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        transport = self.transport
        if transport is None or not data.strip():  # CRLF keep-alives
            return

        def send(payload: bytes) -> None:
            transport.sendto(payload, addr)

        self._on_message(data, Peer(send=send, address=addr, transport="udp"))

    def error_received(self, exc: Exception) -> None:
        log.debug("SIP UDP error: %s", exc)


class ListenError(OSError):
    """A front-end could not bind its address (busy port, bad host); names the setting."""


class SipListeners:
    """Binds UDP and/or TCP on one host and port; ``close`` releases every socket and task."""

    def __init__(self, on_message: OnMessage) -> None:
        self._on_message = on_message
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def open(self, host: str, port: int, transports: tuple[str, ...]) -> None:
        """Bind every transport, or none: raises ``ListenError`` naming the one that failed.
        Port 0 takes a port free for all transports (UDP picks it; if TCP finds it taken,
        another is tried)."""
        for attempt in range(5 if port == 0 else 1):
            try:
                await self._open(host, port, transports)
                return
            except ListenError:
                if attempt == 4 or port != 0:
                    raise

    def udp_peer(self, address: tuple[str, int]) -> Peer | None:
        """A ``Peer`` that sends from our UDP socket to ``address`` (requests we originate,
        e.g. an outbound INVITE); None when no UDP listener is open."""
        transport = self._udp
        if transport is None:
            return None

        def send(payload: bytes) -> None:
            if not transport.is_closing():
                transport.sendto(payload, address)

        return Peer(send=send, address=address, transport="udp")

    async def _open(self, host: str, port: int, transports: tuple[str, ...]) -> None:
        loop = asyncio.get_running_loop()
        transport = ""
        try:
            if "udp" in transports:
                transport = "udp"
                self._udp, _ = await loop.create_datagram_endpoint(
                    lambda: _UdpProtocol(self._on_message), local_addr=(host, port)
                )
                port = self._udp.get_extra_info("sockname")[1]
            if "tcp" in transports:
                transport = "tcp"
                self._tcp = await asyncio.start_server(self._serve_tcp, host, port)
                port = self._tcp.sockets[0].getsockname()[1]
        except OSError as exc:
            await self.close()
            raise ListenError(
                f"SIP cannot listen on {host}:{port}/{transport}: "
                f"{exc.strerror or exc} (telephony.sip_host, telephony.sip_port)"
            ) from exc
        self.port = port

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        self._writers.add(writer)
        addr = writer.get_extra_info("peername")[:2]
        framer = StreamFramer()

        def send(payload: bytes) -> None:
            if not writer.is_closing():
                writer.write(payload)

        peer = Peer(send=send, address=addr, transport="tcp")
        try:
            while data := await reader.read(65536):
                for message in framer.feed(data):
                    self._on_message(message, peer)
        except SipParseError as exc:
            log.warning("SIP TCP %s:%s: closing, cannot frame the stream: %s", *addr, exc)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            self._connections.discard(task)
            writer.close()

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            for writer in list(self._writers):
                writer.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await self._tcp.wait_closed()
            self._tcp = None
