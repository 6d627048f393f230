"""ConfigDownload: the query for a device's configuration and its answer; BasicParam is the part read here.

BasicParam carries the heartbeat settings (HeartBeatInterval, HeartBeatCount) that decide when a silent
device counts as offline, so the platform reads them instead of assuming 60 s × 3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final

from tianyan.gb28181.manscdp.device_info import RESULTS, Result
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
    required_text,
)
from tianyan.gb28181.manscdp.xml import ManscdpError, Node

# ConfigType values of GB/T 28181-2016 (the 2022 edition adds more, which pass through as text).
CONFIG_TYPES: Final = ("BasicParam", "VideoParamOpt", "SVACEncodeConfig", "SVACDecodeConfig")
_TYPE_NAMES: Final = {t.lower(): t for t in CONFIG_TYPES}


@dataclass(frozen=True)
class BasicParam:
    """A device's basic SIP settings as it reports them."""

    name: str | None = None
    device_id: str | None = None
    sip_server_id: str | None = None
    sip_server_ip: str | None = None
    sip_server_port: int | None = None
    domain_name: str | None = None
    expiration: int | None = None
    password: str | None = None
    heart_beat_interval: int | None = None
    heart_beat_count: int | None = None
    position_capability: int | None = None
    longitude: float | None = None
    latitude: float | None = None

    @classmethod
    def read(cls, node: Node) -> BasicParam:
        return cls(
            name=optional_text(node, "Name"),
            device_id=optional_text(node, "DeviceID"),
            sip_server_id=optional_text(node, "SIPServerID"),
            sip_server_ip=optional_text(node, "SIPServerIP"),
            sip_server_port=optional_int(node, "SIPServerPort", low=0, high=65535),
            domain_name=optional_text(node, "DomainName"),
            expiration=optional_int(node, "Expiration", low=0, high=10_000_000),
            password=optional_text(node, "Password"),
            heart_beat_interval=optional_int(node, "HeartBeatInterval", low=1, high=86_400),
            heart_beat_count=optional_int(node, "HeartBeatCount", low=1, high=1000),
            position_capability=optional_int(node, "PositionCapability", low=0, high=9),
            longitude=optional_float(node, "Longitude", low=LONGITUDE[0], high=LONGITUDE[1]),
            latitude=optional_float(node, "Latitude", low=LATITUDE[0], high=LATITUDE[1]),
        )

    def to_node(self) -> Node:
        check_range("Longitude", self.longitude, *LONGITUDE)
        check_range("Latitude", self.latitude, *LATITUDE)
        return Node.of(
            "BasicParam",
            leaf("Name", self.name),
            leaf("DeviceID", self.device_id),
            leaf("SIPServerID", self.sip_server_id),
            leaf("SIPServerIP", self.sip_server_ip),
            leaf("SIPServerPort", self.sip_server_port),
            leaf("DomainName", self.domain_name),
            leaf("Expiration", self.expiration),
            leaf("Password", self.password),
            leaf("HeartBeatInterval", self.heart_beat_interval),
            leaf("HeartBeatCount", self.heart_beat_count),
            leaf("PositionCapability", self.position_capability),
            leaf("Longitude", self.longitude),
            leaf("Latitude", self.latitude),
        )


@dataclass(frozen=True)
class ConfigDownloadQuery(Body):
    """Platform → device: send these configuration sections (ConfigType, several joined by "/")."""

    KIND: ClassVar[Kind] = "Query"
    CMD_TYPE: ClassVar[str] = "ConfigDownload"

    sn: int
    device_id: str
    config_types: tuple[str, ...] = ("BasicParam",)

    @classmethod
    def read(cls, envelope: Envelope) -> ConfigDownloadQuery:
        text = required_text(envelope.root, "ConfigType")
        types = tuple(_TYPE_NAMES.get(t.strip().lower(), t.strip()) for t in text.split("/") if t.strip())
        if not types:
            raise ManscdpError("ConfigType names no configuration section")
        return cls(envelope.request_sn, envelope.device_id, types)

    def body_nodes(self) -> tuple[Node | None, ...]:
        if not self.config_types:
            raise ManscdpError("ConfigDownload query needs at least one ConfigType")
        return (Node("ConfigType", "/".join(self.config_types)),)


@dataclass(frozen=True)
class ConfigDownloadResponse(Body):
    """Device → platform: the requested sections; only BasicParam is read (see the module docstring)."""

    KIND: ClassVar[Kind] = "Response"
    CMD_TYPE: ClassVar[str] = "ConfigDownload"

    sn: int | None
    device_id: str
    result: Result | None = "OK"
    basic_param: BasicParam | None = None

    @classmethod
    def read(cls, envelope: Envelope) -> ConfigDownloadResponse:
        root = envelope.root
        basic = root.child("BasicParam")
        return cls(
            envelope.sn,
            envelope.device_id,
            optional_choice(root, "Result", RESULTS),
            None if basic is None else BasicParam.read(basic),
        )

    def body_nodes(self) -> tuple[Node | None, ...]:
        return (leaf("Result", self.result), None if self.basic_param is None else self.basic_param.to_node())
