"""Camera export: the import's own columns, only the principal's cameras, and a round trip that changes nothing."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core.errors import Forbidden
from tianyan.registry import tabular
from tianyan.registry.exporter import export_cameras
from tianyan.registry.importer import COLUMNS, import_cameras
from tianyan.security.scope import SYSTEM, Principal

NVR = "44130200001180000001"
Rows = Callable[..., dict[str, Any]]
Write = Callable[..., Path]


def read_back(data: bytes, file_format: tabular.FileFormat) -> list[list[str]]:
    return [cells for _, cells in tabular.read_rows(io.BytesIO(data), file_format)]


async def export_bytes(session: AsyncSession, principal: Principal, file_format: tabular.FileFormat) -> bytes:
    out = io.BytesIO()
    await export_cameras(session, principal=principal, out=out, file_format=file_format)
    await session.commit()
    return out.getvalue()


@pytest.fixture
async def varied(registry: AsyncSession, make_row: Rows, write_file: Write) -> list[dict[str, Any]]:
    """Four cameras using every column, blanks included, imported into the registry."""
    rows = [
        make_row(
            1, owning_unit="惠州市第一中学", sector="S-EDU", kind="ptz", main_width=1920, main_height=1080,
            main_fps=25, sub_width=704, sub_height=576, sub_fps=12.5, latitude=23.111523, longitude=114.415207,
            address='河南岸 "1" 号, 东门', install_date="2024-05-01", retention_days=30, sensitive="true",
            networked="false", labels="学校;出入口", device=NVR,
        ),
        make_row(2, **{"class": 1, "network": "police"}, retention_days=90, main_fps=29.97),
        make_row(3, **{"class": 3, "network": "local"}, address="多行\n地址"),
        make_row(4, centre="441303", owning_unit="惠阳区 淡水街道办"),
    ]  # fmt: skip
    report = await import_cameras(registry, principal=SYSTEM, path_or_stream=write_file(rows))
    await registry.commit()
    assert report.errors == [] and report.created == 4
    return rows


@pytest.mark.parametrize("file_format", tabular.FORMATS)
async def test_export_then_import_changes_nothing(
    registry: AsyncSession, varied: list[dict[str, Any]], tmp_path: Path, file_format: tabular.FileFormat
) -> None:
    data = await export_bytes(registry, SYSTEM, file_format)
    table = read_back(data, file_format)
    assert table[0] == list(COLUMNS)
    assert [cells[0] for cells in table[1:]] == sorted(row["gb_id"] for row in varied)
    first = dict(zip(COLUMNS, table[1], strict=False))
    assert (first["owning_unit"], first["sector"], first["device"], first["labels"]) == (
        "惠州市第一中学", "S-EDU", NVR, "学校;出入口",
    )  # fmt: skip
    assert (first["install_date"], first["latitude"], first["sensitive"]) == ("2024-05-01", "23.111523", "true")
    # The stored override, not the class default, so a blank stays blank.
    third = dict(zip(COLUMNS, table[3], strict=False))
    assert third["retention_days"] == "" and third["address"] == "多行\n地址"

    path = tmp_path / f"export.{file_format}"
    path.write_bytes(data)
    report = await import_cameras(registry, principal=SYSTEM, path_or_stream=path)
    assert (report.created, report.updated, report.unchanged, report.errors) == (0, 0, 4, [])


@pytest.mark.parametrize("file_format", tabular.FORMATS)
async def test_names_that_look_like_formulas_export_as_text_and_import_back(
    registry: AsyncSession, make_row: Rows, write_file: Write, tmp_path: Path, file_format: tabular.FileFormat
) -> None:
    """A device may name its channel anything; a spreadsheet program opening the export must show it, not run it."""
    name, address, labels = '=HYPERLINK("http://example.invalid","点我")', "+86 东门", "@sum;-1"
    report = await import_cameras(
        registry, principal=SYSTEM, path_or_stream=write_file([make_row(1, name=name, address=address, labels=labels)])
    )
    await registry.commit()
    assert report.errors == [] and report.created == 1
    data = await export_bytes(registry, SYSTEM, file_format)
    if file_format == "csv":
        raw = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
        first = dict(zip(raw[0], raw[1], strict=True))
        assert (first["name"], first["address"], first["labels"]) == ("'" + name, "'" + address, "'" + labels)
    else:
        sheet = load_workbook(io.BytesIO(data)).active
        assert sheet is not None
        assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
        assert name in [cell.value for cell in sheet[2]]
    first = dict(zip(COLUMNS, read_back(data, file_format)[1], strict=False))
    assert (first["name"], first["address"], first["labels"]) == (name, address, labels)
    path = tmp_path / f"export.{file_format}"
    path.write_bytes(data)
    report = await import_cameras(registry, principal=SYSTEM, path_or_stream=path)
    assert (report.unchanged, report.errors) == (1, [])


async def test_export_holds_only_the_principals_cameras(
    registry: AsyncSession, varied: list[dict[str, Any]], huicheng_maintainer: Principal
) -> None:
    table = read_back(await export_bytes(registry, huicheng_maintainer, "csv"), "csv")
    # Camera 4 lies in 惠阳区; camera 1 is sensitive and the maintainer holds no grant for it.
    assert [cells[0] for cells in table[1:]] == [varied[1]["gb_id"], varied[2]["gb_id"]]


async def test_export_needs_camera_export(registry: AsyncSession) -> None:
    operator = Principal(user_id=7, username="wang", role="operator", all_regions=True)
    with pytest.raises(Forbidden):
        await export_bytes(registry, operator, "csv")


async def test_api_export_downloads_csv_and_xlsx(admin_client: httpx.AsyncClient, varied: list[dict[str, Any]]) -> None:
    response = await admin_client.get("/api/v1/cameras/export")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith('attachment; filename="cameras-')
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    assert rows[0] == list(COLUMNS) and len(rows) == 1 + len(varied)

    response = await admin_client.get("/api/v1/cameras/export", params={"format": "xlsx"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == list(COLUMNS) and len(values) == 1 + len(varied)

    response = await admin_client.get("/api/v1/cameras/export", params={"format": "pdf"})
    assert response.status_code == 422
