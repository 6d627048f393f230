"""Cameras: list (scoped, searchable, paginated), read, create, change, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from tianyan.api.deps import CurrentPrincipal, DbSession
from tianyan.core import gbid
from tianyan.registry import service
from tianyan.registry.schemas import CameraIn, CameraOut, CameraPatch

router = APIRouter(tags=["cameras"])


class CameraPageOut(BaseModel):
    items: list[CameraOut]
    total: int
    next_after: int | None


@router.get("/cameras", response_model=CameraPageOut)
async def list_cameras(
    principal: CurrentPrincipal,
    session: DbSession,
    q: Annotated[str | None, Query(max_length=100, description="name, GB ID prefix, address or label")] = None,
    region: Annotated[str | None, Query(description="region code; includes its whole subtree")] = None,
    cls: Annotated[int | None, Query(alias="class", ge=1, le=3)] = None,
    network: Annotated[str | None, Query(pattern="^(police|social|local)$")] = None,
    kind: str | None = None,
    sector: str | None = None,
    hd: bool | None = None,
    after: Annotated[int, Query(ge=0, description="cursor: the next_after of the previous page")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
):
    where = service.CameraFilter(q=q, region=region, cls=cls, network=network, kind=kind, sector=sector, hd=hd)
    page = await service.list_cameras(session, principal=principal, where=where, after=after, limit=limit)
    return CameraPageOut(items=page.items, total=page.total, next_after=page.next_after)


@router.get("/cameras/{gb_id}", response_model=CameraOut)
async def get_camera(gb_id: str, principal: CurrentPrincipal, session: DbSession):
    return await service.get_camera(session, principal=principal, gb_id=gbid.parse(gb_id).value)


@router.post("/cameras", response_model=CameraOut, status_code=201)
async def create_camera(body: CameraIn, principal: CurrentPrincipal, session: DbSession):
    return await service.create_camera(session, principal=principal, data=body)


@router.patch("/cameras/{gb_id}", response_model=CameraOut)
async def update_camera(gb_id: str, body: CameraPatch, principal: CurrentPrincipal, session: DbSession):
    return await service.update_camera(session, principal=principal, gb_id=gbid.parse(gb_id).value, patch=body)


@router.delete("/cameras/{gb_id}", status_code=204)
async def delete_camera(
    gb_id: str,
    principal: CurrentPrincipal,
    session: DbSession,
    reason: Annotated[str | None, Query(max_length=500)] = None,
) -> None:
    await service.delete_camera(session, principal=principal, gb_id=gbid.parse(gb_id).value, reason=reason)
