"""Camera imports as jobs a console polls for progress, and the empty register to fill in (the template)."""

from __future__ import annotations

import io
import shutil
import tempfile
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel

from tianyan.api.deps import CurrentPlatform, CurrentPrincipal
from tianyan.app.platform import Platform
from tianyan.registry import tabular
from tianyan.registry.import_jobs import ImportJob, ImportJobs
from tianyan.registry.import_template import write_template
from tianyan.security.roles import Permission

router = APIRouter(tags=["cameras"])
# Uploads up to this size stay in memory while the job runs; larger ones spill to a temporary file.
_SPOOL_BYTES = 8 * 1024 * 1024


class JobRowError(BaseModel):
    line: int
    column: str
    value: str | None
    reason: str


class JobResult(BaseModel):
    created: int
    updated: int
    unchanged: int
    refused: int
    rejected: bool
    errors: list[JobRowError]


class ImportJobOut(BaseModel):
    id: str
    state: Literal["running", "done", "failed"]
    file_name: str
    size_bytes: int
    partial: bool
    dry_run: bool
    started_at: datetime
    finished_at: datetime | None
    line: int
    fraction: float
    written: bool
    error: str | None
    error_status: int | None
    result: JobResult | None


def import_jobs(request: Request, platform: Platform) -> ImportJobs:
    """The process's job list, made at the first import."""
    jobs: ImportJobs | None = getattr(request.app.state, "import_jobs", None)
    if jobs is None:
        jobs = request.app.state.import_jobs = ImportJobs(platform.sessions, platform.clock)
    return jobs


def _out(job: ImportJob) -> ImportJobOut:
    return ImportJobOut.model_validate(job.as_dict())


@router.post("/cameras/import-jobs", response_model=ImportJobOut, status_code=202)
async def start_import(
    request: Request,
    file: UploadFile,
    principal: CurrentPrincipal,
    platform: CurrentPlatform,
    partial: Annotated[bool, Form(description="write the good rows and report the bad ones")] = False,
    dry_run: Annotated[bool, Form(description="check and count only; write nothing")] = False,
):
    """Start importing a CSV or .xlsx register; poll the job for progress and then the outcome, every refused row
    with its line, column, cell value and reason. Behaves as POST /cameras/import (all or nothing unless partial)."""
    principal.require(Permission.CAMERA_WRITE)
    # The upload's own file closes with the request; the job keeps a copy.
    copy = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 (the job closes it)
    try:
        shutil.copyfileobj(file.file, copy)
    except BaseException:
        copy.close()
        raise
    job = import_jobs(request, platform).start(
        principal=principal,
        stream=copy,  # type: ignore[arg-type]
        file_name=file.filename or "upload",
        partial=partial,
        dry_run=dry_run,
    )
    return _out(job)


@router.get("/cameras/import-jobs/{job_id}", response_model=ImportJobOut)
async def get_import(job_id: str, request: Request, principal: CurrentPrincipal, platform: CurrentPlatform):
    """How far the import has got; once `state` is `done`, what it did (`written` says whether anything changed)."""
    return _out(import_jobs(request, platform).get(job_id, principal=principal))


@router.get(
    "/cameras/import-template",
    response_class=Response,
    responses={200: {"content": {media: {} for media in tabular.MEDIA_TYPES.values()}}},
)
async def template(
    principal: CurrentPrincipal,
    file_format: Annotated[Literal["csv", "xlsx"], Query(alias="format")] = "xlsx",
    language: Annotated[Literal["zh-CN", "en"], Query(alias="lang")] = "zh-CN",
) -> Response:
    """An empty register with the import's columns (Chinese headers by default); the .xlsx explains each column."""
    principal.require(Permission.CAMERA_WRITE)
    out = io.BytesIO()
    write_template(out, file_format, language)
    name = f"{'camera-register-template' if language == 'en' else '点位登记表模板'}.{file_format}"
    # filename= for old clients (ASCII only), filename*= (RFC 6266) for the Chinese name.
    disposition = f"attachment; filename=\"template.{file_format}\"; filename*=UTF-8''{quote(name, safe='')}"
    return Response(
        out.getvalue(), media_type=tabular.MEDIA_TYPES[file_format], headers={"Content-Disposition": disposition}
    )
