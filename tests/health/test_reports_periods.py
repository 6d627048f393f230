"""Report periods as a person types them in Huizhou (local days, UTC+8) and as the report prints them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tianyan.core.errors import InvalidInput
from tianyan.health.kpi.model import Period
from tianyan.health.reports.periods import describe, file_stem, month_period, report_period

NOW = datetime(2024, 6, 15, 4, 30, tzinfo=UTC)  # 12:30 in Huizhou


def test_days_are_local_and_the_last_day_is_included() -> None:
    period = report_period("2024-05-01", "2024-05-31", now=NOW)
    assert period == Period(datetime(2024, 4, 30, 16, tzinfo=UTC), datetime(2024, 5, 31, 16, tzinfo=UTC))
    assert describe(period) == "2024-05-01 – 2024-05-31 Asia/Shanghai"
    assert file_stem(period) == "20240501-20240531"


def test_times_are_local_unless_they_say_otherwise() -> None:
    period = report_period("2024-05-01T08:30", "2024-05-01T18:00+00:00", now=NOW)
    assert period.start == datetime(2024, 5, 1, 0, 30, tzinfo=UTC)
    assert period.end == datetime(2024, 5, 1, 18, tzinfo=UTC)
    assert describe(period) == "2024-05-01 08:30 – 2024-05-02 02:00 Asia/Shanghai"


def test_default_is_today_so_far_and_the_29_days_before() -> None:
    period = report_period(None, None, now=NOW)
    assert period.end == NOW
    assert period.start == datetime(2024, 5, 16, 16, tzinfo=UTC)  # local midnight starting 17 May
    assert describe(period) == "2024-05-17 00:00 – 2024-06-15 12:30 Asia/Shanghai"
    only_end = report_period(None, "2024-05-31", now=NOW)
    assert describe(only_end) == "2024-05-02 – 2024-05-31 Asia/Shanghai"


def test_a_month_is_its_local_days_and_a_running_one_says_to_when() -> None:
    may = month_period("2024-05", now=NOW)
    assert may == Period(datetime(2024, 4, 30, 16, tzinfo=UTC), datetime(2024, 5, 31, 16, tzinfo=UTC))
    december = month_period("2023-12", now=NOW)
    assert december.end == datetime(2023, 12, 31, 16, tzinfo=UTC)
    june = month_period("2024-06", now=NOW)
    assert describe(june, measured_to=NOW) == "2024-06-01 – 2024-06-30 (to 2024-06-15 12:30) Asia/Shanghai"


@pytest.mark.parametrize(
    ("start", "end", "words"),
    [
        ("2024-5-1", None, "from must be a day"),
        ("yesterday", None, "from must be a day"),
        ("2024-05-01", "2024-02-30", "to must be a day"),
        ("2024-05-10", "2024-05-01", "must end after it starts"),
        ("2024-07-01", None, "has not come yet"),
        ("2022-01-01", "2024-01-01", "at most 366 days"),
    ],
)
def test_bad_periods_are_refused_with_the_reason(start: str | None, end: str | None, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        report_period(start, end, now=NOW)


@pytest.mark.parametrize("month", ["2024-13", "2024-5", "May 2024", "2024-07"])
def test_bad_months_are_refused(month: str) -> None:
    with pytest.raises(InvalidInput, match=r"month must be YYYY-MM|has not come yet"):
        month_period(month, now=NOW)
