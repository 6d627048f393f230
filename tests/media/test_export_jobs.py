"""Export jobs on SQLite and PostgreSQL: who may ask (permission, scope, a reason), the audit trail, and the runner
taking a queued job to done (progress 1.0, hash matching the file) or to failed with the reason why."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.media.test_export import FPS, SegmentFiles, add_segments, at, segment_files  # noqa: F401 (fixture)
from tests.registry_fixtures import HUICHENG, HUIYANG, Registry, add_user, build_registry
from tianyan.app.platform import Platform
from tianyan.core.errors import Forbidden, InvalidInput, NotFound
from tianyan.media import export_jobs, manifest
from tianyan.media.export_jobs import ExportRunner, ExportSettings
from tianyan.media.models import ExportJob, RecordingGap
from tianyan.security import audit
from tianyan.security.audit import AuditFilter
from tianyan.security.scope import Principal

SEED = b"\x01" * 32


def settings_for(platform: Platform) -> ExportSettings:
    config = platform.config
    return ExportSettings(
        pools={pool.name: pool.path for pool in config.storage_pools},
        exports_dir=config.exports_dir,
        platform_id=config.sip.id,
        signing_seed=SEED,
    )


def principal_of(user_id: int, username: str, role: str, regions: tuple[str, ...] = ()) -> Principal:
    paths = tuple(f"/440000/441300/{code}/" for code in regions)
    return Principal(
        user_id=user_id,
        username=username,
        role=role,
        all_regions=not regions,
        region_paths=paths,
        networks=frozenset({"police", "social", "local"}),
        classes=frozenset({1, 2, 3}),
        source="127.0.0.1",
    )


@pytest.fixture
async def registry(session: AsyncSession) -> Registry:
    return await build_registry(session, sensitive=(False,))


@pytest.fixture
async def recorded(
    session: AsyncSession,
    platform: Platform,
    registry: Registry,
    segment_files: SegmentFiles,  # noqa: F811
) -> str:
    """A Huicheng camera with three recorded segments (a 2 s gap between the second and the third)."""
    camera = next(c for c in registry.cameras if c.region == HUICHENG)
    await add_segments(
        session,
        camera_id=camera.id,
        gb_id=camera.gb_id,
        pool_dir=platform.config.recordings_dir,
        files=segment_files.video,
    )
    session.add(RecordingGap(camera_id=camera.id, start_at=at(8), end_at=at(10), cause="stream_lost"))
    await session.commit()
    return camera.gb_id


async def test_analyst_export_runs_to_done(session: AsyncSession, platform: Platform, recorded: str) -> None:
    user = await add_user(session, "analyst.li", "analyst", all_regions=True)
    await session.commit()
    analyst = principal_of(user.id, user.username, "analyst")
    settings = settings_for(platform)
    job = await export_jobs.request_export(
        session, principal=analyst, gb_id=recorded, start=at(2.5), end=at(12.5), reason="案件 42",
        sign=True, settings=settings, clock=platform.clock,
    )  # fmt: skip
    await session.commit()
    assert job.status == "queued"

    runner = ExportRunner(platform.sessions, settings, clock=platform.clock)
    assert await runner.drain() == 1
    done = (await session.execute(select(ExportJob).where(ExportJob.id == job.id).execution_options(
        populate_existing=True))).scalar_one()  # fmt: skip
    assert (done.status, done.progress, done.signed, done.error) == ("done", 1.0, True, None)
    file = platform.config.exports_dir / str(done.path)
    assert file.is_file() and manifest.file_sha256(file) == done.sha256 and file.stat().st_size == done.bytes
    manifest_path = manifest.manifest_path_for(file)
    body = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert (body["camera"]["gb_id"], body["user"], body["reason"], body["job_id"]) == (
        recorded, "analyst.li", "案件 42", job.id,
    )  # fmt: skip
    assert [(g["from"], g["cause"]) for g in body["gaps"]] == [(at(8).isoformat(), "stream_lost")]
    assert body["video"]["frames"] == 2 * FPS + 4 * FPS + int(2.5 * FPS) + 1
    public = manifest.public_key_text(manifest.signing_key(SEED).public_key())
    assert manifest.verify(manifest_path, file, trusted_public_key=public).ok

    entries = await audit.search(session, where=AuditFilter(action="video.export"))
    assert [(e.action, e.actor, e.target, e.outcome) for e in entries] == [
        ("video.export", "analyst.li", f"camera:{recorded}", "ok"),
        ("video.export.finish", "analyst.li", f"camera:{recorded}", "ok"),
    ]
    assert entries[0].reason == "案件 42" and entries[1].detail["sha256"] == done.sha256
    assert (await audit.verify(session)).ok

    views = await export_jobs.list_jobs(session, principal=analyst)
    assert [(v.id, v.status, v.camera) for v in views] == [(job.id, "done", recorded)]


async def test_who_may_export(session: AsyncSession, platform: Platform, recorded: str) -> None:
    operator = await add_user(session, "op", "operator", all_regions=True)
    huiyang = await add_user(session, "hy.analyst", "analyst", regions=[HUIYANG])
    await session.commit()
    settings = settings_for(platform)

    async def ask(principal: Principal, reason: str = "案件 42") -> ExportJob:
        return await export_jobs.request_export(
            session, principal=principal, gb_id=recorded, start=at(0), end=at(4), reason=reason, sign=False,
            settings=settings,
        )  # fmt: skip

    with pytest.raises(Forbidden, match=r"video\.export"):
        await ask(principal_of(operator.id, "op", "operator"))
    with pytest.raises(NotFound):  # a Huicheng camera is outside a Huiyang analyst's scope
        await ask(principal_of(huiyang.id, "hy.analyst", "analyst", (HUIYANG,)))
    analyst = principal_of(huiyang.id, "hy.analyst", "analyst")
    for blank in ("", "   "):
        with pytest.raises(InvalidInput, match="reason"):
            await ask(analyst, blank)
    with pytest.raises(InvalidInput, match="after"):
        await export_jobs.request_export(
            session, principal=analyst, gb_id=recorded, start=at(4), end=at(4), reason="x", sign=False,
            settings=settings,
        )  # fmt: skip
    with pytest.raises(NotFound, match="no recorded footage"):
        await export_jobs.request_export(
            session, principal=analyst, gb_id=recorded, start=at(100), end=at(200), reason="x", sign=False,
            settings=settings,
        )  # fmt: skip
    await session.rollback()
    assert (await session.execute(select(ExportJob))).scalars().all() == []


async def test_a_job_whose_footage_vanished_fails_with_the_reason(
    session: AsyncSession, platform: Platform, recorded: str
) -> None:
    settings = settings_for(platform)
    analyst = principal_of(0, "cli", "admin")  # the system principal: the command line on the server
    job = await export_jobs.request_export(
        session, principal=analyst, gb_id=recorded, start=at(0), end=at(3), reason="x", sign=False, settings=settings,
    )  # fmt: skip
    await session.commit()
    for file in platform.config.recordings_dir.rglob("*.mp4"):
        file.write_bytes(b"not an mp4 any more")
    finished = await ExportRunner(platform.sessions, settings, clock=platform.clock).run(job.id)
    assert finished.status == "failed" and "could not be read" in str(finished.error)
    assert not any(platform.config.exports_dir.glob("*"))  # nothing half-written left behind
    entries = await audit.search(session, where=AuditFilter(action="video.export.finish"))
    assert [(e.outcome, e.actor) for e in entries] == [("failed", "cli")]
    assert await export_jobs.recover(platform.sessions) == 0
