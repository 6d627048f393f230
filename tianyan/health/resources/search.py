"""Finding cameras for the resource tree: the registry's text match (name, GB ID prefix, address, label) within the
principal's scope, each hit with the tree nodes above it, so the console can say where it is and reveal it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from tianyan.core.errors import InvalidInput
from tianyan.health.resources import nodes
from tianyan.health.resources.nodes import PathStep, SearchHit, SearchResult
from tianyan.health.resources.state import CameraNode, camera_node, scoped, scoped_channels
from tianyan.health.resources.tree import root_regions
from tianyan.registry.models import Camera, Device, Organisation, Region
from tianyan.registry.service import CameraFilter
from tianyan.security.roles import Permission
from tianyan.security.scope import Principal

DEFAULT_HITS = 50
MAX_HITS = 200
MAX_QUERY = 100
MAX_LOOKUP = 64


def _codes(path: str) -> list[str]:
    return [code for code in path.split("/") if code]


def _visible_codes(roots: list[str], path: str) -> list[str]:
    """The region codes of `path` from the tree root above it down (the roots' paths are `roots`)."""
    codes = _codes(path)
    root = next((p for p in roots if path.startswith(p)), None)
    return codes[len(_codes(root)) - 1 :] if root else codes


async def _multi_channel(session: AsyncSession, principal: Principal, rows: list[Any]) -> set[tuple[Any, ...]]:
    """(region id, unit id, device id) groups in which a device shows as a node (more than one channel)."""
    device_ids = {row.device_id for row in rows if row.device_id is not None}
    if not device_ids:
        return set()
    query = (
        scoped(principal, Camera.region_id, Camera.owning_unit_id, Camera.device_id)
        .where(Camera.device_id.in_(device_ids))
        .group_by(Camera.region_id, Camera.owning_unit_id, Camera.device_id)
        .having(func.count(Camera.id) > 1)
    )
    return {tuple(row) for row in (await session.execute(query)).all()}


async def search(session: AsyncSession, *, principal: Principal, q: str, limit: int = DEFAULT_HITS) -> SearchResult:
    principal.require(Permission.CAMERA_READ)
    needle = q.strip()
    if not needle:
        raise InvalidInput("type part of a camera's name, GB ID, address or label to search for")
    if len(needle) > MAX_QUERY or not 1 <= limit <= MAX_HITS:
        raise InvalidInput(f"the search text is at most {MAX_QUERY} characters and limit between 1 and {MAX_HITS}")
    placed = aliased(Region)
    place = (
        Camera.region_id, Camera.owning_unit_id, Camera.device_id, placed.path.label("region_path"),
        Organisation.name.label("unit_name"), Device.gb_id.label("device_gb_id"), Device.name.label("device_name"),
    )  # fmt: skip
    query = (
        scoped_channels(principal, *place)
        .join(placed, placed.id == Camera.region_id)
        .outerjoin(Organisation, Organisation.id == Camera.owning_unit_id)
        .outerjoin(Device, Device.id == Camera.device_id)
        .where(CameraFilter(q=needle).clause())
        # An exact GB ID first, then by name.
        .order_by((Camera.gb_id == needle).desc(), Camera.name, Camera.id)
        .limit(limit + 1)
    )
    rows = list((await session.execute(query)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    codes = {code for row in rows for code in _codes(row.region_path)}
    names = dict((await session.execute(select(Region.code, Region.name).where(Region.code.in_(codes)))).all())
    multi = await _multi_channel(session, principal, rows)
    roots = [region.path for region in await root_regions(session, principal)]
    hits = []
    for row in rows:
        region_codes = _visible_codes(roots, row.region_path)
        path = [PathStep(id=nodes.region_id(code), type="region", name=names.get(code, code)) for code in region_codes]
        own = region_codes[-1]
        if row.owning_unit_id is not None:
            path.append(PathStep(id=nodes.unit_id(own, row.owning_unit_id), type="unit", name=row.unit_name))
        if (row.region_id, row.owning_unit_id, row.device_id) in multi:
            path.append(
                PathStep(id=nodes.device_id(own, row.owning_unit_id, row.device_gb_id), type="device",
                         name=row.device_name)
            )  # fmt: skip
        hits.append(SearchHit(camera=camera_node(row), path=path))
    return SearchResult(q=needle, items=hits, more=more)


class ChannelList(BaseModel):
    """The cameras asked for that exist in the caller's scope, in the order asked; the others are left out."""

    items: list[CameraNode]


async def channels(session: AsyncSession, *, principal: Principal, gb_ids: list[str]) -> ChannelList:
    """Channels by exact GB ID (a link to a wall of cameras): one indexed lookup, not a text search per camera."""
    principal.require(Permission.CAMERA_READ)
    wanted = list(dict.fromkeys(gb_ids))
    if not 1 <= len(wanted) <= MAX_LOOKUP:
        raise InvalidInput(f"ask for between 1 and {MAX_LOOKUP} GB IDs at once")
    rows = (await session.execute(scoped_channels(principal).where(Camera.gb_id.in_(wanted)))).all()
    found = {row.gb_id: camera_node(row) for row in rows}
    return ChannelList(items=[found[gb_id] for gb_id in wanted if gb_id in found])
