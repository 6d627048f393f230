"""Figures per local day of the period, from three grouped queries whatever the number of cameras or days.

SQL groups intervals by the (first day, last day) pair they span, with the sums of their ends; the days in
between are spread here with difference arrays, so the work in Python is the number of groups plus days.
Per day: cameras are those counting by that day's end; online_now / intact_now are the cameras online (intact)
at the day's last instant (the measured end, for a day cut short by it); undiagnosed counts cameras with no
diagnosis by then; networking, HD and format are the registry's, over the cameras counting that day.
Recording completeness and retention are judged over each camera's legal window at the period's end, not per
day (a day's figure would read every camera's day again: three million rows for a month of a city), so trend
days carry none: 0 planned, 0 required, rates None.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate

from tianyan.core.errors import InvalidInput
from tianyan.health.kpi.availability_sql import day_spans
from tianyan.health.kpi.backend import DAY_MS, run
from tianyan.health.kpi.figures_sql import ratio, seconds
from tianyan.health.kpi.model import Figures
from tianyan.health.kpi.workspace import Workspace
from tianyan.media.completeness import local_days

MAX_DAYS = 366


class _Days:
    """Per-day integers plus a difference array for ranges of days."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.value = [0] * n
        self.delta = [0] * (n + 1)

    def add(self, day: int, amount: int) -> None:
        if 0 <= day < self.n:
            self.value[day] += amount

    def add_range(self, first: int, last: int, amount: int) -> None:
        """`amount` on every day in [first, last]."""
        first, last = max(first, 0), min(last, self.n - 1)
        if first <= last:
            self.delta[first] += amount
            self.delta[last + 1] -= amount

    def totals(self) -> list[int]:
        return [v + d for v, d in zip(self.value, accumulate(self.delta[: self.n]), strict=True)]


@dataclass
class _Spread:
    time: _Days  # milliseconds
    at_end: _Days  # intervals covering the day's last instant


async def trend(space: Workspace) -> list[tuple[str, Figures]]:
    frame, backend = space.frame, space.backend
    days = local_days(frame.start, frame.end)
    if len(days) > MAX_DAYS:
        raise InvalidInput(f"a trend covers at most {MAX_DAYS} days; this period has {len(days)}")
    if not days:
        return []
    n = len(days)
    day0 = frame.local_day_start_ms(frame.start)
    end = frame.end_ms - day0  # the measured end, in milliseconds since day 0's midnight
    ends_on_midnight = end == n * DAY_MS

    def day_end(k: int) -> int:
        return min((k + 1) * DAY_MS, end)

    # Cameras counting: each from its start to the end, grouped by start day and first-diagnosis day.
    first = backend.floor_div(f"c.start_ms - {day0}", DAY_MS)
    diagnosed = (f"CASE WHEN c.ok0 IS NOT NULL THEN -1 WHEN c.diagnosed_ms IS NULL THEN {n} "
                 f"ELSE {backend.floor_div(f'c.diagnosed_ms - {day0}', DAY_MS)} END")  # fmt: skip
    sql = f"""SELECT {first}, {diagnosed}, COUNT(*), SUM(c.start_ms - {day0}), SUM(c.networked), SUM(c.hd),
                     SUM(c.format_ok)
              FROM {space.cameras.name} c GROUP BY {first}, {diagnosed}"""
    cameras, first_days, networked, hd, format_ok, undiagnosed = (_Days(n) for _ in range(6))
    starting = [0] * n
    for row in await run(space.session, sql):
        start_day, diagnosis_day, count, sum_start, net, hd_count, ok = (int(v) for v in row)
        cameras.add_range(start_day, n - 1, count)
        networked.add_range(start_day, n - 1, net)
        hd.add_range(start_day, n - 1, hd_count)
        format_ok.add_range(start_day, n - 1, ok)
        undiagnosed.add_range(start_day, diagnosis_day - 1, count)
        # Its first day from its start; every later day whole (or up to the measured end).
        first_days.add(start_day, count * day_end(start_day) - sum_start)
        starting[start_day] += count
    counting = cameras.totals()
    period = [first_days.value[k] + (counting[k] - starting[k]) * (day_end(k) - k * DAY_MS) for k in range(n)]

    spreads = {"online": _Spread(_Days(n), _Days(n)), "lost": _Spread(_Days(n), _Days(n))}
    for g in await day_spans(space, day0):
        spread = spreads[g.kind]
        if g.first_day == g.last_day:
            spread.time.add(g.first_day, g.sum_b - g.sum_a)
        else:
            spread.time.add(g.first_day, g.count * (g.first_day + 1) * DAY_MS - g.sum_a)
            spread.time.add(g.last_day, g.sum_b - g.count * g.last_day * DAY_MS)
            spread.time.add_range(g.first_day + 1, g.last_day - 1, g.count * DAY_MS)
        # Covering a day's last instant: the days it starts in up to the one before it ends in; the last day,
        # when the measured end cuts it short, is covered by the intervals that run to that end.
        spread.at_end.add_range(g.first_day, g.last_day - 1, g.count)
        if not ends_on_midnight:
            spread.at_end.add(n - 1, g.running)
    online, lost = spreads["online"], spreads["lost"]
    online_ms, online_now = online.time.totals(), online.at_end.totals()
    intact_ms = [o - x for o, x in zip(online_ms, lost.time.totals(), strict=True)]
    intact_now = [o - x for o, x in zip(online_now, lost.at_end.totals(), strict=True)]

    totals = {
        "networked": networked.totals(),
        "hd": hd.totals(),
        "format_ok": format_ok.totals(),
        "undiagnosed": undiagnosed.totals(),
    }
    out = []
    for k, day in enumerate(days):
        count = counting[k]
        out.append(
            (
                day.isoformat(),
                Figures(
                    cameras=count,
                    online_s=seconds(online_ms[k]),
                    period_s=seconds(period[k]),
                    online_rate=ratio(online_ms[k], period[k]),
                    online_now=online_now[k],
                    intact_s=seconds(intact_ms[k]),
                    integrity_rate=ratio(intact_ms[k], period[k]),
                    intact_now=intact_now[k],
                    undiagnosed=totals["undiagnosed"][k],
                    recorded_s=0.0,
                    planned_s=0.0,
                    recording_completeness=None,
                    retention_required=0,
                    retention_compliant=0,
                    retention_compliance=None,
                    networked=totals["networked"][k],
                    networking_rate=ratio(totals["networked"][k], count),
                    hd=totals["hd"][k],
                    hd_share=ratio(totals["hd"][k], count),
                    format_ok=totals["format_ok"][k],
                    format_compliance=ratio(totals["format_ok"][k], count),
                ),
            )
        )
    return out
