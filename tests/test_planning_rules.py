"""Plan rules without a database: the period, milestone verdicts, HD shares, sector share-or-count, the catalogue."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from tianyan.core.errors import InvalidInput, NotFound
from tianyan.planning import catalogue, rules
from tianyan.planning.rules import Milestone

HUIZHOU = rules.milestones_from(
    [{"by": "2013-12-31", "min_share": 0.7}, {"by": "2012-12-31", "min_share": 0.3},
     {"by": "2014-12-31", "min_share": 1.0}]
)  # fmt: skip


def test_milestones_are_sorted_and_give_the_plan_period() -> None:
    assert [m.by for m in HUIZHOU] == [date(2012, 12, 31), date(2013, 12, 31), date(2014, 12, 31)]
    assert rules.plan_period(HUIZHOU) == (date(2012, 1, 1), date(2014, 12, 31))


@pytest.mark.parametrize(
    ("min_share", "total", "needed"),
    [(0.3, 500, 150), (0.3, 20, 6), (0.7, 20, 14), (0.3, 15, 5), (0.7, 15, 11), (0.4, 150, 60), (1.0, 0, 0),
     (0.9, 1, 1), (0.4, 850, 340)],
)  # fmt: skip
def test_needed_is_exact_not_floating_point(min_share: float, total: int, needed: int) -> None:
    # 0.3 * 20 is 6.000000000000001 in floating point; a naive ceil would ask for 7.
    assert rules.needed_for(min_share, total) == needed


def test_a_passed_milestone_is_met_or_missed_by_what_was_built_by_its_date() -> None:
    first = HUIZHOU[0]
    met = rules.milestone_status(milestone=first, at=date(2013, 1, 1), built=150, current=150, target=500)
    assert (met.status, met.needed, met.share, met.on_track) == ("met", 150, 0.3, None)
    missed = rules.milestone_status(milestone=first, at=date(2014, 6, 1), built=149, current=400, target=500)
    assert (missed.status, missed.built) == ("missed", 149)


def test_a_milestone_is_pending_up_to_and_including_its_day() -> None:
    first = HUIZHOU[0]
    on_the_day = rules.milestone_status(milestone=first, at=date(2012, 12, 31), built=150, current=150, target=500)
    assert (on_the_day.status, on_the_day.on_track) == ("pending", True)
    behind = rules.milestone_status(milestone=first, at=date(2012, 6, 30), built=100, current=100, target=500)
    assert (behind.status, behind.on_track) == ("pending", False)


def test_a_zero_target_is_met_with_nothing_built() -> None:
    result = rules.milestone_status(milestone=Milestone(date(2012, 12, 31), 0.3), at=date(2013, 1, 1), built=0,
                                    current=0, target=0)  # fmt: skip
    assert (result.status, result.share) == ("met", None)


def test_cutoff_is_the_earlier_of_the_report_day_and_the_milestone() -> None:
    assert rules.cutoff(date(2012, 6, 30), date(2012, 12, 31)) == date(2012, 6, 30)
    assert rules.cutoff(date(2015, 1, 1), date(2012, 12, 31)) == date(2012, 12, 31)


def test_gap_is_what_remains_to_build() -> None:
    assert (rules.gap(150, 500), rules.gap(600, 500), rules.gap(3, None)) == (350, 0, None)


def test_hd_share_passes_at_the_minimum_and_fails_below_it() -> None:
    assert rules.share_verdict(count=60, of=150, min_share=0.4).status == "pass"
    below = rules.share_verdict(count=59, of=150, min_share=0.4)
    assert (below.status, below.needed) == ("fail", 60)
    assert rules.share_verdict(count=0, of=0, min_share=0.4).status == "n/a"


def test_sector_passes_by_share() -> None:
    verdict = rules.share_or_count(points=30, integrated=24, min_share=0.8, min_points=3200)
    assert (verdict.passed, verdict.passed_by, verdict.share, verdict.needed_for_share) == (True, "share", 0.8, 24)


def test_sector_passes_by_count_when_the_share_is_short() -> None:
    verdict = rules.share_or_count(points=850, integrated=320, min_share=0.4, min_points=320)
    assert (verdict.passed, verdict.passed_by, verdict.needed_for_share) == (True, "count", 340)


def test_sector_fails_when_neither_is_reached() -> None:
    verdict = rules.share_or_count(points=10, integrated=8, min_share=0.9, min_points=3200)
    assert (verdict.passed, verdict.passed_by, verdict.needed_for_share) == (False, None, 9)


def test_sector_without_points_fails() -> None:
    verdict = rules.share_or_count(points=0, integrated=0, min_share=0.4, min_points=320)
    assert (verdict.passed, verdict.share) == (False, None)


def test_deadline_goals_are_pending_until_the_deadline_passes() -> None:
    by = date(2020, 12, 31)
    assert rules.deadline_status(by=by, at=date(2020, 12, 31), passed=False) == "pending"
    assert rules.deadline_status(by=by, at=date(2021, 1, 1), passed=False) == "missed"
    assert rules.deadline_status(by=by, at=date(2021, 1, 1), passed=True) == "met"


# --- the catalogue ---------------------------------------------------------------------------------


def test_the_three_shipped_plans_with_their_shapes() -> None:
    plans = {p.id: p for p in catalogue.list_plans()}
    assert {pid: p.shape for pid, p in plans.items()} == {
        "huizhou-2012-2014": "unit_targets",
        "ningxia-2014": "region_targets",
        "national-2020": "goals",
    }
    assert all(p.origin == "shipped" for p in plans.values())
    assert plans["huizhou-2012-2014"].data["targets"]["totals"] == {
        "total": 30000, "class1": 3000, "class2": 27000, "hd_checkpoints": 120,
    }  # fmt: skip


def test_an_unknown_plan_names_the_known_ones() -> None:
    with pytest.raises(NotFound) as caught:
        catalogue.load_plan("huizhou-2099")
    assert "huizhou-2099" in caught.value.detail
    assert "huizhou-2012-2014, national-2020, ningxia-2014" in caught.value.detail


def test_user_plans_are_added_and_replace_shipped_ones_of_the_same_id(tmp_path: Path) -> None:
    (tmp_path / "mine.json").write_text(json.dumps({"id": "shenzhen-2030", "title": "深圳"}), encoding="utf-8")
    (tmp_path / "over.json").write_text(json.dumps({"id": "national-2020", "title": "本地修订"}), encoding="utf-8")
    plans = {p.id: p for p in catalogue.list_plans(user_dir=tmp_path)}
    assert (plans["shenzhen-2030"].origin, plans["shenzhen-2030"].shape) == ("user", "unknown")
    assert (plans["national-2020"].origin, plans["national-2020"].title) == ("user", "本地修订")
    assert catalogue.load_plan("shenzhen-2030", user_dir=tmp_path).title == "深圳"


def test_a_broken_user_plan_is_named(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"broken\.json"):
        catalogue.list_plans(user_dir=tmp_path)
