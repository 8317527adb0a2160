"""SIP transports (UDP and TCP listeners) and the loop timers of the transaction layer.

Transports only move bytes: each whole message is handed to ``on_message(data, peer)``
with a ``Peer`` that knows how to answer. UDP messages are datagrams; TCP streams are cut
by ``StreamFramer`` and a connection that cannot be framed is closed. ``TxDriver`` is the
I/O shell of one sans-I/O transaction (``sip_transactions``): one loop timer per deadline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Generic, TypeVar, cast

from callcenter.telephony.sip_call import Peer
from callcenter.telephony.sip_transactions import Output, Report, Transaction
from callcenter.telephony.sipmsg import SipParseError, StreamFramer

log = logging.getLogger(__name__)

OnMessage = Callable[[bytes, Peer], None]
TxT = TypeVar("TxT", bound=Transaction[Peer])


def send_output(output: Output[Peer]) -> None:
    """Send what a transaction returned when it arms no timer (see ``TxDriver``)."""
    for item in output.sends:
        item.to.send(item.data)


class TxDriver(Generic[TxT]):
    """The I/O half of one pure transaction (``sip_transactions``): sends what it returns
    through the ``Peer`` it names and keeps one loop timer on its ``deadline``. Feed it with
    ``driver.apply(driver.tx.<event>(..., driver.now()))``, which returns the reports for the
    caller to act on. Its own timer can only report ``Report.TIMEOUT``: it calls
    ``on_timeout``."""

    def __init__(self, tx: TxT, on_timeout: Callable[[], None] | None = None) -> None:
        self.tx = tx
        self._on_timeout = on_timeout
        self._loop = asyncio.get_running_loop()
        self._handle: asyncio.TimerHandle | None = None
        self._armed_at: float | None = None

    def now(self) -> float:
        return self._loop.time()

    def apply(self, output: Output[Peer]) -> tuple[Report, ...]:
        send_output(output)
        deadline = self.tx.deadline
        if deadline != self._armed_at:
            if self._handle is not None:
                self._handle.cancel()
            self._handle = None if deadline is None else self._loop.call_at(deadline, self._fire)
            self._armed_at = deadline
        return output.reports

    def stop(self) -> None:
        """Abandon the transaction: its timer is cancelled, it reports nothing more."""
        self.apply(self.tx.abandon(self.now()))

    @property
    def running(self) -> bool:
        return self._handle is not None

    def _fire(self) -> None:
        self._handle = None
        self._armed_at = None
        reports = self.apply(self.tx.on_timer(self._loop.time()))
        if Report.TIMEOUT in reports and self._on_timeout is not None:
            self._on_timeout()


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
