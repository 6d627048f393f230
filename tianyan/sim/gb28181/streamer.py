"""The RTP sender: encoded video in a worker thread, paced to its timestamps in asyncio, muxed to PS, packetised.

Live sessions of the same channel at the same size share one encoder (a LiveFeed): the picture is the same for
every viewer, so it is encoded once and each session muxes it under its own SSRC, joining at a keyframe. History
sessions (Playback, Download) each have their own encoder, since each has its own position, speed and pauses.
The encoders never run on the event loop: every next frame is fetched through a small thread pool.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import random
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from tianyan.media.ps import PsMuxer, StreamType, VideoAccessUnit
from tianyan.media.rtp import RtpPacketizer
from tianyan.sim.gb28181.events import DeviceStats
from tianyan.sim.gb28181.media_transport import MediaTransport
from tianyan.sim.gb28181.profile import VideoSettings, beijing_now
from tianyan.sim.video import SIZES, FileVideo, SyntheticVideo

log = logging.getLogger(__name__)
CLOCK_90K = 90_000
# Behind by more than this, a feed stops trying to catch up (a stalled loop must not end in a burst).
_MAX_LAG_S = 1.0

Source = Iterator[VideoAccessUnit]
EndCallback = Callable[[str], None]


@functools.lru_cache(maxsize=16)
def _file_stream_type(path: Path) -> StreamType:
    # Opening the file to read its codec is done once, not per session.
    return FileVideo(path).stream_type


def _next_unit(source: Source) -> VideoAccessUnit | None:
    # StopIteration cannot travel through a Future, so the end of a source comes back as None.
    return next(source, None)


class _FrameClock:
    """The time drawn on a history picture: the recording's start plus one frame per call (one call per frame)."""

    def __init__(self, start: datetime, fps: int) -> None:
        self._start, self._fps, self._frames = start, fps, 0

    def __call__(self) -> datetime:
        value = self._start + timedelta(seconds=self._frames / self._fps)
        self._frames += 1
        return value


@dataclass(frozen=True)
class SourceSpec:
    """Which picture a session wants: a channel's synthetic video at one size, or the configured file."""

    label: str
    size: str
    video: VideoSettings

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.label if self.video.file is None else "", self.size, str(self.video.file or ""))

    @property
    def stream_type(self) -> StreamType:
        return StreamType.H264 if self.video.file is None else _file_stream_type(self.video.file)

    def open(self, *, recorded_at: datetime | None = None, start_s: float = 0.0) -> Source:
        """A new encoder (blocking: call it in a worker thread); history pictures show `recorded_at` + position."""
        start_pts = round(start_s * CLOCK_90K)
        if self.video.file is not None:
            return FileVideo(self.video.file, start_pts_90k=start_pts)
        width, height = SIZES[self.size]
        fault = self.video.fault_of(self.label)
        if recorded_at is None:
            # Devices in China show Beijing time, whatever zone the simulator's host is set to.
            return SyntheticVideo(
                width, height, self.video.fps, self.label, clock=beijing_now, start_pts_90k=start_pts, fault=fault
            )
        clock = _FrameClock(recorded_at + timedelta(seconds=start_s), self.video.fps)
        return SyntheticVideo(
            width, height, self.video.fps, self.label, clock=clock, start_pts_90k=start_pts, fault=fault
        )


class RtpStream:
    """One session's output: its own PS muxer and RTP numbering (SSRC, random sequence and timestamp origin)."""

    def __init__(self, ssrc: int, transport: MediaTransport, stats: DeviceStats, stream_type: StreamType) -> None:
        self.ssrc = ssrc
        self.transport = transport
        self.stats = stats
        self.muxer = PsMuxer(video=stream_type)
        self.packetizer = RtpPacketizer(ssrc=ssrc, next_sequence=random.randrange(0x10000))
        self._timestamp_origin = random.randrange(1 << 32)
        self._waiting_for_keyframe = True

    def push(self, unit: VideoAccessUnit) -> None:
        if self._waiting_for_keyframe and not unit.keyframe:
            return  # a receiver can only start decoding at a keyframe, with the map in front of it
        frame = self.muxer.mux_video(unit)
        packets = [p.to_bytes() for p in self.packetizer.packetize(frame, self._timestamp_origin + unit.pts_90k)]
        if not self.transport.send(packets):
            self._waiting_for_keyframe = True
            return
        self._waiting_for_keyframe = False
        self.stats.rtp_packets_sent += len(packets)
        self.stats.rtp_bytes_sent += sum(len(p) for p in packets)


class _Pacer:
    """Holds frames back until their time, measured on the loop's clock from an anchor that moves on seek,
    speed change, resume, or when the sender fell too far behind."""

    def __init__(self) -> None:
        self.anchor_wall: float | None = None
        self.anchor_media_s = 0.0

    def reset(self) -> None:
        self.anchor_wall = None

    async def wait(self, media_s: float, scale: float) -> None:
        loop = asyncio.get_running_loop()
        if self.anchor_wall is None:
            self.anchor_wall, self.anchor_media_s = loop.time(), media_s
        delay = self.anchor_wall + (media_s - self.anchor_media_s) / scale - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -_MAX_LAG_S:
            self.anchor_wall, self.anchor_media_s = loop.time(), media_s


class LiveFeed:
    """One live encoder and the streams it feeds; it stops when the last stream leaves."""

    def __init__(self, spec: SourceSpec, executor: ThreadPoolExecutor, on_idle: Callable[[LiveFeed], None]) -> None:
        self.spec = spec
        self.streams: dict[RtpStream, EndCallback] = {}
        self._executor = executor
        self._on_idle = on_idle
        self._task: asyncio.Task[None] | None = None

    def add(self, stream: RtpStream, on_end: EndCallback) -> None:
        self.streams[stream] = on_end
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"sim-live:{self.spec.label}")

    def remove(self, stream: RtpStream) -> None:
        self.streams.pop(stream, None)
        if not self.streams:
            self._stop()

    def _stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._on_idle(self)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        pacer = _Pacer()
        reason = "the video source ended"
        try:
            source = await loop.run_in_executor(self._executor, self.spec.open)
            while self.streams:
                unit = await loop.run_in_executor(self._executor, _next_unit, source)
                if unit is None:
                    break
                await pacer.wait(_decode_s(unit), 1.0)
                for stream in list(self.streams):
                    stream.push(unit)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the encoder or the file failed: every viewer's session ends with a BYE
            log.exception("sim: live video of %s failed", self.spec.label)
            reason = f"the video source failed: {exc}"
        ended, self.streams = self.streams, {}
        self._task = None
        self._on_idle(self)
        for on_end in ended.values():
            on_end(reason)


class HistoryFeed:
    """Playback or Download of one recording: its own encoder, position, speed, pause and seek.

    `duration_s` is the requested range; when the position reaches it, `on_end("end of file")` is called once.
    """

    def __init__(
        self,
        spec: SourceSpec,
        stream: RtpStream,
        executor: ThreadPoolExecutor,
        *,
        recorded_at: datetime,
        duration_s: float,
        scale: float,
        on_end: EndCallback,
    ) -> None:
        self.spec, self.stream = spec, stream
        self.recorded_at, self.duration_s = recorded_at, duration_s
        self.scale = scale
        self.position_s = 0.0
        self.paused = False
        self._executor = executor
        self._on_end = on_end
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._restart_at: float | None = 0.0  # open a new encoder here before the next frame
        self._pacer = _Pacer()
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"sim-history:{spec.label}")

    def pause(self) -> None:
        self.paused = True
        self._resumed.clear()

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            self._pacer.reset()
            self._resumed.set()

    def set_scale(self, scale: float) -> None:
        self.scale = scale
        self._pacer.reset()

    def seek(self, position_s: float) -> None:
        self._restart_at = min(max(0.0, position_s), self.duration_s)
        self._pacer.reset()

    def stop(self) -> None:
        self._task.cancel()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        source: Source | None = None
        base_s = offset_s = 0.0
        try:
            while True:
                await self._resumed.wait()
                if self._restart_at is not None:
                    offset_s, self._restart_at = self._restart_at, None
                    opening = functools.partial(self.spec.open, recorded_at=self.recorded_at, start_s=offset_s)
                    source = await loop.run_in_executor(self._executor, opening)
                    base_s = -1.0
                assert source is not None
                unit = await loop.run_in_executor(self._executor, _next_unit, source)
                if unit is None:
                    break
                if base_s < 0:
                    base_s = _decode_s(unit)
                position_s = offset_s + _decode_s(unit) - base_s
                if position_s >= self.duration_s:
                    break
                await self._pacer.wait(position_s, self.scale)
                if self.paused or self._restart_at is not None:
                    continue  # paused or sought while this frame waited: it is not shown
                self.stream.push(unit)
                self.position_s = position_s
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("sim: playback of %s failed", self.spec.label)
            self._on_end(f"the video source failed: {exc}")
            return
        self.position_s = self.duration_s
        self._on_end("end of file")


def _decode_s(unit: VideoAccessUnit) -> float:
    return (unit.dts_90k if unit.dts_90k is not None else unit.pts_90k) / CLOCK_90K


class Streamer:
    """The media side of one process: a worker pool for encoders and the shared live feeds."""

    def __init__(self, *, workers: int | None = None) -> None:
        self.executor = ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 2),
                                           thread_name_prefix="sim-video")  # fmt: skip
        self._live: dict[tuple[str, str, str], LiveFeed] = {}

    def watch_live(self, spec: SourceSpec, stream: RtpStream, on_end: EndCallback) -> LiveFeed:
        feed = self._live.get(spec.key)
        if feed is None:
            feed = self._live[spec.key] = LiveFeed(spec, self.executor, self._forget)
        feed.add(stream, on_end)
        return feed

    def play_history(
        self,
        spec: SourceSpec,
        stream: RtpStream,
        *,
        recorded_at: datetime,
        duration_s: float,
        scale: float,
        on_end: EndCallback,
    ) -> HistoryFeed:
        return HistoryFeed(spec, stream, self.executor, recorded_at=recorded_at, duration_s=duration_s,
                           scale=scale, on_end=on_end)  # fmt: skip

    @property
    def live_feeds(self) -> int:
        return len(self._live)

    def _forget(self, feed: LiveFeed) -> None:
        if self._live.get(feed.spec.key) is feed:
            del self._live[feed.spec.key]

    def close(self) -> None:
        for feed in list(self._live.values()):
            for stream in list(feed.streams):
                feed.remove(stream)
        self.executor.shutdown(wait=False, cancel_futures=True)
