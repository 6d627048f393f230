"""Retention on a real database and real files: the scheduled sweep deletes exactly the expired segments (never
locked ones, never one that straddles the boundary), and a full pool follows the policy, alarming when the law
stands in the way and clearing the alarms once the pool recovers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tianyan.config import MediaConfig, StoragePool
from tianyan.core import gbid
from tianyan.core.clock import FakeClock
from tianyan.core.events import Event
from tianyan.db.engine import make_sessionmaker
from tianyan.media.alarms import MediaAlarmCleared, MediaAlarmRaised
from tianyan.media.completeness import local_day
from tianyan.media.models import EvidenceLock, MediaAlarm, RecordingDay, RecordingSegment
from tianyan.media.retention import PoolUsage
from tianyan.media.retention_runner import RetentionRunner
from tianyan.registry import service
from tianyan.registry.models import Camera

NOW = datetime(2026, 11, 21, 4, 0, tzinfo=UTC)
POOL = "main"


@dataclass
class ListBus:
    events: list[Event] = field(default_factory=list)

    async def publish(self, event: Event) -> None:
        self.events.append(event)

    def subscribe(self, pattern, handler):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    async def close(self) -> None:
        pass


@dataclass
class World:
    sessions: async_sessionmaker[AsyncSession]
    root: Path
    clock: FakeClock
    bus: ListBus
    cameras: dict[str, int]
    serial: int = 0

    def runner(self, *, capacity_gb: float = 0.0) -> RetentionRunner:
        pool = StoragePool(name=POOL, path=self.root, capacity_gb=capacity_gb)
        return RetentionRunner(self.sessions, pools=[pool], media=MediaConfig(), bus=self.bus, clock=self.clock)

    async def segment(
        self, camera: str, end_days_ago: float, *, hours: float = 1.0, size: int = 100, status: str = "closed"
    ) -> int:
        """A segment row and its file (bytes only: retention never reads them)."""
        self.serial += 1
        end = NOW - timedelta(days=end_days_ago)
        start = end - timedelta(hours=hours)
        relative = f"{camera}/{start:%Y-%m-%d}/{start:%H%M%S}-{self.serial}.mp4"
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\0" * size)
        async with self.sessions() as session:
            row = RecordingSegment(
                camera_id=self.cameras[camera], pool=POOL, path=relative, start_at=start, end_at=end, bytes=size,
                codec="h264", status=status,
            )  # fmt: skip
            session.add(row)
            await session.commit()
            return row.id

    async def lock(self, camera: str, start: datetime, end: datetime, *, released: bool = False) -> None:
        async with self.sessions() as session:
            session.add(
                EvidenceLock(
                    camera_id=self.cameras[camera],
                    start_at=start,
                    end_at=end,
                    case_ref="A-1",
                    reason="test",
                    released_at=NOW if released else None,
                )
            )
            await session.commit()

    async def surviving(self) -> set[int]:
        async with self.sessions() as session:
            return set((await session.execute(select(RecordingSegment.id))).scalars())

    async def paths(self) -> dict[int, str]:
        async with self.sessions() as session:
            return dict((await session.execute(select(RecordingSegment.id, RecordingSegment.path))).tuples().all())


# name: (class, retention override)
CAMERAS = {"c1": (1, None), "c2": (2, None), "c3": (3, None), "c2x30": (2, 30), "c1x40": (1, 40)}


@pytest.fixture
async def world(engine: AsyncEngine, tmp_path: Path) -> World:
    sessions = make_sessionmaker(engine)
    ids: dict[str, int] = {}
    async with sessions() as session:
        await service.add_region(session, code="440000", name="广东省", level="province")
        await service.add_region(session, code="441300", name="惠州市", level="city", parent_code="440000")
        region = await service.add_region(session, code="441302", name="惠城区", level="county", parent_code="441300")
        for serial, (name, (cls, days)) in enumerate(CAMERAS.items(), start=1):
            camera = Camera(
                gb_id=gbid.build(centre="441302", serial=serial).value, name=name, cls=cls, network="police",
                region_id=region.id, retention_days=days, labels=[],
            )  # fmt: skip
            session.add(camera)
            await session.flush()
            ids[name] = camera.id
        await session.commit()
    root = tmp_path / "pool"
    root.mkdir()
    return World(sessions, root, FakeClock(NOW), ListBus(), ids)


async def test_retention_deletes_exactly_the_expired_segments(world: World) -> None:
    expired = {
        await world.segment("c1", 30.01),
        await world.segment("c2", 16),
        await world.segment("c3", 7.5),
        await world.segment("c1x40", 41),
        await world.segment("c2", 20),  # its lock was released: retention applies again
    }
    kept = {
        await world.segment("c1", 29.9),
        await world.segment("c1", 30, hours=0.5),  # ends exactly at the boundary: not older than it
        await world.segment("c2", 14.99, hours=2),  # straddles the boundary
        await world.segment("c3", 6),
        await world.segment("c1x40", 35),  # class 1 default would have gone; its own 40 days keep it
        await world.segment("c3", 9),  # expired, but under an active evidence lock
    }
    missing_file = await world.segment("c2", 18)
    expired.add(missing_file)
    paths = await world.paths()
    (world.root / paths[missing_file]).unlink()
    locked_end = NOW - timedelta(days=9)
    await world.lock("c3", locked_end - timedelta(minutes=10), locked_end + timedelta(days=1))
    released_end = NOW - timedelta(days=20)
    await world.lock("c2", released_end - timedelta(hours=3), released_end, released=True)

    report = await world.runner().sweep_expired()

    assert await world.surviving() == kept
    assert report.segments == len(expired) and report.bytes == 100 * len(expired)
    assert report.missing_files == 1 and report.errors == []
    assert all(not (world.root / paths[i]).exists() for i in expired)
    assert all((world.root / paths[i]).exists() for i in kept)
    again = await world.runner().sweep_expired()
    assert again.segments == 0  # nothing left to do; the second pass is harmless


async def test_the_sweep_keeps_going_past_a_file_it_cannot_delete(world: World) -> None:
    stuck = await world.segment("c3", 10)
    fine = await world.segment("c3", 11)
    paths = await world.paths()
    blocker = world.root / paths[stuck]
    blocker.unlink()
    blocker.mkdir()  # a directory where the file should be: unlink fails with an OSError other than "missing"
    (blocker / "x").write_bytes(b"1")
    report = await world.runner().sweep_expired()
    assert report.segments == 1 and len(report.errors) == 1 and f"segment {stuck}" in report.errors[0]
    assert await world.surviving() == {stuck}  # the row stays, so the next sweep tries again
    assert not (world.root / paths[fine]).exists()


async def test_a_full_pool_follows_the_policy(world: World) -> None:
    runner = world.runner()
    expired_c1 = await world.segment("c1", 40)
    c3_old = await world.segment("c3", 5)
    c3_new = await world.segment("c3", 0.05)
    c3_recording = await world.segment("c3", 0, status="open")  # being written: never pulled from under the writer
    c3_locked = await world.segment("c3", 6)
    await world.lock("c3", NOW - timedelta(days=6, hours=2), NOW - timedelta(days=5, hours=23))
    beyond_25 = await world.segment("c2x30", 25)
    beyond_20 = await world.segment("c2x30", 20)
    protected = {await world.segment("c2x30", 10), await world.segment("c1", 20), await world.segment("c2", 14)}

    # Barely over high water (95 %): 100 bytes to free; the oldest expendable segment goes, nothing else.
    first = (await runner.relieve_pressure({POOL: PoolUsage(POOL, 950, 1000)}))[0]
    assert first.needed_bytes == 100 and first.reached and first.deleted.segments == 1
    assert expired_c1 not in await world.surviving()

    # Class 3 footage next, oldest first.
    second = (await runner.relieve_pressure({POOL: PoolUsage(POOL, 1050, 1000)}))[0]
    assert second.reached and second.deleted.bytes == 200
    assert {c3_old, c3_new} & await world.surviving() == set()

    # Then footage beyond the legal minimum; the target (250) needs more than that, so the rest is protected:
    # nothing inside the law or under a lock is touched, and the alarms go up.
    third = (await runner.relieve_pressure({POOL: PoolUsage(POOL, 1100, 1000)}))[0]
    assert not third.reached and third.deleted.bytes == 200
    assert await world.surviving() == protected | {c3_locked, c3_recording}
    assert sorted(third.alarms) == ["pool_nearly_full", "retention_at_risk"]
    async with world.sessions() as session:
        open_alarms = (await session.execute(select(MediaAlarm).where(MediaAlarm.cleared_at.is_(None)))).scalars()
        kinds = ("pool_nearly_full", "retention_at_risk")
        assert sorted((a.kind, a.pool) for a in open_alarms) == [(kind, POOL) for kind in kinds]
    raised = [e for e in world.bus.events if isinstance(e, MediaAlarmRaised)]
    assert sorted(e.kind for e in raised) == ["pool_nearly_full", "retention_at_risk"]

    # Still full: the alarms stay open, once each.
    await runner.relieve_pressure({POOL: PoolUsage(POOL, 1100, 1000)})
    async with world.sessions() as session:
        assert len((await session.execute(select(MediaAlarm))).scalars().all()) == 2
    assert len([e for e in world.bus.events if isinstance(e, MediaAlarmRaised)]) == 2

    # Capacity added: the condition ends and the alarms clear.
    world.clock.advance(3600)
    (await runner.relieve_pressure({POOL: PoolUsage(POOL, 1100, 2000)}))
    async with world.sessions() as session:
        alarms = (await session.execute(select(MediaAlarm))).scalars().all()
        assert all(a.cleared_at is not None for a in alarms) and len(alarms) == 2
    assert sorted(e.kind for e in world.bus.events if isinstance(e, MediaAlarmCleared)) == [
        "pool_nearly_full",
        "retention_at_risk",
    ]
    assert {beyond_20, beyond_25} & await world.surviving() == set()


async def test_the_pool_capacity_and_index_drive_a_full_run(world: World) -> None:
    """No usage given: a pool with a capacity is as full as the index says; the recording days that lost footage
    for space are refreshed, so completeness shows it is gone."""
    gone = await world.segment("c2x30", 20, size=650)
    kept = await world.segment("c1", 1, size=300)
    async with world.sessions() as session:
        camera = world.cameras["c2x30"]
        day = local_day(NOW - timedelta(days=20))
        session.add(RecordingDay(camera_id=camera, day=day, recorded_s=3600, planned_s=86400, completeness=1.0))
        await session.commit()
    report = await world.runner(capacity_gb=1000 / 1e9).run_once()
    pool = report.pools[0]
    assert (pool.used_bytes, pool.capacity_bytes, pool.needed_bytes) == (950, 1000, 100)
    assert pool.reached and pool.deleted.bytes == 650
    assert await world.surviving() == {kept} and gone not in await world.surviving()
    assert report.days_refreshed >= 1
    async with world.sessions() as session:
        rows = (await session.execute(select(RecordingDay).where(RecordingDay.camera_id == camera))).scalars().all()
        assert rows and all(r.recorded_s == 0 for r in rows)
