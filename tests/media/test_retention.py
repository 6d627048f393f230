"""The retention policy as the law and an administrator read it: how long each class keeps footage, when it
expires, and what goes first when a pool fills (class 3 and expired footage, then footage beyond the legal minimum,
never footage inside it or under an evidence lock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tianyan.media.retention import (
    Candidate,
    PoolUsage,
    Tier,
    bytes_to_free,
    effective_retention_days,
    legal_minimum_days,
    plan_space_recovery,
    tier_of,
)

NOW = datetime(2026, 11, 21, 4, 0, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def test_retention_days_follow_the_camera_then_the_class_and_never_go_below_the_law() -> None:
    assert [effective_retention_days(cls, None) for cls in (1, 2, 3)] == [30, 15, 7]
    assert effective_retention_days(2, 60) == 60
    assert effective_retention_days(3, 2) == 2  # class 3 has no legal floor
    assert effective_retention_days(1, 10) == 30  # an override below the law (an old import) does not win
    assert [legal_minimum_days(cls) for cls in (1, 2, 3)] == [30, 15, 0]


def test_tiers_order_what_may_go_for_space() -> None:
    assert tier_of(cls=3, retention_days=7, end_at=ago(0.1), now=NOW) is Tier.EXPENDABLE
    assert tier_of(cls=1, retention_days=30, end_at=ago(31), now=NOW) is Tier.EXPENDABLE
    assert tier_of(cls=2, retention_days=30, end_at=ago(20), now=NOW) is Tier.BEYOND_LEGAL
    assert tier_of(cls=2, retention_days=30, end_at=ago(14), now=NOW) is Tier.PROTECTED
    assert tier_of(cls=1, retention_days=30, end_at=ago(29), now=NOW) is Tier.PROTECTED
    assert tier_of(cls=3, retention_days=7, end_at=ago(30), now=NOW, locked=True) is Tier.PROTECTED


def test_space_is_recovered_only_above_high_water_and_down_to_low_water() -> None:
    assert bytes_to_free(PoolUsage("p", 900, 1000), high_water=0.9, low_water=0.85) == 0
    assert bytes_to_free(PoolUsage("p", 901, 1000), high_water=0.9, low_water=0.85) == 51
    assert bytes_to_free(PoolUsage("p", 5, 0), high_water=0.9, low_water=0.85) == 0  # capacity unknown


def candidate(ident: int, cls: int, end_days_ago: float, *, retention: int | None = None, locked: bool = False):
    end = ago(end_days_ago)
    return Candidate(ident, ident, cls, retention or effective_retention_days(cls, None), end - timedelta(hours=1),
                     end, 100, locked)  # fmt: skip


def test_a_full_pool_loses_class_3_and_expired_footage_first_oldest_first() -> None:
    pool = [
        candidate(1, 2, 20, retention=30),  # beyond the legal 15 days, within the configured 30
        candidate(2, 3, 1),
        candidate(3, 1, 40),  # expired
        candidate(4, 3, 5),
        candidate(5, 2, 25, retention=30),
        candidate(6, 1, 10),  # protected by law
        candidate(7, 3, 9, locked=True),  # evidence
    ]
    plan = plan_space_recovery(pool, needed_bytes=250, now=NOW)
    assert [c.segment_id for c in plan.delete] == [3, 4, 2]
    assert plan.reaches_target and plan.freed_bytes == 300
    everything = plan_space_recovery(pool, needed_bytes=10_000, now=NOW)
    assert [c.segment_id for c in everything.delete] == [3, 4, 2, 5, 1]
    assert not everything.reaches_target and everything.freed_bytes == 500
