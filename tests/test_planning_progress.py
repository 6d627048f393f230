"""Plan progress on a hand-made registry whose answers were worked out by hand (SQLite and PostgreSQL).

The registry (counts per group; every camera is networked unless said otherwise):

  惠城区 441302   A   6 class 1 HD checkpoints (1080p25)       2012-03-01
                  B  54 class 1 HD (720p25)                    2012-06-01
                  C  38 class 1 SD                             2012-06-01
                  E   2 class 1 checkpoints, 1080p at 20 fps   2012-05-01  (not HD)
    station 44130201  D  50 class 1 SD                         2012-09-01  (counts for 惠城区: its subtree)
                  F 100 class 1 SD                             2013-05-01
                  G   4 class 1 HD checkpoints                 2013-07-01
                  H  10 class 1 SD, sector 市教育局             no date     (never new; class 1, so no sector point)
                  I   5 class 1 SD                             2011-12-31  (before the period)
                  J   5 class 1 SD                             2015-01-01  (after the period)
                  K  30 class 2 SD, sector 市教育局, 24 networked 2012-02-01
                  Q  20 class 3                                2012-06-01  (never counted)
  惠阳区 441303   O  12 class 1 HD                             2012-08-08
                  R  10 class 2 SD, sector 市卫生局, 8 networked 2013-02-02
  博罗县 441322   S 150 class 2 SD, sector 市档案局, offline     no date
  惠东县          not registered as a region
  龙门县 441324   L 300 class 2 (90 HD), sector 市档案局, 200 networked  2012-11-11
                  M 400 class 2 SD, sector 市档案局, 120 networked        2013-03-03
  大亚湾区 441371 (locally assigned, matched by name)  N  20 class 1 SD  2014-02-02
  仲恺区 441372   (locally assigned) nothing
  惠州市 441300 itself  P  3 class 1 SD                        2012-04-04  (outside every unit)
  肇庆市 441200 > station 44120001 also named 大亚湾区:
                  X   7 class 1 SD 2012-01-05 and Y 5 class 2 sector 市教育局 2012-01-05  (not Huizhou's)
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core.errors import Forbidden
from tianyan.planning import catalogue, report
from tianyan.planning.progress import PlanProgress, plan_progress
from tianyan.registry import service
from tianyan.registry.models import Camera
from tianyan.security.scope import SYSTEM, Principal

HD = (1920, 1080, 25.0)
HD720 = (1280, 720, 25.0)
SD = (704, 576, 25.0)
SLOW_HD = (1920, 1080, 20.0)
NETWORK = {1: "police", 2: "social", 3: "local"}
HUIZHOU = "huizhou-2012-2014"


class Cameras:
    """Rows for one bulk insert, with unique GB IDs."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(
        self, n: int, region: str, cls: int, installed: str | None, *, stream: tuple[int, int, float] = SD,
        kind: str = "fixed", sector: str | None = None, networked: int | None = None,
    ) -> None:  # fmt: skip
        """`networked`: how many of the n are networked (default all)."""
        for i in range(n):
            width, height, fps = stream
            self.rows.append({
                "gb_id": f"{len(self.rows) + 1:020d}", "name": f"点位 {len(self.rows) + 1}", "cls": cls,
                "network": NETWORK[cls], "region": region, "sector": sector, "kind": kind, "main_width": width,
                "main_height": height, "main_fps": fps,
                "install_date": date.fromisoformat(installed) if installed else None,
                "networked": networked is None or i < networked, "sensitive": False, "labels": [],
            })  # fmt: skip


async def build_registry(session: AsyncSession) -> None:
    add_region, add_sector = service.add_region, service.add_organisation
    await add_region(session, code="440000", name="广东省", level="province")
    await add_region(session, code="441300", name="惠州市", level="city", parent_code="440000")
    for code, name in (("441302", "惠城区"), ("441303", "惠阳区"), ("441322", "博罗县"), ("441324", "龙门县")):
        await add_region(session, code=code, name=name, level="county", parent_code="441300")
    for code, name in (("441371", "大亚湾区"), ("441372", "仲恺区")):
        await add_region(session, code=code, name=name, level="county", parent_code="441300", locally_assigned=True)
    await add_region(session, code="44130201", name="河南岸派出所", level="station", parent_code="441302")
    await add_region(session, code="441200", name="肇庆市", level="city", parent_code="440000")
    await add_region(session, code="44120001", name="大亚湾区", level="station", parent_code="441200")
    sectors = {"EDU": "市教育局", "HEALTH": "市卫生局", "ARCHIVE": "市档案局"}
    for code, name in sectors.items():
        await add_sector(session, kind="sector", code=code, name=name, region_code="441300")
    ids = {r.code: r.id for r in await service.list_regions(session)}
    orgs = {o.code: o.id for o in await service.list_organisations(session, kind="sector")}

    c = Cameras()
    c.add(6, "441302", 1, "2012-03-01", stream=HD, kind="checkpoint")  # A
    c.add(54, "441302", 1, "2012-06-01", stream=HD720)  # B
    c.add(38, "441302", 1, "2012-06-01")  # C
    c.add(2, "441302", 1, "2012-05-01", stream=SLOW_HD, kind="checkpoint")  # E
    c.add(50, "44130201", 1, "2012-09-01")  # D
    c.add(100, "441302", 1, "2013-05-01")  # F
    c.add(4, "441302", 1, "2013-07-01", stream=HD, kind="checkpoint")  # G
    c.add(10, "441302", 1, None, sector="EDU")  # H
    c.add(5, "441302", 1, "2011-12-31")  # I
    c.add(5, "441302", 1, "2015-01-01")  # J
    c.add(30, "441302", 2, "2012-02-01", sector="EDU", networked=24)  # K
    c.add(20, "441302", 3, "2012-06-01")  # Q
    c.add(12, "441303", 1, "2012-08-08", stream=HD720)  # O
    c.add(10, "441303", 2, "2013-02-02", sector="HEALTH", networked=8)  # R
    c.add(150, "441322", 2, None, sector="ARCHIVE", networked=0)  # S
    c.add(90, "441324", 2, "2012-11-11", stream=HD720, sector="ARCHIVE")  # L, HD part: all networked
    c.add(210, "441324", 2, "2012-11-11", sector="ARCHIVE", networked=110)  # L, SD part
    c.add(400, "441324", 2, "2013-03-03", sector="ARCHIVE", networked=120)  # M
    c.add(20, "441371", 1, "2014-02-02")  # N
    c.add(3, "441300", 1, "2012-04-04")  # P
    c.add(7, "44120001", 1, "2012-01-05")  # X
    c.add(5, "44120001", 2, "2012-01-05", sector="EDU")  # Y
    rows = [
        {**{k: v for k, v in row.items() if k not in ("region", "sector")}, "region_id": ids[row["region"]],
         "sector_id": orgs[row["sector"]] if row["sector"] else None}
        for row in c.rows
    ]  # fmt: skip
    await session.execute(insert(Camera), rows)
    await session.commit()


HUIYANG_ANALYST = Principal(
    user_id=7, username="li", role="analyst", region_paths=("/440000/441300/441303/",),
    networks=frozenset({"police", "social", "local"}), classes=frozenset({1, 2, 3}),
)  # fmt: skip


@pytest.fixture
async def registry(session: AsyncSession) -> AsyncSession:
    await build_registry(session)
    return session


async def progress_at(session: AsyncSession, day: str, plan: str = HUIZHOU, principal: Principal = SYSTEM):
    return await plan_progress(session, plan=catalogue.load_plan(plan), at=date.fromisoformat(day), principal=principal)


def unit(p: PlanProgress, name: str):  # type: ignore[no-untyped-def]
    return p.totals if name == "total" else next(u for u in p.units if u.unit == name)


def built(p: PlanProgress, name: str, metric: str) -> int:
    return unit(p, name).measure(metric).built


def statuses(p: PlanProgress, name: str, metric: str) -> list[str]:
    return [m.status for m in unit(p, name).measure(metric).milestones]


def rate(p: PlanProgress, name: str, cls: int):  # type: ignore[no-untyped-def]
    return next(r for r in p.rates if r.unit == name and r.metric == f"hd_share_of_new_class{cls}")


def sector(p: PlanProgress, lead: str):  # type: ignore[no-untyped-def]
    return next(s for s in p.sectors if s.lead == lead).verdict


# --- Huizhou: built vs target and milestones ---------------------------------------------------------


async def test_before_the_first_milestone_everything_is_pending(registry: AsyncSession) -> None:
    p = await progress_at(registry, "2012-06-30")
    # A, B, C, E by the end of June; D (September) not yet.
    assert (built(p, "惠城区", "class1"), built(p, "惠城区", "hd_checkpoints"), built(p, "惠城区", "class2")) == (
        100, 6, 30,
    )  # fmt: skip
    first = unit(p, "惠城区").measure("class1").milestones[0]
    assert (first.status, first.needed, first.built, first.on_track) == ("pending", 150, 100, False)
    assert unit(p, "惠城区").measure("hd_checkpoints").milestones[0].on_track is True
    assert {m.status for u in (*p.units, p.totals) for x in u.measures for m in x.milestones} == {"pending"}
    assert (p.period_start, p.period_end) == (date(2012, 1, 1), date(2014, 12, 31))


async def test_after_2012_the_first_milestone_is_decided(registry: AsyncSession) -> None:
    p = await progress_at(registry, "2013-01-01")
    huicheng = unit(p, "惠城区").measure("class1")
    assert (huicheng.target, huicheng.built, huicheng.share, huicheng.gap) == (500, 150, 0.3, 350)
    assert statuses(p, "惠城区", "class1") == ["met", "pending", "pending"]
    assert statuses(p, "惠城区", "hd_checkpoints") == ["met", "pending", "pending"]
    assert statuses(p, "惠城区", "class2") == ["missed", "pending", "pending"]
    assert (built(p, "龙门县", "class2"), statuses(p, "龙门县", "class2")[0]) == (300, "met")
    assert statuses(p, "龙门县", "class1")[0] == "missed"
    # 龙门县 needs 5 HD checkpoints by 2012 (30 % of 15 is 4.5).
    assert unit(p, "龙门县").measure("hd_checkpoints").milestones[0].needed == 5
    assert (built(p, "惠阳区", "class1"), statuses(p, "惠阳区", "class1")[0]) == (12, "missed")
    totals = p.totals.measure("class1") if p.totals else None
    assert totals is not None and (totals.target, totals.built, totals.milestones[0].needed) == (3000, 162, 900)
    assert (built(p, "total", "class2"), built(p, "total", "hd_checkpoints")) == (330, 6)
    assert statuses(p, "total", "class1") == ["missed", "pending", "pending"]


async def test_after_2013_milestones_are_judged_on_what_was_built_by_each_date(registry: AsyncSession) -> None:
    p = await progress_at(registry, "2014-01-01")
    assert built(p, "惠城区", "class1") == 254  # F and G (checkpoints are class 1 points too)
    assert statuses(p, "惠城区", "class1") == ["met", "missed", "pending"]
    second = unit(p, "惠城区").measure("class1").milestones[1]
    assert (second.built, second.needed, second.share) == (254, 350, 0.508)
    assert unit(p, "惠城区").measure("class1").milestones[0].built == 150
    assert (built(p, "惠城区", "hd_checkpoints"), statuses(p, "惠城区", "hd_checkpoints")) == (
        10, ["met", "missed", "pending"],
    )  # fmt: skip
    assert (built(p, "龙门县", "class2"), statuses(p, "龙门县", "class2")) == (700, ["met", "met", "pending"])
    assert built(p, "total", "class2") == 740


async def test_after_the_plan_nothing_is_pending_and_later_installs_do_not_count(registry: AsyncSession) -> None:
    p = await progress_at(registry, "2015-06-01")
    assert built(p, "惠城区", "class1") == 254  # J (2015) is outside the period
    assert statuses(p, "惠城区", "class1") == ["met", "missed", "missed"]
    assert built(p, "大亚湾区", "class1") == 20
    assert built(p, "total", "class1") == 286
    assert {m.status for u in (*p.units, p.totals) for x in u.measures for m in x.milestones} <= {"met", "missed"}


async def test_units_match_by_code_by_name_or_not_at_all(registry: AsyncSession) -> None:
    p = await progress_at(registry, "2015-06-01")
    assert (unit(p, "惠城区").region_code, unit(p, "惠城区").matched_by) == ("441302", "code")
    # Matched by name inside 惠州市, not the same-named station in 肇庆市 (whose 7 cameras stay out).
    assert (unit(p, "大亚湾区").region_code, unit(p, "大亚湾区").matched_by) == ("441371", "name")
    assert (unit(p, "仲恺区").region_code, built(p, "仲恺区", "class1")) == ("441372", 0)
    missing = unit(p, "惠东县")
    assert missing.matched_by is None and "惠东县" in (missing.note or "")
    assert [x.built for x in missing.measures] == [0, 0, 0]
    assert statuses(p, "惠东县", "class1") == ["missed", "missed", "missed"]
    assert any("3 new class 1" in note and "outside every plan unit" in note for note in p.notes)


async def test_hd_share_of_new_points(registry: AsyncSession) -> None:
    early = await progress_at(registry, "2013-01-01")
    c1 = rate(early, "惠城区", 1)
    assert (c1.count, c1.of, c1.share, c1.min_share, c1.status) == (60, 150, 0.4, 0.4, "pass")
    assert (rate(early, "惠城区", 2).count, rate(early, "惠城区", 2).status) == (0, "fail")
    assert (rate(early, "龙门县", 2).count, rate(early, "龙门县", 2).of, rate(early, "龙门县", 2).status) == (
        90, 300, "pass",
    )  # fmt: skip
    assert rate(early, "博罗县", 1).status == "n/a"
    total = rate(early, "total", 1)
    assert (total.count, total.of, total.status) == (72, 162, "pass")
    assert (rate(early, "total", 2).count, rate(early, "total", 2).of, rate(early, "total", 2).status) == (
        90, 330, "fail",
    )  # fmt: skip
    later = await progress_at(registry, "2014-01-01")
    assert (rate(later, "惠城区", 1).count, rate(later, "惠城区", 1).of, rate(later, "惠城区", 1).status) == (
        64, 254, "fail",
    )  # fmt: skip


async def test_industry_integration_share_or_count(registry: AsyncSession) -> None:
    early = await progress_at(registry, "2012-12-31")
    # 300 dated points of 龙门县 plus 150 undated ones of 博罗县; 200 networked: passes by share.
    archive = sector(early, "市档案局")
    assert (archive.points, archive.integrated, archive.passed_by) == (450, 200, "share")
    p = await progress_at(registry, "2014-01-01")
    archive = sector(p, "市档案局")
    assert (archive.points, archive.integrated, archive.needed_for_share, archive.passed_by) == (850, 320, 340, "count")
    # Class 1 cameras of the sector and its points in another city do not count.
    education = sector(p, "市教育局")
    assert (education.points, education.integrated, education.share, education.passed_by) == (30, 24, 0.8, "share")
    health = sector(p, "市卫生局")
    assert (health.points, health.integrated, health.needed_for_share, health.passed) == (10, 8, 9, False)
    absent = next(s for s in p.sectors if s.lead == "市交通运输局")
    assert (absent.verdict.points, absent.verdict.passed, absent.sector_codes) == (0, False, ())
    assert "no sector organisation" in (absent.note or "")
    assert len(p.sectors) == 17
    assert any("concurrent networked streams" in item for item in p.not_measurable)


async def test_a_district_user_sees_only_the_district(registry: AsyncSession) -> None:
    p = await progress_at(registry, "2014-01-01", principal=HUIYANG_ANALYST)
    assert (built(p, "惠阳区", "class1"), built(p, "惠阳区", "class2")) == (12, 10)
    assert (built(p, "惠城区", "class1"), built(p, "total", "class1"), built(p, "total", "class2")) == (0, 12, 10)
    assert (sector(p, "市卫生局").points, sector(p, "市教育局").points) == (10, 0)


async def test_progress_needs_plan_read(registry: AsyncSession) -> None:
    operator = Principal(user_id=8, username="op", role="operator", all_regions=True)
    with pytest.raises(Forbidden):
        await progress_at(registry, "2014-01-01", principal=operator)


# --- plans with no matching cameras, and the other shapes ---------------------------------------------


@pytest.mark.parametrize("plan_id", ["huizhou-2012-2014", "ningxia-2014", "national-2020"])
async def test_an_empty_registry_gives_zeros_not_errors(session: AsyncSession, plan_id: str) -> None:
    p = await progress_at(session, "2014-06-30", plan=plan_id)
    counts = [x.built for u in (*p.units, *([p.totals] if p.totals else [])) for x in u.measures]
    assert set(counts) <= {0}
    assert all(r.count == 0 and r.of == 0 and r.status == "n/a" for r in p.rates)
    assert all(s.verdict.points == 0 and not s.verdict.passed for s in p.sectors)
    assert report.as_table(p) and report.as_dict(p)["plan"] == plan_id


async def test_ningxia_counts_police_hd_and_social_cameras_of_the_plan_year(session: AsyncSession) -> None:
    await service.add_region(session, code="640000", name="宁夏回族自治区", level="province")
    await service.add_region(session, code="640100", name="银川市", level="city", parent_code="640000")
    ids = {r.code: r.id for r in await service.list_regions(session)}
    c = Cameras()
    c.add(3, "640100", 1, "2014-05-05", stream=HD)
    c.add(2, "640100", 1, "2014-10-10", stream=HD720)
    c.add(1, "640100", 1, "2013-05-05", stream=HD)  # before the plan year
    c.add(4, "640100", 1, "2014-05-05")  # SD: not a police HD camera
    c.add(4, "640000", 2, "2014-06-06")  # at the region level: in the total, in no city
    rows = [{**{k: v for k, v in r.items() if k not in ("region", "sector")}, "region_id": ids[r["region"]]}
            for r in c.rows]  # fmt: skip
    await session.execute(insert(Camera), rows)
    await session.commit()

    p = await progress_at(session, "2014-12-01", plan="ningxia-2014")
    police, fhd, social = (p.totals.measure(m) for m in ("police_hd_cameras", "police_1080p_cameras",
                                                          "social_cameras"))  # fmt: skip
    assert (police.built, police.target, police.share, fhd.built, social.built, social.target) == (
        5, 5000, 0.001, 3, 4, 10000,
    )  # fmt: skip
    assert (police.milestones[0].by, police.milestones[0].built, police.milestones[0].status) == (
        date(2014, 9, 30), 3, "missed",
    )  # fmt: skip
    yinchuan = unit(p, "银川市")
    assert (yinchuan.measure("police_hd_cameras").built, yinchuan.measure("social_cameras").built) == (5, 0)
    assert unit(p, "石嘴山市").matched_by is None
    assert (await progress_at(session, "2014-06-01", plan="ningxia-2014")).totals.measure(
        "police_hd_cameras"
    ).milestones[0].status == "pending"


async def test_national_hd_share_and_networking_rates(registry: AsyncSession) -> None:
    p = await progress_at(registry, "2021-01-01", plan="national-2020")
    rates = {r.metric.split(" ")[0]: r for r in p.rates}
    # New since 2015: only J (5 SD cameras).
    assert (rates["new_or_rebuilt_hd_share"].count, rates["new_or_rebuilt_hd_share"].of) == (0, 5)
    assert rates["new_or_rebuilt_hd_share"].status == "missed"
    public = rates["key_public_area_networking_rate"]
    assert (public.count, public.of, public.status) == (316, 316, "met")
    industry = rates["key_industry_public_area_networking_rate"]
    assert (industry.count, industry.of, industry.status) == (357, 895, "missed")
    before = await progress_at(registry, "2016-01-01", plan="national-2020")
    assert {r.status for r in before.rates} == {"pending"}
    assert any("coverage" in item for item in p.not_measurable)


# --- rendering --------------------------------------------------------------------------------------


async def test_the_json_form(registry: AsyncSession) -> None:
    data = report.as_dict(await progress_at(registry, "2014-01-01"))
    huicheng = next(u for u in data["units"] if u["unit"] == "惠城区")
    class1 = huicheng["measures"]["class1"]
    assert (class1["target"], class1["built"], class1["share"]) == (500, 254, 0.508)
    assert [m["status"] for m in class1["milestones"]] == ["met", "missed", "pending"]
    assert data["totals"]["measures"]["class2"]["built"] == 740
    archive = next(s for s in data["sectors"] if s["lead"] == "市档案局")
    assert (archive["pass"], archive["passed_by"], archive["share"]) == (True, "count", 0.3765)


async def test_the_table_form(registry: AsyncSession) -> None:
    text = report.as_table(await progress_at(registry, "2014-01-01"))
    lines = text.splitlines()
    assert lines[0].startswith("惠州市社会治安视频监控系统建设三年规划")
    row = next(line for line in lines if line.startswith("惠城区") and "class 1" in line)
    assert row.split()[:8] == ["惠城区", "441302", "class", "1", "500", "254", "50.8%", "246"]
    assert "met 150/150" in row and "missed 254/350" in row
    assert any(line.startswith("市档案局") and "pass by count" in line for line in lines)


async def test_the_workbook_holds_the_numbers(registry: AsyncSession) -> None:
    workbook = load_workbook(io.BytesIO(report.as_xlsx(await progress_at(registry, "2014-01-01"))))
    assert workbook.sheetnames == ["Summary", "Built vs target", "Milestones", "Shares", "Industry integration"]
    rows = list(workbook["Built vs target"].iter_rows(values_only=True))
    assert rows[0][:7] == ("unit", "region", "metric", "target", "built", "share", "to build")
    huicheng = next(r for r in rows if r[0] == "惠城区" and r[2] == "class 1")
    assert huicheng[3:7] == (500, 254, 0.508, 246)
    total = next(r for r in rows if r[0] == "total" and r[2] == "class 2")
    assert total[3:5] == (27000, 740)
    milestones = list(workbook["Milestones"].iter_rows(values_only=True))
    assert ("惠城区", "class 1", "2013-12-31", 0.7, 500, 350, 254, 0.508, "missed", None) in milestones
    sectors = {r[0]: r for r in workbook["Industry integration"].iter_rows(values_only=True)}
    assert sectors["市教育局"][1:4] == (30, 24, 0.8)
    summary = "plan huizhou-2012-2014 at 2014-01-01 (plan period 2012-01-01 .. 2014-12-31)"
    assert workbook["Summary"]["A2"].value == summary
