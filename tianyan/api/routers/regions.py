"""Regions (the administrative tree) and organisations (police units, sectors, owning units)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from tianyan.api.deps import CurrentPrincipal, DbSession
from tianyan.registry import service
from tianyan.security import audit
from tianyan.security.roles import Permission

router = APIRouter(tags=["regions"])


class RegionOut(BaseModel):
    code: str
    name: str
    level: str
    parent: str | None
    path: str
    locally_assigned: bool


class RegionIn(BaseModel):
    code: str = Field(pattern=r"^\d{2,12}$")
    name: str = Field(min_length=1, max_length=100)
    level: str
    parent: str | None = None
    locally_assigned: bool = False


def _parent_code(path: str) -> str | None:
    parts = [p for p in path.split("/") if p]
    return parts[-2] if len(parts) > 1 else None


@router.get("/regions", response_model=list[RegionOut])
async def list_regions(
    principal: CurrentPrincipal,
    session: DbSession,
    under: Annotated[str | None, Query(description="only this region's subtree")] = None,
):
    principal.require(Permission.CAMERA_READ)
    return [
        RegionOut(
            code=r.code,
            name=r.name,
            level=r.level,
            parent=_parent_code(r.path),
            path=r.path,
            locally_assigned=r.locally_assigned,
        )
        for r in await service.list_regions(session, under=under)
    ]


@router.post("/regions", response_model=RegionOut, status_code=201)
async def add_region(body: RegionIn, principal: CurrentPrincipal, session: DbSession):
    principal.require(Permission.REGION_WRITE)
    region = await service.add_region(
        session,
        code=body.code,
        name=body.name,
        level=body.level,
        parent_code=body.parent,
        locally_assigned=body.locally_assigned,
    )
    await audit.record(
        session,
        actor=principal.username,
        source=principal.source,
        action="region.create",
        target=f"region:{body.code}",
        detail=body.model_dump(),
    )
    return RegionOut(
        code=region.code,
        name=region.name,
        level=region.level,
        parent=body.parent,
        path=region.path,
        locally_assigned=region.locally_assigned,
    )


class OrganisationOut(BaseModel):
    code: str
    kind: str
    name: str


@router.get("/organisations", response_model=list[OrganisationOut])
async def list_organisations(
    principal: CurrentPrincipal,
    session: DbSession,
    kind: Annotated[str | None, Query(pattern="^(police_unit|sector|owning_unit|maintainer)$")] = None,
):
    principal.require(Permission.CAMERA_READ)
    return [
        OrganisationOut(code=o.code, kind=o.kind, name=o.name)
        for o in await service.list_organisations(session, kind=kind)
    ]


class OrganisationIn(BaseModel):
    kind: str = Field(pattern="^(police_unit|sector|owning_unit|maintainer)$")
    code: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    region: str | None = None
    parent: str | None = None
    sector: str | None = None


@router.post("/organisations", response_model=OrganisationOut, status_code=201)
async def add_organisation(body: OrganisationIn, principal: CurrentPrincipal, session: DbSession):
    principal.require(Permission.REGION_WRITE)
    org = await service.add_organisation(
        session,
        kind=body.kind,
        code=body.code,
        name=body.name,
        region_code=body.region,
        parent_code=body.parent,
        sector_code=body.sector,
    )
    await audit.record(
        session,
        actor=principal.username,
        source=principal.source,
        action="organisation.create",
        target=f"organisation:{body.code}",
        detail=body.model_dump(exclude_none=True),
    )
    return OrganisationOut(code=org.code, kind=org.kind, name=org.name)
