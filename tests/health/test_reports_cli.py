"""`tianyan report kpi|monthly` as an administrator runs them at the console: a temporary data dir and SQLite
file per test, January 2026 of tests/health/report_world.py, outcomes read where a user looks."""

from __future__ import annotations

import asyncio
import io
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from typer.testing import CliRunner, Result

from tests.health.report_world import CITY_ONLINE, HUICHENG_ONLINE, HUIYANG_ONLINE, MTTR_H, build_month
from tests.health.test_reports_render import line_with, pdf_text
from tianyan import config as config_module
from tianyan.app.platform import Platform
from tianyan.cli.main import app
from tianyan.security.models import AuditEntry

runner = CliRunner()
JANUARY = ("--from", "2026-01-01", "--to", "2026-01-31")


@pytest.fixture(autouse=True)
def _no_tianyan_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("TIANYAN_"):
            monkeypatch.delenv(name)


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "tianyan.toml"
    path.write_text(
        f'[server]\ndata_dir = "{(tmp_path / "data").as_posix()}"\n{extra}\n'
        f'[database]\nurl = "sqlite:///{(tmp_path / "t.db").as_posix()}"\n',
        encoding="utf-8",
    )
    return path


def in_db(cfg: Path, work: Callable[[Any], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        platform = await Platform.open(config_module.load(cfg, environ={}))
        try:
            async with platform.sessions() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await platform.close()

    return asyncio.run(go())


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = write_config(tmp_path)
    in_db(path, build_month)
    return path


def ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, f"tianyan {' '.join(args)} exited {result.exit_code}:\n{result.output}"
    return result.output


def refused(*args: str) -> Result:
    result = runner.invoke(app, list(args))
    assert result.exit_code != 0, f"tianyan {' '.join(args)} succeeded:\n{result.output}"
    assert isinstance(result.exception, SystemExit), f"crashed instead of refusing: {result.exception!r}"
    assert "Traceback" not in result.output
    return result


def test_kpi_table_and_json(cfg: Path) -> None:
    c = ("--config", str(cfg))
    table = ok("report", "kpi", *JANUARY, "--breakdown", "district", *c)
    line_with(table, "在线率 online rate", f"{CITY_ONLINE:.1%}", "2 of 3 online now")  # c2 went offline on the 16th
    line_with(table, "惠城区", "1", f"{HUICHENG_ONLINE:.1%}")
    line_with(table, "惠阳区", "2", f"{HUIYANG_ONLINE:.1%}")
    line_with(table, "惠阳区电信分公司", "M-HY", "picture 图像故障", "1", "1", "0", "240.0")
    assert "huizhou-2012-2014" in table

    data = json.loads(ok("report", "kpi", *JANUARY, "--region", "441303", "--class", "1", "--format", "json", *c))
    assert data["figures"]["cameras"] == 1 and data["figures"]["online_rate"] == 1.0  # c3
    assert data["scope"]["label"] == "惠阳区 (441303) · class 1 一类点"
    everything = json.loads(ok("report", "kpi", *JANUARY, "--format", "json", "--worst", "2", *c))
    assert everything["work_orders"]["total"]["mttr_s"] == pytest.approx(MTTR_H * 3600, abs=0.1)
    assert [row["name"] for row in everything["worst"]] == ["第一中学门口", "江北大道口"]


def test_kpi_workbook_defaults_to_district_and_sector_and_is_audited(cfg: Path, tmp_path: Path) -> None:
    out = tmp_path / "kpi.xlsx"
    assert ok("report", "kpi", *JANUARY, "--format", "xlsx", "-o", str(out), "--config", str(cfg)) == f"wrote {out}\n"
    book = load_workbook(io.BytesIO(out.read_bytes()))
    assert {"按辖区 · By district", "按行业 · By sector", "每日趋势 · Daily trend"} <= set(book.sheetnames)
    entries = in_db(cfg, lambda s: _exports(s))
    assert entries == [("cli", "cli", "kpi", "xlsx")]


async def _exports(session: Any) -> list[tuple[str, str, str, str]]:
    rows = (await session.execute(select(AuditEntry).where(AuditEntry.action == "report.export"))).scalars()
    return [(e.actor, e.source, e.detail["report"], e.detail["format"]) for e in rows]


def test_monthly_pdf(cfg: Path, tmp_path: Path) -> None:
    out = tmp_path / "2026-01.pdf"
    ok("report", "monthly", "--month", "2026-01", "-o", str(out), "--config", str(cfg))
    text = pdf_text(out.read_bytes())
    assert "视频监控系统运行月报 2026年1月" in text and "2026-01-01 – 2026-01-31 Asia/Shanghai" in text
    line_with(text, "惠阳区", "2", f"{HUIYANG_ONLINE:.1%}")
    line_with(text, "教育", "1", f"{15 / 31:.1%}")
    assert in_db(cfg, lambda s: _exports(s)) == [("cli", "cli", "monthly", "pdf")]


def test_bad_arguments_are_one_line_refusals(cfg: Path, tmp_path: Path) -> None:
    c = ("--config", str(cfg))
    cases = [
        (("report", "kpi", "--format", "xlsx", *c), "writes a file: give it with -o FILE"),
        (("report", "kpi", "--format", "csv", *c), "unknown format 'csv'"),
        (("report", "kpi", "--from", "01/01/2026", *c), "from must be a day"),
        (("report", "kpi", "--from", "2026-01-10", "--to", "2026-01-01", *c), "must end after it starts"),
        (("report", "kpi", "--sector", "S-NONE", *c), "Not found: no industry sector with code 'S-NONE'"),
        (("report", "kpi", "--camera", "123", *c), "20 digits"),
        (("report", "kpi", "--breakdown", "colour", *c), "unknown breakdown 'colour'"),
        (("report", "monthly", "--month", "2026-13", "-o", str(tmp_path / "m.pdf"), *c), "month must be YYYY-MM"),
        (("report", "monthly", "--month", "2026-01", "-o", str(tmp_path / "m.txt"), *c), "xlsx or pdf"),
        (("report", "monthly", "--month", "2026-01", "--region", "449999", "-o", str(tmp_path / "m.xlsx"), *c),
         "no region with code '449999'"),
    ]  # fmt: skip
    for args, words in cases:
        result = refused(*args)
        assert words in result.output, (args, result.output)
        assert len(result.output.strip().splitlines()) == 1, result.output
    assert not (tmp_path / "m.xlsx").exists()


def test_an_unknown_active_plan_is_named(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, '[health]\nplan = "no-such-plan"\n')
    result = refused("report", "kpi", "--config", str(cfg))
    assert "health.plan: unknown plan 'no-such-plan'" in result.output
