"""Media alarms: raise and clear media_alarms rows (one open alarm per kind, pool and camera) and tell the bus."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.bus.base import Bus
from tianyan.core.events import Event
from tianyan.media.models import MediaAlarm
from tianyan.registry.models import Camera
from tianyan.security.roles import Permission
from tianyan.security.scope import Principal, camera_clause

KINDS = ("pool_nearly_full", "retention_at_risk", "pool_unwritable", "stream_lost")


@dataclass(frozen=True)
class MediaAlarmRaised(Event):
    subject = "media.alarm.raised"
    alarm_id: int
    kind: str
    pool: str | None
    camera_id: int | None
    message: str
    at: datetime


@dataclass(frozen=True)
class MediaAlarmCleared(Event):
    subject = "media.alarm.cleared"
    alarm_id: int
    kind: str
    pool: str | None
    camera_id: int | None
    at: datetime


def _same(kind: str, pool: str | None, camera_id: int | None):  # type: ignore[no-untyped-def]
    return (
        MediaAlarm.kind == kind,
        MediaAlarm.pool.is_(None) if pool is None else MediaAlarm.pool == pool,
        MediaAlarm.camera_id.is_(None) if camera_id is None else MediaAlarm.camera_id == camera_id,
        MediaAlarm.cleared_at.is_(None),
    )


async def open_alarm(
    session: AsyncSession, *, kind: str, pool: str | None = None, camera_id: int | None = None
) -> MediaAlarm | None:
    query = select(MediaAlarm).where(*_same(kind, pool, camera_id)).order_by(MediaAlarm.id).limit(1)
    return (await session.execute(query)).scalar_one_or_none()


async def raise_alarm(
    session: AsyncSession,
    *,
    kind: str,
    message: str,
    now: datetime,
    pool: str | None = None,
    camera_id: int | None = None,
) -> Event | None:
    """Open the alarm unless it is open already (then only its message follows the news); the event to publish
    once the transaction commits, or None when nothing new was raised."""
    if kind not in KINDS:
        raise ValueError(f"unknown media alarm kind {kind!r}")
    existing = await open_alarm(session, kind=kind, pool=pool, camera_id=camera_id)
    if existing is not None:
        existing.message = message
        return None
    alarm = MediaAlarm(kind=kind, pool=pool, camera_id=camera_id, message=message, raised_at=now)
    session.add(alarm)
    await session.flush()
    return MediaAlarmRaised(alarm.id, kind, pool, camera_id, message, now)


async def clear_alarm(
    session: AsyncSession, *, kind: str, now: datetime, pool: str | None = None, camera_id: int | None = None
) -> Event | None:
    """Close the open alarm of this kind, pool and camera; the event to publish, or None when none was open."""
    existing = await open_alarm(session, kind=kind, pool=pool, camera_id=camera_id)
    if existing is None:
        return None
    existing.cleared_at = now
    await session.flush()
    return MediaAlarmCleared(existing.id, kind, pool, camera_id, now)


async def publish(bus: Bus | None, events: Sequence[Event | None]) -> None:
    """Tell the bus, after the transaction that raised or cleared them committed."""
    if bus is None:
        return
    for event in events:
        if event is not None:
            await bus.publish(event)


async def list_alarms(
    session: AsyncSession,
    *,
    principal: Principal,
    open_only: bool = True,
    kind: str | None = None,
    after: int = 0,
    limit: int = 100,
) -> tuple[list[MediaAlarm], int | None]:
    """Alarms newest-id last; pool alarms are everyone's with the permission, camera alarms only within scope."""
    principal.require(Permission.PLAN_READ)
    visible = or_(
        MediaAlarm.camera_id.is_(None), MediaAlarm.camera_id.in_(select(Camera.id).where(camera_clause(principal)))
    )
    query = select(MediaAlarm).where(visible, MediaAlarm.id > after)
    if open_only:
        query = query.where(MediaAlarm.cleared_at.is_(None))
    if kind is not None:
        query = query.where(MediaAlarm.kind == kind)
    rows = list((await session.execute(query.order_by(MediaAlarm.id).limit(limit + 1))).scalars())
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)
