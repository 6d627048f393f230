"""Evidence export: a camera's recorded time range remuxed (never re-encoded) from its fMP4 segments into one MP4.

Timeline rule: the exported file's clock is the wall clock from the first exported frame (the keyframe at or
before the requested start). Within a segment timestamps are the recording's own; a segment is placed at its
recorded start time, so a gap between segments keeps its real length (the frame before it is held on screen).
`actual_from + t` is therefore the real time of media time `t` anywhere in the file.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core.errors import NotFound, TianyanError
from tianyan.media.models import RecordingGap, RecordingSegment

# Holes in the recording shorter than this are the jitter of cutting segments, not gaps worth reporting.
GAP_TOLERANCE_S = 0.5
# How often (in video packets) progress is reported and cancellation looked at: cheap enough, yet responsive.
CHECK_EVERY = 100
USABLE_STATUSES = ("open", "closed", "repaired")

ProgressFn = Callable[[float], None]


class ExportError(TianyanError):
    title = "Export failed"
    status = 500


class ExportCancelled(TianyanError):
    title = "Export cancelled"
    status = 409


class NoFootage(NotFound):
    title = "No recorded footage"


@dataclass(frozen=True)
class SegmentFile:
    """One recorded segment as the exporter needs it: where its file is and the wall time its first frame has."""

    id: int
    path: Path
    start_at: datetime
    end_at: datetime
    codec: str = "h264"
    has_audio: bool = False
    status: str = "closed"


@dataclass(frozen=True)
class Gap:
    start_at: datetime
    end_at: datetime
    cause: str = "unknown"

    @property
    def seconds(self) -> float:
        return (self.end_at - self.start_at).total_seconds()

    def as_dict(self) -> dict[str, object]:
        return {
            "from": self.start_at.isoformat(),
            "to": self.end_at.isoformat(),
            "seconds": round(self.seconds, 3),
            "cause": self.cause,
        }


@dataclass(frozen=True)
class Footage:
    """What the index holds for a range: the segments that can be read and the gaps already known."""

    segments: list[SegmentFile]
    known_gaps: list[Gap] = field(default_factory=list)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    actual_from: datetime
    actual_to: datetime
    segments_used: list[int]
    video_frames: int
    audio_packets: int
    video_codec: str
    width: int
    height: int

    @property
    def duration_s(self) -> float:
        return (self.actual_to - self.actual_from).total_seconds()


def seconds(delta: timedelta) -> Fraction:
    """A timedelta as exact seconds (microsecond resolution), so offsets never drift by rounding."""
    return Fraction(delta // timedelta(microseconds=1), 1_000_000)


def _wall(origin: datetime, at: Fraction) -> datetime:
    return origin + timedelta(microseconds=round(at * 1_000_000))


async def load_footage(
    session: AsyncSession, *, camera_id: int, start: datetime, end: datetime, pools: dict[str, Path]
) -> Footage:
    """Segments overlapping [start, end) in time order, and known gaps (indexed ones, and files gone from disk)."""
    rows = (
        await session.execute(
            select(RecordingSegment)
            .where(
                RecordingSegment.camera_id == camera_id,
                RecordingSegment.start_at < end,
                RecordingSegment.end_at > start,
            )
            .order_by(RecordingSegment.start_at, RecordingSegment.id)
        )
    ).scalars()
    segments: list[SegmentFile] = []
    known: list[Gap] = []
    for row in rows:
        pool = pools.get(row.pool)
        path = pool / row.path if pool is not None else None
        if row.status not in USABLE_STATUSES or path is None or not path.is_file():
            known.append(Gap(row.start_at, row.end_at, "file_missing"))
            continue
        segments.append(SegmentFile(row.id, path, row.start_at, row.end_at, row.codec, row.has_audio, row.status))
    gap_rows = (
        await session.execute(
            select(RecordingGap).where(
                RecordingGap.camera_id == camera_id, RecordingGap.start_at < end, RecordingGap.end_at > start
            )
        )
    ).scalars()
    known += [Gap(g.start_at, g.end_at, g.cause) for g in gap_rows]
    return Footage(segments, known)


def coverage_gaps(
    segments: Sequence[SegmentFile],
    start: datetime,
    end: datetime,
    *,
    known: Sequence[Gap] = (),
    tolerance_s: float = GAP_TOLERANCE_S,
) -> list[Gap]:
    """The stretches of [start, end) no segment covers, each with the cause of the known gap overlapping it most."""
    holes: list[Gap] = []
    cursor = start
    for segment in sorted(segments, key=lambda s: s.start_at):
        if segment.start_at > cursor:
            holes.append(Gap(cursor, min(segment.start_at, end)))
        cursor = max(cursor, segment.end_at)
        if cursor >= end:
            break
    if cursor < end:
        holes.append(Gap(cursor, end))
    found = []
    for hole in holes:
        if hole.seconds <= tolerance_s:
            continue
        overlaps = [(min(hole.end_at, k.end_at) - max(hole.start_at, k.start_at), k.cause) for k in known]
        best = max((o for o in overlaps if o[0] > timedelta(0)), default=None)
        found.append(Gap(hole.start_at, hole.end_at, best[1] if best else "not_recorded"))
    return found


def keyframe_at_or_before(segment: SegmentFile, at: datetime) -> datetime:
    """The wall time of the segment's keyframe at or before `at` (its first frame when `at` precedes it)."""
    with av.open(str(segment.path)) as source:
        video = source.streams.video[0]
        base = video.start_time or 0
        tb = video.time_base
        assert tb is not None
        if at > segment.start_at:
            target = base + round(seconds(at - segment.start_at) / tb)
            source.seek(target, stream=video, backward=True, any_frame=False)
        for packet in source.demux(video):
            if packet.pts is not None and packet.is_keyframe:
                moment = min(packet.pts, packet.dts if packet.dts is not None else packet.pts)
                return _wall(segment.start_at, (moment - base) * tb)
    raise NoFootage(f"segment {segment.id} ({segment.path.name}) holds no keyframe")


# Where a segment's first frame goes in the output, in seconds from the first frame written (the origin).
Placement = Callable[[SegmentFile, datetime], Fraction]


def wall_clock_placement(segment: SegmentFile, origin: datetime) -> Fraction:
    """Each segment at its recorded time: gaps keep their real length (evidence export)."""
    return seconds(segment.start_at - origin)


class Remuxer:
    """Copies packets of consecutive segments into one output, placing each segment where `place` says.

    Never earlier than the end of what is written already, so timestamps only ever increase.
    """

    def __init__(
        self,
        output: av.container.OutputContainer,
        segments: Sequence[SegmentFile],
        start: datetime,
        end: datetime,
        progress: ProgressFn | None,
        cancel: threading.Event | None,
        place: Placement = wall_clock_placement,
    ) -> None:
        self.place = place
        self.output = output
        self.segments = segments
        self.start = start
        self.end = end
        self.progress = progress
        self.cancel = cancel
        self.origin: datetime | None = None
        self.video_out: av.video.stream.VideoStream | None = None
        self.audio_out: av.audio.stream.AudioStream | None = None
        self.used: list[int] = []
        self.frames = 0
        self.audio_packets = 0
        # Output seconds (from origin) of the end of the last video frame and the last audio packet's dts.
        self.video_end = Fraction(-1)
        self.last_audio = Fraction(-1)
        self.codec = ("", 0, 0)

    def _add_streams(self, first: av.container.InputContainer) -> None:
        video = first.streams.video[0]
        self.video_out = self.output.add_stream_from_template(video)
        self.codec = (video.codec_context.name, video.codec_context.width, video.codec_context.height)
        for segment in self.segments:
            if not segment.has_audio:
                continue
            with av.open(str(segment.path)) as other:
                if other.streams.audio:
                    self.audio_out = self.output.add_stream_from_template(other.streams.audio[0])
                    return

    def run(self) -> None:
        for index, segment in enumerate(self.segments):
            try:
                self._segment(segment, first=index == 0)
            except ExportCancelled:
                raise
            except av.FFmpegError as exc:
                raise ExportError(f"segment {segment.id} ({segment.path.name}) could not be read: {exc}") from exc
            if self.origin is not None and self.video_end >= seconds(self.end - self.origin):
                break
        if self.origin is None or self.frames == 0:
            raise NoFootage(f"no frames recorded between {self.start.isoformat()} and {self.end.isoformat()}")

    def _check(self, at: Fraction) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise ExportCancelled("the export was cancelled")
        if self.progress is not None and self.origin is not None:
            total = seconds(self.end - self.origin)
            self.progress(float(min(Fraction(1), max(Fraction(0), at / total))) if total > 0 else 1.0)

    def _segment(self, segment: SegmentFile, *, first: bool) -> None:
        with av.open(str(segment.path)) as source:
            if not source.streams.video:
                return
            video = source.streams.video[0]
            if self.video_out is None:
                self._add_streams(source)
            elif (video.codec_context.name, video.codec_context.width, video.codec_context.height) != self.codec:
                raise ExportError(
                    f"the stream changes format at {segment.start_at.isoformat()} ({self.codec} to "
                    f"{(video.codec_context.name, video.codec_context.width, video.codec_context.height)}); "
                    "export the parts before and after separately"
                )
            audio = source.streams.audio[0] if self.audio_out is not None and source.streams.audio else None
            self._copy(source, segment, video, audio, first=first)

    def _copy(
        self,
        source: av.container.InputContainer,
        segment: SegmentFile,
        video: av.video.stream.VideoStream,
        audio: av.audio.stream.AudioStream | None,
        *,
        first: bool,
    ) -> None:
        vtb = video.time_base
        assert vtb is not None and self.video_out is not None
        base = video.start_time or 0
        if first and self.start > segment.start_at:
            # Rounded, not floored: a start that is a keyframe's own time (microseconds) must find that keyframe.
            source.seek(base + round(seconds(self.start - segment.start_at) / vtb), stream=video, backward=True)
        end_ticks = base + math.ceil(seconds(self.end - segment.start_at) / vtb)  # frames before `end`
        # Past the end, audio stored behind the last video of a fragment is still wanted; a fragment later, not.
        stop_ticks = end_ticks + int(5 / vtb)
        # Output seconds of this file's time zero; decided at the first keyframe for the first segment.
        shift: Fraction | None = None
        if self.origin is not None:
            shift = max(self.place(segment, self.origin), self.video_end) - base * vtb
        v_off = a_off = 0
        atb = audio.time_base if audio is not None else None
        audio_floor = audio_limit = 0  # output ticks in the audio time base
        video_index = video.index
        streams = [video] if audio is None else [video, audio]
        used = video_done = False
        v_end = -1  # the end of the last frame written, output ticks
        frames = 0
        mux = self.output.mux_one
        video_out, audio_out = self.video_out, self.audio_out
        for packet in source.demux(streams):
            dts = packet.dts
            if dts is None:
                continue
            if packet.stream_index == video_index:
                if dts >= end_ticks:
                    if audio is None or dts >= stop_ticks:
                        break
                    video_done = True
                    continue
                if shift is None:
                    if not packet.is_keyframe:
                        continue
                    self.origin = _wall(segment.start_at, (min(dts, packet.pts) - base) * vtb)
                    shift = -min(dts, packet.pts) * vtb
                if not used:
                    used = True
                    self.used.append(segment.id)
                    v_off = round(shift / vtb)
                    if atb is not None:
                        a_off = round(shift / atb)
                        audio_floor = max(0, int(self.last_audio / atb) + 1)
                        audio_limit = int(seconds(self.end - self.origin) / atb)
                packet.dts = dts + v_off
                pts = packet.pts + v_off
                packet.pts = pts
                packet.stream = video_out
                mux(packet)
                frames += 1
                if pts + packet.duration > v_end:
                    v_end = pts + packet.duration
                if frames % CHECK_EVERY == 0:
                    self._check(packet.dts * vtb)
            elif used:
                out_dts = dts + a_off
                if out_dts >= audio_limit:
                    if video_done:
                        break
                    continue
                if out_dts < audio_floor:
                    continue  # overlaps what the previous segment wrote
                packet.dts = out_dts
                packet.pts = packet.pts + a_off
                packet.stream = audio_out
                mux(packet)
                audio_floor = out_dts + 1
                self.audio_packets += 1
        self.frames += frames
        if used:
            self.video_end = max(self.video_end, v_end * vtb)
            if atb is not None:
                self.last_audio = max(self.last_audio, (audio_floor - 1) * atb)


def export_mp4(
    segments: Sequence[SegmentFile],
    start: datetime,
    end: datetime,
    out: Path,
    *,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> ExportResult:
    """Remux [start, end) of `segments` (time order, one camera) into `out`, an MP4 with its index first.

    Blocking (run it in a worker thread). The file is written beside `out` and renamed when complete, so a
    failed or cancelled export leaves nothing that looks finished.
    """
    if end <= start:
        raise ExportError("the end of the range must come after its start")
    segments = [s for s in segments if s.end_at > start and s.start_at < end]
    if not segments:
        raise NoFootage(f"no recorded footage between {start.isoformat()} and {end.isoformat()}")
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + ".part")
    try:
        # faststart: FFmpeg's own second pass moves the index (moov) in front of the media data.
        with av.open(str(part), "w", format="mp4", options={"movflags": "+faststart"}) as output:
            remuxer = Remuxer(output, segments, start, end, progress, cancel)
            remuxer.run()
        os.replace(part, out)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    assert remuxer.origin is not None
    if progress is not None:
        progress(1.0)
    codec, width, height = remuxer.codec
    return ExportResult(
        path=out,
        actual_from=remuxer.origin,
        actual_to=_wall(remuxer.origin, remuxer.video_end),
        segments_used=remuxer.used,
        video_frames=remuxer.frames,
        audio_packets=remuxer.audio_packets,
        video_codec=codec,
        width=width,
        height=height,
    )
