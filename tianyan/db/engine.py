"""Async engines and sessions; SQLite gets WAL, foreign keys, a busy timeout and write transactions that queue.

SQLite lets one writer in at a time. A deferred transaction that reads first and writes later cannot wait its
turn when another writer committed in between (SQLITE_BUSY_SNAPSHOT): it fails at once. So a session that
will write says so first (`intend_to_write`), and on SQLite its transaction starts with BEGIN IMMEDIATE, which
takes the write lock up front and waits for it (busy_timeout) instead of failing. On PostgreSQL the intent
changes nothing.

A connection goes back to the pool with a rollback, and on SQLite that is a real call to the driver's thread, made
inside every commit. A worker cancelled at shutdown in that moment would have the pool log the cancellation as an
error and throw the connection away; `_rollback_on_return` lets the rollback finish in order instead and hands the
cancellation back to the task.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import PoolResetState

WRITE_INTENT = "tianyan_write"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
    # SQLAlchemy, not the driver, begins transactions (below); this also makes SAVEPOINTs behave.
    dbapi_connection.isolation_level = None


def _sqlite_begin(connection: Connection) -> None:
    mode = "IMMEDIATE" if connection.get_execution_options().get(WRITE_INTENT) else "DEFERRED"
    connection.exec_driver_sql(f"BEGIN {mode}")


def _rollback_on_return(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
    if state.terminate_only or state.transaction_was_reset or not state.asyncio_safe:
        return  # as the pool's own reset: closed anyway, already rolled back, or no event loop to call from
    try:
        dbapi_connection.rollback()
    except asyncio.CancelledError:
        # Only the wait was cut short: aiosqlite runs a connection's calls in order on its own thread, so the rollback
        # still happens before the connection's next use. The task gets its cancellation at its next await (count
        # kept, so an asyncio.timeout around it still tells its own cancellation apart).
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
            task.cancel()


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo, pool_reset_on_return=None)
        configure_sqlite(engine)
        return engine
    return create_async_engine(url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True)


def configure_sqlite(engine: AsyncEngine) -> None:
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    event.listen(engine.sync_engine, "begin", _sqlite_begin)
    event.listen(engine.sync_engine.pool, "reset", _rollback_on_return)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def intend_to_write(session: AsyncSession) -> None:
    """Call first thing in a session that will write: on SQLite it then queues for the write lock up front."""
    session.info[WRITE_INTENT] = True
    await session.connection(execution_options={WRITE_INTENT: True})


async def commit_keeping_intent(session: AsyncSession) -> None:
    """Commit part of a request's work (authentication touching last-seen times, say) and go on as before: a session
    that said it will write opens its next transaction the same way, or the rest of the request would run deferred
    and fail at once on SQLite when another writer got in between."""
    await session.commit()
    if session.info.get(WRITE_INTENT):
        await session.connection(execution_options={WRITE_INTENT: True})
