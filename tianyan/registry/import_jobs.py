"""Camera imports run as background jobs, so a console can show how far a long file has got and then every refused
row with the value found in its cell.

A job lives in the memory of the process that took the upload: poll it on the same node (with several API
processes behind a balancer, route /cameras/import-jobs sticky or use the synchronous POST /cameras/import).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, closing
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, BinaryIO, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core.clock import Clock
from tianyan.core.errors import NotFound, TianyanError
from tianyan.db.engine import intend_to_write
from tianyan.registry import tabular
from tianyan.registry.importer import ImportReport, import_cameras
from tianyan.security.roles import Permission
from tianyan.security.scope import Principal

log = logging.getLogger(__name__)

JobState = Literal["running", "done", "failed"]
# Finished jobs are kept this long for the console to fetch, and at most this many per process.
KEEP_FINISHED = timedelta(hours=1)
MAX_JOBS = 50
# A cell value quoted back with its error is cut here: enough to recognise, not a copy of the file.
VALUE_CHARS = 200


@dataclass
class ImportJob:
    id: str
    owner: str
    file_name: str
    size_bytes: int
    partial: bool
    dry_run: bool
    started_at: datetime
    state: JobState = "running"
    # The line of the last row read, and how far through the file the reader is (0..1).
    line: int = 0
    fraction: float = 0.0
    finished_at: datetime | None = None
    report: ImportReport | None = None
    # (line, column as the file writes it) -> the cell's text, for the refused rows.
    values: dict[tuple[int, str], str] = field(default_factory=dict)
    # Why the job failed as a whole (the file is unreadable, say), with the HTTP status it maps to.
    error: str | None = None
    error_status: int | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def written(self) -> bool:
        """Whether the import changed the registry (a dry run or a refused import never does)."""
        return self.state == "done" and self.report is not None and not self.report.rejected and not self.dry_run

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "state": self.state,
            "file_name": self.file_name,
            "size_bytes": self.size_bytes,
            "partial": self.partial,
            "dry_run": self.dry_run,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "line": self.line,
            "fraction": 1.0 if self.state != "running" else self.fraction,
            "written": self.written,
            "error": self.error,
            "error_status": self.error_status,
            "result": None,
        }
        report = self.report
        if self.state == "done" and report is not None:
            errors = [
                {"line": e.line, "column": e.column, "value": self.values.get((e.line, e.column)), "reason": e.reason}
                for e in report.errors
            ]
            body["result"] = {
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "refused": report.refused,
                "rejected": report.rejected,
                "errors": errors,
            }
        return body


SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]


class ImportJobs:
    """The import jobs of one process: start one per upload, look one up by id (its owner only)."""

    def __init__(self, sessions: SessionFactory, clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock
        self._jobs: dict[str, ImportJob] = {}

    def start(
        self,
        *,
        principal: Principal,
        stream: BinaryIO,
        file_name: str,
        partial: bool = False,
        dry_run: bool = False,
    ) -> ImportJob:
        """Take ownership of `stream` (seekable; closed when the job ends) and import it in the background."""
        principal.require(Permission.CAMERA_WRITE)
        stream.seek(0, 2)
        size = stream.tell()
        stream.seek(0)
        try:
            file_format = tabular.format_for(file_name, stream.read(8))
        except TianyanError:
            stream.close()
            raise
        stream.seek(0)
        self._forget_old()
        job = ImportJob(
            id=secrets.token_urlsafe(12),
            owner=principal.username,
            file_name=file_name,
            size_bytes=size,
            partial=partial,
            dry_run=dry_run,
            started_at=self._clock.now(),
        )
        self._jobs[job.id] = job
        job.task = asyncio.create_task(self._run(job, principal, stream, file_format), name=f"import-{job.id}")
        return job

    def get(self, job_id: str, *, principal: Principal) -> ImportJob:
        """Someone else's job looks like no job at all."""
        job = self._jobs.get(job_id)
        if job is None or job.owner != principal.username:
            raise NotFound(f"no import job {job_id!r} (jobs are kept for an hour after they finish)")
        return job

    async def wait(self, job_id: str) -> ImportJob:
        """The job once it has finished (for callers in this process that have nothing to show meanwhile)."""
        job = self._jobs[job_id]
        if job.task is not None:
            await asyncio.shield(job.task)
        return job

    def _forget_old(self) -> None:
        now = self._clock.now()
        for job_id, job in list(self._jobs.items()):
            if job.finished_at is not None and now - job.finished_at > KEEP_FINISHED:
                del self._jobs[job_id]
        finished = sorted((j for j in self._jobs.values() if j.finished_at is not None), key=lambda j: j.started_at)
        while len(self._jobs) >= MAX_JOBS and finished:
            del self._jobs[finished.pop(0).id]

    async def _run(
        self, job: ImportJob, principal: Principal, stream: BinaryIO, file_format: tabular.FileFormat
    ) -> None:
        def advance(line: int) -> None:
            job.line = line
            # How far the reader is through the bytes; for .xlsx the worksheet is most of the zip, read in order.
            if job.size_bytes:
                job.fraction = max(job.fraction, min(stream.tell() / job.size_bytes, 0.99))

        with closing(stream):
            try:
                async with self._sessions() as session:
                    await intend_to_write(session)
                    report = await import_cameras(
                        session,
                        principal=principal,
                        path_or_stream=stream,
                        file_format=file_format,
                        source_name=job.file_name,
                        partial=job.partial,
                        dry_run=job.dry_run,
                        clock=self._clock,
                        on_row=advance,
                    )
                    await session.commit()
                job.report = report
                wanted = {(e.line, e.column) for e in report.errors if e.column}
                if wanted:
                    stream.seek(0)
                    job.values = await asyncio.to_thread(cell_values, stream, file_format, wanted)
                job.state = "done"
            except TianyanError as exc:
                job.state, job.error, job.error_status = "failed", exc.detail, exc.status
            except Exception:
                log.exception("camera import job %s (%s) failed", job.id, job.file_name)
                job.state, job.error, job.error_status = (
                    "failed",
                    "the server hit an unexpected error; it is logged",
                    500,
                )
            finally:
                job.finished_at = self._clock.now()


def cell_values(
    stream: BinaryIO, file_format: tabular.FileFormat, wanted: set[tuple[int, str]]
) -> dict[tuple[int, str], str]:
    """The text of the cells named by (line, header as written), read back from the file."""
    by_line: dict[int, list[str]] = {}
    for line, column in wanted:
        by_line.setdefault(line, []).append(column)
    last = max(by_line)
    found: dict[tuple[int, str], str] = {}
    index: dict[str, int] = {}
    with closing(tabular.read_rows(stream, file_format)) as rows:
        for line, cells in rows:
            if not index:  # the header: where each column, as the file writes it, sits
                index = {cell.strip(): i for i, cell in enumerate(cells) if cell.strip()}
            for column in by_line.get(line, ()):
                position = index.get(column)
                if position is not None and position < len(cells):
                    found[(line, column)] = cells[position].strip()[:VALUE_CHARS]
            if line >= last:
                break
    return found
