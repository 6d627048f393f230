"""Camera imports as jobs the console polls: every refused row comes back with its line, column, cell value and
reason; all or nothing unless partial, a dry run writes nothing; the template is an importable register."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from openpyxl import Workbook, load_workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.registry_fixtures import HUICHENG, HUIYANG, add_user, api_key, build_regions
from tianyan.api.app import create_app
from tianyan.app.platform import Platform
from tianyan.core import gbid
from tianyan.registry.import_jobs import ImportJobs
from tianyan.registry.importer import COLUMNS, REQUIRED, canonical_header
from tianyan.registry.models import Camera
from tianyan.security.models import AuditEntry

JOBS = "/api/v1/cameras/import-jobs"
HEADER = ["国标编码", "名称", "类别", "网络", "行政区划"]


def camera_id(serial: int, centre: str = HUICHENG) -> str:
    return gbid.build(centre=centre, type_code="132", serial=serial).value


# Three good rows (lines 2, 4, 6) and three bad ones: a GB ID with 19 digits, a region Tianyan does not have, and a
# GB ID already on line 2.
ROWS = [
    [camera_id(1), "江北路口", "1", "police", HUICHENG],
    ["4413020000132000000", "短编码", "1", "police", HUICHENG],
    [camera_id(2), "淡水桥头", "2", "social", HUIYANG],
    [camera_id(3), "未知区划", "2", "social", "441399"],
    [camera_id(4), "惠城中学", "2", "social", HUICHENG],
    [camera_id(1), "重复编码", "1", "police", HUICHENG],
]
GOOD_IDS = [camera_id(1), camera_id(2), camera_id(4)]


def csv_bytes(rows: list[list[str]], header: list[str] = HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


@dataclass
class Api:
    client: httpx.AsyncClient
    app: FastAPI
    admin: dict[str, str]
    operator: dict[str, str]
    maintainer: dict[str, str]

    async def start(self, content: bytes, name: str = "登记表.csv", headers: dict[str, str] | None = None,
                    **form: str) -> httpx.Response:  # fmt: skip
        files = {"file": (name, content, "application/octet-stream")}
        return await self.client.post(JOBS, files=files, data=form, headers=headers or self.admin)

    async def run(self, content: bytes, name: str = "登记表.csv", **form: str) -> dict[str, Any]:
        """Start a job, let it finish, and read it back as the console's poll does."""
        response = await self.start(content, name, **form)
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]
        jobs: ImportJobs = self.app.state.import_jobs
        await jobs.wait(job_id)
        polled = await self.client.get(f"{JOBS}/{job_id}", headers=self.admin)
        assert polled.status_code == 200, polled.text
        return polled.json()


@pytest.fixture
async def api(platform: Platform, session: AsyncSession) -> AsyncIterator[Api]:
    await build_regions(session)
    admin = await api_key(session, await add_user(session, "boss", "admin", all_regions=True))
    operator = await api_key(session, await add_user(session, "watch", "operator", all_regions=True))
    maintainer = await api_key(session, await add_user(session, "fixer", "maintainer", all_regions=True))
    await session.commit()
    app = create_app(platform)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        yield Api(client, app, admin, operator, maintainer)


async def stored_ids(session: AsyncSession) -> list[str]:
    await session.commit()
    return sorted((await session.execute(select(Camera.gb_id))).scalars())


def error_table(job: dict[str, Any]) -> list[tuple[int, str, str | None]]:
    return [(e["line"], e["column"], e["value"]) for e in job["result"]["errors"]]


async def test_bad_rows_are_listed_with_line_column_value_and_nothing_is_written(
    api: Api, session: AsyncSession
) -> None:
    job = await api.run(csv_bytes(ROWS))
    assert job["state"] == "done" and job["fraction"] == 1.0 and job["line"] == 7
    assert job["written"] is False and job["result"]["rejected"] is True
    assert error_table(job) == [
        (3, "国标编码", "4413020000132000000"),
        (5, "行政区划", "441399"),
        (7, "国标编码", camera_id(1)),
    ]
    reasons = [e["reason"] for e in job["result"]["errors"]]
    assert "20 digits" in reasons[0] and "441399" in reasons[1] and "line 2" in reasons[2]
    assert job["result"]["refused"] == 3 and job["result"]["created"] == 0
    assert await stored_ids(session) == []
    # The refused import is still on the record.
    entry = (await session.execute(select(AuditEntry).where(AuditEntry.action == "camera.import"))).scalar_one()
    assert (entry.actor, entry.outcome, entry.target) == ("boss", "refused", "登记表.csv")


async def test_partial_writes_the_good_rows_and_lists_the_bad(api: Api, session: AsyncSession) -> None:
    job = await api.run(csv_bytes(ROWS), partial="true")
    assert job["written"] is True and job["result"]["rejected"] is False
    assert (job["result"]["created"], job["result"]["refused"]) == (3, 3)
    assert [line for line, _, _ in error_table(job)] == [3, 5, 7]
    assert await stored_ids(session) == sorted(GOOD_IDS)


async def test_dry_run_counts_what_would_happen_and_writes_nothing(api: Api, session: AsyncSession) -> None:
    good = [row for row in ROWS if row[0] in GOOD_IDS][:3]
    job = await api.run(csv_bytes(good), dry_run="true")
    assert job["dry_run"] is True and job["written"] is False
    assert (job["result"]["created"], job["result"]["refused"], job["result"]["errors"]) == (3, 0, [])
    assert await stored_ids(session) == []
    # Then for real: the same counts, and the cameras are there.
    job = await api.run(csv_bytes(good))
    assert job["written"] is True and job["result"]["created"] == 3
    assert await stored_ids(session) == sorted(GOOD_IDS)


async def test_xlsx_errors_quote_the_cell_as_the_sheet_holds_it(api: Api, session: AsyncSession) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["gb_id", "name", "class", "network", "region", "latitude", "longitude"])
    sheet.append([camera_id(1), "好", 1, "police", HUICHENG, 23.1, 114.4])
    sheet.append([camera_id(2), "坏的纬度", 1, "police", HUICHENG, 123.5, 114.4])
    out = io.BytesIO()
    workbook.save(out)
    job = await api.run(out.getvalue(), name="cameras.xlsx")
    assert error_table(job) == [(3, "latitude", "123.5")]
    assert await stored_ids(session) == []


async def test_a_file_that_cannot_be_read_fails_the_job_with_the_reason(api: Api) -> None:
    job = await api.run(csv_bytes(ROWS[:1]) + b'"unterminated,x\n', name="broken.csv")
    assert job["state"] == "failed" and job["error_status"] == 422 and "not valid CSV" in job["error"]
    assert job["result"] is None and job["written"] is False


async def test_unsupported_files_and_roles_are_refused_before_any_job(api: Api) -> None:
    response = await api.start(b"\xd0\xcf\x11\xe0", name="old.xls")
    assert response.status_code == 422 and ".xlsx" in response.json()["detail"]
    response = await api.start(csv_bytes(ROWS[:1]), headers=api.operator)
    assert response.status_code == 403 and "camera.write" in response.json()["detail"]


async def test_a_job_is_visible_to_its_owner_only(api: Api) -> None:
    job = await api.run(csv_bytes(ROWS[:1]))
    assert (await api.client.get(f"{JOBS}/{job['id']}", headers=api.maintainer)).status_code == 404
    assert (await api.client.get(f"{JOBS}/no-such-job", headers=api.admin)).status_code == 404


@pytest.mark.parametrize("file_format", ["xlsx", "csv"])
async def test_the_template_names_every_column_and_imports_once_filled(
    api: Api, session: AsyncSession, file_format: str
) -> None:
    response = await api.client.get(
        "/api/v1/cameras/import-template", params={"format": file_format}, headers=api.admin
    )
    assert response.status_code == 200, response.text
    assert "attachment" in response.headers["content-disposition"]
    if file_format == "xlsx":
        workbook = load_workbook(io.BytesIO(response.content))
        header = [cell.value for cell in workbook.worksheets[0][1]]
        assert workbook.sheetnames[1] == "填写说明"
    else:
        header = next(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [canonical_header(text) for text in header] == list(COLUMNS)
    required = [canonical_header(text) for text in header if text.endswith("*")]
    assert required == list(REQUIRED)

    filled = dict.fromkeys(header, "")
    filled.update({"国标编码*": camera_id(9), "点位名称*": "模板填写", "点位类别*": "2", "所属网络*": "social",
                   "行政区划代码*": HUICHENG, "涉密": "否"})  # fmt: skip
    job = await api.run(csv_bytes([list(filled.values())], header=list(filled)))
    assert job["result"]["created"] == 1, job
    assert await stored_ids(session) == [camera_id(9)]


async def test_the_template_needs_camera_write(api: Api) -> None:
    response = await api.client.get("/api/v1/cameras/import-template", headers=api.operator)
    assert response.status_code == 403
