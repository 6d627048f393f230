"""One RTSP session's outgoing RTP: its own SSRC, sequence and timestamp origin, sent interleaved or over UDP."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass

from tianyan.media.ps import VideoAccessUnit
from tianyan.media.units import VideoCodec
from tianyan.sim.rtsp.messages import interleave
from tianyan.sim.rtsp.rtp_video import VideoPacketizer

# A client this far behind (bytes queued in our socket buffer) loses pictures until the next keyframe.
MAX_QUEUED_BYTES = 4 * 1024 * 1024

Send = Callable[[list[bytes]], bool]


@dataclass
class OutputStats:
    frames: int = 0
    packets: int = 0
    bytes: int = 0
    dropped_frames: int = 0


class RtpOutput:
    """Packetises the shared feed's pictures for one client; the feed calls push() on the event loop.

    A client starts at a keyframe; the first picture it gets has RTP timestamp `timestamp_origin` (what PLAY's
    RTP-Info announces), later ones keep the source's spacing. Paused, nothing is sent; resumed, the client
    waits for the next keyframe again."""

    def __init__(self, codec: VideoCodec, send: Send, frame_90k: int) -> None:
        self.codec = codec
        self.ssrc = random.randrange(1, 1 << 32)
        self.packetizer = VideoPacketizer(codec, self.ssrc, next_sequence=random.randrange(0x10000))
        self.timestamp_origin = random.randrange(1 << 32)
        self.stats = OutputStats()
        self._send = send
        self._frame_90k = frame_90k
        self._first_pts: int | None = None
        self._last_timestamp: int | None = None
        self._waiting_for_keyframe = True
        self.paused = True

    @property
    def next_timestamp(self) -> int:
        """The RTP timestamp the next picture will about have (for RTP-Info)."""
        if self._last_timestamp is None:
            return self.timestamp_origin
        return (self._last_timestamp + self._frame_90k) & 0xFFFFFFFF

    def resume(self) -> None:
        self.paused = False
        self._waiting_for_keyframe = True

    def push(self, unit: VideoAccessUnit) -> None:
        if self.paused or (self._waiting_for_keyframe and not unit.keyframe):
            return
        if self._first_pts is None:
            self._first_pts = unit.pts_90k
        timestamp = (self.timestamp_origin + unit.pts_90k - self._first_pts) & 0xFFFFFFFF
        packets = [p.to_bytes() for p in self.packetizer.packetize(unit.data, timestamp)]
        if not self._send(packets):
            self.stats.dropped_frames += 1
            self._waiting_for_keyframe = True
            return
        self._waiting_for_keyframe = False
        self._last_timestamp = timestamp
        self.stats.frames += 1
        self.stats.packets += len(packets)
        self.stats.bytes += sum(len(p) for p in packets)


def interleaved_sender(transport: asyncio.Transport, channel: int) -> Send:
    def send(packets: list[bytes]) -> bool:
        if transport.is_closing() or transport.get_write_buffer_size() > MAX_QUEUED_BYTES:
            return False
        transport.write(b"".join(interleave(channel, p) for p in packets))
        return True

    return send


def udp_sender(transport: asyncio.DatagramTransport, address: tuple[str, int]) -> Send:
    def send(packets: list[bytes]) -> bool:
        if transport.is_closing() or transport.get_write_buffer_size() > MAX_QUEUED_BYTES:
            return False
        for packet in packets:
            transport.sendto(packet, address)
        return True

    return send
