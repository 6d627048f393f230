"""Evidence export as an investigator checks it: the MP4 plays with the right length, every frame decodes in
order, the index (moov) comes first, gaps keep real time, audio comes along, and cancelling leaves nothing.

Also the footage helpers the other export and playback tests share: real fragmented-MP4 segments made with
ffmpeg, laid out as the recorder lays them out, with their index rows.
"""

from __future__ import annotations

import itertools
import shutil
import struct
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.media.export import (
    ExportCancelled,
    ExportError,
    Gap,
    NoFootage,
    SegmentFile,
    coverage_gaps,
    export_mp4,
    keyframe_at_or_before,
)
from tianyan.media.models import RecordingSegment

T0 = datetime(2026, 1, 1, 8, 0, 0, tzinfo=UTC)
FPS = 25
SEGMENT_S = 4
# Three 4 s segments: [0, 4) and [4, 8) back to back, then a 2 s gap, then [10, 14) (seconds after T0).
STARTS_S = (0, 4, 10)
FRAG = "frag_keyframe+empty_moov+default_base_moof"


def at(offset_s: float) -> datetime:
    return T0 + timedelta(seconds=offset_s)


def make_segment(ffmpeg: str, out: Path, *, audio: bool = False, size: str = "320x240", seconds: int = 4) -> Path:
    """A real recorder-like segment: fragmented MP4, H.264 with a keyframe every second, AAC when `audio`."""
    inputs = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={FPS}"]
    codecs = ["-c:v", "libx264", "-preset", "ultrafast", "-g", str(FPS), "-pix_fmt", "yuv420p"]
    if audio:
        inputs += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000"]
        codecs += ["-c:a", "aac", "-b:a", "32k"]
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", *inputs, "-t", str(seconds), *codecs, "-movflags", FRAG, str(out)],
        check=True,
        timeout=120,
    )
    return out


@dataclass(frozen=True)
class SegmentFiles:
    video: tuple[Path, ...]
    with_audio: tuple[Path, ...]
    other_size: Path


@pytest.fixture(scope="session")
def segment_files(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> SegmentFiles:
    folder = tmp_path_factory.mktemp("segments")
    video = tuple(make_segment(ffmpeg, folder / f"v{i}.mp4") for i in range(3))
    with_audio = tuple(make_segment(ffmpeg, folder / f"a{i}.mp4", audio=True) for i in range(3))
    other = make_segment(ffmpeg, folder / "big.mp4", size="640x480")
    return SegmentFiles(video, with_audio, other)


def segments_of(files: Sequence[Path], starts: Sequence[float] = STARTS_S, *, audio: bool = False) -> list[SegmentFile]:
    return [
        SegmentFile(i + 1, path, at(start), at(start + SEGMENT_S), has_audio=audio)
        for i, (path, start) in enumerate(zip(files, starts, strict=True))
    ]


async def add_segments(
    session: AsyncSession,
    *,
    camera_id: int,
    gb_id: str,
    pool_dir: Path,
    files: Sequence[Path],
    starts: Sequence[float] = STARTS_S,
    audio: bool = False,
) -> list[RecordingSegment]:
    """Copy segment files into the pool as the recorder lays them out and add their index rows; committed."""
    rows = []
    for index, (source, start) in enumerate(zip(files, starts, strict=True)):
        begins = at(start)
        relative = f"{gb_id}/{begins:%Y-%m-%d}/{begins:%H%M%S}-{index + 1}.mp4"
        target = pool_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        row = RecordingSegment(
            camera_id=camera_id,
            pool="default",
            path=relative,
            start_at=begins,
            end_at=at(start + SEGMENT_S),
            bytes=target.stat().st_size,
            codec="h264",
            width=320,
            height=240,
            frames=SEGMENT_S * FPS,
            has_audio=audio,
            status="closed",
        )
        session.add(row)
        rows.append(row)
    await session.commit()
    return rows


def top_level_boxes(path: Path) -> list[str]:
    names = []
    with path.open("rb") as source:
        while header := source.read(8):
            size, kind = struct.unpack(">I4s", header)
            if size == 1:
                size = struct.unpack(">Q", source.read(8))[0] - 8
            names.append(kind.decode("ascii"))
            source.seek(size - 8, 1)
    return names


def decoded_video_times(path: Path) -> list[float]:
    """Every video frame PyAV decodes, as presentation seconds, in output order."""
    with av.open(str(path)) as container:
        return [float(frame.time) for frame in container.decode(video=0)]


def test_export_across_segments_and_a_gap(
    segment_files: SegmentFiles, tmp_path: Path, probe: Callable[[Path], dict]
) -> None:
    out = tmp_path / "evidence.mp4"
    result = export_mp4(segments_of(segment_files.video), at(2.5), at(12.5), out)

    # Starts on the keyframe at or before the asked start (keyframes every second), ends at the asked end.
    assert result.actual_from == at(2)
    assert at(12.5) <= result.actual_to <= at(12.5 + 1 / FPS)
    assert result.segments_used == [1, 2, 3]
    info = probe(out)
    assert float(info["format"]["duration"]) == pytest.approx(result.duration_s, abs=0.05)
    assert float(info["format"]["duration"]) == pytest.approx(10.52, abs=0.05)
    assert [s["codec_name"] for s in info["streams"]] == ["h264"]
    boxes = top_level_boxes(out)
    assert boxes.index("moov") < boxes.index("mdat"), boxes

    times = decoded_video_times(out)
    # 2 s of the first segment, all of the second, 2.5 s of the third: every frame, in order.
    assert len(times) == 2 * FPS + 4 * FPS + int(2.5 * FPS) + 1 == result.video_frames
    steps = [round(b - a, 3) for a, b in itertools.pairwise(times)]
    assert all(step > 0 for step in steps)
    # The gap keeps real time: the first frame of the third segment shows up 10 s after the first frame (t=2 s).
    assert times[6 * FPS] == pytest.approx(10 - 2, abs=0.002)
    assert sorted(set(steps)) == [0.04, 2.04]


def test_a_range_inside_one_segment(segment_files: SegmentFiles, tmp_path: Path) -> None:
    out = tmp_path / "short.mp4"
    result = export_mp4(segments_of(segment_files.video), at(5.0), at(6.0), out)
    assert (result.actual_from, result.segments_used) == (at(5), [2])
    assert len(decoded_video_times(out)) == FPS == result.video_frames  # [from, to): not the frame at `to`


def test_audio_is_carried(segment_files: SegmentFiles, tmp_path: Path, probe: Callable[[Path], dict]) -> None:
    out = tmp_path / "with-audio.mp4"
    result = export_mp4(segments_of(segment_files.with_audio, audio=True), at(1), at(9), out)
    streams = {s["codec_type"]: s for s in probe(out)["streams"]}
    assert streams["audio"]["codec_name"] == "aac"
    assert result.audio_packets > 0
    audio_s = float(streams["audio"]["duration"])
    assert audio_s == pytest.approx(float(streams["video"]["duration"]), abs=0.5)
    with av.open(str(out)) as container:
        samples = sum(frame.samples for frame in container.decode(audio=0))
    assert samples / 8000 == pytest.approx(audio_s, abs=0.2)


def test_progress_reaches_one_and_cancel_leaves_nothing(segment_files: SegmentFiles, tmp_path: Path) -> None:
    seen: list[float] = []
    export_mp4(segments_of(segment_files.video), at(0), at(14), tmp_path / "a.mp4", progress=seen.append)
    assert seen[-1] == 1.0 and seen == sorted(seen) and all(0 <= p <= 1 for p in seen)

    cancel = threading.Event()
    out = tmp_path / "cancelled.mp4"
    with pytest.raises(ExportCancelled):
        export_mp4(segments_of(segment_files.video), at(0), at(14), out, progress=lambda _: cancel.set(), cancel=cancel)
    assert list(tmp_path.iterdir()) == [tmp_path / "a.mp4"]


def test_nothing_to_export_or_a_format_change_is_refused(segment_files: SegmentFiles, tmp_path: Path) -> None:
    with pytest.raises(NoFootage):
        export_mp4([], at(0), at(1), tmp_path / "x.mp4")
    with pytest.raises(NoFootage):
        export_mp4(segments_of(segment_files.video), at(20), at(30), tmp_path / "x.mp4")
    mixed = segments_of([segment_files.video[0], segment_files.other_size, segment_files.video[2]])
    with pytest.raises(ExportError, match="changes format"):
        export_mp4(mixed, at(0), at(14), tmp_path / "x.mp4")
    assert list(tmp_path.iterdir()) == []


def test_keyframe_lookup(segment_files: SegmentFiles) -> None:
    first = segments_of(segment_files.video)[0]
    assert keyframe_at_or_before(first, at(2.99)) == at(2)
    assert keyframe_at_or_before(first, at(3)) == at(3)
    assert keyframe_at_or_before(first, at(-5)) == at(0)


def test_coverage_gaps_name_their_cause() -> None:
    segments = [
        SegmentFile(1, Path("a"), at(0), at(4)),
        SegmentFile(2, Path("b"), at(4.2), at(8)),  # a 0.2 s seam: cutting jitter, not a gap
        SegmentFile(3, Path("c"), at(10), at(14)),
    ]
    known = [Gap(at(8), at(10), "stream_lost")]
    assert coverage_gaps(segments, at(-1), at(16), known=known) == [
        Gap(at(-1), at(0), "not_recorded"),
        Gap(at(8), at(10), "stream_lost"),
        Gap(at(14), at(16), "not_recorded"),
    ]
    assert coverage_gaps(segments, at(1), at(3)) == []
