"""Live start: from a viewer's request to the first fMP4 fragment, against simulated GB/T 28181 cameras.

The platform (SIP server, media plane, live muxers) and the simulated IPCs run in this process on loopback.
Every trial asks for a channel nobody is watching, so each one pays the whole path: INVITE, the device's
answer and ACK, the first RTP, PS demux, the keyframe, and the fMP4 init segment and first fragment.
Floor: p50 <= 500 ms.

    .venv/bin/python bench/live_start.py [--quick] [--trials N] [--transport udp|tcp-passive|tcp-active]

The last line of output is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sip_common import DOMAIN, PASSWORD, SERVER_ID, device_ids, prepare_database
from sqlalchemy import func, select

from tianyan.app.platform import Platform
from tianyan.config import Config, DatabaseConfig, MediaConfig, ServerConfig, SipConfig
from tianyan.registry.models import Camera
from tianyan.sim.gb28181.device import SimDevice
from tianyan.sim.gb28181.profile import Behaviour, DeviceSpec, PlatformAddress, VideoSettings

FLOOR_P50_MS = 500.0


def _is_fragment(message: object) -> bool:
    return isinstance(message, bytes | bytearray) and message[4:8] == b"moof"


async def run(trials: int, devices: int, transport: str, workdir: Path) -> dict[str, Any]:
    url = f"sqlite:///{workdir / 'bench.db'}"
    ids = device_ids(devices)
    await prepare_database(url, ids)
    config = Config(
        server=ServerConfig(data_dir=workdir),
        database=DatabaseConfig(url=url),
        sip=SipConfig(port=0, id=SERVER_ID, domain=DOMAIN, password=PASSWORD, transports=["udp"]),
        media=MediaConfig(record_classes=[], live_grace_s=0, rtp_transport=transport, retention_sweep_s=3600),
    )
    platform = await Platform.open(config)
    sims: list[SimDevice] = []
    try:
        sip = await platform.start_sip()
        media = await platform.start_media()
        address = PlatformAddress.of("127.0.0.1", sip.port, SERVER_ID, DOMAIN)
        video = VideoSettings(main_size="720p", sub_size="cif")
        for device_id in ids:
            spec = DeviceSpec.build(device_id, PASSWORD)
            sims.append(await SimDevice.standalone(spec, address, behaviour=Behaviour(keepalive_s=30), video=video))
        channels = [channel for sim in sims for channel in sim.spec.channel_ids]
        await _until_cameras_online(platform, len(channels))
        timings_ms: list[float] = []
        for trial in range(trials):
            channel = channels[trial % len(channels)]
            began = time.perf_counter()
            viewer = await media.live.watch(channel)
            while not _is_fragment(await viewer.next()):
                pass
            timings_ms.append((time.perf_counter() - began) * 1000)
            await media.live.leave(viewer)
            await _until_idle(media, channel)
    finally:
        for sim in sims:
            await sim.stop()
        await platform.close()
    timings_ms.sort()
    p50 = statistics.median(timings_ms)
    return {
        "bench": "live_start",
        "transport": transport,
        "trials": trials,
        "p50_ms": round(p50, 1),
        "p90_ms": round(timings_ms[int(len(timings_ms) * 0.9) - 1], 1),
        "max_ms": round(timings_ms[-1], 1),
        "min_ms": round(timings_ms[0], 1),
        "floor_p50_ms": FLOOR_P50_MS,
        "meets_floor": p50 <= FLOOR_P50_MS,
    }


async def _until_cameras_online(platform: Platform, expected: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        async with platform.sessions() as session:
            online = (await session.execute(select(func.count()).where(Camera.online.is_(True)))).scalar_one()
        if online >= expected:
            return
        await asyncio.sleep(0.2)
    raise SystemExit(f"only {online} of {expected} cameras came online")


async def _until_idle(media: Any, channel: str) -> None:
    # The next trial on this channel must be a cold start: wait until its upstream is gone.
    for _ in range(200):
        if media.hub.feed(channel) is None:
            return
        await asyncio.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 trials on 4 cameras")
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--transport", default="udp", choices=["udp", "tcp-passive", "tcp-active"])
    args = parser.parse_args()
    trials, devices = (20, 4) if args.quick else (args.trials, args.devices)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="tianyan-live-") as tmp:
        result = asyncio.run(run(trials, devices, args.transport, Path(tmp)))
    print(
        f"live start over {result['trials']} cold starts ({result['transport']}): p50 {result['p50_ms']} ms, "
        f"p90 {result['p90_ms']} ms, max {result['max_ms']} ms (floor p50 <= {FLOOR_P50_MS:.0f} ms)"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
