"""Server-side playback of recorded footage: a range planned onto one continuous media timeline (gaps squeezed
out), and that timeline streamed as fragmented MP4 a browser's Media Source Extensions can append as it comes.

The timeline is a list of spans: span k begins at media second `media_s` and there shows wall time `wall_at`,
running on in real time until the next span. A player shows `wall_at + (t - media_s)` as the real clock.
A stream always begins with a keyframe, so it may start a little before the point asked for; it says where
(header `X-Media-Start`, media seconds on the same timeline) and its own timestamps start at zero, so a player
sets `SourceBuffer.timestampOffset` to that value.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import av

from tianyan.core.errors import InvalidInput
from tianyan.media.export import (
    ExportCancelled,
    Gap,
    NoFootage,
    Remuxer,
    SegmentFile,
    coverage_gaps,
    keyframe_at_or_before,
    seconds,
)

FRAGMENTED = "frag_keyframe+empty_moov+default_base_moof+skip_trailer"  # no mfra: MSE wants moof/mdat only
# Chunks buffered between the muxing thread and a slow client: enough to keep the pipe full, bounded in memory.
QUEUE_CHUNKS = 16
RANGE_PREFIX = "range:"


@dataclass(frozen=True)
class Span:
    segment: SegmentFile
    wall_from: datetime
    wall_to: datetime
    media_s: Fraction

    def as_dict(self) -> dict[str, Any]:
        return {"media_s": round(float(self.media_s), 3), "wall_at": self.wall_from.isoformat()}


@dataclass(frozen=True)
class PlaybackPlan:
    start: datetime  # the keyframe the timeline begins with (at or before the requested start)
    end: datetime
    spans: list[Span]
    gaps: list[Gap]

    @property
    def duration_s(self) -> float:
        last = self.spans[-1]
        return float(last.media_s + seconds(last.wall_to - last.wall_from))

    def span_at_media(self, media_s: float) -> Span:
        chosen = self.spans[0]
        for span in self.spans:
            if span.media_s <= Fraction(media_s):
                chosen = span
        return chosen

    def wall_at(self, media_s: float) -> datetime:
        span = self.span_at_media(media_s)
        offset = min(Fraction(media_s) - span.media_s, seconds(span.wall_to - span.wall_from))
        return span.wall_from + timedelta(microseconds=round(max(offset, Fraction(0)) * 1_000_000))

    def media_at(self, wall: datetime) -> float:
        """The media second showing `wall`; a time in a gap maps to the start of the footage after it."""
        for span in self.spans:
            if wall < span.wall_to:
                return float(span.media_s + max(Fraction(0), seconds(wall - span.wall_from)))
        return self.duration_s

    def placement(self, media_start: Fraction) -> Any:
        """The Remuxer placement that puts each segment at its span, relative to the stream's first frame."""
        where = {span.segment.id: span for span in self.spans}

        def place(segment: SegmentFile, origin: datetime) -> Fraction:
            span = where[segment.id]
            return span.media_s - media_start - seconds(span.wall_from - segment.start_at)

        return place


def plan_playback(
    segments: Sequence[SegmentFile], start: datetime, end: datetime, *, keyframe: datetime, known: Sequence[Gap] = ()
) -> PlaybackPlan:
    """Spans back to back on the media timeline, from `keyframe` (the one at or before `start`) to `end`."""
    spans: list[Span] = []
    media = Fraction(0)
    for segment in segments:
        wall_from = max(segment.start_at, keyframe) if not spans else segment.start_at
        wall_to = min(segment.end_at, end)
        if spans:
            wall_from = max(wall_from, min(spans[-1].wall_to, wall_to))  # overlapping rows: never count twice
        if wall_to <= wall_from:
            continue
        spans.append(Span(segment, wall_from, wall_to, media))
        media += seconds(wall_to - wall_from)
    if not spans:
        raise NoFootage(f"no recorded footage between {start.isoformat()} and {end.isoformat()}")
    return PlaybackPlan(keyframe, end, spans, coverage_gaps(segments, start, end, known=known))


def first_keyframe(segments: Sequence[SegmentFile], start: datetime) -> datetime:
    """Blocking: the keyframe at or before `start` in the segment that holds it (or the first segment's first)."""
    holder = next((s for s in segments if s.start_at <= start < s.end_at), segments[0])
    return keyframe_at_or_before(holder, start)


def seek_point(plan: PlaybackPlan, media_s: float) -> tuple[datetime, Fraction]:
    """Blocking: where a stream asked to start at `media_s` really starts: its keyframe's wall and media times."""
    if not math.isfinite(media_s) or media_s < 0 or media_s > plan.duration_s:
        raise InvalidInput(f"start must lie within the footage (0 to {plan.duration_s:.3f} s), got {media_s}")
    span = plan.span_at_media(media_s)
    wanted = plan.wall_at(media_s)
    keyframe = max(keyframe_at_or_before(span.segment, wanted), span.wall_from)
    return keyframe, span.media_s + seconds(keyframe - span.wall_from)


class _ChunkWriter:
    """The file object PyAV writes the fragmented MP4 into: each write goes to the client, with back-pressure
    (at most QUEUE_CHUNKS chunks in flight; the muxer waits for the client beyond that)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes | None], stop: threading.Event):
        self.loop = loop
        self.queue = queue
        self.stop = stop
        self.room = threading.Semaphore(QUEUE_CHUNKS)

    def put(self, item: bytes | None) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError as exc:  # the event loop is gone: nobody is listening any more
            raise ExportCancelled("the client went away") from exc

    def write(self, data: Any) -> int:
        while not self.room.acquire(timeout=0.5):
            if self.stop.is_set():
                raise ExportCancelled("the client went away")
        if self.stop.is_set():
            raise ExportCancelled("the client went away")
        self.put(bytes(data))
        return len(data)


def write_fragmented(
    plan: PlaybackPlan, wall_start: datetime, media_start: Fraction, sink: Any, stop: threading.Event
) -> None:
    """Blocking: mux the plan from the keyframe at `wall_start` into `sink` as fragmented MP4 (init, fragments)."""
    index = next(i for i, span in enumerate(plan.spans) if span.wall_to > wall_start or span is plan.spans[-1])
    segments = [span.segment for span in plan.spans[index:]]
    with av.open(sink, "w", format="mp4", options={"movflags": FRAGMENTED}) as output:
        remuxer = Remuxer(output, segments, wall_start, plan.end, None, stop, place=plan.placement(media_start))
        remuxer.run()


async def fragmented_mp4(plan: PlaybackPlan, wall_start: datetime, media_start: Fraction) -> AsyncIterator[bytes]:
    """The stream as chunks, muxed in a worker thread that waits whenever the client falls behind."""
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()
    stop = threading.Event()
    writer = _ChunkWriter(asyncio.get_running_loop(), queue, stop)
    failure: list[BaseException] = []

    def work() -> None:
        try:
            write_fragmented(plan, wall_start, media_start, writer, stop)
        except BaseException as exc:
            if not stop.is_set() and not isinstance(exc, ExportCancelled):
                failure.append(exc)
        finally:
            with contextlib.suppress(ExportCancelled):
                writer.put(None)

    thread = threading.Thread(target=work, name="playback-mux", daemon=True)
    thread.start()
    try:
        while (chunk := await queue.get()) is not None:
            writer.room.release()
            yield chunk
        if failure:
            raise failure[0]
    finally:
        stop.set()


def range_claim(start: datetime, end: datetime) -> str:
    """The range a playback token is bound to, carried in its `stream` claim."""
    return f"{RANGE_PREFIX}{round(start.timestamp() * 1000)}:{round(end.timestamp() * 1000)}"


def parse_range_claim(claim: str) -> tuple[datetime, datetime]:
    if not claim.startswith(RANGE_PREFIX):
        raise InvalidInput("this token is not for a playback range")
    first, _, last = claim[len(RANGE_PREFIX) :].partition(":")
    try:
        return datetime.fromtimestamp(int(first) / 1000, UTC), datetime.fromtimestamp(int(last) / 1000, UTC)
    except ValueError as exc:
        raise InvalidInput("the token's playback range is malformed") from exc


def _annex_b_nal(data: bytes, wanted: set[int], *, hevc: bool) -> bytes | None:
    for part in data.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01").split(b"\x00\x00\x01"):
        if part and ((part[0] >> 1) & 0x3F if hevc else part[0] & 0x1F) in wanted:
            return part.replace(b"\x00\x00\x03", b"\x00\x00")
    return None


def _hevc_string(ptl: bytes) -> str:
    """RFC 6381 / ISO 14496-15 codecs value from general_profile_tier_level bytes (12 of them)."""
    space, tier, profile = ptl[0] >> 6, (ptl[0] >> 5) & 1, ptl[0] & 0x1F
    compat = int.from_bytes(ptl[1:5], "big")
    reversed_compat = int(f"{compat:032b}"[::-1], 2)
    constraints = list(ptl[5:11])
    while constraints and constraints[-1] == 0:
        constraints.pop()
    parts = [
        f"hvc1.{'' if space == 0 else 'ABC'[space - 1]}{profile}",
        f"{reversed_compat:X}",
        f"{'HL'[tier == 0]}{ptl[11]}",
    ]
    return ".".join(parts + [f"{c:X}" for c in constraints])


def video_codec_string(codec: str, extradata: bytes | None) -> str:
    """The codecs parameter of the MIME type (avc1.PPCCLL, hvc1....), from the stream's parameter sets."""
    data = extradata or b""
    if codec == "h264":
        if len(data) >= 4 and data[0] == 1:
            return f"avc1.{data[1]:02x}{data[2]:02x}{data[3]:02x}"
        sps = _annex_b_nal(data, {7}, hevc=False)
        if sps is not None and len(sps) >= 4:
            return f"avc1.{sps[1]:02x}{sps[2]:02x}{sps[3]:02x}"
        return "avc1.42e01e"
    if codec in ("hevc", "h265"):
        if len(data) >= 13 and data[0] == 1:
            return _hevc_string(data[1:13])
        sps = _annex_b_nal(data, {33}, hevc=True)
        if sps is not None and len(sps) >= 15:
            return _hevc_string(sps[3:15])
        return "hvc1.1.6.L93.B0"
    raise InvalidInput(f"the browser cannot play {codec} video")


def audio_codec_string(extradata: bytes | None) -> str:
    object_type = (extradata[0] >> 3) if extradata else 2
    return f"mp4a.40.{object_type or 2}"


def codecs_of(segment: SegmentFile) -> tuple[str, str | None]:
    """Blocking: the video and (if any) audio codecs values of a segment file."""
    with av.open(str(segment.path)) as source:
        video = source.streams.video[0].codec_context
        codec = video_codec_string(video.name, video.extradata)
        audio = source.streams.audio[0].codec_context if source.streams.audio else None
        if audio is None or audio.name != "aac":
            return codec, None
        return codec, audio_codec_string(audio.extradata)
