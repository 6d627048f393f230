"""GB/T 28181 devices as operators use them: live state, channels, catalog refresh, PTZ, controls, recordings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from tianyan.api.deps import CurrentPlatform, CurrentPrincipal, DbSession
from tianyan.app.platform import Platform
from tianyan.core import gbid
from tianyan.core.errors import InvalidInput, Unavailable
from tianyan.gb28181 import control, service
from tianyan.gb28181.manscdp.device_info import DeviceInfoQuery, DeviceInfoResponse
from tianyan.gb28181.manscdp.device_status import DeviceStatusQuery, DeviceStatusResponse
from tianyan.gb28181.manscdp.preset import PresetQuery, PresetQueryResponse
from tianyan.gb28181.manscdp.record_info import RecordInfoQuery
from tianyan.gb28181.server import SipServer
from tianyan.security import audit
from tianyan.security.roles import Permission

router = APIRouter(tags=["devices"])


def _sip(platform: Platform) -> SipServer:
    if platform.sip is None:
        raise Unavailable("the GB/T 28181 SIP server does not run on this node (start it with --role sip)")
    return platform.sip


# The service's dataclass is the response shape: live state, as the database has it.
DeviceStateOut = service.DeviceState


class DeviceStatePage(BaseModel):
    items: list[DeviceStateOut]
    next_after: int | None


class ChannelOut(BaseModel):
    gb_id: str
    name: str
    cls: int = Field(serialization_alias="class")
    network: str
    kind: str
    online: bool
    channel_status: str | None
    ptz_type: int | None
    latitude: float | None
    longitude: float | None
    address: str | None


@router.get("/devices", response_model=DeviceStatePage)
async def list_devices(
    principal: CurrentPrincipal,
    session: DbSession,
    approval: Annotated[str | None, Query(pattern="^(approved|pending|rejected)$")] = None,
    online: bool | None = None,
    q: Annotated[str | None, Query(max_length=64, description="GB ID prefix or part of the name")] = None,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
):
    """Devices in your regions with online state, last keepalive, transport and address."""
    items, next_after = await service.list_devices(
        session, principal=principal, approval=approval, online=online, q=q, after=after, limit=limit
    )
    return DeviceStatePage(items=items, next_after=next_after)


@router.get("/devices/{gb_id}", response_model=DeviceStateOut)
async def get_device(gb_id: str, principal: CurrentPrincipal, session: DbSession):
    return await service.get_device(session, principal=principal, gb_id=gbid.parse(gb_id).value)


@router.get("/devices/{gb_id}/channels", response_model=list[ChannelOut], response_model_by_alias=True)
async def list_channels(gb_id: str, principal: CurrentPrincipal, session: DbSession):
    channels = await service.list_channels(session, principal=principal, gb_id=gbid.parse(gb_id).value)
    return [ChannelOut(**vars(c)) for c in channels]


class CatalogRefreshOut(BaseModel):
    added: list[str]
    updated: list[str]
    removed: list[str]
    skipped: int


@router.post("/devices/{gb_id}/catalog", response_model=CatalogRefreshOut)
async def refresh_catalog(gb_id: str, principal: CurrentPrincipal, session: DbSession, platform: CurrentPlatform):
    """Ask the device for its catalog now and apply it to the registry."""
    principal.require(Permission.DEVICE_WRITE)
    device = await service.scoped_device(session, principal=principal, gb_id=gbid.parse(gb_id).value)
    sip = _sip(platform)
    binding = sip.binding_for(device.id, device.gb_id)
    await session.commit()  # the query takes seconds; hold no transaction open meanwhile
    changes = await sip.sync_catalog(binding)
    await audit.record(
        session,
        actor=principal.username,
        source=principal.source,
        action="device.catalog",
        target=f"device:{device.gb_id}",
        detail={"added": len(changes.added), "updated": len(changes.updated), "removed": len(changes.removed)},
    )
    return CatalogRefreshOut(
        added=changes.added, updated=changes.updated, removed=changes.removed, skipped=changes.skipped
    )


class PasswordIn(BaseModel):
    password: str = Field(min_length=4, max_length=64)


@router.put("/devices/{gb_id}/password", status_code=204)
async def set_device_password(
    gb_id: str, body: PasswordIn, principal: CurrentPrincipal, session: DbSession, platform: CurrentPlatform
) -> None:
    """The device's own digest password (kept as HA1 digests only); without one the platform default applies."""
    await service.set_password(
        session,
        principal=principal,
        gb_id=gbid.parse(gb_id).value,
        password=body.password,
        realm=platform.config.sip.domain,
        now=platform.clock.now(),
    )
    if platform.sip is not None:
        platform.sip.directory.forget(gb_id)


@router.get("/devices/{gb_id}/info")
async def device_info(gb_id: str, principal: CurrentPrincipal, session: DbSession, platform: CurrentPlatform) -> Any:
    """DeviceInfo and DeviceStatus, asked of the device now."""
    principal.require(Permission.CAMERA_READ)
    device = await service.scoped_device(session, principal=principal, gb_id=gbid.parse(gb_id).value)
    sip = _sip(platform)
    binding = sip.binding_for(device.id, device.gb_id)
    await session.commit()
    info = await sip.queries.single(
        binding, DeviceInfoQuery(sn=sip.queries.next_sn(), device_id=device.gb_id), DeviceInfoResponse
    )
    status = await sip.queries.single(
        binding, DeviceStatusQuery(sn=sip.queries.next_sn(), device_id=device.gb_id), DeviceStatusResponse
    )
    return {"info": _plain(info), "status": _plain(status)}


class ControlIn(BaseModel):
    action: control.DeviceAction
    channel: str | None = Field(None, description="a channel of the device, for record/guard of one channel")


@router.post("/devices/{gb_id}/control")
async def device_control(
    gb_id: str, body: ControlIn, principal: CurrentPrincipal, session: DbSession, platform: CurrentPlatform
) -> dict[str, str]:
    """Guard/unguard, record/stop-record, reset-alarm, or reboot (teleboot) a device."""
    principal.require(Permission.DEVICE_WRITE)
    device = await service.scoped_device(session, principal=principal, gb_id=gbid.parse(gb_id).value)
    target = device.gb_id
    if body.channel:
        # The channel must be one of this device's, and a camera the caller may see.
        camera, owner = await service.scoped_camera(session, principal=principal, gb_id=gbid.parse(body.channel).value)
        if owner.id != device.id:
            raise InvalidInput(f"{camera.gb_id} is not a channel of device {device.gb_id}")
        target = camera.gb_id
    sip = _sip(platform)
    binding = sip.binding_for(device.id, device.gb_id)
    await session.commit()
    result = await control.send_device_action(sip.queries, binding, target, body.action)
    await audit.record(
        session,
        actor=principal.username,
        source=principal.source,
        action=f"device.{body.action}",
        target=f"device:{target}",
    )
    return {"result": result}


class PtzIn(BaseModel):
    action: control.PtzAction
    speed: int = Field(128, ge=1, le=255)
    preset: int | None = Field(None, ge=1, le=255)


@router.post("/cameras/{gb_id}/ptz")
async def ptz(
    gb_id: str, body: PtzIn, principal: CurrentPrincipal, session: DbSession, platform: CurrentPlatform
) -> dict[str, str]:
    """One PTZ command to the camera (direction, zoom, focus, iris, stop, presets); audited."""
    principal.require(Permission.PTZ_CONTROL)
    camera, device = await service.scoped_camera(session, principal=principal, gb_id=gbid.parse(gb_id).value)
    command = control.ptz_command(body.action, speed=body.speed, preset=body.preset)
    sip = _sip(platform)
    binding = sip.binding_for(device.id, device.gb_id)
    await session.commit()
    sent = await control.send_ptz(sip.queries, binding, camera.gb_id, command)
    await audit.record(
        session,
        actor=principal.username,
        source=principal.source,
        action=f"ptz.{body.action}",
        target=f"camera:{camera.gb_id}",
        detail={"speed": body.speed, "preset": body.preset, "ptz_cmd": sent},
    )
    return {"ptz_cmd": sent}


@router.get("/cameras/{gb_id}/presets")
async def presets(gb_id: str, principal: CurrentPrincipal, session: DbSession, platform: CurrentPlatform) -> Any:
    principal.require(Permission.PTZ_CONTROL)
    camera, device = await service.scoped_camera(session, principal=principal, gb_id=gbid.parse(gb_id).value)
    sip = _sip(platform)
    binding = sip.binding_for(device.id, device.gb_id)
    await session.commit()
    answer = await sip.queries.single(
        binding,
        PresetQuery(sn=sip.queries.next_sn(), device_id=camera.gb_id),
        PresetQueryResponse,
        answer_id=camera.gb_id,
    )
    return [{"id": p.preset_id, "name": p.name} for p in answer.presets]


class RecordingOut(BaseModel):
    channel: str
    start: datetime
    end: datetime
    name: str | None
    type: str | None
    file_path: str | None
    file_size: int | None


class RecordingsOut(BaseModel):
    items: list[RecordingOut]
    complete: bool
    problem: str | None


@router.get("/cameras/{gb_id}/device-recordings", response_model=RecordingsOut)
async def device_recordings(
    gb_id: str,
    principal: CurrentPrincipal,
    session: DbSession,
    platform: CurrentPlatform,
    start: Annotated[datetime, Query(description="with a UTC offset, e.g. 2026-11-21T08:00:00+08:00")],
    end: Annotated[datetime, Query()],
    type: Annotated[str, Query(pattern="^(all|time|alarm|manual)$")] = "all",
):
    """Recordings kept on the device (or its NVR) in a time range, as it lists them (RecordInfo)."""
    principal.require(Permission.VIDEO_PLAYBACK)
    if start.tzinfo is None or end.tzinfo is None or not start < end:
        raise InvalidInput("start and end need UTC offsets, and start must be before end")
    camera, device = await service.scoped_camera(session, principal=principal, gb_id=gbid.parse(gb_id).value)
    sip = _sip(platform)
    binding = sip.binding_for(device.id, device.gb_id)
    await session.commit()
    zone = sip.zone
    query = RecordInfoQuery(
        sn=sip.queries.next_sn(),
        device_id=camera.gb_id,
        type=type,  # type: ignore[arg-type]
        start_time=start.astimezone(zone).replace(tzinfo=None),
        end_time=end.astimezone(zone).replace(tzinfo=None),
    )
    collected = await sip.queries.record_list(binding, query, camera.gb_id)
    await audit.record(
        session,
        actor=principal.username,
        source=principal.source,
        action="video.device-records",
        target=f"camera:{camera.gb_id}",
        detail={"start": start.isoformat(), "end": end.isoformat(), "found": len(collected.items)},
    )
    items = sorted(collected.items, key=lambda r: r.start_time)
    return RecordingsOut(
        items=[
            RecordingOut(
                channel=r.device_id,
                start=r.start_time.replace(tzinfo=zone),
                end=r.end_time.replace(tzinfo=zone),
                name=r.name,
                type=r.type,
                file_path=r.file_path,
                file_size=r.file_size,
            )
            for r in items
        ],
        complete=collected.complete,
        problem=collected.problem,
    )


class PositionOut(BaseModel):
    channel: str
    at: datetime
    longitude: float
    latitude: float
    speed_kmh: float | None
    direction_deg: float | None


@router.get("/devices/{gb_id}/positions", response_model=list[PositionOut])
async def positions(
    gb_id: str,
    principal: CurrentPrincipal,
    session: DbSession,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
):
    rows = await service.positions(
        session, principal=principal, gb_id=gbid.parse(gb_id).value, since=since, limit=limit
    )
    return [
        PositionOut(
            channel=p.channel_gb_id,
            at=p.at,
            longitude=p.longitude,
            latitude=p.latitude,
            speed_kmh=p.speed_kmh,
            direction_deg=p.direction_deg,
        )
        for p in rows
    ]


class AlarmOut(BaseModel):
    device: str
    channel: str
    at: datetime
    received_at: datetime
    priority: int | None
    method: int | None
    alarm_type: int | None
    description: str | None
    longitude: float | None
    latitude: float | None


@router.get("/device-alarms", response_model=list[AlarmOut])
async def device_alarms(
    principal: CurrentPrincipal,
    session: DbSession,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
):
    """Alarm notifications devices in your regions sent, newest first."""
    rows = await service.alarms(session, principal=principal, since=since, limit=limit)
    return [
        AlarmOut(
            device=device_gb,
            channel=a.channel_gb_id,
            at=a.at,
            received_at=a.received_at,
            priority=a.priority,
            method=a.method,
            alarm_type=a.alarm_type,
            description=a.description,
            longitude=a.longitude,
            latitude=a.latitude,
        )
        for a, device_gb in rows
    ]


def _plain(body: Any) -> dict[str, Any]:
    return {key: value for key, value in vars(body).items() if key not in ("sn",)}
