"""Fixtures for camera import/export: a small seeded registry, valid rows that fit it, and file writers."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import Workbook
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core import gbid
from tianyan.registry import service
from tianyan.registry.importer import COLUMNS
from tianyan.registry.models import Device
from tianyan.security import accounts
from tianyan.security.scope import Principal

# The codes the seeded registry holds (tests name them literally: 惠城区 441302, 惠阳区 441303).
HUICHENG = "441302"
HUIYANG = "441303"
SECTOR = "S-EDU"
NVR = "44130200001180000001"
ADMIN_PASSWORD = "Tianyan-Test-2026!"

Row = dict[str, Any]


def _gb_id(serial: int, centre: str) -> str:
    return gbid.build(centre=centre, type_code="132", serial=serial).value


@pytest.fixture
async def registry(session: AsyncSession) -> AsyncSession:
    """Regions 广东 > 惠州 > 惠城区/惠阳区, the education sector S-EDU and one NVR, committed."""
    await service.add_region(session, code="440000", name="广东省", level="province")
    await service.add_region(session, code="441300", name="惠州市", level="city", parent_code="440000")
    await service.add_region(session, code=HUICHENG, name="惠城区", level="county", parent_code="441300")
    await service.add_region(session, code=HUIYANG, name="惠阳区", level="county", parent_code="441300")
    await service.add_organisation(session, kind="sector", code=SECTOR, name="教育", region_code="441300")
    region = await service.region_by_code(session, HUICHENG)
    session.add(Device(gb_id=NVR, name="惠城 NVR 1", type_code="118", region_id=region.id))
    await session.commit()
    return session


@pytest.fixture
def make_row() -> Callable[..., Row]:
    """make_row(serial, centre="441302", **cells): a valid class-2 social camera row; cells replace columns."""

    def make(serial: int, centre: str = HUICHENG, **cells: Any) -> Row:
        row: Row = {
            "gb_id": _gb_id(serial, centre),
            "name": f"点位 {serial}",
            "class": 2,
            "network": "social",
            "region": centre,
        }
        row.update(cells)
        return row

    return make


@pytest.fixture
def huicheng_maintainer() -> Principal:
    """A maintainer whose scope is 惠城区 (441302) only."""
    return Principal(
        user_id=99,
        username="zhang",
        role="maintainer",
        region_paths=("/440000/441300/441302/",),
        networks=frozenset({"police", "social", "local"}),
        classes=frozenset({1, 2, 3}),
    )


def _table(rows: Sequence[Row], header: Sequence[str] | None) -> tuple[list[str], list[list[Any]]]:
    columns = list(header) if header is not None else [c for c in COLUMNS if any(c in row for row in rows)]
    return columns, [[row.get(column, "") for column in columns] for row in rows]


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[..., Path]:
    """write_file(rows, name="cameras.csv", header=None, encoding="utf-8") -> path; .xlsx keeps cell types.

    `header` lists the columns as written (aliases allowed); each names the row key it takes its cell from,
    so write_file(rows, header=["国标编码", ...]) needs rows keyed that way too.
    """

    def write(
        rows: Sequence[Row], name: str = "cameras.csv", header: Sequence[str] | None = None, encoding: str = "utf-8"
    ) -> Path:
        path = tmp_path / name
        columns, body = _table(rows, header)
        if path.suffix == ".xlsx":
            workbook = Workbook()
            sheet = workbook.active
            assert sheet is not None
            sheet.append(columns)
            for cells in body:
                sheet.append([None if cell == "" else cell for cell in cells])
            workbook.save(path)
        else:
            with path.open("w", encoding=encoding, newline="") as out:
                writer = csv.writer(out)
                writer.writerow(columns)
                writer.writerows(body)
        return path

    return write


@pytest.fixture
async def admin_client(client: httpx.AsyncClient, registry: AsyncSession) -> httpx.AsyncClient:
    """The API client, logged in as an administrator whose scope is everything."""
    await accounts.create_user(
        registry, username="boss", password=ADMIN_PASSWORD, role="admin", scope=accounts.ScopeSpec.everything(),
        actor="test",
    )  # fmt: skip
    await registry.commit()
    response = await client.post("/api/v1/auth/login", json={"username": "boss", "password": ADMIN_PASSWORD})
    assert response.status_code == 200, response.text
    return client
