"""Reading health state within a principal's scope: diagnoses, failing cameras, work orders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core.errors import InvalidInput, NotFound
from tianyan.health import workorders
from tianyan.health.kpi.model import Period
from tianyan.health.models import VqdLatest, VqdSetting, WorkOrder
from tianyan.health.reports.order_stats import OrderStats, order_stats
from tianyan.registry.models import Camera, Organisation
from tianyan.security.roles import Permission
from tianyan.security.scope import Principal, camera_clause


async def scoped_camera(session: AsyncSession, principal: Principal, gb_id: str) -> Camera:
    camera = (await session.execute(select(Camera).where(Camera.gb_id == gb_id, camera_clause(principal)))).scalar()
    if camera is None:
        raise NotFound(f"no camera {gb_id} in your scope")
    return camera


@dataclass(frozen=True)
class OrderView:
    order: WorkOrder
    gb_id: str
    camera_name: str
    unit_name: str | None

    def as_dict(self) -> dict[str, Any]:
        o = self.order
        return {
            "id": o.id, "camera_gb_id": self.gb_id, "camera_name": self.camera_name, "fault": o.fault,
            "detail": o.detail, "unit_id": o.unit_id, "unit_name": self.unit_name, "status": o.status,
            "opened_at": o.opened_at, "fault_since": o.fault_since, "resolved_at": o.resolved_at,
            "closed_at": o.closed_at, "fixed_by": o.fixed_by, "fix_note": o.fix_note, "evidence": o.evidence,
            "has_frame": bool(_frame_of(o)),
        }  # fmt: skip


def _frame_of(order: WorkOrder) -> str | None:
    evidence = order.evidence or {}
    latest = evidence.get("latest") or {}
    return latest.get("frame_path") or evidence.get("frame_path")


def order_frame(order: WorkOrder) -> str | None:
    """The diagnosed picture that opened (or last confirmed) the order, relative to the health folder."""
    return _frame_of(order)


def _orders_query(principal: Principal):  # type: ignore[no-untyped-def]
    return (
        select(WorkOrder, Camera.gb_id, Camera.name, Organisation.name)
        .join(Camera, Camera.id == WorkOrder.camera_id)
        .outerjoin(Organisation, Organisation.id == WorkOrder.unit_id)
        .where(camera_clause(principal))
    )


async def list_orders(
    session: AsyncSession, principal: Principal, *, status: str | None = None, fault: str | None = None,
    unit_id: int | None = None, camera_gb_id: str | None = None, limit: int = 100, offset: int = 0,
) -> tuple[list[OrderView], int]:  # fmt: skip
    principal.require(Permission.HEALTH_READ)
    query = _orders_query(principal)
    if status == "unclosed":
        query = query.where(WorkOrder.closed_at.is_(None))
    elif status is not None:
        if status not in workorders.STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(workorders.STATUSES)} or unclosed")
        query = query.where(WorkOrder.status == status)
    if fault is not None:
        if fault not in workorders.FAULTS:
            raise InvalidInput(f"fault must be one of {', '.join(workorders.FAULTS)}")
        query = query.where(WorkOrder.fault == fault)
    if unit_id is not None:
        query = query.where(WorkOrder.unit_id == unit_id)
    if camera_gb_id is not None:
        query = query.where(Camera.gb_id == camera_gb_id)
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    ordered = query.order_by(WorkOrder.opened_at.desc(), WorkOrder.id.desc())
    rows = await session.execute(ordered.limit(limit).offset(offset))
    return [OrderView(o, gb, name, unit) for o, gb, name, unit in rows.tuples()], total


async def get_order(session: AsyncSession, principal: Principal, order_id: int) -> OrderView:
    principal.require(Permission.HEALTH_READ)
    row = (await session.execute(_orders_query(principal).where(WorkOrder.id == order_id))).tuples().one_or_none()
    if row is None:
        raise NotFound(f"no work order {order_id} in your scope")
    order, gb, name, unit = row
    return OrderView(order, gb, name, unit)


async def order_summary(
    session: AsyncSession, principal: Principal, *, period: Period, now: datetime
) -> dict[str, Any]:
    """Orders of the cameras in scope: opened and closed in the period, open now and MTTR, per fault kind and per
    maintaining unit; a unit carries its id, which is what the order list filters by."""
    principal.require(Permission.HEALTH_READ)
    summary = await order_stats(session, camera_clauses=[camera_clause(principal)], period=period, now=now)
    codes = [s.unit_code for s in summary.by_unit if s.unit_code]
    ids: dict[str, int] = {}
    if codes:
        found = await session.execute(select(Organisation.code, Organisation.id).where(Organisation.code.in_(codes)))
        ids = dict(found.tuples().all())

    def row(s: OrderStats) -> dict[str, Any]:
        return {
            "unit_id": ids.get(s.unit_code), "unit_code": s.unit_code or None, "unit": s.unit or None,
            "fault": s.fault or None, "opened": s.opened, "closed": s.closed, "open_now": s.open_now,
            "mttr_s": None if s.mttr_s is None else round(s.mttr_s, 1),
        }  # fmt: skip

    return {
        "period": {"from": period.start.isoformat(), "to": period.end.isoformat()},
        "by_fault": [row(s) for s in summary.by_fault],
        "by_unit": [row(s) for s in summary.by_unit],
        "total": row(summary.total),
    }


async def failing_cameras(
    session: AsyncSession, principal: Principal, *, fault: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Cameras whose latest diagnosis failed, most recent first (`fault` narrows to one check)."""
    principal.require(Permission.HEALTH_READ)
    rows = await session.execute(
        select(VqdLatest, Camera.gb_id, Camera.name)
        .join(Camera, Camera.id == VqdLatest.camera_id)
        .where(VqdLatest.ok.is_(False), camera_clause(principal))
        .order_by(VqdLatest.at.desc())
        .limit(limit if fault is None else limit * 20)
    )
    out = []
    for latest, gb_id, name in rows.tuples():
        if fault is not None and fault not in (latest.faults or []):
            continue
        out.append({"camera_gb_id": gb_id, "camera_name": name, **latest_dict(latest)})
        if len(out) >= limit:
            break
    return out


def latest_dict(latest: VqdLatest | None) -> dict[str, Any]:
    if latest is None:
        return {"diagnosed": False}
    return {
        "diagnosed": True, "at": latest.at, "source": latest.source, "ok": latest.ok, "faults": latest.faults,
        "scores": latest.scores, "detail": latest.detail, "has_frame": bool(latest.frame_path),
        "consecutive_failures": latest.consecutive_failures,
    }  # fmt: skip


def settings_dict(setting: VqdSetting | None) -> dict[str, Any]:
    if setting is None:
        return {"enabled": True, "thresholds": {}, "ptz_check": False, "reference_at": None}
    return {
        "enabled": setting.enabled, "thresholds": setting.thresholds, "ptz_check": setting.ptz_check,
        "reference_at": setting.reference_at,
    }  # fmt: skip


def at_text(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
