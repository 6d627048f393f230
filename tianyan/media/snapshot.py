"""Decoded pictures of a camera for diagnosis: a short burst from its live stream, or from its newest recording.

A burst starts on a keyframe (a feed already running hands over its cached GOP at once) and spans about a
second, so checks that compare pictures over time (a frozen picture, snow noise) see real motion and sensor
noise. Decoding happens in a worker thread: the event loop only collects coded units.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np

from tianyan.media.hub import StreamHub, StreamUnavailable
from tianyan.media.units import CLOCK_90K, AudioAccessUnit, AudioCodec, VideoAccessUnit, VideoCodec

# A burst never holds more coded pictures than this, whatever the stream's frame rate claims.
MAX_UNITS = 120


class NoPicture(Exception):
    """No picture could be had: the stream failed, stayed silent, or would not decode. The message says which."""


class _BurstCollector:
    """A MediaSink that keeps coded pictures from the first keyframe until `span_90k` has passed."""

    def __init__(self, span_90k: int, done: asyncio.Future[None]) -> None:
        self.span_90k = span_90k
        self.done = done
        self.codec: VideoCodec | None = None
        self.units: list[VideoAccessUnit] = []

    def on_video(self, codec: VideoCodec, unit: VideoAccessUnit) -> None:
        if self.done.done() or (not self.units and not unit.keyframe):
            return
        self.codec = codec
        self.units.append(unit)
        if unit.pts_90k - self.units[0].pts_90k >= self.span_90k or len(self.units) >= MAX_UNITS:
            self.done.set_result(None)

    def on_audio(self, codec: AudioCodec, unit: AudioAccessUnit) -> None:
        pass

    def on_end(self, reason: str) -> None:
        if not self.done.done():
            self.done.set_exception(NoPicture(f"the stream ended: {reason}"))


async def live_burst(
    hub: StreamHub, channel_gb_id: str, *, stream: str = "main", count: int = 8, span_s: float = 1.0,
    timeout_s: float = 10.0,
) -> list[np.ndarray]:  # fmt: skip
    """`count` pictures (BGR) spread over about `span_s` of the channel's live stream.

    Shares the feed with whoever else watches or records it; opens one (and closes it after) when nobody does.
    """
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    collector = _BurstCollector(round(span_s * CLOCK_90K), done)
    try:
        async with asyncio.timeout(timeout_s):
            attachment = await hub.attach(channel_gb_id, collector, stream=stream)
    except StreamUnavailable as exc:
        raise NoPicture(f"the stream could not be opened: {exc}") from exc
    except TimeoutError as exc:
        raise NoPicture(f"the stream did not open within {timeout_s:g} s") from exc
    try:
        async with asyncio.timeout(timeout_s):
            await done
    except TimeoutError as exc:
        got = "no keyframe" if not collector.units else f"only {len(collector.units)} pictures"
        raise NoPicture(f"{got} within {timeout_s:g} s") from exc
    finally:
        with contextlib.suppress(Exception):
            await hub.detach(attachment, immediately=True)
    assert collector.codec is not None
    return await asyncio.to_thread(decode_units, collector.codec, collector.units, count)


def decode_units(codec: VideoCodec, units: Sequence[VideoAccessUnit], count: int) -> list[np.ndarray]:
    """Decode Annex B pictures starting at a keyframe and keep `count` of them evenly spread (BGR, uint8)."""
    decoder = av.CodecContext.create("hevc" if codec is VideoCodec.H265 else "h264", "r")
    decoder.thread_count = 1
    pictures: list[np.ndarray] = []
    try:
        for unit in units:
            packet = av.Packet(unit.data)
            packet.pts = unit.pts_90k
            pictures += [frame.to_ndarray(format="bgr24") for frame in decoder.decode(packet)]
        pictures += [frame.to_ndarray(format="bgr24") for frame in decoder.decode(None)]
    except av.FFmpegError as exc:
        if not pictures:
            raise NoPicture(f"the pictures would not decode: {exc}") from exc
    if not pictures:
        raise NoPicture("the decoder returned no pictures")
    return spread(pictures, count)


def spread(pictures: list[np.ndarray], count: int) -> list[np.ndarray]:
    if len(pictures) <= count:
        return pictures
    picks = np.linspace(0, len(pictures) - 1, count).round().astype(int)
    return [pictures[i] for i in picks]


def recording_burst(path: Path, *, count: int = 8, span_s: float = 1.0) -> list[np.ndarray]:
    """`count` pictures from the last `span_s` (or so) of a recorded fMP4 segment; blocking, run it in a thread."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_count = 1
            duration = _duration_s(container, stream)
            if duration is not None and duration > span_s + 2:
                # Seek lands on the keyframe at or before the target, which is where decoding must start anyway.
                target = (duration - span_s - 0.5) / float(stream.time_base)
                container.seek(int(target), stream=stream, any_frame=False, backward=True)
            # Bounded: without a usable duration the whole file is decoded, and only its tail may stay in memory.
            timed: deque[tuple[float, np.ndarray]] = deque(maxlen=MAX_UNITS)
            for frame in container.decode(stream):
                timed.append((frame.time or 0.0, frame.to_ndarray(format="bgr24")))
    except (av.FFmpegError, IndexError, OSError) as exc:
        raise NoPicture(f"the recording {path.name} could not be read: {exc}") from exc
    if not timed:
        raise NoPicture(f"the recording {path.name} holds no pictures")
    last = timed[-1][0]
    tail = [picture for at, picture in timed if at >= last - span_s]
    return spread(tail, count)


def _duration_s(container: av.container.InputContainer, stream: av.VideoStream) -> float | None:
    if stream.duration is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None
