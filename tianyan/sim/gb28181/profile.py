"""What a simulated device is — identity, channels, the platform it joins — and the knobs of its behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

from tianyan.core import gbid
from tianyan.gb28181.sip.transaction import Timers
from tianyan.sim import video_faults
from tianyan.sim.video import SIZES

DeviceKind = Literal["ipc", "nvr", "vehicle"]
SipTransportName = Literal["UDP", "TCP"]
KINDS: tuple[DeviceKind, ...] = ("ipc", "nvr", "vehicle")
# GB/T 28181 type codes: the device itself, its camera channels, its alarm inputs.
DEVICE_TYPE: dict[DeviceKind, str] = {"ipc": "132", "nvr": "118", "vehicle": "132"}
CAMERA_TYPE = "131"
ALARM_INPUT_TYPE = "134"
MAX_SERIAL = 999_999
# MANSCDP times are Beijing local time without a zone; the simulator keeps its clocks in it too.
BEIJING = timezone(timedelta(hours=8))


def beijing_now() -> datetime:
    """Now as a naive Beijing time, the form MANSCDP bodies carry."""
    return datetime.now(BEIJING).replace(tzinfo=None)


def beijing_of_unix(seconds: float) -> datetime:
    """A Unix time (SDP t= values) as a naive Beijing time."""
    return datetime.fromtimestamp(seconds, BEIJING).replace(tzinfo=None)


@dataclass(frozen=True)
class PlatformAddress:
    """The SIP server a device registers with: where it listens, its 20-digit ID and its domain (realm)."""

    host: str
    port: int
    server_id: str
    domain: str

    @classmethod
    def of(cls, host: str, port: int, server_id: str, domain: str | None = None) -> PlatformAddress:
        """`domain` defaults to the first 10 digits of the server ID, as GB/T 28181 defines the realm."""
        gbid.parse(server_id)
        return cls(host, port, server_id, domain or server_id[:10])


@dataclass(frozen=True)
class Behaviour:
    """How devices behave on the wire; one value is shared by every device of a fleet."""

    keepalive_s: float = 60.0
    keepalive_misses: int = 3  # HeartBeatCount: after this many unanswered keepalives the device re-registers
    expires_s: int = 3600
    retry_s: float = 5.0  # first back-off after a failed REGISTER; doubles up to retry_max_s
    retry_max_s: float = 300.0
    digest_qop: bool = False  # answer qop=auth when offered; most field devices answer without qop
    reboot_s: float = 5.0  # how long a TeleBoot keeps the device silent
    alarm_rate_per_h: float = 0.0  # random alarms per device per hour (0: only on demand)
    position_interval_s: float | None = None  # unsolicited MobilePosition MESSAGEs (vehicles), besides SUBSCRIBE
    catalog_items_per_message: int | None = None  # None: as many as fit a UDP datagram
    charset: str = "GB2312"
    timers: Timers = field(default_factory=Timers)
    # The first keepalive after registering comes at a random point of this share of the interval, so a fleet
    # registered in one storm does not keep alive in lock-step ever after.
    keepalive_spread: float = 1.0
    # Concurrent media sessions per device; more are refused with 486. None: four a channel (live main and sub, a
    # playback, a download), at least 16, so an NVR can send every channel at once as real ones can.
    max_sessions: int | None = None
    vehicle_speed_kmh: float = 40.0

    def session_limit(self, channels: int) -> int:
        return self.max_sessions if self.max_sessions is not None else max(16, 4 * channels)

    def __post_init__(self) -> None:
        if self.keepalive_s <= 0 or self.expires_s < 0 or self.retry_s <= 0 or self.retry_max_s < self.retry_s:
            raise ValueError("keepalive_s, retry_s must be positive, expires_s non-negative, retry_max_s >= retry_s")
        if self.keepalive_misses < 1 or not 0 <= self.keepalive_spread <= 1:
            raise ValueError("keepalive_misses must be at least 1 and keepalive_spread within 0..1")


@dataclass(frozen=True)
class VideoSettings:
    """What the devices stream: synthetic video at these sizes, or a file looped, at `fps`."""

    main_size: str = "720p"
    sub_size: str = "cif"
    fps: int = 25
    file: Path | None = None
    # (channel ID, fault) pairs: those channels stream a spoiled picture (see tianyan.sim.video_faults).
    picture_faults: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        for size in (self.main_size, self.sub_size):
            if size not in SIZES:
                raise ValueError(f"video size must be one of {', '.join(SIZES)}, got {size!r}")
        for _, fault in self.picture_faults:
            video_faults.check(fault)

    def fault_of(self, channel_id: str) -> str | None:
        return dict(self.picture_faults).get(channel_id)


@dataclass(frozen=True)
class DeviceSpec:
    """One device's identity and what it carries; pure data, so ten thousand of them stay small."""

    device_id: str
    password: str
    kind: DeviceKind
    name: str
    channel_ids: tuple[str, ...]
    alarm_input_ids: tuple[str, ...] = ()
    latitude: float = 23.111
    longitude: float = 114.416
    address: str | None = None
    route: int = 0  # which of routes.ROUTES a vehicle drives
    route_offset_m: float = 0.0
    manufacturer: str = "Tianyan"
    firmware: str = "V2.6.1 build 260101"

    @property
    def model(self) -> str:
        return {"ipc": "TY-IPC-2T", "nvr": f"TY-NVR-{len(self.channel_ids)}", "vehicle": "TY-MDVR-4G"}[self.kind]

    @property
    def civil_code(self) -> str:
        return gbid.parse(self.device_id).region_code

    @classmethod
    def build(
        cls,
        device_id: str,
        password: str,
        *,
        kind: DeviceKind = "ipc",
        channels: int = 1,
        alarm_inputs: int = 0,
        first_channel_serial: int | None = None,
        name: str | None = None,
        **extra: object,
    ) -> DeviceSpec:
        """Channel and alarm-input IDs share the device's centre, industry and network; their serials start at
        `first_channel_serial` (default: the device's own serial for a one-channel device, else 1)."""
        parsed = gbid.parse(device_id)
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if channels < 1 or alarm_inputs < 0:
            raise ValueError("a device has at least one channel and no negative number of alarm inputs")
        if first_channel_serial is None:
            first_channel_serial = int(parsed.serial) if channels == 1 else 1
        return cls(
            device_id=device_id,
            password=password,
            kind=kind,
            name=name or f"{kind.upper()}-{parsed.serial}",
            channel_ids=derived_ids(parsed, CAMERA_TYPE, first_channel_serial, channels),
            alarm_input_ids=derived_ids(parsed, ALARM_INPUT_TYPE, first_channel_serial, alarm_inputs),
            **extra,  # type: ignore[arg-type]
        )


def derived_ids(device: gbid.GbId, type_code: str, first_serial: int, count: int) -> tuple[str, ...]:
    """`count` IDs of `type_code` beside `device` (same centre, industry, network), serials from `first_serial`."""
    if count and not 0 <= first_serial <= MAX_SERIAL - count + 1:
        raise ValueError(f"serials {first_serial}..{first_serial + count - 1} do not fit six digits")
    head = device.centre + device.industry
    return tuple(f"{head}{type_code}{device.network}{first_serial + i:06d}" for i in range(count))
