"""MobilePosition: the subscription for a mobile device's GPS fixes (with Interval) and the Notify carrying each fix."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Final

from tianyan.gb28181.manscdp.envelope import Body, Envelope, Kind
from tianyan.gb28181.manscdp.fields import (
    LATITUDE,
    LONGITUDE,
    check_range,
    leaf,
    optional_float,
    optional_int,
    required_float,
    required_time,
)
from tianyan.gb28181.manscdp.xml import Node

SPEED_KMH: Final = (0.0, 10_000.0)
DIRECTION_DEG: Final = (0.0, 360.0)
ALTITUDE_M: Final = (-12_000.0, 100_000.0)
INTERVAL_S: Final = (1, 86_400)


@dataclass(frozen=True)
class MobilePositionQuery(Body):
    """Platform → device (usually as a SUBSCRIBE body): report position every `interval_s` seconds."""

    KIND: ClassVar[Kind] = "Query"
    CMD_TYPE: ClassVar[str] = "MobilePosition"

    sn: int
    device_id: str
    interval_s: int | None = 5

    @classmethod
    def read(cls, envelope: Envelope) -> MobilePositionQuery:
        interval = optional_int(envelope.root, "Interval", low=INTERVAL_S[0], high=INTERVAL_S[1])
        return cls(envelope.request_sn, envelope.device_id, interval)

    def body_nodes(self) -> tuple[Node | None, ...]:
        check_range("Interval", self.interval_s, *INTERVAL_S)
        return (leaf("Interval", self.interval_s),)


@dataclass(frozen=True)
class MobilePositionNotify(Body):
    """Device → platform: one fix (WGS-84), with speed in km/h, direction in degrees from north, altitude in m."""

    KIND: ClassVar[Kind] = "Notify"
    CMD_TYPE: ClassVar[str] = "MobilePosition"

    sn: int | None
    device_id: str
    time: datetime
    longitude: float
    latitude: float
    speed_kmh: float | None = None
    direction_deg: float | None = None
    altitude_m: float | None = None

    @classmethod
    def read(cls, envelope: Envelope) -> MobilePositionNotify:
        root = envelope.root
        # 2016 calls the fix time Time; the 2022 position item calls it CaptureTime.
        time_path = "CaptureTime" if root.get("Time") is None and root.get("CaptureTime") is not None else "Time"
        return cls(
            envelope.sn,
            envelope.device_id,
            required_time(root, time_path),
            required_float(root, "Longitude", low=LONGITUDE[0], high=LONGITUDE[1]),
            required_float(root, "Latitude", low=LATITUDE[0], high=LATITUDE[1]),
            optional_float(root, "Speed", low=SPEED_KMH[0], high=SPEED_KMH[1]),
            optional_float(root, "Direction", low=DIRECTION_DEG[0], high=DIRECTION_DEG[1]),
            optional_float(root, "Altitude", low=ALTITUDE_M[0], high=ALTITUDE_M[1]),
        )

    def body_nodes(self) -> tuple[Node | None, ...]:
        check_range("Longitude", self.longitude, *LONGITUDE)
        check_range("Latitude", self.latitude, *LATITUDE)
        check_range("Speed", self.speed_kmh, *SPEED_KMH)
        check_range("Direction", self.direction_deg, *DIRECTION_DEG)
        check_range("Altitude", self.altitude_m, *ALTITUDE_M)
        return (
            leaf("Time", self.time),
            leaf("Longitude", self.longitude),
            leaf("Latitude", self.latitude),
            leaf("Speed", self.speed_kmh),
            leaf("Direction", self.direction_deg),
            leaf("Altitude", self.altitude_m),
        )
