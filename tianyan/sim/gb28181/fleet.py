"""Many simulated devices in one process: consecutive GB IDs under a centre code, names and places in Huizhou,
one socket each or a few shared ones, started all at once (a register storm) or spread over a ramp.

The per-device cost is a DeviceSpec, a SimDevice and, unless sockets are shared, a SipEndpoint with its socket;
idle devices run no code between their keepalives, so ten thousand of them fit in one process.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tianyan.core import gbid
from tianyan.sim.gb28181.device import SimDevice
from tianyan.sim.gb28181.events import EventSink, FleetStats, ignore
from tianyan.sim.gb28181.profile import (
    DEVICE_TYPE,
    MAX_SERIAL,
    Behaviour,
    DeviceKind,
    DeviceSpec,
    PlatformAddress,
    SipTransportName,
    VideoSettings,
)
from tianyan.sim.gb28181.routes import ROUTES
from tianyan.sim.gb28181.streamer import Streamer
from tianyan.sim.gb28181.switchboard import Switchboard
from tianyan.sim.huizhou import DISTRICT_BY_CODE, DISTRICTS, Station

_KIND_NAMES = {"ipc": "球机", "nvr": "NVR", "vehicle": "车载"}
_START_BATCH = 100  # devices started per step of a ramp
_STOP_BATCH = 2000  # devices unregistering at once when the fleet stops
_NVR_CHANNELS_FROM = 100_000  # NVR cameras' serials start above this, clear of the IPCs' own


def fleet_specs(
    count: int,
    *,
    password: str,
    kind: DeviceKind = "ipc",
    channels: int = 1,
    alarm_inputs: int = 0,
    centre: str = "44130200",
    industry: str = "00",
    network: str = "0",
    first_serial: int = 1,
    first_channel_serial: int | None = None,
    seed: int = 1,
) -> list[DeviceSpec]:
    """`count` devices with consecutive serials from `first_serial` under `centre` (8 digits, or a 6-digit region
    code); their channels (and alarm inputs) get consecutive serials too, from `first_channel_serial`.

    By default a one-channel device's camera has the device's own serial, and NVR cameras count from 100001, so
    IPCs, vehicles and NVRs side by side share no ID as long as IPCs and vehicles use separate serial ranges.

    Inside Huizhou (4413…) each device gets a police-station area of its district, a road name and a place
    near the station; elsewhere a plain name and the Huizhou city centre.
    """
    centre = centre + "00" if len(centre) == 6 else centre
    if first_serial + count - 1 > MAX_SERIAL:
        raise ValueError(f"{count} devices from serial {first_serial} do not fit six digits")
    step = max(channels, alarm_inputs)
    if first_channel_serial is None:
        first_channel_serial = (first_serial - 1) * step + 1 + (_NVR_CHANNELS_FROM if kind == "nvr" else 0)
    rng = random.Random(seed)
    places = _stations(centre)
    specs = []
    for index in range(count):
        device_id = gbid.build(centre=centre, industry=industry, type_code=DEVICE_TYPE[kind], network=network,
                               serial=first_serial + index).value  # fmt: skip
        name, latitude, longitude, address = _place(places, index, kind, first_serial + index, rng)
        specs.append(
            DeviceSpec.build(
                device_id,
                password,
                kind=kind,
                channels=channels,
                alarm_inputs=alarm_inputs,
                first_channel_serial=first_channel_serial + index * step,
                name=name,
                latitude=latitude,
                longitude=longitude,
                address=address,
                route=index % len(ROUTES),
                route_offset_m=rng.uniform(0, 5000),
            )
        )
    return specs


def _stations(centre: str) -> list[tuple[str, str, Station]]:
    district = DISTRICT_BY_CODE.get(centre[:6])
    districts = (district,) if district is not None else DISTRICTS if centre.startswith("4413") else ()
    return [(d.short, road, s) for d in districts for s in d.stations for road in d.roads[:3]]


def _place(
    places: list[tuple[str, str, Station]], index: int, kind: DeviceKind, serial: int, rng: random.Random
) -> tuple[str, float, float, str | None]:
    if not places:
        return (
            f"{kind.upper()}-{serial:06d}",
            23.111 + rng.uniform(-0.02, 0.02),
            114.416 + rng.uniform(-0.02, 0.02),
            None,
        )
    district, road, station = places[index % len(places)]
    latitude = station.latitude + rng.uniform(-0.01, 0.01)
    longitude = station.longitude + rng.uniform(-0.01, 0.01)
    name = f"{district}{station.town}{road}{_KIND_NAMES[kind]}{serial:04d}"
    return name, round(latitude, 6), round(longitude, 6), f"惠州市{district}{road}{rng.randint(1, 300)}号"


@dataclass(frozen=True)
class FleetOptions:
    """How a fleet is run: where its sockets are, how many, and how it starts."""

    host: str = "127.0.0.1"
    transport: SipTransportName = "UDP"
    sockets: int | None = None  # None: one per device, as hardware has; else devices share this many
    storm: bool = False  # start every device at once
    ramp_s: float = 0.0  # otherwise spread the starts evenly over this long
    behaviour: Behaviour = field(default_factory=Behaviour)
    video: VideoSettings = field(default_factory=VideoSettings)
    seed: int = 1


class Fleet:
    """Devices with their switchboards and one shared streamer; `start()`, watch `stats()`, `stop()`."""

    def __init__(
        self,
        specs: Sequence[DeviceSpec],
        platform: PlatformAddress,
        options: FleetOptions | None = None,
        *,
        on_event: EventSink = ignore,
    ) -> None:
        self.options = options or FleetOptions()
        self.platform = platform
        self.streamer = Streamer()
        self.boards: list[Switchboard] = []
        self.devices: list[SimDevice] = []
        self._specs = list(specs)
        self._on_event = on_event
        self._by_id: dict[str, SimDevice] = {}
        self._starter: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._specs)

    def device(self, device_id: str) -> SimDevice:
        return self._by_id[device_id]

    async def start(self) -> None:
        """Open the sockets and create every device; the devices themselves start at once (storm) or over the
        ramp, in the background, so this returns as soon as the sockets are open."""
        options = self.options
        board_count = len(self._specs) if options.sockets is None else max(1, min(options.sockets, len(self._specs)))
        rng = random.Random(options.seed)
        for start in range(0, board_count, 500):
            batch = [
                Switchboard(host=options.host, transport=options.transport, timers=options.behaviour.timers)
                for _ in range(min(500, board_count - start))
            ]
            await asyncio.gather(*(board.start() for board in batch))
            self.boards.extend(batch)
        for index, spec in enumerate(self._specs):
            device = SimDevice(spec, self.platform, self.boards[index % board_count], behaviour=options.behaviour,
                               video=options.video, streamer=self.streamer, on_event=self._on_event,
                               rng=rng)  # fmt: skip
            self.devices.append(device)
            self._by_id[spec.device_id] = device
        self._starter = asyncio.get_running_loop().create_task(self._start_devices())

    async def _start_devices(self) -> None:
        options = self.options
        if options.storm or options.ramp_s <= 0:
            for device in self.devices:
                await device.start()
            return
        steps = max(1, -(-len(self.devices) // _START_BATCH))
        pause_s = options.ramp_s / steps
        for step in range(steps):
            for device in self.devices[step * _START_BATCH : (step + 1) * _START_BATCH]:
                await device.start()
            await asyncio.sleep(pause_s)

    async def stop(self, *, unregister: bool = True) -> None:
        if self._starter is not None:
            self._starter.cancel()
            await asyncio.gather(self._starter, return_exceptions=True)
        for start in range(0, len(self.devices), _STOP_BATCH):
            batch = self.devices[start : start + _STOP_BATCH]
            await asyncio.gather(*(d.stop(unregister=unregister) for d in batch), return_exceptions=True)
        await asyncio.gather(*(board.close() for board in self.boards), return_exceptions=True)
        self.streamer.close()

    def stats(self) -> FleetStats:
        registered = sum(1 for d in self.devices if d.registered)
        online = sum(1 for d in self.devices if d.online)
        return FleetStats.total(len(self._specs), registered, online, [d.stats for d in self.devices])

    async def wait_until(self, condition: Callable[[FleetStats], bool], timeout_s: float, poll_s: float = 0.05) -> bool:
        """Poll the stats until `condition` holds; False if it did not within `timeout_s`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not condition(self.stats()):
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(poll_s)
        return True
