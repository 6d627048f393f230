"""The active plan's KPI thresholds as data, and the verdict of each against figures (pure).

Plan clauses and the cameras they are taken to mean (always within the report's selection and scope):

- huizhou-2012-2014 `class_requirements`:
  - class1.min_online_rate (0.95) → online rate of class 1 cameras;
  - class2.min_integrity_rate (0.90) → integrity rate of class 2 cameras;
  - classN.min_retention_days (30 / 15) → retention compliance of class N cameras, minimum 100 % (every one
    must keep its footage; compliance is judged against the legal minimum, media.retention, which is the
    same 30 / 15 days);
  - classN.min_hd_share_of_new (0.40 / 0.30) → HD share of class N cameras installed in the plan period
    (1 January of the first milestone's year up to the last milestone, or up to the report's day if
    earlier), as planning.progress counts new points; a camera without an install date is not new.
- ningxia-2014 `kpis`: min_online_rate (0.90) and min_integrity_rate (0.97) → all cameras.
  min_video_contribution_to_solved_cases needs case data and is not judged here.
- national-2020 `goals`:
  - 全时可用.key_public_area_integrity_rate (0.98) → integrity rate of class 1 cameras (key public areas are
    the police-controlled class 1 points);
  - 全时可用.key_industry_integrity_rate (0.95) → integrity rate of cameras with an industry sector;
  - 全网共享.key_public_area_networking_rate (1.0) → networking rate of class 1 cameras.
  Coverage and new-HD goals are plan progress (planning.progress), not KPIs over a period; which cameras of
  a key industry face public areas is not recorded, so that networking goal is not judged.

Any other plan, or none, gives no thresholds. Gaps are in cameras, with exact share arithmetic
(planning.rules.needed_for): online (integrity) needs ceil(minimum × N − online (intact) camera-equivalents),
where camera-equivalents = N × time-weighted rate; counted KPIs need needed_for(minimum, N) − count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any

from tianyan.health.kpi.model import Figures, Verdict
from tianyan.planning import rules
from tianyan.planning.catalogue import Plan

ONLINE = "online_rate"
INTEGRITY = "integrity_rate"
RETENTION = "retention_compliance"
NETWORKING = "networking_rate"
HD_SHARE = "hd_share"

# Camera-equivalents are time-weighted sums in floating point: differences below this are rounding, not cameras.
_EQUIVALENT_TOLERANCE = 6


@dataclass(frozen=True)
class Applies:
    """Which of the report's cameras a threshold is about: every filter given narrows them."""

    label: str
    cls: int | None = None
    with_sector: bool = False
    installed_from: date | None = None
    installed_to: date | None = None


ALL = Applies("all cameras")
CLASS_1 = Applies("class 1", cls=1)
CLASS_2 = Applies("class 2", cls=2)
KEY_INDUSTRIES = Applies("key industries (cameras with a sector)", with_sector=True)


@dataclass(frozen=True)
class Threshold:
    kpi: str
    applies: Applies
    minimum: float
    source: str  # "plan id: clause"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _huizhou(plan: Plan, at: date) -> list[Threshold]:
    requirements = plan.data.get("class_requirements")
    if not isinstance(requirements, dict):
        return []
    milestones = rules.milestones_from(plan.data.get("milestones") or [])
    new_from, new_to = rules.plan_period(milestones) if milestones else (None, None)
    out = []
    for cls, applies in ((1, CLASS_1), (2, CLASS_2)):
        clause = requirements.get(f"class{cls}")
        if not isinstance(clause, dict):
            continue

        def source(key: str, cls: int = cls) -> str:
            return f"{plan.id}: class_requirements.class{cls}.{key}"

        for key, kpi in (("min_online_rate", ONLINE), ("min_integrity_rate", INTEGRITY)):
            if (minimum := _number(clause.get(key))) is not None:
                out.append(Threshold(kpi, applies, minimum, source(key)))
        if _number(clause.get("min_retention_days")) is not None:
            out.append(Threshold(RETENTION, applies, 1.0, source("min_retention_days")))
        minimum = _number(clause.get("min_hd_share_of_new"))
        if minimum is not None and new_from is not None and new_to is not None:
            until = min(new_to, at)
            new = Applies(f"new class {cls} points (installed {new_from} .. {until})", cls=cls,
                          installed_from=new_from, installed_to=until)  # fmt: skip
            out.append(Threshold(HD_SHARE, new, minimum, source("min_hd_share_of_new")))
    return out


def _kpis(plan: Plan) -> list[Threshold]:
    kpis = plan.data.get("kpis")
    if not isinstance(kpis, dict):
        return []
    out = []
    for key, kpi in (("min_online_rate", ONLINE), ("min_integrity_rate", INTEGRITY)):
        if (minimum := _number(kpis.get(key))) is not None:
            out.append(Threshold(kpi, ALL, minimum, f"{plan.id}: kpis.{key}"))
    return out


def _goals(plan: Plan) -> list[Threshold]:
    goals = plan.data.get("goals")
    if not isinstance(goals, dict):
        return []
    wanted = (
        ("全时可用", "key_public_area_integrity_rate", INTEGRITY, CLASS_1),
        ("全时可用", "key_industry_integrity_rate", INTEGRITY, KEY_INDUSTRIES),
        ("全网共享", "key_public_area_networking_rate", NETWORKING, CLASS_1),
    )
    out = []
    for group, key, kpi, applies in wanted:
        section = goals.get(group)
        if isinstance(section, dict) and (minimum := _number(section.get(key))) is not None:
            out.append(Threshold(kpi, applies, minimum, f"{plan.id}: goals.{group}.{key}"))
    return out


def thresholds_of(plan: Plan | None, *, at: date) -> list[Threshold]:
    """The thresholds a plan sets on KPIs; `at` is the report's (local) day, which bounds "new" points."""
    if plan is None:
        return []
    return [*_huizhou(plan, at), *_kpis(plan), *_goals(plan)]


def percent(share: float) -> str:
    return f"{share * 100:g} %"


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} more {one if n == 1 else many}"


def judge(threshold: Threshold, figures: Figures) -> Verdict:
    """Pass or fail, with how many cameras must change to reach the minimum."""
    kpi, minimum = threshold.kpi, threshold.minimum
    needed_share = Fraction(str(minimum))
    if kpi in (ONLINE, INTEGRITY):
        of = figures.cameras
        seconds = figures.online_s if kpi == ONLINE else figures.intact_s
        value = figures.online_rate if kpi == ONLINE else figures.integrity_rate
        if of and figures.period_s > 0:
            equivalents = Fraction(seconds) * of / Fraction(figures.period_s)
            gap = max(0, math.ceil(round(needed_share * of - equivalents, _EQUIVALENT_TOLERANCE)))
        else:
            gap = 0
        verb = "be online" if kpi == ONLINE else "be fixed"
    else:
        if kpi == RETENTION:
            count, of, verb = figures.retention_compliant, figures.retention_required, "become compliant"
        elif kpi == NETWORKING:
            count, of, verb = figures.networked, figures.cameras, "be networked"
        else:
            count, of, verb = figures.hd, figures.cameras, "be HD"
        value = rules.share(count, of)
        gap = max(0, rules.needed_for(minimum, of) - count)
    name = kpi.replace("_", " ")
    if not of or value is None:
        status, message = rules.NOT_APPLICABLE, f"no {threshold.applies.label} cameras to judge {name} by"
    elif gap == 0:
        status, message = rules.PASS, f"{name} {value * 100:.1f} % meets {percent(minimum)}"
    else:
        what = _plural(gap, "camera", "cameras") if kpi != HD_SHARE else _plural(gap, "new point", "new points")
        status, message = rules.FAIL, f"{what} must {verb} to reach {percent(minimum)}"
    return Verdict(
        kpi=kpi,
        applies_to=threshold.applies.label,
        minimum=minimum,
        value=value,
        cameras=of,
        status=status,
        gap_cameras=gap if status == rules.FAIL else 0,
        message=message,
        source=threshold.source,
    )
