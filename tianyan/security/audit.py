"""The tamper-evident audit log: append with a hash chain, search, and verify naming the first break."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core.clock import Clock, SystemClock, as_utc
from tianyan.db.engine import intend_to_write
from tianyan.security.models import AuditEntry, AuditHead

GENESIS = "0" * 64


def entry_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    source: str,
    action: str,
    target: str,
    outcome: str,
    reason: str | None,
    detail: dict[str, Any],
    prev_hash: str,
) -> str:
    body = json.dumps(
        {
            "seq": seq,
            "at": at.isoformat(timespec="microseconds"),
            "actor": actor,
            "source": source,
            "action": action,
            "target": target,
            "outcome": outcome,
            "reason": reason,
            "detail": detail,
            "prev": prev_hash,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _hash_of(entry: AuditEntry, *, seq: int | None = None) -> str:
    return entry_hash(
        seq=entry.seq if seq is None else seq,
        at=entry.at,
        actor=entry.actor,
        source=entry.source,
        action=entry.action,
        target=entry.target,
        outcome=entry.outcome,
        reason=entry.reason,
        detail=entry.detail or {},
        prev_hash=entry.prev_hash,
    )


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    target: str = "",
    source: str = "",
    outcome: str = "ok",
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
    clock: Clock | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction; the head row lock serialises concurrent writers.

    Opening a transaction itself, it declares the write first (SQLite then waits its turn instead of failing).
    """
    if not session.in_transaction():
        await intend_to_write(session)
    locked = select(AuditHead).where(AuditHead.id == 1).with_for_update()
    # populate_existing: the row just locked, not a copy this session loaded before another writer moved it on.
    head = (await session.execute(locked.execution_options(populate_existing=True))).scalar_one()
    # Hashed as stored: the column keeps UTC, so a clock answering in local time must not change the hash.
    at = as_utc((clock or SystemClock()).now())
    detail = json.loads(json.dumps(detail or {}, ensure_ascii=False, default=str))
    seq = head.seq + 1
    fields = dict(
        seq=seq,
        at=at,
        actor=actor,
        source=source,
        action=action,
        target=target,
        outcome=outcome,
        reason=reason,
        detail=detail,
        prev_hash=head.hash,
    )
    entry = AuditEntry(**fields, hash=entry_hash(**fields))
    session.add(entry)
    head.seq = seq
    head.hash = entry.hash
    await session.flush()
    return entry


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    outcome: str | None = None

    def clause(self) -> ColumnElement[bool]:
        parts: list[ColumnElement[bool]] = []
        if self.actor:
            parts.append(AuditEntry.actor == self.actor)
        if self.action:
            parts.append(AuditEntry.action.startswith(self.action, autoescape=True))
        if self.target:
            parts.append(AuditEntry.target.contains(self.target, autoescape=True))
        if self.since:
            parts.append(AuditEntry.at >= self.since)
        if self.until:
            parts.append(AuditEntry.at < self.until)
        if self.outcome:
            parts.append(AuditEntry.outcome == self.outcome)
        return and_(True, *parts)


async def search(
    session: AsyncSession,
    *,
    where: AuditFilter,
    after_seq: int = 0,
    limit: int = 100,
    newest_first: bool = False,
    before_seq: int | None = None,
) -> Sequence[AuditEntry]:
    """Newest last, paging forward with after_seq; or, newest_first, paging back with before_seq."""
    query = select(AuditEntry).where(where.clause(), AuditEntry.seq > after_seq)
    if before_seq is not None:
        query = query.where(AuditEntry.seq < before_seq)
    query = query.order_by(AuditEntry.seq.desc() if newest_first else AuditEntry.seq)
    return (await session.execute(query.limit(limit))).scalars().all()


async def stream(session: AsyncSession, *, where: AuditFilter | None = None) -> AsyncIterator[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.seq)
    if where is not None:
        query = query.where(where.clause())
    # populate_existing: what the database holds now, not entries this session may still remember.
    result = await session.stream(query.execution_options(yield_per=1000, populate_existing=True))
    try:
        async for entry in result.scalars():
            yield entry
    finally:
        await result.close()


EXPORT_COLUMNS = (
    "seq", "at", "actor", "source", "action", "target", "outcome", "reason", "detail", "prev_hash", "hash",
)  # fmt: skip


def export_row(entry: AuditEntry) -> list[Any]:
    """One entry as CSV cells: the time in ISO 8601 and the detail as JSON, so a copy can be re-verified elsewhere."""
    return [
        entry.seq,
        entry.at.isoformat(),
        entry.actor,
        entry.source,
        entry.action,
        entry.target,
        entry.outcome,
        entry.reason,
        json.dumps(entry.detail or {}, ensure_ascii=False, sort_keys=True),
        entry.prev_hash,
        entry.hash,
    ]


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "first_bad_seq": self.first_bad_seq,
            "problem": self.problem,
        }


def _broken(count: int, seq: int | None, problem: str) -> VerifyResult:
    return VerifyResult(ok=False, entries=count, first_bad_seq=seq, problem=problem)


def _span(first: int, last: int) -> str:
    return f"entry {first}" if first == last else f"entries {first}-{last}"


def _sealed_as(entry: AuditEntry, seq: int) -> bool:
    return _hash_of(entry, seq=seq) == entry.hash


async def _moved_from(session: AsyncSession, entry: AuditEntry, *, position: int) -> int | None:
    """Where `entry` sat before forged entries pushed it down to `position`: after the entry its prev_hash names."""
    if entry.prev_hash == GENESIS:
        original = 1
    else:
        query = select(AuditEntry.seq).where(AuditEntry.hash == entry.prev_hash, AuditEntry.seq < position)
        before = (await session.execute(query.order_by(AuditEntry.seq.desc()).limit(1))).scalar_one_or_none()
        if before is None:
            return None
        original = before + 1
    return original if original < position and _sealed_as(entry, original) else None


async def _pushed_to(session: AsyncSession, *, position: int, prev_hash: str) -> int | None:
    """Where the genuine entry for `position` went, when forged entries took its place: it still links to prev_hash."""
    query = select(AuditEntry).where(AuditEntry.prev_hash == prev_hash, AuditEntry.seq > position)
    candidates = await session.execute(query.order_by(AuditEntry.seq).execution_options(populate_existing=True))
    return next((c.seq for c in candidates.scalars() if _sealed_as(c, position)), None)


async def _renumbered_from(session: AsyncSession, entry: AuditEntry, *, position: int, head_seq: int) -> int | None:
    """The number `entry` was sealed under, when entries before it were deleted and the rest renumbered down."""
    last = (await session.execute(select(func.max(AuditEntry.seq)))).scalar_one() or position
    # Everything after the gap moves down by the same amount, so the head usually tells how far.
    likely = position + head_seq - last
    candidates = itertools.chain((position + 1, likely), range(position + 2, max(head_seq, last) + 1))
    return next((seq for seq in candidates if seq > position and _sealed_as(entry, seq)), None)


async def _diagnose(
    session: AsyncSession, entry: AuditEntry, *, position: int, prev_hash: str, head_seq: int
) -> tuple[int, str]:
    """Why `entry`, found where entry `position` should be, does not continue a chain sound up to `prev_hash`."""
    seq = entry.seq
    if seq != position:  # seq is the primary key and the walk is in order, so only a gap can get here
        if position > head_seq:
            return seq, f"entry {seq} inserted after the recorded chain head"
        return position, f"{_span(position, seq - 1)} deleted (the chain jumps to {seq})"
    sealed = _sealed_as(entry, seq)
    if not sealed:
        original = await _moved_from(session, entry, position=seq)
        if original is not None:
            return original, f"{_span(original, seq - 1)} inserted (later entries renumbered)"
    pushed = await _pushed_to(session, position=seq, prev_hash=prev_hash)
    if pushed is not None:
        return seq, f"{_span(seq, pushed - 1)} inserted (later entries renumbered; entry {pushed} links past them)"
    if seq > head_seq:
        return seq, f"entry {seq} inserted after the recorded chain head"
    if not sealed:
        original = await _renumbered_from(session, entry, position=seq, head_seq=head_seq)
        if original is not None:
            return seq, f"{_span(seq, original - 1)} deleted (later entries renumbered to close the gap)"
        return seq, f"entry {seq} altered (its content no longer matches its hash)"
    if seq == 1:
        return seq, "entry 1 altered (it no longer starts from the genesis hash)"
    # Sealed but unlinked: the entry before it was rewritten and resealed.
    return seq - 1, f"entry {seq - 1} altered (entry {seq} no longer links to it)"


async def verify(session: AsyncSession) -> VerifyResult:
    """Walk the chain from genesis and name the first entry that was altered, inserted or deleted.

    Reads the database afresh (populate_existing), not entries or a head this session may still hold.
    """
    head = (
        await session.execute(select(AuditHead).where(AuditHead.id == 1).execution_options(populate_existing=True))
    ).scalar_one_or_none()
    if head is None:
        count = (await session.execute(select(func.count()).select_from(AuditEntry))).scalar_one()
        return _broken(count, None, "the chain head (audit_head) is missing: deletions at the end cannot be ruled out")
    expected_seq = 1
    prev_hash = GENESIS
    count = 0
    bad: AuditEntry | None = None
    async with aclosing(stream(session)) as entries:
        async for entry in entries:
            count += 1
            if entry.seq != expected_seq or entry.prev_hash != prev_hash or not _sealed_as(entry, expected_seq):
                bad = entry
                break
            prev_hash = entry.hash
            expected_seq += 1
    if bad is not None:
        # Diagnosing may query the log again, so only once the walk's cursor is closed.
        seq, problem = await _diagnose(session, bad, position=expected_seq, prev_hash=prev_hash, head_seq=head.seq)
        return _broken(count, seq, problem)
    last_seq = expected_seq - 1
    if last_seq > head.seq:
        return _broken(count, head.seq + 1, f"entry {head.seq + 1} inserted after the recorded chain head")
    if last_seq < head.seq:
        return _broken(count, last_seq + 1, f"{_span(last_seq + 1, head.seq)} deleted from the end of the chain")
    if prev_hash != head.hash:
        return _broken(count, last_seq, f"entry {last_seq} altered (it no longer matches the chain head)")
    return VerifyResult(ok=True, entries=count)
