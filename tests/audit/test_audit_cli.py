"""`tianyan audit verify` and `tianyan audit export` against a configured SQLite database file."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.audit.auditlog import CHAIN_LENGTH, SQLITE_TRIGGERS, record_chain
from tianyan import config
from tianyan.app.platform import Platform
from tianyan.cli.main import app
from tianyan.core.clock import FakeClock
from tianyan.security import audit

runner = CliRunner()


@pytest.fixture
def configured(tmp_path: Path) -> tuple[Path, Path]:
    """A TOML configuration naming a file database that holds a sound chain; returns (config, database)."""
    database = tmp_path / "audit.db"
    path = tmp_path / "tianyan.toml"
    path.write_text(
        f'[server]\ndata_dir = "{(tmp_path / "data").as_posix()}"\n\n'
        f'[database]\nurl = "sqlite:///{database.as_posix()}"\n',
        encoding="utf-8",
    )

    async def seed() -> None:
        platform = await Platform.open(config.load(path, environ={}))
        try:
            async with platform.sessions() as session:
                await record_chain(session, FakeClock())
        finally:
            await platform.close()

    asyncio.run(seed())
    return path, database


def _tamper(database: Path, *statements: str) -> None:
    """Raw SQLite access: drop the append-only triggers, then rewrite history."""
    with sqlite3.connect(database) as conn:
        for name in SQLITE_TRIGGERS:
            conn.execute(f"DROP TRIGGER {name}")
        for statement in statements:
            conn.execute(statement)
    conn.close()


def _verify(path: Path) -> tuple[int, dict[str, object]]:
    result = runner.invoke(app, ["audit", "verify", "--config", str(path)], env={"TIANYAN_CONFIG": None})
    return result.exit_code, json.loads(result.stdout)


def test_verify_passes_on_a_sound_chain(configured: tuple[Path, Path]) -> None:
    path, _ = configured
    assert _verify(path) == (0, {"ok": True, "entries": CHAIN_LENGTH, "first_bad_seq": None, "problem": None})


def test_verify_names_an_altered_entry_and_fails(configured: tuple[Path, Path]) -> None:
    path, database = configured
    _tamper(database, "UPDATE audit_log SET actor = 'nobody' WHERE seq = 7")
    code, report = _verify(path)
    assert code == 1
    assert report["ok"] is False
    assert report["first_bad_seq"] == 7
    assert "entry 7 altered" in str(report["problem"])


def test_verify_names_a_deleted_entry_and_fails(configured: tuple[Path, Path]) -> None:
    path, database = configured
    _tamper(database, "DELETE FROM audit_log WHERE seq = 12")
    code, report = _verify(path)
    assert (code, report["first_bad_seq"]) == (1, 12)
    assert "deleted" in str(report["problem"])


def test_verify_names_a_truncated_tail_and_fails(configured: tuple[Path, Path]) -> None:
    path, database = configured
    _tamper(database, f"DELETE FROM audit_log WHERE seq > {CHAIN_LENGTH - 2}")
    code, report = _verify(path)
    assert (code, report["first_bad_seq"]) == (1, CHAIN_LENGTH - 1)
    assert "deleted" in str(report["problem"])


def test_the_product_database_refuses_edits(configured: tuple[Path, Path]) -> None:
    _, database = configured
    with sqlite3.connect(database) as conn, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE audit_log SET actor = 'nobody' WHERE seq = 7")
    conn.close()


def test_export_writes_the_entries_as_csv(configured: tuple[Path, Path]) -> None:
    path, _ = configured
    result = runner.invoke(app, ["audit", "export", "--config", str(path), "--actor", "li", "--action", "camera."])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [int(row["seq"]) for row in rows] == [i for i in range(1, CHAIN_LENGTH + 1) if i % 3 == 1 and i % 4 == 1]
    assert {(row["actor"], row["action"]) for row in rows} == {("li", "camera.update")}
    for row in rows:
        detail = json.loads(row["detail"])
        assert detail["n"] == int(row["seq"])
        assert row["hash"] == audit.entry_hash(
            seq=int(row["seq"]), at=datetime.fromisoformat(row["at"]), actor=row["actor"], source=row["source"],
            action=row["action"], target=row["target"], outcome=row["outcome"], reason=row["reason"] or None,
            detail=detail, prev_hash=row["prev_hash"],
        )  # fmt: skip
