"""The FastAPI application: routers under /api/v1, problem details, size limits, docs."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse

import tianyan
from tianyan import web
from tianyan.api import problems
from tianyan.api.limits import RequestSizeLimit
from tianyan.api.routers import (
    audit,
    auth,
    cameras,
    device_playback,
    devices,
    exports,
    gbid,
    health,
    import_jobs,
    kpi,
    live,
    map,
    metrics,
    plans,
    playback,
    recordings,
    regions,
    registry_io,
    roles,
    signaling,
    tree,
    users,
)
from tianyan.app.platform import Platform

API_PREFIX = "/api/v1"


def create_app(platform: Platform, *, extra_routers: tuple[APIRouter, ...] = ()) -> FastAPI:
    app = FastAPI(
        title="Tianyan 天眼",
        version=tianyan.__version__,
        description="City-scale public-security video surveillance platform. Errors are RFC 9457 problem details.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.platform = platform
    problems.install(app)
    api = APIRouter(prefix=API_PREFIX)
    # registry_io and import_jobs before cameras: their fixed paths (/cameras/export) must win over /cameras/{gb_id}.
    routers = (auth, registry_io, import_jobs, cameras, signaling, devices, regions, users, roles, audit, plans, gbid)
    for module in (*routers, live, playback, device_playback, recordings, exports, health, kpi, tree, map):
        api.include_router(module.router)
    for router in extra_routers:
        api.include_router(router)

    @api.get("/health", tags=["meta"])
    async def liveness() -> dict[str, str]:
        return {"status": "ok", "version": tianyan.__version__}

    app.include_router(api)
    app.include_router(metrics.router)  # /metrics, where Prometheus looks
    web.install(app)  # the player page at /player

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse(f"{API_PREFIX}/docs")

    app.add_middleware(RequestSizeLimit, max_bytes=platform.config.server.max_request_bytes)
    return app
