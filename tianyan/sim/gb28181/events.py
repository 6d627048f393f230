"""What a simulated device tells whoever watches it (the CLI, a bench, a test): state changes and counters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class SimEvent:
    device_id: str


@dataclass(frozen=True)
class DeviceRegistered(SimEvent):
    expires_s: int
    attempt: int  # 1 for a first success; counts failed tries before it


@dataclass(frozen=True)
class RegistrationFailed(SimEvent):
    status: int | None  # None: the platform did not answer
    reason: str
    retry_in_s: float


@dataclass(frozen=True)
class DeviceWentOffline(SimEvent):
    reason: str  # keepalives unanswered, refused, refresh failed, rebooting, stopped


@dataclass(frozen=True)
class StreamStarted(SimEvent):
    channel_id: str
    call_id: str
    session: str  # Play, Playback, Download
    transport: str  # udp, tcp-active, tcp-passive (the device's side)
    ssrc: str


@dataclass(frozen=True)
class StreamEnded(SimEvent):
    channel_id: str
    call_id: str
    reason: str


EventSink = Callable[[SimEvent], None]


def ignore(event: SimEvent) -> None:
    """The default sink."""


@dataclass(slots=True)
class DeviceStats:
    """Counters of one device; small, since a fleet holds ten thousand of them."""

    register_attempts: int = 0
    register_failures: int = 0
    keepalives_sent: int = 0
    keepalives_answered: int = 0
    queries_answered: int = 0
    messages_sent: int = 0
    controls_applied: int = 0
    alarms_sent: int = 0
    alarms_acknowledged: int = 0
    notifies_sent: int = 0
    streams_started: int = 0
    streams_active: int = 0
    rtp_packets_sent: int = 0
    rtp_bytes_sent: int = 0


@dataclass(frozen=True)
class FleetStats:
    """A fleet's counters summed, with how many devices are registered and online right now."""

    devices: int
    registered: int
    online: int
    register_attempts: int = 0
    register_failures: int = 0
    keepalives_sent: int = 0
    keepalives_answered: int = 0
    queries_answered: int = 0
    messages_sent: int = 0
    controls_applied: int = 0
    alarms_sent: int = 0
    alarms_acknowledged: int = 0
    notifies_sent: int = 0
    streams_started: int = 0
    streams_active: int = 0
    rtp_packets_sent: int = 0
    rtp_bytes_sent: int = 0

    @classmethod
    def total(cls, devices: int, registered: int, online: int, parts: list[DeviceStats]) -> FleetStats:
        sums = {f.name: sum(getattr(p, f.name) for p in parts) for f in fields(DeviceStats)}
        return cls(devices, registered, online, **sums)

    def line(self) -> str:
        """One line for a terminal: the figures a person watching a fleet looks at."""
        return (
            f"registered {self.registered}/{self.devices}  online {self.online}  "
            f"keepalives {self.keepalives_answered}/{self.keepalives_sent}  queries {self.queries_answered}  "
            f"controls {self.controls_applied}  alarms {self.alarms_acknowledged}/{self.alarms_sent}  "
            f"streams {self.streams_active} ({self.streams_started} started)  "
            f"rtp {self.rtp_packets_sent} pkts {self.rtp_bytes_sent / 1e6:.1f} MB  "
            f"register failures {self.register_failures}"
        )
