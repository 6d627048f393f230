"""Continuous recording of one camera's stream into fMP4 segment files in the storage pools, with index rows.

A `ChannelRecorder` is a MediaSink on the StreamHub. It starts a segment at the first keyframe and cuts a new one
at the first keyframe after `segment_s`, when the codec or the picture size changes, and when the stream's time
jumps (`units.is_discontinuity`). Presentation times map to wall-clock UTC through an anchor taken at the first
unit (and again after each jump), so the index and the file names say when the footage was shot by this
platform's clock, while the spacing of pictures follows the camera's own clock.

Everything runs on the event loop and never waits: fragment writes go to the page cache (one write a fragment,
no fsync) and the index is only told, to be written in batches by `RecordingIndex`. A failed write (disk full,
pool unmounted) never escapes: the segment is cut back to its last whole fragment and closed, the pool is
skipped for a while, a `disk_full` gap runs until recording resumes in another pool, and `on_problem` hears of it.
"""

from __future__ import annotations

import errno
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tianyan.media.bitstream import BitstreamError, video_format
from tianyan.media.fmp4 import Fmp4FileWriter, FragmentWritten, MuxError
from tianyan.media.index_writer import RecordingIndex, SegmentOpened
from tianyan.media.pools import NoPoolAvailable, StoragePools
from tianyan.media.units import AudioAccessUnit, AudioCodec, VideoAccessUnit, VideoCodec, is_discontinuity

__all__ = ["ChannelRecorder", "RecorderStats", "segment_path"]

log = logging.getLogger(__name__)

CLOCK_90K = 90_000
# Guess of a segment's size for choosing a pool: 5 minutes at 8 Mbit/s.
_SEGMENT_BYTES_HINT = 300 * 1_000_000
# While no pool can take a recording, look again at most this often (choosing costs a statvfs per pool).
_RETRY_POOLS_S = 5.0
# A jump in the stream's time that leaves more than this much wall-clock time unrecorded is a gap.
_GAP_MIN_S = 2.0
_END_CAUSES = {"lost": "stream_lost", "timeout": "stream_lost", "offline": "device_offline"}


def segment_path(gb_id: str, start_at: datetime, segment_key: str) -> str:
    """`<gb_id>/<YYYY-MM-DD>/<HHMMSS>-<key>.mp4` (UTC), relative to the pool, forward slashes."""
    at = start_at.astimezone(UTC)
    return f"{gb_id}/{at:%Y-%m-%d}/{at:%H%M%S}-{segment_key}.mp4"


@dataclass
class RecorderStats:
    segments: int = 0
    frames: int = 0
    bytes: int = 0
    waiting_frames: int = 0  # pictures dropped while waiting for a keyframe to start on
    skipped_audio: int = 0  # G.711 and unusable audio, which MP4 for browsers cannot carry
    write_errors: int = 0
    mux_errors: int = 0
    lost_frames: int = 0  # pictures that could not be written (no pool, a failed write)


@dataclass
class _Segment:
    writer: Fmp4FileWriter
    pool: str
    path: str
    start_at: datetime
    codec: VideoCodec
    size: tuple[int, int]
    first_pts_90k: int
    end_at: datetime
    accounted: int = 0


class ChannelRecorder:
    """Records one camera's stream (a MediaSink); call `on_end` (or `close`) to finish the current segment."""

    def __init__(
        self,
        *,
        camera_id: int,
        gb_id: str,
        pools: StoragePools,
        index: RecordingIndex,
        segment_s: int = 300,
        fragment_ms: int = 1000,
        source: str = "live",
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_problem: Callable[[str, str], None] | None = None,
        resumed_after: tuple[datetime, str] | None = None,
    ) -> None:
        """`resumed_after` is (when, cause) of the previous recording of this camera ending, so the time until
        this one starts is recorded as a gap; `on_problem(kind, message)` hears of pools that failed."""
        self.camera_id, self.gb_id = camera_id, gb_id
        self.pools, self.index = pools, index
        self.segment_s, self.fragment_ms, self.source = segment_s, fragment_ms, source
        self.stats = RecorderStats()
        self.ended: str | None = None
        self.ended_at: datetime | None = None
        self._wall_clock = wall_clock
        self._on_problem = on_problem
        self._segment: _Segment | None = None
        self._anchor: tuple[int, datetime] | None = None
        self._last_pts: int | None = None
        self._last_aac: AudioAccessUnit | None = None
        # (since, cause, detail) of footage not being recorded, written as a gap when recording resumes.
        self._gap: tuple[datetime, str, str | None] | None = None
        if resumed_after is not None:
            self._gap = (resumed_after[0], resumed_after[1], None)
        self._blocked_until: datetime | None = None

    # --- MediaSink ------------------------------------------------------------------------------------------------

    def on_video(self, codec: VideoCodec, unit: VideoAccessUnit) -> None:
        if self.ended is not None:
            return
        self._follow_clock(unit.pts_90k)
        segment = self._segment
        if segment is not None and unit.keyframe and self._should_cut(segment, codec, unit):
            self._close_segment()
            segment = None
        if segment is None:
            if not unit.keyframe:
                self.stats.waiting_frames += 1
                return
            segment = self._open_segment(codec, unit)
            if segment is None:
                self.stats.lost_frames += 1
            return
        try:
            self._written(segment, segment.writer.push_video(unit))
        except OSError as exc:
            self.stats.lost_frames += 1
            self._write_failed(exc)
        except MuxError as exc:
            self.stats.mux_errors += 1
            log.warning("recorder %s: cannot mux a picture (%s); starting again at the next keyframe", self.gb_id, exc)
            self._close_segment()
        else:
            self.stats.frames += 1

    def on_audio(self, codec: AudioCodec, unit: AudioAccessUnit) -> None:
        if self.ended is not None:
            return
        if codec != AudioCodec.AAC:
            self.stats.skipped_audio += 1
            return
        self._last_aac = unit
        segment = self._segment
        if segment is None or not segment.writer.has_audio:
            self.stats.skipped_audio += 1
            return
        try:
            self._written(segment, segment.writer.push_audio(unit))
        except OSError as exc:
            self._write_failed(exc)
        except MuxError:
            self.stats.skipped_audio += 1

    def on_end(self, reason: str) -> None:
        if self.ended is not None:
            return
        self.ended = reason
        self._close_segment()
        self.ended_at = self._wall_clock()
        if self._gap is not None:
            since, cause, detail = self._gap
            self.index.gap(self.camera_id, since, self.ended_at, cause, detail)
            self._gap = None

    def close(self, reason: str = "stopped") -> None:
        self.on_end(reason)

    @property
    def end_cause(self) -> str:
        """The gap cause a later recorder of this camera should give the time until it starts (`resumed_after`)."""
        return _END_CAUSES.get(self.ended or "", "unknown")

    @property
    def current_path(self) -> Path | None:
        segment = self._segment
        return self.pools.path(segment.pool) / segment.path if segment is not None else None

    # --- time ----------------------------------------------------------------------------------------------------

    def _follow_clock(self, pts_90k: int) -> None:
        last = self._last_pts
        if self._anchor is None or last is None:
            self._anchor = (pts_90k, self._wall_clock())
            self._last_pts = pts_90k
            return
        if not is_discontinuity(last, pts_90k):
            # The highest time so far: with B-frames a picture may be shown before the one decoded ahead of it.
            self._last_pts = max(last, pts_90k)
            return
        # A new run of time: what was written so far ends here, and a new anchor maps the new times.
        self._last_pts = pts_90k
        segment = self._segment
        self._close_segment()
        ended_at = segment.end_at if segment is not None else self._wall(last)
        now = self._wall_clock()
        self._anchor = (pts_90k, now)
        if self._gap is None and (now - ended_at).total_seconds() > _GAP_MIN_S:
            self._gap = (ended_at, "stream_lost", "the stream's time jumped")

    def _wall(self, pts_90k: int) -> datetime:
        assert self._anchor is not None
        anchor_pts, anchor_wall = self._anchor
        return anchor_wall + timedelta(microseconds=(pts_90k - anchor_pts) * 1_000_000 // CLOCK_90K)

    # --- segments ------------------------------------------------------------------------------------------------

    def _should_cut(self, segment: _Segment, codec: VideoCodec, unit: VideoAccessUnit) -> bool:
        if codec != segment.codec:
            return True
        if (unit.pts_90k - segment.first_pts_90k) >= self.segment_s * CLOCK_90K:
            return True
        try:
            fmt = video_format(codec, unit.data)
        except BitstreamError:
            return False
        return (fmt.width, fmt.height) != segment.size

    def _open_segment(self, codec: VideoCodec, unit: VideoAccessUnit) -> _Segment | None:
        now = self._wall_clock()
        if self._blocked_until is not None and now < self._blocked_until:
            return None
        self._blocked_until = None
        start_at = self._wall(unit.dts_90k if unit.dts_90k is not None else unit.pts_90k)
        audio = AudioCodec.AAC if self._last_aac is not None else None
        tried: list[str] = []
        while True:
            try:
                pool = self.pools.choose(_SEGMENT_BYTES_HINT, exclude=tried)
            except NoPoolAvailable as exc:
                self._blocked(start_at, now, str(exc))
                return None
            relative = segment_path(self.gb_id, start_at, uuid.uuid4().hex[:12])
            full = self.pools.path(pool) / relative
            try:
                full.parent.mkdir(parents=True, exist_ok=True)
                writer = Fmp4FileWriter(
                    full, codec, unit, audio=audio, first_audio=self._last_aac, fragment_ms=self.fragment_ms
                )
            except OSError as exc:
                self.stats.write_errors += 1
                self.pools.mark_failed(pool, _describe(exc))
                self._report("pool_unwritable", f"storage pool {pool}: cannot create {relative}: {_describe(exc)}")
                tried.append(pool)
                continue
            except MuxError as exc:
                self.stats.mux_errors += 1
                log.warning("recorder %s: cannot start a segment on this keyframe: %s", self.gb_id, exc)
                return None
            break
        segment = _Segment(
            writer, pool, relative, start_at, codec, (writer.fragmenter.width, writer.fragmenter.height),
            unit.pts_90k, start_at,
        )  # fmt: skip
        self._segment = segment
        self.stats.segments += 1
        self.index.segment_opened(
            SegmentOpened(
                camera_id=self.camera_id, pool=pool, path=relative, start_at=start_at, codec=codec.value,
                width=segment.size[0], height=segment.size[1], has_audio=writer.has_audio, bytes=writer.bytes,
                source=self.source,
            )
        )  # fmt: skip
        self._account(segment)
        if self._gap is not None:
            since, cause, detail = self._gap
            self.index.gap(self.camera_id, since, start_at, cause, detail)
            self._gap = None
        self.stats.frames += 1
        return segment

    def _blocked(self, since: datetime, now: datetime, why: str) -> None:
        if self._gap is None:
            self._gap = (since, "disk_full", why)
            self._report("pool_unwritable", f"camera {self.gb_id} is not being recorded: {why}")
        self._blocked_until = now + timedelta(seconds=_RETRY_POOLS_S)

    def _written(self, segment: _Segment, fragments: list[FragmentWritten]) -> None:
        if not fragments:
            return
        writer = segment.writer
        segment.end_at = segment.start_at + timedelta(microseconds=writer.end_90k * 1_000_000 // CLOCK_90K)
        self._account(segment)
        self.index.segment_progress(
            segment.pool, segment.path, end_at=segment.end_at, bytes=writer.bytes, frames=writer.frames
        )

    def _account(self, segment: _Segment) -> None:
        delta = segment.writer.bytes - segment.accounted
        if delta:
            segment.accounted += delta
            self.stats.bytes += delta
            self.pools.account(segment.pool, delta)

    def _close_segment(self) -> None:
        segment = self._segment
        if segment is None:
            return
        self._segment = None
        try:
            self._written(segment, segment.writer.close())
        except OSError as exc:
            self._segment = segment
            self._write_failed(exc)
            return
        self._finish(segment, "closed")

    def _finish(self, segment: _Segment, status: str) -> None:
        writer = segment.writer
        self.index.segment_closed(
            segment.pool, segment.path, end_at=segment.end_at, bytes=writer.bytes, frames=writer.frames, status=status
        )

    def _write_failed(self, exc: OSError) -> None:
        segment = self._segment
        self._segment = None
        self.stats.write_errors += 1
        why = _describe(exc)
        if segment is None:
            return
        segment.writer.abort()
        self._account(segment)
        self._finish(segment, "closed")
        self.pools.mark_failed(segment.pool, why)
        self._report("pool_unwritable", f"storage pool {segment.pool}: writing {segment.path} failed: {why}")
        # Footage from the end of the last whole fragment is lost until a segment opens in another pool.
        if self._gap is None:
            self._gap = (segment.end_at, "disk_full", f"pool {segment.pool}: {why}")

    def _report(self, kind: str, message: str) -> None:
        log.warning("recorder %s: %s", self.gb_id, message)
        if self._on_problem is not None:
            try:
                self._on_problem(kind, message)
            except Exception:  # a broken listener must not stop the recording
                log.exception("recorder %s: the problem listener failed", self.gb_id)


def _describe(exc: OSError) -> str:
    name = errno.errorcode.get(exc.errno or 0, "")
    text = (exc.strerror or os.strerror(exc.errno)) if exc.errno else str(exc)
    return f"{name} ({text})" if name else text
