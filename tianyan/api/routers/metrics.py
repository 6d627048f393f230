"""Prometheus metrics at /metrics (outside /api/v1, where scrapers expect it)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from tianyan.api import problems
from tianyan.api.deps import CurrentPlatform
from tianyan.app.platform import Platform
from tianyan.health.metrics import NodeMetrics

router = APIRouter(tags=["meta"])


def node_metrics(app: FastAPI, platform: Platform) -> NodeMetrics:
    """The app's own metrics (created at its first scrape), reading whichever parts of the platform run now."""
    metrics: NodeMetrics | None = getattr(app.state, "metrics", None)
    if metrics is None:
        metrics = app.state.metrics = NodeMetrics(
            platform.sessions,
            sip=lambda: platform.sip,
            media=lambda: platform.media,
            vqd=lambda: platform.health.vqd.stats if platform.health is not None else None,
        )
    return metrics


def _authorised(request: Request, token: str) -> bool:
    if not token:
        return True
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, platform: CurrentPlatform) -> Response:
    if not _authorised(request, platform.config.health.metrics_token):
        response = problems.problem(
            401, "Authentication required", "send the metrics token as 'Authorization: Bearer …'", request=request
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="tianyan metrics"'
        return response
    body = await node_metrics(request.app, platform).exposition()
    return Response(body, media_type=CONTENT_TYPE_LATEST)
