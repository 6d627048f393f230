"""The demo's simulated devices: which cameras of the generated registry come alive, registered as GB devices.

On first run a few dozen class 1 cameras spread over the Huizhou districts get an IPC each (the camera is the
IPC's channel, so the catalog it reports keeps the camera's name and place), plus one NVR with sixteen new
cameras and a few vehicle-mounted cameras driving round the city. One IPC camera a district gets a recording
plan of its own (the demo turns the by-class default off: every simulated stream is encoded on this machine).
The choice is written to the data folder, so a later `tianyan demo` brings the same devices back; they all use
the platform's default SIP password.
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core import gbid
from tianyan.media.models import RecordingPlan
from tianyan.registry.models import Camera, Device, Region
from tianyan.sim.gb28181.profile import DeviceSpec
from tianyan.sim.gb28181.routes import ROUTES
from tianyan.sim.huizhou import DISTRICTS

DEVICES_FILE = "demo-devices.json"
IPCS_PER_DISTRICT = 5
NVR_CHANNELS = 16
VEHICLES = 4
# Serials from here up are the demo's devices, clear of the generated cameras' serials.
FIRST_SERIAL = 900_001


def _device_id(centre: str, type_code: str, serial: int, network: str = "0") -> str:
    return gbid.build(centre=centre, type_code=type_code, network=network, serial=serial).value


async def create(session: AsyncSession, *, seed: int, password: str, nvrs: int = 1) -> list[DeviceSpec]:
    """Pick the cameras, register their devices (approved) and the vehicle cameras; flushes, the caller commits."""
    rng = random.Random(seed)
    regions = dict((await session.execute(select(Region.code, Region.id))).tuples().all())
    specs: list[DeviceSpec] = []
    serial = FIRST_SERIAL
    for district in DISTRICTS:
        found = (
            (
                await session.execute(
                    select(Camera)
                    .join(Region, Camera.region_id == Region.id)
                    .where(
                        Region.path.like(f"%/{district.code}/%"),
                        Camera.cls == 1,
                        Camera.kind.in_(("fixed", "ptz")),
                        Camera.latitude.is_not(None),
                        Camera.device_id.is_(None),
                    )
                    .order_by(Camera.gb_id)
                )
            )
            .scalars()
            .all()
        )
        for index, camera in enumerate(rng.sample(list(found), min(IPCS_PER_DISTRICT, len(found)))):
            if index == 0:
                # One recorded camera a district: enough to show recording, light enough for a laptop.
                session.add(RecordingPlan(camera_id=camera.id, enabled=True, stream="sub"))
            device_id = _device_id(camera.gb_id[:8], "132", serial)
            serial += 1
            specs.append(
                DeviceSpec(
                    device_id=device_id,
                    password=password,
                    kind="ipc",
                    name=camera.name,
                    channel_ids=(camera.gb_id,),
                    latitude=camera.latitude or 23.11,
                    longitude=camera.longitude or 114.41,
                    address=camera.address,
                )
            )
    centre = f"{DISTRICTS[0].code}00"
    nvr = _device_id(centre, "118", serial)
    channels = tuple(_device_id(centre, "131", FIRST_SERIAL + 500 + n) for n in range(NVR_CHANNELS))
    specs.append(
        DeviceSpec(
            device_id=nvr,
            password=password,
            kind="nvr",
            name="惠城区江北街道综治中心 NVR",
            channel_ids=channels,
            latitude=23.1135,
            longitude=114.4103,
            address="惠州市惠城区江北文昌一路",
        )
    )
    # More NVRs on request (`tianyan demo --nvrs N`), one a district in turn: a wall of simulated channels for trying
    # the console under load (the console benchmark runs ~200).
    for k in range(1, nvrs):
        district = DISTRICTS[k % len(DISTRICTS)]
        extra_centre = f"{district.code}00"
        extra = _device_id(extra_centre, "118", FIRST_SERIAL + 800 + k)
        first = FIRST_SERIAL + 1000 + k * NVR_CHANNELS
        specs.append(
            DeviceSpec(
                device_id=extra,
                password=password,
                kind="nvr",
                name=f"{district.name}视频汇聚 NVR {k + 1:02d}",
                channel_ids=tuple(_device_id(extra_centre, "131", first + n) for n in range(NVR_CHANNELS)),
                latitude=23.1135 + rng.uniform(-0.3, 0.3),
                longitude=114.4103 + rng.uniform(-0.3, 0.3),
                address=f"惠州市{district.name}",
            )
        )
    for n in range(VEHICLES):
        device_id = _device_id(centre, "132", FIRST_SERIAL + 600 + n)
        channel = _device_id(centre, "131", FIRST_SERIAL + 700 + n)
        specs.append(
            DeviceSpec(
                device_id=device_id,
                password=password,
                kind="vehicle",
                name=f"惠城巡逻车 粤L·{3100 + n}警",
                channel_ids=(channel,),
                route=n % len(ROUTES),
                route_offset_m=rng.uniform(0, 4000),
            )
        )
    await _register(session, specs, regions)
    return specs


async def _register(session: AsyncSession, specs: list[DeviceSpec], regions: dict[str, int]) -> None:
    rows = []
    for spec in specs:
        region = regions.get(spec.device_id[:6]) or regions.get(spec.device_id[:4] + "00")
        rows.append(
            {
                "gb_id": spec.device_id,
                "name": spec.name[:200],
                "type_code": spec.device_id[10:13],
                "region_id": region,
                "approval": "approved",
                "enabled": True,
                "online": False,
                "channel_class": 1,
                "channel_network": "police",
            }
        )
    await session.execute(insert(Device), rows)
    # The patrol cars' cameras are known before they first report, as vehicle cameras: the platform then
    # subscribes to their positions when they come online.
    vehicles = [spec for spec in specs if spec.kind == "vehicle"]
    if vehicles:
        region = regions[vehicles[0].device_id[:6]]
        await session.execute(
            insert(Camera.__table__),
            [
                {
                    "gb_id": spec.channel_ids[0],
                    "name": spec.name,
                    "class": 1,
                    "network": "police",
                    "region_id": region,
                    "kind": "vehicle",
                    "sensitive": False,
                    "networked": True,
                    "labels": ["巡逻车"],
                    "online": False,
                }
                for spec in vehicles
            ],
        )
    await session.flush()


def save(path: Path, specs: list[DeviceSpec]) -> None:
    path.write_text(json.dumps([dataclasses.asdict(s) for s in specs], ensure_ascii=False, indent=1), "utf-8")


def load(path: Path, *, password: str) -> list[DeviceSpec]:
    """The devices an earlier demo created (their password follows the platform's current default)."""
    if not path.exists():
        return []
    raw: list[dict[str, Any]] = json.loads(path.read_text("utf-8"))
    specs = []
    for item in raw:
        item.update(
            password=password,
            channel_ids=tuple(item["channel_ids"]),
            alarm_input_ids=tuple(item.get("alarm_input_ids", ())),
        )
        specs.append(DeviceSpec(**item))
    return specs


# The NVR's channels after its first show the faults picture diagnosis looks for, so the demo has failed
# diagnoses and work orders to show within minutes (its first channel stays clean for comparison).
DEMO_FAULTS = ("blur", "bright", "colour_cast", "frozen", "stripes", "no_signal", "black")


def picture_faults(specs: list[DeviceSpec]) -> tuple[tuple[str, str], ...]:
    nvrs = [spec for spec in specs if spec.kind == "nvr"]
    if not nvrs:
        return ()
    return tuple(zip(nvrs[0].channel_ids[1:], DEMO_FAULTS, strict=False))
