"""One KPI computation's frame (period clipped to now, time origin, local-day origin) and its temporary tables.

The cameras of a selection are copied once, with what the KPIs need, into a temporary table (`cameras`); their
online and faulty-verdict intervals into two more (`spans`, `faults`); then one row per camera with every sum
the figures need (`facts`), which the figures, breakdowns and the worst list aggregate (150,000 rows) instead of
the histories. The tables live on the session's connection and are dropped at the end; if the computation
fails they go with the caller's rollback.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Column, Integer, MetaData, PrimaryKeyConstraint, String, Table
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core.errors import InvalidInput
from tianyan.db.base import UtcDateTime
from tianyan.health.kpi.backend import DAY_S, Backend, backend_of, run
from tianyan.health.kpi.model import Period
from tianyan.media.completeness import local_day

# Asia/Shanghai has had no daylight saving since 1991: a local day is always [k, k + 1) days after this.
LOCAL_OFFSET_S = 8 * 3600


@dataclass(frozen=True)
class Frame:
    """The period as measured: from its start to its end or `now`, whichever comes first, in whole milliseconds
    since `origin` (the start rounded down to a whole second, as a Unix time)."""

    period: Period
    start: datetime
    end: datetime
    origin: int
    start_ms: int
    end_ms: int

    @classmethod
    def of(cls, period: Period, now: datetime) -> Frame:
        for name, value in (("start", period.start), ("end", period.end), ("now", now)):
            if value.tzinfo is None:
                raise InvalidInput(f"the period's {name} must carry a time zone")
        if period.end <= period.start:
            raise InvalidInput(f"the period must end after it starts ({period.start} .. {period.end})")
        start = period.start.astimezone(UTC)
        end = max(start, min(period.end, now).astimezone(UTC))
        origin = math.floor(start.timestamp())
        return cls(period, start, end, origin, _millis(start, origin), _millis(end, origin))

    def local_day_start_ms(self, at: datetime) -> int:
        """Milliseconds since origin of the local midnight that starts `at`'s local day."""
        midnight = datetime.combine(local_day(at), datetime.min.time()) - timedelta(seconds=LOCAL_OFFSET_S)
        return _millis(midnight.replace(tzinfo=UTC), self.origin)


def _millis(at: datetime, origin: int) -> int:
    """Whole milliseconds from `origin` to `at`, rounded half up like the queries' ROUND (backend.millis)."""
    delta = at.astimezone(UTC) - datetime.fromtimestamp(origin, UTC)
    micros = (delta.days * DAY_S + delta.seconds) * 1_000_000 + delta.microseconds
    return (micros + 500) // 1000


class Workspace:
    """The temporary tables of one computation (see the module docstring)."""

    def __init__(self, session: AsyncSession, frame: Frame) -> None:
        self.session = session
        self.frame = frame
        self.backend: Backend = backend_of(session)
        self._settings: tuple[str, str] = ("", "")
        tag = uuid.uuid4().hex[:10]
        self.metadata = MetaData()

        def table(name: str, *columns: Column[Any], key: tuple[str, ...] = (), clustered: bool = False) -> Table:
            """On SQLite keyed by `key` (default: the first column), which its joins look rows up by; a clustered
            table is stored in key order, so a GROUP BY on the key's first column reads it in order, unsorted.
            PostgreSQL joins these by hashing, so it gets no key to maintain."""
            options: dict[str, Any] = {}
            constraints: list[PrimaryKeyConstraint] = []
            if self.backend.sqlite:
                constraints.append(PrimaryKeyConstraint(*(key or (columns[0].name,))))
            if clustered and self.backend.sqlite:
                options["sqlite_with_rowid"] = False
            return Table(f"kpi_{name}_{tag}", self.metadata, *columns, *constraints, prefixes=["TEMPORARY"], **options)

        self.cameras = table(
            "cameras",
            Column("id", Integer, nullable=False),
            Column("start_at", UtcDateTime, nullable=False),  # when the camera starts counting
            Column("start_ms", BigInteger, nullable=False),  # the same, in milliseconds since the origin
            Column("cls", Integer, nullable=False),
            Column("network", String(8), nullable=False),
            Column("region_id", Integer, nullable=False),
            Column("sector_id", Integer),
            Column("owning_unit_id", Integer),
            Column("networked", Integer, nullable=False),
            Column("hd", Integer, nullable=False),
            Column("format_ok", Integer, nullable=False),
            Column("install_day", Integer),  # days since 1970-01-01
            Column("online0", Integer, nullable=False),  # state when it starts counting
            Column("ok0", Integer),  # picture verdict then; NULL while undiagnosed
            Column("diagnosed_ms", BigInteger),  # undiagnosed at its start: first diagnosed, NULL if not by the end
        )

        # Intervals [a, b) a camera was online (b = the end: still online), one per state change that opened
        # one; `sid` (the transition's id, 0 for the state it started in) keeps keys unique.
        def intervals(name: str) -> Table:
            return table(
                name,
                Column("cid", Integer, nullable=False),
                Column("a", BigInteger, nullable=False),
                Column("sid", Integer, nullable=False),
                Column("b", BigInteger, nullable=False),
                key=("cid", "a", "sid"),
                clustered=True,
            )

        self.spans = intervals("spans")
        # Intervals a camera's picture verdict was faulty, the same way.
        self.faults = intervals("faults")
        # Per class 1 and 2 camera: what its recording window holds (recording_sql.per_camera_sql).
        self.recording = table(
            "recording",
            Column("camera_id", Integer, nullable=False),
            Column("window_from", Integer, nullable=False),  # first day of its compliance window (day number)
            Column("reach_ms", BigInteger, nullable=False),  # its oldest footage must start by then
            Column("started_by_window", Integer, nullable=False),  # planned recording on or before that day
            Column("oldest_ms", BigInteger),
            Column("install_day", Integer),
            Column("first_day", Integer),  # first planned day in the window
            Column("complete_days", Integer, nullable=False),
            Column("recorded_ms", BigInteger, nullable=False),
            Column("planned_ms", BigInteger, nullable=False),
        )
        # Region → the region its cameras are grouped under by place (district, or station in one district).
        self.places = table(
            "places",
            Column("region_id", Integer, nullable=False),
            Column("place_id", Integer, nullable=False),
        )
        # One row per camera with everything the figures add up: every aggregate reads this table alone. Kept in
        # the order the cube groups by (figures_sql.cube), so SQLite reads it grouped.
        self.facts = table(
            "facts",
            Column("place_id", Integer, nullable=False),
            Column("cls", Integer, nullable=False),
            Column("network", String(8), nullable=False),
            Column("sector_key", Integer, nullable=False),  # the sector's id, 0 for none
            Column("camera_id", Integer, nullable=False),
            Column("sector_id", Integer),
            Column("owning_unit_id", Integer),
            Column("install_day", Integer),
            Column("period_ms", BigInteger, nullable=False),
            Column("online_ms", BigInteger, nullable=False),
            Column("online_end", Integer, nullable=False),
            Column("intact_ms", BigInteger, nullable=False),
            Column("intact_end", Integer, nullable=False),
            Column("undiagnosed", Integer, nullable=False),
            Column("recorded_ms", BigInteger, nullable=False),
            Column("planned_ms", BigInteger, nullable=False),
            Column("required", Integer, nullable=False),
            Column("status", String(16), nullable=False),
            Column("networked", Integer, nullable=False),
            Column("hd", Integer, nullable=False),
            Column("format_ok", Integer, nullable=False),
            key=("place_id", "cls", "network", "sector_key", "camera_id"),
            clustered=True,
        )

    async def create(self) -> None:
        if not self.backend.sqlite:
            # The histories are sorted and hashed in memory rather than in temporary files, and these one-off
            # queries are not JIT-compiled (that costs more than it saves); the caller's settings come back after.
            self._settings = tuple((await run(self.session, _SETTINGS_NOW)).one())
            await run(self.session, "SELECT set_config('work_mem', '256MB', true), set_config('jit', 'off', true)")
        await self.session.run_sync(lambda s: self.metadata.create_all(s.connection()))

    async def drop(self) -> None:
        for table in reversed(self.metadata.sorted_tables):
            await run(self.session, f"DROP TABLE IF EXISTS {table.name}")
        if not self.backend.sqlite:
            work_mem, jit = self._settings
            await run(self.session, _SETTINGS_BACK, work_mem=work_mem, jit=jit)

    async def analyse(self, table: Table) -> None:
        """Give the planner row counts for a freshly filled table (neither backend samples temporary tables)."""
        await run(self.session, f"ANALYZE {table.name}")


_SETTINGS_NOW = "SELECT current_setting('work_mem'), current_setting('jit')"
_SETTINGS_BACK = "SELECT set_config('work_mem', :work_mem, true), set_config('jit', :jit, true)"


@asynccontextmanager
async def workspace(session: AsyncSession, frame: Frame) -> AsyncIterator[Workspace]:
    await session.flush()
    space = Workspace(session, frame)
    await space.create()
    yield space
    # Only on success: after an error PostgreSQL refuses statements until rollback, which removes them anyway.
    await space.drop()
