"""A KPI document as JSON-able data: rates are fractions (0.953 = 95.3 %) rounded to four places, seconds to one
decimal, times ISO 8601 in UTC."""

from __future__ import annotations

import dataclasses
from typing import Any

from tianyan.health.kpi.model import CameraRow, Figures, Verdict
from tianyan.health.reports.document import KpiDocument
from tianyan.health.reports.order_stats import OrderStats
from tianyan.health.reports.periods import describe


def _number(name: str, value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 1) if name.endswith("_s") else round(value, 4)
    return value


def figures_dict(f: Figures) -> dict[str, Any]:
    return {name: _number(name, value) for name, value in dataclasses.asdict(f).items()}


def _camera_dict(c: CameraRow) -> dict[str, Any]:
    return {name: _number(name, value) for name, value in dataclasses.asdict(c).items()}


def _verdict_dict(v: Verdict) -> dict[str, Any]:
    return {name: _number(name, value) for name, value in dataclasses.asdict(v).items()}


def _orders_dict(s: OrderStats) -> dict[str, Any]:
    return {
        "unit_code": s.unit_code or None, "unit": s.unit or None, "fault": s.fault or None, "opened": s.opened,
        "closed": s.closed, "open_now": s.open_now, "mttr_s": None if s.mttr_s is None else round(s.mttr_s, 1),
    }  # fmt: skip


def as_dict(doc: KpiDocument) -> dict[str, Any]:
    kpi = doc.kpi
    return {
        "title": doc.title,
        "scope": {
            "label": doc.scope,
            "seen_by": doc.viewer,
            "selection": {k: v for k, v in dataclasses.asdict(kpi.selection).items() if v is not None},
        },
        "period": {
            "from": kpi.period.start.isoformat(),
            "to": kpi.period.end.isoformat(),
            "label": describe(kpi.period, measured_to=kpi.computed_at),
        },
        "computed_at": kpi.computed_at.isoformat(),
        "plan": {"id": kpi.plan_id, "title": doc.plan_title} if kpi.plan_id else None,
        "figures": figures_dict(kpi.figures),
        "verdicts": [_verdict_dict(v) for v in kpi.verdicts],
        "breakdowns": {
            dimension: [{"key": g.key, "label": g.label, "figures": figures_dict(g.figures)} for g in groups]
            for dimension, groups in kpi.breakdowns.items()
        },
        "trend": [{"day": day, "figures": figures_dict(f)} for day, f in kpi.trend],
        "worst": [_camera_dict(c) for c in kpi.worst],
        "work_orders": {
            "by_unit_and_fault": [_orders_dict(s) for s in doc.orders.rows],
            "by_fault": [_orders_dict(s) for s in doc.orders.by_fault],
            "by_unit": [_orders_dict(s) for s in doc.orders.by_unit],
            "total": _orders_dict(doc.orders.total),
        },
    }
