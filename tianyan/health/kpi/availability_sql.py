"""Online and intact seconds per camera, as intervals built from availability_transitions and vqd_events.

A camera counts from `start` (the later of the period start and its creation) in state `online0`, the state
its last transition at or before then left it in. Each transition after `start` and before the end opens an
interval that runs to the next transition (ordered by time, then id) or to the end. The online intervals
("spans") are stored; a repeated state ("online" after "online") only splits one, so it changes no sum. The
faulty-verdict intervals ("faults") are built the same way from the verdict at `start` and vqd_events. A camera
is intact while online and not faulty (an undiagnosed camera is not faulty), so its intact seconds are its
online seconds less the overlap of its spans with its faults ("lost"), which only faulty cameras have.

The next row comes from the (camera_id, at) index: on SQLite a correlated lookup per online row, which keeps the
scan in index order (no sort) and fills the key-ordered temporary tables in order; on PostgreSQL a LEAD window,
which its in-memory sort does faster than a million lookups. Both give the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table

from tianyan.health.kpi.backend import DAY_MS, run
from tianyan.health.kpi.workspace import Workspace


def _intervals_sql(space: Workspace, *, target: Table, source: str, state: str, initial: str, wanted: int) -> str:
    """INSERT the intervals a camera spent with `state` = `wanted` into `target`.

    `source` (availability_transitions or vqd_events) with boolean column `state`; `initial`: the camera
    table's column holding the value when it starts counting.
    """
    backend, origin, cameras = space.backend, space.frame.origin, space.cameras.name
    t = backend.millis("x.at", origin)
    if backend.sqlite:
        after_start = f"""(SELECT {backend.millis("n.at", origin)} FROM {source} n
            WHERE n.camera_id = c.id AND n.at > c.start_at AND n.at < :end ORDER BY n.at, n.id LIMIT 1)"""
        after_row = f"""(SELECT {backend.millis("n.at", origin)} FROM {source} n
            WHERE n.camera_id = x.camera_id AND n.at >= x.at AND n.at < :end AND (n.at > x.at OR n.id > x.id)
            ORDER BY n.at, n.id LIMIT 1)"""
        return f"""
        INSERT INTO {target.name} (cid, a, sid, b)
        SELECT c.id, c.start_ms, 0, COALESCE({after_start}, :end_ms)
        FROM {space.cameras.name} c WHERE c.{initial} = {wanted}
        UNION ALL
        SELECT c.id, {t}, x.id, COALESCE({after_row}, :end_ms)
        FROM {cameras} c JOIN {source} x ON x.camera_id = c.id
        WHERE x.at > c.start_at AND x.at < :end AND CAST(x.{state} AS INTEGER) = {wanted}"""
    return f"""
    INSERT INTO {target.name} (cid, a, sid, b)
    SELECT cid, t, sid, b FROM (
        SELECT cid, t, sid, v, COALESCE(LEAD(t) OVER (PARTITION BY cid ORDER BY t, sid), :end_ms) AS b
        FROM (
            SELECT c.id AS cid, c.start_ms AS t, 0 AS sid, c.{initial} AS v FROM {cameras} c
            WHERE c.{initial} = {wanted}
            UNION ALL
            SELECT c.id, {t}, x.id, CAST(x.{state} AS INTEGER)
            FROM {cameras} c JOIN {source} x ON x.camera_id = c.id
            WHERE x.at > c.start_at AND x.at >= :start AND x.at < :end
        ) moves
    ) led WHERE v = {wanted}"""


async def fill_intervals(space: Workspace) -> None:
    """The spans (online intervals) and faults (faulty-verdict intervals) of every camera."""
    frame = space.frame
    params = {"start": frame.start, "end": frame.end, "end_ms": frame.end_ms}
    for target, source, state, initial, wanted in (
        (space.spans, "availability_transitions", "online", "online0", 1),
        (space.faults, "vqd_events", "ok", "ok0", 0),
    ):
        sql = _intervals_sql(space, target=target, source=source, state=state, initial=initial, wanted=wanted)
        await run(space.session, sql, **params)
        await space.analyse(target)


def online_sql(space: Workspace) -> str:
    """Per camera with spans: (cid, online_ms, online_end); uses :end_ms. Read in key order on SQLite."""
    return f"""
        SELECT cid, SUM(b - a) AS online_ms, MAX(CASE WHEN b >= :end_ms THEN 1 ELSE 0 END) AS online_end
        FROM {space.spans.name} GROUP BY cid"""


def lost_sql(space: Workspace) -> str:
    """Per faulty camera: (cid, lost_ms, lost_end), the time it was online while faulty; uses :end_ms."""
    return f"""
        SELECT cid, SUM(b - a) AS lost_ms, MAX(CASE WHEN b >= :end_ms THEN 1 ELSE 0 END) AS lost_end
        FROM ({overlaps_sql(space)}) o GROUP BY cid"""


def overlaps_sql(space: Workspace) -> str:
    """Rows (cid, a, b): the parts of online spans inside faulty intervals."""
    return f"""
        SELECT s.cid, CASE WHEN s.a > f.a THEN s.a ELSE f.a END AS a, CASE WHEN s.b < f.b THEN s.b ELSE f.b END AS b
        FROM {space.faults.name} f JOIN {space.spans.name} s ON s.cid = f.cid AND s.a < f.b AND s.b > f.a"""


@dataclass(frozen=True)
class DaySpans:
    """Intervals grouped by the local days they start and end in (day 0 is the period's first day).

    Times are milliseconds since day 0's local midnight; an interval ending at a midnight ends in the next day.
    `running`: how many run to the measured end. Kind: online, or lost (online while faulty).
    """

    kind: str
    first_day: int
    last_day: int
    count: int
    sum_a: int
    sum_b: int
    running: int


async def day_spans(space: Workspace, day0_ms: int) -> list[DaySpans]:
    """Online and lost intervals grouped by (first day, last day): a few hundred rows for a month, from which
    the trend spreads time over days. `day0_ms`: the first local midnight, milliseconds since the origin."""
    backend, frame = space.backend, space.frame
    a, b = f"(a - {int(day0_ms)})", f"(b - {int(day0_ms)})"
    first, last = backend.floor_div(a, DAY_MS), backend.floor_div(b, DAY_MS)
    out = []
    for kind, rows in (("online", f"SELECT a, b FROM {space.spans.name}"), ("lost", overlaps_sql(space))):
        sql = f"""
        SELECT {first}, {last}, COUNT(*), SUM({a}), SUM({b}), SUM(CASE WHEN b >= :end_ms THEN 1 ELSE 0 END)
        FROM ({rows}) intervals WHERE b > a
        GROUP BY {first}, {last}"""
        for row in await run(space.session, sql, end_ms=frame.end_ms):
            out.append(DaySpans(kind, *(int(v) for v in row)))
    return out
