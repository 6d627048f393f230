"""Picture diagnosis and fault work orders: latest VQD per camera, the failed frame, orders and their handling."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from tianyan.api.deps import CurrentPlatform, CurrentPrincipal, DbSession, client_address
from tianyan.app.platform import Platform
from tianyan.core import gbid
from tianyan.core.errors import NotFound, TianyanError
from tianyan.health import queries, workorders
from tianyan.health.models import VqdLatest, VqdSetting
from tianyan.health.paths import health_dir
from tianyan.health.reports import periods
from tianyan.security import audit
from tianyan.security.roles import Permission

router = APIRouter(tags=["health"])


class HealthUnavailable(TianyanError):
    title = "Health worker not running here"
    status = 503


def _health(platform: Platform):  # type: ignore[no-untyped-def]
    if platform.health is None:
        raise HealthUnavailable("this node does not run the health role; ask the node that does")
    return platform.health


def _jpeg(platform: Platform, name: str | None) -> FileResponse:
    root = health_dir(platform.config.server.data_dir)
    path = (root / name).resolve() if name else None
    if path is None or not path.is_file() or root.resolve() not in path.parents:
        raise NotFound("no picture kept for this")
    return FileResponse(Path(path), media_type="image/jpeg")


@router.get("/cameras/{gb_id}/vqd")
async def camera_vqd(gb_id: str, principal: CurrentPrincipal, session: DbSession) -> dict[str, Any]:
    """The camera's latest diagnosis (scores of every check, faults) and its diagnosis settings."""
    principal.require(Permission.HEALTH_READ)
    camera = await queries.scoped_camera(session, principal, gbid.parse(gb_id).value)
    latest = await session.get(VqdLatest, camera.id)
    setting = await session.get(VqdSetting, camera.id)
    return {"camera_gb_id": camera.gb_id, **queries.latest_dict(latest), "settings": queries.settings_dict(setting)}


@router.get("/cameras/{gb_id}/vqd/frame", response_class=FileResponse)
async def camera_vqd_frame(gb_id: str, principal: CurrentPrincipal, session: DbSession, platform: CurrentPlatform):
    """The picture the latest faulty diagnosis looked at (JPEG); 404 when the latest diagnosis was fault-free."""
    principal.require(Permission.HEALTH_READ)
    camera = await queries.scoped_camera(session, principal, gbid.parse(gb_id).value)
    latest = await session.get(VqdLatest, camera.id)
    return _jpeg(platform, latest.frame_path if latest is not None else None)


@router.get("/cameras/{gb_id}/vqd/reference", response_class=FileResponse)
async def camera_vqd_reference(gb_id: str, principal: CurrentPrincipal, session: DbSession, platform: CurrentPlatform):
    """The approved picture of the scene that scene-change and occlusion checks compare with (JPEG)."""
    principal.require(Permission.HEALTH_READ)
    camera = await queries.scoped_camera(session, principal, gbid.parse(gb_id).value)
    setting = await session.get(VqdSetting, camera.id)
    return _jpeg(platform, setting.reference_path if setting is not None else None)


class VqdSettingsIn(BaseModel):
    enabled: bool = True
    thresholds: dict[str, dict[str, Any]] = Field(default_factory=dict)
    ptz_check: bool = False
    # Forget the reference picture: the next healthy picture becomes the new one (the camera was re-aimed).
    reset_reference: bool = False


@router.put("/cameras/{gb_id}/vqd/settings")
async def put_vqd_settings(
    gb_id: str, body: VqdSettingsIn, request: Request, principal: CurrentPrincipal, session: DbSession,
    platform: CurrentPlatform,
) -> dict[str, Any]:  # fmt: skip
    """Tune a camera's diagnosis: thresholds per check ({"too_dark": {"threshold": 20}}), disable checks or all."""
    principal.require(Permission.WORK_ORDER_WRITE)
    camera = await queries.scoped_camera(session, principal, gbid.parse(gb_id).value)
    from tianyan.health.vqd.thresholds import Thresholds  # OpenCV loads only when someone tunes a camera

    Thresholds.from_overrides(body.thresholds)  # refuses unknown checks and bad values before anything is stored
    setting = await session.get(VqdSetting, camera.id)
    if setting is None:
        setting = VqdSetting(camera_id=camera.id)
        session.add(setting)
    setting.enabled, setting.thresholds, setting.ptz_check = body.enabled, body.thresholds, body.ptz_check
    if body.reset_reference:
        setting.reference_path, setting.reference_at = None, None
    await audit.record(
        session, actor=principal.username, action="vqd.settings", target=f"camera:{camera.gb_id}",
        source=client_address(request), detail=body.model_dump(), clock=platform.clock,
    )  # fmt: skip
    return queries.settings_dict(setting)


@router.post("/cameras/{gb_id}/vqd/run")
async def run_vqd(gb_id: str, principal: CurrentPrincipal, session: DbSession, platform: CurrentPlatform):
    """Diagnose the camera now and answer with the result (takes a few seconds: it decodes live pictures)."""
    principal.require(Permission.HEALTH_READ)
    camera = await queries.scoped_camera(session, principal, gbid.parse(gb_id).value)
    health = _health(platform)
    # The diagnosis writes in its own transaction; ours only read, so end it before the wait.
    await session.commit()
    latest = await health.vqd.diagnose_camera(camera.id)
    if latest is None:
        raise NotFound(f"diagnosis is disabled for camera {camera.gb_id}")
    return {"camera_gb_id": camera.gb_id, **queries.latest_dict(latest)}


@router.get("/vqd/failures")
async def vqd_failures(
    principal: CurrentPrincipal, session: DbSession,
    fault: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:  # fmt: skip
    """Cameras in your scope whose latest picture failed diagnosis, most recent first."""
    return await queries.failing_cameras(session, principal, fault=fault, limit=limit)


class OrderPage(BaseModel):
    items: list[dict[str, Any]]
    total: int


@router.get("/work-orders", response_model=OrderPage)
async def list_work_orders(
    principal: CurrentPrincipal, session: DbSession,
    status: Annotated[str | None, Query(description="open, resolved, closed or unclosed")] = None,
    fault: Annotated[str | None, Query(description="offline, vqd or retention")] = None,
    unit: Annotated[int | None, Query(description="maintaining unit (organisation id)")] = None,
    camera: Annotated[str | None, Query(description="camera GB ID")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
):  # fmt: skip
    views, total = await queries.list_orders(
        session, principal, status=status, fault=fault, unit_id=unit, camera_gb_id=camera, limit=limit, offset=offset
    )
    return OrderPage(items=[v.as_dict() for v in views], total=total)


@router.get("/work-orders/stats")
async def work_order_stats(
    principal: CurrentPrincipal, session: DbSession, platform: CurrentPlatform,
    start: Annotated[
        str | None, Query(alias="from", description="YYYY-MM-DD or YYYY-MM-DDTHH:MM, local time (default: 30 days ago)")
    ] = None,
    end: Annotated[str | None, Query(alias="to", description="YYYY-MM-DD (that day included) or a time")] = None,
) -> dict[str, Any]:  # fmt: skip
    """Work orders of the cameras in your scope: opened and closed in the period, open now, and MTTR (fault began
    to order closed), per fault kind and per maintaining unit (with its id, for `GET /work-orders?unit=`)."""
    now = platform.clock.now()
    return await queries.order_summary(session, principal, period=periods.report_period(start, end, now=now), now=now)


@router.get("/work-orders/{order_id}")
async def get_work_order(order_id: int, principal: CurrentPrincipal, session: DbSession) -> dict[str, Any]:
    return (await queries.get_order(session, principal, order_id)).as_dict()


@router.get("/work-orders/{order_id}/frame", response_class=FileResponse)
async def work_order_frame(order_id: int, principal: CurrentPrincipal, session: DbSession, platform: CurrentPlatform):
    """The diagnosed picture that is this order's evidence (JPEG)."""
    view = await queries.get_order(session, principal, order_id)
    return _jpeg(platform, queries.order_frame(view.order))


class FixIn(BaseModel):
    note: str = Field(default="", max_length=2000)


class CloseIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


@router.post("/work-orders/{order_id}/fixed")
async def report_fixed(
    order_id: int, body: FixIn, request: Request, principal: CurrentPrincipal, session: DbSession,
    platform: CurrentPlatform,
) -> dict[str, Any]:  # fmt: skip
    """A maintainer reports the fault fixed; the platform's re-check closes the order (or reopens it)."""
    principal.require(Permission.WORK_ORDER_WRITE)
    view = await queries.get_order(session, principal, order_id)
    now = platform.clock.now()
    workorders.report_fixed(view.order, user=principal.username, note=body.note, now=now)
    await audit.record(
        session, actor=principal.username, action="workorder.fixed", target=f"work_order:{order_id}",
        source=client_address(request), detail={"note": body.note}, clock=platform.clock,
    )  # fmt: skip
    if platform.health is not None and view.order.fault == workorders.VQD:
        platform.health.vqd.recheck_later(view.order.camera_id, platform.config.health.recheck_after_s)
    return view.as_dict()


@router.post("/work-orders/{order_id}/close")
async def close_work_order(
    order_id: int, body: CloseIn, request: Request, principal: CurrentPrincipal, session: DbSession,
    platform: CurrentPlatform,
) -> dict[str, Any]:  # fmt: skip
    """Close without waiting for a re-check (camera removed, fault accepted); the reason is kept and audited."""
    principal.require(Permission.WORK_ORDER_WRITE)
    view = await queries.get_order(session, principal, order_id)
    event = workorders.close_by_hand(view.order, user=principal.username, reason=body.reason, now=platform.clock.now())
    await audit.record(
        session, actor=principal.username, action="workorder.close", target=f"work_order:{order_id}",
        source=client_address(request), reason=body.reason, clock=platform.clock,
    )  # fmt: skip
    await session.flush()
    await platform.bus.publish(event)
    return view.as_dict()
