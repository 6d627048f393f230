"""The audit log as auditors use it over the API: search with filters and a cursor, export CSV (itself audited),
verify; nobody else may read it, and nobody at all can change it through the product."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.audit.auditlog import ACTORS, REMOTE_ADDRESS, Accounts, Tamper, assert_names, log_rows, record_chain
from tianyan.api.app import create_app
from tianyan.api.routers import audit as audit_router
from tianyan.app.platform import Platform
from tianyan.core.clock import FakeClock
from tianyan.core.sheet_text import from_csv_cell
from tianyan.security import audit

AUDIT_PATHS = ("/api/v1/audit", "/api/v1/audit/export.csv", "/api/v1/audit/verify")
BEIJING = timezone(timedelta(hours=8))
CSV_COLUMNS = ["seq", "at", "actor", "source", "action", "target", "outcome", "reason", "detail", "prev_hash", "hash"]


@pytest.fixture
async def history(accounts: Accounts, session: AsyncSession, clock: FakeClock, engine: AsyncEngine) -> list[dict]:
    """The accounts' own entries (API keys issued) followed by 20 varied ones; the whole log as stored."""
    await record_chain(session, clock)
    return await log_rows(engine)


async def _search(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await client.get("/api/v1/audit", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _seqs(page: dict[str, Any]) -> list[int]:
    return [item["seq"] for item in page["items"]]


# --- search -----------------------------------------------------------------------------------------------------


async def test_search_returns_entries_as_stored(
    client: httpx.AsyncClient, accounts: Accounts, history: list[dict]
) -> None:
    page = await _search(client, accounts.auditor, limit=1000)
    assert _seqs(page) == [row["seq"] for row in history]
    assert page["next_after"] is None
    item, row = page["items"][-1], history[-1]
    assert datetime.fromisoformat(item["at"]) == row["at"]
    assert {k: item[k] for k in ("actor", "source", "action", "target", "outcome", "reason", "detail", "hash")} == {
        k: row[k] for k in ("actor", "source", "action", "target", "outcome", "reason", "detail", "hash")
    }


@pytest.mark.parametrize("actor", ACTORS)
async def test_search_by_actor(client: httpx.AsyncClient, accounts: Accounts, history: list[dict], actor: str) -> None:
    page = await _search(client, accounts.auditor, actor=actor)
    expected = [row["seq"] for row in history if row["actor"] == actor]
    assert expected and _seqs(page) == expected


@pytest.mark.parametrize("prefix", ["auth.", "user.", "apikey.", "ptz.move", "camera"])
async def test_search_by_action_prefix(
    client: httpx.AsyncClient, accounts: Accounts, history: list[dict], prefix: str
) -> None:
    page = await _search(client, accounts.auditor, action=prefix)
    expected = [row["seq"] for row in history if row["action"].startswith(prefix)]
    assert expected and _seqs(page) == expected


async def test_search_action_prefix_is_literal(
    client: httpx.AsyncClient, accounts: Accounts, history: list[dict]
) -> None:
    """'%' and '_' are characters to match, not wildcards."""
    assert _seqs(await _search(client, accounts.auditor, action="%")) == []
    assert _seqs(await _search(client, accounts.auditor, action="auth_")) == []


async def test_search_by_time_range(client: httpx.AsyncClient, accounts: Accounts, history: list[dict]) -> None:
    """since is inclusive, until exclusive."""
    chain = history[-20:]
    since, until = chain[4]["at"], chain[9]["at"]
    page = await _search(client, accounts.auditor, since=since.isoformat(), until=until.isoformat())
    assert _seqs(page) == [row["seq"] for row in chain[4:9]]


async def test_search_by_time_in_china_standard_time(
    client: httpx.AsyncClient, accounts: Accounts, history: list[dict]
) -> None:
    chain = history[-20:]
    since, until = (row["at"].astimezone(BEIJING) for row in (chain[10], chain[15]))
    assert since.isoformat().endswith("+08:00")
    page = await _search(client, accounts.auditor, since=since.isoformat(), until=until.isoformat())
    assert _seqs(page) == [row["seq"] for row in chain[10:15]]


async def test_search_time_without_offset_is_a_clear_error(
    client: httpx.AsyncClient, accounts: Accounts, history: list[dict]
) -> None:
    """A time with no UTC offset is ambiguous (UTC or Beijing?): a 422 saying so, not a server error."""
    response = await client.get("/api/v1/audit", params={"since": "2026-01-01T00:00:05"}, headers=accounts.auditor)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "since" in response.json()["detail"]


async def test_search_by_target_and_outcome(
    client: httpx.AsyncClient, accounts: Accounts, history: list[dict], session: AsyncSession, engine: AsyncEngine
) -> None:
    target = history[-1]["target"]
    assert _seqs(await _search(client, accounts.auditor, target=target)) == [history[-1]["seq"]]
    await audit.record(session, actor="ghost", action="auth.login", target="user:ghost", outcome="denied")
    await session.commit()
    denied = await _search(client, accounts.auditor, outcome="denied")
    assert [item["actor"] for item in denied["items"]] == ["ghost"]


async def test_search_pages_with_a_cursor(client: httpx.AsyncClient, accounts: Accounts, history: list[dict]) -> None:
    seen: list[int] = []
    after, pages = 0, 0
    while True:
        page = await _search(client, accounts.auditor, after=after, limit=7)
        assert 0 < len(page["items"]) <= 7
        seen += _seqs(page)
        pages += 1
        if page["next_after"] is None:
            break
        assert page["next_after"] == seen[-1]
        after = page["next_after"]
    assert seen == [row["seq"] for row in history]
    assert pages == -(-len(history) // 7)


async def test_filtered_search_pages_with_a_cursor(
    client: httpx.AsyncClient, accounts: Accounts, history: list[dict]
) -> None:
    expected = [row["seq"] for row in history if row["actor"] == "li"]
    seen: list[int] = []
    after: int | None = 0
    while after is not None:
        page = await _search(client, accounts.auditor, actor="li", after=after, limit=2)
        seen += _seqs(page)
        after = page["next_after"]
    assert seen == expected


async def test_exact_last_page_has_no_cursor(
    client: httpx.AsyncClient, accounts: Accounts, history: list[dict]
) -> None:
    page = await _search(client, accounts.auditor, limit=len(history))
    assert len(page["items"]) == len(history)
    assert page["next_after"] is None


# --- export -----------------------------------------------------------------------------------------------------


def _csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    reader = csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))
    assert reader.fieldnames == CSV_COLUMNS
    return list(reader)


async def test_export_holds_every_entry_and_can_be_checked_on_its_own(
    remote: httpx.AsyncClient, accounts: Accounts, history: list[dict], engine: AsyncEngine
) -> None:
    """An auditor can re-verify an exported copy off the host: every row's hash recomputes from its cells."""
    rows = _csv(await remote.get("/api/v1/audit/export.csv", headers=accounts.auditor))
    stored = await log_rows(engine)
    assert [int(row["seq"]) for row in rows] == [row["seq"] for row in stored]
    previous = audit.GENESIS
    for row, original in zip(rows, stored, strict=True):
        detail = json.loads(row["detail"])
        assert detail == original["detail"]
        assert row["prev_hash"] == previous
        recomputed = audit.entry_hash(
            seq=int(row["seq"]), at=datetime.fromisoformat(row["at"]), actor=row["actor"], source=row["source"],
            action=row["action"], target=row["target"], outcome=row["outcome"], reason=row["reason"] or None,
            detail=detail, prev_hash=row["prev_hash"],
        )  # fmt: skip
        assert recomputed == row["hash"] == original["hash"]
        previous = row["hash"]
    chinese = next(row for row in rows if row["reason"])
    assert chinese["reason"] == "巡查核实"


async def test_export_cells_never_run_as_formulas_and_still_verify(
    remote: httpx.AsyncClient, accounts: Accounts, history: list[dict], session: AsyncSession, clock: FakeClock
) -> None:
    """A reason typed as a formula opens in Excel or WPS as the text typed; the copy still re-verifies once the
    apostrophe that marks such a cell as text is taken off."""
    hostile = '=HYPERLINK("http://example.invalid/x","核实")'
    clock.advance(1)
    await audit.record(session, actor="zhang", source="10.1.0.9", action="video.export", target="-1+1",
                       reason=hostile, detail={}, clock=clock)  # fmt: skip
    await session.commit()
    rows = _csv(await remote.get("/api/v1/audit/export.csv", params={"actor": "zhang"}, headers=accounts.auditor))
    row = next(row for row in rows if row["action"] == "video.export")
    assert (row["reason"], row["target"]) == ("'" + hostile, "'-1+1")
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r.values())
    cells = {key: from_csv_cell(value) for key, value in row.items()}
    recomputed = audit.entry_hash(
        seq=int(cells["seq"]), at=datetime.fromisoformat(cells["at"]), actor=cells["actor"], source=cells["source"],
        action=cells["action"], target=cells["target"], outcome=cells["outcome"], reason=cells["reason"],
        detail=json.loads(cells["detail"]), prev_hash=cells["prev_hash"],
    )  # fmt: skip
    assert recomputed == cells["hash"]


async def test_export_is_itself_audited(
    remote: httpx.AsyncClient, accounts: Accounts, history: list[dict], engine: AsyncEngine
) -> None:
    rows = _csv(await remote.get("/api/v1/audit/export.csv", params={"actor": "zhang"}, headers=accounts.auditor))
    assert rows and {row["actor"] for row in rows} == {"zhang"}
    assert [int(row["seq"]) for row in rows] == [row["seq"] for row in history if row["actor"] == "zhang"]
    entry = (await log_rows(engine, "audit.export"))[0]
    assert (entry["actor"], entry["source"], entry["detail"]) == ("shen", REMOTE_ADDRESS, {"actor": "zhang"})


async def test_export_filters_by_action_and_time(
    client: httpx.AsyncClient, accounts: Accounts, history: list[dict]
) -> None:
    chain = history[-20:]
    params = {"action": "ptz.", "since": chain[0]["at"].isoformat(), "until": chain[12]["at"].isoformat()}
    rows = _csv(await client.get("/api/v1/audit/export.csv", params=params, headers=accounts.auditor))
    assert [int(r["seq"]) for r in rows] == [r["seq"] for r in chain[:12] if r["action"].startswith("ptz.")]


# --- verify over the API ----------------------------------------------------------------------------------------


async def test_verify_over_the_api(
    client: httpx.AsyncClient, accounts: Accounts, history: list[dict], tamper: Tamper
) -> None:
    response = await client.get("/api/v1/audit/verify", headers=accounts.auditor)
    assert response.status_code == 200
    assert response.json() == {"ok": True, "entries": len(history), "first_bad_seq": None, "problem": None}
    victim = history[-5]["seq"]
    await tamper.delete(victim)
    result = (await client.get("/api/v1/audit/verify", headers=accounts.auditor)).json()
    assert_names(audit.VerifyResult(**result), victim, "deleted")


# --- who may read it --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "operator"])
async def test_only_auditors_may_read_the_log(
    client: httpx.AsyncClient, accounts: Accounts, history: list[dict], engine: AsyncEngine, role: str
) -> None:
    """Separation of duties: the administrator runs the system but does not read its audit trail."""
    for path in AUDIT_PATHS:
        response = await client.get(path, headers=getattr(accounts, role))
        assert response.status_code == 403, f"{path}: {response.status_code} {response.text}"
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["status"] == 403
        assert "audit.read" in problem["detail"]
    assert await log_rows(engine) == history


@pytest.mark.parametrize("path", AUDIT_PATHS)
async def test_anonymous_callers_are_refused(client: httpx.AsyncClient, history: list[dict], path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


# --- nobody can change it ---------------------------------------------------------------------------------------


async def test_no_route_writes_to_the_audit_log(platform: Platform) -> None:
    """Every operation the API publishes under /audit reads; the audit router itself declares nothing else."""
    paths = create_app(platform).openapi()["paths"]
    published = {path: set(ops) for path, ops in paths.items() if path.startswith("/api/v1/audit")}
    assert published == {path: {"get"} for path in AUDIT_PATHS}
    declared = [route for route in audit_router.router.routes if isinstance(route, APIRoute)]
    assert {f"/api/v1{route.path}" for route in declared} == set(AUDIT_PATHS)
    for route in declared:
        assert route.methods <= {"GET", "HEAD"}, f"{route.path} accepts {sorted(route.methods)}"


@pytest.mark.parametrize("who", ["admin", "auditor"])
async def test_writing_methods_are_not_allowed(
    client: httpx.AsyncClient, accounts: Accounts, history: list[dict], engine: AsyncEngine, who: str
) -> None:
    headers = getattr(accounts, who)
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for path in AUDIT_PATHS:
            response = await client.request(method, path, headers=headers, json={"actor": "nobody"})
            assert response.status_code == 405, f"{method} {path}: {response.status_code}"
        for path in (f"/api/v1/audit/{history[-1]['seq']}", "/api/v1/audit/entries/1"):
            response = await client.request(method, path, headers=headers, json={"actor": "nobody"})
            assert response.status_code in {404, 405}, f"{method} {path}: {response.status_code}"
    assert await log_rows(engine) == history
