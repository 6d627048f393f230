"""KPI report speed: a month of a 150,000-camera city on SQLite and on PostgreSQL.

Generates a city (a region tree of districts and police stations, classes 1/2/3, police/social/local
networks, industry sectors, owning units, stream formats from 640x480 to 1080p and unknown), a month of
availability transitions (most cameras 0-4, about 10 % flapping with dozens, some repeating a state, 2 %
created during the month, 3 % never online), picture-diagnosis changes, and 31 recording days per class 1/2
camera; bulk-loads it (executemany into a temporary SQLite file, COPY into a PostgreSQL schema dropped
afterwards), then times `compute_report` for the whole city with breakdowns by district, class, network and
sector, the 20 worst cameras and a daily trend. Both backends must give the same figures.
Floor: 10 s per backend for 150,000 cameras.

    .venv/bin/python bench/kpi.py [--quick] [--cameras N] [--pg URL] [--seed N]

The last line of output is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import io
import json
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine  # noqa: E402

from tianyan.db.engine import make_engine  # noqa: E402
from tianyan.health.kpi.engine import compute_report  # noqa: E402
from tianyan.health.kpi.model import BY_CLASS, BY_DISTRICT, BY_NETWORK, BY_SECTOR, CameraSet, KpiReport, Period  # noqa: E402
from tianyan.planning.catalogue import load_plan  # noqa: E402
from tianyan.schema.migrate import upgrade  # noqa: E402
from tianyan.security.scope import SYSTEM  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kpi_city import END, START, Table, generate, rows_of  # noqa: E402
from pg_common import drop_schema  # noqa: E402

FULL_CAMERAS = 150_000
QUICK_CAMERAS = 20_000
FLOOR_S = 10.0
PG_DEFAULT = "postgresql://localhost:5432/test"


# --- loading -------------------------------------------------------------------------------------------------


async def load_sqlite(path: Path, tables: dict[str, Table]) -> AsyncEngine:
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade(engine)
    await engine.dispose()
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")
    for name, columns in tables.items():
        values = [[v.isoformat() if isinstance(v, date) else v for v in col] for col in columns.values()]
        marks = ", ".join("?" for _ in columns)
        quoted = ", ".join(f'"{c}"' for c in columns)
        db.executemany(f"INSERT INTO {name} ({quoted}) VALUES ({marks})", zip(*values, strict=True))
    db.commit()
    db.execute("ANALYZE")
    db.commit()
    # Into the database file, as a running installation's checkpoints keep it, not left in a 500 MB WAL.
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return make_engine(f"sqlite+aiosqlite:///{path}")


async def load_postgresql(dsn: str, schema: str, tables: dict[str, Table]) -> AsyncEngine:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()
    url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    engine = create_async_engine(url, connect_args={"server_settings": {"search_path": schema}})
    await upgrade(engine)
    conn = await asyncpg.connect(dsn)
    try:
        for name, columns in tables.items():
            timestamps = {c for c in columns if c in ("at", "created_at", "updated_at", "start_at", "end_at")}
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            for row in zip(*columns.values(), strict=True):
                writer.writerow(
                    [
                        "\\N" if v is None else f"{v}+00" if c in timestamps else v
                        for c, v in zip(columns, row, strict=True)
                    ]
                )
            data = io.BytesIO(buffer.getvalue().encode())
            await conn.copy_to_table(
                name, source=data, columns=list(columns), schema_name=schema, format="csv", null="\\N"
            )
        for name in tables:
            await conn.execute(f'VACUUM ANALYZE "{schema}"."{name}"')
        with contextlib.suppress(asyncpg.PostgresError):  # needs a superuser or pg_checkpoint
            await conn.execute("CHECKPOINT")
    finally:
        await conn.close()
    return engine


# --- timing --------------------------------------------------------------------------------------------------


def _server_cpu_s(pid: int | None) -> float:
    """CPU seconds a local PostgreSQL backend has used so far (Linux /proc; 0 when it cannot be read)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Timing:
    wall_s: float
    # This process's CPU (the SQLite engine runs in it) plus, on PostgreSQL, the server backend's: the work done,
    # whatever else the machine is running meanwhile.
    cpu_s: float


async def report(engine: AsyncEngine) -> tuple[KpiReport, Timing]:
    async with AsyncSession(engine) as session:
        pid = None
        if engine.dialect.name == "postgresql":
            pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        cpu = time.process_time() + _server_cpu_s(pid)
        began = time.perf_counter()
        result = await compute_report(
            session,
            selection=CameraSet(),
            period=Period(START, END),
            principal=SYSTEM,
            plan=load_plan("huizhou-2012-2014"),
            now=END,
            worst=20,
            breakdowns=(BY_DISTRICT, BY_CLASS, BY_NETWORK, BY_SECTOR),
            trend=True,
        )
        elapsed = time.perf_counter() - began
        used = time.process_time() + _server_cpu_s(pid) - cpu
        await session.commit()
    return result, Timing(elapsed, used)


def headline(result: KpiReport) -> dict[str, Any]:
    f = result.figures
    return {
        "cameras": f.cameras,
        "online_rate": round(f.online_rate or 0, 6),
        "integrity_rate": round(f.integrity_rate or 0, 6),
        "online_now": f.online_now,
        "undiagnosed": f.undiagnosed,
        "recording_completeness": round(f.recording_completeness or 0, 6),
        "retention_compliance": round(f.retention_compliance or 0, 6),
        "networking_rate": round(f.networking_rate or 0, 6),
        "hd_share": round(f.hd_share or 0, 6),
        "format_compliance": round(f.format_compliance or 0, 6),
        "verdicts": {f"{v.kpi} {v.applies_to}": v.status for v in result.verdicts},
    }


def fingerprint(result: KpiReport) -> str:
    """Everything the report says, rounded where floating-point sums may differ in the last bits."""

    def clean(value: Any) -> Any:
        if isinstance(value, float):
            return round(value, 4)
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    data = asdict(result)
    data.pop("computed_at")
    return json.dumps(clean(data), sort_keys=True, default=str)


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            found = first_difference(a.get(key), b.get(key), f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for n, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}[{n}]")
            if found:
                return found
        return None
    return None if a == b else f"{path}: {a!r} != {b!r}"


async def bench(backend: str, tables: dict[str, Table], dsn: str) -> tuple[dict[str, Any], str]:
    began = time.perf_counter()
    schema = f"kpi_bench_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="tianyan-kpi-bench-") as tmp:
        try:
            if backend == "sqlite":
                engine = await load_sqlite(Path(tmp) / "kpi.db", tables)
            else:
                engine = await load_postgresql(dsn, schema, tables)
            loaded = time.perf_counter() - began
            # The load's hundreds of megabytes reach the disk now, not while the report is being timed.
            os.sync()
            try:
                result, first = await report(engine)
                _, second = await report(engine)
            finally:
                await engine.dispose()
        finally:
            if backend == "postgresql":
                await drop_schema(dsn, schema)
    figures = {
        "load_s": round(loaded, 1),
        "report_s": round(first.wall_s, 2),
        "report_cpu_s": round(first.cpu_s, 2),
        "again_s": round(second.wall_s, 2),
        "again_cpu_s": round(second.cpu_s, 2),
        "load_average": round(os.getloadavg()[0], 2),
    }
    figures |= headline(result)
    print(
        f"{backend}: loaded in {loaded:.1f} s; report in {first.wall_s:.2f} s, {first.cpu_s:.2f} s CPU "
        f"(again {second.wall_s:.2f} s, {second.cpu_s:.2f} s CPU; load average {figures['load_average']}): "
        f"{result.figures.cameras} cameras, online {figures['online_rate']:.2%}, "
        f"integrity {figures['integrity_rate']:.2%}, recording {figures['recording_completeness']:.2%}, "
        f"retention {figures['retention_compliance']:.2%}, networked {figures['networking_rate']:.2%}, "
        f"HD {figures['hd_share']:.2%}, format {figures['format_compliance']:.2%}; "
        f"{len(result.trend)} trend days, {sum(len(g) for g in result.breakdowns.values())} groups",
        flush=True,
    )
    return figures, fingerprint(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_CAMERAS:,} cameras instead of {FULL_CAMERAS:,}")
    parser.add_argument("--cameras", type=int, help="number of cameras")
    parser.add_argument("--pg", default=PG_DEFAULT, help="PostgreSQL URL (a schema is created and dropped)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    n = args.cameras or (QUICK_CAMERAS if args.quick else FULL_CAMERAS)
    began = time.perf_counter()
    tables = generate(n, args.seed)
    counts = {name: rows_of(t) for name, t in tables.items()}
    print(
        f"generated {n:,} cameras, {counts['availability_transitions']:,} transitions, "
        f"{counts['vqd_events']:,} diagnosis changes, {counts['recording_days']:,} recording days "
        f"in {time.perf_counter() - began:.1f} s",
        flush=True,
    )
    results: dict[str, Any] = {}
    prints = {}
    for backend in ("sqlite", "postgresql"):
        results[backend], prints[backend] = asyncio.run(bench(backend, tables, args.pg))
    same = prints["sqlite"] == prints["postgresql"]
    print(f"both backends give the same report: {same}")
    if not same:
        print("first difference:", first_difference(json.loads(prints["sqlite"]), json.loads(prints["postgresql"])))
    ok = same and all(r["report_s"] <= FLOOR_S for r in results.values())
    figures = {
        "bench": "kpi",
        "cameras": n,
        "transitions": counts["availability_transitions"],
        "vqd_events": counts["vqd_events"],
        "recording_days": counts["recording_days"],
        "sqlite_s": results["sqlite"]["report_s"],
        "postgresql_s": results["postgresql"]["report_s"],
        "sqlite_cpu_s": results["sqlite"]["report_cpu_s"],
        "postgresql_cpu_s": results["postgresql"]["report_cpu_s"],
        "floor_s": FLOOR_S,
        "identical": same,
        "sqlite": results["sqlite"],
        "postgresql": results["postgresql"],
        "ok": ok,
    }
    print(json.dumps(figures, ensure_ascii=False))
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
