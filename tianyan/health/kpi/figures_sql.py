"""Figures, breakdowns and the worst list, aggregated in SQL from the workspace's per-camera tables."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from tianyan.core.errors import InvalidInput
from tianyan.health.kpi.availability_sql import lost_sql, online_sql
from tianyan.health.kpi.backend import run
from tianyan.health.kpi.model import (
    BY_CLASS,
    BY_DISTRICT,
    BY_NETWORK,
    BY_SECTOR,
    BY_UNIT,
    DIMENSIONS,
    CameraRow,
    Figures,
    GroupFigures,
)
from tianyan.health.kpi.recording_sql import retention_status_sql
from tianyan.health.kpi.workspace import Workspace
from tianyan.health.models import VqdLatest
from tianyan.registry.models import Camera, Organisation, Region

# The sums every Figures is made of, in this order (see figures()), over the facts table `f`.
_SUMS = """COUNT(*), SUM(f.online_ms), SUM(f.period_ms), SUM(f.online_end), SUM(f.intact_ms), SUM(f.intact_end),
       SUM(f.undiagnosed), SUM(f.recorded_ms), SUM(f.planned_ms), SUM(f.required),
       SUM(CASE WHEN f.status = 'compliant' THEN 1 ELSE 0 END),
       SUM(f.networked), SUM(f.hd), SUM(f.format_ok)"""
_SUM_COUNT = 14


def ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def seconds(ms: Any) -> float:
    return int(ms or 0) / 1000


def figures(sums: Sequence[Any]) -> Figures:
    """Figures from the sums of _SUMS (times in whole milliseconds; a SUM over no rows is NULL: zero)."""
    (cameras, online, period, online_now, intact, intact_now, undiagnosed, recorded, planned, required,
     compliant, networked, hd, format_ok) = (int(v or 0) for v in sums)  # fmt: skip
    return Figures(
        cameras=cameras,
        online_s=seconds(online),
        period_s=seconds(period),
        online_rate=ratio(online, period),
        online_now=online_now,
        intact_s=seconds(intact),
        integrity_rate=ratio(intact, period),
        intact_now=intact_now,
        undiagnosed=undiagnosed,
        recorded_s=seconds(recorded),
        planned_s=seconds(planned),
        recording_completeness=ratio(recorded, planned),
        retention_required=required,
        retention_compliant=compliant,
        retention_compliance=ratio(compliant, required),
        networked=networked,
        networking_rate=ratio(networked, cameras),
        hd=hd,
        hd_share=ratio(hd, cameras),
        format_ok=format_ok,
        format_compliance=ratio(format_ok, cameras),
    )


async def fill_facts(space: Workspace, anchor: Region | None) -> None:
    """One row per camera with its availability, recording and registry figures, and the place it is grouped
    under: below one
    county-level region its stations, otherwise the county-level regions; a camera placed above that level (on a
    district itself, or on the city) is its own place."""
    level = "station" if anchor is not None and anchor.level in ("county", "station") else "county"
    places = f"""
    INSERT INTO {space.places.name} (region_id, place_id)
    SELECT own.id, COALESCE(MAX(g.id), own.id)
    FROM regions own LEFT JOIN regions g ON g.level = :level AND substr(own.path, 1, length(g.path)) = g.path
    GROUP BY own.id"""
    await run(space.session, places, level=level)
    status, params = retention_status_sql(space, "r")
    params["end_ms"] = space.frame.end_ms
    facts = f"""
    INSERT INTO {space.facts.name} (camera_id, cls, network, sector_key, sector_id, owning_unit_id, place_id,
        install_day,
        period_ms, online_ms, online_end, intact_ms, intact_end, undiagnosed, recorded_ms, planned_ms, required,
        status, networked, hd, format_ok)
    SELECT c.id, c.cls, c.network, COALESCE(c.sector_id, 0), c.sector_id, c.owning_unit_id, p.place_id,
           c.install_day,
           :end_ms - c.start_ms, COALESCE(a.online_ms, 0), COALESCE(a.online_end, 0),
           COALESCE(a.online_ms, 0) - COALESCE(l.lost_ms, 0), COALESCE(a.online_end, 0) * (1 - COALESCE(l.lost_end, 0)),
           CASE WHEN c.ok0 IS NULL AND c.diagnosed_ms IS NULL THEN 1 ELSE 0 END,
           COALESCE(r.recorded_ms, 0), COALESCE(r.planned_ms, 0), CASE WHEN r.camera_id IS NULL THEN 0 ELSE 1 END,
           {status},
           c.networked, c.hd, c.format_ok
    FROM {space.cameras.name} c
    LEFT JOIN ({online_sql(space)}) a ON a.cid = c.id
    LEFT JOIN ({lost_sql(space)}) l ON l.cid = c.id
    LEFT JOIN {space.recording.name} r ON r.camera_id = c.id
    LEFT JOIN {space.places.name} p ON p.region_id = c.region_id"""
    await run(space.session, facts, **params)
    await space.analyse(space.facts)


async def total(space: Workspace, where: str = "1 = 1", **params: Any) -> Figures:
    """Figures of the workspace's cameras, or of those matching `where` (SQL over `f`, the facts table)."""
    sql = f"SELECT {_SUMS} FROM {space.facts.name} f WHERE {where}"
    return figures((await run(space.session, sql, **params)).one())


# The dimensions the cube is grouped by: every breakdown but owning units (thousands of them) and the total.
_CUBE = {BY_DISTRICT: 0, BY_CLASS: 1, BY_NETWORK: 2, BY_SECTOR: 3}


@dataclass(frozen=True)
class Cube:
    """The sums grouped by place, class, network and sector at once: a few hundred cells whatever the number
    of cameras, which the total, the breakdowns by those dimensions and the class or sector subsets of the
    plan's thresholds add up, instead of one sorting GROUP BY over the cameras each."""

    cells: list[tuple[tuple[Any, ...], tuple[int, ...]]]

    def figures(self, keep: Callable[[tuple[Any, ...]], bool] = lambda _: True) -> Figures:
        kept = [sums for keys, sums in self.cells if keep(keys)]
        return figures([sum(column) for column in zip(*kept, strict=True)] if kept else [0] * _SUM_COUNT)

    def by(self, dimension: str) -> dict[Any, Figures]:
        at = _CUBE[dimension]
        return {key: self.figures(lambda keys, key=key: keys[at] == key) for key in {k[at] for k, _ in self.cells}}


async def cube(space: Workspace) -> Cube:
    sql = f"""SELECT f.place_id, f.cls, f.network, f.sector_key, {_SUMS} FROM {space.facts.name} f
              GROUP BY f.place_id, f.cls, f.network, f.sector_key"""
    rows = await run(space.session, sql)
    return Cube([((*row[:3], row[3] or None), tuple(int(v or 0) for v in row[4:])) for row in rows])


async def breakdown(space: Workspace, dimension: str, cells: Cube) -> list[GroupFigures]:
    """Figures per district (or per station under one district), class, network, sector or owning unit."""
    if dimension == BY_DISTRICT:
        return await _by_place(space, cells.by(BY_DISTRICT))
    if dimension == BY_CLASS:
        return [GroupFigures(dimension, str(k), f"class {k}", f) for k, f in sorted(cells.by(BY_CLASS).items())]
    if dimension == BY_NETWORK:
        return [GroupFigures(dimension, str(k), str(k), f) for k, f in sorted(cells.by(BY_NETWORK).items())]
    if dimension in (BY_SECTOR, BY_UNIT):
        if dimension == BY_SECTOR:
            found = cells.by(BY_SECTOR)
        else:
            sql = f"SELECT f.owning_unit_id, {_SUMS} FROM {space.facts.name} f GROUP BY f.owning_unit_id"
            found = {row[0]: figures(row[1:]) for row in await run(space.session, sql)}
        ids = [k for k in found if k is not None]
        rows = await space.session.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids)))
        names = dict(rows.tuples().all())
        none = "no sector" if dimension == BY_SECTOR else "no owning unit"
        out = [GroupFigures(dimension, str(k), names.get(k, str(k)), found[k]) for k in ids]
        out.sort(key=lambda g: g.label)
        if None in found:
            out.append(GroupFigures(dimension, "", none, found[None]))
        return out
    raise InvalidInput(f"unknown breakdown {dimension!r}; choose from {', '.join(DIMENSIONS)}")


async def _by_place(space: Workspace, found: dict[Any, Figures]) -> list[GroupFigures]:
    regions = (await space.session.execute(select(Region).where(Region.id.in_(list(found))))).scalars().all()
    by_id = {r.id: r for r in regions}
    out = [GroupFigures(BY_DISTRICT, by_id[k].code, by_id[k].name, f) for k, f in found.items()]
    return sorted(out, key=lambda g: g.key)


async def worst(space: Workspace, limit: int) -> list[CameraRow]:
    """The `limit` cameras with the lowest online rate, then the lowest integrity, then by id."""
    if limit <= 0:
        return []
    real = space.backend.real
    sql = f"""
    SELECT camera_id, online_ms, period_ms, intact_ms, online_end, recorded_ms, planned_ms, status
    FROM {space.facts.name}
    ORDER BY COALESCE(CAST(online_ms AS {real}) / NULLIF(period_ms, 0), 2),
             COALESCE(CAST(intact_ms AS {real}) / NULLIF(period_ms, 0), 2), camera_id
    LIMIT :limit"""
    rows = (await run(space.session, sql, limit=limit)).all()
    ids = [row[0] for row in rows]
    details = await space.session.execute(
        select(Camera.id, Camera.gb_id, Camera.name, Camera.cls, Region.name, VqdLatest.faults)
        .join(Region, Region.id == Camera.region_id)
        .outerjoin(VqdLatest, VqdLatest.camera_id == Camera.id)
        .where(Camera.id.in_(ids))
    )
    about = {d[0]: d for d in details}
    out = []
    for camera_id, online, period, intact, online_end, recorded, planned, status in rows:
        _, gb_id, name, cls, region, faults = about[camera_id]
        out.append(
            CameraRow(
                camera_id=camera_id,
                gb_id=gb_id,
                name=name,
                cls=cls,
                region=region,
                online_now=bool(online_end),
                online_s=seconds(online),
                period_s=seconds(period),
                online_rate=ratio(online, period),
                intact_s=seconds(intact),
                integrity_rate=ratio(intact, period),
                faults=[str(f) for f in faults or []],
                recording_completeness=ratio(recorded, planned),
                retention_status=status,
            )
        )
    return out
