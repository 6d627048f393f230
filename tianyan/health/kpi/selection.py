"""A CameraSet resolved against the registry inside the caller's scope, copied with what the KPIs need into the
workspace's camera table (one INSERT ... SELECT; the scope is a WHERE clause, never a filter afterwards)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    and_,
    case,
    cast,
    func,
    insert,
    literal,
    literal_column,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core.errors import InvalidInput, NotFound
from tianyan.db.base import UtcDateTime
from tianyan.health.kpi.backend import run
from tianyan.health.kpi.model import CameraSet
from tianyan.health.kpi.workspace import Workspace
from tianyan.health.models import VqdEvent
from tianyan.registry import rules as registry_rules
from tianyan.registry.models import AvailabilityTransition, Camera, Organisation, Region
from tianyan.security.scope import Principal, camera_clause


@dataclass(frozen=True)
class Resolved:
    """The WHERE clauses of a selection and, when it names one region, that region (for breakdowns by place)."""

    clauses: tuple[ColumnElement[bool], ...]
    region: Region | None


async def _organisation(session: AsyncSession, org_id: int, kind: str, what: str) -> Organisation:
    found = await session.get(Organisation, org_id)
    if found is None or found.kind != kind:
        raise NotFound(f"no {what} with id {org_id}")
    return found


async def resolve(session: AsyncSession, selection: CameraSet, principal: Principal) -> Resolved:
    """The clauses for `selection`; NotFound for a region, sector, unit or camera that does not exist."""
    clauses: list[ColumnElement[bool]] = [camera_clause(principal)]
    region = None
    if selection.region_code is not None:
        region = (await session.execute(select(Region).where(Region.code == selection.region_code))).scalar()
        if region is None:
            raise NotFound(f"no region with code {selection.region_code!r}")
        clauses.append(Camera.region_id.in_(select(Region.id).where(Region.path.startswith(region.path))))
    if selection.cls is not None:
        if selection.cls not in registry_rules.CLASSES:
            raise InvalidInput(f"class must be one of 1, 2, 3, not {selection.cls}")
        clauses.append(Camera.cls == selection.cls)
    if selection.network is not None:
        if selection.network not in registry_rules.NETWORKS:
            known = ", ".join(registry_rules.NETWORKS)
            raise InvalidInput(f"network must be one of {known}, not {selection.network!r}")
        clauses.append(Camera.network == selection.network)
    if selection.sector_id is not None:
        await _organisation(session, selection.sector_id, "sector", "industry sector")
        clauses.append(Camera.sector_id == selection.sector_id)
    if selection.owning_unit_id is not None:
        await _organisation(session, selection.owning_unit_id, "owning_unit", "owning unit")
        clauses.append(Camera.owning_unit_id == selection.owning_unit_id)
    if selection.camera_id is not None:
        # A camera outside the caller's scope is reported like one that does not exist.
        visible = select(Camera.id).where(Camera.id == selection.camera_id, camera_clause(principal))
        if (await session.execute(visible)).scalar() is None:
            raise NotFound(f"no camera with id {selection.camera_id} in your scope")
        clauses.append(Camera.id == selection.camera_id)
    return Resolved(tuple(clauses), region)


def _stream_meets(width: int, height: int) -> ColumnElement[int]:
    """1 when the main stream reaches width x height at 25 fps or more; unknown formats never do."""
    meets = and_(Camera.main_width >= width, Camera.main_height >= height, Camera.main_fps >= registry_rules.MIN_FPS)
    return case((meets, 1), else_=0)


async def fill_cameras(space: Workspace, clauses: tuple[ColumnElement[bool], ...]) -> int:
    """Copy the selected cameras that exist before the end into the workspace; returns how many.

    A camera counts from the later of the period start and its creation, in the state its last transition at
    or before that moment left it (offline with none), with the verdict of its last diagnosis then (NULL while
    undiagnosed). Two index lookups per camera; a third, for when it was first diagnosed, only for the cameras
    undiagnosed when they start counting.
    """
    frame, backend = space.frame, space.backend
    start = literal(frame.start, UtcDateTime())
    end = literal(frame.end, UtcDateTime())
    counts_from = case((Camera.created_at > start, Camera.created_at), else_=start)
    created_ms = literal_column(backend.millis("cameras.created_at", frame.origin))
    start_ms = case((Camera.created_at > start, created_ms), else_=literal(frame.start_ms, BigInteger()))
    transition = AvailabilityTransition
    online0 = (
        select(cast(transition.online, Integer))
        .where(transition.camera_id == Camera.id, transition.at <= counts_from)
        .order_by(transition.at.desc(), transition.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    ok0 = (
        select(cast(VqdEvent.ok, Integer))
        .where(VqdEvent.camera_id == Camera.id, VqdEvent.at <= counts_from)
        .order_by(VqdEvent.at.desc(), VqdEvent.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = select(
        Camera.id,
        counts_from,
        start_ms,
        Camera.cls,
        Camera.network,
        Camera.region_id,
        Camera.sector_id,
        Camera.owning_unit_id,
        case((Camera.networked, 1), else_=0),
        _stream_meets(registry_rules.HD_MIN_WIDTH, registry_rules.HD_MIN_HEIGHT),
        _stream_meets(registry_rules.SD_MIN_WIDTH, registry_rules.SD_MIN_HEIGHT),
        literal_column(backend.day_number("cameras.install_date")),
        func.coalesce(online0, 0),
        ok0,
    ).where(Camera.created_at < end, *clauses)
    cameras = space.cameras
    columns = [c.name for c in cameras.columns if c.name != "diagnosed_ms"]
    await space.session.execute(insert(cameras).from_select(columns, rows))
    first = backend.millis("MIN(v.at)", frame.origin)
    diagnosed = f"""
    UPDATE {cameras.name} SET diagnosed_ms = (
        SELECT {first} FROM vqd_events v
        WHERE v.camera_id = {cameras.name}.id AND v.at > {cameras.name}.start_at AND v.at < :end)
    WHERE ok0 IS NULL"""
    await run(space.session, diagnosed, end=frame.end)
    await space.analyse(cameras)
    return int((await space.session.execute(select(func.count()).select_from(cameras))).scalar_one())
