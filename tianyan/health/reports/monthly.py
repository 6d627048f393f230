"""The monthly report: one calendar month over the whole scope (or one region), broken down by district and
industry sector, with the daily trend, the worst cameras and the work-order statistics."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.health.kpi.model import BY_DISTRICT, BY_SECTOR
from tianyan.health.reports.criteria import Criteria
from tianyan.health.reports.document import KpiDocument, kpi_document
from tianyan.health.reports.periods import month_period
from tianyan.planning.catalogue import Plan
from tianyan.security.scope import Principal

BREAKDOWNS = (BY_DISTRICT, BY_SECTOR)
WORST = 20


def monthly_title(month: str) -> str:
    year, number = month.strip().split("-")
    return f"视频监控系统运行月报 {year}年{int(number)}月 · Monthly report {year}-{number}"


async def monthly_document(
    session: AsyncSession,
    *,
    month: str,
    region: str | None,
    principal: Principal,
    plan: Plan | None,
    now: datetime,
) -> KpiDocument:
    """The report of `month` (YYYY-MM, local time); a month still running is measured up to `now`."""
    period = month_period(month, now=now)
    return await kpi_document(
        session,
        criteria=Criteria(region=region),
        period=period,
        principal=principal,
        plan=plan,
        now=now,
        worst=WORST,
        breakdowns=BREAKDOWNS,
        trend=True,
        title=monthly_title(month),
    )
