"""Devices: list within scope, register, approve or reject auto-enrolled ones, remove."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from tianyan.api.deps import CurrentPlatform, CurrentPrincipal, DbSession
from tianyan.core import gbid
from tianyan.registry import devices
from tianyan.registry.devices import DeviceIn, DeviceOut, DevicePatch

router = APIRouter(tags=["devices"])


class ApprovalIn(BaseModel):
    approval: Literal["approved", "rejected"]


@router.post("/devices", response_model=DeviceOut, status_code=201)
async def create_device(body: DeviceIn, principal: CurrentPrincipal, session: DbSession):
    return await devices.create_device(session, principal=principal, data=body)


@router.patch("/devices/{gb_id}", response_model=DeviceOut)
async def update_device(
    gb_id: str, body: DevicePatch, principal: CurrentPrincipal, session: DbSession, platform: CurrentPlatform
):
    """Rename, move, enable/disable a device, or set the class and network of the cameras its catalog adds."""
    updated = await devices.update_device(session, principal=principal, gb_id=gbid.parse(gb_id).value, patch=body)
    if platform.sip is not None:
        platform.sip.directory.forget(updated.gb_id)  # takes effect at its next message, not in a TTL
    return updated


@router.put("/devices/{gb_id}/approval", response_model=DeviceOut)
async def set_approval(
    gb_id: str, body: ApprovalIn, principal: CurrentPrincipal, session: DbSession, platform: CurrentPlatform
):
    decided = await devices.set_approval(
        session, principal=principal, gb_id=gbid.parse(gb_id).value, approval=body.approval
    )
    if platform.sip is not None:
        platform.sip.directory.forget(decided.gb_id)  # an approved device gets in at its next REGISTER
    return decided


@router.delete("/devices/{gb_id}", status_code=204)
async def delete_device(gb_id: str, principal: CurrentPrincipal, session: DbSession) -> None:
    await devices.delete_device(session, principal=principal, gb_id=gbid.parse(gb_id).value)
