"""The Response bodies a simulated device sends for each Query, built from its spec and state (pure)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from tianyan.gb28181.manscdp.catalog import CatalogQuery, ChannelStatus, split_catalog
from tianyan.gb28181.manscdp.config_download import BasicParam, ConfigDownloadQuery, ConfigDownloadResponse
from tianyan.gb28181.manscdp.device_info import DeviceInfoQuery, DeviceInfoResponse
from tianyan.gb28181.manscdp.device_status import AlarmStatus, DeviceStatusQuery, DeviceStatusResponse
from tianyan.gb28181.manscdp.envelope import Body
from tianyan.gb28181.manscdp.mobile_position import MobilePositionNotify, MobilePositionQuery
from tianyan.gb28181.manscdp.preset import PresetQuery, PresetQueryResponse
from tianyan.gb28181.manscdp.record_info import RecordInfoQuery, split_records
from tianyan.sim.gb28181.channels import catalog_items
from tianyan.sim.gb28181.controls import ChannelState
from tianyan.sim.gb28181.profile import Behaviour, DeviceSpec, PlatformAddress, VideoSettings
from tianyan.sim.gb28181.records import recordings
from tianyan.sim.gb28181.routes import Fix


@dataclass(frozen=True)
class DeviceView:
    """What answering needs to know about one device at the moment of the query."""

    spec: DeviceSpec
    video: VideoSettings
    behaviour: Behaviour
    platform: PlatformAddress
    states: Mapping[str, ChannelState]
    statuses: Mapping[str, ChannelStatus]
    now: datetime
    fix: Fix | None = None  # where a vehicle is now

    def state(self, item_id: str) -> ChannelState:
        return self.states.get(item_id) or ChannelState()


def answer_query(query: Body, view: DeviceView) -> list[Body] | None:
    """The Response (or, for MobilePosition, Notify) bodies for `query`, in sending order; None: not a query we
    answer. Multi-message lists share the query's SN, as the standard wants."""
    handler = _HANDLERS.get(type(query))
    return None if handler is None else handler(query, view)


def _catalog(query: Body, view: DeviceView) -> list[Body]:
    assert isinstance(query, CatalogQuery)
    items = catalog_items(view.spec, view.video, view.statuses)
    return list(
        split_catalog(
            view.spec.device_id,
            query.sn,
            items,
            items_per_message=view.behaviour.catalog_items_per_message,
            charset=view.behaviour.charset,
        )
    )


def _device_info(query: Body, view: DeviceView) -> list[Body]:
    assert isinstance(query, DeviceInfoQuery)
    spec = view.spec
    return [
        DeviceInfoResponse(
            query.sn,
            query.device_id,
            "OK",
            device_name=spec.name,
            manufacturer=spec.manufacturer,
            model=spec.model,
            firmware=spec.firmware,
            channel=len(spec.channel_ids),
        )
    ]


def _device_status(query: Body, view: DeviceView) -> list[Body]:
    assert isinstance(query, DeviceStatusQuery)
    spec = view.spec
    alarms = tuple(
        AlarmStatus(a, "ALARM" if view.state(a).alarming else "ONDUTY" if view.state(a).guarded else "OFFDUTY")
        for a in spec.alarm_input_ids
    )
    target = query.device_id if query.device_id in view.states else spec.device_id
    recording = view.state(target).recording or any(view.state(c).recording for c in spec.channel_ids)
    return [
        DeviceStatusResponse(
            query.sn,
            query.device_id,
            "OK",
            online="ONLINE",
            status="OK",
            encode="ON",
            record="ON" if recording else "OFF",
            device_time=view.now,
            alarm_status=alarms,
        )
    ]


def _record_info(query: Body, view: DeviceView) -> list[Body]:
    assert isinstance(query, RecordInfoQuery)
    channel = query.device_id
    items = (
        recordings(
            channel,
            query.start_time,
            query.end_time,
            now=view.now,
            type_filter=query.type,
            recorder_id=view.spec.device_id,
        )
        if channel in view.spec.channel_ids
        else []
    )
    return list(split_records(channel, query.sn, items, name=view.spec.name, charset=view.behaviour.charset))


def _preset(query: Body, view: DeviceView) -> list[Body]:
    assert isinstance(query, PresetQuery)
    return [PresetQueryResponse(query.sn, query.device_id, view.state(query.device_id).preset_list())]


def _config_download(query: Body, view: DeviceView) -> list[Body]:
    assert isinstance(query, ConfigDownloadQuery)
    spec, behaviour, platform = view.spec, view.behaviour, view.platform
    basic = (
        BasicParam(
            name=spec.name,
            device_id=spec.device_id,
            sip_server_id=platform.server_id,
            sip_server_ip=platform.host,
            sip_server_port=platform.port,
            domain_name=platform.domain,
            expiration=behaviour.expires_s,
            heart_beat_interval=max(1, round(behaviour.keepalive_s)),
            heart_beat_count=behaviour.keepalive_misses,
            position_capability=1 if spec.kind == "vehicle" else 0,
            longitude=round(spec.longitude, 6),
            latitude=round(spec.latitude, 6),
        )
        if "BasicParam" in query.config_types
        else None
    )
    return [ConfigDownloadResponse(query.sn, query.device_id, "OK", basic)]


def _mobile_position(query: Body, view: DeviceView) -> list[Body]:
    assert isinstance(query, MobilePositionQuery)
    return [position_notify(view.spec, view.fix, view.now, query.sn)]


def position_notify(spec: DeviceSpec, fix: Fix | None, now: datetime, sn: int | None) -> MobilePositionNotify:
    """A fix as the Notify body; a device that does not move reports where it stands."""
    if fix is None:
        return MobilePositionNotify(sn, spec.device_id, now, spec.longitude, spec.latitude, 0.0, 0.0, 0.0)
    return MobilePositionNotify(
        sn, spec.device_id, now, fix.longitude, fix.latitude, fix.speed_kmh, fix.direction_deg, 20.0
    )


_HANDLERS: dict[type[Body], Callable[[Body, DeviceView], list[Body]]] = {
    CatalogQuery: _catalog,
    DeviceInfoQuery: _device_info,
    DeviceStatusQuery: _device_status,
    RecordInfoQuery: _record_info,
    PresetQuery: _preset,
    ConfigDownloadQuery: _config_download,
    MobilePositionQuery: _mobile_position,
}
