"""Where a simulated device's RTP goes: UDP to the offered address, or TCP (RFC 4571) as the active or passive side.

Each is opened before the INVITE is answered (the answer names the local port), connected after the ACK, and fed
whole frames' packets. TCP refuses more when the platform stops reading, so the stream drops to the next
keyframe instead of queueing without end; a connection the platform closes ends the session.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from tianyan.gb28181.sdp_types import Transport
from tianyan.media.rtp import frame_rfc4571

# About a second of a 4 Mbit/s main stream; beyond it the platform is not keeping up.
MAX_BUFFERED_BYTES = 512 * 1024

LostCallback = Callable[[str], None]


def _lost_ignored(reason: str) -> None:
    """Until a session sets its own."""


class MediaTransport:
    """The interface the streamer writes to; `on_lost` is called once if the far end goes away."""

    kind: Transport

    def __init__(self, remote: tuple[str, int]) -> None:
        self.remote = remote
        self.on_lost: LostCallback = _lost_ignored
        self.closed = False

    async def open(self, host: str) -> int:
        """Bind locally and return the port the SDP answer names."""
        raise NotImplementedError

    async def connect(self, timeout_s: float) -> None:
        """Be ready to send: nothing for UDP, connect or accept for TCP (OSError or TimeoutError if not)."""

    def send(self, packets: list[bytes]) -> bool:
        """Send one frame's packets; False when they were dropped because the far end is not reading."""
        raise NotImplementedError

    def close(self) -> None:
        self.closed = True

    def _lost(self, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self.on_lost(reason)


class UdpMedia(MediaTransport):
    kind = Transport.UDP

    def __init__(self, remote: tuple[str, int]) -> None:
        super().__init__(remote)
        self._transport: asyncio.DatagramTransport | None = None

    async def open(self, host: str) -> int:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=(host, 0))
        return int(self._transport.get_extra_info("sockname")[1])

    def send(self, packets: list[bytes]) -> bool:
        transport = self._transport
        if self.closed or transport is None or transport.is_closing():
            return False
        if transport.get_write_buffer_size() > MAX_BUFFERED_BYTES:
            return False
        for packet in packets:
            transport.sendto(packet, self.remote)
        return True

    def close(self) -> None:
        super().close()
        if self._transport is not None:
            self._transport.close()


class _TcpMediaProtocol(asyncio.Protocol):
    def __init__(self, owner: _TcpMedia) -> None:
        self.owner = owner

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.owner.adopt(transport)

    def data_received(self, data: bytes) -> None:
        pass  # RTCP or nothing: a sending device has no use for what the platform writes back

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner.forget(self)


class _TcpMedia(MediaTransport):
    def __init__(self, remote: tuple[str, int]) -> None:
        super().__init__(remote)
        self._transport: asyncio.Transport | None = None
        self._protocol: _TcpMediaProtocol | None = None
        self._connected = asyncio.Event()

    def adopt(self, transport: asyncio.Transport) -> None:
        if self._transport is not None or self.closed:
            transport.close()  # one stream, one connection: a second one is not ours to feed
            return
        self._transport = transport
        self._connected.set()

    def forget(self, protocol: _TcpMediaProtocol) -> None:
        if self._transport is not None and self._transport.get_protocol() is protocol:
            self._lost("the platform closed the media connection")

    def send(self, packets: list[bytes]) -> bool:
        transport = self._transport
        if self.closed or transport is None or transport.is_closing():
            return False
        if transport.get_write_buffer_size() > MAX_BUFFERED_BYTES:
            return False
        transport.write(b"".join(frame_rfc4571(packet) for packet in packets))
        return True

    def close(self) -> None:
        super().close()
        self._connected.set()  # wakes a connect() still waiting for the platform; the caller sees `closed`
        if self._transport is not None:
            self._transport.close()


class TcpActiveMedia(_TcpMedia):
    """The device connects to the platform's port, from the port its answer named."""

    kind = Transport.TCP_ACTIVE

    def __init__(self, remote: tuple[str, int]) -> None:
        super().__init__(remote)
        self._socket: socket.socket | None = None

    async def open(self, host: str) -> int:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, 0))
        sock.setblocking(False)
        self._socket = sock
        return int(sock.getsockname()[1])

    async def connect(self, timeout_s: float) -> None:
        assert self._socket is not None
        loop = asyncio.get_running_loop()
        sock, self._socket = self._socket, None
        try:
            await asyncio.wait_for(loop.sock_connect(sock, self.remote), timeout_s)
            await loop.create_connection(lambda: _TcpMediaProtocol(self), sock=sock)
        except BaseException:
            sock.close()
            raise

    def close(self) -> None:
        super().close()
        if self._socket is not None:
            self._socket.close()


class TcpPassiveMedia(_TcpMedia):
    """The device listens on the port its answer named and streams to the first connection that arrives."""

    kind = Transport.TCP_PASSIVE

    def __init__(self, remote: tuple[str, int]) -> None:
        super().__init__(remote)
        self._server: asyncio.Server | None = None

    async def open(self, host: str) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _TcpMediaProtocol(self), host, 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def connect(self, timeout_s: float) -> None:
        try:
            await asyncio.wait_for(self._connected.wait(), timeout_s)
        finally:
            self._stop_listening()

    def _stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def close(self) -> None:
        super().close()
        self._stop_listening()


def media_transport(kind: Transport, remote: tuple[str, int]) -> MediaTransport:
    """The device's side of the offer: `kind` is already the counterpart of what the platform offered."""
    if kind is Transport.TCP_ACTIVE:
        return TcpActiveMedia(remote)
    if kind is Transport.TCP_PASSIVE:
        return TcpPassiveMedia(remote)
    return UdpMedia(remote)
