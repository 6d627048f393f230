"""The `tianyan` command line as an administrator uses it: every sub-app, through the real entry point.

Each test gets its own TOML configuration (a temporary data_dir and an SQLite file) passed with --config,
so the tests also show that --config is honoured. Outcomes are checked where a user would look: the printed
output and exit status, the file written, the account that can (or cannot) log in afterwards.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import re
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from tianyan import config as config_module
from tianyan.app.platform import Platform
from tianyan.cli.main import app
from tianyan.core import gbid
from tianyan.core.errors import TianyanError
from tianyan.registry import service
from tianyan.registry.importer import COLUMNS
from tianyan.registry.models import Camera
from tianyan.schema.migrate import head_revision
from tianyan.security import login

runner = CliRunner()
PASSWORD = "Tianyan-Cli-2026!"
OTHER_PASSWORD = "Another-Pass-2027#"
HUIZHOU = "huizhou-2012-2014"


@pytest.fixture(autouse=True)
def _no_tianyan_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets: a developer's own TIANYAN_* variables must not change the outcome."""
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


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return write_config(tmp_path)


def tianyan(*args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(app, list(args), env=env)


def ok(*args: str) -> str:
    """Run a command that must succeed; its output."""
    result = tianyan(*args)
    assert result.exit_code == 0, f"tianyan {' '.join(args)} exited {result.exit_code}:\n{result.output}"
    return result.output


def refused(*args: str, env: dict[str, str] | None = None) -> str:
    """Run a command that must fail cleanly: a non-zero exit and a message, never a traceback."""
    result = tianyan(*args, env=env)
    assert result.exit_code != 0, f"tianyan {' '.join(args)} succeeded:\n{result.output}"
    assert isinstance(result.exception, SystemExit), f"crashed instead of refusing: {result.exception!r}"
    assert "Traceback" not in result.output
    return result.output


def in_db(cfg: Path, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run `work(session)` on the database the configuration names, committing."""

    async def go() -> Any:
        platform = await Platform.open(config_module.load(cfg, environ={}), migrate=False)
        try:
            async with platform.sessions() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await platform.close()

    return asyncio.run(go())


def log_in(cfg: Path, username: str, password: str) -> str:
    """'ok', or the reason the platform gives for refusing the login."""

    async def attempt(session: Any) -> str:
        try:
            await login.login(session, username=username, password=password)
        except TianyanError as exc:
            return exc.detail
        return "ok"

    return in_db(cfg, attempt)


def camera_count(cfg: Path) -> int:
    return in_db(cfg, lambda s: _scalar(s, select(func.count()).select_from(Camera)))


async def _scalar(session: Any, query: Any) -> Any:
    return (await session.execute(query)).scalar_one()


def build_regions(cfg: Path) -> None:
    """广东省 > 惠州市 > 惠城区 (> 河南岸派出所), 惠阳区 through the CLI; the 市教育局 sector directly (no command)."""
    c = ("--config", str(cfg))
    ok("region", "add", "440000", "广东省", "--level", "province", *c)
    ok("region", "add", "441300", "惠州市", "--level", "city", "--parent", "440000", *c)
    ok("region", "add", "441302", "惠城区", "--level", "county", "--parent", "441300", *c)
    ok("region", "add", "441303", "惠阳区", "--level", "county", "--parent", "441300", *c)
    ok("region", "add", "44130201", "河南岸派出所", "--level", "station", "--parent", "441302", *c)

    async def sector(session: Any) -> None:
        await service.add_organisation(session, kind="sector", code="EDU", name="市教育局", region_code="441300")

    in_db(cfg, sector)


@pytest.fixture
def regions(cfg: Path) -> Path:
    build_regions(cfg)
    return cfg


# --- gbid ---------------------------------------------------------------------------------------------


def test_gbid_decode_prints_every_field_as_json() -> None:
    # Centre 44 13 02 01, industry 11, type 118, network 8, serial 000123: no two fields alike.
    out = json.loads(ok("gbid", "decode", "44130201111188000123"))
    assert out["id"] == "44130201111188000123"
    centre = out["centre"]
    assert (centre["code"], centre["province"], centre["province_name"]) == ("44130201", "44", "广东省")
    assert (centre["city"], centre["county"], centre["grassroots"]) == ("13", "02", "01")
    assert centre["region_code"] == "441302"
    assert out["industry"] == {"code": "11", "name": "教育部门接入"}
    assert (out["type"]["code"], out["type"]["name"]) == ("118", "NVR")
    assert (out["network"]["code"], out["network"]["name"], out["network"]["kind"]) == ("8", "社会资源接入网", "social")
    assert out["serial"] == "000123"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("4413020111118800012", "must have 20 digits, got 19"),
        ("441302011111880001234", "must have 20 digits, got 21"),
        ("4413020111118800012X", "digits only; position 20 is 'X'"),
        ("99130201111188000123", "'99' (digits 1-2) is not a GB/T 2260 province code"),
    ],
)
def test_gbid_decode_refuses_a_bad_id_saying_why(value: str, reason: str) -> None:
    out = refused("gbid", "decode", value)
    assert "invalid GB ID" in out and reason in out
    assert "{" not in out  # no half-printed JSON


def test_gbid_new_builds_the_id_from_its_fields() -> None:
    out = json.loads(ok("gbid", "new", "--centre", "441302", "--type", "132", "--serial", "7"))
    assert out["id"] == "44130200001320000007"
    assert (out["type"]["code"], out["serial"], out["centre"]["region_code"]) == ("132", "000007", "441302")
    built = ok("gbid", "new", "--centre", "44130201", "--industry", "11", "--network", "8", "--serial", "0")
    social = json.loads(built)
    assert social["id"] == "44130201111328000000"
    assert "serial must be 0-999999" in refused("gbid", "new", "--centre", "441302", "--serial", "1000000")
    assert "centre code must be 8 digits" in refused("gbid", "new", "--centre", "4413")


# --- init, db -----------------------------------------------------------------------------------------


def test_init_creates_the_first_admin_once_and_prints_its_password_once(cfg: Path) -> None:
    out = ok("init", "--config", str(cfg))
    match = re.search(r"^password:\s+(\S+)$", out, re.MULTILINE)
    assert match and "administrator: admin" in out and "shown once" in out
    password = match.group(1)
    assert out.count(password) == 1
    assert log_in(cfg, "admin", password) == "ok"

    again = refused("init", "--config", str(cfg))
    assert "an administrator already exists" in again and "tianyan user passwd" in again
    assert "password:" not in again
    assert log_in(cfg, "admin", password) == "ok"  # the first one is untouched


def test_init_password_meets_a_stricter_configured_policy(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "\n[security]\npassword_min_length = 24\n")
    out = ok("init", "--username", "root", "--config", str(cfg))
    password = re.search(r"^password:\s+(\S+)$", out, re.MULTILINE).group(1)  # type: ignore[union-attr]
    assert len(password) >= 24 and "administrator: root" in out
    assert log_in(cfg, "root", password) == "ok"


def test_db_upgrade_prints_the_head_revision_of_the_configured_database(cfg: Path, tmp_path: Path) -> None:
    assert json.loads(ok("db", "upgrade", "--config", str(cfg))) == {"revision": head_revision()}
    assert (tmp_path / "t.db").exists()  # the database the file names, not the default one
    assert json.loads(ok("db", "upgrade", "--config", str(cfg))) == {"revision": head_revision()}


# --- configuration errors -----------------------------------------------------------------------------


def test_unknown_configuration_key_is_refused_by_name(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "http_prot = 9090\n")
    out = refused("db", "upgrade", "--config", str(cfg))
    assert "[server.http_prot] is not a known key" in out and str(cfg) in out
    assert not (tmp_path / "t.db").exists()  # refused before anything was opened


def test_bad_configuration_value_is_refused_by_name(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "\n[security]\npassword_min_length = 4\n")
    out = refused("user", "list", "--config", str(cfg))
    assert "[security.password_min_length]" in out and "greater than or equal to 8" in out and "got 4" in out
    cfg.write_text('[server]\nhttp_port = "eighty"\n', encoding="utf-8")
    assert "[server.http_port]" in refused("db", "upgrade", "--config", str(cfg))
    assert "does not exist" in refused("db", "upgrade", "--config", str(tmp_path / "missing.toml"))


def test_bad_environment_override_is_named_by_its_variable(cfg: Path, tmp_path: Path) -> None:
    out = refused("db", "upgrade", "--config", str(cfg), env={"TIANYAN_SERVER__HTTP_PORT": "notaport"})
    assert "TIANYAN_SERVER__HTTP_PORT" in out and "[server.http_port]" in out and "'notaport'" in out
    out = refused("db", "upgrade", "--config", str(cfg), env={"TIANYAN_SERVER__HTTP_PROT": "9000"})
    assert "TIANYAN_SERVER__HTTP_PROT" in out and "is not a known key" in out
    assert not (tmp_path / "t.db").exists()


def test_config_file_can_come_from_tianyan_config(cfg: Path, tmp_path: Path) -> None:
    result = tianyan("db", "upgrade", env={"TIANYAN_CONFIG": str(cfg)})
    assert result.exit_code == 0, result.output
    assert (tmp_path / "t.db").exists()


# --- regions ------------------------------------------------------------------------------------------


def test_region_add_and_list_show_the_tree(cfg: Path) -> None:
    c = ("--config", str(cfg))
    out = ok("region", "add", "440000", "广东省", "--level", "province", *c)
    assert out == "added province 440000 广东省 (/440000/)\n"
    ok("region", "add", "441300", "惠州市", "--level", "city", "--parent", "440000", *c)
    out = ok("region", "add", "441302", "惠城区", "--level", "county", "--parent", "441300", *c)
    assert out == "added county 441302 惠城区 (/440000/441300/441302/)\n"
    ok("region", "add", "441371", "大亚湾区", "--level", "county", "--parent", "441300", "--local", *c)
    ok("region", "add", "44130201", "河南岸派出所", "--level", "station", "--parent", "441302", *c)
    assert ok("region", "list", *c).splitlines() == [
        "440000 广东省 [province]",
        "  441300 惠州市 [city]",
        "    441302 惠城区 [county]",
        "      44130201 河南岸派出所 [station]",
        "    441371 大亚湾区 [county] (locally assigned)",
    ]
    assert ok("region", "list", "--under", "441302", *c).splitlines() == [
        "    441302 惠城区 [county]",
        "      44130201 河南岸派出所 [station]",
    ]
    assert "region '441302' already exists" in refused("region", "add", "441302", "又一个", "--level", "county", *c)
    assert "a county cannot sit under a station" in refused(
        "region", "add", "44130299", "X", "--level", "county", "--parent", "44130201", *c
    )
    assert "unknown region level 'district'" in refused("region", "add", "441303", "惠阳区", "--level", "district", *c)


# --- users --------------------------------------------------------------------------------------------


def users(cfg: Path) -> dict[str, str]:
    """`user list` as username -> the rest of its line."""
    lines = ok("user", "list", "--config", str(cfg)).splitlines()
    return {line.split()[0]: " ".join(line.split()[1:]) for line in lines}


def test_user_add_with_a_scope_then_list(regions: Path) -> None:
    c = ("--config", str(regions))
    out = ok("user", "add", "huiyang.op", "--role", "operator", "--password", PASSWORD, "--region", "441303",
             "--network", "police", "--network", "social", "--class", "1", "--class", "2", *c)  # fmt: skip
    assert out == "created operator huiyang.op\n"
    ok("user", "add", "edu.user", "--role", "industry", "--password", PASSWORD, "--all-regions", "--network", "social",
       "--class", "2", "--sector", "EDU", "--display-name", "教育局", *c)  # fmt: skip
    assert users(regions) == {
        "edu.user": "industry active all regions; social; class 2; sector EDU",
        "huiyang.op": "operator active 441303; police+social; class 1,2",
    }
    assert log_in(regions, "huiyang.op", PASSWORD) == "ok"

    # Refusals name what is wrong and create nothing.
    assert "industry user needs the industry sector" in refused(
        "user", "add", "edu2", "--role", "industry", "--password", PASSWORD, "--all-regions", *c
    )
    assert "unknown industry sector 'NOPE'" in refused(
        "user", "add", "edu2", "--role", "industry", "--password", PASSWORD, "--all-regions", "--sector", "NOPE", *c
    )
    assert "unknown region code(s) ['999999']" in refused(
        "user", "add", "x.op", "--role", "operator", "--password", PASSWORD, "--region", "999999", *c
    )
    assert "unknown role 'boss'" in refused("user", "add", "x.op", "--role", "boss", "--password", PASSWORD, *c)
    assert "user 'huiyang.op' already exists" in refused(
        "user", "add", "huiyang.op", "--role", "analyst", "--password", PASSWORD, "--all-regions", *c
    )
    assert set(users(regions)) == {"edu.user", "huiyang.op"}


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Sh0rt!", "password must have at least 10 characters"),
        ("alllowercase", "must mix at least 3 of: lower case, upper case, digits, symbols"),
        ("Xmaint.ops-2026", "password must not contain the username"),
    ],
)
def test_user_add_refuses_a_password_against_the_policy(cfg: Path, password: str, reason: str) -> None:
    out = refused("user", "add", "maint.ops", "--role", "maintainer", "--password", password, "--all-regions",
                  "--config", str(cfg))  # fmt: skip
    assert reason in out
    assert users(cfg) == {}


def test_user_passwd_disable_enable(cfg: Path) -> None:
    c = ("--config", str(cfg))
    ok("user", "add", "ana", "--role", "analyst", "--password", PASSWORD, "--all-regions", *c)

    assert ok("user", "passwd", "ana", "--password", OTHER_PASSWORD, *c) == "password of ana changed\n"
    assert log_in(cfg, "ana", PASSWORD) == "invalid username, password or code"
    assert log_in(cfg, "ana", OTHER_PASSWORD) == "ok"
    assert "at least 10 characters" in refused("user", "passwd", "ana", "--password", "short", *c)
    assert "no user named 'nobody'" in refused("user", "passwd", "nobody", "--password", OTHER_PASSWORD, *c)

    assert ok("user", "disable", "ana", *c) == "ana disabled\n"
    assert users(cfg)["ana"] == "analyst disabled all regions; all networks; all classes"
    assert log_in(cfg, "ana", OTHER_PASSWORD) == "this account is disabled"

    assert ok("user", "enable", "ana", *c) == "ana enabled\n"
    assert users(cfg)["ana"].startswith("analyst active")
    assert log_in(cfg, "ana", OTHER_PASSWORD) == "ok"
    assert "no user named 'ghost'" in refused("user", "disable", "ghost", *c)


# --- audit --------------------------------------------------------------------------------------------


def test_audit_verify_and_export_show_what_the_cli_did(regions: Path) -> None:
    c = ("--config", str(regions))
    ok("user", "add", "ana", "--role", "analyst", "--password", PASSWORD, "--all-regions", *c)
    ok("user", "disable", "ana", *c)
    verdict = json.loads(ok("audit", "verify", *c))
    assert verdict["ok"] is True and verdict["entries"] >= 7  # five regions, the user, the disable

    rows = list(csv.DictReader(ok("audit", "export", "--action", "user.", *c).splitlines()))
    assert [(r["actor"], r["source"], r["action"], r["target"]) for r in rows] == [
        ("cli", "cli", "user.create", "user:ana"),
        ("cli", "cli", "user.disable", "user:ana"),
    ]
    regions_rows = list(csv.DictReader(ok("audit", "export", "--actor", "cli", "--action", "region.", *c).splitlines()))
    assert [r["target"] for r in regions_rows] == [
        "region:440000", "region:441300", "region:441302", "region:441303", "region:44130201",
    ]  # fmt: skip

    # Someone with the database in hand drops the append-only guard and edits an entry: verify names it, exit 1.
    seq = int(rows[0]["seq"])
    with sqlite3.connect(regions.parent / "t.db") as db:
        db.execute("DROP TRIGGER audit_log_no_update")
        db.execute("UPDATE audit_log SET target = 'user:someone-else' WHERE seq = ?", (seq,))
    result = tianyan("audit", "verify", *c)
    assert result.exit_code == 1
    broken = json.loads(result.stdout)
    assert broken["ok"] is False and broken["first_bad_seq"] == seq


# --- camera import and export -------------------------------------------------------------------------


def camera_id(region: str, serial: int, *, network: str = "police", kind: str = "fixed") -> str:
    digit = "8" if network == "social" else "0"
    return gbid.build(centre=region, type_code="132", network=digit, serial=serial).value


# The bureau's own register writes Chinese headers (importer.ALIASES).
CHINESE = {"gb_id": "国标编码", "name": "名称", "class": "类别", "network": "网络", "region": "行政区划"}


def write_csv(path: Path, rows: list[dict[str, Any]], *, headers: dict[str, str] | None = None,
              encoding: str = "utf-8") -> Path:  # fmt: skip
    """`headers`: the columns to write, each with the header text to give it (default: every column, as is)."""
    headers = headers or {column: column for column in COLUMNS}
    with path.open("w", encoding=encoding, newline="") as out:
        writer = csv.writer(out)
        writer.writerow(headers.values())
        for row in rows:
            writer.writerow([row.get(column, "") for column in headers])
    return path


def row(serial: int, region: str = "441302", **values: Any) -> dict[str, Any]:
    network = values.get("network", "police")
    return {"gb_id": camera_id(region, serial, network=network), "name": f"点位 {serial}", "class": 1,
            "network": network, "region": region, **values}  # fmt: skip


def test_camera_import_is_all_or_nothing_and_names_line_column_and_reason(regions: Path, tmp_path: Path) -> None:
    c = ("--config", str(regions))
    # The bureau's own register: Chinese headers, saved by Excel as GB18030.
    bad = write_csv(tmp_path / "登记表.csv", [row(1), row(2, **{"class": 5}), row(3), row(4, region="441399")],
                    headers=CHINESE, encoding="gb18030")  # fmt: skip
    result = tianyan("camera", "import", str(bad), *c)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == (
        "登记表.csv: created 0, updated 0, unchanged 0, refused 2 "
        "(nothing written: fix the rows below, or use --partial to write the good rows)"
    )
    assert lines[1:] == [
        "line 3, column 类别: Input should be less than or equal to 3 (got '5')",
        "line 5, column 行政区划: unknown region code '441399'",
    ]
    assert camera_count(regions) == 0

    result = tianyan("camera", "import", str(bad), "--partial", *c)
    assert result.exit_code == 1  # some rows were still refused
    assert result.output.splitlines()[0] == "登记表.csv: created 2, updated 0, unchanged 0, refused 2 (written)"
    assert camera_count(regions) == 2

    # Fixed, the same file adds the rest and leaves the two already there alone.
    fixed = write_csv(tmp_path / "fixed.csv", [row(1), row(2), row(3), row(4, region="441303")], headers=CHINESE)
    assert ok("camera", "import", str(fixed), "--dry-run", *c).splitlines()[0] == (
        "fixed.csv: created 2, updated 0, unchanged 2, refused 0 (dry run: nothing written)"
    )
    assert camera_count(regions) == 2
    assert ok("camera", "import", str(fixed), *c).splitlines() == [
        "fixed.csv: created 2, updated 0, unchanged 2, refused 0 (written)"
    ]
    assert camera_count(regions) == 4


def test_the_example_in_the_import_format_doc_imports(regions: Path, tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "import-format.md").read_text(encoding="utf-8")
    example = tmp_path / "example.csv"
    example.write_text(doc.split("```csv\n", 1)[1].split("```", 1)[0], encoding="utf-8")
    out = ok("camera", "import", str(example), "--config", str(regions))
    assert out == "example.csv: created 2, updated 0, unchanged 0, refused 0 (written)\n"


def test_camera_import_refuses_a_file_with_an_unknown_column_even_partially(regions: Path, tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("gb_id,name,class,network,region,colour\n" + ",".join([camera_id("441302", 1), "x", "1",
                    "police", "441302", "red"]) + "\n", encoding="utf-8")  # fmt: skip
    out = refused("camera", "import", str(path), "--partial", "--config", str(regions))
    assert "line 1, column colour: unknown column 'colour'" in out and "nothing written" in out
    assert camera_count(regions) == 0


def test_camera_export_then_reimport_changes_nothing(regions: Path, tmp_path: Path) -> None:
    c = ("--config", str(regions))
    full = row(1, main_width=1920, main_height=1080, main_fps=25, sub_width=704, sub_height=576, sub_fps=25,
               latitude=23.08, longitude=114.4, address="惠城区江北路 1 号", install_date="2012-05-01",
               retention_days=90, sensitive="是", networked="否", labels="路口;重点", owning_unit="惠城分局",
               kind="ptz")  # fmt: skip
    social = row(2, region="441303", network="social", sector="EDU", **{"class": 2})
    ok("camera", "import", str(write_csv(tmp_path / "in.csv", [full, social, row(3, region="44130201")])), *c)

    out_xlsx = tmp_path / "out.xlsx"
    assert ok("camera", "export", "-o", str(out_xlsx), *c) == f"exported 3 cameras to {out_xlsx} (xlsx)\n"
    sheet = load_workbook(out_xlsx).worksheets[0]
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert table[0] == list(COLUMNS) and len(table) == 4
    first = dict(zip(COLUMNS, table[1], strict=True))
    assert (first["gb_id"], first["sensitive"], first["networked"], first["labels"]) == (full["gb_id"], True, False,
                                                                                         "路口;重点")  # fmt: skip
    assert (first["owning_unit"], first["retention_days"], first["kind"]) == ("惠城分局", 90, "ptz")
    assert not (tmp_path / "out.xlsx.partial").exists()

    assert ok("camera", "import", str(out_xlsx), *c).splitlines() == [
        "out.xlsx: created 0, updated 0, unchanged 3, refused 0 (written)"
    ]
    out_csv = tmp_path / "cameras.dat"
    assert "exported 3 cameras" in ok("camera", "export", "-o", str(out_csv), "--format", "csv", *c)
    assert out_csv.read_bytes().startswith(b"\xef\xbb\xbfgb_id,name,class,")  # UTF-8 with BOM for Excel
    assert "unknown file type .dat" in refused("camera", "export", "-o", str(tmp_path / "x.dat"), *c)


# --- plan reports -------------------------------------------------------------------------------------


def test_report_plans_lists_the_shipped_plans(cfg: Path) -> None:
    lines = ok("report", "plans", "--config", str(cfg)).splitlines()
    assert [line.split("\t")[:3] for line in lines] == [
        [HUIZHOU, "unit_targets", "shipped"],
        ["national-2020", "goals", "shipped"],
        ["ningxia-2014", "region_targets", "shipped"],
    ]
    assert "惠州市社会治安视频监控系统建设三年规划" in lines[0]


def plan_registry(cfg: Path, tmp_path: Path) -> None:
    """A registry small enough to count by hand (see test_report_plan_json_counts_by_hand)."""
    hd, hd720, sd = (1920, 1080, 25), (1280, 720, 25), (704, 576, 25)
    rows: list[dict[str, Any]] = []

    def add(n: int, region: str, cls: int, installed: str, stream: tuple[int, int, int] = sd, *,
            kind: str = "fixed", sector: str = "", networked: int | None = None) -> None:  # fmt: skip
        network = {1: "police", 2: "social", 3: "local"}[cls]
        for i in range(n):
            serial = len(rows) + 1
            rows.append({
                "gb_id": camera_id(region, serial, network=network), "name": f"点位 {serial}", "class": cls,
                "network": network, "region": region, "kind": kind, "main_width": stream[0],
                "main_height": stream[1], "main_fps": stream[2], "install_date": installed, "sector": sector,
                "networked": "是" if networked is None or i < networked else "否",
            })  # fmt: skip

    add(6, "441302", 1, "2012-03-01", hd, kind="checkpoint")  # A: HD checkpoints, in 2012
    add(10, "44130201", 1, "2013-05-01")  # B: SD, at a station: counts for 惠城区
    add(4, "441302", 1, "2013-06-01", hd720)  # C: HD fixed
    add(1, "441302", 1, "2011-12-31")  # before the plan period
    add(1, "441302", 1, "2014-01-01")  # after the report day
    add(1, "441302", 1, "")  # no install date: never new
    add(2, "441302", 3, "2012-06-01")  # class 3: never counted
    add(5, "441302", 2, "2012-02-01", sector="EDU", networked=4)  # H: class 2 of 市教育局, 4 networked
    add(3, "441303", 1, "2012-08-08", hd720)  # I: 惠阳区
    ok("camera", "import", str(write_csv(tmp_path / "plan.csv", rows)), "--config", str(cfg))


def test_report_plan_json_counts_by_hand(regions: Path, tmp_path: Path) -> None:
    plan_registry(regions, tmp_path)
    out = json.loads(ok("report", "plan", "--plan", HUIZHOU, "--at", "2013-12-31", "--format", "json",
                        "--config", str(regions)))  # fmt: skip
    assert (out["plan"], out["at"], out["period"]) == (HUIZHOU, "2013-12-31", {"start": "2012-01-01",
                                                                                "end": "2014-12-31"})  # fmt: skip
    units = {u["unit"]: u for u in out["units"]}
    assert list(units) == ["惠城区", "惠阳区", "博罗县", "惠东县", "龙门县", "大亚湾区", "仲恺区"]

    huicheng = units["惠城区"]
    assert (huicheng["region_code"], huicheng["matched_by"]) == ("441302", "code")
    class1 = huicheng["measures"]["class1"]
    # A 6 + B 10 + C 4; the 2011, 2014, undated and class 3 cameras are not new points of the plan.
    assert (class1["target"], class1["built"], class1["share"], class1["gap"]) == (500, 20, 0.04, 480)
    assert [(m["by"], m["needed"], m["built"], m["status"]) for m in class1["milestones"]] == [
        ("2012-12-31", 150, 6, "missed"),  # only A by the end of 2012
        ("2013-12-31", 350, 20, "pending"),  # the report day itself still counts
        ("2014-12-31", 500, 20, "pending"),
    ]
    assert class1["milestones"][1]["on_track"] is False
    checkpoints = huicheng["measures"]["hd_checkpoints"]
    assert (checkpoints["target"], checkpoints["built"]) == (20, 6)
    assert [(m["needed"], m["status"]) for m in checkpoints["milestones"][:2]] == [(6, "met"), (14, "pending")]
    class2 = huicheng["measures"]["class2"]
    assert (class2["target"], class2["built"], class2["milestones"][0]["status"]) == (7000, 5, "missed")

    huiyang = units["惠阳区"]["measures"]["class1"]
    assert (huiyang["built"], huiyang["milestones"][0]["status"]) == (3, "missed")
    assert units["惠东县"]["region_code"] is None and "counted as zero" in units["惠东县"]["note"]
    assert units["惠东县"]["measures"]["class1"]["built"] == 0

    totals = out["totals"]["measures"]
    assert (totals["class1"]["target"], totals["class1"]["built"], totals["class1"]["milestones"][0]["needed"]) == (
        3000, 23, 900,
    )  # fmt: skip
    assert (totals["class2"]["built"], totals["hd_checkpoints"]["built"]) == (5, 6)

    rates = {(r["unit"], r["metric"]): r for r in out["rates"]}
    hd1 = rates[("惠城区", "hd_share_of_new_class1")]  # A 6 + C 4 of 20 new class 1 points are HD
    assert (hd1["count"], hd1["of"], hd1["share"], hd1["min_share"], hd1["needed"], hd1["status"]) == (
        10, 20, 0.5, 0.4, 8, "pass",
    )  # fmt: skip
    hd2 = rates[("惠城区", "hd_share_of_new_class2")]
    assert (hd2["count"], hd2["of"], hd2["needed"], hd2["status"]) == (0, 5, 2, "fail")
    assert rates[("惠阳区", "hd_share_of_new_class2")]["status"] == "n/a"
    assert (rates[("total", "hd_share_of_new_class1")]["count"], rates[("total", "hd_share_of_new_class1")]["of"]) == (
        13, 23,
    )  # fmt: skip

    edu = next(s for s in out["sectors"] if s["lead"] == "市教育局")
    # 4 of 5 networked; 80 % of 5 is 4: passes by share (3200 points would be needed by count).
    assert (edu["points"], edu["integrated"], edu["needed_for_share"], edu["pass"], edu["passed_by"]) == (
        5, 4, 4, True, "share",
    )  # fmt: skip
    health = next(s for s in out["sectors"] if s["lead"] == "市卫生局")
    assert (health["points"], health["pass"]) == (0, False)


def test_the_worked_example_in_the_plan_progress_doc_is_what_the_cli_prints(regions: Path, tmp_path: Path) -> None:
    plan_registry(regions, tmp_path)
    table = ok("report", "plan", "--plan", HUIZHOU, "--at", "2013-12-31", "--config", str(regions))
    printed = [line.split() for line in table.splitlines()]
    doc = (Path(__file__).resolve().parents[2] / "docs" / "plan-progress.md").read_text(encoding="utf-8")
    excerpt = doc.split("### A worked example", 1)[1].split("```\n", 2)[1]
    for line in excerpt.splitlines():
        assert not line.strip() or line.split() in printed, f"the doc shows a line the CLI does not print: {line}"


def test_report_plan_table_and_workbook(regions: Path, tmp_path: Path) -> None:
    plan_registry(regions, tmp_path)
    c = ("--config", str(regions))
    table = ok("report", "plan", "--plan", HUIZHOU, "--at", "2013-12-31", *c)
    assert "plan huizhou-2012-2014 at 2013-12-31 (plan period 2012-01-01 .. 2014-12-31)" in table
    huicheng = next(line for line in table.splitlines() if line.startswith("惠城区") and "class 1" in line)
    assert huicheng.split()[:7] == ["惠城区", "441302", "class", "1", "500", "20", "4.0%"]

    workbook_path = tmp_path / "progress.xlsx"
    assert ok("report", "plan", "--plan", HUIZHOU, "--at", "2013-12-31", "--format", "xlsx", "-o",
              str(workbook_path), *c) == f"wrote {workbook_path}\n"  # fmt: skip
    workbook = load_workbook(workbook_path)
    assert workbook.sheetnames == ["Summary", "Built vs target", "Milestones", "Shares", "Industry integration"]
    built = [list(r) for r in workbook["Built vs target"].iter_rows(values_only=True)]
    assert built[0][:7] == ["unit", "region", "metric", "target", "built", "share", "to build"]
    assert ["惠城区", "441302", "class 1", 500, 20, 0.04, 480] in [r[:7] for r in built]

    json_path = tmp_path / "progress.json"
    ok("report", "plan", "--plan", HUIZHOU, "--at", "2013-12-31", "--format", "json", "-o", str(json_path), *c)
    assert json.loads(json_path.read_text(encoding="utf-8"))["totals"]["measures"]["class1"]["built"] == 23


def test_report_plan_refuses_what_it_cannot_do(cfg: Path) -> None:
    c = ("--config", str(cfg))
    out = refused("report", "plan", "--plan", "shenzhen-2030", *c)
    assert "unknown plan 'shenzhen-2030'" in out
    assert "known plans: huizhou-2012-2014, national-2020, ningxia-2014" in out
    assert "give the file with -o FILE" in refused("report", "plan", "--plan", HUIZHOU, "--format", "xlsx", *c)
    assert "unknown format 'pdf'" in refused("report", "plan", "--plan", HUIZHOU, "--format", "pdf", *c)
    assert "--at must be a date as YYYY-MM-DD" in refused("report", "plan", "--plan", HUIZHOU, "--at", "31/12/2013", *c)
