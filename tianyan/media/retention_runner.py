"""Runs retention: the scheduled sweep of expired footage and space recovery for full pools, with their alarms.

Files go first and rows after (a missing file is fine), so a crash between the two leaves a row pointing at
nothing, never an unindexed file nobody will delete. Footage under an active evidence lock is never deleted;
footage inside its legal retention is never deleted for space, and when a pool cannot be brought down without
it the runner raises "retention_at_risk" and "pool_nearly_full" instead, clearing them once the pool recovers.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tianyan.bus.base import Bus
from tianyan.config import MediaConfig, StoragePool
from tianyan.core.clock import Clock, SystemClock
from tianyan.db.engine import intend_to_write
from tianyan.media import alarms, completeness
from tianyan.media.models import EvidenceLock, RecordingSegment
from tianyan.media.retention import (
    Candidate,
    PoolUsage,
    Tier,
    bytes_to_free,
    effective_retention_days,
    expiry_cutoff,
    legal_minimum_days,
    plan_space_recovery,
)
from tianyan.registry.models import Camera

log = logging.getLogger(__name__)
GB = 10**9

UsageSource = Callable[[AsyncSession], Awaitable[Mapping[str, PoolUsage]]]


# --- pool usage ----------------------------------------------------------------------------------------------


def measure(pool: StoragePool, indexed_bytes: int) -> PoolUsage | None:
    """A pool with a capacity is as full as its indexed footage says; one without, as full as its file system."""
    if pool.capacity_gb > 0:
        return PoolUsage(pool.name, indexed_bytes, int(pool.capacity_gb * GB))
    try:
        stats = os.statvfs(pool.path)
    except OSError:
        return None
    # As df counts: blocks reserved for root are neither used nor available to the recorder.
    used = (stats.f_blocks - stats.f_bfree) * stats.f_frsize
    return PoolUsage(pool.name, used, used + stats.f_bavail * stats.f_frsize)


async def indexed_bytes(session: AsyncSession) -> dict[str, int]:
    query = select(RecordingSegment.pool, func.coalesce(func.sum(RecordingSegment.bytes), 0))
    return {pool: int(total) for pool, total in (await session.execute(query.group_by(RecordingSegment.pool))).tuples()}


async def pool_usages(session: AsyncSession, pools: Sequence[StoragePool]) -> dict[str, PoolUsage]:
    indexed = await indexed_bytes(session)
    measured = {pool.name: measure(pool, indexed.get(pool.name, 0)) for pool in pools}
    return {name: usage for name, usage in measured.items() if usage is not None}


# --- reports -------------------------------------------------------------------------------------------------


@dataclass
class Deletion:
    """What one pass deleted: segments (rows), bytes by their index rows, files already gone, and what failed."""

    segments: int = 0
    bytes: int = 0
    missing_files: int = 0
    errors: list[str] = field(default_factory=list)
    touched: list[tuple[int, datetime, datetime]] = field(default_factory=list)

    def add(self, other: Deletion) -> None:
        self.segments += other.segments
        self.bytes += other.bytes
        self.missing_files += other.missing_files
        self.errors += other.errors
        self.touched += other.touched

    def as_dict(self) -> dict[str, Any]:
        return {
            "segments": self.segments,
            "bytes": self.bytes,
            "missing_files": self.missing_files,
            "errors": self.errors[:50],
            "error_count": len(self.errors),
        }


@dataclass
class PoolReport:
    pool: str
    used_bytes: int
    capacity_bytes: int
    needed_bytes: int
    deleted: Deletion
    reached: bool
    alarms: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "pool": self.pool,
            "used_bytes": self.used_bytes,
            "capacity_bytes": self.capacity_bytes,
            "fraction": round(self.used_bytes / self.capacity_bytes, 6) if self.capacity_bytes else 0.0,
            "needed_bytes": self.needed_bytes,
            "freed_bytes": self.deleted.bytes,
            "deleted": self.deleted.as_dict(),
            "reached": self.reached,
            "alarms": self.alarms,
        }


@dataclass
class RunReport:
    started_at: datetime
    expired: Deletion
    pools: list[PoolReport]
    days_refreshed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at.isoformat(),
            "expired": self.expired.as_dict(),
            "pools": [p.as_dict() for p in self.pools],
            "days_refreshed": self.days_refreshed,
        }


# --- SQL pieces ----------------------------------------------------------------------------------------------


def locked_clause() -> ColumnElement[bool]:
    """The segment overlaps an active evidence lock of its camera."""
    return (
        select(EvidenceLock.id)
        .where(
            EvidenceLock.camera_id == RecordingSegment.camera_id,
            EvidenceLock.released_at.is_(None),
            EvidenceLock.start_at < RecordingSegment.end_at,
            EvidenceLock.end_at > RecordingSegment.start_at,
        )
        .exists()
    )


async def _retention_groups(session: AsyncSession) -> list[tuple[int, int | None]]:
    """The distinct (class, retention override) pairs: a handful, whatever the number of cameras."""
    query = select(Camera.cls, Camera.retention_days).distinct()
    return [(cls, days) for cls, days in (await session.execute(query)).tuples()]


def _older_than(groups: Sequence[tuple[int, int | None]], now: datetime, days_of: Callable[[int, int | None], int]):  # type: ignore[no-untyped-def]
    """Segments ending before now minus `days_of(class, override)` for their camera's group."""
    parts = [
        and_(
            Camera.cls == cls,
            Camera.retention_days.is_(None) if override is None else Camera.retention_days == override,
            RecordingSegment.end_at < expiry_cutoff(now, days_of(cls, override)),
        )
        for cls, override in groups
    ]
    return or_(*parts) if parts else false()


_ROW = (
    RecordingSegment.id,
    RecordingSegment.camera_id,
    RecordingSegment.pool,
    RecordingSegment.path,
    RecordingSegment.bytes,
    RecordingSegment.start_at,
    RecordingSegment.end_at,
)


# --- the runner ----------------------------------------------------------------------------------------------


class RetentionRunner:
    """Deletes what retention and space allow, nothing else; one instance per platform (it is not re-entrant)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        pools: Sequence[StoragePool],
        media: MediaConfig,
        bus: Bus | None = None,
        clock: Clock | None = None,
        usage: UsageSource | None = None,
        batch: int = 500,
    ) -> None:
        self.sessions = sessions
        self.pools = {pool.name: pool for pool in pools}
        self.media = media
        self.bus = bus
        self.clock = clock or SystemClock()
        self.usage = usage or (lambda session: pool_usages(session, list(self.pools.values())))
        self.batch = batch
        self._lock = asyncio.Lock()
        self._days_done: date | None = None

    # -- deleting -------------------------------------------------------------------------------------------

    def _file(self, pool: str, relative: str) -> Path | None:
        root = self.pools.get(pool)
        parts = PurePosixPath(relative).parts
        if root is None or not parts or PurePosixPath(relative).is_absolute() or ".." in parts:
            return None
        return Path(root.path, *parts)

    def _unlink(self, rows: Sequence[Any], today: date) -> tuple[list[Any], int, list[str]]:
        """Blocking: remove the files; the rows whose file is gone now, how many were gone already, errors."""
        gone: list[Any] = []
        missing = 0
        errors: list[str] = []
        for row in rows:
            path = self._file(row.pool, row.path)
            if path is None:
                errors.append(f"segment {row.id}: pool {row.pool!r} is not configured or path {row.path!r} is unsafe")
                continue
            try:
                path.unlink()
            except FileNotFoundError:
                missing += 1
            except OSError as exc:
                errors.append(f"segment {row.id}: cannot delete {path}: {exc}")
                continue
            gone.append(row)
            _prune_day_dir(path.parent, today)
        return gone, missing, errors

    async def _delete(self, ids: Sequence[int], *, for_space: bool) -> Deletion:
        """Delete these segments' files then rows, re-checking evidence locks inside the write transaction."""
        done = Deletion()
        async with self.sessions() as session:
            await intend_to_write(session)
            query = select(*_ROW).where(RecordingSegment.id.in_(ids), ~locked_clause())
            if for_space:
                query = query.where(RecordingSegment.status != "open")
            rows = (await session.execute(query)).all()
            today = self.clock.now().date()
            gone, done.missing_files, done.errors = await asyncio.to_thread(self._unlink, rows, today)
            if gone:
                await session.execute(delete(RecordingSegment).where(RecordingSegment.id.in_([r.id for r in gone])))
            await session.commit()
        done.segments = len(gone)
        done.bytes = sum(r.bytes or 0 for r in gone)
        done.touched = [(r.camera_id, r.start_at, r.end_at) for r in gone]
        return done

    # -- the scheduled sweep --------------------------------------------------------------------------------

    async def sweep_expired(self) -> Deletion:
        """Delete every segment whose end is older than its camera's retention, unless under an active lock."""
        now = self.clock.now()
        total = Deletion()
        async with self.sessions() as session:
            groups = await _retention_groups(session)
        expired = _older_than(groups, now, effective_retention_days)
        after = 0
        while True:
            async with self.sessions() as session:
                query = (
                    select(RecordingSegment.id)
                    .join(Camera, Camera.id == RecordingSegment.camera_id)
                    .where(RecordingSegment.id > after, expired, ~locked_clause())
                    .order_by(RecordingSegment.id)
                    .limit(self.batch)
                )
                ids = list((await session.execute(query)).scalars())
            if not ids:
                break
            total.add(await self._delete(ids, for_space=False))
            after = ids[-1]
        if total.segments or total.errors:
            log.info("retention: %d expired segments deleted (%d bytes), %d errors", total.segments, total.bytes,
                     len(total.errors))  # fmt: skip
        return total

    # -- space recovery -------------------------------------------------------------------------------------

    async def _candidates(
        self, session: AsyncSession, pool: str, tier: Tier, now: datetime, cursor: tuple[datetime, int] | None
    ) -> list[Candidate]:
        groups = await _retention_groups(session)
        if tier is Tier.EXPENDABLE:
            tier_clause = or_(Camera.cls == 3, _older_than(groups, now, effective_retention_days))
        else:
            legal = _older_than(groups, now, lambda cls, _: legal_minimum_days(cls))
            tier_clause = and_(Camera.cls.in_((1, 2)), legal)
        query = (
            select(*_ROW, Camera.cls, Camera.retention_days)
            .join(Camera, Camera.id == RecordingSegment.camera_id)
            .where(RecordingSegment.pool == pool, RecordingSegment.status != "open", tier_clause, ~locked_clause())
        )
        if cursor is not None:
            start, last_id = cursor
            query = query.where(
                or_(
                    RecordingSegment.start_at > start,
                    and_(RecordingSegment.start_at == start, RecordingSegment.id > last_id),
                )
            )
        query = query.order_by(RecordingSegment.start_at, RecordingSegment.id).limit(self.batch)
        return [
            Candidate(
                segment_id=r.id,
                camera_id=r.camera_id,
                cls=r.cls,
                retention_days=effective_retention_days(r.cls, r.retention_days),
                start_at=r.start_at,
                end_at=r.end_at,
                bytes=r.bytes or 0,
            )
            for r in (await session.execute(query)).all()
        ]

    async def relieve_pool(self, usage: PoolUsage) -> PoolReport:
        """Free space in one pool down to low water in policy order; alarm when the law stands in the way."""
        now = self.clock.now()
        needed = bytes_to_free(usage, high_water=self.media.pool_high_water, low_water=self.media.pool_low_water)
        freed = Deletion()
        for tier in (Tier.EXPENDABLE, Tier.BEYOND_LEGAL):
            cursor: tuple[datetime, int] | None = None
            while freed.bytes < needed:
                async with self.sessions() as session:
                    page = await self._candidates(session, usage.pool, tier, now, cursor)
                if not page:
                    break
                cursor = (page[-1].start_at, page[-1].segment_id)
                plan = plan_space_recovery(page, needed_bytes=needed - freed.bytes, now=now)
                if plan.delete:
                    freed.add(await self._delete([c.segment_id for c in plan.delete], for_space=True))
        reached = freed.bytes >= needed
        raised = await self._pool_alarms(usage, needed=needed, freed=freed.bytes, reached=reached, now=now)
        if freed.segments:
            log.warning("pool %s: %d segments (%d bytes) deleted for space", usage.pool, freed.segments, freed.bytes)
        return PoolReport(usage.pool, usage.used_bytes, usage.capacity_bytes, needed, freed, reached, raised)

    async def _pool_alarms(
        self, usage: PoolUsage, *, needed: int, freed: int, reached: bool, now: datetime
    ) -> list[str]:
        events = []
        async with self.sessions() as session:
            await intend_to_write(session)
            if reached:
                for kind in ("retention_at_risk", "pool_nearly_full"):
                    events.append(await alarms.clear_alarm(session, kind=kind, pool=usage.pool, now=now))
            else:
                short = needed - freed
                percent = f"{usage.fraction:.1%}"
                events.append(
                    await alarms.raise_alarm(
                        session,
                        kind="pool_nearly_full",
                        pool=usage.pool,
                        now=now,
                        message=f"pool {usage.pool} is {percent} full; {short} bytes could not be freed",
                    )
                )
                events.append(
                    await alarms.raise_alarm(
                        session,
                        kind="retention_at_risk",
                        pool=usage.pool,
                        now=now,
                        message=(
                            f"pool {usage.pool} holds only footage inside its legal retention or under evidence "
                            f"locks; add capacity or move cameras to another pool ({short} bytes short)"
                        ),
                    )
                )
            await session.commit()
        await alarms.publish(self.bus, events)
        return [] if reached else ["pool_nearly_full", "retention_at_risk"]

    async def relieve_pressure(self, usages: Mapping[str, PoolUsage] | None = None) -> list[PoolReport]:
        if usages is None:
            async with self.sessions() as session:
                usages = await self.usage(session)
        return [await self.relieve_pool(usage) for _, usage in sorted(usages.items())]

    # -- everything once, and on a schedule -----------------------------------------------------------------

    async def run_once(self, usages: Mapping[str, PoolUsage] | None = None) -> RunReport:
        """The expired sweep, then space recovery; camera-days that lost footage for space are refreshed."""
        async with self._lock:
            started = self.clock.now()
            expired = await self.sweep_expired()
            pools = await self.relieve_pressure(usages)
            touched = [t for report in pools for t in report.deleted.touched]
            refreshed = 0
            if touched:
                async with self.sessions() as session:
                    await intend_to_write(session)
                    refreshed = await completeness.refresh_touched(
                        session, touched, now=self.clock.now(), record_classes=self.media.record_classes
                    )
                    await session.commit()
            return RunReport(started, expired, pools, refreshed)

    async def refresh_yesterday(self) -> int:
        """Once a local day: recording_days of yesterday for every camera, now that the day is over."""
        now = self.clock.now()
        yesterday = completeness.local_day(now) - timedelta(days=1)
        if self._days_done == yesterday:
            return 0
        async with self.sessions() as session:
            await intend_to_write(session)
            written = await completeness.refresh_many(
                session, yesterday, now=now, record_classes=self.media.record_classes
            )
            await session.commit()
        self._days_done = yesterday
        return written

    async def run_forever(self) -> None:
        """Every media.retention_sweep_s until cancelled; a failing pass is logged and the next one tries again."""
        while True:
            try:
                await self.run_once()
                await self.refresh_yesterday()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("retention pass failed")
            await asyncio.sleep(self.media.retention_sweep_s)


def _prune_day_dir(directory: Path, today: date) -> None:
    """Remove an emptied <YYYY-MM-DD> directory of a past day (today's may be about to receive a file)."""
    try:
        if date.fromisoformat(directory.name) < today - timedelta(days=1):
            directory.rmdir()
    except (ValueError, OSError):
        pass
