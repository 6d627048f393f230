"""Pure retention policy: how long each camera's footage is kept, when it expires, and what may go for space."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tianyan.registry.rules import retention_days as configured_retention_days

# The legal floor the plans judge by: class 1 footage is kept 30 days, class 2 15; class 3 has none.
LEGAL_MINIMUM_DAYS = {1: 30, 2: 15, 3: 0}


def legal_minimum_days(cls: int) -> int:
    return LEGAL_MINIMUM_DAYS.get(cls, 0)


def effective_retention_days(cls: int, override: int | None) -> int:
    """The camera's retention (its own setting, else 30/15/7 by class), never below the legal minimum.

    The registry refuses overrides below the minimum, but rows from older imports may still hold one; the law wins.
    """
    return max(configured_retention_days(cls, override), legal_minimum_days(cls))


def expiry_cutoff(now: datetime, days: int) -> datetime:
    """Footage that ended before this moment has outlived `days` of retention."""
    return now - timedelta(days=days)


class Tier(enum.IntEnum):
    """What footage may be deleted to free space, in the order it goes; PROTECTED never goes for space."""

    EXPENDABLE = 1  # class 3 footage, and anything past its own retention
    BEYOND_LEGAL = 2  # past the legal minimum but within a longer configured retention
    PROTECTED = 3  # inside its legal retention, or under an evidence lock


def tier_of(*, cls: int, retention_days: int, end_at: datetime, now: datetime, locked: bool = False) -> Tier:
    if locked:
        return Tier.PROTECTED
    if cls == 3 or end_at < expiry_cutoff(now, retention_days):
        return Tier.EXPENDABLE
    if end_at < expiry_cutoff(now, legal_minimum_days(cls)):
        return Tier.BEYOND_LEGAL
    return Tier.PROTECTED


@dataclass(frozen=True)
class PoolUsage:
    """How full a pool is: bytes used out of bytes it may hold."""

    pool: str
    used_bytes: int
    capacity_bytes: int

    @property
    def fraction(self) -> float:
        return self.used_bytes / self.capacity_bytes if self.capacity_bytes > 0 else 0.0


def bytes_to_free(usage: PoolUsage, *, high_water: float, low_water: float) -> int:
    """Nothing while the pool is at or below high water; above it, enough to get down to low water."""
    if usage.capacity_bytes <= 0 or usage.fraction <= high_water:
        return 0
    return max(0, usage.used_bytes - int(usage.capacity_bytes * low_water))


@dataclass(frozen=True)
class Candidate:
    """A segment that space recovery might delete, with what the policy judges it by."""

    segment_id: int
    camera_id: int
    cls: int
    retention_days: int
    start_at: datetime
    end_at: datetime
    bytes: int
    locked: bool = False


@dataclass(frozen=True)
class SpacePlan:
    """Segments to delete, in order, and whether they reach the target without touching protected footage."""

    delete: tuple[Candidate, ...]
    freed_bytes: int
    needed_bytes: int

    @property
    def reaches_target(self) -> bool:
        return self.freed_bytes >= self.needed_bytes


def recovery_order(candidates: Iterable[Candidate], now: datetime) -> list[tuple[Tier, Candidate]]:
    """Deletable candidates by tier, oldest first within each; protected ones are left out."""
    judged = [
        (tier_of(cls=c.cls, retention_days=c.retention_days, end_at=c.end_at, now=now, locked=c.locked), c)
        for c in candidates
    ]
    deletable = [(tier, c) for tier, c in judged if tier is not Tier.PROTECTED]
    return sorted(deletable, key=lambda item: (item[0], item[1].start_at, item[1].segment_id))


def plan_space_recovery(candidates: Iterable[Candidate], *, needed_bytes: int, now: datetime) -> SpacePlan:
    """The fewest segments, in policy order, whose bytes reach `needed_bytes`; all deletable ones if none do."""
    chosen: list[Candidate] = []
    freed = 0
    for _, candidate in recovery_order(candidates, now):
        if freed >= needed_bytes:
            break
        chosen.append(candidate)
        freed += candidate.bytes
    return SpacePlan(delete=tuple(chosen), freed_bytes=freed, needed_bytes=needed_bytes)
