"""What the signaling layer tells the rest of the platform, as past-tense events on the bus."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tianyan.core.events import Event


@dataclass(frozen=True)
class DeviceCameOnline(Event):
    subject = "gb28181.device.online"
    device_id: str
    at: datetime
    reason: str
    transport: str
    address: str


@dataclass(frozen=True)
class DeviceWentOffline(Event):
    subject = "gb28181.device.offline"
    device_id: str
    at: datetime
    reason: str


@dataclass(frozen=True)
class DeviceEnrolled(Event):
    """An unknown device registered while auto-enrolment is on; it waits for an administrator's approval."""

    subject = "gb28181.device.enrolled"
    device_id: str
    at: datetime
    address: str


@dataclass(frozen=True)
class AlarmReceived(Event):
    subject = "gb28181.alarm.received"
    device_id: str
    channel_id: str
    at: datetime
    priority: int | None
    method: int | None
    alarm_type: int | None
    description: str | None
    longitude: float | None
    latitude: float | None


@dataclass(frozen=True)
class PositionReported(Event):
    subject = "gb28181.position.reported"
    device_id: str
    channel_id: str
    at: datetime
    longitude: float
    latitude: float
    speed_kmh: float | None
    direction_deg: float | None


@dataclass(frozen=True)
class CatalogChanged(Event):
    subject = "gb28181.catalog.changed"
    device_id: str
    at: datetime
    added: int
    updated: int
    removed: int


@dataclass(frozen=True)
class MediaStreamEnded(Event):
    """A device finished sending a recording (MediaStatus 121) or a stream stopped."""

    subject = "gb28181.media.ended"
    device_id: str
    channel_id: str
    call_id: str
    at: datetime
    reason: str
