"""One live feed remuxed into fMP4 once and fanned out to its viewers, each reading its own queue bounded in bytes.

A `LiveMuxer` is a `MediaSink` attached to the StreamHub. It remuxes the channel's units into fMP4 once (an
`Fmp4Fragmenter`) and hands each viewer the same bytes: a small JSON header (`mime_codec`, `width`, `height`),
the init segment, then moof+mdat fragments. It keeps the fragments since the last keyframe, so a viewer that
joins mid-GOP starts with a picture at once. A viewer reads from its own queue, bounded in bytes: one that cannot
keep up with the stream is dropped with a close reason that says so, and never makes the server hold more.

New parameter sets (codec or resolution changed) start a new init segment, sent again to every viewer with a new
header. A jump in the source's time (the upstream was re-opened) is smoothed into a continuous timeline, since a
browser's buffer cannot play across a gap; the HLS playlist marks it as a discontinuity instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from tianyan.media import mp4boxes
from tianyan.media.fmp4 import Fmp4Fragmenter, MuxError
from tianyan.media.hls import HlsPlaylist
from tianyan.media.nal import parameter_sets
from tianyan.media.units import (
    AudioAccessUnit,
    AudioCodec,
    VideoAccessUnit,
    VideoCodec,
    is_discontinuity,
)

log = logging.getLogger(__name__)

CLOCK_90K = 90_000
# A viewer further behind than this many bytes is dropped (about 16 s of a 4 Mbit/s 1080p stream).
DEFAULT_VIEWER_BYTES = 8 * 1024 * 1024

# WebSocket close codes the player understands (4000-4999 are the application's own).
CLOSE_ENDED = 1000
CLOSE_SERVER_ERROR = 1011
CLOSE_TOKEN_INVALID = 4401
CLOSE_TOKEN_NOT_HERE = 4403
CLOSE_TOO_SLOW = 4408
CLOSE_UNAVAILABLE = 4503

# Fragments since the last keyframe kept for viewers that join; a longer GOP is not cached past this.
MAX_GOP_CACHE_BYTES = 16 * 1024 * 1024

Message = str | bytes


class ViewerClosed(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


class Viewer:
    """One browser's place in a live feed: a queue of messages bounded in bytes, read by the connection's task."""

    def __init__(self, muxer: LiveMuxer, *, max_bytes: int = DEFAULT_VIEWER_BYTES) -> None:
        self.muxer = muxer
        self.max_bytes = max_bytes
        self.queued_bytes = 0
        self.sent_bytes = 0
        self.closed: ViewerClosed | None = None
        self.joined_at = time.monotonic()
        self._queue: deque[Message] = deque()
        self._wake = asyncio.Event()

    def offer(self, message: Message) -> None:
        if self.closed is not None:
            return
        size = len(message)
        if self.queued_bytes + size > self.max_bytes:
            self.close(
                CLOSE_TOO_SLOW,
                f"too slow: fell {self.queued_bytes // 1024} KiB behind the live stream; reconnect to catch up",
            )
            return
        self._queue.append(message)
        self.queued_bytes += size
        self._wake.set()

    def close(self, code: int, reason: str) -> None:
        if self.closed is not None:
            return
        self.closed = ViewerClosed(code, reason)
        if code != CLOSE_ENDED:
            # A dropped viewer gets nothing more; an ended stream still delivers what was queued.
            self._queue.clear()
            self.queued_bytes = 0
        self._wake.set()
        self.muxer.forget(self)

    def take_all(self) -> list[Message]:
        """Everything queued now, without waiting."""
        taken = list(self._queue)
        self._queue.clear()
        self.sent_bytes += self.queued_bytes
        self.queued_bytes = 0
        return taken

    async def next(self) -> Message:
        """The next message; raises ViewerClosed when the viewer is closed and its queue is empty."""
        while not self._queue:
            if self.closed is not None:
                raise self.closed
            self._wake.clear()
            await self._wake.wait()
        message = self._queue.popleft()
        self.queued_bytes -= len(message)
        self.sent_bytes += len(message)
        return message


@dataclass
class StreamHeader:
    mime_codec: str  # the full MIME type with codecs, what MediaSource.addSourceBuffer takes
    codec: str
    width: int | None
    height: int | None
    version: int

    def to_message(self) -> str:
        return json.dumps(
            {
                "type": "init",
                "mime_codec": self.mime_codec,
                "codec": self.codec,
                "width": self.width,
                "height": self.height,
                "version": self.version,
            }
        )


class _Timeline:
    """Keeps the output's decode time moving forward across source discontinuities."""

    def __init__(self) -> None:
        self.offset_90k = 0
        self.last_in_90k: int | None = None
        self.last_out_90k: int | None = None
        self.frame_90k = CLOCK_90K // 25

    def rebase(self, pts_90k: int) -> tuple[int, bool]:
        """The output time for a video unit's source time, and whether a discontinuity was smoothed here."""
        jumped = False
        if self.last_in_90k is not None:
            step = pts_90k - self.last_in_90k
            if is_discontinuity(self.last_in_90k, pts_90k):
                assert self.last_out_90k is not None
                self.offset_90k = self.last_out_90k + self.frame_90k - pts_90k
                jumped = True
            elif 0 < step <= CLOCK_90K:
                self.frame_90k = step
        out = pts_90k + self.offset_90k
        self.last_in_90k = pts_90k
        self.last_out_90k = out if self.last_out_90k is None else max(self.last_out_90k, out)
        return out, jumped


class LiveMuxer:
    """The fMP4 form of one live feed, fanned out to its viewers (a MediaSink on the hub)."""

    def __init__(
        self,
        channel: str,
        stream: str = "main",
        *,
        fragment_ms: int = 0,
        max_viewer_bytes: int = DEFAULT_VIEWER_BYTES,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.channel, self.stream = channel, stream
        self.fragment_ms = fragment_ms
        self.max_viewer_bytes = max_viewer_bytes
        self.viewers: set[Viewer] = set()
        self.header: StreamHeader | None = None
        self.init_segment: bytes | None = None
        self.gop: list[bytes] = []
        self.gop_bytes = 0
        self.hls: HlsPlaylist | None = None
        self.ended: str | None = None
        self.changed = asyncio.Event()  # set whenever the HLS playlist lists a new segment
        self.fragments = 0
        self.dropped_viewers = 0
        self._wall_clock = wall_clock
        self.mux_errors = 0
        self._fragmenter: Fmp4Fragmenter | None = None
        self._last_aac: AudioAccessUnit | None = None
        self._want_audio = False
        self._audio_restart_tried = False
        self._codec: VideoCodec | None = None
        self._parameter_sets: dict[int, bytes] = {}
        self._video_track: mp4boxes.TrackInfo | None = None
        self._tracks: dict[int, mp4boxes.TrackInfo] = {}
        self._timeline = _Timeline()
        self._audio_offset_90k = 0
        self._need_keyframe = True
        self._version = 0

    # --- viewers -------------------------------------------------------------------------------------------------

    def add_viewer(self, *, max_bytes: int | None = None) -> Viewer:
        """A new viewer, primed with the header, the init segment and the fragments since the last keyframe."""
        viewer = Viewer(self, max_bytes=max_bytes or self.max_viewer_bytes)
        if self.ended is not None:
            viewer.close(CLOSE_ENDED, self.ended)
            return viewer
        self.viewers.add(viewer)
        if self.header is not None and self.init_segment is not None:
            viewer.offer(self.header.to_message())
            viewer.offer(self.init_segment)
            if self.gop_bytes <= viewer.max_bytes // 2:  # else it starts at the next keyframe
                for fragment in self.gop:
                    viewer.offer(fragment)
        return viewer

    def forget(self, viewer: Viewer) -> None:
        if viewer in self.viewers:
            self.viewers.discard(viewer)
            if viewer.closed is not None and viewer.closed.code == CLOSE_TOO_SLOW:
                self.dropped_viewers += 1
                log.info("live %s/%s: dropped a viewer: %s", self.channel, self.stream, viewer.closed.reason)

    def enable_hls(self, *, target_s: float = 1.0, window: int = 6) -> HlsPlaylist:
        if self.hls is None:
            self.hls = HlsPlaylist(target_s=target_s, window=window)
            if self.init_segment is not None:
                self.hls.set_init(self.init_segment)
                for fragment in self.gop:  # the playlist starts at the last keyframe, not the next one
                    self._to_hls(fragment, *self._video_span(fragment))
        return self.hls

    # --- MediaSink -----------------------------------------------------------------------------------------------

    def on_video(self, codec: VideoCodec, unit: VideoAccessUnit) -> None:
        if self.ended is not None:
            return
        pts, jumped = self._timeline.rebase(unit.pts_90k)
        if jumped:
            # After a gap the stream can only be picked up again at a keyframe.
            self._need_keyframe = True
            if self.hls is not None:
                self.hls.mark_discontinuity()
        if self._need_keyframe and not unit.keyframe:
            return
        shift = pts - unit.pts_90k
        if shift:
            unit = replace(unit, pts_90k=pts, dts_90k=None if unit.dts_90k is None else unit.dts_90k + shift)
        self._audio_offset_90k = shift
        try:
            if unit.keyframe and self._needs_new_init(codec, unit):
                self._start(codec, unit)  # the fragmenter takes its first picture itself
            elif self._fragmenter is not None:
                self._publish(self._fragmenter.push_video(unit))
            self._need_keyframe = False
        except MuxError as exc:
            # One bad picture must not end everyone's view: start again on the next good keyframe.
            self.mux_errors += 1
            log.warning("live %s/%s: cannot remux a picture (%s); waiting for a keyframe", *self.key, exc)
            self._drop_fragmenter()

    def on_audio(self, codec: AudioCodec, unit: AudioAccessUnit) -> None:
        # Browsers play AAC from fMP4 but not G.711; G.711 is left out (the fragmenter counts it).
        if codec == AudioCodec.AAC:
            self._last_aac = unit
        if self.ended is not None or self._fragmenter is None or self._need_keyframe:
            return
        if self._fragmenter.audio is None:
            if codec == AudioCodec.AAC and not self._audio_restart_tried:
                self._audio_restart_tried = True
                self._want_audio = True  # the next keyframe starts a run that carries audio
            return
        if self._audio_offset_90k:
            unit = replace(unit, pts_90k=unit.pts_90k + self._audio_offset_90k)
        try:
            self._publish(self._fragmenter.push_audio(unit))
        except MuxError as exc:
            self.mux_errors += 1
            log.warning("live %s/%s: cannot remux audio (%s)", *self.key, exc)

    def on_end(self, reason: str) -> None:
        if self.ended is not None:
            return
        if self._fragmenter is not None:
            with contextlib.suppress(Exception):
                self._publish(self._fragmenter.flush())
        self.ended = reason
        for viewer in list(self.viewers):
            viewer.close(CLOSE_ENDED, f"the stream ended: {reason}")
        self.changed.set()

    # --- inside ----------------------------------------------------------------------------------------------------

    @property
    def key(self) -> tuple[str, str]:
        return self.channel, self.stream

    def _needs_new_init(self, codec: VideoCodec, unit: VideoAccessUnit) -> bool:
        if self._fragmenter is None or codec != self._codec or self._want_audio:
            return True
        sets = parameter_sets(unit.data, codec)
        return bool(sets) and sets != self._parameter_sets

    def _drop_fragmenter(self) -> None:
        if self._fragmenter is not None:
            self._fragmenter.abandon()
        self._fragmenter = None
        self._need_keyframe = True

    def _start(self, codec: VideoCodec, unit: VideoAccessUnit) -> None:
        if self._fragmenter is not None:
            self._publish(self._fragmenter.flush())
            self._fragmenter = None
        audio = self._last_aac
        self._want_audio = False
        self._fragmenter = Fmp4Fragmenter(
            codec,
            unit,
            fragment_ms=self.fragment_ms,
            audio=AudioCodec.AAC if audio is not None else None,
            first_audio=audio,
        )
        self._codec = codec
        self._parameter_sets = parameter_sets(unit.data, codec)
        self._version += 1
        init = self._fragmenter.init_segment
        self._tracks = self._fragmenter.tracks
        self._video_track = next((t for t in self._tracks.values() if t.kind == "video"), None)
        self.header = StreamHeader(
            self._fragmenter.mime_type, codec.value, self._fragmenter.width, self._fragmenter.height, self._version
        )
        self.init_segment = init
        self.gop.clear()
        self.gop_bytes = 0
        for viewer in list(self.viewers):
            viewer.offer(self.header.to_message())
            viewer.offer(init)
        if self.hls is not None:
            self.hls.set_init(init)

    def _publish(self, fragments: list[bytes]) -> None:
        for fragment in fragments:
            self.fragments += 1
            start_90k, end_90k, keyframe = self._video_span(fragment)
            if keyframe:
                self.gop.clear()
                self.gop_bytes = 0
            if self.gop_bytes + len(fragment) <= MAX_GOP_CACHE_BYTES:
                self.gop.append(fragment)
                self.gop_bytes += len(fragment)
            for viewer in list(self.viewers):
                viewer.offer(fragment)
            self._to_hls(fragment, start_90k, end_90k, keyframe)

    def _to_hls(self, fragment: bytes, start_90k: int | None, end_90k: int, keyframe: bool) -> None:
        if self.hls is None or start_90k is None:
            return
        before = self.hls.last_closed
        self.hls.push(fragment, start_90k=start_90k, end_90k=end_90k, keyframe=keyframe, wall=self._wall_clock())
        if self.hls.last_closed != before:
            self.changed.set()

    def _video_span(self, fragment: bytes) -> tuple[int | None, int, bool]:
        """(start, end) in 90 kHz ticks of the fragment's video, and whether it starts with a keyframe."""
        video = self._video_track
        for parsed in mp4boxes.split_fragments(fragment, self._tracks):
            run = parsed.run(video.track_id) if video is not None else None
            if run is not None and run.samples and video is not None and video.timescale:
                scale = CLOCK_90K / video.timescale
                start = round(run.base_decode_time * scale)
                return start, start + round(run.duration * scale), run.starts_with_sync
        return None, 0, False
