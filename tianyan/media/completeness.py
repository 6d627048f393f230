"""Recording completeness per camera and local day (Asia/Shanghai), kept in recording_days, and the interval maths.

A day's figures describe the footage that exists when it is refreshed: recorded seconds are the union of the
camera's segments clipped to the day (overlaps counted once), planned seconds what its plan wanted recorded that
day (from the first recording or the install date on, up to now), gaps the planned stretches with no footage.
Retention compliance (`compliance_of`) reads these rows, so footage deleted later shows once the days it touched
are refreshed (the retention runner does that after deleting for space).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core.errors import NotFound
from tianyan.media.models import RecordingDay, RecordingGap, RecordingPlan, RecordingSegment
from tianyan.media.retention import legal_minimum_days
from tianyan.registry.models import Camera

# Recording days, compliance windows and reports follow the bureaus' local calendar (UTC+8, no DST).
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
# A segment longer than this is not looked for before a day starts (segments are minutes long; device pulls hours).
MAX_SEGMENT = timedelta(days=1)
DAY_S = 86_400.0

Interval = tuple[datetime, datetime]


# --- pure interval arithmetic ---------------------------------------------------------------------------------


def day_bounds(day: date) -> Interval:
    """The local day as a half-open interval of aware datetimes."""
    start = datetime.combine(day, time(), tzinfo=LOCAL_TZ)
    return start, datetime.combine(day + timedelta(days=1), time(), tzinfo=LOCAL_TZ)


def local_day(at: datetime) -> date:
    return at.astimezone(LOCAL_TZ).date()


def local_days(start: datetime, end: datetime) -> list[date]:
    """Every local day the half-open interval [start, end) touches."""
    if end <= start:
        return []
    first, last = local_day(start), local_day(end - timedelta(microseconds=1))
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def merge(intervals: Iterable[Interval], lo: datetime, hi: datetime) -> list[Interval]:
    """The union of intervals clipped to [lo, hi), as disjoint sorted intervals."""
    clipped = sorted((max(a, lo), min(b, hi)) for a, b in intervals if b > lo and a < hi)
    merged: list[Interval] = []
    for a, b in clipped:
        if b <= a:
            continue
        if merged and a <= merged[-1][1]:
            if b > merged[-1][1]:
                merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def seconds(intervals: Iterable[Interval]) -> float:
    return sum((b - a).total_seconds() for a, b in intervals)


def holes(covered: Sequence[Interval], lo: datetime, hi: datetime) -> list[Interval]:
    """What [lo, hi) leaves uncovered by disjoint sorted intervals."""
    found: list[Interval] = []
    cursor = lo
    for a, b in covered:
        if cursor >= hi:
            break
        if a > cursor:
            found.append((cursor, min(a, hi)))
        cursor = max(cursor, b)
    if cursor < hi:
        found.append((cursor, hi))
    return found


@dataclass(frozen=True)
class Gap:
    start_at: datetime
    end_at: datetime
    cause: str  # from recording_gaps where one overlaps, else "unknown"

    @property
    def seconds(self) -> float:
        return (self.end_at - self.start_at).total_seconds()


def explain(hole_list: Iterable[Interval], known: Sequence[tuple[datetime, datetime, str]]) -> list[Gap]:
    """Each hole with the cause of the recorded gap that overlaps it most."""
    out = []
    for a, b in hole_list:
        best, overlap = "unknown", timedelta(0)
        for ga, gb, cause in known:
            shared = min(b, gb) - max(a, ga)
            if shared > overlap:
                best, overlap = cause, shared
        out.append(Gap(a, b, best))
    return out


@dataclass(frozen=True)
class DayFigures:
    camera_id: int
    day: date
    recorded_s: float
    planned_s: float
    gap_s: float
    completeness: float
    gaps: list[Gap] = field(default_factory=list)


def figure_day(
    *,
    camera_id: int,
    day: date,
    segments: Iterable[Interval],
    known_gaps: Sequence[tuple[datetime, datetime, str]] = (),
    plan_from: datetime | None,
    now: datetime,
) -> DayFigures:
    """A camera-day's numbers. `plan_from`: when recording was first wanted (None: it is not planned at all)."""
    lo, hi = day_bounds(day)
    covered = merge(segments, lo, hi)
    recorded = seconds(covered)
    if plan_from is None:
        return DayFigures(camera_id, day, recorded, 0.0, 0.0, 0.0, [])
    plan_lo, plan_hi = max(lo, plan_from), min(hi, now)
    if plan_hi <= plan_lo:
        return DayFigures(camera_id, day, recorded, 0.0, 0.0, 0.0, [])
    planned = (plan_hi - plan_lo).total_seconds()
    in_plan = seconds(merge(covered, plan_lo, plan_hi))
    gaps = explain(holes(merge(covered, plan_lo, plan_hi), plan_lo, plan_hi), known_gaps)
    return DayFigures(camera_id, day, recorded, planned, planned - in_plan, min(1.0, in_plan / planned), gaps)


def is_planned(cls: int, plan_enabled: bool | None, record_classes: Iterable[int]) -> bool:
    """A camera's own plan decides; without one, its class does (media.record_classes)."""
    return plan_enabled if plan_enabled is not None else cls in set(record_classes)


# --- refreshing recording_days ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CameraPlan:
    id: int
    planned: bool
    install_date: date | None


async def _camera_plans(
    session: AsyncSession, camera_ids: Sequence[int] | None, record_classes: Iterable[int]
) -> list[_CameraPlan]:
    query = select(Camera.id, Camera.cls, Camera.install_date, RecordingPlan.enabled).outerjoin(
        RecordingPlan, RecordingPlan.camera_id == Camera.id
    )
    if camera_ids is not None:
        query = query.where(Camera.id.in_(camera_ids))
    rows = (await session.execute(query.order_by(Camera.id))).all()
    return [_CameraPlan(r.id, is_planned(r.cls, r.enabled, record_classes), r.install_date) for r in rows]


async def _plan_starts(session: AsyncSession, cameras: Sequence[_CameraPlan], day: date) -> dict[int, datetime]:
    """When each planned camera's recording was first wanted, as far as it matters for `day`."""
    lo, _ = day_bounds(day)
    ids = [c.id for c in cameras if c.planned]
    started: dict[int, datetime] = {}
    if not ids:
        return started
    # A camera with an earlier planned day already was recording before this one began.
    earlier = select(RecordingDay.camera_id).where(
        RecordingDay.camera_id.in_(ids), RecordingDay.day < day, RecordingDay.planned_s > 0
    )
    for camera_id in (await session.execute(earlier.group_by(RecordingDay.camera_id))).scalars():
        started[camera_id] = lo
    fresh = [i for i in ids if i not in started]
    if fresh:
        for table in (RecordingSegment, RecordingGap):
            firsts = select(table.camera_id, func.min(table.start_at)).where(table.camera_id.in_(fresh))
            for camera_id, first in (await session.execute(firsts.group_by(table.camera_id))).tuples():
                started[camera_id] = min(first, started.get(camera_id, first))
    for camera in cameras:
        if camera.planned and camera.id not in started and camera.install_date is not None:
            started[camera.id] = day_bounds(camera.install_date)[0]
    return started


def _chunks(items: Sequence[int], size: int = 1000) -> Iterable[Sequence[int]]:
    for n in range(0, len(items), size):
        yield items[n : n + size]


async def day_figures(
    session: AsyncSession,
    day: date,
    *,
    now: datetime,
    camera_ids: Sequence[int] | None = None,
    record_classes: Iterable[int] = (1, 2),
) -> list[DayFigures]:
    """Figures for `day` of the given cameras (all cameras when None), from the segments and gaps that exist now.

    Segments are read with the day's time range and, for given cameras, their ids, so one camera-day never reads
    another camera's rows.
    """
    lo, hi = day_bounds(day)
    cameras: list[_CameraPlan] = []
    for chunk in _chunks(camera_ids) if camera_ids is not None else [None]:
        cameras += await _camera_plans(session, chunk, record_classes)
    ids = [c.id for c in cameras]
    segments: dict[int, list[Interval]] = defaultdict(list)
    known: dict[int, list[tuple[datetime, datetime, str]]] = defaultdict(list)
    starts: dict[int, datetime] = {}
    for chunk in _chunks(ids) if camera_ids is not None else [None]:
        seg_query = select(RecordingSegment.camera_id, RecordingSegment.start_at, RecordingSegment.end_at).where(
            RecordingSegment.start_at < hi, RecordingSegment.start_at >= lo - MAX_SEGMENT, RecordingSegment.end_at > lo
        )
        gap_query = select(RecordingGap.camera_id, RecordingGap.start_at, RecordingGap.end_at, RecordingGap.cause)
        gap_query = gap_query.where(RecordingGap.start_at < hi, RecordingGap.end_at > lo)
        if chunk is not None:
            seg_query = seg_query.where(RecordingSegment.camera_id.in_(chunk))
            gap_query = gap_query.where(RecordingGap.camera_id.in_(chunk))
        stream = await session.stream(seg_query.execution_options(yield_per=5000))
        async for camera_id, start_at, end_at in stream.tuples():
            segments[camera_id].append((start_at, end_at))
        for camera_id, start_at, end_at, cause in (await session.execute(gap_query)).tuples():
            known[camera_id].append((start_at, end_at, cause))
    for chunk in _chunks(cameras):
        starts.update(await _plan_starts(session, chunk, day))
    return [
        figure_day(
            camera_id=c.id,
            day=day,
            segments=segments.get(c.id, ()),
            known_gaps=known.get(c.id, ()),
            plan_from=starts.get(c.id) if c.planned else None,
            now=now,
        )
        for c in cameras
    ]


async def _upsert(session: AsyncSession, figures: Sequence[DayFigures], now: datetime) -> None:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    for n in range(0, len(figures), 500):
        rows = [
            {
                "camera_id": f.camera_id,
                "day": f.day,
                "recorded_s": f.recorded_s,
                "gap_s": f.gap_s,
                "planned_s": f.planned_s,
                "completeness": f.completeness,
                "updated_at": now,
            }
            for f in figures[n : n + 500]
        ]
        statement = insert(RecordingDay).values(rows)
        columns = ("recorded_s", "gap_s", "planned_s", "completeness", "updated_at")
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["camera_id", "day"], set_={c: statement.excluded[c] for c in columns}
            )
        )


async def refresh(
    session: AsyncSession, camera_id: int, day: date, *, now: datetime, record_classes: Iterable[int] = (1, 2)
) -> DayFigures:
    """Recompute one camera-day and store it in recording_days (in the caller's transaction)."""
    figures = await day_figures(session, day, now=now, camera_ids=[camera_id], record_classes=record_classes)
    if not figures:
        raise NotFound(f"no camera with id {camera_id}")
    await _upsert(session, figures, now)
    return figures[0]


async def refresh_many(
    session: AsyncSession,
    day: date,
    *,
    now: datetime,
    camera_ids: Sequence[int] | None = None,
    record_classes: Iterable[int] = (1, 2),
) -> int:
    """Recompute `day` for many cameras (all when None) with a handful of set-based queries; rows written."""
    figures = await day_figures(session, day, now=now, camera_ids=camera_ids, record_classes=record_classes)
    # A camera neither planned nor recorded that day needs no row.
    kept = [f for f in figures if f.planned_s > 0 or f.recorded_s > 0]
    await _upsert(session, kept, now)
    return len(kept)


async def refresh_touched(
    session: AsyncSession,
    touched: Iterable[tuple[int, datetime, datetime]],
    *,
    now: datetime,
    record_classes: Iterable[int] = (1, 2),
) -> int:
    """Refresh the camera-days that (camera_id, start, end) ranges touch, e.g. after deleting footage."""
    by_day: dict[date, set[int]] = defaultdict(set)
    for camera_id, start_at, end_at in touched:
        for day in local_days(start_at, end_at):
            by_day[day].add(camera_id)
    written = 0
    for day, ids in sorted(by_day.items()):
        figures = await day_figures(session, day, now=now, camera_ids=sorted(ids), record_classes=record_classes)
        await _upsert(session, figures, now)
        written += len(figures)
    return written


async def stored_days(session: AsyncSession, camera_id: int, first: date, last: date) -> list[RecordingDay]:
    query = select(RecordingDay).where(
        and_(RecordingDay.camera_id == camera_id, RecordingDay.day >= first, RecordingDay.day <= last)
    )
    return list((await session.execute(query.order_by(RecordingDay.day))).scalars())


def as_dict(figures: DayFigures) -> dict[str, Any]:
    return {
        "day": figures.day.isoformat(),
        "recorded_s": round(figures.recorded_s, 3),
        "planned_s": round(figures.planned_s, 3),
        "gap_s": round(figures.gap_s, 3),
        "completeness": round(figures.completeness, 5),
        "gaps": [{"start_at": g.start_at, "end_at": g.end_at, "cause": g.cause} for g in figures.gaps],
    }


# --- retention compliance ----------------------------------------------------------------------------------------

# A day counts as recorded when at least this share of what was planned exists.
COMPLETE = 0.99
# Slack on "footage reaches back N days": the 1 % a complete day may miss.
REACH_SLACK = timedelta(seconds=DAY_S * (1 - COMPLETE))
NOT_FAILING = ("compliant", "not_required")


@dataclass(frozen=True)
class CameraCompliance:
    """Whether a camera's footage reaches back the legal days, each of them at least 99 % complete."""

    camera_id: int
    gb_id: str
    name: str
    cls: int
    required_days: int
    # compliant, non_compliant, no_recordings (required but nothing ever recorded), not_required (class 3)
    status: str
    window_from: date | None
    window_to: date | None
    days_checked: int
    days_complete: int
    # Window days before the camera's first recording (or install date): reported, not counted as failures.
    days_before_start: int
    failing_days: list[date]
    oldest_footage_at: datetime | None
    reaches_back: bool

    @property
    def compliant(self) -> bool:
        return self.status in NOT_FAILING


def judge(
    *,
    camera: tuple[int, str, str, int],
    required_days: int,
    today: date,
    now: datetime,
    start_day: date | None,
    days: dict[date, float],
    oldest: datetime | None,
) -> CameraCompliance:
    """Pure: one camera's compliance from its stored day completeness, first day and oldest footage."""
    camera_id, gb_id, name, cls = camera
    if required_days <= 0:
        return CameraCompliance(camera_id, gb_id, name, cls, 0, "not_required", None, None, 0, 0, 0, [], oldest, True)
    # The full local days inside the last `required_days`: the partly expired day at the far end is covered by
    # "reaches back" instead, since retention rightly deletes its early hours.
    window = [today - timedelta(days=n) for n in range(required_days - 1, 0, -1)] or [today - timedelta(days=1)]
    checked = [d for d in window if start_day is not None and d >= start_day]
    failing = [d for d in checked if days.get(d, 0.0) < COMPLETE]
    if start_day is None:
        status, reaches = "no_recordings", False
        failing = window
    else:
        if start_day <= window[0]:
            reaches = oldest is not None and oldest <= now - timedelta(days=required_days) + REACH_SLACK
        else:
            reaches = oldest is not None
        status = "compliant" if reaches and not failing else "non_compliant"
    return CameraCompliance(
        camera_id=camera_id,
        gb_id=gb_id,
        name=name,
        cls=cls,
        required_days=required_days,
        status=status,
        window_from=window[0],
        window_to=window[-1],
        days_checked=len(checked),
        days_complete=len(checked) - len(failing) if start_day is not None else 0,
        days_before_start=len(window) - len(checked) if start_day is not None else 0,
        failing_days=failing,
        oldest_footage_at=oldest,
        reaches_back=reaches,
    )


async def compliance_of(
    session: AsyncSession, cameras: Sequence[tuple[int, str, str, int, date | None]], *, now: datetime
) -> list[CameraCompliance]:
    """Compliance of the given cameras (id, gb_id, name, class, install date) with four set-based queries."""
    ids = [c[0] for c in cameras]
    if not ids:
        return []
    today = local_day(now)
    longest = max(legal_minimum_days(c[3]) for c in cameras)
    rows = select(RecordingDay.camera_id, RecordingDay.day, RecordingDay.completeness).where(
        RecordingDay.camera_id.in_(ids), RecordingDay.day >= today - timedelta(days=longest), RecordingDay.day < today
    )
    days: dict[int, dict[date, float]] = defaultdict(dict)
    for camera_id, day, value in (await session.execute(rows)).tuples():
        days[camera_id][day] = value
    first_rows = select(RecordingDay.camera_id, func.min(RecordingDay.day)).where(
        RecordingDay.camera_id.in_(ids), RecordingDay.planned_s > 0
    )
    first_day = dict((await session.execute(first_rows.group_by(RecordingDay.camera_id))).tuples().all())
    oldest_rows = select(RecordingSegment.camera_id, func.min(RecordingSegment.start_at)).where(
        RecordingSegment.camera_id.in_(ids)
    )
    oldest = dict((await session.execute(oldest_rows.group_by(RecordingSegment.camera_id))).tuples().all())
    out = []
    for camera_id, gb_id, name, cls, install in cameras:
        start = first_day.get(camera_id)
        if start is None and camera_id in oldest:
            start = local_day(oldest[camera_id])
        if start is None:
            start = install
        out.append(
            judge(
                camera=(camera_id, gb_id, name, cls),
                required_days=legal_minimum_days(cls),
                today=today,
                now=now,
                start_day=start,
                days=days.get(camera_id, {}),
                oldest=oldest.get(camera_id),
            )
        )
    return out
