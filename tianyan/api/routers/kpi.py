"""KPI reports over the caller's scope: figures, verdicts against the active plan, monthly reports (JSON, Excel,
PDF)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from tianyan.api.deps import CurrentPlatform, CurrentPrincipal, DbSession
from tianyan.app.platform import Platform
from tianyan.core.errors import InvalidInput
from tianyan.health.kpi.model import DIMENSIONS
from tianyan.health.reports import json_out, monthly, pdf, periods, xlsx
from tianyan.health.reports.criteria import Criteria
from tianyan.health.reports.document import KpiDocument, active_plan, kpi_document, record_download
from tianyan.health.reports.recent import RecentAnswers
from tianyan.planning.catalogue import Plan
from tianyan.security.roles import Permission
from tianyan.security.scope import Principal

router = APIRouter(tags=["health"])

MEDIA_TYPES = {"xlsx": xlsx.XLSX_MEDIA_TYPE, "pdf": pdf.PDF_MEDIA_TYPE}
_SAFE = re.compile(r"[^0-9A-Za-z_-]")
# The oldest answer a caller may accept (an hour).
MAX_AGE_S = 3600
_FILES = {200: {"content": {"application/json": {}, **{media: {} for media in MEDIA_TYPES.values()}}}}


def _recent(request: Request) -> RecentAnswers[KpiDocument]:
    recent = getattr(request.app.state, "recent_kpi", None)
    if recent is None:
        recent = request.app.state.recent_kpi = RecentAnswers()
    return recent


def _plan(platform: Platform) -> Plan | None:
    return active_plan(platform.config.health.plan, platform.config.server.data_dir)


async def _file(
    document: KpiDocument,
    *,
    file_format: str,
    name: str,
    report: str,
    session: DbSession,
    principal: Principal,
    platform: Platform,
) -> Response:
    """The report as a download, audited as report.export; rendered off the event loop (a PDF takes seconds)."""
    render = xlsx.as_xlsx if file_format == "xlsx" else pdf.as_pdf
    body = await asyncio.to_thread(render, document)
    await record_download(session, principal=principal, document=document, report=report, file_format=file_format,
                          clock=platform.clock)  # fmt: skip
    headers = {"Content-Disposition": f'attachment; filename="{name}.{file_format}"'}
    return Response(body, media_type=MEDIA_TYPES[file_format], headers=headers)


@router.get("/kpi", responses=_FILES)
async def get_kpi(
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
    platform: CurrentPlatform,
    region: Annotated[str | None, Query(description="region code: the region and everything under it")] = None,
    cls: Annotated[int | None, Query(alias="class", ge=1, le=3)] = None,
    network: Annotated[str | None, Query(pattern="^(police|social|local)$")] = None,
    sector: Annotated[str | None, Query(description="industry sector's organisation code")] = None,
    unit: Annotated[str | None, Query(description="owning unit's organisation code")] = None,
    camera: Annotated[str | None, Query(description="one camera's GB ID")] = None,
    start: Annotated[
        str | None, Query(alias="from", description="YYYY-MM-DD or YYYY-MM-DDTHH:MM, local time (default: 30 days ago)")
    ] = None,
    end: Annotated[
        str | None, Query(alias="to", description="YYYY-MM-DD (that day included) or a time (default: now)")
    ] = None,
    worst: Annotated[int, Query(ge=0, le=1000)] = 20,
    breakdown: Annotated[
        list[str] | None,
        Query(description=f"repeatable: {', '.join(DIMENSIONS)} (default: none; district and sector for files)"),
    ] = None,
    trend: Annotated[bool | None, Query(description="figures per local day (default: on for files)")] = None,
    file_format: Annotated[str, Query(alias="format", pattern="^(json|xlsx|pdf)$")] = "json",
    max_age: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_AGE_S,
            description="seconds: the same question answered this recently will do (JSON only; "
            "its computed_at says when); 0 computes afresh",
        ),
    ] = 0,
) -> Any:
    """KPIs of the cameras in your scope that match the filters, over the period, judged against the active plan;
    with the worst cameras, the breakdowns asked for, the daily trend and work-order statistics. A file (xlsx, pdf)
    is a report to hand on: unless told otherwise it is broken down by district and sector, with the trend.

    A dashboard opened again passes `max_age` and gets the answer computed for the same question that long ago at
    most (a KPI over 100,000 cameras costs the database most of a second); a file is always computed afresh."""
    principal.require(Permission.PLAN_READ)
    unknown = [d for d in breakdown or () if d not in DIMENSIONS]
    if unknown:
        raise InvalidInput(f"unknown breakdown {unknown[0]!r}; choose from {', '.join(DIMENSIONS)}")
    now = platform.clock.now()
    period = periods.report_period(start, end, now=now)
    criteria = Criteria(region=region, cls=cls, network=network, sector=sector, unit=unit, camera=camera)
    is_file = file_format != "json"
    dimensions = tuple(breakdown) if breakdown else (monthly.BREAKDOWNS if is_file else ())
    plan = _plan(platform)
    with_trend = is_file if trend is None else trend

    async def compute() -> KpiDocument:
        return await kpi_document(session, criteria=criteria, period=period, principal=principal, plan=plan,
                                  now=now, worst=worst, breakdowns=dimensions, trend=with_trend)  # fmt: skip

    if is_file:
        document = await compute()
    else:
        # The whole principal (role and scope, not where it calls from): a scope changed meanwhile asks anew.
        who = replace(principal, source="")
        question = (who, criteria, start, end, plan.id if plan else None, worst, dimensions, with_trend)
        document = await _recent(request).get(question, max_age, compute)
    if file_format == "json":
        return json_out.as_dict(document)
    name = f"kpi-{periods.file_stem(period)}"
    return await _file(document, file_format=file_format, name=name, report="kpi", session=session,
                       principal=principal, platform=platform)  # fmt: skip


@router.get("/kpi/monthly", responses=_FILES)
async def get_monthly(
    principal: CurrentPrincipal,
    session: DbSession,
    platform: CurrentPlatform,
    month: Annotated[str, Query(description="YYYY-MM, local time", pattern=r"^\d{4}-\d{2}$")],
    region: Annotated[str | None, Query(description="region code (default: your whole scope)")] = None,
    file_format: Annotated[str, Query(alias="format", pattern="^(json|xlsx|pdf)$")] = "pdf",
) -> Any:
    """The monthly report: KPIs by district and sector, the daily trend, the worst cameras and work orders."""
    principal.require(Permission.PLAN_READ)
    document = await monthly.monthly_document(session, month=month, region=region, principal=principal,
                                              plan=_plan(platform), now=platform.clock.now())  # fmt: skip
    if file_format == "json":
        return json_out.as_dict(document)
    name = f"monthly-{month}" + (f"-{_SAFE.sub('', region)}" if region else "")
    return await _file(document, file_format=file_format, name=name, report="monthly", session=session,
                       principal=principal, platform=platform)  # fmt: skip
