"""Catalog: the query for a device's channel tree, its multi-message answer, and change notifications.

Item fields follow GB/T 28181-2016 A.2.1.9 with the 2022 additions (SecurityLevelCode, BusinessGroupID at item
level, and the Info fields a platform uses: StreamNumberList, PointType, GrassrootsCode, MAC, RecordSaveDays).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Final, Literal

from tianyan.gb28181.manscdp.envelope import Body, Envelope, Kind
from tianyan.gb28181.manscdp.fields import (
    LATITUDE,
    LONGITUDE,
    check_range,
    leaf,
    optional_choice,
    optional_float,
    optional_int,
    optional_text,
    optional_time,
    required_int,
    required_text,
)
from tianyan.gb28181.manscdp.multi_response import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_ITEMS,
    DEFAULT_MAX_PENDING,
    DEFAULT_WINDOW_S,
    ResponseCollector,
    split,
)
from tianyan.gb28181.manscdp.xml import Node

ChannelStatus = Literal["ON", "OFF"]
CatalogEvent = Literal["ON", "OFF", "VLOST", "DEFECT", "ADD", "DEL", "UPDATE"]
SUM_NUM_MAX: Final = 10_000_000

# Hikvision NVRs answer ONLINE/OFFLINE, some IPCs OK; all mean the same two states.
_STATUS: Final[dict[str, ChannelStatus]] = {
    "ON": "ON", "ONLINE": "ON", "OK": "ON", "OFF": "OFF", "OFFLINE": "OFF",
}  # fmt: skip
_EVENTS: Final[dict[str, CatalogEvent]] = {e: e for e in ("ON", "OFF", "VLOST", "DEFECT", "ADD", "DEL", "UPDATE")}
_EVENTS_ALIASES: Final[dict[str, CatalogEvent]] = {**_EVENTS, "DELETE": "DEL", "MOD": "UPDATE"}


@dataclass(frozen=True)
class CatalogItem:
    """One entry of a channel tree: a camera, alarm input, region, business group or virtual organisation."""

    device_id: str
    name: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    owner: str | None = None
    civil_code: str | None = None
    block: str | None = None
    address: str | None = None
    parental: int | None = None
    parent_id: str | None = None
    safety_way: int | None = None
    register_way: int | None = None
    cert_num: str | None = None
    certifiable: int | None = None
    err_code: int | None = None
    end_time: datetime | None = None
    security_level_code: str | None = None
    secrecy: int | None = None
    ip_address: str | None = None
    port: int | None = None
    password: str | None = None
    status: ChannelStatus | None = None
    longitude: float | None = None
    latitude: float | None = None
    business_group_id: str | None = None
    ptz_type: int | None = None
    position_type: int | None = None
    room_type: int | None = None
    use_type: int | None = None
    supply_light_type: int | None = None
    direction_type: int | None = None
    resolution: str | None = None
    stream_number_list: str | None = None
    download_speed: str | None = None
    svc_space_support_mode: int | None = None
    svc_time_support_mode: int | None = None
    point_type: int | None = None
    grassroots_code: str | None = None
    mac: str | None = None
    record_save_days: int | None = None
    event: CatalogEvent | None = None

    @property
    def parent_ids(self) -> tuple[str, ...]:
        """ParentID may list several parents separated by "/" (2022); the last is the direct parent."""
        return tuple(p for p in (self.parent_id or "").split("/") if p)

    @classmethod
    def read(cls, node: Node, *, where: str = "Item") -> CatalogItem:
        def info_int(name: str, high: int = 99) -> int | None:
            # Info fields sometimes arrive at item level; the Info element wins when both are there.
            value = optional_int(node, f"Info/{name}", low=0, high=high)
            return value if value is not None else optional_int(node, name, low=0, high=high)

        def info_text(name: str) -> str | None:
            return optional_text(node, f"Info/{name}") or optional_text(node, name)

        return cls(
            device_id=required_text(node, "DeviceID", where=where),
            name=optional_text(node, "Name"),
            manufacturer=optional_text(node, "Manufacturer"),
            model=optional_text(node, "Model"),
            owner=optional_text(node, "Owner"),
            civil_code=optional_text(node, "CivilCode"),
            block=optional_text(node, "Block"),
            address=optional_text(node, "Address"),
            parental=optional_int(node, "Parental", low=0, high=1),
            parent_id=optional_text(node, "ParentID"),
            safety_way=optional_int(node, "SafetyWay", low=0, high=9),
            register_way=optional_int(node, "RegisterWay", low=0, high=9),
            cert_num=optional_text(node, "CertNum"),
            certifiable=optional_int(node, "Certifiable", low=0, high=1),
            err_code=optional_int(node, "ErrCode", low=0, high=999_999),
            end_time=optional_time(node, "EndTime"),
            security_level_code=optional_text(node, "SecurityLevelCode"),
            secrecy=optional_int(node, "Secrecy", low=0, high=1),
            ip_address=optional_text(node, "IPAddress"),
            port=optional_int(node, "Port", low=0, high=65535),
            password=optional_text(node, "Password"),
            status=optional_choice(node, "Status", _STATUS),
            longitude=optional_float(node, "Longitude", low=LONGITUDE[0], high=LONGITUDE[1]),
            latitude=optional_float(node, "Latitude", low=LATITUDE[0], high=LATITUDE[1]),
            business_group_id=optional_text(node, "BusinessGroupID") or optional_text(node, "Info/BusinessGroupID"),
            ptz_type=info_int("PTZType"),
            position_type=info_int("PositionType"),
            room_type=info_int("RoomType"),
            use_type=info_int("UseType"),
            supply_light_type=info_int("SupplyLightType"),
            direction_type=info_int("DirectionType"),
            resolution=info_text("Resolution"),
            stream_number_list=info_text("StreamNumberList"),
            download_speed=info_text("DownloadSpeed"),
            svc_space_support_mode=info_int("SVCSpaceSupportMode"),
            svc_time_support_mode=info_int("SVCTimeSupportMode"),
            point_type=info_int("PointType"),
            grassroots_code=info_text("GrassrootsCode"),
            mac=info_text("MAC"),
            record_save_days=info_int("RecordSaveDays", high=100_000),
            event=optional_choice(node, "Event", _EVENTS_ALIASES),
        )

    def to_node(self) -> Node:
        check_range("Longitude", self.longitude, *LONGITUDE)
        check_range("Latitude", self.latitude, *LATITUDE)
        info = Node.of(
            "Info",
            leaf("PTZType", self.ptz_type),
            leaf("PositionType", self.position_type),
            leaf("RoomType", self.room_type),
            leaf("UseType", self.use_type),
            leaf("SupplyLightType", self.supply_light_type),
            leaf("DirectionType", self.direction_type),
            leaf("Resolution", self.resolution),
            leaf("StreamNumberList", self.stream_number_list),
            leaf("DownloadSpeed", self.download_speed),
            leaf("SVCSpaceSupportMode", self.svc_space_support_mode),
            leaf("SVCTimeSupportMode", self.svc_time_support_mode),
            leaf("PointType", self.point_type),
            leaf("GrassrootsCode", self.grassroots_code),
            leaf("MAC", self.mac),
            leaf("RecordSaveDays", self.record_save_days),
        )
        return Node.of(
            "Item",
            Node("DeviceID", self.device_id),
            leaf("Event", self.event),
            leaf("Name", self.name),
            leaf("Manufacturer", self.manufacturer),
            leaf("Model", self.model),
            leaf("Owner", self.owner),
            leaf("CivilCode", self.civil_code),
            leaf("Block", self.block),
            leaf("Address", self.address),
            leaf("Parental", self.parental),
            leaf("ParentID", self.parent_id),
            leaf("SafetyWay", self.safety_way),
            leaf("RegisterWay", self.register_way),
            leaf("CertNum", self.cert_num),
            leaf("Certifiable", self.certifiable),
            leaf("ErrCode", self.err_code),
            leaf("EndTime", self.end_time),
            leaf("SecurityLevelCode", self.security_level_code),
            leaf("Secrecy", self.secrecy),
            leaf("IPAddress", self.ip_address),
            leaf("Port", self.port),
            leaf("Password", self.password),
            leaf("Status", self.status),
            leaf("Longitude", self.longitude),
            leaf("Latitude", self.latitude),
            leaf("BusinessGroupID", self.business_group_id),
            info if info.children else None,
        )


def _read_items(root: Node) -> tuple[CatalogItem, ...]:
    device_list = root.child("DeviceList")
    if device_list is None:
        return ()
    return tuple(
        CatalogItem.read(item, where=f"DeviceList/Item[{i}]")
        for i, item in enumerate(device_list.children_named("Item"), 1)
    )


def _device_list(items: Sequence[CatalogItem]) -> Node:
    return Node.of("DeviceList", *(i.to_node() for i in items), attrs={"Num": str(len(items))})


@dataclass(frozen=True)
class CatalogQuery(Body):
    """Platform → device: send your channel tree (also the body of a catalog SUBSCRIBE, with its time range)."""

    KIND: ClassVar[Kind] = "Query"
    CMD_TYPE: ClassVar[str] = "Catalog"

    sn: int
    device_id: str
    start_time: datetime | None = None
    end_time: datetime | None = None

    @classmethod
    def read(cls, envelope: Envelope) -> CatalogQuery:
        root = envelope.root
        return cls(
            envelope.request_sn, envelope.device_id, optional_time(root, "StartTime"), optional_time(root, "EndTime")
        )

    def body_nodes(self) -> tuple[Node | None, ...]:
        return (leaf("StartTime", self.start_time), leaf("EndTime", self.end_time))


@dataclass(frozen=True)
class CatalogResponse(Body):
    """Device → platform: one message of the answer; `sum_num` counts the whole list, `items` this message's part."""

    KIND: ClassVar[Kind] = "Response"
    CMD_TYPE: ClassVar[str] = "Catalog"

    sn: int | None
    device_id: str
    sum_num: int
    items: tuple[CatalogItem, ...] = ()

    @classmethod
    def read(cls, envelope: Envelope) -> CatalogResponse:
        root = envelope.root
        sum_num = required_int(root, "SumNum", low=0, high=SUM_NUM_MAX)
        return cls(envelope.sn, envelope.device_id, sum_num, _read_items(root))

    def body_nodes(self) -> tuple[Node | None, ...]:
        return (Node("SumNum", str(self.sum_num)), _device_list(self.items))


@dataclass(frozen=True)
class CatalogNotify(Body):
    """Device → platform (NOTIFY on a catalog subscription): items that changed, each with its `event`."""

    KIND: ClassVar[Kind] = "Notify"
    CMD_TYPE: ClassVar[str] = "Catalog"

    sn: int | None
    device_id: str
    sum_num: int
    items: tuple[CatalogItem, ...] = ()

    @classmethod
    def read(cls, envelope: Envelope) -> CatalogNotify:
        root = envelope.root
        items = _read_items(root)
        # SumNum is required in a notification too, but it only repeats the item count; a missing one is tolerated.
        sum_num = optional_int(root, "SumNum", low=0, high=SUM_NUM_MAX)
        return cls(envelope.sn, envelope.device_id, len(items) if sum_num is None else sum_num, items)

    def body_nodes(self) -> tuple[Node | None, ...]:
        return (Node("SumNum", str(self.sum_num)), _device_list(self.items))


def split_catalog(
    device_id: str,
    sn: int,
    items: Sequence[CatalogItem],
    *,
    items_per_message: int | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    charset: str = "GB2312",
) -> list[CatalogResponse]:
    """The Response messages a device sends for `items`: same SN and SumNum, each within the size limits.

    Build each with the same `charset` the sizes were measured in.
    """
    total = len(items)
    return split(
        list(items),
        lambda chunk: CatalogResponse(sn, device_id, total, chunk),
        items_per_message=items_per_message,
        max_body_bytes=max_body_bytes,
        charset=charset,
    )


class CatalogCollector(ResponseCollector[CatalogItem]):
    """Collects CatalogResponse messages into complete channel lists; duplicates are merged by DeviceID."""

    def __init__(
        self,
        *,
        max_items: int = DEFAULT_MAX_ITEMS,
        window_s: float = DEFAULT_WINDOW_S,
        max_pending: int = DEFAULT_MAX_PENDING,
    ) -> None:
        super().__init__(_channel_key, max_items=max_items, window_s=window_s, max_pending=max_pending)


def _channel_key(item: CatalogItem) -> str:
    return item.device_id
