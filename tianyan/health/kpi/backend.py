"""The few SQL fragments that differ between SQLite and PostgreSQL, and running text SQL with typed parameters.

Every time the KPI queries do arithmetic on is turned into whole milliseconds since an epoch origin (the period
start, rounded down to the second): integers, so every sum is exact and both backends give identical answers.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Result, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.db.base import UtcDateTime

DAY_S = 86_400
DAY_MS = DAY_S * 1000
_PARAM = re.compile(r"(?<![:\w]):(\w+)")
# 1970-01-01 as a Julian day number: SQLite's julianday() of a date minus this is its day number.
_UNIX_JULIAN_DAY = 2440587.5


class Backend:
    """SQL text for one dialect ("sqlite" or "postgresql")."""

    def __init__(self, name: str) -> None:
        if name not in ("sqlite", "postgresql"):
            raise ValueError(f"KPIs run on SQLite or PostgreSQL, not {name}")
        self.name = name

    @property
    def sqlite(self) -> bool:
        return self.name == "sqlite"

    def millis(self, column: str, origin_epoch: int) -> str:
        """A timestamp as whole milliseconds since `origin_epoch`, identical on both backends.

        SQLite's date functions keep whole milliseconds, rounding the seconds field s as (int)(s * 1000 + 0.5);
        PostgreSQL repeats that arithmetic on the same double (its seconds within the minute), so even a time half
        a millisecond from a boundary lands on the same millisecond. Floating point on the way, not NUMERIC: a
        million rows a query.
        """
        if self.sqlite:
            origin_day = repr(origin_epoch / DAY_S + _UNIX_JULIAN_DAY)
            # julianday() is a whole number of milliseconds; the float error here is far below half of one.
            return f"CAST(ROUND((julianday({column}) - {origin_day}) * {DAY_MS}.0) AS INTEGER)"
        epoch = f"date_part('epoch', {column})"
        minute = f"(floor({epoch} / 60) * 60 - {int(origin_epoch)}) * 1000"
        return f"CAST({minute} + trunc(date_part('second', {column}) * 1000 + 0.5) AS BIGINT)"

    def to_millis(self, seconds: str) -> str:
        """A non-negative column of float seconds as whole milliseconds (half up, the same on both backends)."""
        if self.sqlite:
            return f"CAST(({seconds}) * 1000.0 + 0.5 AS INTEGER)"
        return f"CAST(trunc(({seconds}) * 1000.0 + 0.5) AS BIGINT)"

    def day_number(self, column: str) -> str:
        """A DATE column as days since 1970-01-01."""
        if self.sqlite:
            return f"CAST(julianday({column}) - {_UNIX_JULIAN_DAY} AS INTEGER)"
        return f"({column} - DATE '1970-01-01')"

    def floor_div(self, expression: str, divisor: int) -> str:
        """floor(expression / divisor) for integer expressions that are never negative."""
        return f"(({expression}) / {int(divisor)})"

    @property
    def integer(self) -> str:
        return "INTEGER" if self.sqlite else "BIGINT"

    @property
    def real(self) -> str:
        return "REAL" if self.sqlite else "DOUBLE PRECISION"


def backend_of(session: AsyncSession) -> Backend:
    return Backend(session.get_bind().dialect.name)


async def run(session: AsyncSession, sql: str, **params: Any) -> Result[Any]:
    """Execute text SQL; datetime and date parameters are bound with the column types, so SQLite compares
    them with stored values in the stored text format."""
    statement = text(sql)
    used = set(_PARAM.findall(sql))
    typed = []
    for name, value in params.items():
        if name not in used:
            continue
        if isinstance(value, datetime):
            typed.append(bindparam(name, value, type_=UtcDateTime()))
        elif isinstance(value, date):
            typed.append(bindparam(name, value, type_=Date()))
    if typed:
        statement = statement.bindparams(*typed)
    plain = {name: value for name, value in params.items() if name in used and not isinstance(value, date)}
    return await session.execute(statement, plain)
