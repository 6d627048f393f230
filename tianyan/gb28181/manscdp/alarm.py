"""Alarm: the Notify a device sends when an alarm fires, and the Response the platform answers it with.

AlarmPriority 1 (highest) to 4; AlarmMethod 1 phone, 2 device, 3 SMS, 4 GPS, 5 video analysis, 6 device
fault, 7 other; Info/AlarmType refines the method (for method 2: 1 video lost, 2 tamper, 3 disk full, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Final

from tianyan.gb28181.manscdp.device_info import RESULTS, Result
from tianyan.gb28181.manscdp.envelope import Body, Envelope, Kind
from tianyan.gb28181.manscdp.fields import (
    LATITUDE,
    LONGITUDE,
    check_range,
    leaf,
    optional_float,
    optional_int,
    optional_text,
    required_choice,
    required_int,
    required_time,
)
from tianyan.gb28181.manscdp.xml import ManscdpError, Node

PRIORITY: Final = (1, 4)
METHOD: Final = (1, 7)


def _alarm_type(root: Node) -> int | None:
    # The standard puts AlarmType inside Info; older devices put it beside AlarmMethod.
    value = optional_int(root, "Info/AlarmType", low=0, high=999)
    return value if value is not None else optional_int(root, "AlarmType", low=0, high=999)


@dataclass(frozen=True)
class AlarmNotify(Body):
    """Device → platform: an alarm; `alarm_type` and `event_type` come from Info when the device sends them."""

    KIND: ClassVar[Kind] = "Notify"
    CMD_TYPE: ClassVar[str] = "Alarm"

    sn: int | None
    device_id: str
    alarm_priority: int
    alarm_method: int
    alarm_time: datetime
    alarm_description: str | None = None
    longitude: float | None = None
    latitude: float | None = None
    alarm_type: int | None = None
    event_type: int | None = None

    @classmethod
    def read(cls, envelope: Envelope) -> AlarmNotify:
        root = envelope.root
        return cls(
            envelope.sn,
            envelope.device_id,
            required_int(root, "AlarmPriority", low=PRIORITY[0], high=PRIORITY[1]),
            required_int(root, "AlarmMethod", low=METHOD[0], high=METHOD[1]),
            required_time(root, "AlarmTime"),
            optional_text(root, "AlarmDescription"),
            optional_float(root, "Longitude", low=LONGITUDE[0], high=LONGITUDE[1]),
            optional_float(root, "Latitude", low=LATITUDE[0], high=LATITUDE[1]),
            _alarm_type(root),
            optional_int(root, "Info/AlarmTypeParam/EventType", low=0, high=999),
        )

    def body_nodes(self) -> tuple[Node | None, ...]:
        if not PRIORITY[0] <= self.alarm_priority <= PRIORITY[1]:
            raise ManscdpError(f"AlarmPriority must be in 1..4, got {self.alarm_priority}")
        if not METHOD[0] <= self.alarm_method <= METHOD[1]:
            raise ManscdpError(f"AlarmMethod must be in 1..7, got {self.alarm_method}")
        check_range("Longitude", self.longitude, *LONGITUDE)
        check_range("Latitude", self.latitude, *LATITUDE)
        param = Node.of("AlarmTypeParam", leaf("EventType", self.event_type))
        info = Node.of("Info", leaf("AlarmType", self.alarm_type), param if param.children else None)
        return (
            Node("AlarmPriority", str(self.alarm_priority)),
            Node("AlarmMethod", str(self.alarm_method)),
            leaf("AlarmTime", self.alarm_time),
            leaf("AlarmDescription", self.alarm_description),
            leaf("Longitude", self.longitude),
            leaf("Latitude", self.latitude),
            info if info.children else None,
        )


@dataclass(frozen=True)
class AlarmResponse(Body):
    """Platform → device: the alarm was received (same SN as the Notify)."""

    KIND: ClassVar[Kind] = "Response"
    CMD_TYPE: ClassVar[str] = "Alarm"

    sn: int | None
    device_id: str
    result: Result = "OK"

    @classmethod
    def read(cls, envelope: Envelope) -> AlarmResponse:
        return cls(envelope.sn, envelope.device_id, required_choice(envelope.root, "Result", RESULTS))

    def body_nodes(self) -> tuple[Node | None, ...]:
        return (Node("Result", self.result),)
