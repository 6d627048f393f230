"""What the recording index holds, as the API and CLI show it: timelines, recording days and compliance, scoped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core.errors import InvalidInput
from tianyan.media import completeness
from tianyan.media.completeness import CameraCompliance, Gap
from tianyan.media.evidence import scoped_camera
from tianyan.media.models import RecordingDay, RecordingGap, RecordingSegment
from tianyan.registry.models import Camera
from tianyan.security.roles import Permission
from tianyan.security.scope import Principal, camera_clause

# Longest timeline one request may ask for: a month of 5-minute segments is under 9,000 rows.
MAX_TIMELINE = timedelta(days=31)
MAX_DAYS = 400


@dataclass(frozen=True)
class SegmentView:
    id: int
    start_at: datetime
    end_at: datetime
    bytes: int
    codec: str
    width: int | None
    height: int | None
    has_audio: bool
    status: str
    source: str
    pool: str


@dataclass(frozen=True)
class Timeline:
    camera: str
    start_at: datetime
    end_at: datetime
    recorded_s: float
    segments: list[SegmentView]
    # Every stretch of [start, min(end, now)) with no footage, on the first page only (they are few).
    gaps: list[Gap]
    next_cursor: str | None


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise InvalidInput(f"{name} needs a time zone, e.g. 2026-11-21T08:00:00+08:00")
    return value


def _cursor(value: str | None) -> tuple[datetime, int] | None:
    if not value:
        return None
    try:
        start, _, ident = value.rpartition("_")
        return datetime.fromisoformat(start), int(ident)
    except ValueError:
        raise InvalidInput(f"cursor {value!r} is not one this API handed out") from None


async def timeline(
    session: AsyncSession,
    *,
    principal: Principal,
    gb_id: str,
    start_at: datetime,
    end_at: datetime,
    now: datetime,
    cursor: str | None = None,
    limit: int = 500,
) -> Timeline:
    """Segments overlapping [start, end) in time order, paged, with the gaps between them and their causes."""
    principal.require(Permission.VIDEO_PLAYBACK)
    start_at, end_at = _aware(start_at, "from").astimezone(UTC), _aware(end_at, "to").astimezone(UTC)
    if end_at <= start_at:
        raise InvalidInput("'to' must be after 'from'")
    if end_at - start_at > MAX_TIMELINE:
        raise InvalidInput(f"a timeline covers at most {MAX_TIMELINE.days} days; ask for it in parts")
    after = _cursor(cursor)
    camera = await scoped_camera(session, principal=principal, gb_id=gb_id)
    overlapping = and_(
        RecordingSegment.camera_id == camera.id,
        RecordingSegment.start_at < end_at,
        RecordingSegment.start_at >= start_at - completeness.MAX_SEGMENT,
        RecordingSegment.end_at > start_at,
    )
    query = select(RecordingSegment).where(overlapping)
    if after is not None:
        query = query.where(
            or_(
                RecordingSegment.start_at > after[0],
                and_(RecordingSegment.start_at == after[0], RecordingSegment.id > after[1]),
            )
        )
    rows = list(
        (
            await session.execute(query.order_by(RecordingSegment.start_at, RecordingSegment.id).limit(limit + 1))
        ).scalars()
    )
    page = rows[:limit]
    spans = await session.execute(select(RecordingSegment.start_at, RecordingSegment.end_at).where(overlapping))
    covered = completeness.merge(spans.tuples().all(), start_at, end_at)
    gaps: list[Gap] = []
    if after is None:
        known_query = select(RecordingGap.start_at, RecordingGap.end_at, RecordingGap.cause).where(
            RecordingGap.camera_id == camera.id, RecordingGap.start_at < end_at, RecordingGap.end_at > start_at
        )
        known = (await session.execute(known_query)).tuples().all()
        horizon = min(end_at, now)
        gaps = completeness.explain(completeness.holes(covered, start_at, horizon), known) if horizon > start_at else []
    last = page[-1] if page else None
    return Timeline(
        camera=camera.gb_id,
        start_at=start_at,
        end_at=end_at,
        recorded_s=completeness.seconds(covered),
        segments=[
            SegmentView(
                id=s.id,
                start_at=s.start_at,
                end_at=s.end_at,
                bytes=s.bytes,
                codec=s.codec,
                width=s.width,
                height=s.height,
                has_audio=s.has_audio,
                status=s.status,
                source=s.source,
                pool=s.pool,
            )
            for s in page
        ],
        gaps=gaps,
        next_cursor=f"{last.start_at.isoformat()}_{last.id}" if last is not None and len(rows) > limit else None,
    )


@dataclass(frozen=True)
class DayView:
    day: date
    recorded_s: float
    planned_s: float
    gap_s: float
    completeness: float
    updated_at: datetime | None


async def recording_days(
    session: AsyncSession, *, principal: Principal, gb_id: str, first: date, last: date
) -> list[DayView]:
    """The stored completeness of each local day in [first, last]; a day with no row had nothing planned or kept."""
    principal.require(Permission.VIDEO_PLAYBACK)
    if last < first:
        raise InvalidInput("'to' must not be before 'from'")
    if (last - first).days >= MAX_DAYS:
        raise InvalidInput(f"at most {MAX_DAYS} days at a time")
    camera = await scoped_camera(session, principal=principal, gb_id=gb_id)
    query = select(RecordingDay).where(
        RecordingDay.camera_id == camera.id, RecordingDay.day >= first, RecordingDay.day <= last
    )
    return [
        DayView(r.day, r.recorded_s, r.planned_s, r.gap_s, r.completeness, r.updated_at)
        for r in (await session.execute(query.order_by(RecordingDay.day))).scalars()
    ]


@dataclass(frozen=True)
class CompliancePage:
    items: list[CameraCompliance]
    next_after: int | None
    scanned: int


async def compliance(
    session: AsyncSession,
    *,
    principal: Principal,
    now: datetime,
    failing_only: bool = False,
    cls: int | None = None,
    after: int = 0,
    limit: int = 100,
) -> CompliancePage:
    """Retention compliance of cameras in scope, by camera id; with failing_only a page may hold fewer than
    `limit` items (those that comply are left out), so follow next_after until it is None."""
    principal.require(Permission.PLAN_READ)
    query = select(Camera.id, Camera.gb_id, Camera.name, Camera.cls, Camera.install_date).where(
        camera_clause(principal), Camera.id > after
    )
    if cls is not None:
        query = query.where(Camera.cls == cls)
    cameras = (await session.execute(query.order_by(Camera.id).limit(limit + 1))).tuples().all()
    page = cameras[:limit]
    judged = await completeness.compliance_of(session, page, now=now)
    if failing_only:
        judged = [c for c in judged if not c.compliant]
    return CompliancePage(judged, page[-1][0] if len(cameras) > limit else None, len(page))
