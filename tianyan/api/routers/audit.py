"""The audit log for auditors: search, export (CSV), verify the chain. There is no edit or delete."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from tianyan.api.deps import CurrentPrincipal, DbSession
from tianyan.core.errors import InvalidInput
from tianyan.core.sheet_text import csv_cells
from tianyan.security import audit
from tianyan.security.models import AuditEntry
from tianyan.security.roles import Permission

router = APIRouter(tags=["audit"])


class AuditOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    source: str
    action: str
    target: str
    outcome: str
    reason: str | None
    detail: dict[str, Any]
    hash: str


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_after: int | None
    # With order=desc: pass as `before` for the next (older) page.
    next_before: int | None = None


def _out(entry: AuditEntry) -> AuditOut:
    return AuditOut(
        seq=entry.seq,
        at=entry.at,
        actor=entry.actor,
        source=entry.source,
        action=entry.action,
        target=entry.target,
        outcome=entry.outcome,
        reason=entry.reason,
        detail=entry.detail or {},
        hash=entry.hash,
    )


def _filter(
    actor: str | None, action: str | None, target: str | None, since: datetime | None, until: datetime | None,
    outcome: str | None,
) -> audit.AuditFilter:  # fmt: skip
    for name, value in (("since", since), ("until", until)):
        # Without an offset a time is ambiguous (UTC or Beijing time?); say so rather than guess or fail with a 500.
        if value is not None and value.utcoffset() is None:
            raise InvalidInput(f"{name}: give a UTC offset, e.g. 2026-01-01T08:00:00+08:00 or 2026-01-01T00:00:00Z")
    return audit.AuditFilter(actor=actor, action=action, target=target, since=since, until=until, outcome=outcome)


@router.get("/audit", response_model=AuditPage)
async def search(
    principal: CurrentPrincipal,
    session: DbSession,
    actor: str | None = None,
    action: Annotated[str | None, Query(description="prefix, e.g. 'auth.' or 'camera.update'")] = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    outcome: str | None = None,
    after: Annotated[int, Query(ge=0)] = 0,
    before: Annotated[int | None, Query(ge=1, description="with order=desc: entries before this seq")] = None,
    order: Annotated[Literal["asc", "desc"], Query(description="asc: oldest first; desc: newest first")] = "asc",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
):
    principal.require(Permission.AUDIT_READ)
    where = _filter(actor, action, target, since, until, outcome)
    newest_first = order == "desc"
    rows = await audit.search(
        session, where=where, after_seq=after, limit=limit + 1, newest_first=newest_first, before_seq=before
    )
    items = [_out(e) for e in rows[:limit]]
    more = items[-1].seq if len(rows) > limit else None
    if newest_first:
        return AuditPage(items=items, next_after=None, next_before=more)
    return AuditPage(items=items, next_after=more)


@router.get("/audit/export.csv")
async def export(
    principal: CurrentPrincipal,
    session: DbSession,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    outcome: str | None = None,
) -> StreamingResponse:
    principal.require(Permission.AUDIT_READ)
    where = _filter(actor, action, target, since, until, outcome)
    await session.commit()  # a GET reads first; the audit entry opens its own (write) transaction
    await audit.record(
        session,
        actor=principal.username,
        source=principal.source,
        action="audit.export",
        detail={k: v for k, v in where.__dict__.items() if v is not None},
    )
    await session.commit()

    async def rows() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(audit.EXPORT_COLUMNS)
        async for entry in audit.stream(session, where=where):
            writer.writerow(csv_cells(audit.export_row(entry)))
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )


@router.get("/audit/verify")
async def verify(principal: CurrentPrincipal, session: DbSession) -> dict[str, Any]:
    principal.require(Permission.AUDIT_READ)
    return (await audit.verify(session)).as_dict()
