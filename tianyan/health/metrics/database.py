"""The platform-wide figures: a handful of GROUP BY queries, each answered from one table (or its index).

The per-fault VQD counts unnest the JSON fault lists of failed cameras only, in the database (SQLite's json_each,
PostgreSQL's json_array_elements_text), so no rows travel to Python. The stored-bytes sum reads every segment
row, which at city scale is many millions: the caller refreshes it less often than the rest.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.health.metrics.figures import DatabaseFigures
from tianyan.health.models import VqdLatest, WorkOrder
from tianyan.media.models import MediaAlarm, RecordingSegment
from tianyan.registry.models import Camera, Device

Stored = dict[str, tuple[int, int]]  # pool -> (segments, bytes)

# One row per (fault, camera) of a camera whose latest diagnosis failed; a list that is not a JSON array is skipped.
_FAULTS_SQL = {
    "sqlite": (
        "SELECT f.value, COUNT(DISTINCT v.camera_id) FROM vqd_latest AS v, json_each(v.faults) AS f"
        " WHERE NOT v.ok AND json_type(v.faults) = 'array' GROUP BY f.value"
    ),
    "postgresql": (
        "SELECT f.value, COUNT(DISTINCT v.camera_id) FROM vqd_latest AS v"
        " CROSS JOIN LATERAL json_array_elements_text(CASE WHEN json_typeof(v.faults) = 'array'"
        " THEN v.faults ELSE '[]'::json END) AS f(value) WHERE NOT v.ok GROUP BY f.value"
    ),
}


async def read_database(session: AsyncSession) -> DatabaseFigures:
    """Every figure but the stored bytes (read_stored)."""
    devices = await session.execute(
        select(Device.type_code, func.count(), func.count().filter(Device.online.is_(True))).group_by(Device.type_code)
    )
    cameras = await session.execute(
        select(Camera.cls, func.count(), func.count().filter(Camera.online.is_(True))).group_by(Camera.cls)
    )
    verdicts = dict((await session.execute(select(VqdLatest.ok, func.count()).group_by(VqdLatest.ok))).tuples().all())
    dialect = session.get_bind().dialect.name
    faults = await session.execute(text(_FAULTS_SQL[dialect])) if dialect in _FAULTS_SQL else None
    orders = await session.execute(
        select(WorkOrder.fault, WorkOrder.status, func.count())
        .where(WorkOrder.status != "closed")
        .group_by(WorkOrder.fault, WorkOrder.status)
    )
    alarms = await session.execute(
        select(MediaAlarm.kind, func.count()).where(MediaAlarm.cleared_at.is_(None)).group_by(MediaAlarm.kind)
    )
    return DatabaseFigures(
        devices={str(code): (int(total), int(online)) for code, total, online in devices.tuples()},
        cameras={int(cls): (int(total), int(online)) for cls, total, online in cameras.tuples()},
        vqd_ok=int(verdicts.get(True, 0)),
        vqd_failed=int(verdicts.get(False, 0)),
        vqd_faults={str(fault): int(count) for fault, count in faults.tuples()} if faults is not None else {},
        work_orders={(str(fault), str(status)): int(count) for fault, status, count in orders.tuples()},
        media_alarms={str(kind): int(count) for kind, count in alarms.tuples()},
    )


async def read_stored(session: AsyncSession) -> Stored:
    """Segments and bytes the recording index holds per pool (files known to be gone left out)."""
    rows = await session.execute(
        select(RecordingSegment.pool, func.count(), func.coalesce(func.sum(RecordingSegment.bytes), 0))
        .where(RecordingSegment.status != "missing")
        .group_by(RecordingSegment.pool)
    )
    return {str(pool): (int(segments), int(size)) for pool, segments, size in rows.tuples()}
