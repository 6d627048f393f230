"""Pure plan decisions: the plan period, milestone status, HD-share and sector share-or-count verdicts, gaps.

Shares compare exactly: "at least 30 % of 20" needs 6 points, never 7 because 0.3 * 20 is 6.000000000000001
in floating point, so every threshold goes through `needed_for`, which works in fractions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

MET = "met"
MISSED = "missed"
PENDING = "pending"

PASS = "pass"
FAIL = "fail"
NOT_APPLICABLE = "n/a"


@dataclass(frozen=True)
class Milestone:
    by: date
    min_share: float


@dataclass(frozen=True)
class MilestoneResult:
    by: date
    min_share: float
    target: int
    needed: int  # points needed by `by` to meet it
    built: int  # points built by min(at, by)
    share: float | None
    status: str  # met, missed or pending
    # Pending only: the current count already reaches the milestone's share.
    on_track: bool | None


def parse_date(text: str) -> date:
    return date.fromisoformat(text)


def milestones_from(rows: list[dict[str, object]]) -> tuple[Milestone, ...]:
    found = [Milestone(by=parse_date(str(row["by"])), min_share=float(str(row["min_share"]))) for row in rows]
    return tuple(sorted(found, key=lambda m: m.by))


def plan_period(milestones: tuple[Milestone, ...]) -> tuple[date, date]:
    """From 1 January of the first milestone's year to the last milestone."""
    if not milestones:
        raise ValueError("a plan period needs at least one milestone")
    return date(milestones[0].by.year, 1, 1), milestones[-1].by


def cutoff(at: date, by: date) -> date:
    """The last install date that counts for a milestone looked at on `at`."""
    return min(at, by)


def needed_for(min_share: float, total: int) -> int:
    """The smallest count that is at least `min_share` of `total`."""
    return math.ceil(Fraction(str(min_share)) * total)


def share(count: int, total: int | None) -> float | None:
    if not total:
        return None
    return count / total


def gap(built: int, target: int | None) -> int | None:
    """Points still to build to reach the target (0 once reached)."""
    return None if target is None else max(0, target - built)


def milestone_status(*, milestone: Milestone, at: date, built: int, current: int, target: int) -> MilestoneResult:
    """`built` counts installs up to min(at, by), `current` up to `at`.

    A milestone is decided only once its date has passed (by < at); on the day itself installs still count,
    so it is pending.
    """
    needed = needed_for(milestone.min_share, target)
    if milestone.by < at:
        status, on_track = (MET if built >= needed else MISSED), None
    else:
        status, on_track = PENDING, current >= needed
    return MilestoneResult(
        by=milestone.by,
        min_share=milestone.min_share,
        target=target,
        needed=needed,
        built=built,
        share=share(built, target),
        status=status,
        on_track=on_track,
    )


@dataclass(frozen=True)
class ShareVerdict:
    count: int
    of: int
    share: float | None
    min_share: float
    needed: int
    status: str  # pass, fail, or n/a when there is nothing to take a share of


def share_verdict(*, count: int, of: int, min_share: float) -> ShareVerdict:
    """E.g. HD new class 1 points: at least 40 % of the new class 1 points must be HD."""
    needed = needed_for(min_share, of)
    status = NOT_APPLICABLE if of == 0 else (PASS if count >= needed else FAIL)
    return ShareVerdict(count=count, of=of, share=share(count, of), min_share=min_share, needed=needed, status=status)


@dataclass(frozen=True)
class SectorVerdict:
    points: int
    integrated: int
    share: float | None
    min_share: float
    min_points: int
    needed_for_share: int
    passed: bool
    passed_by: str | None  # "share", "count" or None


def share_or_count(*, points: int, integrated: int, min_share: float, min_points: int) -> SectorVerdict:
    """A sector passes with at least `min_share` of its points integrated OR at least `min_points` integrated.

    A sector with no points has nothing integrated: it cannot pass by share, only (never, unless min_points
    is 0) by count.
    """
    needed = needed_for(min_share, points)
    by_share = points > 0 and integrated >= needed
    by_count = integrated >= min_points
    passed_by = "share" if by_share else "count" if by_count else None
    return SectorVerdict(
        points=points,
        integrated=integrated,
        share=share(integrated, points),
        min_share=min_share,
        min_points=min_points,
        needed_for_share=needed,
        passed=passed_by is not None,
        passed_by=passed_by,
    )


def deadline_status(*, by: date, at: date, passed: bool) -> str:
    """A goal with a deadline: decided once the deadline has passed, pending before."""
    if by < at:
        return MET if passed else MISSED
    return PENDING
