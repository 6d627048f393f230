"""Construction plans: the list, one plan's document, and progress against it over the caller's scope."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from tianyan.api.deps import CurrentPlatform, CurrentPrincipal, DbSession
from tianyan.planning import catalogue, report
from tianyan.planning.progress import plan_progress
from tianyan.security.roles import Permission

router = APIRouter(tags=["plans"])


class PlanOut(BaseModel):
    id: str
    title: str
    shape: str
    origin: str
    active: bool  # the plan KPIs are judged by (config health.plan)


@router.get("/plans", response_model=list[PlanOut])
async def list_plans(principal: CurrentPrincipal, platform: CurrentPlatform):
    principal.require(Permission.PLAN_READ)
    plans = catalogue.list_plans(user_dir=catalogue.user_plans_dir(platform.config.server.data_dir))
    active = platform.config.health.plan
    return [PlanOut(id=p.id, title=p.title, shape=p.shape, origin=p.origin, active=p.id == active) for p in plans]


@router.get("/plans/{plan_id}", response_model=dict[str, Any])
async def get_plan(plan_id: str, principal: CurrentPrincipal, platform: CurrentPlatform):
    """The plan document as written (targets, milestones, requirements)."""
    principal.require(Permission.PLAN_READ)
    return catalogue.load_plan(plan_id, user_dir=catalogue.user_plans_dir(platform.config.server.data_dir)).data


@router.get(
    "/plans/{plan_id}/progress",
    responses={200: {"content": {"application/json": {}, report.XLSX_MEDIA_TYPE: {}}}},
)
async def get_progress(
    plan_id: str,
    principal: CurrentPrincipal,
    session: DbSession,
    platform: CurrentPlatform,
    at: Annotated[date | None, Query(description="the day to report on (default: today)")] = None,
    file_format: Annotated[str, Query(alias="format", pattern="^(json|xlsx)$")] = "json",
) -> Any:
    """Built vs target, HD shares, industry integration and milestones, counting only cameras in your scope."""
    principal.require(Permission.PLAN_READ)
    plan = catalogue.load_plan(plan_id, user_dir=catalogue.user_plans_dir(platform.config.server.data_dir))
    day = at or platform.clock.now().date()
    progress = await plan_progress(session, plan=plan, at=day, principal=principal)
    if file_format == "xlsx":
        name = f"plan-{plan.id}-{day.isoformat()}.xlsx"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return Response(report.as_xlsx(progress), media_type=report.XLSX_MEDIA_TYPE, headers=headers)
    return report.as_dict(progress)
