"""A KPI report with what its renderers print besides the engine's figures: its title, the cameras and plan by
name, whose scope bounds it, and the work-order statistics of the same cameras and period; and the audit entry of
a report leaving the platform as a file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core.clock import Clock
from tianyan.health.kpi.engine import compute_report
from tianyan.health.kpi.model import KpiReport, Period
from tianyan.health.kpi.selection import resolve
from tianyan.health.reports.criteria import Criteria, resolve_criteria
from tianyan.health.reports.order_stats import OrderSummary, order_stats
from tianyan.planning import catalogue
from tianyan.security import audit
from tianyan.security.scope import Principal

KPI_TITLE = "视频监控系统运行指标报告 · KPI report"


@dataclass(frozen=True)
class KpiDocument:
    title: str
    scope: str  # the cameras asked for, by name
    viewer: str  # the account whose scope bounds the cameras
    plan_title: str | None
    kpi: KpiReport
    orders: OrderSummary


def active_plan(plan_id: str, data_dir: Path) -> catalogue.Plan | None:
    """The plan KPIs are judged by (config health.plan); None when it is empty. NotFound for an unknown id."""
    if not plan_id:
        return None
    return catalogue.load_plan(plan_id, user_dir=catalogue.user_plans_dir(data_dir))


async def kpi_document(
    session: AsyncSession,
    *,
    criteria: Criteria,
    period: Period,
    principal: Principal,
    plan: catalogue.Plan | None,
    now: datetime,
    worst: int = 20,
    breakdowns: Sequence[str] = (),
    trend: bool = False,
    title: str = KPI_TITLE,
) -> KpiDocument:
    selected = await resolve_criteria(session, criteria, principal)
    report = await compute_report(
        session,
        selection=selected.cameras,
        period=period,
        principal=principal,
        plan=plan,
        now=now,
        worst=worst,
        breakdowns=breakdowns,
        trend=trend,
    )
    # The engine's own selection clauses, so the orders counted are those of exactly the cameras measured.
    clauses = (await resolve(session, selected.cameras, principal)).clauses
    orders = await order_stats(session, camera_clauses=clauses, period=period, now=now)
    return KpiDocument(
        title=title,
        scope=selected.label,
        viewer=principal.username,
        plan_title=plan.title if plan is not None else None,
        kpi=report,
        orders=orders,
    )


async def record_download(
    session: AsyncSession,
    *,
    principal: Principal,
    document: KpiDocument,
    report: str,
    file_format: str,
    clock: Clock | None = None,
) -> None:
    """Audit a report leaving the platform as a file (report.export), in a write transaction of its own."""
    if session.in_transaction() and not (session.new or session.dirty or session.deleted):
        await session.commit()  # only reads so far; the audit entry opens a write transaction of its own
    kpi = document.kpi
    await audit.record(
        session,
        actor=principal.username,
        source=principal.source,
        action="report.export",
        target=f"kpi:{kpi.selection.describe()}",
        detail={
            "report": report,
            "format": file_format,
            "scope": document.scope,
            "from": kpi.period.start.isoformat(),
            "to": kpi.period.end.isoformat(),
            "plan": kpi.plan_id,
            "cameras": kpi.figures.cameras,
        },
        clock=clock,
    )
