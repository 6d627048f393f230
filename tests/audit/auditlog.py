"""Helpers for the audit tests: record a chain, verify it afresh, and tamper with it as someone with database access."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from tianyan.core.clock import FakeClock
from tianyan.security import audit
from tianyan.security.models import AuditEntry, AuditHead

LOG = AuditEntry.__table__
HEAD = AuditHead.__table__
CHAIN_LENGTH = 20
ACTORS = ("zhang", "li", "wang")
ACTIONS = ("auth.login", "camera.update", "ptz.move", "user.scope")
KINDS = ("altered", "inserted", "deleted")
# The address the "remote" client connects from, so a recorded source is the caller's and not a default.
REMOTE_ADDRESS = "203.0.113.9"

# What migration 0002 installs on SQLite; the attacker drops these and puts them back afterwards.
SQLITE_TRIGGERS = {
    "audit_log_no_update": "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "audit_log_no_delete": "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
}


async def record_chain(session: AsyncSession, clock: FakeClock, count: int = CHAIN_LENGTH, start: int = 1) -> None:
    """`count` varied entries (actors, actions, Chinese text, some with a reason), one every 1.25 s; committed."""
    for i in range(start, start + count):
        clock.advance(1.25)
        await audit.record(
            session,
            actor=ACTORS[i % len(ACTORS)],
            source=f"10.1.0.{i}",
            action=ACTIONS[i % len(ACTIONS)],
            target=f"camera:4413020000132000{i:04d}",
            reason="巡查核实" if i % 5 == 0 else None,
            detail={"n": i, "note": f"第{i}条", "preset": {"id": i % 4, "speed": 0.5}},
            clock=clock,
        )
    await session.commit()


async def verify_db(engine: AsyncEngine) -> audit.VerifyResult:
    """Verify as `tianyan audit verify` does: a new session that has seen nothing before."""
    async with AsyncSession(engine) as session:
        return await audit.verify(session)


async def log_rows(engine: AsyncEngine, action: str | None = None) -> list[dict[str, Any]]:
    """The log as stored, in order; only entries whose action is `action` when one is given."""
    query = select(LOG).order_by(LOG.c.seq)
    if action is not None:
        query = query.where(LOG.c.action == action)
    async with engine.connect() as conn:
        return [dict(row) for row in (await conn.execute(query)).mappings()]


def kind_of(problem: str | None) -> str:
    """The one kind word (altered, inserted, deleted) an auditor reads in the problem."""
    assert problem, "a broken chain must say what is wrong"
    words = [kind for kind in KINDS if re.search(rf"\b{kind}\b", problem)]
    assert len(words) == 1, f"expected exactly one of {KINDS} in {problem!r}"
    return words[0]


def assert_names(result: audit.VerifyResult, seq: int, kind: str) -> None:
    """The chain is reported broken at entry `seq`, and the problem calls it `kind` and names `seq`."""
    assert not result.ok, "tampering went unnoticed"
    assert (result.first_bad_seq, kind_of(result.problem)) == (seq, kind), result.problem
    assert re.search(rf"\b{seq}\b", result.problem or ""), result.problem


@dataclass
class Tamper:
    """Someone with write access to the database: gets past the append-only triggers and rewrites rows."""

    engine: AsyncEngine
    backend: str

    @asynccontextmanager
    async def unguarded(self) -> AsyncIterator[AsyncConnection]:
        """One transaction with the triggers out of the way; they are put back afterwards, covering the tracks."""
        async with self.engine.begin() as conn:
            if self.backend == "sqlite":
                for name in SQLITE_TRIGGERS:
                    await conn.execute(text(f"DROP TRIGGER {name}"))
            else:
                await conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            yield conn
            if self.backend == "sqlite":
                for ddl in SQLITE_TRIGGERS.values():
                    await conn.execute(text(ddl))
            else:
                await conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))

    async def rows(self) -> list[dict[str, Any]]:
        return await log_rows(self.engine)

    async def row(self, seq: int) -> dict[str, Any]:
        return next(row for row in await self.rows() if row["seq"] == seq)

    async def head(self) -> tuple[int, str]:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(HEAD.c.seq, HEAD.c.hash))).one()
        return row.seq, row.hash

    async def alter(self, seq: int, **values: Any) -> None:
        async with self.unguarded() as conn:
            changed = await conn.execute(update(LOG).where(LOG.c.seq == seq).values(**values))
            assert changed.rowcount == 1

    async def reseal(self, seq: int) -> str:
        """Recompute entry `seq`'s own hash over its (altered) content, as a careful forger would."""
        row = await self.row(seq)
        sealed = seal(row)
        await self.alter(seq, hash=sealed)
        return sealed

    async def delete(self, *seqs: int) -> None:
        async with self.unguarded() as conn:
            gone = await conn.execute(delete(LOG).where(LOG.c.seq.in_(seqs)))
            assert gone.rowcount == len(seqs)

    async def rewrite(self, rows: list[dict[str, Any]]) -> None:
        """Replace the whole log with `rows` (how renumbering is done without tripping the primary key)."""
        async with self.unguarded() as conn:
            await conn.execute(delete(LOG))
            if rows:
                await conn.execute(insert(LOG), rows)

    async def append(self, row: dict[str, Any]) -> None:
        """A plain INSERT: the triggers allow appending, so this needs no privileges beyond the product's."""
        async with self.engine.begin() as conn:
            await conn.execute(insert(LOG), [row])

    async def set_head(self, **values: Any) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(HEAD).where(HEAD.c.id == 1).values(**values))


def seal(row: dict[str, Any]) -> str:
    return audit.entry_hash(
        seq=row["seq"],
        at=row["at"],
        actor=row["actor"],
        source=row["source"],
        action=row["action"],
        target=row["target"],
        outcome=row["outcome"],
        reason=row["reason"],
        detail=row["detail"] or {},
        prev_hash=row["prev_hash"],
    )


def forge(seq: int, *, prev_hash: str, at: datetime, sealed: bool = True, **fields: Any) -> dict[str, Any]:
    """A made-up entry; `sealed` ones carry a hash that matches their content (the forger read the code)."""
    row: dict[str, Any] = {
        "seq": seq,
        "at": at,
        "actor": "zhang",
        "source": "10.1.0.250",
        "action": "camera.update",
        "target": "camera:44130200001320009999",
        "outcome": "ok",
        "reason": None,
        "detail": {"forged": True},
        "prev_hash": prev_hash,
    }
    row.update(fields)
    row["hash"] = seal(row) if sealed else "f" * 64
    return row


@dataclass(frozen=True)
class Accounts:
    """Request headers (a fresh API key each) for one account per role that matters to the audit log."""

    auditor: dict[str, str]
    admin: dict[str, str]
    operator: dict[str, str]
