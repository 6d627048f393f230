"""Evidence locks: a camera's time range tied to a case, kept whatever retention or space says; scoped, audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core.errors import Conflict, InvalidInput, NotFound
from tianyan.media.models import EvidenceLock
from tianyan.registry.models import Camera
from tianyan.security import audit
from tianyan.security.roles import Permission
from tianyan.security.scope import Principal, camera_clause

# A lock longer than this is almost certainly a typo in a date, and would pin a year of a camera's footage.
MAX_LOCK = timedelta(days=366)


@dataclass(frozen=True)
class LockView:
    id: int
    camera: str
    start_at: datetime
    end_at: datetime
    case_ref: str
    reason: str
    created_by: int | None
    created_at: datetime
    released_at: datetime | None

    @property
    def active(self) -> bool:
        return self.released_at is None


def _view(lock: EvidenceLock, gb_id: str) -> LockView:
    return LockView(
        id=lock.id,
        camera=gb_id,
        start_at=lock.start_at,
        end_at=lock.end_at,
        case_ref=lock.case_ref,
        reason=lock.reason,
        created_by=lock.created_by,
        created_at=lock.created_at,
        released_at=lock.released_at,
    )


async def scoped_camera(session: AsyncSession, *, principal: Principal, gb_id: str) -> Camera:
    """A camera in the principal's scope; out of scope and absent look the same."""
    camera = (
        await session.execute(select(Camera).where(Camera.gb_id == gb_id, camera_clause(principal)))
    ).scalar_one_or_none()
    if camera is None:
        raise NotFound(f"no camera {gb_id} in your scope")
    return camera


def _text(value: str, name: str, limit: int) -> str:
    cleaned = (value or "").strip()
    if not cleaned:
        raise InvalidInput(f"{name} is required")
    if len(cleaned) > limit:
        raise InvalidInput(f"{name} is longer than {limit} characters")
    return cleaned


async def create_lock(
    session: AsyncSession,
    *,
    principal: Principal,
    gb_id: str,
    start_at: datetime,
    end_at: datetime,
    case_ref: str,
    reason: str,
    now: datetime,
) -> LockView:
    principal.require(Permission.VIDEO_EXPORT)
    if start_at.tzinfo is None or end_at.tzinfo is None:
        raise InvalidInput("give times with a time zone, e.g. 2026-11-21T08:00:00+08:00")
    if end_at <= start_at:
        raise InvalidInput("the lock must end after it starts")
    if end_at - start_at > MAX_LOCK:
        raise InvalidInput(f"a lock may cover at most {MAX_LOCK.days} days; make several for longer")
    case = _text(case_ref, "case reference", 100)
    why = _text(reason, "reason", 2000)
    camera = await scoped_camera(session, principal=principal, gb_id=gb_id)
    lock = EvidenceLock(
        camera_id=camera.id,
        start_at=start_at,
        end_at=end_at,
        case_ref=case,
        reason=why,
        created_by=principal.user_id or None,
        created_at=now,
    )
    session.add(lock)
    await session.flush()
    await audit.record(
        session,
        actor=principal.username,
        source=principal.source,
        action="evidence.lock",
        target=f"camera:{camera.gb_id}",
        reason=why,
        detail={"lock": lock.id, "case": case, "from": start_at.isoformat(), "to": end_at.isoformat()},
    )
    return _view(lock, camera.gb_id)


async def list_locks(
    session: AsyncSession,
    *,
    principal: Principal,
    gb_id: str | None = None,
    active: bool | None = None,
    case_ref: str | None = None,
    after: int = 0,
    limit: int = 100,
) -> tuple[list[LockView], int | None]:
    """Locks on cameras in scope, oldest first; page on with the returned cursor."""
    principal.require(Permission.VIDEO_EXPORT)
    query = (
        select(EvidenceLock, Camera.gb_id)
        .join(Camera, Camera.id == EvidenceLock.camera_id)
        .where(camera_clause(principal), EvidenceLock.id > after)
    )
    if gb_id is not None:
        query = query.where(Camera.gb_id == gb_id)
    if active is not None:
        query = query.where(EvidenceLock.released_at.is_(None) if active else EvidenceLock.released_at.is_not(None))
    if case_ref:
        query = query.where(EvidenceLock.case_ref == case_ref.strip())
    rows = (await session.execute(query.order_by(EvidenceLock.id).limit(limit + 1))).tuples().all()
    items = [_view(lock, camera) for lock, camera in rows[:limit]]
    return items, (items[-1].id if len(rows) > limit else None)


async def release_lock(
    session: AsyncSession, *, principal: Principal, lock_id: int, reason: str, now: datetime
) -> LockView:
    """End a lock (the footage then follows retention again); the reason goes to the audit log."""
    principal.require(Permission.VIDEO_EXPORT)
    why = _text(reason, "reason", 2000)
    row = (
        await session.execute(
            select(EvidenceLock, Camera.gb_id)
            .join(Camera, Camera.id == EvidenceLock.camera_id)
            .where(EvidenceLock.id == lock_id, camera_clause(principal))
            .with_for_update(of=EvidenceLock)
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"no evidence lock {lock_id} in your scope")
    lock, gb_id = row
    if lock.released_at is not None:
        raise Conflict(f"evidence lock {lock_id} was released at {lock.released_at.isoformat()}")
    lock.released_at = now
    await session.flush()
    await audit.record(
        session,
        actor=principal.username,
        source=principal.source,
        action="evidence.release",
        target=f"camera:{gb_id}",
        reason=why,
        detail={"lock": lock.id, "case": lock.case_ref},
    )
    return _view(lock, gb_id)
