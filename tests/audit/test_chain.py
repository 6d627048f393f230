"""The audit chain: a sound log verifies, the database refuses edits, and every kind of tampering by someone who
got past that is detected and named (first bad entry, and whether it was altered, inserted or deleted)."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.audit.auditlog import CHAIN_LENGTH, Tamper, assert_names, forge, record_chain, seal, verify_db
from tianyan.core.clock import FakeClock
from tianyan.security import audit
from tianyan.security.models import AuditEntry, AuditHead

N = CHAIN_LENGTH
K = 7  # a middle entry


# --- a sound chain ---------------------------------------------------------------------------------------------


async def test_sound_chain_verifies_with_its_count(chain: list[dict[str, Any]], engine: AsyncEngine) -> None:
    result = await verify_db(engine)
    assert result.as_dict() == {"ok": True, "entries": N, "first_bad_seq": None, "problem": None}


async def test_empty_log_verifies(engine: AsyncEngine) -> None:
    assert (await verify_db(engine)).as_dict() == {"ok": True, "entries": 0, "first_bad_seq": None, "problem": None}


async def test_each_entry_seals_its_content_and_links_to_the_previous(
    chain: list[dict[str, Any]], tamper: Tamper
) -> None:
    """The chain's shape, checked independently of verify(): 1..N, genesis first, each hash over its content."""
    previous = audit.GENESIS
    for seq, row in enumerate(chain, start=1):
        assert row["seq"] == seq
        assert row["prev_hash"] == previous
        assert row["hash"] == seal(row)
        previous = row["hash"]
    assert await tamper.head() == (N, previous)
    assert len(set(row["hash"] for row in chain)) == N


async def test_entries_keep_what_was_recorded(session: AsyncSession, clock: FakeClock, tamper: Tamper) -> None:
    entry = await audit.record(
        session,
        actor="zhang",
        source="10.9.8.7",
        action="ptz.move",
        target="camera:44130200001320000001",
        outcome="denied",
        reason="追踪嫌疑车辆",
        detail={"direction": "左", "speed": 3},
        clock=clock,
    )
    await session.commit()
    (row,) = await tamper.rows()
    assert {k: row[k] for k in ("seq", "at", "actor", "source", "action", "target", "outcome", "reason", "detail")} == {
        "seq": 1,
        "at": clock.now(),
        "actor": "zhang",
        "source": "10.9.8.7",
        "action": "ptz.move",
        "target": "camera:44130200001320000001",
        "outcome": "denied",
        "reason": "追踪嫌疑车辆",
        "detail": {"direction": "左", "speed": 3},
    }
    assert row["hash"] == entry.hash == seal(row)


async def test_entries_from_a_clock_in_china_standard_time_verify(session: AsyncSession, engine: AsyncEngine) -> None:
    """A clock that answers in UTC+8 (the deployment's local time) must not turn into a false tampering alarm."""
    beijing = FakeClock(datetime(2026, 3, 1, 9, 30, 0, 250000, tzinfo=timezone(timedelta(hours=8))))
    await record_chain(session, beijing, count=3)
    assert (await verify_db(engine)).as_dict() == {"ok": True, "entries": 3, "first_bad_seq": None, "problem": None}


# --- the product refuses to rewrite history ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor = 'nobody' WHERE seq = 3",
        "UPDATE audit_log SET reason = NULL",
        "DELETE FROM audit_log WHERE seq = 3",
        "DELETE FROM audit_log",
    ],
)
async def test_database_refuses_update_and_delete(
    chain: list[dict[str, Any]], session: AsyncSession, engine: AsyncEngine, tamper: Tamper, statement: str
) -> None:
    with pytest.raises(DBAPIError, match="append-only"):
        await session.execute(text(statement))
    await session.rollback()
    assert await tamper.rows() == chain
    assert (await verify_db(engine)).ok


# SQLite has no TRUNCATE; DELETE without WHERE is refused above on both backends.
@pytest.mark.parametrize("backend", ["postgresql"])
async def test_postgresql_refuses_truncate(chain: list[dict[str, Any]], session: AsyncSession, tamper: Tamper) -> None:
    with pytest.raises(DBAPIError, match="append-only"):
        await session.execute(text("TRUNCATE audit_log"))
    await session.rollback()
    assert await tamper.rows() == chain


async def test_orm_cannot_change_or_delete_an_entry(
    chain: list[dict[str, Any]], session: AsyncSession, tamper: Tamper
) -> None:
    """Product code goes through the ORM; a stray edit or delete of an entry fails there too."""
    entry = await session.get_one(AuditEntry, 5)
    entry.actor = "someone-else"
    with pytest.raises(DBAPIError, match="append-only"):
        await session.commit()
    await session.rollback()
    await session.delete(await session.get_one(AuditEntry, 5))
    with pytest.raises(DBAPIError, match="append-only"):
        await session.commit()
    await session.rollback()
    assert await tamper.rows() == chain


# --- tampering by someone with database access -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("actor", "nobody"),
        ("source", "127.0.0.1"),
        ("action", "auth.logout"),
        ("target", "camera:44130200001320000001"),
        ("outcome", "denied"),
        ("reason", "例行检查"),
        ("detail", {"n": K, "note": "改过的", "preset": {"id": 1, "speed": 0.5}}),
        ("at", datetime(2026, 1, 1, 0, 0, 9, 750001, tzinfo=UTC)),
    ],
)
async def test_altered_field_names_the_entry(
    chain: list[dict[str, Any]], engine: AsyncEngine, tamper: Tamper, field: str, value: Any
) -> None:
    assert chain[K - 1][field] != value
    await tamper.alter(K, **{field: value})
    assert (await tamper.row(K))[field] == value
    assert_names(await verify_db(engine), K, "altered")


@pytest.mark.parametrize("seq", [1, 2, N - 1, N])
async def test_altered_entry_anywhere_is_named(
    chain: list[dict[str, Any]], engine: AsyncEngine, tamper: Tamper, seq: int
) -> None:
    await tamper.alter(seq, actor="nobody")
    assert_names(await verify_db(engine), seq, "altered")


@pytest.mark.parametrize("seq", [1, K, N - 1, N])
async def test_altered_and_resealed_entry_is_named(
    chain: list[dict[str, Any]], engine: AsyncEngine, tamper: Tamper, seq: int
) -> None:
    """The forger recomputes the entry's own hash; the next entry (or the head, for the last) no longer links."""
    await tamper.alter(seq, target="camera:44130300001320000099")
    assert (await tamper.row(seq))["target"] != chain[seq - 1]["target"]
    await tamper.reseal(seq)
    assert_names(await verify_db(engine), seq, "altered")


async def test_altered_hash_column_is_named(chain: list[dict[str, Any]], engine: AsyncEngine, tamper: Tamper) -> None:
    await tamper.alter(K, hash="0" * 64)
    assert_names(await verify_db(engine), K, "altered")


@pytest.mark.parametrize("seqs", [(K,), (K, K + 1, K + 2), (1,), (1, 2)])
async def test_deleted_entries_are_named(
    chain: list[dict[str, Any]], engine: AsyncEngine, tamper: Tamper, seqs: tuple[int, ...]
) -> None:
    await tamper.delete(*seqs)
    assert_names(await verify_db(engine), seqs[0], "deleted")


@pytest.mark.parametrize("count", [1, 3, N])
async def test_entries_deleted_from_the_end_are_named(
    chain: list[dict[str, Any]], engine: AsyncEngine, tamper: Tamper, count: int
) -> None:
    """Cutting the tail leaves a sound but shorter chain; the head row still remembers how long it was."""
    await tamper.delete(*range(N - count + 1, N + 1))
    result = await verify_db(engine)
    assert_names(result, N - count + 1, "deleted")
    assert "end" in (result.problem or "")


@pytest.mark.parametrize("seqs", [(K,), (K, K + 1), (K, K + 1, K + 2), (1,), (N - 1,)])
async def test_deleted_and_renumbered_entries_are_named(
    chain: list[dict[str, Any]], engine: AsyncEngine, tamper: Tamper, seqs: tuple[int, ...]
) -> None:
    """The forger closes the gap by renumbering every later entry, so the sequence looks unbroken."""
    kept = [row for row in chain if row["seq"] not in seqs]
    renumbered = [{**row, "seq": seq} for seq, row in enumerate(kept, start=1)]
    await tamper.rewrite(renumbered)
    assert [row["seq"] for row in await tamper.rows()] == list(range(1, N - len(seqs) + 1))
    assert_names(await verify_db(engine), seqs[0], "deleted")


@pytest.mark.parametrize("seqs", [(K,), (K, K + 1, K + 2)])
async def test_deleted_renumbered_and_head_moved_back_is_named(
    chain: list[dict[str, Any]], engine: AsyncEngine, tamper: Tamper, seqs: tuple[int, ...]
) -> None:
    """The forger also lowers the head's count, so the tail agrees with it; the renumbered seals still do not."""
    kept = [row for row in chain if row["seq"] not in seqs]
    await tamper.rewrite([{**row, "seq": seq} for seq, row in enumerate(kept, start=1)])
    await tamper.set_head(seq=N - len(seqs))
    assert_names(await verify_db(engine), K, "deleted")


def _insert(chain: list[dict[str, Any]], at: int, forged: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The log with `forged` entries placed from position `at`, and every later entry renumbered past them."""
    before, after = chain[: at - 1], chain[at - 1 :]
    return [*before, *forged, *({**row, "seq": row["seq"] + len(forged)} for row in after)]


def _forgeries(chain: list[dict[str, Any]], at: int, count: int, *, sealed: bool) -> list[dict[str, Any]]:
    """`count` forged entries for positions at.., each linked to the one before (the real chain before them)."""
    previous = chain[at - 2]["hash"] if at > 1 else audit.GENESIS
    when = chain[at - 2]["at"] if at > 1 else chain[0]["at"] - timedelta(seconds=1)
    rows = []
    for i in range(count):
        row = forge(at + i, prev_hash=previous, at=when + timedelta(milliseconds=500 * (i + 1)), sealed=sealed)
        rows.append(row)
        previous = row["hash"]
    return rows


@pytest.mark.parametrize("sealed", [True, False], ids=["sealed", "unsealed"])
@pytest.mark.parametrize(("at", "count"), [(K, 1), (K, 2), (K, 3), (1, 1), (1, 2), (N, 1)])
async def test_inserted_entries_are_named(
    chain: list[dict[str, Any]], engine: AsyncEngine, tamper: Tamper, at: int, count: int, sealed: bool
) -> None:
    """Forged entries slipped in mid-chain, later entries renumbered; sealed ones even link to the real chain."""
    await tamper.rewrite(_insert(chain, at, _forgeries(chain, at, count, sealed=sealed)))
    assert_names(await verify_db(engine), at, "inserted")


@pytest.mark.parametrize("sealed", [True, False], ids=["sealed", "unsealed"])
async def test_entry_appended_after_the_head_is_named(
    chain: list[dict[str, Any]], engine: AsyncEngine, tamper: Tamper, sealed: bool
) -> None:
    """INSERT is allowed by the triggers, so this needs no more than the product's own database account."""
    await tamper.append(forge(N + 1, prev_hash=chain[-1]["hash"], at=chain[-1]["at"], sealed=sealed))
    assert_names(await verify_db(engine), N + 1, "inserted")


async def test_entries_appended_with_a_gap_after_the_head_are_named(
    chain: list[dict[str, Any]], engine: AsyncEngine, tamper: Tamper
) -> None:
    await tamper.append(forge(N + 3, prev_hash=chain[-1]["hash"], at=chain[-1]["at"]))
    assert_names(await verify_db(engine), N + 3, "inserted")


async def test_first_of_several_tamperings_is_named(
    chain: list[dict[str, Any]], engine: AsyncEngine, tamper: Tamper
) -> None:
    await tamper.delete(15)
    await tamper.alter(K, detail={})
    await tamper.alter(12, actor="nobody")
    assert_names(await verify_db(engine), K, "altered")


async def test_swapped_entries_are_detected(chain: list[dict[str, Any]], engine: AsyncEngine, tamper: Tamper) -> None:
    rows = [dict(row) for row in chain]
    rows[K - 1]["seq"], rows[K]["seq"] = K + 1, K
    await tamper.rewrite(sorted(rows, key=lambda row: row["seq"]))
    result = await verify_db(engine)
    assert not result.ok
    assert result.first_bad_seq == K


async def test_missing_head_row_is_reported_not_crashed(
    chain: list[dict[str, Any]], engine: AsyncEngine, tamper: Tamper
) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM audit_head"))
    result = await verify_db(engine)
    assert not result.ok
    assert "head" in (result.problem or "")


async def test_restored_chain_verifies_again(chain: list[dict[str, Any]], engine: AsyncEngine, tamper: Tamper) -> None:
    """Detection is about the data, not a sticky flag: putting the original rows back verifies again."""
    await tamper.delete(K)
    assert not (await verify_db(engine)).ok
    await tamper.rewrite(chain)
    assert (await verify_db(engine)).ok


# --- verify reads the database, not what a session remembers ----------------------------------------------------


async def test_verify_in_a_long_lived_session_sees_tampering(
    session: AsyncSession, clock: FakeClock, engine: AsyncEngine, tamper: Tamper
) -> None:
    """A session that recorded entries (and still holds them) must not verify its own memory of them."""
    held = [await audit.record(session, actor="li", action="ptz.move", target=f"camera:{i}", clock=clock)
            for i in range(5)]  # fmt: skip
    await session.commit()
    await tamper.alter(3, actor="nobody")
    assert held[2].actor == "li"
    assert_names(await audit.verify(session), 3, "altered")


async def test_verify_in_a_long_lived_session_sees_later_appends(
    session: AsyncSession, clock: FakeClock, engine: AsyncEngine
) -> None:
    await record_chain(session, clock, count=3)
    assert (await audit.verify(session)).entries == 3
    # Its transaction ends (SQLite would otherwise keep reading its snapshot); its loaded entries stay.
    await session.commit()
    async with AsyncSession(engine) as other:
        await record_chain(other, clock, count=2, start=4)
    assert (await audit.verify(session)).as_dict() == {
        "ok": True,
        "entries": 5,
        "first_bad_seq": None,
        "problem": None,
    }


# --- concurrent writers -----------------------------------------------------------------------------------------


async def _entries(engine: AsyncEngine) -> list[AuditEntry]:
    async with AsyncSession(engine) as s:
        return list((await s.execute(select(AuditEntry).order_by(AuditEntry.seq))).scalars())


async def test_interleaved_sessions_keep_one_chain(
    session: AsyncSession, clock: FakeClock, engine: AsyncEngine
) -> None:
    """Two long-lived sessions take turns appending; each must continue from the real head, not its memory."""
    # Each has looked at the head before (a status page showing the chain length, say) and still holds it.
    # Those reads ended their transactions (SQLite cannot let a reader that kept its snapshot write later); the
    # head objects they loaded stay in each session, stale once the other session appends.
    seen = [await session.get_one(AuditHead, 1)]
    await session.commit()
    async with AsyncSession(engine, expire_on_commit=False) as other:
        seen.append(await other.get_one(AuditHead, 1))
        await other.commit()
        for i in range(4):
            for s, who in ((session, "zhang"), (other, "li")):
                await audit.record(s, actor=who, action="ptz.move", target=f"camera:{i}", clock=clock)
                await s.commit()
    entries = await _entries(engine)
    assert [e.seq for e in entries] == list(range(1, 9))
    assert [e.actor for e in entries] == ["zhang", "li"] * 4
    assert (await verify_db(engine)).as_dict() == {"ok": True, "entries": 8, "first_bad_seq": None, "problem": None}


async def test_parallel_appends_stay_linear(engine: AsyncEngine, backend: str, clock: FakeClock) -> None:
    """Many writers at once (PostgreSQL; SQLite serialises writers anyway, so there they run one after another)."""
    writers, each = 8, 6

    async def writer(w: int) -> None:
        async with AsyncSession(engine) as s:
            for i in range(each):
                await audit.record(s, actor=f"op{w}", action="ptz.move", target=f"camera:{w}", detail={"i": i},
                                   clock=clock)  # fmt: skip
                await asyncio.sleep(0)
                await s.commit()

    if backend == "postgresql":
        await asyncio.gather(*(writer(w) for w in range(writers)))
    else:
        for w in range(writers):
            await writer(w)
    entries = await _entries(engine)
    assert [e.seq for e in entries] == list(range(1, writers * each + 1))
    for w in range(writers):
        assert [e.detail["i"] for e in entries if e.actor == f"op{w}"] == list(range(each))
    assert all(e.prev_hash == p.hash for p, e in itertools.pairwise(entries))
    async with AsyncSession(engine) as s:
        head = await s.get_one(AuditHead, 1)
        assert (head.seq, head.hash) == (writers * each, entries[-1].hash)
        assert (await s.execute(select(func.count()).select_from(AuditEntry))).scalar_one() == writers * each
    assert (await verify_db(engine)).as_dict() == {
        "ok": True,
        "entries": writers * each,
        "first_bad_seq": None,
        "problem": None,
    }


async def test_rolled_back_append_leaves_no_trace(session: AsyncSession, clock: FakeClock, engine: AsyncEngine) -> None:
    """An action that fails takes its audit entry with it; the chain does not fork or skip a number."""
    await record_chain(session, clock, count=2)
    await audit.record(session, actor="li", action="camera.delete", target="camera:x", clock=clock)
    await session.rollback()
    await record_chain(session, clock, count=1, start=3)
    entries = await _entries(engine)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert "camera.delete" not in {e.action for e in entries}
    assert (await verify_db(engine)).ok
