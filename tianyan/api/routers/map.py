"""The console's camera map (cameras or clusters in a view box, district outlines) and its settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from tianyan.api.deps import CurrentPlatform, CurrentPrincipal, DbSession
from tianyan.health.resources import camera_map
from tianyan.health.resources.camera_map import MapView, Outline

router = APIRouter(tags=["map"])


@router.get("/map/cameras", response_model=MapView)
async def map_cameras(
    principal: CurrentPrincipal,
    session: DbSession,
    bbox: Annotated[str, Query(max_length=200, description="west,south,east,north in degrees (WGS 84)")],
    zoom: Annotated[int, Query(ge=camera_map.MIN_ZOOM, le=camera_map.MAX_ZOOM)],
):
    """The cameras in scope inside the box: each one when they are few (or the map is zoomed in to a street), else
    grid clusters (about 64 screen pixels a cell at this zoom) with their counts, online and faulty cameras and
    centroid, plus the cameras that stand alone in their cell."""
    box = camera_map.parse_bbox(bbox)
    return await camera_map.cameras_in_view(session, principal=principal, bbox=box, zoom=zoom)


@router.get("/map/outlines", response_model=list[Outline])
async def map_outlines(
    principal: CurrentPrincipal,
    session: DbSession,
    level: Annotated[str, Query(description="county (districts) or station")] = "county",
):
    """The regions of a level holding cameras in scope, each outlined by the hull of where its cameras stand:
    what a map without tiles shows so an operator knows which district is which."""
    return await camera_map.outlines(session, principal=principal, level=level)


class MapSettings(BaseModel):
    tiles_url: str
    attribution: str
    center: list[float]  # [latitude, longitude]
    zoom: int
    # Where `center` comes from: the configuration, the user's cameras, or the built-in default (Huizhou).
    center_from: str
    # [[south, west], [north, east]] of the user's cameras (the map fits them unless the centre is configured).
    bounds: list[list[float]] | None


class ConsoleSettings(BaseModel):
    map: MapSettings


@router.get("/console/settings", response_model=ConsoleSettings)
async def console_settings(principal: CurrentPrincipal, session: DbSession, platform: CurrentPlatform):
    """What the console needs from the configuration ([web]), for any logged-in user."""
    web = platform.config.web
    extent = await camera_map.camera_extent(session, principal=principal)
    if web.map_center:
        center, source = list(web.map_center), "config"
    elif extent is not None:
        center, source = extent.center, "cameras"
    else:
        center, source = list(camera_map.HUIZHOU), "default"
    settings = MapSettings(
        tiles_url=web.map_tiles_url.strip(),
        attribution=web.map_attribution,
        center=center,
        zoom=web.map_zoom,
        center_from=source,
        bounds=extent.bounds if extent else None,
    )
    return ConsoleSettings(map=settings)
