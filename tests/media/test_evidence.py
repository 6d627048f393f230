"""Evidence locks as an analyst uses them: a case reference and a reason are required, cameras outside the scope
are not found, every lock and release is in the audit log, and a locked range survives retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.registry_fixtures import HUICHENG, HUIYANG, Registry, build_registry
from tianyan.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from tianyan.media import evidence
from tianyan.security.models import AuditEntry
from tianyan.security.scope import Principal

NOW = datetime(2026, 11, 21, 4, 0, tzinfo=UTC)
ALL_NETWORKS = frozenset({"police", "social", "local"})


def principal(role: str, region: str, name: str) -> Principal:
    return Principal(
        user_id=0, username=name, role=role, region_paths=(f"/440000/441300/{region}/",), networks=ALL_NETWORKS,
        classes=frozenset({1, 2, 3}), source="127.0.0.1",
    )  # fmt: skip


@pytest.fixture
async def registry(session: AsyncSession) -> Registry:
    return await build_registry(session, sensitive=(False,))


def camera_in(registry: Registry, region: str) -> str:
    return next(c.gb_id for c in registry.cameras if c.region == region and c.cls == 1)


async def test_a_lock_needs_a_case_and_a_reason_and_is_audited(session: AsyncSession, registry: Registry) -> None:
    analyst = principal("analyst", HUIYANG, "hy.analyst")
    camera = camera_in(registry, HUIYANG)
    span = {"start_at": NOW - timedelta(days=3), "end_at": NOW - timedelta(days=2)}
    for case, reason in (("", "fight"), ("A-1", "  ")):
        with pytest.raises(InvalidInput):
            await evidence.create_lock(session, principal=analyst, gb_id=camera, case_ref=case, reason=reason,
                                       now=NOW, **span)  # fmt: skip
    with pytest.raises(InvalidInput, match="end after"):
        await evidence.create_lock(session, principal=analyst, gb_id=camera, case_ref="A-1", reason="fight",
                                   start_at=NOW, end_at=NOW, now=NOW)  # fmt: skip
    lock = await evidence.create_lock(
        session, principal=analyst, gb_id=camera, case_ref=" 惠阳刑 2026-118 ", reason="斗殴", now=NOW, **span
    )
    await session.commit()
    assert lock.active and lock.case_ref == "惠阳刑 2026-118" and lock.camera == camera
    entries = (await session.execute(select(AuditEntry).order_by(AuditEntry.seq))).scalars().all()
    assert [(e.actor, e.action, e.target, e.reason) for e in entries] == [
        ("hy.analyst", "evidence.lock", f"camera:{camera}", "斗殴")
    ]
    assert entries[0].detail["case"] == "惠阳刑 2026-118" and entries[0].detail["lock"] == lock.id


async def test_locks_are_scoped(session: AsyncSession, registry: Registry) -> None:
    huiyang = principal("analyst", HUIYANG, "hy.analyst")
    huicheng = principal("analyst", HUICHENG, "hc.analyst")
    span = {"start_at": NOW - timedelta(days=3), "end_at": NOW - timedelta(days=2), "now": NOW}
    with pytest.raises(NotFound):
        await evidence.create_lock(session, principal=huiyang, gb_id=camera_in(registry, HUICHENG), case_ref="A",
                                   reason="r", **span)  # fmt: skip
    mine = await evidence.create_lock(session, principal=huiyang, gb_id=camera_in(registry, HUIYANG), case_ref="A",
                                      reason="r", **span)  # fmt: skip
    theirs = await evidence.create_lock(session, principal=huicheng, gb_id=camera_in(registry, HUICHENG),
                                        case_ref="B", reason="r", **span)  # fmt: skip
    seen, _ = await evidence.list_locks(session, principal=huiyang)
    assert [lock.id for lock in seen] == [mine.id]
    with pytest.raises(NotFound):
        await evidence.release_lock(session, principal=huiyang, lock_id=theirs.id, reason="done", now=NOW)
    operator = principal("operator", HUIYANG, "hy.op")  # watches video, may not keep it
    with pytest.raises(Forbidden):
        await evidence.list_locks(session, principal=operator)


async def test_a_release_is_audited_once(session: AsyncSession, registry: Registry) -> None:
    analyst = principal("analyst", HUIYANG, "hy.analyst")
    lock = await evidence.create_lock(session, principal=analyst, gb_id=camera_in(registry, HUIYANG), case_ref="A",
                                      reason="r", start_at=NOW - timedelta(hours=2), end_at=NOW, now=NOW)  # fmt: skip
    with pytest.raises(InvalidInput):
        await evidence.release_lock(session, principal=analyst, lock_id=lock.id, reason="", now=NOW)
    released = await evidence.release_lock(session, principal=analyst, lock_id=lock.id, reason="结案", now=NOW)
    assert not released.active and released.released_at == NOW
    with pytest.raises(Conflict):
        await evidence.release_lock(session, principal=analyst, lock_id=lock.id, reason="again", now=NOW)
    await session.commit()
    actions = (await session.execute(select(AuditEntry.action, AuditEntry.reason).order_by(AuditEntry.seq))).all()
    assert [tuple(a) for a in actions] == [("evidence.lock", "r"), ("evidence.release", "结案")]
    active, _ = await evidence.list_locks(session, principal=analyst, active=True)
    assert active == []
