"""Fault work-order statistics of a camera set over a period, per maintaining unit and fault kind, in one SQL query:
orders opened and closed in the period, orders open now, and MTTR (mean of closed_at − fault_since over the orders
closed in the period)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Float, Integer, and_, case, cast, extract, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.health.kpi.model import Period
from tianyan.health.models import WorkOrder
from tianyan.registry.models import Camera, Organisation

FAULTS = ("offline", "vqd", "retention")
NO_UNIT = "(no maintaining unit)"
ALL = ""


@dataclass(frozen=True)
class OrderStats:
    unit_code: str  # "" for orders without a unit, and in the per-fault and total rows
    unit: str  # the unit's name, NO_UNIT, or "" in the per-fault and total rows
    fault: str  # offline, vqd, retention; "" in the per-unit and total rows
    opened: int  # opened in the period
    closed: int  # closed in the period
    open_now: int  # not closed (open, or resolved and awaiting its re-check)
    repair_s: float  # Σ closed_at − fault_since over the orders closed in the period

    @property
    def mttr_s(self) -> float | None:
        return self.repair_s / self.closed if self.closed else None


@dataclass(frozen=True)
class OrderSummary:
    rows: list[OrderStats]  # per unit and fault, units by name
    by_fault: list[OrderStats]  # one per fault kind, every kind present
    by_unit: list[OrderStats]  # one per unit
    total: OrderStats


def _repair_seconds(dialect: str) -> ColumnElement[float]:
    if dialect == "sqlite":
        # Stored as "YYYY-MM-DD HH:MM:SS.ffffff": whole seconds apart plus the fractions apart, exact to the
        # microsecond (julianday() would be off by some ten microseconds).
        closed, since = WorkOrder.closed_at, WorkOrder.fault_since
        whole = cast(func.strftime("%s", closed), Integer) - cast(func.strftime("%s", since), Integer)
        return whole + (cast(func.substr(closed, 20), Float) - cast(func.substr(since, 20), Float))
    return cast(extract("epoch", WorkOrder.closed_at - WorkOrder.fault_since), Float)


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def order_stats(
    session: AsyncSession, *, camera_clauses: Iterable[ColumnElement[bool]], period: Period, now: datetime
) -> OrderSummary:
    """The statistics of the orders of cameras matching `camera_clauses` (the caller's scope among them)."""
    start, end = period.start, period.end
    opened = and_(WorkOrder.opened_at >= start, WorkOrder.opened_at < end)
    closed = and_(WorkOrder.closed_at >= start, WorkOrder.closed_at < end)
    open_now = and_(WorkOrder.closed_at.is_(None), WorkOrder.opened_at <= now)
    repair = _repair_seconds(session.get_bind().dialect.name)
    query = (
        select(
            Organisation.code,
            Organisation.name,
            WorkOrder.fault,
            _count(opened),
            _count(closed),
            _count(open_now),
            func.coalesce(func.sum(case((closed, repair), else_=0.0)), 0.0),
        )
        .select_from(WorkOrder)
        .join(Camera, Camera.id == WorkOrder.camera_id)
        .outerjoin(Organisation, Organisation.id == WorkOrder.unit_id)
        .where(and_(*camera_clauses), or_(opened, closed, open_now))
        .group_by(Organisation.code, Organisation.name, WorkOrder.fault)
    )
    rows = [
        OrderStats(code or "", name or NO_UNIT, fault, int(o), int(c), int(n), float(r))
        for code, name, fault, o, c, n, r in (await session.execute(query)).all()
    ]
    rows.sort(key=lambda s: (s.unit == NO_UNIT, s.unit, s.unit_code, _fault_rank(s.fault)))
    faults = sorted({*FAULTS, *(s.fault for s in rows)}, key=_fault_rank)
    by_fault = [_sum((s for s in rows if s.fault == fault), fault=fault) for fault in faults]
    units = dict.fromkeys((s.unit_code, s.unit) for s in rows)
    by_unit = [_sum((s for s in rows if (s.unit_code, s.unit) == key), code=key[0], unit=key[1]) for key in units]
    return OrderSummary(rows=rows, by_fault=by_fault, by_unit=by_unit, total=_sum(rows))


def _fault_rank(fault: str) -> tuple[int, str]:
    return (FAULTS.index(fault) if fault in FAULTS else len(FAULTS), fault)


def _sum(stats: Iterable[OrderStats], *, code: str = ALL, unit: str = ALL, fault: str = ALL) -> OrderStats:
    found = list(stats)
    return OrderStats(
        unit_code=code,
        unit=unit,
        fault=fault,
        opened=sum(s.opened for s in found),
        closed=sum(s.closed for s in found),
        open_now=sum(s.open_now for s in found),
        repair_s=sum(s.repair_s for s in found),
    )
