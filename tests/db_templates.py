"""Migrated test databases copied from one migrated once per run.

Running the migrations costs about a third of a second a database, and some 700 tests each want a fresh migrated
one; copying a migrated one costs a few milliseconds on SQLite (the file) and a few tens on PostgreSQL (a database
made from a template database). The copy is what the migrations built, so a test sees the same schema and rows.
Tests of the migrations themselves start from an empty database (conftest's bare_engine) and never come here.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tianyan.db.engine import make_engine
from tianyan.schema.migrate import upgrade


def _sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


class MigratedTemplates:
    """Makes each backend's template the first time a test asks for it; drop() removes the PostgreSQL one."""

    def __init__(self, pg_dsn: str, workdir: Path) -> None:
        self.pg_dsn = pg_dsn
        self.workdir = workdir
        self._sqlite: Path | None = None
        self._pg: str | None = None

    async def _sqlite_template(self) -> Path:
        if self._sqlite is None:
            path = self.workdir / "template.db"
            engine = make_engine(_sqlite_url(path))
            try:
                await upgrade(engine)
            finally:
                await engine.dispose()  # the last connection closing folds the WAL back into the file
            self._sqlite = path
        return self._sqlite

    async def _pg_template(self) -> str:
        if self._pg is None:
            name = f"tianyan_template_{uuid.uuid4().hex[:12]}"
            await self._admin(f'CREATE DATABASE "{name}"')
            engine = create_async_engine(self._pg_url(name))
            try:
                await upgrade(engine)
            finally:
                # CREATE DATABASE ... TEMPLATE refuses a template anyone is connected to.
                await engine.dispose()
            self._pg = name
        return self._pg

    def _pg_url(self, database: str) -> str:
        url = make_url(self.pg_dsn.replace("postgresql://", "postgresql+asyncpg://", 1))
        return url.set(database=database).render_as_string(hide_password=False)

    async def _admin(self, statement: str) -> None:
        try:
            conn = await asyncpg.connect(self.pg_dsn)
        except (OSError, asyncpg.PostgresError) as exc:
            pytest.fail(f"PostgreSQL is required at {self.pg_dsn} (run .ci/run, which starts it): {exc}")
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    async def open(self, backend: str, tmp_path: Path) -> tuple[AsyncEngine, str | None]:
        """A fresh migrated database and, on PostgreSQL, its name (for close())."""
        if backend == "sqlite":
            target = tmp_path / "test.db"
            template = await self._sqlite_template()
            shutil.copyfile(template, target)
            wal = template.with_name(template.name + "-wal")
            if wal.exists():  # normally folded back on close; copied along if not, or the copy would miss rows
                shutil.copyfile(wal, target.with_name(target.name + "-wal"))
            return make_engine(_sqlite_url(target)), None
        template = await self._pg_template()
        name = f"t_{uuid.uuid4().hex[:12]}"
        await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return create_async_engine(self._pg_url(name), pool_size=5), name

    async def close(self, engine: AsyncEngine, database: str | None) -> None:
        await engine.dispose()
        if database:
            # FORCE: a process a test killed may not have been seen to hang up yet.
            await self._admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    def drop(self) -> None:
        """At the end of the run, outside any test's event loop."""
        if self._pg is None:
            return
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._admin(f'DROP DATABASE IF EXISTS "{self._pg}" WITH (FORCE)'))
        finally:
            loop.close()
        self._pg = None
