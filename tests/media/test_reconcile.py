"""Start-up reconciliation: torn segments repaired, stray files indexed, vanished files marked, one crash gap."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.media.recording_helpers import FakeWall, mp4_digests, one_camera, synthetic
from tianyan.config import StoragePool
from tianyan.db.engine import make_sessionmaker
from tianyan.media import mp4boxes
from tianyan.media.index_writer import RecordingIndex
from tianyan.media.models import RecordingGap, RecordingSegment
from tianyan.media.pools import StoragePools
from tianyan.media.reconcile import reconcile
from tianyan.media.recorder import ChannelRecorder
from tianyan.media.units import VideoCodec

FPS = 10


@pytest.fixture
async def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


async def everything(sessions: async_sessionmaker[AsyncSession]) -> tuple[list[RecordingSegment], list[RecordingGap]]:
    async with sessions() as session:
        segments = (await session.execute(select(RecordingSegment).order_by(RecordingSegment.start_at))).scalars()
        gaps = (await session.execute(select(RecordingGap).order_by(RecordingGap.start_at))).scalars()
        return list(segments), list(gaps)


async def test_after_a_crash_the_index_matches_the_disk(
    tmp_path: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    camera_id, gb_id = await one_camera(sessions)
    pools = StoragePools([StoragePool(name="main", path=tmp_path / "main")], reserve_bytes=0)
    index = RecordingIndex(sessions)
    wall = FakeWall()
    recorder = ChannelRecorder(
        camera_id=camera_id, gb_id=gb_id, pools=pools, index=index, wall_clock=wall, segment_s=2, fragment_ms=1000
    )
    units = synthetic(75, fps=FPS)  # segments at 0, 2, 4, 6 s
    for unit in units:
        recorder.on_video(VideoCodec.H264, unit)
        wall.advance(1 / FPS)
    # The process dies here: the 6 s segment has one whole fragment on disk and its row says "open".
    await index.flush()
    segments, _ = await everything(sessions)
    assert [s.status for s in segments] == ["closed", "closed", "closed", "open"]
    root = tmp_path / "main"
    crashed = segments[3]
    whole = (root / crashed.path).read_bytes()
    # A torn tail: the start of a fragment the kernel only got half of.
    with (root / crashed.path).open("ab") as file:
        file.write(whole[-700:-300])
    # A file removed behind our back, and a file whose row was never written (copied under a new name).
    (root / segments[0].path).unlink()
    stray = f"{gb_id}/2026-03-01/080001-stray.mp4"
    shutil.copy(root / segments[1].path, root / stray)
    # A directory named after no camera, and something that is not a segment.
    unknown = root / "44130200001329999999" / "2026-03-01"
    unknown.mkdir(parents=True)
    (unknown / "080000-x.mp4").write_bytes(whole)
    (root / gb_id / "2026-03-01" / "notes.txt").write_text("hello")

    now = wall.now + timedelta(seconds=20)
    report = await reconcile(sessions, pools, now=now)
    key = f"main:{crashed.path}"
    assert report.repaired == [key] and report.bytes_trimmed == 400
    assert report.missing == [f"main:{segments[0].path}"]
    assert report.indexed == [f"main:{stray}"]
    assert report.unknown_cameras == ["main:44130200001329999999"]
    assert report.ignored == [f"main:{gb_id}/2026-03-01/notes.txt"]

    after, gaps = await everything(sessions)
    by_path = {s.path: s for s in after}
    repaired = by_path[crashed.path]
    assert repaired.status == "repaired" and repaired.end_at == crashed.start_at + timedelta(seconds=1)
    assert repaired.bytes == (root / crashed.path).stat().st_size == len(whole)
    assert repaired.frames == 10 and len(mp4_digests((root / crashed.path).read_bytes())) == 10
    assert by_path[segments[0].path].status == "missing"
    indexed = by_path[stray]
    assert (indexed.status, indexed.frames, indexed.codec, indexed.width) == ("closed", 20, "h264", 352)
    assert indexed.start_at == wall.now.replace(second=1, microsecond=0)
    assert indexed.end_at == indexed.start_at + timedelta(seconds=2)
    assert indexed.bytes == (root / stray).stat().st_size
    # Every row's file is there at the size the row says, except the missing one.
    for row in after:
        if row.status != "missing":
            assert (root / row.path).stat().st_size == row.bytes
    causes = sorted((g.cause, g.start_at, g.end_at) for g in gaps)
    assert ("file_missing", segments[0].start_at, segments[0].end_at) in causes
    # One crash gap, from the end of the last footage on disk to the restart.
    assert ("crash", repaired.end_at, now) in causes
    assert len(gaps) == 2

    again = await reconcile(sessions, pools, now=now + timedelta(seconds=5))
    assert again.changed == 0 and again.crash_gaps == {}
    assert len((await everything(sessions))[1]) == 2


async def test_a_segment_with_no_whole_fragment_goes(
    tmp_path: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    camera_id, gb_id = await one_camera(sessions)
    pools = StoragePools([StoragePool(name="main", path=tmp_path / "main")], reserve_bytes=0)
    index = RecordingIndex(sessions)
    wall = FakeWall()
    recorder = ChannelRecorder(camera_id=camera_id, gb_id=gb_id, pools=pools, index=index, wall_clock=wall)
    for unit in synthetic(5, fps=FPS):
        recorder.on_video(VideoCodec.H264, unit)
    await index.flush()
    (row,), _ = await everything(sessions)
    path = tmp_path / "main" / row.path
    assert mp4boxes.scan_file(path).fragments == []
    report = await reconcile(sessions, pools, now=wall.now + timedelta(minutes=1))
    assert report.removed_empty == [f"main:{row.path}"] and not path.exists()
    segments, gaps = await everything(sessions)
    assert segments == []
    assert [(g.cause, g.start_at) for g in gaps] == [("crash", row.start_at)]
