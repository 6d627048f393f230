"""A device's catalog applied to the registry: its video channels added, updated and removed as cameras.

The device is the authority on a channel's name, address, position, PTZ type and ON/OFF status; the registry
(imports, administrators) on its class, network, owner and sector, which a catalog never overwrites. Items that
are not video channels (alarm inputs, business groups, virtual organisations, platforms) are left out.

A channel a device no longer lists is detached from it and goes offline, not deleted: the camera's record and
its online history stay (an administrator deletes a camera on purpose). A camera another device already
carries is never taken over by a catalog: two devices claiming one GB ID is a misconfiguration to report.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core import gbid
from tianyan.gb28181.directory import KnownDevice, region_for_centre
from tianyan.gb28181.manscdp.catalog import CatalogItem
from tianyan.registry.models import AvailabilityTransition, Camera, Device, Region

log = logging.getLogger(__name__)
VIDEO_TYPES = frozenset({"131", "132"})
# GB/T 28181 A.2.1 PTZType: 1 dome, 2 half-dome, 3 fixed bullet, 4 remote-controlled bullet.
PTZ_TYPES = frozenset({1, 4})
_LENS_KINDS = frozenset({"fixed", "ptz"})


def _kind(ptz_type: int | None) -> str:
    return "ptz" if ptz_type in PTZ_TYPES else "fixed"


@dataclass
class CatalogChanges:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # channels another device already carries
    skipped: int = 0

    @property
    def any(self) -> bool:
        return bool(self.added or self.updated or self.removed)


def is_video_channel(item: CatalogItem) -> bool:
    parsed = gbid.parse(item.device_id) if gbid.is_valid(item.device_id) else None
    return parsed is not None and parsed.type_code in VIDEO_TYPES


def _position(item: CatalogItem) -> tuple[float | None, float | None]:
    # Devices that do not know where they are send 0,0 (or nothing); neither is a position.
    lat, lon = item.latitude, item.longitude
    if lat is None or lon is None or (abs(lat) < 1e-6 and abs(lon) < 1e-6):
        return None, None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None, None
    return lat, lon


class _Regions:
    def __init__(self, session: AsyncSession, device_region: int | None) -> None:
        self.session = session
        self.device_region = device_region
        self._codes: dict[str, int | None] = {}

    async def for_item(self, item: CatalogItem) -> int | None:
        if item.civil_code:
            if item.civil_code not in self._codes:
                found = await self.session.execute(select(Region.id).where(Region.code == item.civil_code))
                self._codes[item.civil_code] = found.scalar_one_or_none()
            if self._codes[item.civil_code] is not None:
                return self._codes[item.civil_code]
        if self.device_region is not None:
            return self.device_region
        return await region_for_centre(self.session, item.device_id[:8])


async def apply_items(
    session: AsyncSession,
    device: KnownDevice,
    items: Iterable[CatalogItem],
    *,
    complete: bool,
    device_online: bool,
    now: datetime,
) -> CatalogChanges:
    """Upsert the device's video channels; with a complete catalog, channels no longer in it are removed."""
    changes = CatalogChanges()
    row = (await session.execute(select(Device).where(Device.id == device.id))).scalar_one()
    regions = _Regions(session, row.region_id)
    given = tuple(items)
    channels = [item for item in given if is_video_channel(item)]
    changes.skipped = len(given) - len(channels)
    wanted = {item.device_id: item for item in channels}
    existing = (
        {
            camera.gb_id: camera
            for camera in (await session.execute(select(Camera).where(Camera.gb_id.in_(list(wanted))))).scalars()
        }
        if wanted
        else {}
    )
    transitions: list[dict[str, object]] = []
    for gb_id, item in wanted.items():
        lat, lon = _position(item)
        status = item.status
        camera = existing.get(gb_id)
        if camera is not None and camera.device_id not in (None, device.id):
            log.warning(
                "catalog of %s lists %s, which device #%s carries; left with it", device.gb_id, gb_id, camera.device_id
            )
            changes.skipped += 1
            changes.conflicts.append(gb_id)
            continue
        if camera is None:
            region_id = await regions.for_item(item)
            if region_id is None:
                log.warning("catalog of %s: channel %s names no known region; add the region", device.gb_id, gb_id)
                changes.skipped += 1
                continue
            online = device_online and status != "OFF"
            camera = Camera(
                gb_id=gb_id,
                name=(item.name or gb_id)[:200],
                device_id=device.id,
                cls=row.channel_class,
                network=row.channel_network,
                region_id=region_id,
                kind=_kind(item.ptz_type),
                latitude=lat,
                longitude=lon,
                address=(item.address or None) and item.address[:300],
                labels=[],
                channel_status=status,
                online=online,
                ptz_type=item.ptz_type,
                created_at=now,
                updated_at=now,
            )
            session.add(camera)
            await session.flush()
            changes.added.append(gb_id)
            if online:
                transitions.append(_transition(now, device.id, camera.id, True, "catalog: new channel"))
            continue
        before = (
            camera.name,
            camera.address,
            camera.latitude,
            camera.longitude,
            camera.channel_status,
            camera.ptz_type,
            camera.kind,
            camera.device_id,
        )
        camera.device_id = device.id
        if item.name:
            camera.name = item.name[:200]
        if item.address:
            camera.address = item.address[:300]
        if lat is not None:
            camera.latitude, camera.longitude = lat, lon
        if status is not None:
            camera.channel_status = status
        if item.ptz_type is not None:
            camera.ptz_type = item.ptz_type
            # The device knows whether it can turn; a checkpoint or vehicle camera keeps what the bureau called it.
            if camera.kind in _LENS_KINDS:
                camera.kind = _kind(item.ptz_type)
        online = device_online and camera.channel_status != "OFF"
        if online != camera.online:
            camera.online = online
            transitions.append(_transition(now, device.id, camera.id, online, f"channel {status or 'changed'}"))
        after = (
            camera.name,
            camera.address,
            camera.latitude,
            camera.longitude,
            camera.channel_status,
            camera.ptz_type,
            camera.kind,
            camera.device_id,
        )
        if after != before:
            camera.updated_at = now
            changes.updated.append(gb_id)
    if complete:
        gone = select(Camera.id, Camera.gb_id, Camera.online).where(
            Camera.device_id == device.id, Camera.gb_id.not_in(list(wanted))
        )
        changes.removed = await _detach(session, device, (await session.execute(gone)).all(), now)
    if transitions:
        await session.execute(insert(AvailabilityTransition.__table__), transitions)
    return changes


async def remove_channels(session: AsyncSession, device: KnownDevice, gb_ids: list[str], now: datetime) -> list[str]:
    """A catalog NOTIFY with DEL events: the same as a channel missing from a complete catalog."""
    found = await session.execute(
        select(Camera.id, Camera.gb_id, Camera.online).where(Camera.device_id == device.id, Camera.gb_id.in_(gb_ids))
    )
    return await _detach(session, device, found.all(), now)


async def _detach(session: AsyncSession, device: KnownDevice, rows: Sequence[Any], now: datetime) -> list[str]:
    """Unlink cameras from the device and mark them offline (with the transition), keeping their records."""
    if not rows:
        return []
    ids = [camera_id for camera_id, _, _ in rows]
    await session.execute(
        update(Camera)
        .where(Camera.id.in_(ids))
        .values(device_id=None, online=False, channel_status=None, updated_at=now)
    )
    went_offline = [
        _transition(now, device.id, camera_id, False, "removed from the device's catalog")
        for camera_id, _, online in rows
        if online
    ]
    if went_offline:
        await session.execute(insert(AvailabilityTransition.__table__), went_offline)
    return sorted(gb_id for _, gb_id, _ in rows)


async def set_channel_status(
    session: AsyncSession, device: KnownDevice, gb_id: str, status: str, *, device_online: bool, now: datetime
) -> bool:
    camera = (
        await session.execute(select(Camera).where(Camera.device_id == device.id, Camera.gb_id == gb_id))
    ).scalar_one_or_none()
    if camera is None:
        return False
    camera.channel_status = status
    online = device_online and status != "OFF"
    if online != camera.online:
        camera.online = online
        row = _transition(now, device.id, camera.id, online, f"channel {status}")
        await session.execute(insert(AvailabilityTransition.__table__), [row])
    return True


def _transition(at: datetime, device_id: int, camera_id: int, online: bool, reason: str) -> dict[str, object]:
    return {"at": at, "device_id": device_id, "camera_id": camera_id, "online": online, "reason": reason[:64]}
