"""One GB/T 28181 stream's receive path, without sockets: RTP packets in, access units out to a MediaSink.

RTP header → SSRC check → reorder buffer → frame assembly → PS demux → keyframe gate → sink.
Per packet it does a header unpack, a few comparisons and a list append; a frame's payloads are
joined once, and demuxing runs once per frame.

Loss policy: a frame touched by loss is dropped whole, the demuxer resyncs at the next pack
header, and video is held back until the next keyframe, because every picture until then refers
to what was lost. Recordings and live viewers therefore only ever get decodable video: a loss
costs the rest of the GOP (counted in `skipped_frames`), never a smeared picture. Audio goes on.
"""

from __future__ import annotations

import struct
from dataclasses import asdict, dataclass

from tianyan.media.jitter import BitrateMeter, FrameAssembler, ReorderBuffer
from tianyan.media.ps_demux import PsDemuxer
from tianyan.media.units import AudioAccessUnit, MediaSink, VideoAccessUnit, VideoCodec

_HEADER = struct.Struct("!BBHII")


@dataclass(slots=True)
class IngestStats:
    """A snapshot of one stream's counters; times are the monotonic clock's seconds."""

    packets: int = 0
    bytes: int = 0
    lost: int = 0
    reordered: int = 0
    duplicates: int = 0
    late: int = 0
    wrong_ssrc: int = 0
    malformed: int = 0
    rtcp: int = 0
    jitter_ms: float = 0.0
    bitrate_bps: float = 0.0
    frames: int = 0
    lost_frames: int = 0
    # Video units held back after a loss (or at the start) until a keyframe.
    skipped_frames: int = 0
    video_units: int = 0
    audio_units: int = 0
    demux_errors: int = 0
    restarts: int = 0
    ssrc: int | None = None
    last_packet_at: float | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class RtpPsReceiver:
    """Turns one stream's RTP/PS packets into units for `sink`.

    `ssrc` None keys the stream to the first SSRC that arrives (until `expect_ssrc` names one);
    with `accept_any_ssrc` the first SSRC seen wins even over the expected one, for devices that
    ignore the SSRC the platform gave them in the INVITE.
    """

    def __init__(
        self,
        sink: MediaSink,
        *,
        ssrc: int | None = None,
        accept_any_ssrc: bool = False,
        reorder_window_ms: float = 120,
        max_reorder_packets: int = 512,
    ) -> None:
        self.sink = sink
        self._ssrc = ssrc
        self._provisional = ssrc is None  # keyed to whatever came first, until told otherwise
        self._accept_any = accept_any_ssrc
        self._window_ms = reorder_window_ms
        self._max_reorder = max_reorder_packets
        self.packets = 0
        self.bytes = 0
        self.wrong_ssrc = 0
        self.malformed = 0
        self.rtcp = 0
        self.skipped_frames = 0
        self.video_units = 0
        self.audio_units = 0
        self.last_packet_at: float | None = None
        self.bitrate = BitrateMeter()
        self._reset_path()

    def _reset_path(self) -> None:
        self.demuxer = PsDemuxer()
        self.assembler = FrameAssembler(self._frame, self._damaged)
        self.reorder = ReorderBuffer(
            self.assembler.packet, self.assembler.gap, window_ms=self._window_ms, max_packets=self._max_reorder
        )
        self._push = self.reorder.push
        self._waiting_for_keyframe = True

    @property
    def ssrc(self) -> int | None:
        return self._ssrc

    def expect_ssrc(self, ssrc: int) -> None:
        """The SSRC the device's answer named; packets of any other one are counted and dropped from now on."""
        if ssrc == self._ssrc:
            self._provisional = False
            return
        if self._accept_any and self._ssrc is not None:
            return  # already keyed to what the device really sends
        self._ssrc = ssrc
        self._provisional = False
        self._reset_path()

    def receive(self, packet: bytes, now_s: float) -> None:
        """One RTP packet as it came off the wire; never raises for what is in it."""
        size = len(packet)
        if size < 12:
            self.malformed += 1
            return
        first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(packet)
        if ssrc != self._ssrc:
            if 200 <= second <= 207:
                self.rtcp += 1  # RTCP multiplexed on the same port or connection (RFC 5761)
                return
            if not self._adopt(ssrc):
                self.wrong_ssrc += 1
                return
        if first == 0x80:
            payload = memoryview(packet)[12:]
        else:
            payload = self._payload(packet, first)
            if payload is None:
                return
        self.packets += 1
        self.bytes += size
        self.last_packet_at = now_s
        self.bitrate.add(size, now_s)
        self._push(sequence, timestamp, second >= 0x80, payload, now_s)

    def _adopt(self, ssrc: int) -> bool:
        if self._ssrc is None or (self._provisional and self.packets == 0) or (self._accept_any and self.packets == 0):
            self._ssrc = ssrc
            return True
        return False

    def _payload(self, packet: bytes, first: int) -> memoryview | None:
        """The payload of a packet with CSRCs, an extension or padding; None (counted) if it is malformed."""
        size = len(packet)
        if first >> 6 != 2:
            self.malformed += 1
            return None
        offset = 12 + 4 * (first & 0x0F)
        if first & 0x10:
            if size < offset + 4:
                self.malformed += 1
                return None
            offset += 4 + 4 * ((packet[offset + 2] << 8) | packet[offset + 3])
        end = size
        if first & 0x20:
            end -= packet[-1]
        if offset > end or (first & 0x20 and packet[-1] == 0):
            self.malformed += 1
            return None
        return memoryview(packet)[offset:end]

    def tick(self, now_s: float) -> None:
        """Called now and then: gives up on gaps whose window has passed, even when no packet arrives."""
        self.reorder.expire(now_s)

    def finish(self) -> None:
        """The stream is over: deliver what the reorder buffer holds and the last frame."""
        self.reorder.flush()
        self._deliver(self.demuxer.flush())

    def _frame(self, parts: list, timestamp: int) -> None:
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        demuxer = self.demuxer
        units = demuxer.feed(data)
        units += demuxer.end_of_frame()
        if units:
            self._deliver(units)

    def _deliver(self, units: list) -> None:
        sink = self.sink
        for codec, unit in units:
            if isinstance(unit, VideoAccessUnit):
                if self._waiting_for_keyframe:
                    if not unit.keyframe:
                        self.skipped_frames += 1
                        continue
                    self._waiting_for_keyframe = False
                self.video_units += 1
                assert isinstance(codec, VideoCodec)
                sink.on_video(codec, unit)
            else:
                assert isinstance(unit, AudioAccessUnit)
                self.audio_units += 1
                sink.on_audio(codec, unit)  # type: ignore[arg-type]

    def _damaged(self) -> None:
        self.demuxer.resync()
        self._waiting_for_keyframe = True

    def stats(self, now_s: float) -> IngestStats:
        reorder = self.reorder
        return IngestStats(
            packets=self.packets,
            bytes=self.bytes,
            lost=reorder.lost,
            reordered=reorder.reordered,
            duplicates=reorder.duplicates,
            late=reorder.late,
            wrong_ssrc=self.wrong_ssrc,
            malformed=self.malformed,
            rtcp=self.rtcp,
            jitter_ms=round(reorder.jitter_ms, 3),
            bitrate_bps=round(self.bitrate.bps(now_s), 1),
            frames=self.assembler.frames,
            lost_frames=self.assembler.lost_frames,
            skipped_frames=self.skipped_frames,
            video_units=self.video_units,
            audio_units=self.audio_units,
            demux_errors=self.demuxer.stats.errors,
            restarts=reorder.restarts,
            ssrc=self._ssrc,
            last_packet_at=self.last_packet_at,
        )
