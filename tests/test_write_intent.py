"""SQLite lets one writer in at a time, so a request that will write takes the write lock up front. Authentication
commits in the middle of a request (last-seen times); the rest of the request must still hold the lock, or its own
writes would fail at once whenever another writer got in between ("database is locked")."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from tianyan.db.engine import commit_keeping_intent, intend_to_write, make_engine, make_sessionmaker


def another_writer_can_start(path: Path) -> bool:
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return False
    finally:
        other.close()


@pytest.mark.parametrize("intends", [True, False])
async def test_a_writing_session_holds_the_write_lock_after_a_mid_request_commit(tmp_path: Path, intends: bool) -> None:
    path = tmp_path / "t.db"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (x INTEGER)"))
        async with make_sessionmaker(engine)() as session:
            if intends:
                await intend_to_write(session)
            await session.execute(text("SELECT count(*) FROM t"))
            await commit_keeping_intent(session)
            # A session that will write holds the lock again at once; a read-only one leaves the database free.
            assert another_writer_can_start(path) is not intends
            await session.rollback()
        assert another_writer_can_start(path)
    finally:
        await engine.dispose()
