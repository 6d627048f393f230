"""Which cameras a report is about, from the codes a person knows (region code, sector and unit codes, a GB ID) to
the ids of a CameraSet, with a line that names them for the report's cover."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core import gbid
from tianyan.core.errors import InvalidInput, NotFound
from tianyan.health.kpi.model import CameraSet
from tianyan.registry import rules as registry_rules
from tianyan.registry.models import Camera, Organisation, Region
from tianyan.security.scope import Principal, camera_clause

CLASS_LABELS = {1: "class 1 一类点", 2: "class 2 二类点", 3: "class 3 三类点"}
NETWORK_LABELS = {
    "police": "police network 公安视频专网",
    "social": "social network 社会视频专网",
    "local": "local 本地",
}


@dataclass(frozen=True)
class Criteria:
    """Filters as typed: every one given narrows the set."""

    region: str | None = None  # region code; the region and its subtree
    cls: int | None = None
    network: str | None = None
    sector: str | None = None  # the industry sector's organisation code
    unit: str | None = None  # the owning unit's organisation code
    camera: str | None = None  # GB ID


@dataclass(frozen=True)
class Selection:
    cameras: CameraSet
    label: str  # "惠城区 (441302) · class 1 一类点", or "all cameras in scope"


async def _organisation(session: AsyncSession, code: str, kind: str, what: str) -> Organisation:
    found = (
        await session.execute(select(Organisation).where(Organisation.code == code, Organisation.kind == kind))
    ).scalar()
    if found is None:
        raise NotFound(f"no {what} with code {code!r}")
    return found


async def resolve_criteria(session: AsyncSession, criteria: Criteria, principal: Principal) -> Selection:
    """The CameraSet the criteria name; NotFound for an unknown code, or a camera outside the caller's scope."""
    parts: list[str] = []
    region_code = None
    if criteria.region is not None:
        region = (await session.execute(select(Region).where(Region.code == criteria.region))).scalar()
        if region is None:
            raise NotFound(f"no region with code {criteria.region!r}")
        region_code = region.code
        parts.append(f"{region.name} ({region.code})")
    if criteria.cls is not None:
        if criteria.cls not in registry_rules.CLASSES:
            raise InvalidInput(f"class must be one of 1, 2, 3, not {criteria.cls}")
        parts.append(CLASS_LABELS[criteria.cls])
    if criteria.network is not None:
        if criteria.network not in registry_rules.NETWORKS:
            known = ", ".join(registry_rules.NETWORKS)
            raise InvalidInput(f"network must be one of {known}, not {criteria.network!r}")
        parts.append(NETWORK_LABELS[criteria.network])
    sector_id = unit_id = camera_id = None
    if criteria.sector is not None:
        sector = await _organisation(session, criteria.sector, "sector", "industry sector")
        sector_id = sector.id
        parts.append(f"sector {sector.name}")
    if criteria.unit is not None:
        unit = await _organisation(session, criteria.unit, "owning_unit", "owning unit")
        unit_id = unit.id
        parts.append(f"unit {unit.name}")
    if criteria.camera is not None:
        gb_id = gbid.parse(criteria.camera).value
        visible = select(Camera.id, Camera.name).where(Camera.gb_id == gb_id, camera_clause(principal))
        row = (await session.execute(visible)).first()
        if row is None:
            raise NotFound(f"no camera {gb_id} in your scope")
        camera_id = row.id
        parts.append(f"camera {gb_id} {row.name}")
    cameras = CameraSet(
        region_code=region_code,
        cls=criteria.cls,
        network=criteria.network,
        sector_id=sector_id,
        owning_unit_id=unit_id,
        camera_id=camera_id,
    )
    return Selection(cameras=cameras, label=" · ".join(parts) or "all cameras in scope")
