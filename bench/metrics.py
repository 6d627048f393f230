"""/metrics cost: the database figures of a 150,000-camera city on SQLite and on PostgreSQL.

Generates cameras (classes 1/2/3, 60 % online) on 40,000 devices of four type codes, a latest diagnosis for
every camera (6 % failed with one to three faults), open and closed work orders, media alarms, and three days
of 5-minute recording segments for 1 % of the cameras in four pools (1.3 million rows; a whole city keeping 30
days has about 1.3 billion, which is why that one sum is refreshed only every minute). Bulk-loads it, then times
what a scrape costs: the snapshot with the stored-bytes sum cached (every scrape past the cache period), and the
first one, which also sums the segments. Floor: 0.5 s for the cached-sum snapshot.

    .venv/bin/python bench/metrics.py [--quick] [--cameras N] [--pg URL] [--no-pg]

The last line of output is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pg_common import drop_schema  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine  # noqa: E402

from tianyan.db.engine import make_engine, make_sessionmaker  # noqa: E402
from tianyan.health.metrics import NodeMetrics  # noqa: E402
from tianyan.schema.migrate import upgrade  # noqa: E402

FULL_CAMERAS = 150_000
QUICK_CAMERAS = 20_000
FLOOR_S = 0.5
PG_DEFAULT = "postgresql://localhost:5432/test"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
FAULTS = ("blur", "colour_cast", "signal_loss", "freeze", "noise", "occlusion", "too_dark")
TYPE_CODES = ("132", "131", "118", "111")
POOLS = ("pool-a", "pool-b", "pool-c", "pool-d")
REPEATS = 5

Rows = dict[str, tuple[list[str], list[tuple[Any, ...]]]]


def city(cameras: int, segments_per_camera: int, seed: int = 7) -> Rows:
    rng = random.Random(seed)
    devices = max(1, cameras * 4 // 15)
    rows: Rows = {
        "regions": (["id", "code", "name", "level", "path", "locally_assigned"],
                    [(1, "441300", "惠州市", "city", "441300", False)]),
        "devices": (["id", "gb_id", "name", "type_code", "approval", "enabled", "created_at", "updated_at", "online",
                     "channel_class", "channel_network"],
                    [(n, f"4413020000{TYPE_CODES[n % 4]}{n:07d}", f"d{n}", TYPE_CODES[n % 4], "approved", True, T0, T0,
                      rng.random() < 0.9, 1, "police") for n in range(1, devices + 1)]),
        "cameras": (["id", "gb_id", "name", "class", "network", "region_id", "device_id", "kind", "sensitive",
                     "networked", "labels", "created_at", "updated_at", "online"],
                    [(n, f"44130200001310{n:06d}", f"c{n}", 1 + n % 3, "police", 1, 1 + n % devices, "fixed", False,
                      True, "[]", T0, T0, rng.random() < 0.6) for n in range(1, cameras + 1)]),
    }  # fmt: skip
    latest = []
    for n in range(1, cameras + 1):
        failed = rng.random() < 0.06
        faults = rng.sample(FAULTS, rng.randint(1, 3)) if failed else []
        latest.append((n, T0, "live", not failed, json.dumps(faults), "{}", int(failed)))
    rows["vqd_latest"] = (["camera_id", "at", "source", "ok", "faults", "scores", "consecutive_failures"], latest)
    orders = [
        (n, n * 7 % cameras + 1, ("offline", "vqd", "retention")[n % 3], "", ("open", "resolved", "closed")[n % 3],
         T0, T0, "{}", T0, T0 if n % 3 == 2 else None)
        for n in range(1, cameras // 20 + 1)
    ]  # fmt: skip
    rows["work_orders"] = (["id", "camera_id", "fault", "detail", "status", "opened_at", "fault_since", "evidence",
                            "updated_at", "closed_at"], orders)  # fmt: skip
    alarms = [(n, ("stream_lost", "pool_nearly_full")[n % 2], "m", T0, None if n % 4 else T0) for n in range(1, 2001)]
    rows["media_alarms"] = (["id", "kind", "message", "raised_at", "cleared_at"], alarms)
    recorded = max(1, cameras // 100)
    segments = []
    for camera in range(1, recorded + 1):
        for k in range(segments_per_camera):
            start = T0 + timedelta(minutes=5 * k)
            segments.append((len(segments) + 1, camera, POOLS[camera % 4], f"{camera}/{k}.mp4", start,
                             start + timedelta(minutes=5), 300_000_000 + k, "h264", 7500, False,
                             "closed", "live"))  # fmt: skip
    rows["recording_segments"] = (["id", "camera_id", "pool", "path", "start_at", "end_at", "bytes", "codec", "frames",
                                   "has_audio", "status", "source"], segments)  # fmt: skip
    return rows


async def load_sqlite(path: Path, rows: Rows) -> AsyncEngine:
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade(engine)
    await engine.dispose()
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")
    for table, (columns, values) in rows.items():
        marks = ", ".join("?" for _ in columns)
        text = [tuple(v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v for v in r) for r in values]
        db.executemany(f"INSERT INTO {table} ({', '.join(f'{c!r}' for c in columns)}) VALUES ({marks})", text)
    db.commit()
    db.execute("ANALYZE")
    db.commit()
    db.close()
    return make_engine(f"sqlite+aiosqlite:///{path}")


async def load_postgresql(dsn: str, schema: str, rows: Rows) -> AsyncEngine:
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
        for table, (columns, values) in rows.items():
            await conn.copy_records_to_table(table, records=values, columns=columns, schema_name=schema)
            await conn.execute(f'ANALYZE "{schema}"."{table}"')
    finally:
        await conn.close()
    return engine


async def measure(engine: AsyncEngine, cameras: int) -> dict[str, Any]:
    # max_age_s=0: every refresh rebuilds, as a scrape just past the cache period does.
    sessions = make_sessionmaker(engine)
    metrics = NodeMetrics(sessions, max_age_s=0, database_max_age_s=0, stored_max_age_s=3600, stored_wait_s=600)
    began = time.perf_counter()
    first = await metrics.refresh()
    with_stored = time.perf_counter() - began
    assert first.database is not None
    timings = []
    for _ in range(REPEATS):
        began = time.perf_counter()
        snapshot = await metrics.refresh()
        timings.append(time.perf_counter() - began)
    assert snapshot.database is not None
    online = sum(o for _, o in snapshot.database.cameras.values())
    total = sum(t for t, _ in snapshot.database.cameras.values())
    assert total == cameras, (total, cameras) and snapshot.stored is not None
    exposition = await metrics.exposition()
    return {
        "snapshot_s": round(min(timings), 4),
        "snapshot_median_s": round(sorted(timings)[len(timings) // 2], 4),
        "first_with_stored_sum_s": round(with_stored, 4),
        "cameras_online": online,
        "vqd_failed": snapshot.database.vqd_failed,
        "segments": sum(s for s, _ in (snapshot.stored or {}).values()),
        "exposition_bytes": len(exposition),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    cameras = args.cameras or (QUICK_CAMERAS if args.quick else FULL_CAMERAS)
    segments_per_camera = 3 * 288
    began = time.perf_counter()
    rows = city(cameras, segments_per_camera)
    segment_rows = len(rows["recording_segments"][1])
    print(f"generated {cameras} cameras, {segment_rows} segments in {time.perf_counter() - began:.1f} s", flush=True)
    figures: dict[str, Any] = {"bench": "metrics", "cameras": cameras, "segment_rows": segment_rows}
    with tempfile.TemporaryDirectory(prefix="tianyan-metrics-bench-") as tmp:
        engine = await load_sqlite(Path(tmp) / "city.db", rows)
        try:
            figures["sqlite"] = await measure(engine, cameras)
        finally:
            await engine.dispose()
        print(f"sqlite: {figures['sqlite']}", flush=True)
    if not args.no_pg:
        schema = f"bench_metrics_{uuid.uuid4().hex[:8]}"
        try:
            engine = await load_postgresql(args.pg, schema, rows)
            try:
                figures["postgresql"] = await measure(engine, cameras)
            finally:
                await engine.dispose()
            print(f"postgresql: {figures['postgresql']}", flush=True)
        finally:
            await drop_schema(args.pg, schema)
    worst = max(figures[b]["snapshot_s"] for b in ("sqlite", "postgresql") if b in figures)
    figures.update({"floor_s": FLOOR_S, "ok": worst <= FLOOR_S})
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_CAMERAS} cameras instead of {FULL_CAMERAS}")
    parser.add_argument("--cameras", type=int, help=f"cameras (default {FULL_CAMERAS})")
    parser.add_argument("--pg", default=PG_DEFAULT, help="PostgreSQL URL (a schema is made and dropped)")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    figures = asyncio.run(run(parser.parse_args()))
    print(json.dumps(figures))
    if not figures["ok"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
