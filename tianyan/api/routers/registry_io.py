"""Camera register import (multipart upload of CSV/.xlsx) and export (a streamed download), scoped."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import IO, Annotated, Any

from fastapi import APIRouter, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from tianyan.api.deps import CurrentPlatform, CurrentPrincipal, DbSession
from tianyan.api.problems import problem
from tianyan.registry import tabular
from tianyan.registry.exporter import export_cameras
from tianyan.registry.importer import import_cameras

router = APIRouter(tags=["cameras"])
_CHUNK_BYTES = 64 * 1024
# Exports up to this size stay in memory; larger ones spill to a temporary file.
_SPOOL_BYTES = 8 * 1024 * 1024


class RowErrorOut(BaseModel):
    line: int
    column: str
    reason: str


class ImportOut(BaseModel):
    created: int
    updated: int
    unchanged: int
    refused: int
    errors: list[RowErrorOut]


@router.post(
    "/cameras/import",
    response_model=ImportOut,
    responses={422: {"description": "rows were refused and nothing was written (problem details with `errors`)"}},
)
async def import_file(
    request: Request,
    file: UploadFile,
    principal: CurrentPrincipal,
    session: DbSession,
    platform: CurrentPlatform,
    partial_form: Annotated[bool | None, Form(alias="partial")] = None,
    partial_query: Annotated[bool | None, Query(alias="partial", description="write good rows, report bad")] = None,
) -> Any:
    """Add or update cameras by GB ID from a CSV or .xlsx upload; bad rows come back with line and column."""
    partial = bool(partial_form or partial_query)
    report = await import_cameras(
        session,
        principal=principal,
        path_or_stream=file.file,
        source_name=file.filename or "upload",
        partial=partial,
        clock=platform.clock,
    )
    body = report.as_dict()
    if report.rejected:
        # Returned, not raised, so the audit entry of the refused import is still committed.
        detail = f"{report.refused} row(s) refused; nothing was imported" if report.refused else report.errors[0].reason
        return problem(422, "Import refused", detail, request=request, **body)
    return JSONResponse(body)


def _chunks(spool: IO[bytes]) -> Iterator[bytes]:
    try:
        spool.seek(0)
        while chunk := spool.read(_CHUNK_BYTES):
            yield chunk
    finally:
        spool.close()


@router.get(
    "/cameras/export",
    response_class=StreamingResponse,
    responses={200: {"content": {media: {} for media in tabular.MEDIA_TYPES.values()}}},
)
async def export_file(
    principal: CurrentPrincipal,
    session: DbSession,
    platform: CurrentPlatform,
    file_format: Annotated[str, Query(alias="format", pattern="^(csv|xlsx)$")] = "csv",
) -> StreamingResponse:
    """Every camera in your scope, in the columns the import reads."""
    chosen = tabular.parse_format(file_format)
    # Closed by _chunks once the download has been sent, so no context manager here.
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115
    try:
        out: Any = spool
        await export_cameras(session, principal=principal, out=out, file_format=chosen, clock=platform.clock)
    except BaseException:
        spool.close()
        raise
    name = f"cameras-{platform.clock.now().date().isoformat()}.{chosen}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(_chunks(spool), media_type=tabular.MEDIA_TYPES[chosen], headers=headers)
