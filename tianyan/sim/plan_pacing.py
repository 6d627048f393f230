"""How fast each Huizhou district builds the 2012-2014 plan's new class 1 points, derived from the plan itself.

The plan (tianyan/planning/plans/huizhou-2012-2014.json, read through the plan catalogue) gives every unit an
absolute target of new class 1 points and HD checkpoints (附录2) and three milestones: 30 % of the target built
by 2012-12-31, 70 % by 2013-12-31, 100 % by 2014-12-31. A district here builds its target times an
ACHIEVEMENT (its new points 2012-2016 as a share of the target), spread over the years by its PACE, so that
the cumulative share of the target at each year end lands clearly on one side of each milestone:

    district   achievement x cumulative pace   end 2012 / 2013 / 2014   class 1 milestones
    惠城区     1.08                            0.36 / 0.77 / 1.06       met    met    met
    惠阳区     0.98                            0.18 / 0.54 / 0.86       missed missed missed
    博罗县     1.00                            0.34 / 0.74 / 0.94       met    met    missed
    惠东县     1.04                            0.25 / 0.77 / 1.04       missed met    met
    龙门县     0.95                            0.11 / 0.40 / 0.71       missed missed missed
    大亚湾区   1.15                            0.52 / 0.98 / 1.15       met    met    met (on track mid-2014)
    仲恺区     1.00                            0.33 / 0.66 / 0.92       met    missed missed

HD checkpoints follow the same pace and achievement (their small targets round to the same statuses). The HD
share of each district's new class 1 points is fixed per year, so it passes the plan's 40 % in some districts
and fails in others on any date. Counts are exact per district and year (cumulative rounding), so the
statuses do not depend on the seed; the seed only picks the days, the places and which points are HD.

When the registry is too small to hold the targets (more than MAX_PLAN_SHARE of its cameras), the counts are
scaled down in proportion: every milestone is then missed, but the registry still has its shape.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tianyan.planning.catalogue import load_plan
from tianyan.sim.huizhou import DISTRICTS, PLAN_ID

NEW_YEARS = (2012, 2013, 2014, 2015, 2016)
# Share of a district's new points built in each of NEW_YEARS (class 2 and 3 new points follow it too).
PACE: dict[str, tuple[float, ...]] = {
    "441302": (0.33, 0.38, 0.27, 0.02, 0.00),
    "441303": (0.18, 0.37, 0.33, 0.12, 0.00),
    "441322": (0.34, 0.40, 0.20, 0.06, 0.00),
    "441323": (0.24, 0.50, 0.26, 0.00, 0.00),
    "441324": (0.12, 0.30, 0.33, 0.15, 0.10),
    "441371": (0.45, 0.40, 0.15, 0.00, 0.00),
    "441372": (0.33, 0.33, 0.26, 0.08, 0.00),
}
# New class 1 points built 2012-2016, as a share of the plan's class 1 (and HD checkpoint) target.
ACHIEVEMENT: dict[str, float] = {
    "441302": 1.08, "441303": 0.98, "441322": 1.00, "441323": 1.04, "441324": 0.95, "441371": 1.15, "441372": 1.00,
}  # fmt: skip
# HD share of the new class 1 points that are not checkpoints (checkpoints are always HD); the plan asks >= 40 %
# of all new class 1 points: 惠阳区, 惠东县 and 龙门县 fall short.
HD_SHARE_OF_NEW_CLASS1: dict[str, float] = {
    "441302": 0.52, "441303": 0.30, "441322": 0.48, "441323": 0.32, "441324": 0.26, "441371": 0.58, "441372": 0.50,
}  # fmt: skip
# At most this share of a registry is plan-built class 1 points; a smaller registry gets scaled-down counts.
MAX_PLAN_SHARE = 0.40


@dataclass(frozen=True)
class UnitTargets:
    """One plan unit's targets of new points for 2012-2014 (附录2)."""

    class1: int
    class2: int
    hd_checkpoints: int

    @property
    def total(self) -> int:
        return self.class1 + self.class2


@dataclass(frozen=True)
class NewClass1:
    """A district's new class 1 points per year of NEW_YEARS. Checkpoints are class 1 points too (the plan
    counts them in class 1); `hd` counts the HD points among the others."""

    points: tuple[int, ...]
    checkpoints: tuple[int, ...]
    hd: tuple[int, ...]


def apportion(total: int, weights: Sequence[float]) -> list[int]:
    """Split `total` in proportion to `weights` (largest remainder), so the counts add up exactly."""
    scale = sum(weights)
    if total <= 0 or scale <= 0:
        return [0] * len(weights)
    exact = [total * w / scale for w in weights]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (counts[i] - exact[i], i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _round(x: float) -> int:
    return math.floor(x + 0.5)


def by_year(total: int, pace: Sequence[float]) -> tuple[int, ...]:
    """Split `total` over the years so that each year-end cumulative count is the nearest to total x the
    cumulative pace (a plain per-year split could fall one point short of a milestone)."""
    scale = sum(pace)
    cumulative, running, out = 0, 0.0, []
    for share in pace:
        running += share
        reached = _round(total * running / scale)
        out.append(reached - cumulative)
        cumulative = reached
    return tuple(out)


def unit_targets(plan_id: str = PLAN_ID) -> dict[str, UnitTargets]:
    """The plan's targets by district code (plan units are matched to districts by name)."""
    rows = {str(row["unit"]): row for row in load_plan(plan_id).data["targets"]["rows"]}
    missing = [d.name for d in DISTRICTS if d.name not in rows]
    if missing:
        raise ValueError(f"plan {plan_id} has no targets for {', '.join(missing)}")
    return {
        d.code: UnitTargets(int(rows[d.name]["class1"]), int(rows[d.name]["class2"]),
                            int(rows[d.name]["hd_checkpoints"]))
        for d in DISTRICTS
    }  # fmt: skip


def new_class1(cameras: int, targets: dict[str, UnitTargets]) -> dict[str, NewClass1]:
    """Each district's new class 1 points per year for a registry of `cameras` cameras."""
    codes = [d.code for d in DISTRICTS]
    full = [targets[code].class1 * ACHIEVEMENT[code] for code in codes]
    budget = math.floor(cameras * MAX_PLAN_SHARE)
    totals = [_round(x) for x in full] if sum(_round(x) for x in full) <= budget else apportion(budget, full)
    out = {}
    for code, total in zip(codes, totals, strict=True):
        target = targets[code]
        checkpoints = min(total, _round(total * target.hd_checkpoints / target.class1)) if target.class1 else 0
        points = by_year(total, PACE[code])
        # Never more checkpoints in a year than points (only possible in a tiny, scaled-down registry).
        kept = tuple(min(c, p) for c, p in zip(by_year(checkpoints, PACE[code]), points, strict=True))
        hd = tuple(_round((p - c) * HD_SHARE_OF_NEW_CLASS1[code]) for p, c in zip(points, kept, strict=True))
        out[code] = NewClass1(points=points, checkpoints=kept, hd=hd)
    return out
