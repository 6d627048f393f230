"""What flows through the media plane: codecs, coded units, and the sink interface every consumer implements.

Times are 90 kHz ticks. Whoever produces units (GB ingest, RTSP pull, a file) unwraps the 32-bit RTP and
33-bit PS clocks first, so `pts_90k` grows without wrapping; it may still jump (a device restarts its
clock, a playback seeks), and a sink treats a step backwards or of more than DISCONTINUITY_90K forwards as
the start of a new run of time.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Protocol

from tianyan.media.ps import AudioAccessUnit, VideoAccessUnit

__all__ = [
    "DISCONTINUITY_90K",
    "AudioAccessUnit",
    "AudioCodec",
    "MediaSink",
    "MediaTee",
    "VideoAccessUnit",
    "VideoCodec",
    "is_discontinuity",
]

CLOCK_90K = 90_000
# A jump in presentation time bigger than this is not a late frame but a new run of time.
DISCONTINUITY_90K = 10 * CLOCK_90K


class VideoCodec(StrEnum):
    H264 = "h264"
    H265 = "h265"


class AudioCodec(StrEnum):
    AAC = "aac"  # with ADTS headers, as GB PS carries it
    G711A = "pcm_alaw"
    G711U = "pcm_mulaw"


class MediaSink(Protocol):
    """A consumer of one stream's units, called on the event loop in decode order; must not block."""

    def on_video(self, codec: VideoCodec, unit: VideoAccessUnit) -> None: ...

    def on_audio(self, codec: AudioCodec, unit: AudioAccessUnit) -> None: ...

    def on_end(self, reason: str) -> None:
        """The stream is over (stopped, lost, or the source ended); no more units follow."""


def is_discontinuity(previous_pts_90k: int, pts_90k: int) -> bool:
    step = pts_90k - previous_pts_90k
    return step < -CLOCK_90K or step > DISCONTINUITY_90K


class MediaTee:
    """Hands every unit to several sinks; one sink failing is logged by the caller's policy, not fatal to others."""

    def __init__(self, sinks: Iterable[MediaSink] = ()) -> None:
        self.sinks: list[MediaSink] = list(sinks)
        self.errors = 0

    def add(self, sink: MediaSink) -> None:
        self.sinks.append(sink)

    def remove(self, sink: MediaSink) -> None:
        if sink in self.sinks:
            self.sinks.remove(sink)

    def on_video(self, codec: VideoCodec, unit: VideoAccessUnit) -> None:
        for sink in tuple(self.sinks):
            try:
                sink.on_video(codec, unit)
            except Exception:
                self.errors += 1
                self.remove(sink)
                sink.on_end("failed")

    def on_audio(self, codec: AudioCodec, unit: AudioAccessUnit) -> None:
        for sink in tuple(self.sinks):
            try:
                sink.on_audio(codec, unit)
            except Exception:
                self.errors += 1
                self.remove(sink)
                sink.on_end("failed")

    def on_end(self, reason: str) -> None:
        for sink in tuple(self.sinks):
            sink.on_end(reason)
        self.sinks.clear()
