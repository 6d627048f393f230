"""Camera import: good files land field by field; every bad row is named by line and column; upsert is idempotent."""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from tianyan import config as config_module
from tianyan.app.platform import Platform
from tianyan.cli import registry as registry_cli
from tianyan.core.clock import FakeClock
from tianyan.core.errors import Forbidden, RowError
from tianyan.registry import importer, service, tabular
from tianyan.registry.importer import import_cameras
from tianyan.registry.models import Camera, Organisation
from tianyan.security.models import AuditEntry
from tianyan.security.scope import SYSTEM, Principal

NVR = "44130200001180000001"
Rows = Callable[..., dict[str, Any]]
Write = Callable[..., Path]


async def camera_count(session: AsyncSession) -> int:
    await session.commit()
    return (await session.execute(select(func.count()).select_from(Camera))).scalar_one()


async def updated_at(session: AsyncSession) -> dict[str, Any]:
    await session.commit()
    return dict((await session.execute(select(Camera.gb_id, Camera.updated_at))).tuples().all())


def pairs(errors: list[RowError]) -> list[tuple[int, str]]:
    return [(e.line, e.column) for e in errors]


# --- reading files ------------------------------------------------------------------------------


def test_csv_lines_count_physical_lines_and_skip_blank_rows() -> None:
    text = 'gb_id,address\n1,"two\nlines"\n\n,\n2,plain\n'
    rows = list(tabular.read_rows(io.BytesIO(text.encode()), "csv"))
    assert rows == [(1, ["gb_id", "address"]), (2, ["1", "two\nlines"]), (6, ["2", "plain"])]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_is_read_as_utf8_with_or_without_bom_else_gb18030(encoding: str) -> None:
    text = "国标编码,名称\r\n44130200001320000001,惠城区第一中学 东门\r\n"
    rows = list(tabular.read_rows(io.BytesIO(text.encode(encoding)), "csv"))
    assert rows == [(1, ["国标编码", "名称"]), (2, ["44130200001320000001", "惠城区第一中学 东门"])]


# --- good files ---------------------------------------------------------------------------------


async def test_good_csv_imports_every_row_with_its_values(
    registry: AsyncSession, make_row: Rows, write_file: Write
) -> None:
    rows = [
        make_row(
            1, owning_unit="惠州市第一中学", sector="S-EDU", kind="ptz", main_width=1920, main_height=1080,
            main_fps=25, sub_width=704, sub_height=576, sub_fps=12.5, latitude=23.1115, longitude=114.4152,
            address="惠城区 河南岸 1 号", install_date="2024-05-01", retention_days=30, sensitive="是",
            networked="否", labels="学校; 出入口", device=NVR,
        ),
        make_row(2, **{"class": 1, "network": "police"}),
        make_row(3, **{"class": 3, "network": "local"}),
    ]  # fmt: skip
    path = write_file(rows)
    report = await import_cameras(registry, principal=SYSTEM, path_or_stream=path)
    await registry.commit()

    assert (report.created, report.updated, report.unchanged, report.refused, report.errors) == (3, 0, 0, 0, [])
    first = await service.get_camera(registry, principal=SYSTEM, gb_id=rows[0]["gb_id"])
    assert first.name == "点位 1" and first.cls == 2 and first.network == "social" and first.region == "441302"
    assert (first.owning_unit, first.sector, first.kind, first.device) == ("惠州市第一中学", "S-EDU", "ptz", NVR)
    assert (first.main_width, first.main_height, first.main_fps) == (1920, 1080, 25.0)
    assert (first.sub_width, first.sub_height, first.sub_fps) == (704, 576, 12.5)
    assert (first.latitude, first.longitude, first.address) == (23.1115, 114.4152, "惠城区 河南岸 1 号")
    assert (first.install_date, first.retention_days, first.retention_overridden) == (date(2024, 5, 1), 30, True)
    assert (first.sensitive, first.networked, first.labels) == (True, False, ["学校", "出入口"])
    second = await service.get_camera(registry, principal=SYSTEM, gb_id=rows[1]["gb_id"])
    assert (second.cls, second.network, second.retention_days, second.networked) == (1, "police", 30, True)
    assert second.owning_unit is None and second.labels == []

    entry = (await registry.execute(select(AuditEntry).where(AuditEntry.action == "camera.import"))).scalar_one()
    assert entry.target == "cameras.csv" and entry.actor == "system" and entry.outcome == "ok"
    assert entry.detail["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert entry.detail["created"] == 3 and entry.detail["refused"] == 0 and entry.detail["partial"] is False


async def test_good_xlsx_with_chinese_headers_imports_typed_cells(registry: AsyncSession, write_file: Write) -> None:
    header = ["国标编码", "名称", "类别", "网络", "行政区划", "建设单位", "主码流宽度", "主码流高度", "主码流帧率",
              "安装日期", "涉密", "纬度", "经度"]  # fmt: skip
    cells = ["44130200001320000007", "东江大桥 北", 1, "police", "441302", "惠州市交警支队", 2560, 1440, 30,
             date(2023, 11, 2), True, 23.09, 114.41]  # fmt: skip
    path = write_file([dict(zip(header, cells, strict=True))], name="点位.xlsx", header=header)
    report = await import_cameras(registry, principal=SYSTEM, path_or_stream=path)
    await registry.commit()

    assert (report.created, report.errors) == (1, [])
    camera = await service.get_camera(registry, principal=SYSTEM, gb_id="44130200001320000007")
    assert (camera.name, camera.cls, camera.network) == ("东江大桥 北", 1, "police")
    assert camera.owning_unit == "惠州市交警支队"
    assert (camera.main_width, camera.main_height, camera.main_fps, camera.hd) == (2560, 1440, 30.0, True)
    assert (camera.install_date, camera.sensitive, camera.latitude, camera.longitude) == (
        date(2023, 11, 2), True, 23.09, 114.41,
    )  # fmt: skip


async def test_gb18030_csv_from_a_legacy_register_imports(registry: AsyncSession, write_file: Write) -> None:
    header = ["国标编码", "名称", "类别", "网络", "行政区划", "权属单位"]
    cells = ["44130200001320000008", "惠阳 淡水 路口", "2", "social", "441302", "淡水街道办"]
    path = write_file([dict(zip(header, cells, strict=True))], header=header, encoding="gb18030")
    report = await import_cameras(registry, principal=SYSTEM, path_or_stream=path)
    await registry.commit()
    assert report.errors == []
    camera = await service.get_camera(registry, principal=SYSTEM, gb_id="44130200001320000008")
    assert (camera.name, camera.owning_unit) == ("惠阳 淡水 路口", "淡水街道办")


# --- bad files ----------------------------------------------------------------------------------

# Each bad row after one good row (line 2): the cells it changes, the column blamed and part of the reason.
BAD_ROWS: list[tuple[dict[str, Any], str, str]] = [
    ({"gb_id": "4413020000132000001"}, "gb_id", "must have 20 digits"),
    ({"class": 4}, "class", "less than or equal to 3"),
    ({"network": "internet"}, "network", "'police', 'social' or 'local'"),
    ({"region": "441399"}, "region", "unknown region code '441399'"),
    ({"sector": "S-NONE"}, "sector", "unknown industry sector 'S-NONE'"),
    ({"device": "44130200001180000099"}, "device", "unknown device '44130200001180000099'"),
    ({"main_width": 1920}, "main_height", "main_width and main_height must be given together"),
    ({"latitude": 23.1}, "longitude", "latitude and longitude must be given together"),
    ({"class": 1, "network": "police", "retention_days": 7}, "retention_days", "legal minimum of 30 days"),
    ({"install_date": "2024-13-01"}, "install_date", "month value is outside expected range"),
    ({"sensitive": "maybe"}, "sensitive", "expected true/false"),
    ({"serial": 1}, "gb_id", "already on line 2"),
    ({"centre": "441303"}, "region", "region is outside your scope"),
]


async def test_every_bad_row_is_named_by_line_and_column_and_nothing_is_written(
    registry: AsyncSession, make_row: Rows, write_file: Write, huicheng_maintainer: Principal
) -> None:
    rows = [make_row(1, owning_unit="新建单位")]
    for serial, (cells, _, _) in enumerate(BAD_ROWS, start=2):
        changes = dict(cells)
        rows.append(make_row(changes.pop("serial", serial), centre=changes.pop("centre", "441302"), **changes))
    units_before = (await registry.execute(select(func.count()).select_from(Organisation))).scalar_one()

    report = await import_cameras(registry, principal=huicheng_maintainer, path_or_stream=write_file(rows))
    await registry.commit()

    assert pairs(report.errors) == [(line, column) for line, (_, column, _) in enumerate(BAD_ROWS, start=3)]
    for error, (_, _, reason) in zip(report.errors, BAD_ROWS, strict=True):
        assert reason in error.reason, error
    assert report.rejected and report.refused == len(BAD_ROWS)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 0)
    assert await camera_count(registry) == 0
    assert (await registry.execute(select(func.count()).select_from(Organisation))).scalar_one() == units_before
    entry = (await registry.execute(select(AuditEntry).where(AuditEntry.action == "camera.import"))).scalar_one()
    assert entry.outcome == "refused" and entry.actor == "zhang" and entry.detail["refused"] == len(BAD_ROWS)


async def test_a_camera_stored_outside_the_scope_cannot_be_taken_over(
    registry: AsyncSession, make_row: Rows, write_file: Write, huicheng_maintainer: Principal
) -> None:
    theirs = make_row(1, centre="441303")
    await import_cameras(registry, principal=SYSTEM, path_or_stream=write_file([theirs]))
    await registry.commit()
    # Same GB ID, but placed in the maintainer's own district.
    report = await import_cameras(
        registry, principal=huicheng_maintainer, path_or_stream=write_file([{**theirs, "region": "441302"}])
    )
    assert pairs(report.errors) == [(2, "gb_id")] and "exists outside your scope" in report.errors[0].reason
    camera = await service.get_camera(registry, principal=SYSTEM, gb_id=theirs["gb_id"])
    assert camera.region == "441303"


async def test_a_bad_row_after_batches_were_written_undoes_them(
    registry: AsyncSession, make_row: Rows, write_file: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "_BATCH_ROWS", 2)
    rows = [make_row(serial) for serial in range(1, 6)] + [make_row(6, **{"class": "一类"})]
    report = await import_cameras(registry, principal=SYSTEM, path_or_stream=write_file(rows))
    assert pairs(report.errors) == [(7, "class")] and report.rejected
    assert await camera_count(registry) == 0


async def test_unknown_header_refuses_the_whole_file_even_when_partial(
    registry: AsyncSession, make_row: Rows, write_file: Write
) -> None:
    rows = [{**make_row(1), "colour": "red"}]
    path = write_file(rows, header=["gb_id", "name", "class", "network", "region", "colour"])
    report = await import_cameras(registry, principal=SYSTEM, path_or_stream=path, partial=True)
    assert pairs(report.errors) == [(1, "colour")] and "unknown column 'colour'" in report.errors[0].reason
    assert report.rejected
    assert await camera_count(registry) == 0


async def test_missing_required_headers_are_named(registry: AsyncSession, make_row: Rows, write_file: Write) -> None:
    path = write_file([make_row(1)], header=["gb_id", "name", "class"])
    report = await import_cameras(registry, principal=SYSTEM, path_or_stream=path)
    assert [(e.line, e.reason) for e in report.errors] == [(1, "missing required column(s): network, region")]


async def test_partial_writes_the_good_rows_and_reports_the_bad(
    registry: AsyncSession, make_row: Rows, write_file: Write
) -> None:
    rows = [make_row(1), make_row(2, network="wifi"), make_row(3), make_row(4, device="44130200001180000099")]
    report = await import_cameras(registry, principal=SYSTEM, path_or_stream=write_file(rows), partial=True)
    await registry.commit()
    assert (report.created, report.refused, report.rejected) == (2, 2, False)
    assert pairs(report.errors) == [(3, "network"), (5, "device")]
    assert sorted(await updated_at(registry)) == [rows[0]["gb_id"], rows[2]["gb_id"]]


async def test_import_needs_camera_write(registry: AsyncSession, make_row: Rows, write_file: Write) -> None:
    analyst = Principal(user_id=5, username="li", role="analyst", all_regions=True)
    with pytest.raises(Forbidden):
        await import_cameras(registry, principal=analyst, path_or_stream=write_file([make_row(1)]))


# --- re-import ----------------------------------------------------------------------------------


async def test_reimport_changes_nothing_and_one_changed_cell_updates_one_camera(
    registry: AsyncSession, make_row: Rows, write_file: Write
) -> None:
    clock = FakeClock()
    rows = [make_row(1, owning_unit="惠州学院", labels="a;b", latitude=23.1, longitude=114.4), make_row(2), make_row(3)]
    await import_cameras(registry, principal=SYSTEM, path_or_stream=write_file(rows), clock=clock)
    await registry.commit()
    first = await updated_at(registry)

    clock.advance(3600)
    again = await import_cameras(registry, principal=SYSTEM, path_or_stream=write_file(rows), clock=clock)
    await registry.commit()
    assert (again.created, again.updated, again.unchanged, again.errors) == (0, 0, 3, [])
    assert await updated_at(registry) == first

    clock.advance(3600)
    rows[1]["name"] = "点位 2 (改名)"
    changed = await import_cameras(registry, principal=SYSTEM, path_or_stream=write_file(rows), clock=clock)
    await registry.commit()
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 2)
    after = await updated_at(registry)
    assert after[rows[1]["gb_id"]] == clock.now()
    assert {k: v for k, v in after.items() if k != rows[1]["gb_id"]} == {
        k: v for k, v in first.items() if k != rows[1]["gb_id"]
    }
    camera = await service.get_camera(registry, principal=SYSTEM, gb_id=rows[1]["gb_id"])
    assert camera.name == "点位 2 (改名)"


async def test_dry_run_counts_but_writes_nothing(registry: AsyncSession, make_row: Rows, write_file: Write) -> None:
    report = await import_cameras(
        registry, principal=SYSTEM, path_or_stream=write_file([make_row(1), make_row(2)]), dry_run=True
    )
    assert (report.created, report.errors) == (2, [])
    assert await camera_count(registry) == 0


# --- through the API ----------------------------------------------------------------------------


async def test_api_upload_imports_and_refuses_with_the_row_errors(
    admin_client: httpx.AsyncClient, registry: AsyncSession, make_row: Rows, write_file: Write
) -> None:
    good = write_file([make_row(1), make_row(2)]).read_bytes()
    response = await admin_client.post("/api/v1/cameras/import", files={"file": ("a.csv", good, "text/csv")})
    assert response.status_code == 200, response.text
    assert response.json() == {"created": 2, "updated": 0, "unchanged": 0, "refused": 0, "errors": []}

    bad = write_file([make_row(3), make_row(4, **{"class": 9})]).read_bytes()
    response = await admin_client.post("/api/v1/cameras/import", files={"file": ("b.csv", bad, "text/csv")})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["refused"] == 1 and [(e["line"], e["column"]) for e in body["errors"]] == [(3, "class")]
    assert await camera_count(registry) == 2

    response = await admin_client.post(
        "/api/v1/cameras/import", files={"file": ("b.csv", bad, "text/csv")}, data={"partial": "true"}
    )
    assert response.status_code == 200
    assert (response.json()["created"], response.json()["refused"]) == (1, 1)
    assert await camera_count(registry) == 3


# --- through the CLI (SQLite only) --------------------------------------------------------------


def test_cli_import_prints_the_summary_and_bad_rows(tmp_path: Path, make_row: Rows, write_file: Write) -> None:
    env = {"TIANYAN_SERVER__DATA_DIR": str(tmp_path / "data")}

    async def seed() -> None:
        platform = await Platform.open(config_module.load(None, environ=env))
        try:
            async with platform.sessions() as session:
                await service.add_region(session, code="441302", name="惠城区", level="county")
                await session.commit()
        finally:
            await platform.close()

    asyncio.run(seed())
    runner = CliRunner()
    bad = write_file([make_row(1), make_row(2, network="4G")], name="bad.csv")
    result = runner.invoke(registry_cli.app, ["import", str(bad)], env=env)
    assert result.exit_code == 1
    assert "line 3, column network: Input should be 'police', 'social' or 'local'" in result.output
    assert "created 0" in result.output and "refused 1" in result.output

    good = write_file([make_row(1), make_row(2)], name="good.csv")
    result = runner.invoke(registry_cli.app, ["import", str(good)], env=env)
    assert result.exit_code == 0, result.output
    assert "created 2, updated 0, unchanged 0, refused 0" in result.output

    exported = tmp_path / "out.xlsx"
    result = runner.invoke(registry_cli.app, ["export", "-o", str(exported)], env=env)
    assert result.exit_code == 0, result.output
    assert "exported 2 cameras" in result.output
    result = runner.invoke(registry_cli.app, ["import", str(exported)], env=env)
    assert result.exit_code == 0 and "created 0, updated 0, unchanged 2, refused 0" in result.output
