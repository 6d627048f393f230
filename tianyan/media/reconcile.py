"""Start-up reconciliation of the recording index with the segment files actually in the pools.

After a crash (or a `kill -9`, or a power cut) three things can disagree: rows still "open" whose files end in
a torn fragment, files written before their row was inserted (the index is written in batches), and rows whose
files were removed behind the platform's back. Run before any recorder starts:

- an "open" row: its file's torn tail is cut off, `end_at`/`bytes`/`frames` are set from the last whole
  fragment, and the row becomes "repaired" ("closed" when nothing was torn);
- a file without a row: indexed from the file (camera from the directory's GB id; unknown cameras are left on
  disk with a warning), start time from its name, end from its fragments;
- a row whose file is gone: "missing", plus a `file_missing` gap over its time;
- per camera that crashed (an open row or an unindexed file), one `crash` gap from the end of its last footage
  to now. A second run finds nothing open and no stray files, so it adds nothing.

Files are only read (headers and moofs) and trimmed, never deleted, except one holding no complete fragment
(the platform died while writing its first second): it has no footage, and its row goes with it.
Work goes camera by camera, so memory stays bounded by one camera's segments whatever the pool holds; file
system work runs in a thread so the event loop stays responsive.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tianyan.db.engine import intend_to_write
from tianyan.media import mp4boxes
from tianyan.media.models import RecordingGap, RecordingSegment
from tianyan.media.pools import StoragePools
from tianyan.registry.models import Camera

__all__ = ["ReconcileReport", "reconcile"]

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(?P<day>\d{4}-\d{2}-\d{2})/(?P<time>\d{6})-[A-Za-z0-9_-]+\.mp4$")
_CODECS = {"avc1": "h264", "avc3": "h264", "hvc1": "h265", "hev1": "h265"}


@dataclass
class ReconcileReport:
    now: datetime
    repaired: list[str] = field(default_factory=list)  # "pool:path" of open rows whose torn tail was cut
    closed: list[str] = field(default_factory=list)  # open rows whose file was whole
    indexed: list[str] = field(default_factory=list)  # files that had no row
    missing: list[str] = field(default_factory=list)  # rows whose file is gone
    removed_empty: list[str] = field(default_factory=list)  # files with no complete fragment
    unknown_cameras: list[str] = field(default_factory=list)  # directories named after no known camera
    ignored: list[str] = field(default_factory=list)  # files that are not segments (by name)
    unreadable: list[str] = field(default_factory=list)
    skipped_pools: list[str] = field(default_factory=list)  # open rows' pools that are not configured
    crash_gaps: dict[int, tuple[datetime, datetime]] = field(default_factory=dict)  # camera id → gap
    bytes_trimmed: int = 0

    @property
    def changed(self) -> int:
        return len(self.repaired) + len(self.closed) + len(self.indexed) + len(self.missing) + len(self.removed_empty)


@dataclass(frozen=True)
class _Inspected:
    """A segment file as read from disk (after trimming a torn tail)."""

    path: str
    size: int
    trimmed: int
    span_s: float | None  # decode-time length of the video; None without complete fragments
    frames: int
    codec: str | None
    width: int | None
    height: int | None
    has_audio: bool
    error: str | None = None


def _inspect(root: Path, relative: str) -> _Inspected | None:
    """Read, and trim when torn, one segment file; None when it does not exist."""
    full = root / relative
    try:
        scan = mp4boxes.scan_file(full)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return _Inspected(relative, 0, 0, None, 0, None, None, None, False, str(exc))
    trimmed = 0
    if scan.torn:
        try:
            trimmed = mp4boxes.truncate_torn_tail(full, scan)
        except OSError as exc:
            return _Inspected(relative, scan.size, 0, None, 0, None, None, None, False, f"cannot trim: {exc}")
    video = scan.init.video if scan.init else None
    span = scan.video_span_s()
    frames = scan.samples(video.track_id) if video else 0
    return _Inspected(
        relative, scan.good_end, trimmed, span[1] if span and frames else None, frames,
        _CODECS.get(video.sample_entry) if video else None, video.width if video else None,
        video.height if video else None, bool(scan.init and scan.init.audio),
    )  # fmt: skip


def _list_files(root: Path, gb_id: str) -> list[str]:
    """Paths (relative to the pool, forward slashes) of every file under the camera's directory."""
    found = []
    base = root / gb_id
    for directory, _, names in os.walk(base):
        for name in names:
            found.append(Path(directory, name).relative_to(root).as_posix())
    return found


def _top_dirs(root: Path) -> list[str]:
    try:
        return sorted(entry.name for entry in os.scandir(root) if entry.is_dir())
    except FileNotFoundError:
        return []


def _start_from_name(relative: str) -> datetime | None:
    _, _, rest = relative.partition("/")
    match = _NAME.match(rest)
    if match is None:
        return None
    try:
        return datetime.strptime(f"{match['day']} {match['time']}", "%Y-%m-%d %H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass
class _CameraOutcome:
    """What reconciling one camera found: whether it was cut off by a crash, and where its footage ends."""

    crashed: bool = False
    latest_end: datetime | None = None

    def saw(self, end: datetime, *, crashed: bool = False) -> None:
        self.crashed = self.crashed or crashed
        self.latest_end = end if self.latest_end is None else max(self.latest_end, end)


async def reconcile(
    sessions: async_sessionmaker[AsyncSession], pools: StoragePools, *, now: datetime | None = None
) -> ReconcileReport:
    """Bring the index in line with the pools; see the module's description. Idempotent."""
    report = ReconcileReport(now=now or datetime.now(UTC))
    async with sessions() as session:
        cameras = dict((await session.execute(select(Camera.gb_id, Camera.id))).tuples().all())
        gb_ids = {camera_id: gb_id for gb_id, camera_id in cameras.items()}
        open_pools = (
            await session.execute(select(RecordingSegment.pool).where(RecordingSegment.status == "open").distinct())
        ).scalars()
        report.skipped_pools = sorted(set(open_pools) - set(pools.pools))
    outcomes: dict[int, _CameraOutcome] = {}
    for pool in pools:
        async with sessions() as session:
            with_rows = (
                await session.execute(
                    select(RecordingSegment.camera_id)
                    .where(RecordingSegment.pool == pool.name, RecordingSegment.status != "missing")
                    .distinct()
                )
            ).scalars()
            row_dirs = {gb_ids[camera_id] for camera_id in with_rows if camera_id in gb_ids}
        disk_dirs = await asyncio.to_thread(_top_dirs, pool.path)
        for gb_id in sorted(set(disk_dirs) | row_dirs):
            camera_id = cameras.get(gb_id)
            if camera_id is None:
                log.warning("reconcile: %s/%s is no known camera's; its files are left alone", pool.name, gb_id)
                report.unknown_cameras.append(f"{pool.name}:{gb_id}")
                continue
            outcome = outcomes.setdefault(camera_id, _CameraOutcome())
            await _camera(sessions, pools, pool.name, gb_id, camera_id, report, outcome)
    await _crash_gaps(sessions, outcomes, report)
    log.info(
        "reconcile: %d repaired, %d closed, %d indexed, %d missing, %d empty removed, %d crash gaps",
        len(report.repaired), len(report.closed), len(report.indexed), len(report.missing),
        len(report.removed_empty), len(report.crash_gaps),
    )  # fmt: skip
    return report


async def _camera(
    sessions: async_sessionmaker[AsyncSession],
    pools: StoragePools,
    pool: str,
    gb_id: str,
    camera_id: int,
    report: ReconcileReport,
    outcome: _CameraOutcome,
) -> None:
    root = pools.path(pool)
    table = RecordingSegment
    async with sessions() as session:
        await intend_to_write(session)
        rows = (
            await session.execute(
                select(table.id, table.path, table.status, table.start_at, table.end_at).where(
                    table.pool == pool, table.camera_id == camera_id, table.status != "missing"
                )
            )
        ).all()
        files = set(await asyncio.to_thread(_list_files, root, gb_id))
        for row_id, path, status, start_at, end_at in rows:
            key = f"{pool}:{path}"
            on_disk = path in files or (not path.startswith(f"{gb_id}/") and (root / path).is_file())
            files.discard(path)
            if not on_disk:
                report.missing.append(key)
                await session.execute(update(table).where(table.id == row_id).values(status="missing"))
                session.add(
                    RecordingGap(
                        camera_id=camera_id, start_at=start_at, end_at=end_at, cause="file_missing",
                        detail=f"{pool}:{path} was not found at start-up",
                    )
                )  # fmt: skip
                outcome.saw(end_at, crashed=status == "open")
                continue
            if status != "open":
                outcome.saw(end_at)
                continue
            found = await asyncio.to_thread(_inspect, root, path)
            if found is None or found.error is not None:
                report.unreadable.append(f"{key}: {found.error if found else 'vanished'}")
                continue
            if found.span_s is None:
                report.removed_empty.append(key)
                await asyncio.to_thread(_remove, root / path)
                await session.execute(delete(table).where(table.id == row_id))
                outcome.saw(start_at, crashed=True)
                continue
            new_end = start_at + timedelta(seconds=found.span_s)
            (report.repaired if found.trimmed else report.closed).append(key)
            report.bytes_trimmed += found.trimmed
            await session.execute(
                update(table)
                .where(table.id == row_id)
                .values(
                    end_at=new_end, bytes=found.size, frames=found.frames,
                    status="repaired" if found.trimmed else "closed",
                )
            )  # fmt: skip
            outcome.saw(new_end, crashed=True)
        for path in sorted(files):
            await _index_orphan(session, root, pool, path, camera_id, report, outcome)
        await session.commit()


async def _index_orphan(
    session: AsyncSession,
    root: Path,
    pool: str,
    path: str,
    camera_id: int,
    report: ReconcileReport,
    outcome: _CameraOutcome,
) -> None:
    key = f"{pool}:{path}"
    start_at = _start_from_name(path)
    if start_at is None:
        report.ignored.append(key)
        return
    found = await asyncio.to_thread(_inspect, root, path)
    if found is None or found.error is not None:
        report.unreadable.append(f"{key}: {found.error if found else 'vanished'}")
        return
    # A file the index never heard of was being written when the platform stopped.
    if found.span_s is None or found.codec is None:
        report.removed_empty.append(key)
        await asyncio.to_thread(_remove, root / path)
        outcome.saw(start_at, crashed=True)
        return
    end_at = start_at + timedelta(seconds=found.span_s)
    session.add(
        RecordingSegment(
            camera_id=camera_id, pool=pool, path=path, start_at=start_at, end_at=end_at, bytes=found.size,
            codec=found.codec, width=found.width, height=found.height, frames=found.frames,
            has_audio=found.has_audio, status="repaired" if found.trimmed else "closed", source="live",
        )
    )  # fmt: skip
    report.indexed.append(key)
    report.bytes_trimmed += found.trimmed
    outcome.saw(end_at, crashed=True)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


async def _crash_gaps(
    sessions: async_sessionmaker[AsyncSession], outcomes: dict[int, _CameraOutcome], report: ReconcileReport
) -> None:
    crashed = {camera_id: o for camera_id, o in outcomes.items() if o.crashed and o.latest_end is not None}
    if not crashed:
        return
    async with sessions() as session:
        await intend_to_write(session)
        for camera_id, outcome in crashed.items():
            # Whatever the camera has on disk ends here; nothing was recorded from then until this start-up.
            start = outcome.latest_end
            assert start is not None
            if start >= report.now:
                continue
            already = await session.scalar(
                select(func.count())
                .select_from(RecordingGap)
                .where(RecordingGap.camera_id == camera_id, RecordingGap.cause == "crash")
                .where(RecordingGap.start_at == start)
            )
            if already:
                continue
            session.add(
                RecordingGap(
                    camera_id=camera_id, start_at=start, end_at=report.now, cause="crash",
                    detail="the platform stopped without closing its recording",
                )
            )  # fmt: skip
            report.crash_gaps[camera_id] = (start, report.now)
        await session.commit()
