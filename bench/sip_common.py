"""What the SIP benchmarks share: a prepared database, the real `tianyan serve --role sip` in a child process
(so its CPU is its own), and a fleet of simulated devices in this process."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402

from tianyan.config import async_url  # noqa: E402
from tianyan.core import gbid  # noqa: E402
from tianyan.db.engine import make_engine  # noqa: E402
from tianyan.registry.models import Device, Region  # noqa: E402
from tianyan.schema.migrate import upgrade  # noqa: E402

SERVER_ID = "44130000002000000001"
DOMAIN = "4413000000"
PASSWORD = "Bench-Password-1"
CENTRE = "44130200"
PG_DEFAULT = "postgresql://localhost:5432/test"


def device_ids(count: int, *, first_serial: int = 1) -> list[str]:
    return [gbid.build(centre=CENTRE, type_code="132", serial=first_serial + n).value for n in range(count)]


def raise_file_limit() -> int:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


async def prepare_database(url: str, devices: list[str]) -> None:
    """Migrate a fresh database and register the devices (approved, in 惠城区) the fleet will be."""
    engine = make_engine(async_url(url))
    try:
        await upgrade(engine)
        async with engine.begin() as conn:
            await conn.execute(insert(Region), [
                {"id": 1, "code": "440000", "name": "广东省", "level": "province", "path": "/440000/",
                 "locally_assigned": False},
                {"id": 2, "code": "441300", "name": "惠州市", "level": "city", "path": "/440000/441300/",
                 "locally_assigned": False, "parent_id": 1},
                {"id": 3, "code": "441302", "name": "惠城区", "level": "county", "path": "/440000/441300/441302/",
                 "locally_assigned": False, "parent_id": 2},
            ])  # fmt: skip
            rows = [{"gb_id": d, "name": f"bench {d[-6:]}", "type_code": "132", "region_id": 3, "approval": "approved",
                     "enabled": True, "online": False, "channel_class": 1, "channel_network": "police"}
                    for d in devices]  # fmt: skip
            for start in range(0, len(rows), 5000):
                await conn.execute(insert(Device), rows[start : start + 5000])
    finally:
        await engine.dispose()


async def fresh_postgres_database(base_url: str) -> str:
    """A database of its own for one run (dropped by the caller with drop_postgres_database)."""
    import asyncpg

    name = f"bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(base_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return base_url.rsplit("/", 1)[0] + f"/{name}"


async def drop_postgres_database(base_url: str, url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(base_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await conn.close()


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | list):
        return json.dumps(value)
    return str(value)


@dataclass
class ServerProcess:
    """`tianyan serve --role sip` with a configuration written for the run."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @classmethod
    def start(cls, workdir: Path, database_url: str, port: int, **sip: Any) -> ServerProcess:
        settings = {"host": "127.0.0.1", "port": port, "id": SERVER_ID, "domain": DOMAIN, "password": PASSWORD,
                    "transports": ["udp"], "rate_per_source_per_s": 500.0, "rate_burst": 2000, **sip}  # fmt: skip
        lines = ["[server]", f'data_dir = "{workdir}"', "[database]", f'url = "{database_url}"', "[sip]"]
        lines += [f"{key} = {_toml(value)}" for key, value in settings.items()]
        config = workdir / "bench.toml"
        config.write_text("\n".join(lines) + "\n")
        log = workdir / "server.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            [sys.executable, "-m", "tianyan", "serve", "--role", "sip", "--config", str(config)],
            stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env, cwd=ROOT,
        )  # fmt: skip
        server = cls(process, port, log)
        server._wait_ready()
        return server

    def _wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if "listening on" in self.log.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"the SIP server exited:\n{self.log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)
        raise RuntimeError("the SIP server did not start in time")

    def cpu_seconds(self) -> float:
        """User + system CPU the server process has used so far (from /proc)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def count(url: str, sql: str) -> int:
    engine = make_engine(async_url(url))
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text(sql))).scalar_one())
    finally:
        await engine.dispose()


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        return int(udp.getsockname()[1])


async def settle(seconds: float) -> None:
    await asyncio.sleep(seconds)
