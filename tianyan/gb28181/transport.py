"""The only socket code of the SIP layer: UDP and TCP on one address, whole messages in, bytes out.

Devices behind NAT can only be reached over the way they came in, so a TCP peer is written to over the
connection it opened (kept in a table by its address) and a UDP peer at the address its packets came from.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from tianyan.gb28181.sip.errors import SipError
from tianyan.gb28181.sip.framing import Frame, Ping, Pong, StreamFramer
from tianyan.gb28181.sip.message import Limits

log = logging.getLogger(__name__)
# Tries at a port-0 start before giving up (each a fresh pick of a free port).
PORT_ZERO_ATTEMPTS = 5
UDP_BUFFER_BYTES = 4 * 1024 * 1024

TransportName = Literal["UDP", "TCP"]


@dataclass(frozen=True)
class Peer:
    """Where a message came from or goes to: transport, host and port as seen on the wire."""

    transport: TransportName
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.transport.lower()}:{host}:{self.port}"


Receiver = Callable[[bytes, Peer], None]


@dataclass
class TransportStats:
    udp_in: int = 0
    udp_out: int = 0
    tcp_in: int = 0
    tcp_out: int = 0
    tcp_refused: int = 0
    framing_errors: int = 0
    send_failures: int = 0


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, owner: SipTransport) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str, int] | tuple[str, int, int, int]) -> None:
        self.owner.stats.udp_in += 1
        if data.strip(b"\r\n") == b"":
            return  # a keep-alive ping over UDP; nothing to answer
        self.owner.deliver(data, Peer("UDP", addr[0], addr[1]))

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable from a device that went away: not our error, and not fatal.
        log.debug("sip udp: %s", exc)


class _TcpConnection(asyncio.Protocol):
    def __init__(self, owner: SipTransport, *, client: bool = False) -> None:
        self.owner = owner
        self.framer = StreamFramer(limits=owner.limits, client=client)
        self.transport: asyncio.Transport | None = None
        self.peer: Peer | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        host, port = transport.get_extra_info("peername")[:2]
        self.peer = Peer("TCP", host, port)
        if not self.owner.adopt(self):
            transport.abort()

    def data_received(self, data: bytes) -> None:
        assert self.peer is not None and self.transport is not None
        try:
            events = self.framer.feed(data)
        except SipError as exc:
            self.owner.stats.framing_errors += 1
            log.info("sip tcp %s: closing, %s", self.peer, exc)
            self.transport.abort()
            return
        for event in events:
            if isinstance(event, Frame):
                self.owner.stats.tcp_in += 1
                self.owner.deliver(event.data, self.peer)
            elif isinstance(event, Ping):
                self.transport.write(b"\r\n")
            elif isinstance(event, Pong):
                pass

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner.forget(self)


class SipTransport:
    """UDP and/or TCP sockets bound to one host and port (0: any free port, same for both)."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        receiver: Receiver,
        udp: bool = True,
        tcp: bool = True,
        limits: Limits | None = None,
        max_connections: int = 20_000,
    ) -> None:
        self.host = host
        self.port = port
        self.receiver = receiver
        self.use_udp = udp
        self.use_tcp = tcp
        self.limits = limits or Limits()
        self.max_connections = max_connections
        self.stats = TransportStats()
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None
        self._connections: dict[tuple[str, int], _TcpConnection] = {}
        # Messages for TCP peers we are still connecting to, in order.
        self._outbox: dict[tuple[str, int], list[bytes]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        # Port 0 (tests, simulators): UDP picks a free port and TCP takes the same number, which an outgoing TCP
        # connection may already hold as its local port; then pick again rather than fail.
        attempts = PORT_ZERO_ATTEMPTS if self.port == 0 else 1
        for attempt in range(1, attempts + 1):
            try:
                await self._bind()
                return
            except OSError as exc:
                if attempt == attempts or exc.errno != errno.EADDRINUSE:
                    raise
                self._unbind()

    async def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        port = self.port
        if self.use_udp:
            sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_BUFFER_BYTES)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, UDP_BUFFER_BYTES)
            try:
                sock.bind((self.host, port))
            except OSError:
                sock.close()
                raise
            port = sock.getsockname()[1]
            self._udp, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(self), sock=sock)
        if self.use_tcp:
            self._server = await loop.create_server(
                lambda: _TcpConnection(self), self.host, port, reuse_address=True, backlog=4096
            )
            port = self._server.sockets[0].getsockname()[1]
        self.port = port

    def _unbind(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._server is not None:
            self._server.close()
            self._server = None

    def deliver(self, data: bytes, peer: Peer) -> None:
        try:
            self.receiver(data, peer)
        except Exception:
            # A bug in one message's handling must not take the socket down with it.
            log.exception("sip: handling a message from %s failed", peer)

    def adopt(self, connection: _TcpConnection) -> bool:
        assert connection.peer is not None
        if len(self._connections) >= self.max_connections:
            self.stats.tcp_refused += 1
            log.warning("sip tcp: refusing %s, %d connections open", connection.peer, len(self._connections))
            return False
        self._connections[(connection.peer.host, connection.peer.port)] = connection
        return True

    def forget(self, connection: _TcpConnection) -> None:
        if connection.peer is not None:
            key = (connection.peer.host, connection.peer.port)
            if self._connections.get(key) is connection:
                del self._connections[key]

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def has_connection(self, peer: Peer) -> bool:
        return (peer.host, peer.port) in self._connections

    def send(self, data: bytes, peer: Peer) -> None:
        """Send one message: UDP to the address, TCP on the peer's connection (opened in the background if
        there is none). Failures are counted and logged; SIP's own retransmission and timeouts cover them."""
        try:
            if peer.transport == "UDP":
                if self._udp is None:
                    raise OSError("no UDP socket")
                self._udp.sendto(data, (peer.host, peer.port))
                self.stats.udp_out += 1
                return
            connection = self._connections.get((peer.host, peer.port))
            if connection is not None and connection.transport is not None and not connection.transport.is_closing():
                connection.transport.write(data)
                self.stats.tcp_out += 1
                return
            self._queue_connect(peer, data)
        except OSError as exc:
            self._failed(peer, exc)

    def _failed(self, peer: Peer, exc: BaseException) -> None:
        self.stats.send_failures += 1
        log.info("sip: cannot send to %s: %s", peer, exc)

    def _queue_connect(self, peer: Peer, data: bytes) -> None:
        key = (peer.host, peer.port)
        waiting = self._outbox.setdefault(key, [])
        waiting.append(data)
        if len(waiting) == 1:
            task = asyncio.get_running_loop().create_task(self._connect(peer), name=f"sip-connect:{peer}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _connect(self, peer: Peer) -> None:
        key = (peer.host, peer.port)
        try:
            _, connection = await asyncio.wait_for(
                asyncio.get_running_loop().create_connection(
                    lambda: _TcpConnection(self, client=True), peer.host, peer.port
                ),
                timeout=5,
            )
        except (OSError, TimeoutError) as exc:
            for _ in self._outbox.pop(key, []):
                self._failed(peer, exc)
            return
        assert connection.transport is not None
        for data in self._outbox.pop(key, []):
            connection.transport.write(data)
            self.stats.tcp_out += 1

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._udp is not None:
            self._udp.close()
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections.values()):
            if connection.transport is not None:
                connection.transport.abort()
        self._connections.clear()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        # The UDP socket is released on the loop's next turn; a restart on the same port needs it gone.
        await asyncio.sleep(0)
