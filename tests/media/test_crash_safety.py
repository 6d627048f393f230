"""kill -9 a recording platform mid-fragment: after reconciliation the index matches the disk and little is lost."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.media.recording_helpers import mp4_digests, one_camera
from tianyan.config import StoragePool
from tianyan.db.engine import make_sessionmaker
from tianyan.media.models import RecordingGap, RecordingSegment
from tianyan.media.pools import StoragePools
from tianyan.media.reconcile import reconcile

SCRIPT = Path(__file__).with_name("crash_recorder.py")
RECORD_S = 4.2
# Lost at most: the fragment being filled (1 s) and the picture the muxer holds back, with room for a busy box.
MAX_LOST_S = 2.0


@pytest.fixture
async def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


async def _where(engine: AsyncEngine, backend: str) -> tuple[str, str]:
    url = engine.url.render_as_string(hide_password=False)
    if backend == "sqlite":
        return url, "-"
    async with engine.connect() as conn:
        schema = (await conn.execute(text("SHOW search_path"))).scalar_one()
    return url, schema


async def test_kill_9_loses_at_most_the_fragment_being_filled(
    tmp_path: Path,
    engine: AsyncEngine,
    backend: str,
    sessions: async_sessionmaker[AsyncSession],
    probe: Callable[[Path], dict],
) -> None:
    camera_id, gb_id = await one_camera(sessions)
    url, schema = await _where(engine, backend)
    pool = tmp_path / "pool"
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), url, schema, str(pool), str(camera_id), gb_id,
        stdout=asyncio.subprocess.PIPE, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=120)
        assert line.strip() == b"recording"
        await asyncio.sleep(RECORD_S)
        killed_at = datetime.now(UTC)
        process.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(process.wait(), timeout=30) == -signal.SIGKILL
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    pools = StoragePools([StoragePool(name="main", path=pool)], reserve_bytes=0)
    report = await reconcile(sessions, pools, now=datetime.now(UTC))
    async with sessions() as session:
        segments = list((await session.execute(select(RecordingSegment).order_by(RecordingSegment.start_at))).scalars())
        gaps = list((await session.execute(select(RecordingGap))).scalars())

    # Two-second segments for about four seconds: two or three of them, the last one cut short by the kill.
    assert len(segments) >= 2
    on_disk = sorted(p.relative_to(pool).as_posix() for p in pool.rglob("*.mp4"))
    assert on_disk == sorted(s.path for s in segments)
    for segment in segments:
        path = pool / segment.path
        assert segment.status in ("closed", "repaired"), segment
        assert path.stat().st_size == segment.bytes
        assert len(mp4_digests(path.read_bytes())) == segment.frames
    last = segments[-1]
    # The segment being written was reconciled: closed, trimmed, indexed, or gone when it held no whole second.
    assert report.closed + report.repaired + report.indexed + report.removed_empty
    info = probe(pool / last.path)
    played = float(info["format"]["duration"])
    assert played == pytest.approx((last.end_at - last.start_at).total_seconds(), abs=0.05)
    lost = (killed_at - last.end_at).total_seconds()
    assert 0 <= lost <= MAX_LOST_S, f"{lost:.2f} s of footage lost"
    (crash,) = [g for g in gaps if g.cause == "crash"]
    assert crash.start_at == last.end_at and crash.end_at == report.now
