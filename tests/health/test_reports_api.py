"""GET /api/v1/kpi and /api/v1/kpi/monthly as a client meets them: JSON figures within the caller's scope, files
that download, are what they say and are audited, permission and bad input refused as problem details."""

from __future__ import annotations

import io
from datetime import timedelta

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.health.kpi_fixtures import END
from tests.health.report_world import CITY_ONLINE, HUICHENG_ONLINE, HUIYANG_ONLINE, MTTR_H, Month, build_month
from tests.health.test_reports_render import line_with, pdf_text
from tests.registry_fixtures import add_user, api_key
from tianyan.core.clock import FakeClock
from tianyan.registry.models import Camera
from tianyan.security.models import AuditEntry

API = "/api/v1"
JANUARY = {"from": "2026-01-01", "to": "2026-01-31"}


@pytest.fixture
async def month(session: AsyncSession, clock: FakeClock) -> Month:
    clock.advance((END + timedelta(hours=2) - clock.now()).total_seconds())  # early on 1 February, local time
    return await build_month(session)


async def headers_for(session: AsyncSession, name: str, role: str, **scope: object) -> dict[str, str]:
    user = await add_user(session, name, role, **scope)  # type: ignore[arg-type]
    headers = await api_key(session, user)
    await session.commit()
    return headers


def assert_problem(response: httpx.Response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert words in response.text


async def test_city_figures_breakdown_and_orders(client: httpx.AsyncClient, session: AsyncSession,
                                                 month: Month) -> None:  # fmt: skip
    boss = await headers_for(session, "boss", "admin", all_regions=True)
    response = await client.get(f"{API}/kpi", params={**JANUARY, "breakdown": ["district", "sector"], "trend": True},
                                headers=boss)  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["figures"]["cameras"] == 3 and body["figures"]["online_rate"] == round(CITY_ONLINE, 4)
    assert body["period"]["label"] == "2026-01-01 – 2026-01-31 Asia/Shanghai"
    assert body["plan"]["id"] == "huizhou-2012-2014" and body["verdicts"]
    districts = {g["label"]: g["figures"]["online_rate"] for g in body["breakdowns"]["district"]}
    assert districts == {"惠城区": round(HUICHENG_ONLINE, 4), "惠阳区": round(HUIYANG_ONLINE, 4)}
    assert len(body["trend"]) == 31 and body["trend"][1]["figures"]["online_now"] == 2  # c1 offline on the 2nd
    total = body["work_orders"]["total"]
    assert (total["opened"], total["closed"], total["open_now"]) == (3, 2, 2)
    assert total["mttr_s"] == pytest.approx(MTTR_H * 3600, abs=0.1)

    one = await client.get(f"{API}/kpi", params={**JANUARY, "camera": month.gb_ids["c2"], "worst": 1}, headers=boss)
    c2 = one.json()
    assert c2["figures"]["online_rate"] == round(15 / 31, 4) and c2["worst"][0]["name"] == "第一中学门口"
    assert c2["scope"]["label"] == f"camera {month.gb_ids['c2']} 第一中学门口"
    assert c2["breakdowns"] == {} and c2["trend"] == []


async def test_a_scoped_user_sees_only_its_cameras(client: httpx.AsyncClient, session: AsyncSession,
                                                   month: Month) -> None:  # fmt: skip
    huiyang = await headers_for(session, "hy.maint", "maintainer", regions=["441303"])
    body = (await client.get(f"{API}/kpi", params={**JANUARY, "breakdown": "district"}, headers=huiyang)).json()
    assert body["figures"]["cameras"] == 2 and body["figures"]["online_rate"] == round(HUIYANG_ONLINE, 4)
    assert [g["label"] for g in body["breakdowns"]["district"]] == ["惠阳区"]
    assert body["scope"]["seen_by"] == "hy.maint"
    assert body["work_orders"]["total"]["opened"] == 2
    assert {row["unit"] for row in body["work_orders"]["by_unit_and_fault"]} == {"惠阳区电信分公司"}
    # a camera of 惠城区 is as unknown to it as one that does not exist
    outside = await client.get(f"{API}/kpi", params={"camera": month.gb_ids["c1"]}, headers=huiyang)
    assert_problem(outside, 404, "in your scope")
    monthly = await client.get(f"{API}/kpi/monthly", params={"month": "2026-01", "format": "json"}, headers=huiyang)
    assert monthly.json()["figures"]["cameras"] == 2


async def test_a_dashboard_may_take_an_answer_computed_a_moment_ago(client: httpx.AsyncClient, session: AsyncSession,
                                                                    month: Month) -> None:  # fmt: skip
    """max_age: the same question asked again within it gets the answer already computed; 0 always computes."""
    boss = await headers_for(session, "boss", "admin", all_regions=True)
    huiyang = await headers_for(session, "hy.maint", "maintainer", regions=["441303"])

    async def names(headers: dict[str, str], max_age: int) -> set[str]:
        response = await client.get(f"{API}/kpi", params={**JANUARY, "max_age": max_age}, headers=headers)
        assert response.status_code == 200, response.text
        return {row["name"] for row in response.json()["worst"]}

    before = await names(boss, 60)
    assert "第一中学门口" in before
    await session.execute(update(Camera).where(Camera.gb_id == month.gb_ids["c2"]).values(name="第一中学东门"))
    await session.commit()
    assert await names(boss, 60) == before, "asked again within a minute: the answer already computed"
    after = await names(boss, 0)
    assert "第一中学东门" in after and "第一中学门口" not in after
    assert await names(boss, 60) == after, "the fresh answer is the one kept"
    assert len(await names(huiyang, 60)) == 2, "another user's scope is another question"
    too_old = await client.get(f"{API}/kpi", params={"max_age": 3601}, headers=boss)
    assert_problem(too_old, 422, "max_age")


async def test_without_plan_read_it_is_forbidden(client: httpx.AsyncClient, session: AsyncSession,
                                                 month: Month) -> None:  # fmt: skip
    operator = await headers_for(session, "op", "operator", all_regions=True)
    assert_problem(await client.get(f"{API}/kpi", headers=operator), 403, "plan.read")
    assert_problem(await client.get(f"{API}/kpi/monthly", params={"month": "2026-01"}, headers=operator), 403,
                   "plan.read")  # fmt: skip
    assert (await client.get(f"{API}/kpi")).status_code == 401


BAD_REQUESTS = (
    ({"from": "last week"}, 422, "from must be a day"),
    ({"from": "2026-01-10", "to": "2026-01-01"}, 422, "must end after it starts"),
    ({"breakdown": "colour"}, 422, "unknown breakdown 'colour'"),
    ({"sector": "S-NONE"}, 404, "no industry sector"),
    ({"region": "449999"}, 404, "no region with code"),
    ({"format": "docx"}, 422, "format"),
    ({"class": 4}, 422, "class"),
)


async def test_bad_requests_are_problems(client: httpx.AsyncClient, session: AsyncSession, month: Month) -> None:
    boss = await headers_for(session, "boss", "admin", all_regions=True)
    for params, status, words in BAD_REQUESTS:
        assert_problem(await client.get(f"{API}/kpi", params=params, headers=boss), status, words)
    assert_problem(await client.get(f"{API}/kpi/monthly", params={"month": "2026-13"}, headers=boss), 422, "month")
    assert_problem(await client.get(f"{API}/kpi/monthly", params={"month": "2027-01"}, headers=boss), 422,
                   "has not come yet")  # fmt: skip


async def test_monthly_workbook_and_pdf_download_and_are_audited(client: httpx.AsyncClient, session: AsyncSession,
                                                                 month: Month) -> None:  # fmt: skip
    boss = await headers_for(session, "boss", "admin", all_regions=True)
    workbook = await client.get(f"{API}/kpi/monthly", params={"month": "2026-01", "format": "xlsx"}, headers=boss)
    assert workbook.status_code == 200, workbook.text
    assert workbook.headers["content-disposition"] == 'attachment; filename="monthly-2026-01.xlsx"'
    book = load_workbook(io.BytesIO(workbook.content))
    rows = {row[0]: row for row in book["按辖区 · By district"].iter_rows(values_only=True)}
    assert rows["惠阳区"][1:3] == (2, pytest.approx(HUIYANG_ONLINE))
    assert rows["惠城区"][1:3] == (1, pytest.approx(HUICHENG_ONLINE))
    assert "教育" in {row[0] for row in book["按行业 · By sector"].iter_rows(values_only=True)}

    printed = await client.get(f"{API}/kpi/monthly", params={"month": "2026-01", "region": "441303"}, headers=boss)
    assert printed.status_code == 200 and printed.headers["content-type"] == "application/pdf"
    assert printed.headers["content-disposition"] == 'attachment; filename="monthly-2026-01-441303.pdf"'
    text = pdf_text(printed.content)
    assert "视频监控系统运行月报 2026年1月" in text and "惠阳区 (441303) (2 cameras)" in text
    line_with(text, "淡水派出所", "1", "100.0%")
    line_with(text, "惠阳区电信分公司", "M-HY", "picture", "1", "1", "0", "240.0")

    entries = (await session.execute(select(AuditEntry).where(AuditEntry.action == "report.export"))).scalars()
    found = [(e.actor, e.detail["report"], e.detail["format"], e.detail["scope"]) for e in entries]
    assert found == [("boss", "monthly", "xlsx", "all cameras in scope"), ("boss", "monthly", "pdf", "惠阳区 (441303)")]
    json_view = await client.get(f"{API}/kpi", params=JANUARY, headers=boss)
    assert json_view.status_code == 200
    count = (await session.execute(select(AuditEntry).where(AuditEntry.action == "report.export"))).scalars().all()
    assert len(count) == 2  # viewing figures is not a download


async def test_kpi_file_is_named_by_its_days(client: httpx.AsyncClient, session: AsyncSession, month: Month) -> None:
    boss = await headers_for(session, "boss", "admin", all_regions=True)
    response = await client.get(f"{API}/kpi", params={**JANUARY, "format": "xlsx", "region": "441302"}, headers=boss)
    assert response.headers["content-disposition"] == 'attachment; filename="kpi-20260101-20260131.xlsx"'
    book = load_workbook(io.BytesIO(response.content))
    # a file gets the district and sector breakdowns and the trend unless told otherwise; JSON does not
    assert {"按辖区 · By district", "按行业 · By sector", "每日趋势 · Daily trend"} <= set(book.sheetnames)
    stations = [row[0] for row in book["按辖区 · By district"].iter_rows(values_only=True)]
    assert stations == ["group", "江北派出所", "合计 total"]  # one district: broken down by its stations
    summary: dict[object, object] = {}
    for row in book["概要 Summary"].iter_rows(values_only=True):
        summary.setdefault(row[0], row[1])  # the figures come before the verdicts, which name KPIs too
    assert summary["范围 scope"] == "惠城区 (441302) (1 camera)"
    assert summary["在线率 online rate"] == pytest.approx(HUICHENG_ONLINE)
