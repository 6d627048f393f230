"""A device's channel tree as its Catalog answer carries it: cameras and alarm inputs, built when asked for."""

from __future__ import annotations

import random
from collections.abc import Mapping

from tianyan.gb28181.manscdp.catalog import CatalogEvent, CatalogItem, ChannelStatus
from tianyan.sim.gb28181.profile import DeviceSpec, VideoSettings

# Resolution codes of GB/T 28181-2016 appendix F (f= line), which the 2022 catalog Info repeats.
RESOLUTION_CODES = {"cif": "2", "4cif": "3", "720p": "5", "1080p": "6"}
PTZ_DOME, PTZ_FIXED = 1, 3
# How far an NVR's cameras sit from the NVR itself: a few hundred metres.
_SPREAD_DEG = 0.004


def is_ptz(spec: DeviceSpec, channel_id: str) -> bool:
    """IPCs are domes; an NVR has a dome on every fourth channel; vehicle cameras are fixed."""
    if spec.kind == "vehicle":
        return False
    if spec.kind == "ipc":
        return True
    return spec.channel_ids.index(channel_id) % 4 == 0


def camera_item(
    spec: DeviceSpec,
    channel_id: str,
    video: VideoSettings,
    *,
    status: ChannelStatus = "ON",
    event: CatalogEvent | None = None,
) -> CatalogItem:
    index = spec.channel_ids.index(channel_id)
    latitude, longitude = spec.latitude, spec.longitude
    name = spec.name
    if len(spec.channel_ids) > 1:
        # Stable per channel, so every Catalog answer puts the camera in the same place.
        rng = random.Random(channel_id)
        latitude += rng.uniform(-_SPREAD_DEG, _SPREAD_DEG)
        longitude += rng.uniform(-_SPREAD_DEG, _SPREAD_DEG)
        name = f"{spec.name}-通道{index + 1:03d}"
    return CatalogItem(
        device_id=channel_id,
        name=name,
        manufacturer=spec.manufacturer,
        model=spec.model,
        owner="Owner",
        civil_code=spec.civil_code,
        address=spec.address or name,
        parental=0,
        parent_id=spec.device_id,
        safety_way=0,
        register_way=1,
        secrecy=0,
        status=status,
        longitude=round(longitude, 6),
        latitude=round(latitude, 6),
        ptz_type=PTZ_DOME if is_ptz(spec, channel_id) else PTZ_FIXED,
        resolution=f"{RESOLUTION_CODES[video.main_size]}/{RESOLUTION_CODES[video.sub_size]}",
        stream_number_list="0/1",
        event=event,
    )


def alarm_input_item(
    spec: DeviceSpec, input_id: str, *, status: ChannelStatus = "ON", event: CatalogEvent | None = None
) -> CatalogItem:
    number = spec.alarm_input_ids.index(input_id) + 1
    return CatalogItem(
        device_id=input_id,
        name=f"{spec.name}-报警输入{number}",
        manufacturer=spec.manufacturer,
        model=spec.model,
        owner="Owner",
        civil_code=spec.civil_code,
        address=spec.address or spec.name,
        parental=0,
        parent_id=spec.device_id,
        safety_way=0,
        register_way=1,
        secrecy=0,
        status=status,
        longitude=round(spec.longitude, 6),
        latitude=round(spec.latitude, 6),
        event=event,
    )


def catalog_items(spec: DeviceSpec, video: VideoSettings, statuses: Mapping[str, ChannelStatus]) -> list[CatalogItem]:
    """Every camera, then every alarm input; `statuses` holds the channels that are not simply ON."""
    cameras = [camera_item(spec, c, video, status=statuses.get(c, "ON")) for c in spec.channel_ids]
    inputs = [alarm_input_item(spec, a, status=statuses.get(a, "ON")) for a in spec.alarm_input_ids]
    return cameras + inputs


def item_of(
    spec: DeviceSpec, video: VideoSettings, item_id: str, status: ChannelStatus, event: CatalogEvent | None
) -> CatalogItem:
    """One item by ID, for a catalog change notification."""
    if item_id in spec.alarm_input_ids:
        return alarm_input_item(spec, item_id, status=status, event=event)
    return camera_item(spec, item_id, video, status=status, event=event)
