"""DeviceInfo: the query for a device's identity and its answer (name, maker, model, firmware, channel count)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final, Literal

from tianyan.gb28181.manscdp.envelope import Body, Envelope, Kind
from tianyan.gb28181.manscdp.fields import leaf, optional_choice, optional_int, optional_text
from tianyan.gb28181.manscdp.xml import Node

Result = Literal["OK", "ERROR"]
RESULTS: Final[dict[str, Result]] = {"OK": "OK", "ERROR": "ERROR"}


@dataclass(frozen=True)
class DeviceInfoQuery(Body):
    """Platform → device: who are you?"""

    KIND: ClassVar[Kind] = "Query"
    CMD_TYPE: ClassVar[str] = "DeviceInfo"

    sn: int
    device_id: str

    @classmethod
    def read(cls, envelope: Envelope) -> DeviceInfoQuery:
        return cls(envelope.request_sn, envelope.device_id)


@dataclass(frozen=True)
class DeviceInfoResponse(Body):
    """Device → platform: identity; `channel` is the number of channels the device reports."""

    KIND: ClassVar[Kind] = "Response"
    CMD_TYPE: ClassVar[str] = "DeviceInfo"

    sn: int | None
    device_id: str
    result: Result | None = "OK"
    device_name: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    firmware: str | None = None
    channel: int | None = None

    @classmethod
    def read(cls, envelope: Envelope) -> DeviceInfoResponse:
        root = envelope.root
        return cls(
            envelope.sn,
            envelope.device_id,
            optional_choice(root, "Result", RESULTS),
            optional_text(root, "DeviceName"),
            optional_text(root, "Manufacturer"),
            optional_text(root, "Model"),
            optional_text(root, "Firmware"),
            optional_int(root, "Channel", low=0, high=1_000_000),
        )

    def body_nodes(self) -> tuple[Node | None, ...]:
        return (
            leaf("DeviceName", self.device_name),
            leaf("Result", self.result),
            leaf("Manufacturer", self.manufacturer),
            leaf("Model", self.model),
            leaf("Firmware", self.firmware),
            leaf("Channel", self.channel),
        )
