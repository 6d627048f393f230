"""Export jobs: asking for an evidence export (permission, scope, reason, audit), and the runner that performs
queued jobs in a worker thread, keeping each job's progress, result or error in its `export_jobs` row."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tianyan.core.clock import Clock, SystemClock, as_utc
from tianyan.core.errors import Conflict, InvalidInput, NotFound, TianyanError
from tianyan.db.engine import intend_to_write
from tianyan.media import manifest as manifest_module
from tianyan.media.evidence import scoped_camera
from tianyan.media.export import (
    ExportResult,
    Footage,
    NoFootage,
    coverage_gaps,
    export_mp4,
    load_footage,
)
from tianyan.media.models import ExportJob
from tianyan.registry.models import Camera
from tianyan.security import audit
from tianyan.security.models import User
from tianyan.security.roles import Permission, Role
from tianyan.security.scope import Principal

log = logging.getLogger(__name__)

MAX_RANGE = timedelta(hours=24)
MAX_REASON = 2000
PROGRESS_EVERY_S = 0.5


@dataclass(frozen=True)
class ExportSettings:
    """What the exporter needs of the configuration, and the signing seed the application layer keeps."""

    pools: dict[str, Path]
    exports_dir: Path
    platform_id: str
    signing_seed: bytes | None = None


@dataclass(frozen=True)
class JobView:
    id: int
    camera: str
    camera_name: str
    start_at: datetime
    end_at: datetime
    reason: str
    user: str | None
    status: str
    progress: float
    bytes: int | None
    sha256: str | None
    signed: bool
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    file_name: str | None


def check_range(start: datetime, end: datetime, *, limit: timedelta = MAX_RANGE) -> tuple[datetime, datetime]:
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("times need a zone (e.g. 2026-01-01T08:00:00+08:00 or …Z)")
    start, end = as_utc(start), as_utc(end)
    if end <= start:
        raise InvalidInput(f"'to' ({end.isoformat()}) must come after 'from' ({start.isoformat()})")
    if end - start > limit:
        raise InvalidInput(f"a range may span at most {limit.total_seconds() / 3600:g} hours")
    return start, end


def require(principal: Principal, permission: Permission) -> None:
    """The system principal (user 0: the command line on the server itself) is no account and holds them all."""
    if principal.user_id != 0:
        principal.require(permission)


async def request_export(
    session: AsyncSession,
    *,
    principal: Principal,
    gb_id: str,
    start: datetime,
    end: datetime,
    reason: str,
    sign: bool,
    settings: ExportSettings,
    clock: Clock | None = None,
) -> ExportJob:
    """Queue an export of one camera's [start, end); audited as video.export with the reason. Flushed, not committed."""
    require(principal, Permission.VIDEO_EXPORT)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("an export needs a reason (the case or incident it is for)")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"the reason is longer than {MAX_REASON} characters")
    start, end = check_range(start, end)
    if sign and settings.signing_seed is None:
        raise InvalidInput("this node has no export signing key")
    camera = await scoped_camera(session, principal=principal, gb_id=gb_id)
    footage = await load_footage(session, camera_id=camera.id, start=start, end=end, pools=settings.pools)
    if not footage.segments:
        raise NoFootage(f"camera {gb_id} has no recorded footage between {start.isoformat()} and {end.isoformat()}")
    now = (clock or SystemClock()).now()
    job = ExportJob(
        camera_id=camera.id,
        start_at=start,
        end_at=end,
        reason=reason,
        user_id=principal.user_id or None,
        status="queued",
        progress=0.0,
        signed=sign,
        created_at=now,
    )
    session.add(job)
    await session.flush()
    await audit.record(
        session,
        actor=principal.username,
        source=principal.source,
        action="video.export",
        target=f"camera:{gb_id}",
        reason=reason,
        detail={"job": job.id, "from": start.isoformat(), "to": end.isoformat(), "sign": sign},
        clock=clock,
    )
    return job


def _view(job: ExportJob, camera: Camera, username: str | None) -> JobView:
    return JobView(
        id=job.id,
        camera=camera.gb_id,
        camera_name=camera.name,
        start_at=job.start_at,
        end_at=job.end_at,
        reason=job.reason,
        user=username,
        status=job.status,
        progress=job.progress,
        bytes=job.bytes,
        sha256=job.sha256,
        signed=job.signed,
        error=job.error,
        created_at=job.created_at,
        finished_at=job.finished_at,
        file_name=Path(job.path).name if job.path else None,
    )


def _jobs_query(principal: Principal) -> Any:
    query = (
        select(ExportJob, Camera, User.username)
        .join(Camera, Camera.id == ExportJob.camera_id)
        .outerjoin(User, User.id == ExportJob.user_id)
    )
    if principal.role != Role.ADMIN.value:
        query = query.where(ExportJob.user_id == principal.user_id)
    return query


async def list_jobs(session: AsyncSession, *, principal: Principal, after: int = 0, limit: int = 100) -> list[JobView]:
    """Newest first; a user sees their own exports, an administrator everyone's."""
    query = _jobs_query(principal)
    if after:
        query = query.where(ExportJob.id < after)
    rows = await session.execute(query.order_by(ExportJob.id.desc()).limit(limit))
    return [_view(job, camera, username) for job, camera, username in rows]


async def get_job(session: AsyncSession, *, principal: Principal, job_id: int) -> JobView:
    row = (await session.execute(_jobs_query(principal).where(ExportJob.id == job_id))).one_or_none()
    if row is None:
        raise NotFound(f"no export {job_id} of yours")
    return _view(*row)


async def job_file(
    session: AsyncSession,
    *,
    principal: Principal,
    job_id: int,
    exports_dir: Path,
    which: str = "file",
    clock: Clock | None = None,
) -> Path:
    """The exported MP4 (or its manifest) of a finished job, for its owner or an administrator; audited."""
    view = await get_job(session, principal=principal, job_id=job_id)
    if view.status != "done" or view.file_name is None:
        raise Conflict(f"export {job_id} is {view.status}, not done")
    path = exports_dir / view.file_name
    if which == "manifest":
        path = manifest_module.manifest_path_for(path)
    if not path.is_file():
        raise NotFound(f"the {which} of export {job_id} is no longer on this node")
    if session.in_transaction() and not (session.new or session.dirty or session.deleted):
        await session.commit()  # only reads so far; the audit entry opens a write transaction of its own
    await audit.record(
        session,
        actor=principal.username,
        source=principal.source,
        action="video.export.download",
        target=f"camera:{view.camera}",
        detail={"job": job_id, "what": which, "sha256": view.sha256},
        clock=clock,
    )
    return path


def file_name(job_id: int, gb_id: str, start: datetime) -> str:
    safe = re.sub(r"[^0-9A-Za-z]", "", gb_id)
    return f"export-{job_id:06d}-{safe}-{as_utc(start):%Y%m%dT%H%M%SZ}.mp4"


@dataclass(frozen=True)
class ExportOutcome:
    result: ExportResult
    manifest: dict[str, Any]
    manifest_path: Path


class ExportRunner:
    """Takes queued jobs one at a time and performs them with PyAV in a worker thread, off the event loop."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], settings: ExportSettings, *, clock: Clock | None = None
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock = clock or SystemClock()
        self._task: asyncio.Task[int] | None = None
        self._cancels: dict[int, threading.Event] = {}
        self._wake = False

    def kick(self) -> None:
        """Make sure queued jobs are being taken (call after committing a new job)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.drain(), name="export-runner")
        else:
            self._wake = True

    async def drain(self) -> int:
        """Run queued jobs, oldest first, until none is left; returns how many ran."""
        count = 0
        while True:
            self._wake = False
            async with self.sessions() as session:
                query = select(ExportJob.id).where(ExportJob.status == "queued").order_by(ExportJob.id).limit(1)
                job_id = (await session.execute(query)).scalar_one_or_none()
            if job_id is None:
                if self._wake:
                    continue
                return count
            with contextlib.suppress(Conflict):
                await self.run(job_id)
                count += 1

    def cancel(self, job_id: int) -> bool:
        event = self._cancels.get(job_id)
        if event is not None:
            event.set()
        return event is not None

    async def close(self) -> None:
        for event in self._cancels.values():
            event.set()
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._task

    async def _claim(self, job_id: int) -> None:
        async with self.sessions() as session:
            await intend_to_write(session)
            claimed = await session.execute(
                update(ExportJob).where(ExportJob.id == job_id, ExportJob.status == "queued").values(status="running")
            )
            await session.commit()
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict(f"export {job_id} is not queued (another runner took it, or it ran already)")

    async def _set(self, job_id: int, **values: Any) -> None:
        async with self.sessions() as session:
            await intend_to_write(session)
            await session.execute(update(ExportJob).where(ExportJob.id == job_id).values(**values))
            await session.commit()

    async def run(self, job_id: int, *, out: Path | None = None) -> ExportJob:
        """Claim one queued job and perform it; the row ends done or failed (with the error). Returns the row."""
        await self._claim(job_id)
        async with self.sessions() as session:
            job, camera, username = (
                await session.execute(
                    select(ExportJob, Camera, User.username)
                    .join(Camera, Camera.id == ExportJob.camera_id)
                    .outerjoin(User, User.id == ExportJob.user_id)
                    .where(ExportJob.id == job_id)
                )
            ).one()
            footage = await load_footage(
                session, camera_id=camera.id, start=job.start_at, end=job.end_at, pools=self.settings.pools
            )
        actor = username or "cli"
        target = out or self.settings.exports_dir / file_name(job.id, camera.gb_id, job.start_at)
        facts = manifest_module.ExportFacts(
            platform_id=self.settings.platform_id,
            camera_gb_id=camera.gb_id,
            camera_name=camera.name,
            requested_from=job.start_at,
            requested_to=job.end_at,
            user=actor,
            reason=job.reason,
            created_at=self.clock.now(),
            segments=[
                {"id": s.id, "from": s.start_at.isoformat(), "to": s.end_at.isoformat(), "file": s.path.name}
                for s in footage.segments
            ],
            gaps=tuple(coverage_gaps(footage.segments, job.start_at, job.end_at, known=footage.known_gaps)),
            job_id=job.id,
        )
        cancel = self._cancels.setdefault(job_id, threading.Event())
        try:
            outcome = await self._perform(job_id, footage, facts, target, sign=job.signed, cancel=cancel)
        except Exception as exc:
            detail = exc.detail if isinstance(exc, TianyanError) else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, TianyanError):
                log.exception("export %s failed", job_id)
            await self._finish(job_id, actor, camera.gb_id, status="failed", error=detail)
        else:
            stored = (
                str(target.relative_to(self.settings.exports_dir))
                if target.is_relative_to(self.settings.exports_dir)
                else str(target)
            )
            await self._finish(
                job_id,
                actor,
                camera.gb_id,
                status="done",
                progress=1.0,
                path=stored,
                bytes=outcome.manifest["file"]["bytes"],
                sha256=outcome.manifest["file"]["sha256"],
                signed="signature" in outcome.manifest,
            )
        finally:
            self._cancels.pop(job_id, None)
        async with self.sessions() as session:
            return (await session.execute(select(ExportJob).where(ExportJob.id == job_id))).scalar_one()

    async def _perform(
        self,
        job_id: int,
        footage: Footage,
        facts: manifest_module.ExportFacts,
        target: Path,
        *,
        sign: bool,
        cancel: threading.Event,
    ) -> ExportOutcome:
        latest = [0.0]
        start, end = facts.requested_from, facts.requested_to
        key = None
        if sign:
            if self.settings.signing_seed is None:
                raise InvalidInput("this node has no export signing key")
            key = manifest_module.signing_key(self.settings.signing_seed)

        def work() -> ExportOutcome:
            result = export_mp4(
                footage.segments, start, end, target, progress=lambda p: latest.__setitem__(0, p), cancel=cancel
            )
            try:
                digest = manifest_module.file_sha256(target)
                manifest = manifest_module.build_manifest(facts, result, sha256=digest, key=key)
                path = manifest_module.manifest_path_for(target)
                manifest_module.write_manifest(path, manifest)
            except BaseException:
                target.unlink(missing_ok=True)
                raise
            return ExportOutcome(result, manifest, path)

        future = asyncio.get_running_loop().run_in_executor(None, work)
        reported = 0.0
        while True:
            done, _ = await asyncio.wait({future}, timeout=PROGRESS_EVERY_S)
            if done:
                return future.result()
            if latest[0] > reported:
                reported = latest[0]
                # Just short of 1.0 until the row says done: hashing and the manifest come after the remux.
                await self._set(job_id, progress=min(reported, 0.99))

    async def _finish(self, job_id: int, actor: str, gb_id: str, *, status: str, **values: Any) -> None:
        async with self.sessions() as session:
            await intend_to_write(session)
            await session.execute(
                update(ExportJob)
                .where(ExportJob.id == job_id)
                .values(status=status, finished_at=self.clock.now(), **values)
            )
            await audit.record(
                session,
                actor=actor,
                source="export-runner",
                action="video.export.finish",
                target=f"camera:{gb_id}",
                outcome="ok" if status == "done" else "failed",
                detail={"job": job_id, **{k: v for k, v in values.items() if k in ("sha256", "bytes", "error")}},
                clock=self.clock,
            )
            await session.commit()


async def recover(sessions: async_sessionmaker[AsyncSession], *, clock: Clock | None = None) -> int:
    """At start-up: jobs left running by a stopped node failed (their partial files were never renamed)."""
    async with sessions() as session:
        await intend_to_write(session)
        result = await session.execute(
            update(ExportJob)
            .where(ExportJob.status == "running")
            .values(
                status="failed",
                error="interrupted: the platform stopped during the export; ask for it again",
                finished_at=(clock or SystemClock()).now(),
            )
        )
        await session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
