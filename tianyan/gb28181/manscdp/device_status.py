"""DeviceStatus: the query for a device's running state and its answer (online, encoding, recording, alarms)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Final, Literal

from tianyan.gb28181.manscdp.device_info import RESULTS, Result
from tianyan.gb28181.manscdp.envelope import Body, Envelope, Kind
from tianyan.gb28181.manscdp.fields import leaf, optional_choice, optional_text, optional_time, required_text
from tianyan.gb28181.manscdp.xml import Node

Online = Literal["ONLINE", "OFFLINE"]
OnOff = Literal["ON", "OFF"]
DutyStatus = Literal["ONDUTY", "OFFDUTY", "ALARM"]
_ONLINE: Final[dict[str, Online]] = {"ONLINE": "ONLINE", "ON": "ONLINE", "OFFLINE": "OFFLINE", "OFF": "OFFLINE"}
_STATUS: Final[dict[str, Result]] = {**RESULTS, "ON": "OK"}
_ON_OFF: Final[dict[str, OnOff]] = {"ON": "ON", "OFF": "OFF"}
_DUTY: Final[dict[str, DutyStatus]] = {"ONDUTY": "ONDUTY", "OFFDUTY": "OFFDUTY", "ALARM": "ALARM"}


@dataclass(frozen=True)
class AlarmStatus:
    """One alarm input's guard state: ONDUTY (armed), OFFDUTY (disarmed) or ALARM (armed and triggered)."""

    device_id: str
    duty_status: DutyStatus | None = None

    def to_node(self) -> Node:
        return Node.of("Item", Node("DeviceID", self.device_id), leaf("DutyStatus", self.duty_status))


@dataclass(frozen=True)
class DeviceStatusQuery(Body):
    """Platform → device: how are you running?"""

    KIND: ClassVar[Kind] = "Query"
    CMD_TYPE: ClassVar[str] = "DeviceStatus"

    sn: int
    device_id: str

    @classmethod
    def read(cls, envelope: Envelope) -> DeviceStatusQuery:
        return cls(envelope.request_sn, envelope.device_id)


@dataclass(frozen=True)
class DeviceStatusResponse(Body):
    """Device → platform: running state; `device_time` is the device clock (for drift checks)."""

    KIND: ClassVar[Kind] = "Response"
    CMD_TYPE: ClassVar[str] = "DeviceStatus"

    sn: int | None
    device_id: str
    result: Result | None = "OK"
    online: Online | None = "ONLINE"
    status: Result | None = "OK"
    reason: str | None = None
    encode: OnOff | None = None
    record: OnOff | None = None
    device_time: datetime | None = None
    alarm_status: tuple[AlarmStatus, ...] = ()

    @classmethod
    def read(cls, envelope: Envelope) -> DeviceStatusResponse:
        root = envelope.root
        alarms = root.child("Alarmstatus")
        items = () if alarms is None else alarms.children_named("Item")
        return cls(
            envelope.sn,
            envelope.device_id,
            optional_choice(root, "Result", RESULTS),
            optional_choice(root, "Online", _ONLINE),
            optional_choice(root, "Status", _STATUS),
            optional_text(root, "Reason"),
            optional_choice(root, "Encode", _ON_OFF),
            optional_choice(root, "Record", _ON_OFF),
            optional_time(root, "DeviceTime"),
            tuple(
                AlarmStatus(
                    required_text(item, "DeviceID", where=f"Alarmstatus/Item[{i}]"),
                    optional_choice(item, "DutyStatus", _DUTY),
                )
                for i, item in enumerate(items, 1)
            ),
        )

    def body_nodes(self) -> tuple[Node | None, ...]:
        items = (a.to_node() for a in self.alarm_status)
        alarms = Node.of("Alarmstatus", *items, attrs={"Num": str(len(self.alarm_status))})
        return (
            leaf("Result", self.result),
            leaf("Online", self.online),
            leaf("Status", self.status),
            leaf("Reason", self.reason),
            leaf("Encode", self.encode),
            leaf("Record", self.record),
            leaf("DeviceTime", self.device_time),
            alarms if self.alarm_status else None,
        )
