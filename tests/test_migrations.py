"""Migrations build the schema from empty and carry data over from the previous revision, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, insert, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tianyan.registry.models import Camera, Region
from tianyan.schema.metadata import metadata
from tianyan.schema.migrate import current_revision, downgrade, head_revision, upgrade
from tianyan.security import audit
from tianyan.security.models import AuditEntry, AuditHead, User

PREVIOUS = "0001"
AT = datetime(2025, 6, 1, 8, 30, 15, 123456, tzinfo=UTC)


async def _tables(engine: AsyncEngine) -> set[str]:
    def names(connection: Connection) -> set[str]:
        return set(inspect(connection).get_table_names())

    async with engine.connect() as conn:
        return await conn.run_sync(names)


async def test_head_is_the_latest_revision() -> None:
    assert head_revision() == "0007"


async def test_upgrade_from_empty(bare_engine: AsyncEngine) -> None:
    assert await current_revision(bare_engine) is None
    await upgrade(bare_engine)
    assert await current_revision(bare_engine) == head_revision()
    assert set(metadata.tables) <= await _tables(bare_engine)
    async with AsyncSession(bare_engine) as session:
        head = (await session.execute(select(AuditHead))).scalars().one()
        assert (head.id, head.seq, head.hash) == (1, 0, audit.GENESIS)
        assert (await audit.verify(session)).ok


async def test_upgrade_twice_is_harmless(engine: AsyncEngine) -> None:
    await upgrade(engine)
    assert await current_revision(engine) == head_revision()


async def test_models_match_the_migrations(engine: AsyncEngine) -> None:
    """What the models declare is what the migrations built: no column, index or constraint drifted."""

    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as conn:
        assert await conn.run_sync(differences) == []


def _entry_fields(seq: int, prev_hash: str, action: str) -> dict[str, object]:
    fields: dict[str, object] = {
        "seq": seq, "at": AT, "actor": "legacy", "source": "10.0.0.1", "action": action, "target": "user:legacy",
        "outcome": "ok", "reason": None, "detail": {"note": "written before 0002"}, "prev_hash": prev_hash,
    }  # fmt: skip
    return {**fields, "hash": audit.entry_hash(**fields)}  # type: ignore[arg-type]


async def _seed_at_previous_revision(engine: AsyncEngine) -> None:
    first = _entry_fields(1, audit.GENESIS, "user.create")
    second = _entry_fields(2, str(first["hash"]), "auth.login")
    async with engine.begin() as conn:
        await conn.execute(insert(Region).values(id=1, code="441300", name="惠州市", level="city", path="/441300/"))
        # Columns as they were at that revision: the models have grown since.
        await conn.execute(
            text(
                "INSERT INTO cameras (id, gb_id, name, class, network, region_id, kind, sensitive, networked, labels, "
                "created_at, updated_at) VALUES (1, '44130000001320000001', '老点位', 1, 'police', 1, 'fixed', "
                ":f, :t, :labels, :now, :now)"
            ),
            {"f": False, "t": True, "labels": '["旧"]', "now": AT},
        )
        await conn.execute(insert(User).values(id=1, username="legacy", role="operator", password_hash="!"))
        await conn.execute(insert(AuditEntry), [first, second])


async def test_upgrade_from_previous_revision_keeps_rows(bare_engine: AsyncEngine) -> None:
    await upgrade(bare_engine, PREVIOUS)
    assert await current_revision(bare_engine) == PREVIOUS
    await _seed_at_previous_revision(bare_engine)

    await upgrade(bare_engine)

    assert await current_revision(bare_engine) == head_revision()
    async with AsyncSession(bare_engine) as session:
        camera = (await session.execute(select(Camera))).scalar_one()
        assert (camera.gb_id, camera.name, camera.labels) == ("44130000001320000001", "老点位", ["旧"])
        assert (await session.execute(select(User.username))).scalar_one() == "legacy"
        assert (await session.execute(select(Region.path))).scalar_one() == "/441300/"
        # The old entries stay part of the chain, and new ones continue it.
        result = await audit.verify(session)
        assert (result.ok, result.entries) == (True, 2)
        entry = await audit.record(session, actor="admin", action="user.disable", target="user:legacy")
        assert entry.seq == 3
        await session.commit()
        assert (await audit.verify(session)).ok


async def test_downgrade_to_previous_and_upgrade_again(engine: AsyncEngine) -> None:
    async with AsyncSession(engine) as session:
        for n in range(3):
            await audit.record(session, actor="admin", action="camera.create", target=f"camera:{n}")
        await session.commit()

    await downgrade(engine, PREVIOUS)
    assert await current_revision(engine) == PREVIOUS
    async with AsyncSession(engine) as session:
        assert (await session.execute(select(func.count()).select_from(AuditHead))).scalar_one() == 0
        assert (await session.execute(select(func.count()).select_from(AuditEntry))).scalar_one() == 3

    await upgrade(engine)
    assert await current_revision(engine) == head_revision()
    async with AsyncSession(engine) as session:
        result = await audit.verify(session)
        assert (result.ok, result.entries) == (True, 3)
        assert (await audit.record(session, actor="admin", action="camera.delete")).seq == 4
        await session.commit()
    async with engine.connect() as conn:
        with pytest.raises(DBAPIError, match="append-only"):
            await conn.execute(text("DELETE FROM audit_log"))


async def test_downgrade_to_empty_and_back(engine: AsyncEngine) -> None:
    await downgrade(engine, "base")
    assert await current_revision(engine) is None
    assert not set(metadata.tables) & await _tables(engine)
    await upgrade(engine)
    assert set(metadata.tables) <= await _tables(engine)


async def test_upgrade_from_0002_keeps_devices_and_cameras_offline_until_heard(bare_engine: AsyncEngine) -> None:
    await upgrade(bare_engine, "0002")
    async with bare_engine.begin() as conn:
        await conn.execute(insert(Region).values(id=1, code="441300", name="惠州市", level="city", path="/441300/"))
        await conn.execute(
            text(
                "INSERT INTO devices (id, gb_id, name, type_code, approval, enabled, created_at, updated_at) "
                "VALUES (1, '44130000001180000001', 'NVR', '118', 'approved', :t, :now, :now)"
            ),
            {"t": True, "now": AT},
        )
        await conn.execute(
            text(
                "INSERT INTO cameras (id, gb_id, name, class, network, region_id, device_id, kind, sensitive, "
                "networked, labels, created_at, updated_at) VALUES (1, '44130000001320000001', '老点位', 1, "
                "'police', 1, 1, 'fixed', :f, :t, '[]', :now, :now)"
            ),
            {"f": False, "t": True, "now": AT},
        )

    await upgrade(bare_engine)

    async with bare_engine.connect() as conn:
        device = (await conn.execute(text("SELECT gb_id, online, channel_class, channel_network FROM devices"))).one()
        camera = (await conn.execute(text("SELECT gb_id, online, channel_status FROM cameras"))).one()
    assert (device.gb_id, bool(device.online), device.channel_class, device.channel_network) == (
        "44130000001180000001", False, 1, "police",
    )  # fmt: skip
    assert (camera.gb_id, bool(camera.online), camera.channel_status) == ("44130000001320000001", False, None)
