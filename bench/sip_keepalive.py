"""Keepalive load: 50,000 simulated devices online, each sending its keepalive every 60 s.

The server (`tianyan serve --role sip`, its own process, fresh SQLite database unless `--pg`) first takes the
registrations, spread over a ramp; then, in steady state, its CPU is measured over a window longer than one
keepalive interval. The follow-up questions a platform asks a device that comes online (DeviceInfo, settings,
catalog) are slowed to a trickle (one device every ten seconds), so that the window measures keeping 50,000
devices alive, not the catch-up after all of them came online at once (bench/sip_register_storm.py has that).
Floor: under 50 % of one core, and no device wrongly marked offline (no offline transition stored, every
device online at the end).

    .venv/bin/python bench/sip_keepalive.py [--quick] [--devices N] [--interval S] [--window S] [--pg [URL]]

The last line of output is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from sip_common import (
    DOMAIN,
    PASSWORD,
    PG_DEFAULT,
    SERVER_ID,
    ServerProcess,
    count,
    device_ids,
    drop_postgres_database,
    free_port,
    fresh_postgres_database,
    prepare_database,
    raise_file_limit,
)

from tianyan.sim.gb28181.fleet import Fleet, FleetOptions, fleet_specs
from tianyan.sim.gb28181.profile import Behaviour, PlatformAddress

FULL = {"devices": 50_000, "interval": 60.0, "window": 90.0, "ramp": 60.0}
QUICK = {"devices": 5_000, "interval": 10.0, "window": 20.0, "ramp": 5.0}
FLOOR_CORE_SHARE = 0.50
DEVICES_PER_SOCKET = 50  # 50,000 devices on 1,000 sockets: the file limit here is 20,000


async def measure(
    devices: int, interval_s: float, window_s: float, ramp_s: float, url: str, workdir: Path
) -> dict[str, Any]:
    ids = device_ids(devices)
    await prepare_database(url, ids)
    port = free_port()
    server = ServerProcess.start(
        workdir, url, port, keepalive_interval_s=int(interval_s), keepalive_missed=3, follow_up_rate_per_s=0.1
    )
    try:
        fleet = Fleet(
            fleet_specs(devices, password=PASSWORD, centre="44130200"),
            PlatformAddress.of("127.0.0.1", port, SERVER_ID, DOMAIN),
            FleetOptions(
                sockets=max(1, devices // DEVICES_PER_SOCKET),
                ramp_s=ramp_s,
                behaviour=Behaviour(keepalive_s=interval_s, expires_s=86_400),
            ),
        )
        started = time.perf_counter()
        await fleet.start()
        registered = await fleet.wait_until(lambda s: s.registered >= devices, timeout_s=ramp_s + 300, poll_s=0.5)
        registered_s = time.perf_counter() - started
        print(
            f"  {fleet.stats().registered:,} registered in {registered_s:.1f} s; waiting for the follow-ups", flush=True
        )
        # Steady state: the registrations done and their first keepalives spread over an interval.
        await asyncio.sleep(min(interval_s, 30.0))
        before_cpu = server.cpu_seconds()
        before_keepalives = fleet.stats().keepalives_answered
        window_started = time.perf_counter()
        await asyncio.sleep(window_s)
        elapsed = time.perf_counter() - window_started
        cpu = server.cpu_seconds() - before_cpu
        keepalives = fleet.stats().keepalives_answered - before_keepalives
        rss = server.rss_mib()
        await asyncio.sleep(2)
        online = await count(url, "SELECT count(*) FROM devices WHERE online")
        wrongly_offline = await count(url, "SELECT count(*) FROM availability_transitions WHERE NOT online")
        stats = fleet.stats()
        await fleet.stop(unregister=False)
        return {
            "devices": devices,
            "registered": stats.registered,
            "all_registered": registered,
            "registration_seconds": round(registered_s, 1),
            "keepalive_interval_s": interval_s,
            "window_s": round(elapsed, 1),
            "keepalives_in_window": keepalives,
            "keepalives_per_s": round(keepalives / elapsed, 1),
            "server_cpu_s": round(cpu, 2),
            "server_core_share": round(cpu / elapsed, 3),
            "server_cpu_us_per_keepalive": round(cpu / keepalives * 1e6) if keepalives else None,
            "server_rss_mib": round(rss, 1),
            "online_in_database": online,
            "offline_transitions": wrongly_offline,
        }
    finally:
        server.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 devices keeping alive every 10 s")
    parser.add_argument("--devices", type=int)
    parser.add_argument("--interval", type=float, help="keepalive interval in seconds")
    parser.add_argument("--window", type=float, help="how long to measure the server's CPU, in seconds")
    parser.add_argument("--pg", nargs="?", const=PG_DEFAULT, help="use PostgreSQL (a fresh database on this server)")
    args = parser.parse_args()
    plan = dict(QUICK if args.quick else FULL)
    for key in ("devices", "interval", "window"):
        if getattr(args, key) is not None:
            plan[key] = getattr(args, key)
    raise_file_limit()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        run = (int(plan["devices"]), float(plan["interval"]), float(plan["window"]), float(plan["ramp"]))
        if args.pg:
            url = await fresh_postgres_database(args.pg)
            try:
                result = await measure(*run, url, workdir)
            finally:
                await drop_postgres_database(args.pg, url)
            backend = "postgresql"
        else:
            result = await measure(*run, f"sqlite:///{workdir / 'bench.db'}", workdir)
            backend = "sqlite"
    result["backend"] = backend
    met = (
        result["server_core_share"] < FLOOR_CORE_SHARE
        and result["offline_transitions"] == 0
        and result["online_in_database"] == result["devices"]
    )
    result["floor"] = {"server_core_share": FLOOR_CORE_SHARE, "offline_transitions": 0, "met": met}
    print(
        f"{backend}: {result['devices']:,} devices keeping alive every {result['keepalive_interval_s']:.0f} s: "
        f"{result['keepalives_per_s']}/s; server at {result['server_core_share'] * 100:.1f} % of a core "
        f"({result['server_cpu_us_per_keepalive']} us a keepalive), RSS {result['server_rss_mib']} MiB; "
        f"{result['online_in_database']:,} online, {result['offline_transitions']} offline transitions"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
