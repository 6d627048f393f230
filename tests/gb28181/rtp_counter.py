"""A test receiver for media: counts RTP packets per SSRC over UDP or a TCP listener (RFC 4571), keeps a few."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass, field

from tianyan.media.rtp import Rfc4571Deframer, RtpError, parse_rtp


@dataclass
class RtpCounter:
    per_ssrc: Counter[int] = field(default_factory=Counter)
    payloads: dict[int, bytearray] = field(default_factory=dict)
    keep_bytes: int = 2_000_000
    malformed: int = 0

    def packet(self, data: bytes) -> None:
        try:
            packet = parse_rtp(data)
        except RtpError:
            self.malformed += 1
            return
        self.per_ssrc[packet.ssrc] += 1
        kept = self.payloads.setdefault(packet.ssrc, bytearray())
        if len(kept) < self.keep_bytes:
            kept += packet.payload

    def total(self) -> int:
        return sum(self.per_ssrc.values())


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, counter: RtpCounter) -> None:
        self.counter = counter

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.counter.packet(data)


class RtpReceiver:
    """Listens on 127.0.0.1: UDP, or TCP where the device connects to us (our SDP says tcp-passive)."""

    def __init__(self, transport: str = "udp") -> None:
        self.transport = transport
        self.counter = RtpCounter()
        self.port = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None

    async def start(self) -> RtpReceiver:
        loop = asyncio.get_running_loop()
        if self.transport == "udp":
            self._udp, _ = await loop.create_datagram_endpoint(lambda: _Udp(self.counter), local_addr=("127.0.0.1", 0))
            self.port = self._udp.get_extra_info("sockname")[1]
        else:
            self._server = await asyncio.start_server(self._tcp, "127.0.0.1", 0)
            self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        deframer = Rfc4571Deframer()
        with contextlib.suppress(ConnectionError, RtpError):
            while data := await reader.read(65536):
                for packet in deframer.feed(data):
                    self.counter.packet(packet)
        writer.close()

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._server is not None:
            self._server.close()
