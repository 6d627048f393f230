"""Signaling as the API sees it: devices with their live state and channels, scoped; credentials; positions, alarms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core import gbid
from tianyan.core.errors import NotFound
from tianyan.gb28181.directory import ha1_for
from tianyan.gb28181.models import DeviceAlarm, DeviceCredential, MobilePosition, SipRegistration
from tianyan.registry.devices import scoped_device
from tianyan.registry.models import Camera, Device, Region
from tianyan.security import audit
from tianyan.security.roles import Permission
from tianyan.security.scope import Principal, camera_clause, device_clause


@dataclass(frozen=True)
class DeviceState:
    gb_id: str
    name: str
    type_code: str
    type_name: str
    region: str | None
    approval: str
    enabled: bool
    online: bool
    online_changed_at: datetime | None
    transport: str | None
    address: str | None
    user_agent: str | None
    registered_until: datetime | None
    last_keepalive_at: datetime | None
    manufacturer: str | None
    model: str | None
    firmware: str | None
    channels: int
    channels_online: int
    own_password: bool


@dataclass(frozen=True)
class ChannelState:
    gb_id: str
    name: str
    cls: int
    network: str
    kind: str
    online: bool
    channel_status: str | None
    ptz_type: int | None
    latitude: float | None
    longitude: float | None
    address: str | None


def _device_view() -> Select[Any]:
    channels = select(func.count(Camera.id)).where(Camera.device_id == Device.id).scalar_subquery()
    online = (
        select(func.count(Camera.id)).where(Camera.device_id == Device.id, Camera.online.is_(True)).scalar_subquery()
    )
    has_password = select(DeviceCredential.device_id).where(DeviceCredential.device_id == Device.id).exists()
    return (
        select(Device, Region.code, SipRegistration, channels, online, has_password)
        .outerjoin(Region, Device.region_id == Region.id)
        .outerjoin(SipRegistration, SipRegistration.device_id == Device.id)
    )


def _state(row: Any) -> DeviceState:
    device, region_code, registration, channels, channels_online, own_password = row
    return DeviceState(
        gb_id=device.gb_id,
        name=device.name,
        type_code=device.type_code,
        type_name=gbid.TYPES.get(device.type_code, "扩展类型"),
        region=region_code,
        approval=device.approval,
        enabled=device.enabled,
        online=device.online,
        online_changed_at=device.online_changed_at,
        transport=registration.transport if registration else None,
        address=f"{registration.host}:{registration.port}" if registration else None,
        user_agent=registration.user_agent if registration else None,
        registered_until=registration.expires_at if registration else None,
        last_keepalive_at=registration.last_keepalive_at if registration else None,
        manufacturer=device.manufacturer,
        model=device.model,
        firmware=device.firmware,
        channels=int(channels or 0),
        channels_online=int(channels_online or 0),
        own_password=bool(own_password),
    )


async def list_devices(
    session: AsyncSession,
    *,
    principal: Principal,
    approval: str | None = None,
    online: bool | None = None,
    q: str | None = None,
    after: int = 0,
    limit: int = 100,
) -> tuple[list[DeviceState], int | None]:
    """Devices in the principal's regions with their live state, keyset-paginated by id."""
    principal.require(Permission.CAMERA_READ)
    query = _device_view().where(device_clause(principal), Device.id > after)
    if approval:
        query = query.where(Device.approval == approval)
    if online is not None:
        query = query.where(Device.online.is_(online))
    if q:
        query = query.where(Device.gb_id.startswith(q, autoescape=True) | Device.name.contains(q, autoescape=True))
    rows = (await session.execute(query.order_by(Device.id).limit(limit + 1))).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return [_state(row) for row in rows], (rows[-1][0].id if more and rows else None)


async def get_device(session: AsyncSession, *, principal: Principal, gb_id: str) -> DeviceState:
    principal.require(Permission.CAMERA_READ)
    device = await scoped_device(session, principal=principal, gb_id=gb_id)
    return _state((await session.execute(_device_view().where(Device.id == device.id))).one())


async def list_channels(session: AsyncSession, *, principal: Principal, gb_id: str) -> list[ChannelState]:
    """The device's channels the principal may see (the camera scope applies channel by channel)."""
    principal.require(Permission.CAMERA_READ)
    device = await scoped_device(session, principal=principal, gb_id=gb_id)
    cameras = await session.execute(
        select(Camera).where(Camera.device_id == device.id, camera_clause(principal)).order_by(Camera.gb_id)
    )
    return [
        ChannelState(
            c.gb_id,
            c.name,
            c.cls,
            c.network,
            c.kind,
            c.online,
            c.channel_status,
            c.ptz_type,
            c.latitude,
            c.longitude,
            c.address,
        )
        for c in cameras.scalars()
    ]


async def scoped_camera(session: AsyncSession, *, principal: Principal, gb_id: str) -> tuple[Camera, Device]:
    """A camera in scope together with the device it is a channel of."""
    row = (
        await session.execute(
            select(Camera, Device)
            .join(Device, Camera.device_id == Device.id)
            .where(Camera.gb_id == gb_id, camera_clause(principal))
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"no camera {gb_id} on a GB/T 28181 device in your scope")
    return row[0], row[1]


async def set_password(
    session: AsyncSession, *, principal: Principal, gb_id: str, password: str, realm: str, now: datetime
) -> None:
    """A device's own digest password, stored only as HA1 digests for the platform's realm."""
    principal.require(Permission.DEVICE_WRITE)
    device = await scoped_device(session, principal=principal, gb_id=gb_id)
    stored = ha1_for(gb_id, realm, password)
    credential = await session.get(DeviceCredential, device.id)
    if credential is None:
        session.add(
            DeviceCredential(
                device_id=device.id, realm=realm, ha1_md5=stored.md5, ha1_sha256=stored.sha256, updated_at=now
            )
        )
    else:
        credential.realm, credential.ha1_md5, credential.ha1_sha256 = realm, stored.md5, stored.sha256
        credential.updated_at = now
    await audit.record(
        session, actor=principal.username, source=principal.source, action="device.password", target=f"device:{gb_id}"
    )


async def positions(
    session: AsyncSession, *, principal: Principal, gb_id: str, since: datetime | None = None, limit: int = 500
) -> list[MobilePosition]:
    principal.require(Permission.CAMERA_READ)
    device = await scoped_device(session, principal=principal, gb_id=gb_id)
    query = select(MobilePosition).where(MobilePosition.device_id == device.id)
    if since is not None:
        query = query.where(MobilePosition.at >= since)
    rows = await session.execute(query.order_by(MobilePosition.at.desc()).limit(limit))
    return list(rows.scalars())


async def alarms(
    session: AsyncSession, *, principal: Principal, since: datetime | None = None, limit: int = 200
) -> list[tuple[DeviceAlarm, str]]:
    """Alarm notifications from devices in the principal's regions, newest first."""
    principal.require(Permission.CAMERA_READ)
    query = (
        select(DeviceAlarm, Device.gb_id)
        .join(Device, DeviceAlarm.device_id == Device.id)
        .where(device_clause(principal))
    )
    if since is not None:
        query = query.where(DeviceAlarm.received_at >= since)
    rows = await session.execute(query.order_by(DeviceAlarm.id.desc()).limit(limit))
    return [(alarm, device_gb) for alarm, device_gb in rows.tuples()]
