"""Evidence exports: ask for one (reason required, audited), follow its progress, download the MP4 and manifest."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from pydantic import AwareDatetime, BaseModel, Field

from tianyan.api.deps import CurrentPlatform, CurrentPrincipal, DbSession
from tianyan.app.platform import Platform
from tianyan.core import gbid
from tianyan.core.secrets import secret_file
from tianyan.media import export_jobs, manifest
from tianyan.media.export_jobs import ExportRunner, ExportSettings, JobView

router = APIRouter(tags=["exports"])


def export_settings(platform: Platform) -> ExportSettings:
    config = platform.config
    seed = secret_file(manifest.key_path(config.server.data_dir), size_bytes=manifest.KEY_BYTES)
    return ExportSettings(
        pools={pool.name: pool.path for pool in config.storage_pools},
        exports_dir=config.exports_dir,
        platform_id=config.sip.id,
        signing_seed=seed,
    )


def export_runner(request: Request) -> ExportRunner:
    """One runner per application, made on first use."""
    state = request.app.state
    runner = getattr(state, "export_runner", None)
    if runner is None:
        platform: Platform = state.platform
        runner = ExportRunner(platform.sessions, export_settings(platform), clock=platform.clock)
        state.export_runner = runner
    return runner


class ExportIn(BaseModel):
    start: AwareDatetime = Field(alias="from")
    end: AwareDatetime = Field(alias="to")
    reason: str = Field(max_length=export_jobs.MAX_REASON)
    sign: bool | None = Field(None, description="sign the manifest (default: media.sign_exports)")


class ExportOut(BaseModel):
    id: int
    camera: str
    camera_name: str
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
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
    file_url: str | None
    manifest_url: str | None


def _out(view: JobView) -> ExportOut:
    done = view.status == "done"
    base = f"/api/v1/exports/{view.id}"
    return ExportOut(
        id=view.id,
        camera=view.camera,
        camera_name=view.camera_name,
        start=view.start_at,
        end=view.end_at,
        reason=view.reason,
        user=view.user,
        status=view.status,
        progress=view.progress,
        bytes=view.bytes,
        sha256=view.sha256,
        signed=view.signed,
        error=view.error,
        created_at=view.created_at,
        finished_at=view.finished_at,
        file_url=f"{base}/file" if done else None,
        manifest_url=f"{base}/manifest" if done else None,
    )


class ExportPage(BaseModel):
    items: list[ExportOut]
    next_after: int | None


@router.post("/cameras/{gb_id}/exports", response_model=ExportOut, response_model_by_alias=True, status_code=202)
async def create_export(
    gb_id: str,
    body: ExportIn,
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
    platform: CurrentPlatform,
):
    """Queue an export of the camera's recording between `from` and `to`; poll GET /exports/{id} for progress."""
    runner = export_runner(request)
    sign = platform.config.media.sign_exports if body.sign is None else body.sign
    job = await export_jobs.request_export(
        session,
        principal=principal,
        gb_id=gbid.parse(gb_id).value,
        start=body.start,
        end=body.end,
        reason=body.reason,
        sign=sign,
        settings=runner.settings,
        clock=platform.clock,
    )
    await session.commit()  # the runner takes the job from the database
    runner.kick()
    return _out(await export_jobs.get_job(session, principal=principal, job_id=job.id))


@router.get("/exports", response_model=ExportPage, response_model_by_alias=True)
async def list_exports(
    principal: CurrentPrincipal,
    session: DbSession,
    after: Annotated[int, Query(ge=0, description="cursor: the next_after of the previous page")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    """Your exports, newest first (an administrator sees everyone's)."""
    views = await export_jobs.list_jobs(session, principal=principal, after=after, limit=limit)
    return ExportPage(items=[_out(v) for v in views], next_after=views[-1].id if len(views) == limit else None)


@router.get("/exports/{job_id}", response_model=ExportOut, response_model_by_alias=True)
async def get_export(job_id: int, principal: CurrentPrincipal, session: DbSession):
    return _out(await export_jobs.get_job(session, principal=principal, job_id=job_id))


@router.get("/exports/{job_id}/file", response_class=FileResponse)
async def download_export(job_id: int, principal: CurrentPrincipal, session: DbSession, platform: CurrentPlatform):
    """The exported MP4 (audited)."""
    path = await export_jobs.job_file(
        session, principal=principal, job_id=job_id, exports_dir=platform.config.exports_dir, clock=platform.clock
    )
    await session.commit()
    return FileResponse(path, media_type="video/mp4", filename=path.name)


@router.get("/exports/{job_id}/manifest", response_class=FileResponse)
async def download_manifest(job_id: int, principal: CurrentPrincipal, session: DbSession, platform: CurrentPlatform):
    """The export's JSON manifest: what it holds, who asked and why, its SHA-256 and signature (audited)."""
    path = await export_jobs.job_file(
        session,
        principal=principal,
        job_id=job_id,
        exports_dir=platform.config.exports_dir,
        which="manifest",
        clock=platform.clock,
    )
    await session.commit()
    return FileResponse(path, media_type="application/json", filename=path.name)
