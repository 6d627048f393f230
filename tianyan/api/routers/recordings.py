"""Recordings: timelines and recording days of a camera, retention compliance, evidence locks, storage and alarms."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from tianyan.api.deps import CurrentPlatform, CurrentPrincipal, DbSession
from tianyan.core import gbid
from tianyan.core.errors import Forbidden
from tianyan.media import alarms, evidence, recordings
from tianyan.media.completeness import CameraCompliance
from tianyan.media.models import RecordingSegment
from tianyan.media.retention_runner import RetentionRunner, measure
from tianyan.security import audit
from tianyan.security.roles import Permission, Role

router = APIRouter(tags=["recordings"])

From = Annotated[datetime, Query(alias="from", description="e.g. 2026-11-21T08:00:00+08:00")]
To = Annotated[datetime, Query(alias="to")]


@router.get("/cameras/{gb_id}/recordings", response_model=recordings.Timeline)
async def camera_timeline(
    gb_id: str,
    principal: CurrentPrincipal,
    session: DbSession,
    platform: CurrentPlatform,
    start: From,
    end: To,
    cursor: Annotated[str | None, Query(max_length=80, description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
):
    """Recorded segments overlapping the range in time order, and the gaps between them with their causes."""
    return await recordings.timeline(
        session,
        principal=principal,
        gb_id=gbid.parse(gb_id).value,
        start_at=start,
        end_at=end,
        now=platform.clock.now(),
        cursor=cursor,
        limit=limit,
    )


@router.get("/cameras/{gb_id}/recording-days", response_model=list[recordings.DayView])
async def camera_recording_days(
    gb_id: str,
    principal: CurrentPrincipal,
    session: DbSession,
    first: Annotated[date, Query(alias="from", description="first local (Asia/Shanghai) day")],
    last: Annotated[date, Query(alias="to", description="last local day, included")],
):
    """Recorded, planned and missing seconds and completeness of each local day."""
    return await recordings.recording_days(
        session, principal=principal, gb_id=gbid.parse(gb_id).value, first=first, last=last
    )


class CompliancePageOut(BaseModel):
    items: list[CameraCompliance]
    next_after: int | None
    scanned: int


@router.get("/recordings/compliance", response_model=CompliancePageOut)
async def retention_compliance(
    principal: CurrentPrincipal,
    session: DbSession,
    platform: CurrentPlatform,
    failing: Annotated[bool, Query(description="only cameras that do not comply")] = False,
    cls: Annotated[int | None, Query(alias="class", ge=1, le=3)] = None,
    after: Annotated[int, Query(ge=0, description="cursor: the next_after of the previous page")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
):
    """Per camera in scope: does footage reach back 30 (class 1) / 15 (class 2) days, each day ≥ 99 % complete."""
    page = await recordings.compliance(
        session, principal=principal, now=platform.clock.now(), failing_only=failing, cls=cls, after=after, limit=limit
    )
    return CompliancePageOut(items=page.items, next_after=page.next_after, scanned=page.scanned)


class LockIn(BaseModel):
    camera: str = Field(description="GB ID of the camera")
    start_at: datetime = Field(alias="from")
    end_at: datetime = Field(alias="to")
    case_ref: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=2000)

    model_config = {"populate_by_name": True}


class LockOut(BaseModel):
    id: int
    camera: str
    start_at: datetime
    end_at: datetime
    case_ref: str
    reason: str
    created_by: int | None
    created_at: datetime
    released_at: datetime | None
    active: bool


def _out(lock: evidence.LockView) -> LockOut:
    return LockOut(**{k: getattr(lock, k) for k in LockOut.model_fields})


class LockPageOut(BaseModel):
    items: list[LockOut]
    next_after: int | None


class ReleaseIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


@router.post("/evidence-locks", response_model=LockOut, status_code=201)
async def create_evidence_lock(
    body: LockIn, principal: CurrentPrincipal, session: DbSession, platform: CurrentPlatform
):
    """Keep a camera's footage in a time range for a case, whatever retention or space say; audited."""
    lock = await evidence.create_lock(
        session,
        principal=principal,
        gb_id=gbid.parse(body.camera).value,
        start_at=body.start_at,
        end_at=body.end_at,
        case_ref=body.case_ref,
        reason=body.reason,
        now=platform.clock.now(),
    )
    return _out(lock)


@router.get("/evidence-locks", response_model=LockPageOut)
async def list_evidence_locks(
    principal: CurrentPrincipal,
    session: DbSession,
    camera: Annotated[str | None, Query(description="GB ID of one camera")] = None,
    active: bool | None = None,
    case: Annotated[str | None, Query(max_length=100)] = None,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
):
    items, next_after = await evidence.list_locks(
        session,
        principal=principal,
        gb_id=gbid.parse(camera).value if camera else None,
        active=active,
        case_ref=case,
        after=after,
        limit=limit,
    )
    return LockPageOut(items=[_out(i) for i in items], next_after=next_after)


@router.post("/evidence-locks/{lock_id}/release", response_model=LockOut)
async def release_evidence_lock(
    lock_id: int, body: ReleaseIn, principal: CurrentPrincipal, session: DbSession, platform: CurrentPlatform
):
    """End a lock: its footage follows retention again; audited with the reason."""
    lock = await evidence.release_lock(
        session, principal=principal, lock_id=lock_id, reason=body.reason, now=platform.clock.now()
    )
    return _out(lock)


class AlarmOut(BaseModel):
    id: int
    kind: str
    pool: str | None
    camera_id: int | None
    message: str
    raised_at: datetime
    cleared_at: datetime | None

    model_config = {"from_attributes": True}


class AlarmPageOut(BaseModel):
    items: list[AlarmOut]
    next_after: int | None


@router.get("/media/alarms", response_model=AlarmPageOut)
async def media_alarms(
    principal: CurrentPrincipal,
    session: DbSession,
    open_only: Annotated[bool, Query(alias="open", description="only alarms not cleared yet")] = True,
    kind: Annotated[str | None, Query(pattern="^(" + "|".join(alarms.KINDS) + ")$")] = None,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
):
    rows, next_after = await alarms.list_alarms(
        session, principal=principal, open_only=open_only, kind=kind, after=after, limit=limit
    )
    return AlarmPageOut(items=[AlarmOut.model_validate(r) for r in rows], next_after=next_after)


class PoolOut(BaseModel):
    pool: str
    path: str
    capacity_bytes: int | None
    used_bytes: int | None
    fraction: float | None
    indexed_bytes: int
    segments: int
    high_water: float
    low_water: float


@router.get("/storage/pools", response_model=list[PoolOut])
async def storage_pools(principal: CurrentPrincipal, session: DbSession, platform: CurrentPlatform):
    """How full each recording pool is (by its capacity, else its file system) and what the index holds there."""
    principal.require(Permission.PLAN_READ)
    media = platform.config.media
    query = select(RecordingSegment.pool, func.count(), func.coalesce(func.sum(RecordingSegment.bytes), 0))
    indexed = {pool: (int(n), int(b)) for pool, n, b in (await session.execute(query.group_by(RecordingSegment.pool)))}
    out = []
    for pool in platform.config.storage_pools:
        count, size = indexed.get(pool.name, (0, 0))
        usage = measure(pool, size)
        out.append(
            PoolOut(
                pool=pool.name,
                path=str(pool.path),
                capacity_bytes=usage.capacity_bytes if usage else None,
                used_bytes=usage.used_bytes if usage else None,
                fraction=round(usage.fraction, 6) if usage else None,
                indexed_bytes=size,
                segments=count,
                high_water=media.pool_high_water,
                low_water=media.pool_low_water,
            )
        )
    return out


@router.post("/storage/sweep")
async def storage_sweep(principal: CurrentPrincipal, session: DbSession, platform: CurrentPlatform) -> dict:
    """Run retention now (administrators): the expired sweep, then space recovery for pools above high water."""
    if principal.role != Role.ADMIN.value:
        raise Forbidden("only administrators may run retention by hand")
    await audit.record(session, actor=principal.username, source=principal.source, action="storage.sweep")
    await session.commit()  # the runner writes in its own transactions; hold none open meanwhile
    runner = RetentionRunner(
        platform.sessions,
        pools=platform.config.storage_pools,
        media=platform.config.media,
        bus=platform.bus,
        clock=platform.clock,
    )
    return (await runner.run_once()).as_dict()
