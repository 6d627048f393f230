"""Report periods from what a person types (local days and times in Asia/Shanghai) to a UTC Period, and back."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from tianyan.core.errors import InvalidInput
from tianyan.health.kpi.model import Period
from tianyan.media.completeness import LOCAL_TZ, local_day

DEFAULT_DAYS = 30
# The daily trend of a report covers at most a year (and so does a report).
MAX_DAYS = 366
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY_LENGTH = len("YYYY-MM-DD")


def local_midnight(day: date) -> datetime:
    """The start of a local day, in UTC."""
    return datetime.combine(day, time(), tzinfo=LOCAL_TZ).astimezone(UTC)


def parse_moment(text: str, *, name: str, end: bool) -> datetime:
    """A day (YYYY-MM-DD) or a local time (YYYY-MM-DDTHH:MM, or with an explicit offset) as UTC.

    A bare day means its start, or, for the end of a period, the end of that day (the next midnight): `--from
    2024-05-01 --to 2024-05-31` is the whole of May.
    """
    value = text.strip()
    try:
        if len(value) == _DAY_LENGTH:
            day = date.fromisoformat(value)
            return local_midnight(day + timedelta(days=1) if end else day)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{name} must be a day (YYYY-MM-DD) or a local time (YYYY-MM-DDTHH:MM), not {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_TZ)
    return moment.astimezone(UTC)


def _checked(start: datetime, end: datetime, now: datetime) -> Period:
    if start >= now:
        raise InvalidInput(f"the period starts at {_local_text(start)}, which has not come yet")
    if end <= start:
        raise InvalidInput(f"the period must end after it starts ({describe(Period(start, end))})")
    if end - start > timedelta(days=MAX_DAYS):
        raise InvalidInput(f"a report covers at most {MAX_DAYS} days; {describe(Period(start, end))} is longer")
    return Period(start, end)


def report_period(start_text: str | None, end_text: str | None, *, now: datetime) -> Period:
    """The period between `start_text` and `end_text`; without a start, the last 30 local days up to the end
    (today so far and the 29 days before it); without an end, up to now."""
    end = parse_moment(end_text, name="to", end=True) if end_text else now.astimezone(UTC)
    if start_text:
        start = parse_moment(start_text, name="from", end=False)
    else:
        last_day = local_day(end - timedelta(microseconds=1))
        start = local_midnight(last_day - timedelta(days=DEFAULT_DAYS - 1))
    return _checked(start, end, now)


def month_period(text: str, *, now: datetime) -> Period:
    """A calendar month (YYYY-MM) in local time; the KPIs of the current month run to now."""
    found = _MONTH.match(text.strip())
    if not found or not 1 <= int(found[2]) <= 12:
        raise InvalidInput(f"month must be YYYY-MM, not {text!r}")
    year, month = int(found[1]), int(found[2])
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return _checked(local_midnight(first), local_midnight(following), now)


def _local_text(at: datetime) -> str:
    return at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def _whole_days(period: Period) -> tuple[date, date] | None:
    """The first and last local day, when the period starts and ends at local midnights."""
    start, end = period.start.astimezone(LOCAL_TZ), period.end.astimezone(LOCAL_TZ)
    if start.time() != time() or end.time() != time():
        return None
    return start.date(), end.date() - timedelta(days=1)


def describe(period: Period, *, measured_to: datetime | None = None) -> str:
    """The period as a person reads it, in local time: "2024-05-01 – 2024-05-31" for whole days, else times;
    with `measured_to` before the end (a report on a period still running), up to when it was measured."""
    days = _whole_days(period)
    if days is None:
        text = f"{_local_text(period.start)} – {_local_text(period.end)}"
    else:
        text = days[0].isoformat() if days[0] == days[1] else f"{days[0].isoformat()} – {days[1].isoformat()}"
    if measured_to is not None and measured_to < period.end:
        text += f" (to {_local_text(measured_to)})"
    return text + " Asia/Shanghai"


def file_stem(period: Period) -> str:
    """The local days a period covers, for file names: 20240501-20240531."""
    first, last = local_day(period.start), local_day(period.end - timedelta(microseconds=1))
    return f"{first:%Y%m%d}-{last:%Y%m%d}"
