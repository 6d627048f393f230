"""A worker stopped at shutdown may be cancelled in the middle of a commit. On SQLite the connection's return to the
pool (a rollback on the driver's thread) is part of every commit; a cancellation landing there must not be logged as
an error, must not be lost, and must leave the database and the pool fit for the next writer."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from tianyan.db.engine import intend_to_write, make_engine, make_sessionmaker


async def test_workers_cancelled_mid_commit_log_nothing_and_lose_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "t.db"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    sessions = make_sessionmaker(engine)
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE t (x INTEGER)"))
    committed = 0

    async def worker() -> None:
        nonlocal committed
        while True:
            async with sessions() as session:
                await intend_to_write(session)
                await session.execute(text("INSERT INTO t VALUES (1)"))
                await session.commit()
                committed += 1

    caplog.set_level(logging.ERROR, logger="sqlalchemy")
    try:
        # Cancelling after 0–18 ms walks the cancellation across every await of a commit, the return included
        # (with the pool's own rollback-on-return this logged ~10 errors in 200 rounds).
        for round_ in range(200):
            task = asyncio.create_task(worker())
            await asyncio.sleep(0.003 * (round_ % 7))
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=5)  # a lost cancellation would keep it writing: TimeoutError
        async with sessions() as session:
            await intend_to_write(session)
            rows = (await session.execute(text("SELECT count(*) FROM t"))).scalar_one()
            assert rows >= committed > 50
            await session.execute(text("INSERT INTO t VALUES (2)"))
            await session.commit()
    finally:
        await engine.dispose()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    # Nobody is left holding the write lock.
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()
