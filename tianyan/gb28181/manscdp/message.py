"""Every typed body by its route (kind, CmdType), and `parse` which turns bytes into the right one."""

from __future__ import annotations

from typing import Final

from tianyan.gb28181.manscdp.alarm import AlarmNotify, AlarmResponse
from tianyan.gb28181.manscdp.catalog import CatalogNotify, CatalogQuery, CatalogResponse
from tianyan.gb28181.manscdp.config_download import ConfigDownloadQuery, ConfigDownloadResponse
from tianyan.gb28181.manscdp.device_control import DeviceControl, DeviceControlResponse
from tianyan.gb28181.manscdp.device_info import DeviceInfoQuery, DeviceInfoResponse
from tianyan.gb28181.manscdp.device_status import DeviceStatusQuery, DeviceStatusResponse
from tianyan.gb28181.manscdp.envelope import Body, Envelope, Kind, parse_envelope
from tianyan.gb28181.manscdp.keepalive import KeepaliveNotify
from tianyan.gb28181.manscdp.media_status import MediaStatusNotify
from tianyan.gb28181.manscdp.mobile_position import MobilePositionNotify, MobilePositionQuery
from tianyan.gb28181.manscdp.preset import PresetQuery, PresetQueryResponse
from tianyan.gb28181.manscdp.record_info import RecordInfoQuery, RecordInfoResponse
from tianyan.gb28181.manscdp.xml import DEFAULT_LIMITS, Limits, ManscdpError

BODY_TYPES: Final[tuple[type[Body], ...]] = (
    KeepaliveNotify,
    CatalogQuery, CatalogResponse, CatalogNotify,
    DeviceInfoQuery, DeviceInfoResponse,
    DeviceStatusQuery, DeviceStatusResponse,
    RecordInfoQuery, RecordInfoResponse,
    PresetQuery, PresetQueryResponse,
    ConfigDownloadQuery, ConfigDownloadResponse,
    DeviceControl, DeviceControlResponse,
    AlarmNotify, AlarmResponse,
    MobilePositionQuery, MobilePositionNotify,
    MediaStatusNotify,
)  # fmt: skip

BY_ROUTE: Final[dict[tuple[Kind, str], type[Body]]] = {(t.KIND, t.CMD_TYPE): t for t in BODY_TYPES}


def body_of(envelope: Envelope) -> Body:
    """The typed body for an envelope already read; ManscdpError for a route no class handles."""
    body_type = BY_ROUTE.get(envelope.route)
    if body_type is None:
        raise ManscdpError(f"no body type for {envelope.kind} {envelope.cmd_type}")
    return body_type.read(envelope)


def parse(body: bytes, *, limits: Limits = DEFAULT_LIMITS) -> Body:
    """Bytes to the typed body their route names."""
    return body_of(parse_envelope(body, limits=limits))
