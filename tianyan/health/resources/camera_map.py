"""The camera map: the cameras in a view box, as single markers when few, as grid clusters counted in SQL when many;
district outlines drawn from where the cameras stand (for a map without tiles); where the map should open."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Float, Integer, and_, cast, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from tianyan.core.errors import InvalidInput
from tianyan.health.resources.state import CameraNode, camera_node, count_columns, scoped, scoped_channels
from tianyan.registry.models import Camera, Region
from tianyan.security.roles import Permission
from tianyan.security.scope import Principal

# Up to this many cameras in view are drawn one by one whatever the zoom; more are clustered on a grid, and a camera
# alone in its cell is still drawn as itself, so zooming in turns clusters into cameras.
FEW = 50
# From this zoom (a street) cameras are drawn one by one, up to MAX_MARKERS (a browser draws that many smoothly).
DETAIL_ZOOM = 17
MAX_MARKERS = 1000
# A cluster cell is about this many screen pixels wide (a 256-pixel tile spans 360 / 2^zoom degrees).
CELL_PX = 64
MIN_ZOOM, MAX_ZOOM = 0, 22
# Outlines are hulls of the occupied cells of a grid this fine (about a kilometre), not of every camera.
OUTLINE_CELL_DEG = 0.01
OUTLINE_LEVELS = ("county", "station")
# Where the map opens when nothing is configured and the user sees no camera with coordinates.
HUIZHOU = (23.11, 114.41)


@dataclass(frozen=True)
class BBox:
    west: float
    south: float
    east: float
    north: float

    def contains(self) -> ColumnElement[bool]:
        return and_(
            Camera.latitude.between(self.south, self.north),
            Camera.longitude.between(self.west, self.east),
        )


def parse_bbox(text: str) -> BBox:
    """west,south,east,north in degrees; a box wider than the world (a map zoomed far out) is cut to it."""
    parts = text.split(",")
    try:
        values = [float(part) for part in parts]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise InvalidInput(f"bbox must be four numbers west,south,east,north in degrees, got {text!r}")
    west, south, east, north = values
    if west > east or south > north:
        raise InvalidInput(f"bbox {text!r}: west must not exceed east nor south exceed north")
    return BBox(max(west, -180.0), max(south, -90.0), min(east, 180.0), min(north, 90.0))


def _extent_columns() -> tuple[Any, ...]:
    """The centroid (lat, lon) and the bounds (south, north, west, east) of the cameras aggregated."""
    return (
        func.avg(Camera.latitude).label("lat"), func.avg(Camera.longitude).label("lon"),
        func.min(Camera.latitude).label("south"), func.max(Camera.latitude).label("north"),
        func.min(Camera.longitude).label("west"), func.max(Camera.longitude).label("east"),
    )  # fmt: skip


def _bounds(row: Any) -> list[list[float]]:
    return [[row.south, row.west], [row.north, row.east]]


def cell_degrees(zoom: int) -> float:
    return 360.0 / (2**zoom) * CELL_PX / 256


def _cell(session: AsyncSession, degrees: ColumnElement[Any], offset: int, size: float) -> ColumnElement[Any]:
    """The grid index of a coordinate: floor((degrees + offset) / size), the same on both backends."""
    # The size is ours (from an integer zoom), written into the SQL so the expression GROUP BY repeats is the same.
    shifted = (cast(degrees, Float) + offset) / literal_column(repr(float(size)))
    if session.get_bind().dialect.name == "sqlite":
        return cast(shifted, Integer)  # the value is never negative, so truncation is floor
    return cast(func.floor(shifted), Integer)


class Cluster(BaseModel):
    latitude: float  # the centroid of its cameras
    longitude: float
    count: int
    online: int
    fault: int
    # [[south, west], [north, east]] of its cameras: clicking zooms there.
    bounds: list[list[float]]


class MapView(BaseModel):
    """Every camera in view (mode cameras), or clusters plus the cameras that stand alone in their cell."""

    mode: Literal["cameras", "clusters"]
    total: int
    cameras: list[CameraNode]
    clusters: list[Cluster]


async def cameras_in_view(session: AsyncSession, *, principal: Principal, bbox: BBox, zoom: int) -> MapView:
    principal.require(Permission.CAMERA_READ)
    if not MIN_ZOOM <= zoom <= MAX_ZOOM:
        raise InvalidInput(f"zoom must be between {MIN_ZOOM} and {MAX_ZOOM}")
    inside = bbox.contains()
    total = (await session.execute(scoped(principal, func.count(Camera.id)).where(inside))).scalar_one()
    if total <= FEW or (zoom >= DETAIL_ZOOM and total <= MAX_MARKERS):
        rows = (await session.execute(scoped_channels(principal).where(inside).order_by(Camera.id))).all()
        return MapView(mode="cameras", total=total, cameras=[camera_node(row) for row in rows], clusters=[])
    size = cell_degrees(zoom)
    gx = _cell(session, Camera.longitude, 180, size)
    gy = _cell(session, Camera.latitude, 90, size)
    first = func.min(Camera.id).label("first")
    query = scoped(principal, *count_columns(), *_extent_columns(), first).where(inside).group_by(gx, gy)
    clusters: list[Cluster] = []
    alone: list[int] = []
    for row in (await session.execute(query)).all():
        if row.total == 1 and len(alone) < MAX_MARKERS:
            alone.append(row.first)
            continue
        clusters.append(
            Cluster(
                latitude=row.lat,
                longitude=row.lon,
                count=row.total,
                online=int(row.online),
                fault=int(row.fault),
                bounds=_bounds(row),
            )
        )
    # A cell holding one camera shows that camera, not a cluster of one.
    singles = []
    for start in range(0, len(alone), 500):
        chunk = scoped_channels(principal).where(Camera.id.in_(alone[start : start + 500]))
        singles += [camera_node(row) for row in (await session.execute(chunk)).all()]
    return MapView(mode="clusters", total=total, cameras=singles, clusters=clusters)


# --- outlines -----------------------------------------------------------------------------------------------------


class Outline(BaseModel):
    code: str
    name: str
    count: int
    # Where to put the name: the centroid of its cameras.
    latitude: float
    longitude: float
    # The convex hull around the cells its cameras occupy, as [latitude, longitude] corners.
    hull: list[list[float]]


def _cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def convex_hull(points: set[tuple[float, float]]) -> list[tuple[float, float]]:
    """Andrew's monotone chain, counter-clockwise; fewer than three points come back as they are."""
    ordered = sorted(points)
    if len(ordered) < 3:
        return ordered
    lower: list[tuple[float, float]] = []
    upper: list[tuple[float, float]] = []
    for chain, sequence in ((lower, ordered), (upper, reversed(ordered))):
        for point in sequence:
            while len(chain) >= 2 and _cross(chain[-2], chain[-1], point) <= 0:
                chain.pop()
            chain.append(point)
    return lower[:-1] + upper[:-1]


async def outlines(session: AsyncSession, *, principal: Principal, level: str) -> list[Outline]:
    """The regions of one level that hold cameras in scope, each with the hull of where its cameras stand."""
    principal.require(Permission.CAMERA_READ)
    if level not in OUTLINE_LEVELS:
        raise InvalidInput(f"level must be one of {', '.join(OUTLINE_LEVELS)}")
    gx = _cell(session, Camera.longitude, 180, OUTLINE_CELL_DEG)
    gy = _cell(session, Camera.latitude, 90, OUTLINE_CELL_DEG)
    columns = (
        Camera.region_id.label("region_id"), gx.label("gx"), gy.label("gy"), func.count(Camera.id).label("n"),
        func.sum(Camera.latitude).label("lat"), func.sum(Camera.longitude).label("lon"),
    )  # fmt: skip
    cells = (
        scoped(principal, *columns)
        .where(Camera.latitude.is_not(None), Camera.longitude.is_not(None))
        .group_by(Camera.region_id, gx, gy)
        .subquery()
    )
    placed, outer = aliased(Region), aliased(Region)
    query = (
        select(outer.code, outer.name, cells.c.gx, cells.c.gy, cells.c.n, cells.c.lat, cells.c.lon)
        .join(placed, placed.id == cells.c.region_id)
        .join(outer, and_(placed.path.startswith(outer.path), outer.level == level))
    )
    names: dict[str, str] = {}
    points: dict[str, set[tuple[float, float]]] = defaultdict(set)
    sums: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    half = OUTLINE_CELL_DEG / 2
    for row in (await session.execute(query)).all():
        names[row.code] = row.name
        lat0, lon0 = row.gy * OUTLINE_CELL_DEG - 90, row.gx * OUTLINE_CELL_DEG - 180
        # The corners of the cell, so a region whose cameras share one cell still gets an area.
        points[row.code].update(
            (round(lat0 + dy, 6), round(lon0 + dx, 6)) for dy in (0, 2 * half) for dx in (0, 2 * half)
        )
        total = sums[row.code]
        total[0] += row.n
        total[1] += row.lat
        total[2] += row.lon
    found = []
    for code in sorted(names):
        count, lat, lon = sums[code]
        hull = [list(corner) for corner in convex_hull(points[code])]
        centre = {"latitude": lat / count, "longitude": lon / count}
        found.append(Outline(code=code, name=names[code], count=int(count), hull=hull, **centre))
    return found


# --- where the map opens --------------------------------------------------------------------------------------------


class Extent(BaseModel):
    center: list[float]  # [latitude, longitude]
    # [[south, west], [north, east]]
    bounds: list[list[float]]


async def camera_extent(session: AsyncSession, *, principal: Principal) -> Extent | None:
    """The centroid and bounds of the cameras the principal may see, or None when none has coordinates."""
    if not principal.can(Permission.CAMERA_READ):
        return None
    located = and_(Camera.latitude.is_not(None), Camera.longitude.is_not(None))
    row = (await session.execute(scoped(principal, *_extent_columns()).where(located))).one()
    if row.lat is None:
        return None
    return Extent(center=[row.lat, row.lon], bounds=_bounds(row))
