"""The resource tree: regions → owning units → devices → channels, one lazily expanded level at a time.

Every count is an aggregate in SQL over the cameras the principal may see (the registry's scope clause), so a
district operator's tree holds only its district and a 100,000-camera city opens with a handful of queries.

Where cameras sit:
- a camera appears in its own region (a district or a station), under its owning unit if it has one;
- a device node groups the channels of a multi-channel device (NVR, DVR, platform); an IPC or a patrol-car camera
  is a device with one channel, which the tree shows as that channel, without a node of its own;
- empty regions (no camera the principal may see) are left out, except the roots: the principal's jurisdiction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from tianyan.core.errors import InvalidInput, NotFound
from tianyan.health.resources import nodes
from tianyan.health.resources.nodes import NodeRef, TreeNode, TreePage
from tianyan.health.resources.state import Counts, camera_node, count_columns, counts_of, scoped, scoped_channels
from tianyan.registry.models import Camera, Device, Organisation, Region
from tianyan.security.roles import Permission
from tianyan.security.scope import Principal, camera_clause

DEFAULT_PAGE = 500
MAX_PAGE = 2000


def in_scope(principal: Principal, region_path: str) -> bool:
    return principal.all_regions or any(region_path.startswith(path) for path in principal.region_paths)


def root_paths(principal: Principal) -> list[str]:
    """The tops of the principal's region subtrees (a subtree inside another one is not a second root)."""
    paths = sorted(set(principal.region_paths))
    return [p for p in paths if not any(p != other and p.startswith(other) for other in paths)]


async def root_regions(session: AsyncSession, principal: Principal) -> Sequence[Region]:
    """The tree's roots: the principal's region subtrees; for a city-wide account, the topmost region that branches
    (a province holding one city and no camera of its own is a step nobody needs to click through)."""
    query = select(Region).order_by(Region.path)
    if not principal.all_regions:
        return (await session.execute(query.where(Region.path.in_(root_paths(principal))))).scalars().all()
    roots = (await session.execute(query.where(Region.parent_id.is_(None)))).scalars().all()
    while len(roots) == 1:
        below = (await session.execute(query.where(Region.parent_id == roots[0].id))).scalars().all()
        own = scoped(principal, Camera.id).where(Camera.region_id == roots[0].id).limit(1)
        if len(below) != 1 or (await session.execute(own)).first() is not None:
            break
        roots = below
    return roots


async def _region(session: AsyncSession, principal: Principal, code: str) -> Region:
    region = (await session.execute(select(Region).where(Region.code == code))).scalar_one_or_none()
    if region is None or not in_scope(principal, region.path):
        # Outside the scope and absent read the same.
        raise NotFound(f"no region {code} in your scope")
    return region


def _region_nodes_query(
    principal: Principal, which: ColumnElement[bool], target: Any, under: str | None
) -> Select[Any]:
    """Each region `which` selects (on the alias `target`) that holds cameras, with the counts of its whole subtree.

    The cameras are counted per region first and only those few rows are rolled up the tree. The per-region counts
    are a materialised CTE: PostgreSQL, misjudging how many regions a path prefix matches, would otherwise recount
    every camera once per region.
    """
    placed = aliased(Region)
    per_region = scoped(principal, Camera.region_id.label("region_id"), *count_columns()).group_by(Camera.region_id)
    if under is not None:
        subtree = select(Region.id).where(Region.path.startswith(under, autoescape=True))
        per_region = per_region.where(Camera.region_id.in_(subtree))
    counted = per_region.cte("per_region").prefix_with("MATERIALIZED", dialect="postgresql")
    return (
        select(
            target.code,
            target.name,
            target.level,
            func.sum(counted.c.total).label("total"),
            func.sum(counted.c.online).label("online"),
            func.sum(counted.c.fault).label("fault"),
        )
        .select_from(counted)
        .join(placed, placed.id == counted.c.region_id)
        # Region codes are digits, so a path is safe as a LIKE prefix.
        .join(target, placed.path.startswith(target.path))
        .where(which)
        .group_by(target.id, target.code, target.name, target.level)
        .order_by(target.code)
    )


def _region_node(row: Any) -> TreeNode:
    return TreeNode(
        id=nodes.region_id(row.code), type="region", name=row.name, leaf=False, code=row.code, level=row.level,
        counts=counts_of(row),
    )  # fmt: skip


async def _root_page(session: AsyncSession, principal: Principal) -> TreePage:
    roots = await root_regions(session, principal)
    target = aliased(Region)
    query = _region_nodes_query(principal, target.id.in_([r.id for r in roots]), target, None)
    counted = {row.code: _region_node(row) for row in (await session.execute(query)).all()}
    # A root without a camera in scope still shows: it is the principal's jurisdiction.
    empty = Counts(total=0, online=0, fault=0)
    items = [
        counted.get(r.code)
        or TreeNode(id=nodes.region_id(r.code), type="region", name=r.name, leaf=False, code=r.code, level=r.level,
                    counts=empty)
        for r in roots
    ]  # fmt: skip
    return TreePage(node=None, items=items, offset=0, next_offset=None, total=len(items))


def _group(ref: NodeRef, region: Region) -> ColumnElement[bool]:
    """The cameras a unit node (or, with no unit, the region node itself) holds directly."""
    unit = Camera.owning_unit_id.is_(None) if ref.unit_id is None else Camera.owning_unit_id == ref.unit_id
    return and_(Camera.region_id == region.id, unit)


def _multi_channel_devices(principal: Principal, group: ColumnElement[bool]) -> Select[Any]:
    return (
        select(Camera.device_id)
        .where(group, camera_clause(principal), Camera.device_id.is_not(None))
        .group_by(Camera.device_id)
        .having(func.count(Camera.id) > 1)
    )


async def _groups(session: AsyncSession, principal: Principal, ref: NodeRef, region: Region) -> list[TreeNode]:
    """The group children of a region or unit node: sub-regions, units, multi-channel devices."""
    items: list[TreeNode] = []
    if ref.kind == "r":
        target = aliased(Region)
        query = _region_nodes_query(principal, target.parent_id == region.id, target, region.path)
        items += [_region_node(row) for row in (await session.execute(query)).all()]
        units = (
            scoped(principal, Organisation.id, Organisation.name, *count_columns())
            .join(Organisation, Organisation.id == Camera.owning_unit_id)
            .where(Camera.region_id == region.id)
            .group_by(Organisation.id, Organisation.name)
            .order_by(Organisation.name, Organisation.id)
        )
        items += [
            TreeNode(id=nodes.unit_id(region.code, row.id), type="unit", name=row.name, leaf=False,
                     counts=counts_of(row))
            for row in (await session.execute(units)).all()
        ]  # fmt: skip
    devices = (
        scoped(principal, Device.gb_id, Device.name, *count_columns())
        .join(Device, Device.id == Camera.device_id)
        .where(_group(ref, region))
        .group_by(Device.id, Device.gb_id, Device.name)
        .having(func.count(Camera.id) > 1)
        .order_by(Device.name, Device.id)
    )
    items += [
        TreeNode(id=nodes.device_id(region.code, ref.unit_id, row.gb_id), type="device", name=row.name, leaf=False,
                 code=row.gb_id, counts=counts_of(row))
        for row in (await session.execute(devices)).all()
    ]  # fmt: skip
    return items


async def _channels_clause(
    session: AsyncSession, principal: Principal, ref: NodeRef, region: Region
) -> ColumnElement[bool]:
    group = _group(ref, region)
    if ref.kind == "d":
        device = (await session.execute(select(Device.id).where(Device.gb_id == ref.device))).scalar_one_or_none()
        if device is None:
            raise NotFound(f"no device {ref.device}")
        return and_(group, Camera.device_id == device)
    single = or_(Camera.device_id.is_(None), Camera.device_id.not_in(_multi_channel_devices(principal, group)))
    return and_(group, single)


async def _check_unit(session: AsyncSession, unit_id: int) -> None:
    if (await session.execute(select(Organisation.id).where(Organisation.id == unit_id))).first() is None:
        raise NotFound(f"no owning unit {unit_id}")


async def children(
    session: AsyncSession, *, principal: Principal, node: str | None, offset: int = 0, limit: int = DEFAULT_PAGE
) -> TreePage:
    """The roots (node None) or one page of a node's children: its groups first, then its channels by name."""
    principal.require(Permission.CAMERA_READ)
    if offset < 0 or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"offset must be 0 or more and limit between 1 and {MAX_PAGE}")
    if node is None or not node.strip():
        return await _root_page(session, principal)
    ref = nodes.parse_node(node)
    region = await _region(session, principal, ref.region)
    if ref.unit_id is not None:
        await _check_unit(session, ref.unit_id)
    groups = [] if ref.kind == "d" else await _groups(session, principal, ref, region)
    channels = await _channels_clause(session, principal, ref, region)
    channel_total = (await session.execute(scoped(principal, func.count(Camera.id)).where(channels))).scalar_one()
    items = groups[offset : offset + limit]
    skip = max(0, offset - len(groups))
    room = limit - len(items)
    if room > 0 and skip < channel_total:
        page = scoped_channels(principal).where(channels).order_by(Camera.name, Camera.id)
        rows = (await session.execute(page.offset(skip).limit(room))).all()
        items += [
            TreeNode(id=nodes.camera_id(row.gb_id), type="camera", name=row.name, leaf=True, code=row.gb_id,
                     camera=camera_node(row))
            for row in rows
        ]  # fmt: skip
    total = len(groups) + channel_total
    end = offset + len(items)
    return TreePage(node=node, items=items, offset=offset, next_offset=end if end < total else None, total=total)
