"""Devices (IPCs, DVR/NVRs, platforms, alarm panels): register, list within scope, approve enrolments."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core import gbid
from tianyan.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from tianyan.registry.models import Camera, Device, Region
from tianyan.registry.service import owning_unit_for, region_by_code
from tianyan.security import audit
from tianyan.security.roles import Permission
from tianyan.security.scope import Principal, device_clause


class DeviceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    gb_id: str
    name: str = Field(min_length=1, max_length=200)
    region: str = Field(description="code of the region the device stands in (usually its GB ID's centre code)")
    owning_unit: str | None = Field(None, max_length=200)
    manufacturer: str | None = Field(None, max_length=100)
    model: str | None = Field(None, max_length=100)
    channel_class: Literal[1, 2, 3] = Field(1, description="class of the cameras its catalog adds")
    channel_network: Literal["police", "social", "local"] = Field("police", description="and their network")

    @field_validator("gb_id")
    @classmethod
    def _gb_id(cls, value: str) -> str:
        try:
            return gbid.parse(value).value
        except InvalidInput as exc:
            raise ValueError(exc.detail) from exc


class DevicePatch(BaseModel):
    """What an administrator changes about a device; only the fields present change."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(None, min_length=1, max_length=200)
    region: str | None = None
    channel_class: Literal[1, 2, 3] | None = None
    channel_network: Literal["police", "social", "local"] | None = None
    enabled: bool | None = Field(None, description="a disabled device is refused at its next REGISTER")


class DeviceOut(BaseModel):
    gb_id: str
    name: str
    type_code: str
    type_name: str
    region: str | None
    manufacturer: str | None
    model: str | None
    approval: str
    enabled: bool
    channels: int
    created_at: datetime


def _describe(device: Device, region_code: str | None, channels: int) -> DeviceOut:
    return DeviceOut(
        gb_id=device.gb_id,
        name=device.name,
        type_code=device.type_code,
        type_name=gbid.TYPES.get(device.type_code, "扩展类型"),
        region=region_code,
        manufacturer=device.manufacturer,
        model=device.model,
        approval=device.approval,
        enabled=device.enabled,
        channels=channels,
        created_at=device.created_at,
    )


async def scoped_device(session: AsyncSession, *, principal: Principal, gb_id: str) -> Device:
    """A device in the principal's regions; out of scope and absent look the same."""
    device = (
        await session.execute(select(Device).where(Device.gb_id == gb_id, device_clause(principal)))
    ).scalar_one_or_none()
    if device is None:
        raise NotFound(f"no device {gb_id} in your scope")
    return device


async def create_device(session: AsyncSession, *, principal: Principal, data: DeviceIn) -> DeviceOut:
    principal.require(Permission.DEVICE_WRITE)
    region = await region_by_code(session, data.region)
    if not principal.all_regions and not any(region.path.startswith(p) for p in principal.region_paths):
        raise Forbidden("the device's region is outside your scope")
    if (await session.execute(select(Device.id).where(Device.gb_id == data.gb_id))).first():
        raise Conflict(f"device {data.gb_id} already exists")
    unit_id = None
    if data.owning_unit:
        unit_id = (await owning_unit_for(session, name=data.owning_unit, sector_id=None, region_id=region.id)).id
    device = Device(
        gb_id=data.gb_id,
        name=data.name,
        type_code=data.gb_id[10:13],
        region_id=region.id,
        owning_unit_id=unit_id,
        manufacturer=data.manufacturer,
        model=data.model,
        approval="approved",
        channel_class=data.channel_class,
        channel_network=data.channel_network,
    )
    session.add(device)
    await session.flush()
    await audit.record(
        session,
        actor=principal.username,
        source=principal.source,
        action="device.create",
        target=f"device:{data.gb_id}",
        detail=data.model_dump(exclude_none=True),
    )
    return _describe(device, region.code, 0)


async def update_device(session: AsyncSession, *, principal: Principal, gb_id: str, patch: DevicePatch) -> DeviceOut:
    principal.require(Permission.DEVICE_WRITE)
    device = await scoped_device(session, principal=principal, gb_id=gb_id)
    changes = patch.model_dump(exclude_unset=True)
    before = {key: getattr(device, key) for key in changes if key != "region"}
    if "region" in changes and changes["region"] is not None:
        region = await region_by_code(session, changes["region"])
        if not principal.all_regions and not any(region.path.startswith(p) for p in principal.region_paths):
            raise Forbidden("the device's new region is outside your scope")
        device.region_id = region.id
    for key, value in changes.items():
        if key != "region" and value is not None:
            setattr(device, key, value)
    await session.flush()
    await audit.record(
        session,
        actor=principal.username,
        source=principal.source,
        action="device.update",
        target=f"device:{gb_id}",
        detail={"before": before, "after": changes},
    )
    return await _describe_one(session, device)


async def _describe_one(session: AsyncSession, device: Device) -> DeviceOut:
    region = await session.get(Region, device.region_id) if device.region_id else None
    count = (await session.execute(select(func.count(Camera.id)).where(Camera.device_id == device.id))).scalar_one()
    return _describe(device, region.code if region else None, count)


async def set_approval(session: AsyncSession, *, principal: Principal, gb_id: str, approval: str) -> DeviceOut:
    """Approve or reject a device that enrolled itself (auto-enrolment puts them in 'pending')."""
    principal.require(Permission.DEVICE_APPROVE)
    if approval not in {"approved", "rejected"}:
        raise InvalidInput("approval must be 'approved' or 'rejected'")
    device = await scoped_device(session, principal=principal, gb_id=gb_id)
    before, device.approval = device.approval, approval
    await session.flush()
    await audit.record(
        session,
        actor=principal.username,
        source=principal.source,
        action=f"device.{'approve' if approval == 'approved' else 'reject'}",
        target=f"device:{gb_id}",
        detail={"before": before},
    )
    return await _describe_one(session, device)


async def delete_device(session: AsyncSession, *, principal: Principal, gb_id: str) -> None:
    principal.require(Permission.DEVICE_WRITE)
    device = await scoped_device(session, principal=principal, gb_id=gb_id)
    await session.delete(device)
    await session.flush()
    await audit.record(
        session, actor=principal.username, source=principal.source, action="device.delete", target=f"device:{gb_id}"
    )
