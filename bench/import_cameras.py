"""Camera import speed and memory: a generated 100,000-row CSV into fresh SQLite and PostgreSQL databases.

Each backend runs in a child process, so its peak RSS is its own. The file is imported once (all
created) and again (all unchanged). Floor: 100,000 rows in <= 30 s and <= 1 GiB on each backend.

    .venv/bin/python bench/import_cameras.py [--quick] [--rows N] [--pg URL]

The last line of output is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FULL_ROWS = 100_000
QUICK_ROWS = 10_000
FLOOR_SECONDS = 30.0
FLOOR_RSS_MIB = 1024.0
PG_DEFAULT = "postgresql://localhost:5432/test"

COUNTIES = {"441302": "惠城区", "441303": "惠阳区", "441322": "博罗县", "441323": "惠东县", "441324": "龙门县"}
SECTORS = ("S-EDU", "S-MED", "S-FIN", "S-TRN", "S-HOT", "S-ENT")
DEVICES = 200
UNITS = 2000


def nvr_id(index: int) -> str:
    from tianyan.core import gbid

    county = list(COUNTIES)[index % len(COUNTIES)]
    return gbid.build(centre=county, type_code="118", serial=index + 1).value


def generate(path: Path, rows: int) -> None:
    """A deterministic register: all three classes, both stream sizes, units, sectors, devices, labels."""
    from tianyan.core import gbid
    from tianyan.registry.importer import COLUMNS

    counties = list(COUNTIES)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for i in range(1, rows + 1):
            county = counties[i % len(counties)]
            cls = 2 if i % 10 < 5 else 1 if i % 10 < 8 else 3
            network = {1: "police", 2: "social", 3: "local"}[cls]
            social = cls == 2
            writer.writerow([
                gbid.build(centre=county, type_code="132", network="8" if social else "0", serial=i).value,
                f"{COUNTIES[county]} 点位 {i}",
                cls,
                network,
                county,
                f"{COUNTIES[county]} 权属单位 {i % UNITS}" if social else "",
                SECTORS[i % len(SECTORS)] if social else "",
                "ptz" if i % 7 == 0 else "fixed",
                1920, 1080, 25,
                704, 576, 25,
                f"{22.5 + (i % 9973) / 10000:.6f}", f"{114.0 + (i % 7919) / 10000:.6f}",
                f"{COUNTIES[county]} 某路 {i % 500} 号",
                (date(2015, 1, 1) + timedelta(days=i % 3000)).isoformat(),
                60 if i % 11 == 0 and cls == 1 else "",
                "true" if i % 97 == 0 else "false",
                "true",
                "路口;主干道" if i % 3 == 0 else "",
                nvr_id(i % DEVICES) if i % 10 == 0 else "",
            ])  # fmt: skip


async def seed(session: Any) -> None:
    from sqlalchemy import insert, select

    from tianyan.registry import service
    from tianyan.registry.models import Device, Region

    await service.add_region(session, code="440000", name="广东省", level="province")
    await service.add_region(session, code="441300", name="惠州市", level="city", parent_code="440000")
    for code, name in COUNTIES.items():
        await service.add_region(session, code=code, name=name, level="county", parent_code="441300")
    for code in SECTORS:
        await service.add_organisation(session, kind="sector", code=code, name=code, region_code="441300")
    regions = dict((await session.execute(select(Region.code, Region.id))).tuples().all())
    await session.execute(
        insert(Device.__table__),
        [
            {"gb_id": nvr_id(i), "name": f"NVR {i}", "type_code": "118", "region_id": regions[nvr_id(i)[:6]],
             "approval": "approved", "enabled": True}
            for i in range(DEVICES)
        ],
    )  # fmt: skip
    await session.commit()


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def child(backend: str, url: str, schema: str | None, csv_path: Path) -> dict[str, Any]:
    from sqlalchemy.ext.asyncio import create_async_engine

    from tianyan.db.engine import make_engine, make_sessionmaker
    from tianyan.registry.importer import import_cameras
    from tianyan.schema.migrate import upgrade
    from tianyan.security.scope import SYSTEM

    if schema:
        engine = create_async_engine(url, connect_args={"server_settings": {"search_path": schema}})
    else:
        engine = make_engine(url)
    try:
        await upgrade(engine)
        sessions = make_sessionmaker(engine)
        async with sessions() as session:
            await seed(session)
        rss_before = peak_rss_mib()
        figures: dict[str, Any] = {}
        for label in ("first", "again"):
            async with sessions() as session:
                started = time.perf_counter()
                report = await import_cameras(session, principal=SYSTEM, path_or_stream=csv_path)
                await session.commit()
                figures[label] = (time.perf_counter() - started, report)
        first_s, first = figures["first"]
        again_s, again = figures["again"]
        rows = first.created + first.updated + first.unchanged
        return {
            "rows": rows,
            "seconds": round(first_s, 2),
            "rows_per_s": round(rows / first_s),
            "peak_rss_mib": round(peak_rss_mib(), 1),
            "rss_before_import_mib": round(rss_before, 1),
            "created": first.created,
            "refused": first.refused + again.refused,
            "reimport_seconds": round(again_s, 2),
            "reimport_rows_per_s": round(rows / again_s),
            "reimport_unchanged": again.unchanged,
        }
    finally:
        await engine.dispose()


async def _pg(dsn: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def run_backend(backend: str, csv_path: Path, workdir: Path, pg_dsn: str) -> dict[str, Any]:
    schema = None
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    else:
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        asyncio.run(_pg(pg_dsn, f'CREATE SCHEMA "{schema}"'))
        url = pg_dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        command = [sys.executable, __file__, "--child", backend, url, schema or "", str(csv_path)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{backend} run failed:\n{done.stderr}")
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        if schema:
            asyncio.run(_pg(pg_dsn, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS:,} rows instead of {FULL_ROWS:,}")
    parser.add_argument("--rows", type=int, help="number of rows (overrides --quick)")
    parser.add_argument("--pg", default=PG_DEFAULT, help="PostgreSQL database to make a throwaway schema in")
    parser.add_argument("--backend", action="append", choices=("sqlite", "postgresql"), help="default: both")
    parser.add_argument("--child", nargs=4, metavar=("BACKEND", "URL", "SCHEMA", "CSV"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        backend, url, schema, csv_path = args.child
        print(json.dumps(asyncio.run(child(backend, url, schema or None, Path(csv_path)))))
        return 0

    rows = args.rows or (QUICK_ROWS if args.quick else FULL_ROWS)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tianyan-bench-") as tmp:
        workdir = Path(tmp)
        csv_path = workdir / "cameras.csv"
        started = time.perf_counter()
        generate(csv_path, rows)
        size_mib = csv_path.stat().st_size / 2**20
        print(f"generated {rows:,} rows ({size_mib:.1f} MiB) in {time.perf_counter() - started:.1f} s")
        for backend in args.backend or ("sqlite", "postgresql"):
            figures = run_backend(backend, csv_path, workdir, args.pg)
            results[backend] = figures
            f = figures
            print(
                f"{backend:>10}: {f['rows']:,} rows in {f['seconds']} s ({f['rows_per_s']:,} rows/s), "
                f"peak RSS {f['peak_rss_mib']} MiB; re-import {f['reimport_unchanged']:,} unchanged "
                f"in {f['reimport_seconds']} s"
            )
    # The floor is stated for 100,000 rows; smaller runs are scaled to it.
    scale = FULL_ROWS / rows
    meets = all(
        r["seconds"] * scale <= FLOOR_SECONDS and r["peak_rss_mib"] <= FLOOR_RSS_MIB and r["refused"] == 0
        for r in results.values()
    )
    results["floor"] = {"rows": FULL_ROWS, "seconds": FLOOR_SECONDS, "peak_rss_mib": FLOOR_RSS_MIB, "met": meets}
    print(json.dumps(results, ensure_ascii=False))
    return 0 if meets else 1


if __name__ == "__main__":
    sys.exit(main())
