"""Fault work orders: opened for the unit that maintains a camera, closed by the platform once the fault is gone.

Life of an order: `open` when a fault is found (a camera offline too long, a picture failing diagnosis several
times in a row, footage falling out of retention compliance); `resolved` when the platform sees the fault gone
(or a maintainer reports it fixed) and waits to check again; `closed` when the re-check after
`health.recheck_after_s` still finds it gone. A fault seen again while resolved reopens the same order, so a
flapping camera is one order, not dozens. One open order per camera and fault kind is enforced by a partial
unique index as well as by the code.

MTTR is measured from `fault_since` (when the fault began, e.g. the offline transition) to `closed_at`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core.errors import InvalidInput, NotFound
from tianyan.core.events import Event
from tianyan.health.models import WorkOrder
from tianyan.registry.models import AvailabilityTransition, Camera, Organisation, Region

log = logging.getLogger(__name__)

OFFLINE = "offline"
VQD = "vqd"
RETENTION = "retention"
FAULTS = (OFFLINE, VQD, RETENTION)

OPEN = "open"
RESOLVED = "resolved"
CLOSED = "closed"
STATUSES = (OPEN, RESOLVED, CLOSED)
AUTO = "auto"  # fixed_by when nobody reported the fix: the platform saw the fault go away


@dataclass(frozen=True)
class WorkOrderOpened(Event):
    subject = "health.work_order.opened"
    order_id: int
    camera_id: int
    fault: str
    detail: str
    unit_id: int | None
    at: datetime


@dataclass(frozen=True)
class WorkOrderClosed(Event):
    subject = "health.work_order.closed"
    order_id: int
    camera_id: int
    fault: str
    fixed_by: str
    at: datetime


async def responsible_unit(session: AsyncSession, camera_id: int) -> int | None:
    """The camera's maintainer, else its owning unit, else the police unit of its region or the nearest above it."""
    row = (
        await session.execute(
            select(Camera.maintainer_id, Camera.owning_unit_id, Region.path)
            .join(Region, Region.id == Camera.region_id)
            .where(Camera.id == camera_id)
        )
    ).one_or_none()
    if row is None:
        return None
    if row.maintainer_id is not None or row.owning_unit_id is not None:
        return row.maintainer_id or row.owning_unit_id
    codes = [code for code in row.path.strip("/").split("/") if code]
    units = (
        await session.execute(
            select(Organisation.id, Region.code)
            .join(Region, Region.id == Organisation.region_id)
            .where(Organisation.kind == "police_unit", Region.code.in_(codes))
            .order_by(Organisation.id)
        )
    ).all()
    by_code: dict[str, int] = {}
    for unit_id, code in units:
        by_code.setdefault(code, unit_id)
    for code in reversed(codes):
        if code in by_code:
            return by_code[code]
    return None


async def open_order(session: AsyncSession, camera_id: int, fault: str) -> WorkOrder | None:
    return (
        await session.execute(
            select(WorkOrder).where(
                WorkOrder.camera_id == camera_id, WorkOrder.fault == fault, WorkOrder.closed_at.is_(None)
            )
        )
    ).scalar_one_or_none()


async def fault_present(
    session: AsyncSession, *, camera_id: int, fault: str, detail: str, fault_since: datetime,
    evidence: dict[str, Any], now: datetime,
) -> tuple[WorkOrder, Event | None]:  # fmt: skip
    """The fault is there: open an order, or reopen the resolved one; an order already open only gains evidence."""
    order = await open_order(session, camera_id, fault)
    if order is not None:
        if order.status == RESOLVED:
            order.status = OPEN
            order.resolved_at = None
            order.fix_note = _append(order.fix_note, f"{now:%Y-%m-%d %H:%M} fault seen again on re-check")
        order.evidence = {**order.evidence, "latest": evidence}
        return order, None
    order = WorkOrder(
        camera_id=camera_id, fault=fault, detail=detail, unit_id=await responsible_unit(session, camera_id),
        status=OPEN, opened_at=now, fault_since=fault_since, evidence=evidence,
    )  # fmt: skip
    try:
        async with session.begin_nested():
            session.add(order)
    except IntegrityError:
        # Another worker opened it between our look and our insert: theirs is the one.
        existing = await open_order(session, camera_id, fault)
        assert existing is not None
        return existing, None
    opened = WorkOrderOpened(
        order_id=order.id, camera_id=camera_id, fault=fault, detail=detail, unit_id=order.unit_id, at=now
    )
    return order, opened


async def fault_gone(
    session: AsyncSession, *, camera_id: int, fault: str, since: datetime, now: datetime, recheck_after_s: float
) -> Event | None:
    """The fault is no longer seen (since `since`): resolve the order, and close it once that has held long enough."""
    order = await open_order(session, camera_id, fault)
    if order is None:
        return None
    if order.status == OPEN:
        order.status = RESOLVED
        order.resolved_at = since
    assert order.resolved_at is not None
    if now - order.resolved_at >= timedelta(seconds=recheck_after_s):
        return _close(order, now=now, by=order.fixed_by or AUTO)
    return None


def _close(order: WorkOrder, *, now: datetime, by: str) -> WorkOrderClosed:
    order.status = CLOSED
    order.closed_at = now
    order.fixed_by = by
    return WorkOrderClosed(order_id=order.id, camera_id=order.camera_id, fault=order.fault, fixed_by=by, at=now)


def _append(note: str | None, line: str) -> str:
    return f"{note}\n{line}" if note else line


# --- offline -----------------------------------------------------------------------------------------------------


async def _last_transitions(session: AsyncSession, camera_ids: list[int]) -> dict[int, tuple[datetime, bool]]:
    if not camera_ids:
        return {}
    t = AvailabilityTransition
    latest = (
        select(t.camera_id, func.max(t.at).label("at"))
        .where(t.camera_id.in_(camera_ids))
        .group_by(t.camera_id)
        .subquery()
    )
    rows = await session.execute(
        select(t.camera_id, t.at, t.online)
        .join(latest, and_(latest.c.camera_id == t.camera_id, latest.c.at == t.at))
        .order_by(t.id)
    )
    return {camera_id: (at, online) for camera_id, at, online in rows.tuples()}


async def recent_transitions(session: AsyncSession, camera_id: int, limit: int = 10) -> list[dict[str, Any]]:
    t = AvailabilityTransition
    rows = await session.execute(
        select(t.at, t.online, t.reason).where(t.camera_id == camera_id).order_by(t.at.desc(), t.id.desc()).limit(limit)
    )
    return [{"at": at.isoformat(), "online": online, "reason": reason} for at, online, reason in rows.tuples()]


async def sweep_offline(
    session: AsyncSession, *, now: datetime, after_s: float, recheck_after_s: float, chunk: int = 1000
) -> list[Event]:
    """Open orders for cameras offline longer than `after_s`; resolve and close those that came back.

    Only cameras that have been online at least once are judged: a registry row whose camera was never
    connected is a construction matter (plan progress), not a maintenance fault.
    """
    events: list[Event] = []
    offline_ids = list(
        (
            await session.execute(
                select(Camera.id).where(
                    Camera.online.is_(False),
                    Camera.id.in_(select(AvailabilityTransition.camera_id).where(AvailabilityTransition.online)),
                    Camera.id.not_in(
                        select(WorkOrder.camera_id).where(WorkOrder.fault == OFFLINE, WorkOrder.status == OPEN)
                    ),
                )
            )
        ).scalars()
    )
    for start in range(0, len(offline_ids), chunk):
        last = await _last_transitions(session, offline_ids[start : start + chunk])
        for camera_id, (at, online) in last.items():
            if online or now - at < timedelta(seconds=after_s):
                continue
            evidence = {"transitions": await recent_transitions(session, camera_id)}
            detail = f"offline since {at.isoformat(timespec='seconds')}"
            _, event = await fault_present(
                session, camera_id=camera_id, fault=OFFLINE, detail=detail, fault_since=at, evidence=evidence, now=now
            )
            if event is not None:
                events.append(event)
    pending = (
        await session.execute(
            select(WorkOrder.camera_id)
            .join(Camera, Camera.id == WorkOrder.camera_id)
            .where(WorkOrder.fault == OFFLINE, WorkOrder.closed_at.is_(None), Camera.online.is_(True))
        )
    ).scalars()
    pending_ids = list(pending)
    for start in range(0, len(pending_ids), chunk):
        last = await _last_transitions(session, pending_ids[start : start + chunk])
        for camera_id, (at, online) in last.items():
            if not online:
                continue
            event = await fault_gone(
                session, camera_id=camera_id, fault=OFFLINE, since=at, now=now, recheck_after_s=recheck_after_s
            )
            if event is not None:
                events.append(event)
    return events


# --- picture faults ----------------------------------------------------------------------------------------------


async def on_diagnosis(
    session: AsyncSession, *, camera_id: int, faults: list[str], consecutive_failures: int, needed_failures: int,
    at: datetime, fault_since: datetime, evidence: dict[str, Any], recheck_after_s: float,
) -> list[Event]:  # fmt: skip
    """Called after every diagnosis of a camera; `fault_since` is when its picture first went bad this time."""
    if faults:
        if consecutive_failures < needed_failures:
            return []
        _, event = await fault_present(
            session, camera_id=camera_id, fault=VQD, detail=",".join(faults), fault_since=fault_since,
            evidence=evidence, now=at,
        )  # fmt: skip
        return [event] if event is not None else []
    event = await fault_gone(session, camera_id=camera_id, fault=VQD, since=at, now=at, recheck_after_s=recheck_after_s)
    return [event] if event is not None else []


# --- retention ---------------------------------------------------------------------------------------------------


async def on_compliance(
    session: AsyncSession, *, verdicts: list[tuple[int, bool, dict[str, Any]]], now: datetime
) -> list[Event]:
    """Daily: (camera id, compliant, evidence) for every camera that must keep footage.

    Compliance is computed from the stored days, which is itself the re-check: an order closes on the first
    check that finds the camera compliant again.
    """
    events: list[Event] = []
    for camera_id, compliant, evidence in verdicts:
        if compliant:
            event = await fault_gone(
                session, camera_id=camera_id, fault=RETENTION, since=now, now=now, recheck_after_s=0
            )
        else:
            _, event = await fault_present(
                session, camera_id=camera_id, fault=RETENTION, detail=str(evidence.get("status", "")),
                fault_since=now, evidence=evidence, now=now,
            )  # fmt: skip
        if event is not None:
            events.append(event)
    return events


# --- people ------------------------------------------------------------------------------------------------------


async def get_order(session: AsyncSession, order_id: int) -> WorkOrder:
    order = await session.get(WorkOrder, order_id)
    if order is None:
        raise NotFound(f"no work order {order_id}")
    return order


def report_fixed(order: WorkOrder, *, user: str, note: str, now: datetime) -> None:
    """A maintainer says it is fixed: the order waits for the platform's re-check, which closes or reopens it."""
    if order.status == CLOSED:
        raise InvalidInput(f"work order {order.id} is already closed")
    order.fixed_by = user
    order.fix_note = _append(order.fix_note, f"{now:%Y-%m-%d %H:%M} {user}: {note}".rstrip(": "))
    if order.status == OPEN:
        order.status = RESOLVED
        order.resolved_at = now


def close_by_hand(order: WorkOrder, *, user: str, reason: str, now: datetime) -> WorkOrderClosed:
    """Close without a re-check (the camera was removed, the fault is accepted): a reason is required."""
    if order.status == CLOSED:
        raise InvalidInput(f"work order {order.id} is already closed")
    if not reason.strip():
        raise InvalidInput("closing a work order by hand needs a reason")
    order.fix_note = _append(order.fix_note, f"{now:%Y-%m-%d %H:%M} {user} closed: {reason.strip()}")
    return _close(order, now=now, by=user)
