"""The channel recorder: segments cut where they should be, index rows that match the files, disk trouble survived."""

from __future__ import annotations

import dataclasses
import errno
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.media.recording_helpers import FakeWall, aac_units, mp4_digests, one_camera, picture_digests, synthetic
from tianyan.config import StoragePool
from tianyan.db.engine import make_sessionmaker
from tianyan.media import mp4boxes
from tianyan.media.index_writer import RecordingIndex
from tianyan.media.models import RecordingGap, RecordingSegment
from tianyan.media.pools import StoragePools
from tianyan.media.recorder import ChannelRecorder
from tianyan.media.units import AudioAccessUnit, AudioCodec, VideoAccessUnit, VideoCodec

FPS = 10  # SyntheticVideo's GOP is 2 s: a keyframe every 20 pictures


@pytest.fixture
async def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


@pytest.fixture
def aac(adts_aac: Path) -> list[AudioAccessUnit]:
    return aac_units(adts_aac.read_bytes())


@pytest.fixture
async def camera(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, str]:
    return await one_camera(sessions)


class Rig:
    def __init__(self, tmp_path: Path, sessions: async_sessionmaker[AsyncSession], camera: tuple[int, str], **kw):  # type: ignore[no-untyped-def]
        pool_names = kw.pop("pools", ("main",))
        statvfs = kw.pop("statvfs", None)
        extra = {"statvfs": statvfs} if statvfs else {}
        self.pools = StoragePools(
            [StoragePool(name=n, path=tmp_path / n) for n in pool_names],
            reserve_bytes=0, retry_s=kw.pop("retry_s", 0), **extra,
        )  # fmt: skip
        self.index = RecordingIndex(sessions)
        self.wall = FakeWall()
        self.problems: list[tuple[str, str]] = []
        self.camera_id, self.gb_id = camera
        self.recorder = ChannelRecorder(
            camera_id=self.camera_id, gb_id=self.gb_id, pools=self.pools, index=self.index, wall_clock=self.wall,
            on_problem=lambda kind, message: self.problems.append((kind, message)), **kw,
        )  # fmt: skip
        self.sessions = sessions

    def feed(self, units: list[VideoAccessUnit], codec: VideoCodec = VideoCodec.H264, fps: int = FPS) -> None:
        for unit in units:
            self.recorder.on_video(codec, unit)
            self.wall.advance(1 / fps)

    async def rows(self) -> tuple[list[RecordingSegment], list[RecordingGap]]:
        await self.index.flush()
        async with self.sessions() as session:
            segments = (await session.execute(select(RecordingSegment).order_by(RecordingSegment.start_at))).scalars()
            gaps = (await session.execute(select(RecordingGap).order_by(RecordingGap.start_at))).scalars()
            return list(segments), list(gaps)

    def file(self, row: RecordingSegment) -> Path:
        return self.pools.path(row.pool) / row.path


def shifted(units: list[VideoAccessUnit], by_90k: int) -> list[VideoAccessUnit]:
    return [dataclasses.replace(u, pts_90k=u.pts_90k + by_90k) for u in units]


async def test_segments_are_cut_at_the_first_keyframe_after_segment_s(
    tmp_path: Path, sessions: async_sessionmaker[AsyncSession], camera: tuple[int, str], probe: Callable[[Path], dict]
) -> None:
    rig = Rig(tmp_path, sessions, camera, segment_s=3, fragment_ms=1000)
    units = synthetic(100, fps=FPS, start_pts_90k=7_777_777)
    start = rig.wall.now
    rig.feed(units)
    rig.recorder.on_end("stopped")
    segments, gaps = await rig.rows()
    assert gaps == []
    # Keyframes at 0, 2, 4, 6, 8 s: cuts at the first one 3 s or more into each segment.
    assert [s.start_at for s in segments] == [start, start + timedelta(seconds=4), start + timedelta(seconds=8)]
    assert [s.end_at - s.start_at for s in segments] == [timedelta(seconds=4)] * 2 + [timedelta(seconds=2)]
    assert [s.frames for s in segments] == [40, 40, 20]
    digests = []
    for row in segments:
        path = rig.file(row)
        assert row.status == "closed" and row.codec == "h264" and (row.width, row.height) == (352, 288)
        assert row.path.startswith(f"{rig.gb_id}/2026-03-01/08000") and row.path.endswith(".mp4")
        assert row.bytes == path.stat().st_size
        info = probe(path)
        assert float(info["format"]["duration"]) == pytest.approx((row.end_at - row.start_at).total_seconds(), abs=0.01)
        data = path.read_bytes()
        assert mp4boxes.scan_bytes(data).fragments[0].runs[0].starts_with_sync
        digests += mp4_digests(data)
    assert digests == picture_digests(units), "every picture recorded once, in order"
    assert rig.recorder.stats.segments == 3 and rig.recorder.stats.frames == 100
    assert rig.pools.pools["main"].ours_bytes == sum(s.bytes for s in segments)


async def test_rows_advance_while_recording(
    tmp_path: Path, sessions: async_sessionmaker[AsyncSession], camera: tuple[int, str]
) -> None:
    rig = Rig(tmp_path, sessions, camera, segment_s=60, fragment_ms=1000)
    rig.feed(synthetic(35, fps=FPS))
    (segment,), _ = await rig.rows()
    assert segment.status == "open"
    # Three whole seconds are on disk; the fourth is still being filled.
    assert segment.end_at - segment.start_at == timedelta(seconds=3)
    assert segment.frames == 30 and segment.bytes == rig.file(segment).stat().st_size
    rig.recorder.on_end("stopped")
    (segment,), _ = await rig.rows()
    assert (segment.status, segment.frames, segment.end_at - segment.start_at) == ("closed", 35, timedelta(seconds=3.5))


async def test_a_discontinuity_cuts_a_segment_and_a_long_one_leaves_a_gap(
    tmp_path: Path, sessions: async_sessionmaker[AsyncSession], camera: tuple[int, str]
) -> None:
    rig = Rig(tmp_path, sessions, camera, segment_s=60)
    units = synthetic(60, fps=FPS)
    rig.feed(units[:30])
    # The device restarted its clock: times go back to near zero, and 8 s of wall-clock time went by unrecorded.
    rig.wall.advance(8)
    restarted = shifted(units[20:60], -units[20].pts_90k + 900)
    rig.feed(restarted[:1])  # a keyframe
    resumed_at = rig.wall.now - timedelta(seconds=1 / FPS)
    rig.feed(restarted[1:])
    # And a jump forwards, too small to leave a gap worth recording (no wall time passed).
    rig.feed(shifted(units[40:60], 50 * 90_000))
    rig.recorder.on_end("stopped")
    segments, gaps = await rig.rows()
    assert [s.frames for s in segments] == [30, 40, 20]
    first_end = segments[0].start_at + timedelta(seconds=3)
    assert segments[0].end_at == first_end and segments[1].start_at == resumed_at
    (gap,) = gaps
    assert (gap.cause, gap.start_at, gap.end_at) == ("stream_lost", first_end, resumed_at)


async def test_a_new_picture_size_starts_a_new_segment(
    tmp_path: Path, sessions: async_sessionmaker[AsyncSession], camera: tuple[int, str]
) -> None:
    rig = Rig(tmp_path, sessions, camera, segment_s=60)
    big = synthetic(25, fps=FPS)
    small = shifted(synthetic(25, 176, 144, fps=FPS), big[-1].pts_90k + 9000)
    rig.feed(big + small)
    rig.recorder.on_end("stopped")
    segments, _ = await rig.rows()
    assert [(s.width, s.height, s.frames) for s in segments] == [(352, 288, 25), (176, 144, 25)]
    assert mp4_digests(rig.file(segments[1]).read_bytes()) == picture_digests(small)


async def test_pictures_before_the_first_keyframe_wait(
    tmp_path: Path, sessions: async_sessionmaker[AsyncSession], camera: tuple[int, str]
) -> None:
    rig = Rig(tmp_path, sessions, camera)
    units = synthetic(45, fps=FPS)
    rig.feed(units[5:])
    rig.recorder.on_end("stopped")
    (segment,), _ = await rig.rows()
    assert rig.recorder.stats.waiting_frames == 15 and segment.frames == 25


async def test_aac_is_recorded_and_g711_counted(
    tmp_path: Path,
    sessions: async_sessionmaker[AsyncSession],
    camera: tuple[int, str],
    aac: list[AudioAccessUnit],
    probe: Callable[[Path], dict],
) -> None:
    rig = Rig(tmp_path, sessions, camera)
    audio = aac
    rig.recorder.on_audio(AudioCodec.G711A, AudioAccessUnit(b"\xd5" * 160, 0))
    rig.recorder.on_audio(AudioCodec.AAC, audio[0])
    pending = iter(audio[1:])
    next_audio = next(pending, None)
    for unit in synthetic(20, fps=FPS):
        while next_audio is not None and next_audio.pts_90k <= unit.pts_90k:
            rig.recorder.on_audio(AudioCodec.AAC, next_audio)
            next_audio = next(pending, None)
        rig.feed([unit])
    rig.recorder.on_end("stopped")
    (segment,), _ = await rig.rows()
    assert segment.has_audio
    assert {s["codec_type"] for s in probe(rig.file(segment))["streams"]} == {"video", "audio"}
    # The G.711 unit, and the first AAC frame (it arrived before there was a segment to put it in).
    assert rig.recorder.stats.skipped_audio == 2


class DiskFullIn:
    """os.write that fails with ENOSPC for files under one directory once it is switched on."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
        self.directory = str(directory)
        self.full = False
        self.failures = 0
        real = os.write

        def write(fd: int, data: bytes) -> int:
            if self.full and os.readlink(f"/proc/self/fd/{fd}").startswith(self.directory):
                self.failures += 1
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real(fd, data)

        monkeypatch.setattr(os, "write", write)


async def test_disk_full_closes_the_segment_switches_pools_and_records_a_gap(
    tmp_path: Path,
    sessions: async_sessionmaker[AsyncSession],
    camera: tuple[int, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tb = 10**12
    room = {tmp_path / "a": (tb, 0, tb), tmp_path / "b": (tb, tb // 2, tb // 2)}
    rig = Rig(tmp_path, sessions, camera, pools=("a", "b"), statvfs=room.__getitem__, segment_s=60, retry_s=30)
    disk = DiskFullIn(monkeypatch, tmp_path / "a")
    units = synthetic(80, fps=FPS)
    rig.feed(units[:25])
    disk.full = True
    rig.feed(units[25:40])  # the fragment holding 2-3 s cannot be written
    rig.feed(units[40:])  # the keyframe at 4 s opens a segment in b
    rig.recorder.on_end("stopped")
    assert disk.failures == 1
    segments, gaps = await rig.rows()
    assert [(s.pool, s.status, s.frames) for s in segments] == [("a", "closed", 20), ("b", "closed", 40)]
    first, second = segments
    assert first.bytes == rig.file(first).stat().st_size
    assert len(mp4_digests(rig.file(first).read_bytes())) == 20, "the file in the full pool plays to its end"
    (gap,) = gaps
    assert (gap.cause, gap.start_at, gap.end_at) == ("disk_full", first.end_at, second.start_at)
    assert "ENOSPC" in (gap.detail or "")
    assert rig.problems and rig.problems[0][0] == "pool_unwritable"
    assert rig.recorder.stats.write_errors == 1


async def test_no_pool_left_keeps_a_gap_open_until_recording_resumes(
    tmp_path: Path,
    sessions: async_sessionmaker[AsyncSession],
    camera: tuple[int, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rig = Rig(tmp_path, sessions, camera, segment_s=60)
    disk = DiskFullIn(monkeypatch, tmp_path / "main")
    units = synthetic(200, fps=FPS)
    rig.feed(units[:15])
    disk.full = True
    rig.feed(units[15:100])  # fails at 1 s; every keyframe after finds the only pool still failing
    disk.full = False
    rig.feed(units[100:])  # space freed: the next keyframe looked at starts a segment again
    rig.recorder.on_end("stopped")
    segments, gaps = await rig.rows()
    assert len(segments) == 2 and segments[0].frames == 10
    (gap,) = gaps
    assert gap.cause == "disk_full" and gap.start_at == segments[0].end_at and gap.end_at == segments[1].start_at
    assert segments[1].start_at - segments[0].start_at >= timedelta(seconds=10)
    assert rig.recorder.stats.lost_frames > 0


async def test_a_pool_that_cannot_even_create_the_file(
    tmp_path: Path, sessions: async_sessionmaker[AsyncSession], camera: tuple[int, str]
) -> None:
    tb = 10**12
    room = {tmp_path / "a": (tb, 0, tb), tmp_path / "b": (tb, tb // 2, tb // 2)}
    rig = Rig(tmp_path, sessions, camera, pools=("a", "b"), statvfs=room.__getitem__)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / rig.gb_id).write_text("not a directory")
    rig.feed(synthetic(10, fps=FPS))
    rig.recorder.on_end("stopped")
    (segment,), gaps = await rig.rows()
    assert segment.pool == "b" and gaps == []
    assert rig.problems[0][0] == "pool_unwritable"


async def test_a_resumed_recording_records_the_gap_before_it(
    tmp_path: Path, sessions: async_sessionmaker[AsyncSession], camera: tuple[int, str]
) -> None:
    rig = Rig(tmp_path, sessions, camera)
    lost_at = rig.wall.now - timedelta(seconds=30)
    rig.recorder = ChannelRecorder(
        camera_id=rig.camera_id, gb_id=rig.gb_id, pools=rig.pools, index=rig.index, wall_clock=rig.wall,
        resumed_after=(lost_at, "stream_lost"),
    )  # fmt: skip
    rig.feed(synthetic(5, fps=FPS))
    rig.recorder.on_end("lost")
    assert rig.recorder.end_cause == "stream_lost"
    (segment,), (gap,) = await rig.rows()
    assert (gap.start_at, gap.end_at, gap.cause) == (lost_at, segment.start_at, "stream_lost")


async def test_the_index_keeps_a_refused_batch(
    tmp_path: Path, sessions: async_sessionmaker[AsyncSession], camera: tuple[int, str]
) -> None:
    calls = {"n": 0}

    def flaky():  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("database restarting")
        return sessions()

    rig = Rig(tmp_path, sessions, camera)
    rig.index = RecordingIndex(flaky)  # type: ignore[arg-type]
    rig.recorder.index = rig.index
    rig.feed(synthetic(12, fps=FPS))
    assert await rig.index.flush() is False and rig.index.pending
    rig.recorder.on_end("stopped")
    (segment,), _ = await rig.rows()
    assert segment.status == "closed" and segment.frames == 12 and rig.index.failures == 1
