"""Register storm: 10,000 simulated devices REGISTER with digest at once against `tianyan serve --role sip`.

The server runs in its own process on a fresh database (SQLite by default, `--pg` for PostgreSQL); the
devices run in this one, each on its own UDP socket as real cameras are. Measured: the time from the first
REGISTER until every device holds a 200 OK, until the database shows every device online, and the server's
CPU and memory. Floor: the storm completes in <= 20 s.

    .venv/bin/python bench/sip_register_storm.py [--quick] [--devices N] [--pg [URL]]

The last line of output is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
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

FULL_DEVICES = 10_000
QUICK_DEVICES = 1_000
FLOOR_S = 20.0


async def storm(devices: int, database_url: str, workdir: Path) -> dict[str, Any]:
    ids = device_ids(devices)
    await prepare_database(database_url, ids)
    port = free_port()
    server = ServerProcess.start(workdir, database_url, port, keepalive_interval_s=60)
    try:
        specs = fleet_specs(devices, password=PASSWORD, centre="44130200")
        assert [s.device_id for s in specs] == ids, "the fleet's IDs must be the registered devices'"
        fleet = Fleet(
            specs,
            PlatformAddress.of("127.0.0.1", port, SERVER_ID, DOMAIN),
            FleetOptions(storm=True, behaviour=Behaviour(keepalive_s=60, expires_s=3600)),
        )
        cpu_before = server.cpu_seconds()
        own_before = resource.getrusage(resource.RUSAGE_SELF)
        await fleet.start()
        started = time.perf_counter()
        done = False
        while time.perf_counter() - started < 120:
            done = await fleet.wait_until(lambda s: s.registered >= devices, timeout_s=5)
            if done:
                break
            now = fleet.stats()
            print(
                f"  {time.perf_counter() - started:5.1f} s: {now.registered:,} registered, "
                f"{now.register_attempts:,} attempts, {now.register_failures:,} failures",
                flush=True,
            )
        registered_s = time.perf_counter() - started
        stats = fleet.stats()
        online = 0
        while time.perf_counter() - started < 150:
            online = await count(database_url, "SELECT count(*) FROM devices WHERE online")
            if online >= devices:
                break
            await asyncio.sleep(0.25)
        in_database_s = time.perf_counter() - started
        cpu = server.cpu_seconds() - cpu_before
        own = resource.getrusage(resource.RUSAGE_SELF)
        fleet_cpu = own.ru_utime + own.ru_stime - own_before.ru_utime - own_before.ru_stime
        rss = server.rss_mib()
        await fleet.stop(unregister=False)
        return {
            "devices": devices,
            "registered": stats.registered,
            "complete": done,
            "seconds": round(registered_s, 2),
            "registrations_per_s": round(stats.registered / registered_s) if registered_s else None,
            "online_in_database": online,
            "seconds_until_database_online": round(in_database_s, 2),
            "server_cpu_s": round(cpu, 2),
            "server_rss_mib": round(rss, 1),
            "fleet_cpu_s": round(fleet_cpu, 2),
            "register_attempts": stats.register_attempts,
            "register_failures": stats.register_failures,
        }
    finally:
        server.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_DEVICES} devices")
    parser.add_argument("--devices", type=int)
    parser.add_argument("--pg", nargs="?", const=PG_DEFAULT, help="use PostgreSQL (a fresh database on this server)")
    args = parser.parse_args()
    devices = args.devices or (QUICK_DEVICES if args.quick else FULL_DEVICES)
    raise_file_limit()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.pg:
            url = await fresh_postgres_database(args.pg)
            try:
                result = await storm(devices, url, workdir)
            finally:
                await drop_postgres_database(args.pg, url)
            backend = "postgresql"
        else:
            result = await storm(devices, f"sqlite:///{workdir / 'bench.db'}", workdir)
            backend = "sqlite"
    result["backend"] = backend
    result["floor"] = {"seconds": FLOOR_S, "met": bool(result["complete"] and result["seconds"] <= FLOOR_S)}
    print(
        f"{backend}: {result['registered']:,}/{devices:,} devices registered with digest in {result['seconds']} s "
        f"({result['registrations_per_s']}/s); all online in the database after "
        f"{result['seconds_until_database_online']} s; server CPU {result['server_cpu_s']} s, "
        f"RSS {result['server_rss_mib']} MiB"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
