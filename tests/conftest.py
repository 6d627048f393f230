"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, a platform, an API client."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from tests.db_templates import MigratedTemplates
from tianyan.api.app import create_app
from tianyan.app.platform import Platform
from tianyan.config import Config, DatabaseConfig, ServerConfig
from tianyan.core.clock import FakeClock
from tianyan.db.engine import make_engine

PG_DSN = os.environ.get("TIANYAN_TEST_PG", "postgresql://localhost:5432/test")
BACKENDS = ("sqlite", "postgresql")


async def _pg_schema_engine(schema: str) -> AsyncEngine:
    """An engine whose every connection works inside its own schema, so tests never see each other."""
    try:
        conn = await asyncpg.connect(PG_DSN)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL is required at {PG_DSN} (run .ci/run, which starts it): {exc}")
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()
    url = PG_DSN.replace("postgresql://", "postgresql+asyncpg://", 1)
    return create_async_engine(url, connect_args={"server_settings": {"search_path": schema}}, pool_size=5)


async def _drop_pg_schema(schema: str) -> None:
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


async def open_engine(backend: str, tmp_path: Path) -> tuple[AsyncEngine, str | None]:
    if backend == "sqlite":
        return make_engine(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"), None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    return await _pg_schema_engine(schema), schema


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def bare_engine(backend: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An empty database (no migrations run) on the given backend."""
    engine, schema = await open_engine(backend, tmp_path)
    try:
        yield engine
    finally:
        await engine.dispose()
        if schema:
            await _drop_pg_schema(schema)


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedTemplates]:
    templates = MigratedTemplates(PG_DSN, tmp_path_factory.mktemp("templates"))
    yield templates
    templates.drop()


@pytest.fixture
async def engine(backend: str, tmp_path: Path, migrated_templates: MigratedTemplates) -> AsyncIterator[AsyncEngine]:
    """A migrated database on the given backend: a copy of one migrated once per run, which is much quicker."""
    engine, database = await migrated_templates.open(backend, tmp_path)
    try:
        yield engine
    finally:
        await migrated_templates.close(engine, database)


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with AsyncSession(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(server=ServerConfig(data_dir=tmp_path / "data"), database=DatabaseConfig(url="unused://"))


@pytest.fixture
async def platform(engine: AsyncEngine, config: Config, clock: FakeClock) -> Platform:
    return await Platform.open(config, engine=engine, migrate=False, clock=clock)


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(platform)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
