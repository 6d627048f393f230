"""Progress against a plan, counted from the camera registry with a few aggregate SQL queries.

Definitions (docs/plan-progress.md says the same for readers):

- Plan period: 1 January of the first milestone's year to the last milestone (Huizhou: 2012-01-01 ..
  2014-12-31). A camera is *built* (a new point) when its install_date lies in [period start, min(at,
  milestone)]; a camera without an install_date is never counted as new.
- Units: a plan unit is the Region whose code is its GB/T 2260 code; when it has none (大亚湾区, 仲恺区 get
  locally assigned codes) or that code is not registered, the Region of the same name, preferring one inside
  the plan's city. A unit counts the cameras of its region's whole subtree. A unit with no region reports
  zeros and a note.
- Built per unit: class 1, class 2 and HD checkpoints (kind 'checkpoint' with an HD main stream: at least
  1280x720 at 25 fps, registry.rules) against the unit's targets; share = built / target; a totals row.
- HD share of new class 1 / class 2 points against class_requirements.*.min_hd_share_of_new, per unit and
  overall: pass, fail, or n/a with no new points.
- Milestones {by, min_share}: decided once by < at (met when the count built by that date reaches min_share
  of the target, else missed); pending while by >= at, with the current count and an on-track flag.
- Industry integration: a row's lead department is the Organisation of kind 'sector' with that exact name.
  Points = its class 2 cameras in the plan's city installed by `at` (or with no install date); integrated =
  those networked. Pass with integrated/points >= min_share OR integrated >= min_points. `networked` is the
  registry's current state, not its state on `at`. Concurrent networked streams are not measurable yet.
- Other shapes: a region-targets plan (Ningxia 2014) counts class 1 HD and class 2 cameras installed in the
  plan year in the region's subtree, per unit and in total, against its counts and its "construction
  complete" date; a goals plan (national 2020) measures the HD share of cameras installed since the year it
  was issued and the networking rate of class 1 and class 2 cameras, against its deadline.

Every count is over the principal's scope (security.scope.camera_clause): a district user sees the district.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.planning import rules
from tianyan.planning.catalogue import GOALS, REGION_TARGETS, UNIT_TARGETS, Plan
from tianyan.registry import rules as registry_rules
from tianyan.registry.models import Camera, Organisation, Region
from tianyan.security.roles import Permission
from tianyan.security.scope import Principal, camera_clause

CONCURRENT_STREAMS = "concurrent networked streams (needs live-stream statistics, not recorded yet)"


@dataclass(frozen=True)
class Measure:
    metric: str  # class1, class2, hd_checkpoints, police_hd_cameras, ...
    target: int | None
    built: int
    share: float | None
    gap: int | None
    milestones: tuple[rules.MilestoneResult, ...] = ()


@dataclass(frozen=True)
class UnitProgress:
    unit: str
    region_code: str | None
    matched_by: str | None  # "code", "name", or None when no region matches
    measures: tuple[Measure, ...]
    note: str | None = None

    def measure(self, metric: str) -> Measure:
        return next(m for m in self.measures if m.metric == metric)


@dataclass(frozen=True)
class RateRow:
    """A share of a camera set with a minimum: HD share of new points, networking rate."""

    unit: str
    metric: str
    count: int
    of: int
    share: float | None
    min_share: float
    needed: int
    status: str  # pass/fail/n/a, or met/missed/pending against a deadline
    deadline: date | None = None


@dataclass(frozen=True)
class SectorProgress:
    lead: str
    scope: str
    sector_codes: tuple[str, ...]
    verdict: rules.SectorVerdict
    note: str | None = None


@dataclass(frozen=True)
class PlanProgress:
    plan_id: str
    title: str
    shape: str
    at: date
    period_start: date | None
    period_end: date | None
    units: tuple[UnitProgress, ...] = ()
    totals: UnitProgress | None = None
    rates: tuple[RateRow, ...] = ()
    sectors: tuple[SectorProgress, ...] = ()
    not_measurable: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


# --- finding the plan's places in the region tree --------------------------------------------------


@dataclass(frozen=True)
class _Place:
    name: str
    plan_code: str | None
    code: str | None
    path: str | None
    matched_by: str | None


async def _resolve(session: AsyncSession, entries: Sequence[dict[str, Any]], *, within: str | None) -> list[_Place]:
    codes = [str(e["gbt2260"]) for e in entries if e.get("gbt2260")]
    names = [str(e["name"]) for e in entries]
    rows = (
        await session.execute(
            select(Region.code, Region.name, Region.path).where(or_(Region.code.in_(codes), Region.name.in_(names)))
        )
    ).all()
    by_code = {row.code: row for row in rows}
    places = []
    for entry in entries:
        row, how = by_code.get(str(entry.get("gbt2260"))), "code"
        if row is None:
            # Same-named regions elsewhere (a station, another city's zone) lose to one inside the plan's city.
            named = sorted(
                (r for r in rows if r.name == entry["name"]),
                key=lambda r: (not (within and r.path.startswith(within)), len(r.path), r.code),
            )
            row, how = (named[0] if named else None), "name"
        places.append(
            _Place(name=str(entry["name"]), plan_code=entry.get("gbt2260"), code=row.code if row else None,
                   path=row.path if row else None, matched_by=how if row else None)
        )  # fmt: skip
    return places


# --- the aggregate query ----------------------------------------------------------------------------

Columns = Any  # the column collection of the per-camera subquery
Condition = Callable[[Columns], ColumnElement[bool]]


@dataclass(frozen=True)
class _Count:
    name: str
    until: date
    where: Condition


def _stream_at_least(width: int, height: int) -> ColumnElement[int]:
    fast = and_(Camera.main_width >= width, Camera.main_height >= height, Camera.main_fps >= registry_rules.MIN_FPS)
    return case((fast, 1), else_=0)


async def _count_by_place(
    session: AsyncSession, *, paths: Sequence[str], scope: ColumnElement[bool], since: date, counts: Sequence[_Count]
) -> list[dict[str, int]]:
    """One row of counts per path (the first path a camera's region lies under wins), in one GROUP BY."""
    out = [dict.fromkeys((c.name for c in counts), 0) for _ in paths]
    if not paths or not counts:
        return out
    inside = [Region.path.startswith(path, autoescape=True) for path in paths]
    # Grouped through a subquery: PostgreSQL cannot match a GROUP BY CASE whose literals are bound parameters.
    per_camera = (
        select(
            case(*((cond, index) for index, cond in enumerate(inside))).label("place"),
            Camera.cls.label("cls"),
            Camera.kind.label("kind"),
            Camera.install_date.label("installed"),
            _stream_at_least(registry_rules.HD_MIN_WIDTH, registry_rules.HD_MIN_HEIGHT).label("hd"),
            _stream_at_least(1920, 1080).label("fhd"),
        )
        .join(Region, Camera.region_id == Region.id)
        .where(
            scope,
            or_(*inside),
            Camera.install_date >= since,
            Camera.install_date <= max(c.until for c in counts),
        )
        .subquery()
    )
    c = per_camera.c
    sums = [func.sum(case((and_(count.where(c), c.installed <= count.until), 1), else_=0)) for count in counts]
    rows = (await session.execute(select(c.place, *sums).group_by(c.place))).all()
    for place, *values in rows:
        out[place] = {count.name: int(value or 0) for count, value in zip(counts, values, strict=True)}
    return out


def _is_class(cls: int) -> Condition:
    return lambda c: c.cls == cls


def _hd_class(cls: int) -> Condition:
    return lambda c: and_(c.cls == cls, c.hd == 1)


def _hd_checkpoint(c: Columns) -> ColumnElement[bool]:
    return and_(c.kind == "checkpoint", c.hd == 1)


def _measure(metric: str, target: int | None, counts: dict[str, int], milestones: Sequence[rules.Milestone],
             at: date) -> Measure:  # fmt: skip
    built = counts[f"{metric}@now"]
    results = tuple(
        rules.milestone_status(milestone=m, at=at, built=counts[f"{metric}@{i}"], current=built, target=target)
        for i, m in enumerate(milestones)
        if target is not None
    )
    return Measure(metric=metric, target=target, built=built, share=rules.share(built, target),
                   gap=rules.gap(built, target), milestones=results)  # fmt: skip


def _sum(rows: Sequence[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for row in rows:
        for key, value in row.items():
            total[key] = total.get(key, 0) + value
    return total


def _timed_counts(metrics: dict[str, Condition], milestones: Sequence[rules.Milestone], now: date,
                  at: date) -> list[_Count]:  # fmt: skip
    out = [_Count(f"{name}@now", now, where) for name, where in metrics.items()]
    for i, m in enumerate(milestones):
        out += [_Count(f"{name}@{i}", rules.cutoff(at, m.by), where) for name, where in metrics.items()]
    return out


async def _count_places(
    session: AsyncSession,
    places: Sequence[_Place],
    *,
    outer: _Place | None,
    scope: ColumnElement[bool],
    since: date,
    counts: Sequence[_Count],
) -> tuple[list[dict[str, int]], dict[str, int] | None]:
    """Counts per place (zeros where no region matched), and what lies in `outer` but in no place."""
    located = [i for i, p in enumerate(places) if p.path]
    paths = [str(places[i].path) for i in located] + ([outer.path] if outer and outer.path else [])
    found = await _count_by_place(session, paths=paths, scope=scope, since=since, counts=counts)
    rows = [dict.fromkeys((c.name for c in counts), 0) for _ in places]
    for i, row in zip(located, found, strict=False):
        rows[i] = row
    return rows, (found[-1] if len(found) > len(located) else None)


def _unit_note(place: _Place) -> str | None:
    if place.path is None:
        by = f"code {place.plan_code} or the name {place.name}" if place.plan_code else f"the name {place.name}"
        return f"no region has {by}: counted as zero"
    return None


# --- the three plan shapes ------------------------------------------------------------------------


async def _unit_targets(session: AsyncSession, plan: Plan, at: date, scope: ColumnElement[bool]) -> PlanProgress:
    data = plan.data
    milestones = rules.milestones_from(data["milestones"])
    start, end = rules.plan_period(milestones)
    now = rules.cutoff(at, end)
    city = (await _resolve(session, [data["city"]], within=None))[0] if data.get("city") else None
    places = await _resolve(session, data.get("units", []), within=city.path if city else None)
    targets = {row["unit"]: row for row in data["targets"]["rows"]}
    metrics = ("class1", "class2", "hd_checkpoints")
    conditions = {"class1": _is_class(1), "class2": _is_class(2), "hd_checkpoints": _hd_checkpoint}
    counts = [*_timed_counts(conditions, milestones, now, at),
              _Count("hd_class1", now, _hd_class(1)), _Count("hd_class2", now, _hd_class(2))]  # fmt: skip
    rows, outside = await _count_places(session, places, outer=city, scope=scope, since=start, counts=counts)
    requirements = data.get("class_requirements", {})
    hd_min = {cls: requirements.get(f"class{cls}", {}).get("min_hd_share_of_new") for cls in (1, 2)}

    def unit(name: str, place: _Place | None, row: dict[str, int], target_row: dict[str, Any]) -> UnitProgress:
        measures = tuple(_measure(m, target_row.get(m), row, milestones, at) for m in metrics)
        return UnitProgress(unit=name, region_code=place.code if place else None,
                            matched_by=place.matched_by if place else None, measures=measures,
                            note=_unit_note(place) if place else None)  # fmt: skip

    def hd_rates(name: str, row: dict[str, int]) -> list[RateRow]:
        out = []
        for cls in (1, 2):
            if hd_min[cls] is None:
                continue
            v = rules.share_verdict(count=row[f"hd_class{cls}"], of=row[f"class{cls}@now"], min_share=hd_min[cls])
            out.append(RateRow(unit=name, metric=f"hd_share_of_new_class{cls}", count=v.count, of=v.of,
                               share=v.share, min_share=v.min_share, needed=v.needed, status=v.status))  # fmt: skip
        return out

    units, rates = [], []
    for place, row in zip(places, rows, strict=True):
        units.append(unit(place.name, place, row, targets.get(place.name, {})))
        rates += hd_rates(place.name, row)
    all_rows = _sum(rows) or dict.fromkeys((c.name for c in counts), 0)
    plan_totals = data["targets"].get("totals") or {m: sum(int(r.get(m) or 0) for r in targets.values())
                                                    for m in metrics}  # fmt: skip
    totals = unit("total", None, all_rows, plan_totals)
    rates += hd_rates("total", all_rows)

    notes = []
    if city and city.path is None:
        notes.append(f"no region matches the plan's city {city.name} ({city.plan_code or '-'})")
    if city and outside and (outside["class1@now"] or outside["class2@now"]):
        notes.append(
            f"{outside['class1@now']} new class 1 and {outside['class2@now']} new class 2 points in {city.name} "
            "lie outside every plan unit (city-level points) and are in no unit's count"
        )
    sectors = await _sectors(session, data, at=at, scope=scope, city_path=city.path if city else None)
    not_measurable = [CONCURRENT_STREAMS] if data.get("industry_integration", {}).get("min_concurrent_share") else []
    return PlanProgress(
        plan_id=plan.id, title=plan.title, shape=plan.shape, at=at, period_start=start, period_end=end,
        units=tuple(units), totals=totals, rates=tuple(rates), sectors=sectors,
        not_measurable=tuple(not_measurable), notes=tuple(notes),
    )  # fmt: skip


async def _sectors(
    session: AsyncSession, data: dict[str, Any], *, at: date, scope: ColumnElement[bool], city_path: str | None
) -> tuple[SectorProgress, ...]:
    rows = data.get("industry_integration", {}).get("rows", [])
    if not rows:
        return ()
    leads = [str(r["lead"]) for r in rows]
    orgs = (
        await session.execute(
            select(Organisation.id, Organisation.code, Organisation.name)
            .where(Organisation.kind == "sector", Organisation.name.in_(leads))
            .order_by(Organisation.code)
        )
    ).all()
    counted: dict[int, tuple[int, int]] = {}
    if orgs:
        where = [
            scope,
            Camera.cls == 2,
            Camera.sector_id.in_([o.id for o in orgs]),
            or_(Camera.install_date.is_(None), Camera.install_date <= at),
        ]
        if city_path:
            where.append(Camera.region_id.in_(select(Region.id).where(Region.path.startswith(city_path))))
        query = (
            select(Camera.sector_id, func.count(), func.sum(case((Camera.networked.is_(True), 1), else_=0)))
            .where(*where)
            .group_by(Camera.sector_id)
        )
        counted = {sid: (int(n), int(up or 0)) for sid, n, up in (await session.execute(query)).all()}
    out = []
    for row in rows:
        mine = [o for o in orgs if o.name == row["lead"]]
        points = sum(counted.get(o.id, (0, 0))[0] for o in mine)
        integrated = sum(counted.get(o.id, (0, 0))[1] for o in mine)
        verdict = rules.share_or_count(points=points, integrated=integrated, min_share=float(row["min_share"]),
                                       min_points=int(row["min_points"]))  # fmt: skip
        note = None if mine else "no sector organisation has this name: counted as zero"
        out.append(SectorProgress(lead=str(row["lead"]), scope=str(row.get("scope", "")),
                                  sector_codes=tuple(o.code for o in mine), verdict=verdict, note=note))  # fmt: skip
    return tuple(out)


async def _region_targets(session: AsyncSession, plan: Plan, at: date, scope: ColumnElement[bool]) -> PlanProgress:
    data = plan.data
    year = _issued_year(data, at.year)
    start, end = date(year, 1, 1), date(year, 12, 31)
    complete = next((s for s in data.get("schedule", []) if "construction" in str(s.get("what", ""))), None)
    milestones = (rules.Milestone(by=rules.parse_date(str(complete["by"])) if complete else end, min_share=1.0),)
    region = (await _resolve(session, [data["region"]], within=None))[0]
    places = await _resolve(session, data.get("units", []), within=region.path)
    conditions = {"police_hd_cameras": _hd_class(1), "police_1080p_cameras": lambda c: and_(c.cls == 1, c.fhd == 1),
                  "social_cameras": _is_class(2)}  # fmt: skip
    now = rules.cutoff(at, end)
    counts = _timed_counts(conditions, milestones, now, at)
    rows, outside = await _count_places(session, places, outer=region, scope=scope, since=start, counts=counts)
    units = tuple(
        UnitProgress(unit=p.name, region_code=p.code, matched_by=p.matched_by, note=_unit_note(p),
                     measures=tuple(_measure(m, None, row, (), at) for m in conditions))
        for p, row in zip(places, rows, strict=True)
    )  # fmt: skip
    targets = data.get("targets", {})
    target_of = {"police_hd_cameras": targets.get("police_hd_cameras", {}).get("count"),
                 "social_cameras": targets.get("social_cameras", {}).get("count")}  # fmt: skip
    # The region total also holds what lies in the region but in none of its listed units.
    all_rows = _sum([*rows, *([outside] if outside else [])]) or dict.fromkeys((c.name for c in counts), 0)
    totals = UnitProgress(
        unit=region.name, region_code=region.code, matched_by=region.matched_by, note=_unit_note(region),
        measures=tuple(_measure(m, target_of.get(m), all_rows, milestones, at) for m in conditions),
    )  # fmt: skip
    not_measurable = [f"{name} (needs health and case data, not recorded yet)" for name in data.get("kpis", {})]
    notes = ["police HD = class 1 at >= 1280x720 @ 25 fps; police_1080p_cameras counts those at the plan's 1080P"]
    return PlanProgress(plan_id=plan.id, title=plan.title, shape=plan.shape, at=at, period_start=start,
                        period_end=end, units=units, totals=totals, not_measurable=tuple(not_measurable),
                        notes=tuple(notes))  # fmt: skip


def _issued_year(data: dict[str, Any], fallback: int) -> int:
    if data.get("issued"):
        return rules.parse_date(str(data["issued"])[:7] + "-01").year
    years = re.findall(r"(?:19|20)\d{2}", str(data.get("title", "")))
    return int(years[-1]) if years else fallback


async def _goals(session: AsyncSession, plan: Plan, at: date, scope: ColumnElement[bool]) -> PlanProgress:
    data = plan.data
    by = rules.parse_date(str(data["by"]))
    start = date(_issued_year(data, by.year), 1, 1)
    now = rules.cutoff(at, by)
    is_new = and_(Camera.install_date >= start, Camera.install_date <= now)
    exists = or_(Camera.install_date.is_(None), Camera.install_date <= at)
    hd = _stream_at_least(registry_rules.HD_MIN_WIDTH, registry_rules.HD_MIN_HEIGHT) == 1

    def count(*conds: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((and_(*conds), 1), else_=0)), 0)

    query = select(
        count(is_new), count(is_new, hd),
        count(exists, Camera.cls == 1), count(exists, Camera.cls == 1, Camera.networked.is_(True)),
        count(exists, Camera.cls == 2), count(exists, Camera.cls == 2, Camera.networked.is_(True)),
    ).where(scope)  # fmt: skip
    new, new_hd, c1, c1_up, c2, c2_up = (int(v) for v in (await session.execute(query)).one())
    goals = data.get("goals", {})
    wanted = [
        ("new_or_rebuilt_hd_share", new_hd, new, goals.get("全域覆盖", {}).get("new_or_rebuilt_hd_share")),
        ("key_public_area_networking_rate (class 1)", c1_up, c1,
         goals.get("全网共享", {}).get("key_public_area_networking_rate")),
        ("key_industry_public_area_networking_rate (class 2)", c2_up, c2,
         goals.get("全网共享", {}).get("key_industry_public_area_networking_rate")),
    ]  # fmt: skip
    rates = []
    for metric, n, of, minimum in wanted:
        if minimum is None:
            continue
        v = rules.share_verdict(count=n, of=of, min_share=float(minimum))
        status = v.status if v.status == rules.NOT_APPLICABLE else rules.deadline_status(
            by=by, at=at, passed=v.status == rules.PASS)  # fmt: skip
        rates.append(RateRow(unit="all", metric=metric, count=n, of=of, share=v.share, min_share=v.min_share,
                             needed=v.needed, status=status, deadline=by))  # fmt: skip
    not_measurable = [
        "key public area and key industry coverage (needs a map of the areas to cover)",
        "integrity rates (needs health and video-quality data, not recorded yet)",
        "全程可控 layered security (not a registry figure)",
    ]
    notes = [f"new = installed {start.isoformat()} .. {now.isoformat()}; networking uses the current `networked` flag"]
    return PlanProgress(plan_id=plan.id, title=plan.title, shape=plan.shape, at=at, period_start=start,
                        period_end=by, rates=tuple(rates), not_measurable=tuple(not_measurable),
                        notes=tuple(notes))  # fmt: skip


async def plan_progress(session: AsyncSession, *, plan: Plan, at: date, principal: Principal) -> PlanProgress:
    """Progress of `plan` as it stood on `at`, over the cameras `principal` may see."""
    principal.require(Permission.PLAN_READ)
    scope = camera_clause(principal)
    if plan.shape == UNIT_TARGETS:
        return await _unit_targets(session, plan, at, scope)
    if plan.shape == REGION_TARGETS:
        return await _region_targets(session, plan, at, scope)
    if plan.shape == GOALS:
        return await _goals(session, plan, at, scope)
    return PlanProgress(plan_id=plan.id, title=plan.title, shape=plan.shape, at=at, period_start=None,
                        period_end=None, notes=("this plan has no targets Tianyan knows how to measure",))  # fmt: skip
