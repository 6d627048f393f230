"""Recording completeness and retention compliance per camera from recording_days, set-based.

The rule is media.completeness.judge's, evaluated as of the measured end (`at`): a class 1 / class 2 camera must
keep 30 / 15 days (media.retention.legal_minimum_days); its window is the N - 1 full local days before `at`'s
day (the partly expired day at the far end is covered by "reaches back" instead). It is compliant when every
window day from its start on is at least 99 % complete and its oldest footage reaches back N days (less the
1 % slack), or, when it started inside the window, when it has any footage. Its start is its first day with a
recording plan, else the day of its oldest segment, else its install date; with none, "no_recordings". (Only
planned days before `at`'s day are looked at: a camera whose plan began that day has footage from that day on,
which gives the same start.)
Completeness is the planned seconds recorded over the same window days (completeness × planned, so footage
outside the plan does not count) / planned seconds. Class 3 cameras keep nothing by law: "not_required".
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from tianyan.health.kpi.backend import DAY_MS, run
from tianyan.health.kpi.workspace import LOCAL_OFFSET_S, Workspace
from tianyan.media.completeness import COMPLETE, REACH_SLACK, local_day
from tianyan.media.retention import legal_minimum_days

EPOCH_DAY = date(1970, 1, 1)


def window(cls: int, at_day: date) -> tuple[date, date]:
    """First and last day of a class's compliance window when `at` falls on `at_day`."""
    days = legal_minimum_days(cls)
    return at_day - timedelta(days=max(days - 1, 1)), at_day - timedelta(days=1)


def _params(space: Workspace) -> dict[str, Any]:
    frame = space.frame
    today = local_day(frame.end)
    from1, last = window(1, today)
    from2, _ = window(2, today)
    return {
        "from1": (from1 - EPOCH_DAY).days,
        "from2": (from2 - EPOCH_DAY).days,
        "last": (last - EPOCH_DAY).days,
        "from1_day": from1,
        "from2_day": from2,
        "last_day": last,
        "reach1": frame.end_ms - legal_minimum_days(1) * DAY_MS + REACH_SLACK // timedelta(milliseconds=1),
        "reach2": frame.end_ms - legal_minimum_days(2) * DAY_MS + REACH_SLACK // timedelta(milliseconds=1),
        "end": frame.end,
        "complete": COMPLETE,
    }


async def fill_recording(space: Workspace) -> None:
    """The recording table: one row per class 1 and 2 camera (per_camera_sql)."""
    sql, params = per_camera_sql(space)
    columns = ", ".join(c.name for c in space.recording.columns)
    await run(space.session, f"INSERT INTO {space.recording.name} ({columns}) {sql}", **params)
    await space.analyse(space.recording)


def per_camera_sql(space: Workspace) -> tuple[str, dict[str, Any]]:
    """Per class 1 and 2 camera, what it has in its window: (camera_id, window_from, reach_ms, started_by_window,
    oldest_ms, install_day, first_day, complete_days, recorded_ms, planned_ms), with its parameters.

    Each camera's window is read through the covering (camera_id, day, ...) index, so the work follows the
    window, not the history: on SQLite a join grouped in camera order (no sort), on PostgreSQL a LATERAL
    aggregate per camera (its planner would otherwise hash the whole table). Whether a camera recorded before
    its window is looked up only when its window's first day is missing.
    """
    frame, backend = space.frame, space.backend
    window_from_day = "CASE {cls} WHEN 1 THEN :from1_day ELSE :from2_day END"
    sums = f"""MIN(CASE WHEN d.planned_s > 0 THEN d.day END) AS first_planned,
               COALESCE(SUM(CASE WHEN d.planned_s > 0 AND d.completeness >= :complete THEN 1 ELSE 0 END), 0)
                   AS complete_days,
               COALESCE(SUM({backend.to_millis("d.completeness * d.planned_s")}), 0) AS recorded_ms,
               COALESCE(SUM({backend.to_millis("d.planned_s")}), 0) AS planned_ms"""
    in_window = f"d.day >= {window_from_day.format(cls='rc.cls')} AND d.day <= :last_day"
    if backend.sqlite:
        window = f"""
            SELECT rc.id AS camera_id, rc.cls AS cls, rc.install_day AS install_day, {sums}
            FROM {space.cameras.name} rc LEFT JOIN recording_days d ON d.camera_id = rc.id AND {in_window}
            WHERE rc.cls IN (1, 2)
            GROUP BY rc.id, rc.cls, rc.install_day"""
    else:
        window = f"""
            SELECT rc.id AS camera_id, rc.cls AS cls, rc.install_day AS install_day, x.*
            FROM {space.cameras.name} rc
            CROSS JOIN LATERAL (SELECT {sums} FROM recording_days d WHERE d.camera_id = rc.id AND {in_window}) x
            WHERE rc.cls IN (1, 2)"""
    # Keeps PostgreSQL from pulling the subquery up, which would look the oldest footage up twice.
    fence = "" if backend.sqlite else " OFFSET 0"
    sql = f"""
      SELECT camera_id, window_from, reach_ms, started_by_window,
             {backend.millis("oldest_at", frame.origin)} AS oldest_ms,
             install_day, first_day, complete_days, recorded_ms, planned_ms
      FROM (
        SELECT w.camera_id,
               CASE w.cls WHEN 1 THEN CAST(:from1 AS INTEGER) ELSE CAST(:from2 AS INTEGER) END AS window_from,
               CASE w.cls WHEN 1 THEN CAST(:reach1 AS {backend.integer}) ELSE CAST(:reach2 AS {backend.integer}) END
                   AS reach_ms,
               CASE WHEN w.first_planned = {window_from_day.format(cls="w.cls")} THEN 1
                    WHEN EXISTS (SELECT 1 FROM recording_days b
                                 WHERE b.camera_id = w.camera_id AND b.planned_s > 0
                                   AND b.day < {window_from_day.format(cls="w.cls")}) THEN 1
                    ELSE 0 END AS started_by_window,
               (SELECT MIN(s.start_at) FROM recording_segments s
                WHERE s.camera_id = w.camera_id AND s.start_at < :end) AS oldest_at,
               w.install_day,
               {backend.day_number("w.first_planned")} AS first_day,
               w.complete_days, w.recorded_ms, w.planned_ms
        FROM ({window}) w{fence}
      ) judged"""
    return sql, _params(space)


def retention_status_sql(space: Workspace, r: str) -> tuple[str, dict[str, Any]]:
    """The status of a camera from its recording row `r` (LEFT JOINed: none for class 3), with its parameters."""
    origin = space.frame.origin
    start_day = f"""(CASE WHEN {r}.started_by_window = 1 THEN {r}.window_from
                          WHEN {r}.first_day IS NOT NULL THEN {r}.first_day
                          WHEN {r}.oldest_ms IS NOT NULL
                          THEN {space.backend.floor_div(f"{r}.oldest_ms + {(origin + LOCAL_OFFSET_S) * 1000}", DAY_MS)}
                          ELSE {r}.install_day END)"""
    checked = f"""(CASE WHEN {start_day} <= {r}.window_from THEN CAST(:last AS INTEGER) - {r}.window_from + 1
                        WHEN {start_day} > CAST(:last AS INTEGER) THEN 0
                        ELSE CAST(:last AS INTEGER) - {start_day} + 1 END)"""
    status = f"""(CASE WHEN {r}.camera_id IS NULL THEN 'not_required'
                       WHEN {start_day} IS NULL THEN 'no_recordings'
                       WHEN {r}.oldest_ms IS NOT NULL
                            AND ({start_day} > {r}.window_from OR {r}.oldest_ms <= {r}.reach_ms)
                            AND {r}.complete_days >= {checked} THEN 'compliant'
                       ELSE 'non_compliant' END)"""
    return status, _params(space)
