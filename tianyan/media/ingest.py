"""The RTP ingest's sockets (asyncio): UDP, TCP passive and TCP active streams on ports from a pool.

Each stream owns one port and one RtpPsReceiver (the pure receive path); the sockets only hand
it packets with the time they arrived. One housekeeping task per ingest gives up on reorder gaps
of streams that went quiet and reports a stream silent for `stream_timeout_s` through its
`on_lost`, once. Closing a stream returns its port to the pool and ends its sink.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable
from typing import Literal

from tianyan.media.ingest_receiver import IngestStats, RtpPsReceiver
from tianyan.media.tcp_framing import TcpFramingError, TcpRtpDeframer
from tianyan.media.units import MediaSink

log = logging.getLogger(__name__)

TransportName = Literal["udp", "tcp-passive", "tcp-active"]
TRANSPORTS: tuple[str, ...] = ("udp", "tcp-passive", "tcp-active")
# A second of a 16 Mbit/s stream: bursts of a keyframe from many cameras at once must not overflow the socket.
UDP_RECEIVE_BUFFER_BYTES = 2 * 1024 * 1024
DEFAULT_CONNECT_TIMEOUT_S = 5.0
# The IngestStats counters kept for closed streams, so totals over the ingest's life never go down.
RETIRED_COUNTERS = (
    "packets", "bytes", "lost", "reordered", "duplicates", "late", "wrong_ssrc", "malformed", "frames", "lost_frames",
)  # fmt: skip
_monotonic = time.monotonic


class IngestError(RuntimeError):
    """A stream that cannot be opened or connected: no free port, a bad transport, a refused connection."""


class PortPool:
    """The ports streams may listen on; handed out round-robin so a just-closed port rests before reuse."""

    def __init__(self, port_min: int, port_max: int) -> None:
        if not 1 <= port_min <= port_max <= 65535:
            raise IngestError(f"bad RTP port range {port_min}-{port_max}")
        self.port_min, self.port_max = port_min, port_max
        self._in_use: set[int] = set()
        self._next = port_min

    @property
    def free(self) -> int:
        return self.port_max - self.port_min + 1 - len(self._in_use)

    def candidates(self) -> list[int]:
        """Every free port, starting after the one handed out last."""
        span = range(self.port_min, self.port_max + 1)
        start = self._next - self.port_min
        ordered = [*span[start:], *span[:start]]
        return [port for port in ordered if port not in self._in_use]

    def take(self, port: int) -> None:
        self._in_use.add(port)
        self._next = port + 1 if port < self.port_max else self.port_min

    def give_back(self, port: int) -> None:
        self._in_use.discard(port)


def _noop_lost(reason: str) -> None:
    """For streams opened without a listener."""


class IngestStream:
    """One stream being received; `port` goes in the SDP offer."""

    def __init__(
        self,
        ingest: RtpIngest,
        transport: TransportName,
        port: int,
        sock: socket.socket,
        receiver: RtpPsReceiver,
        on_lost: Callable[[str], None],
    ) -> None:
        self.ingest = ingest
        self.transport = transport
        self.port = port
        self.receiver = receiver
        self.on_lost = on_lost
        self.opened_at = _monotonic()
        self.closed = False
        self.lost_reason: str | None = None
        self.framing_errors = 0
        self._socket: socket.socket | None = sock
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None
        self._connection: asyncio.Transport | None = None

    @property
    def ssrc(self) -> int | None:
        return self.receiver.ssrc

    @property
    def stats(self) -> IngestStats:
        return self.receiver.stats(_monotonic())

    def expect_ssrc(self, ssrc: int) -> None:
        self.receiver.expect_ssrc(ssrc)

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        sock = self._socket
        assert sock is not None
        if self.transport == "udp":
            self._socket = None
            self._udp, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(self), sock=sock)
        elif self.transport == "tcp-passive":
            self._socket = None
            self._server = await loop.create_server(lambda: _TcpProtocol(self), sock=sock)

    async def connect(self, host: str, port: int, timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S) -> None:
        """TCP active: connect from our port to the device's (host, port) named in its answer."""
        if self.transport != "tcp-active":
            raise IngestError(f"only a tcp-active stream connects; this one is {self.transport}")
        if self.closed:
            raise IngestError("the stream is closed")
        sock, self._socket = self._socket, None
        if sock is None:
            raise IngestError("the stream is connected already")
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.sock_connect(sock, (host, port)), timeout_s)
            await loop.create_connection(lambda: _TcpProtocol(self), sock=sock)
        except (OSError, TimeoutError) as exc:
            sock.close()
            raise IngestError(f"cannot connect to the device's media port {host}:{port}: {exc or 'timed out'}") from exc
        except BaseException:
            sock.close()
            raise

    def adopt(self, transport: asyncio.Transport) -> bool:
        """A TCP connection arrived (or was made); the first one is the stream's, later ones are refused."""
        if self.closed or self._connection is not None:
            transport.close()
            return False
        self._connection = transport
        if self._server is not None:
            self._server.close()  # one device, one connection: stop listening
        return True

    def connection_ended(self, transport: asyncio.BaseTransport, reason: str) -> None:
        if transport is self._connection and not self.closed:
            self.lost(reason)

    def lost(self, reason: str) -> None:
        """Report the stream lost, once; it stays open (and keeps its port) until closed."""
        if self.lost_reason is not None or self.closed:
            return
        self.lost_reason = reason
        try:
            self.on_lost(reason)
        except Exception:
            log.exception("on_lost of the stream on port %d failed", self.port)

    def check(self, now_s: float, timeout_s: float) -> None:
        """Housekeeping: flush expired reorder gaps, notice silence."""
        self.receiver.tick(now_s)
        last = self.receiver.last_packet_at or self.opened_at
        if now_s - last >= timeout_s:
            self.lost(f"no media for {timeout_s:g}s")

    async def close(self, reason: str = "stopped") -> None:
        if self.closed:
            return
        self.closed = True
        for closable in (self._udp, self._server, self._connection, self._socket):
            if closable is not None:
                with contextlib.suppress(Exception):
                    closable.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        if self._udp is not None:
            # The socket itself closes a loop turn later: wait, so the port is free when it goes back to the pool.
            protocol = self._udp.get_protocol()
            assert isinstance(protocol, _UdpProtocol)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(protocol.closed), 1.0)
        self.ingest._forget(self)
        try:
            self.receiver.sink.on_end(reason)
        except Exception:
            log.exception("on_end of the stream on port %d failed", self.port)


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, stream: IngestStream) -> None:
        self.stream = stream
        self.receive = stream.receiver.receive
        self.failed = False
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        try:
            self.receive(data, _monotonic())
        except Exception:
            # A sink that raises must not stop the socket; say so once, not per packet.
            if not self.failed:
                self.failed = True
                log.exception("the receive path of the stream on port %d failed", self.stream.port)

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP unreachable from a device that stopped: the silence check reports it


class _TcpProtocol(asyncio.Protocol):
    def __init__(self, stream: IngestStream) -> None:
        self.stream = stream
        self.receive = stream.receiver.receive
        self.deframer = TcpRtpDeframer()
        self.transport: asyncio.Transport | None = None
        self.failed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        if self.stream.adopt(transport):
            self.transport = transport
            with contextlib.suppress(OSError):
                sock = transport.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER_BYTES)

    def data_received(self, data: bytes) -> None:
        if self.transport is None:
            return
        try:
            packets = self.deframer.feed(data)
        except TcpFramingError as exc:
            self.stream.framing_errors += 1
            transport, self.transport = self.transport, None
            transport.close()
            self.stream.lost(f"the media connection is out of step: {exc}")
            return
        now = _monotonic()
        receive = self.receive
        try:
            for packet in packets:
                receive(packet, now)
        except Exception:
            if not self.failed:
                self.failed = True
                log.exception("the receive path of the stream on port %d failed", self.stream.port)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.stream.connection_ended(self.transport, "the device closed the media connection")


class RtpIngest:
    """Receives GB/T 28181 RTP/PS streams on ports from [port_min, port_max] of `host`."""

    def __init__(
        self,
        host: str,
        port_min: int,
        port_max: int,
        reorder_window_ms: float = 120,
        stream_timeout_s: float = 5.0,
    ) -> None:
        if stream_timeout_s <= 0:
            raise IngestError(f"stream timeout must be positive, got {stream_timeout_s}")
        if reorder_window_ms < 0:
            raise IngestError(f"reorder window must not be negative, got {reorder_window_ms}")
        self.host = host
        self.ports = PortPool(port_min, port_max)
        self.reorder_window_ms = reorder_window_ms
        self.stream_timeout_s = stream_timeout_s
        self._streams: set[IngestStream] = set()
        self._watchdog: asyncio.Task[None] | None = None
        self.opened = 0
        self.retired: dict[str, int] = dict.fromkeys(RETIRED_COUNTERS, 0)

    @property
    def streams(self) -> frozenset[IngestStream]:
        return frozenset(self._streams)

    async def open_stream(
        self,
        ssrc: int | None,
        transport: str,
        sink: MediaSink,
        on_lost: Callable[[str], None] | None = None,
        remote: tuple[str, int] | None = None,
        *,
        accept_any_ssrc: bool = False,
    ) -> IngestStream:
        """Start receiving one stream; for tcp-active, `remote` (or a later `connect`) is the device's port."""
        if transport not in TRANSPORTS:
            raise IngestError(f"transport must be one of {', '.join(TRANSPORTS)}, got {transport!r}")
        if ssrc is not None and not 0 <= ssrc <= 0xFFFFFFFF:
            raise IngestError(f"SSRC must fit 32 bits, got {ssrc}")
        kind: TransportName = transport  # type: ignore[assignment]
        port, sock = self._bind(kind)
        receiver = RtpPsReceiver(
            sink, ssrc=ssrc, accept_any_ssrc=accept_any_ssrc, reorder_window_ms=self.reorder_window_ms
        )
        stream = IngestStream(self, kind, port, sock, receiver, on_lost or _noop_lost)
        self._streams.add(stream)
        self.opened += 1
        try:
            await stream._start()
            if kind == "tcp-active" and remote is not None:
                await stream.connect(*remote)
        except BaseException:
            await stream.close("failed to open")
            raise
        self._ensure_watchdog()
        return stream

    def _bind(self, kind: TransportName) -> tuple[int, socket.socket]:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        for port in self.ports.candidates():
            sock = socket.socket(family, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
            try:
                if kind == "udp":
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER_BYTES)
                else:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((self.host, port))
                if kind == "tcp-passive":
                    sock.listen(4)
                sock.setblocking(False)
            except OSError:
                sock.close()
                continue
            self.ports.take(port)
            return port, sock
        raise IngestError(f"no free RTP port in {self.ports.port_min}-{self.ports.port_max} on {self.host}")

    def _forget(self, stream: IngestStream) -> None:
        if stream in self._streams:
            self._streams.discard(stream)
            self.ports.give_back(stream.port)
            stats = stream.stats
            for name in RETIRED_COUNTERS:
                self.retired[name] += getattr(stats, name)

    def _ensure_watchdog(self) -> None:
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.get_running_loop().create_task(self._watch(), name="rtp-ingest-watchdog")

    async def _watch(self) -> None:
        period_s = min(0.25, self.stream_timeout_s / 4, max(self.reorder_window_ms / 1000, 0.02))
        while self._streams:
            await asyncio.sleep(period_s)
            now = _monotonic()
            for stream in tuple(self._streams):
                try:
                    stream.check(now, self.stream_timeout_s)
                except Exception:
                    log.exception("housekeeping of the stream on port %d failed", stream.port)

    async def close(self) -> None:
        """Close every stream and stop housekeeping."""
        for stream in tuple(self._streams):
            await stream.close("ingest stopping")
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
