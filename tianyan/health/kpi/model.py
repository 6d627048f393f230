"""What a KPI computation answers: figures for a camera set and period, per-group breakdowns, per-camera rows for
the worst list, and verdicts against the active plan's thresholds. Reports and the API render these."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# Dimensions a KPI report can be broken down by.
BY_DISTRICT = "district"  # county-level region (or the station below it when the scope is one district)
BY_CLASS = "class"
BY_NETWORK = "network"
BY_SECTOR = "sector"
BY_UNIT = "owning_unit"
DIMENSIONS = (BY_DISTRICT, BY_CLASS, BY_NETWORK, BY_SECTOR, BY_UNIT)


@dataclass(frozen=True)
class CameraSet:
    """Which cameras: every filter given narrows the set; none given is the whole city (within the caller's scope)."""

    region_code: str | None = None  # a region and its subtree (GB/T 2260 or local code)
    cls: int | None = None
    network: str | None = None
    sector_id: int | None = None
    owning_unit_id: int | None = None
    camera_id: int | None = None

    def describe(self) -> str:
        parts = [f"{name}={value}" for name, value in vars(self).items() if value is not None]
        return ", ".join(parts) or "all cameras"


@dataclass(frozen=True)
class Period:
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class Figures:
    """The KPIs of one set of cameras over one period. A rate is None when there is nothing to take it of."""

    cameras: int
    # Time-weighted: seconds online / seconds in the period, summed over the cameras (DESIGN.md §3).
    online_s: float
    period_s: float
    online_rate: float | None
    online_now: int
    # Time-weighted: seconds online with a fault-free latest diagnosis / seconds in the period.
    intact_s: float
    integrity_rate: float | None
    intact_now: int
    # Cameras never diagnosed: counted intact while online (no evidence of a fault), and reported here.
    undiagnosed: int
    # Recorded / planned seconds over each camera's legal retention window (class 1: 30 d, 2: 15 d).
    recorded_s: float
    planned_s: float
    recording_completeness: float | None
    retention_required: int  # cameras that must keep footage (class 1 and 2)
    retention_compliant: int
    retention_compliance: float | None
    networked: int
    networking_rate: float | None
    hd: int  # main stream >= 1280x720 at >= 25 fps
    hd_share: float | None
    format_ok: int  # meets the SD minimum (D1/4CIF >= 25 fps) or HD
    format_compliance: float | None


@dataclass(frozen=True)
class GroupFigures:
    dimension: str
    key: str  # region code, class number, network, sector id or unit id as text; "" for none
    label: str  # what a person reads: 惠城区, class 1, police, 教育...
    figures: Figures


@dataclass(frozen=True)
class CameraRow:
    """One camera's figures, for the worst-cameras list (worst online rate first, then integrity)."""

    camera_id: int
    gb_id: str
    name: str
    cls: int
    region: str
    online_now: bool
    online_s: float
    period_s: float
    online_rate: float | None
    intact_s: float
    integrity_rate: float | None
    faults: list[str]  # the latest diagnosis's failed checks
    recording_completeness: float | None
    retention_status: str  # compliant, non_compliant, no_recordings, not_required


@dataclass(frozen=True)
class Verdict:
    """One threshold of the active plan applied to the figures: pass or fail and the gap in cameras."""

    kpi: str  # online_rate, integrity_rate, retention_compliance, networking_rate, hd_share...
    applies_to: str  # what cameras the plan means: "class 1", "class 2", "all", "key industries"...
    minimum: float
    value: float | None
    cameras: int
    status: str  # pass, fail, n/a
    # Cameras that must change (come online, be fixed, become compliant) to reach the minimum; 0 when passing.
    gap_cameras: int
    message: str  # "37 more cameras must be online to reach 95 %"
    source: str  # the plan id and the clause the minimum comes from


@dataclass(frozen=True)
class KpiReport:
    selection: CameraSet
    period: Period
    computed_at: datetime
    plan_id: str | None
    figures: Figures
    verdicts: list[Verdict] = field(default_factory=list)
    worst: list[CameraRow] = field(default_factory=list)
    breakdowns: dict[str, list[GroupFigures]] = field(default_factory=dict)
    # Figures per day of the period (local days), for trend charts.
    trend: list[tuple[str, Figures]] = field(default_factory=list)
