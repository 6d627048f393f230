"""KPI reports: the figures of a camera set over a period, verdicts against the active plan, the worst cameras,
breakdowns and a daily trend, computed in SQL (identically on SQLite and PostgreSQL).

How time is counted (DESIGN.md §3):

- The period is [start, end) in UTC, measured up to `now` when it reaches past it (nothing after now has
  happened yet); figures "now" (online_now, intact_now) are the states at that measured end.
- A camera counts from the later of the period start and its `created_at`; one created after the measured end
  is not in the set. Its state when it starts counting is the one its last availability transition at or
  before that moment left it in; with no transition ever it is offline (it never came online).
- availability_transitions rows with a camera_id are the camera's states; each holds until the next row
  (ordered by time, then id). Repeated states change nothing. After a platform restart the platform writes
  a device's offline transition at its missed deadline, not at the restart, and a restart alone writes
  nothing, so the rows already say what happened while it was down: no special case here. A device that
  flaps contributes every interval it was online.
- Integrity counts the seconds a camera is online AND its picture verdict (the latest vqd_events row at or
  before that moment) is ok. Before its first diagnosis a camera is undiagnosed: intact while online, and
  counted in `undiagnosed` when it has no diagnosis before the measured end.
- Recording completeness and retention compliance: see recording_sql; networking, HD and format are the
  registry's current attributes (registry.rules: HD >= 1280x720, format >= 704x576, both at >= 25 fps; an
  unknown format meets neither).

Times are counted in whole milliseconds (backend.millis), so every sum is exact and both backends agree to the
last digit. Every camera query carries the principal's scope (security.scope.camera_clause) in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core.errors import InvalidInput
from tianyan.health.kpi import figures_sql
from tianyan.health.kpi.availability_sql import fill_intervals, online_sql
from tianyan.health.kpi.backend import run
from tianyan.health.kpi.model import DIMENSIONS, CameraSet, Figures, KpiReport, Period
from tianyan.health.kpi.recording_sql import EPOCH_DAY, fill_recording
from tianyan.health.kpi.selection import Resolved, fill_cameras, resolve
from tianyan.health.kpi.thresholds import Applies, judge, thresholds_of
from tianyan.health.kpi.trend import trend as daily_trend
from tianyan.health.kpi.workspace import Frame, Workspace, workspace
from tianyan.media.completeness import local_day
from tianyan.planning.catalogue import Plan
from tianyan.registry.models import Camera
from tianyan.security.scope import Principal


async def compute_figures(
    session: AsyncSession, *, selection: CameraSet, period: Period, principal: Principal, now: datetime
) -> Figures:
    """The KPIs of the cameras `principal` may see in `selection` over `period`."""
    frame = Frame.of(period, now)
    resolved = await resolve(session, selection, principal)
    async with workspace(session, frame) as space:
        await _fill(space, resolved)
        return await figures_sql.total(space)


async def _fill(space: Workspace, resolved: Resolved) -> None:
    await fill_cameras(space, resolved.clauses)
    await fill_intervals(space)
    await fill_recording(space)
    await figures_sql.fill_facts(space, resolved.region)


async def _figures_of(space: Workspace, cells: figures_sql.Cube, applies: Applies) -> Figures:
    """The figures of the cameras a threshold is about: added up from the cube when a class or having a sector
    says which, else with one filtered query (new points, by install date)."""
    if applies.installed_from is None and applies.installed_to is None:
        return cells.figures(
            lambda keys: (
                (applies.cls is None or keys[1] == applies.cls) and (not applies.with_sector or keys[3] is not None)
            )
        )
    where, params = _where(applies)
    return await figures_sql.total(space, where, **params)


def _where(applies: Applies) -> tuple[str, dict[str, int]]:
    """The SQL filter over the workspace's facts (`f`) for the cameras a threshold is about."""
    parts, params = ["1 = 1"], {}
    if applies.cls is not None:
        parts.append("f.cls = :applies_cls")
        params["applies_cls"] = applies.cls
    if applies.with_sector:
        parts.append("f.sector_id IS NOT NULL")
    if applies.installed_from is not None:
        parts.append("f.install_day >= :installed_from")
        params["installed_from"] = (applies.installed_from - EPOCH_DAY).days
    if applies.installed_to is not None:
        parts.append("f.install_day <= :installed_to")
        params["installed_to"] = (applies.installed_to - EPOCH_DAY).days
    return " AND ".join(parts), params


async def compute_report(
    session: AsyncSession,
    *,
    selection: CameraSet,
    period: Period,
    principal: Principal,
    plan: Plan | None,
    now: datetime,
    worst: int = 20,
    breakdowns: Sequence[str] = (),
    trend: bool = False,
) -> KpiReport:
    """Figures, verdicts against `plan`'s thresholds, the `worst` cameras, breakdowns by the given dimensions
    (model.DIMENSIONS) and, with `trend`, figures per local day."""
    unknown = [d for d in breakdowns if d not in DIMENSIONS]
    if unknown:
        raise InvalidInput(f"unknown breakdown {unknown[0]!r}; choose from {', '.join(DIMENSIONS)}")
    if worst < 0:
        raise InvalidInput("the number of worst cameras cannot be negative")
    frame = Frame.of(period, now)
    resolved = await resolve(session, selection, principal)
    async with workspace(session, frame) as space:
        await _fill(space, resolved)
        cells = await figures_sql.cube(space)
        figures = cells.figures()
        verdicts = []
        by_applies: dict[Applies, Figures] = {}
        for threshold in thresholds_of(plan, at=local_day(frame.end)):
            if threshold.applies not in by_applies:
                by_applies[threshold.applies] = await _figures_of(space, cells, threshold.applies)
            verdicts.append(judge(threshold, by_applies[threshold.applies]))
        worst_rows = await figures_sql.worst(space, worst)
        groups = {d: await figures_sql.breakdown(space, d, cells) for d in dict.fromkeys(breakdowns)}
        days = await daily_trend(space) if trend else []
    return KpiReport(
        selection=selection,
        period=period,
        computed_at=now,
        plan_id=plan.id if plan is not None else None,
        figures=figures,
        verdicts=verdicts,
        worst=worst_rows,
        breakdowns=groups,
        trend=days,
    )


async def camera_online_seconds(session: AsyncSession, camera_ids: Sequence[int], period: Period) -> dict[int, float]:
    """Seconds online within `period` of each given camera that exists by its end (counted from its creation
    when that is later than the start), whatever anyone's scope. Cameras that do not exist are left out."""
    ids = sorted(set(camera_ids))
    if not ids:
        return {}
    frame = Frame.of(period, period.end)
    out: dict[int, float] = {}
    async with workspace(session, frame) as space:
        for n in range(0, len(ids), 10_000):
            await fill_cameras(space, (Camera.id.in_(ids[n : n + 10_000]),))
        await fill_intervals(space)
        sql = f"""SELECT c.id, COALESCE(a.online_ms, 0) FROM {space.cameras.name} c
                  LEFT JOIN ({online_sql(space)}) a ON a.cid = c.id"""
        rows = await run(session, sql, end_ms=frame.end_ms)
        out = {int(camera_id): int(millis) / 1000 for camera_id, millis in rows}
    return out
