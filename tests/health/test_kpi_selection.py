"""Which cameras a report covers (region subtree, class, network, sector, owning unit, one camera), the caller's
scope applied in SQL, breakdowns with their labels, the registry KPIs (networking, HD, format), and bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.conftest import BACKENDS
from tests.health.kpi_fixtures import LONG_AGO, build_world, migrated, report
from tianyan.core.errors import InvalidInput, NotFound
from tianyan.health.kpi.model import BY_CLASS, BY_DISTRICT, BY_NETWORK, BY_SECTOR, BY_UNIT, CameraSet
from tianyan.security.scope import Principal

pytestmark = pytest.mark.asyncio(loop_scope="module")

# name: region, class, network, sector, unit, (width, height, fps), networked, sensitive
CAMERAS = {
    "jiangbei_hd": ("44130201", 1, "police", None, None, (1920, 1080, 25.0), True, False),
    "jiangbei_school": ("44130201", 2, "social", "S-EDU", "U-SCHOOL", (1280, 720, 25.0), True, False),
    "huicheng_d1": ("441302", 1, "police", None, None, (720, 576, 25.0), True, False),
    "huicheng_4cif_slow": ("441302", 3, "local", None, None, (704, 576, 15.0), False, False),
    "danshui_4cif": ("44130301", 2, "social", "S-HEALTH", "U-HOSPITAL", (704, 576, 25.0), True, False),
    "danshui_720p_slow": ("44130301", 2, "social", "S-EDU", "U-SCHOOL", (1280, 720, 20.0), False, False),
    "huiyang_vga": ("441303", 3, "local", None, None, (640, 480, 25.0), False, False),
    "huiyang_unknown": ("441303", 1, "police", None, None, (None, None, None), True, True),
}
HD = {"jiangbei_hd", "jiangbei_school"}
FORMAT_OK = HD | {"huicheng_d1", "danshui_4cif"}


@dataclass(frozen=True)
class World:
    engine: AsyncEngine
    ids: dict[str, int]
    orgs: dict[str, int]

    def names(self, ids: set[int]) -> set[str]:
        return {name for name, camera_id in self.ids.items() if camera_id in ids}


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=BACKENDS)
async def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with migrated(request.param, tmp_path_factory.mktemp("kpi-selection")) as engine:
        async with AsyncSession(engine) as session:
            built = await build_world(session)
            ids = {}
            for name, (region, cls, network, sector, unit, (w, h, fps), networked, sensitive) in CAMERAS.items():
                ids[name] = await built.camera(
                    name=name, region=region, cls=cls, network=network, sector=sector, unit=unit, width=w,
                    height=h, fps=fps, networked=networked, sensitive=sensitive,
                )  # fmt: skip
                await built.transitions(ids[name], [(LONG_AGO, True)])
            await session.commit()
        yield World(engine, ids, built.orgs)


async def covered(world: World, selection: CameraSet | None = None, **options: object) -> set[str]:
    result = await report(world.engine, selection, worst=100, **options)  # type: ignore[arg-type]
    assert result.figures.cameras == len(result.worst)
    return world.names({row.camera_id for row in result.worst})


async def test_no_filter_is_the_whole_city(world: World) -> None:
    assert await covered(world) == set(CAMERAS)


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        (CameraSet(region_code="441302"), {"jiangbei_hd", "jiangbei_school", "huicheng_d1", "huicheng_4cif_slow"}),
        (CameraSet(region_code="44130301"), {"danshui_4cif", "danshui_720p_slow"}),
        (CameraSet(cls=3), {"huicheng_4cif_slow", "huiyang_vga"}),
        (CameraSet(network="social"), {"jiangbei_school", "danshui_4cif", "danshui_720p_slow"}),
        (CameraSet(region_code="441303", cls=2), {"danshui_4cif", "danshui_720p_slow"}),
    ],
)
async def test_filters_narrow_the_set(world: World, selection: CameraSet, expected: set[str]) -> None:
    assert await covered(world, selection) == expected


async def test_sector_unit_and_camera_selections(world: World) -> None:
    assert await covered(world, CameraSet(sector_id=world.orgs["S-EDU"])) == {"jiangbei_school", "danshui_720p_slow"}
    assert await covered(world, CameraSet(owning_unit_id=world.orgs["U-HOSPITAL"])) == {"danshui_4cif"}
    assert await covered(world, CameraSet(camera_id=world.ids["huiyang_vga"])) == {"huiyang_vga"}


async def test_a_scoped_account_sees_only_its_cameras(world: World) -> None:
    huiyang = Principal(user_id=7, username="huiyang", role="operator", region_paths=("/440000/441300/441303/",),
                        networks=frozenset({"police", "social", "local"}), classes=frozenset({1, 2, 3}))  # fmt: skip
    # The sensitive camera needs a grant this operator does not have.
    assert await covered(world, principal=huiyang) == {"danshui_4cif", "danshui_720p_slow", "huiyang_vga"}
    figures = (await report(world.engine, principal=huiyang)).figures
    assert (figures.cameras, figures.networked, figures.hd, figures.format_ok) == (3, 1, 0, 1)
    education = Principal(user_id=8, username="edu", role="industry", all_regions=True, sector_id=world.orgs["S-EDU"],
                          networks=frozenset({"social"}), classes=frozenset({2}))  # fmt: skip
    assert await covered(world, principal=education) == {"jiangbei_school", "danshui_720p_slow"}
    # Asking for a district outside its scope gives nothing rather than someone else's cameras.
    assert await covered(world, CameraSet(region_code="441302"), principal=huiyang) == set()
    with pytest.raises(NotFound, match="in your scope"):
        await report(world.engine, CameraSet(camera_id=world.ids["jiangbei_hd"]), principal=huiyang)


async def test_networking_hd_and_format(world: World) -> None:
    f = (await report(world.engine)).figures
    networked = {name for name, c in CAMERAS.items() if c[6]}
    assert (f.networked, f.hd, f.format_ok) == (len(networked), len(HD), len(FORMAT_OK))
    assert f.networking_rate == pytest.approx(len(networked) / len(CAMERAS))
    assert f.hd_share == pytest.approx(len(HD) / len(CAMERAS))
    assert f.format_compliance == pytest.approx(len(FORMAT_OK) / len(CAMERAS))


async def test_breakdowns_name_their_groups(world: World) -> None:
    dims = (BY_DISTRICT, BY_CLASS, BY_NETWORK, BY_SECTOR, BY_UNIT)
    groups = (await report(world.engine, breakdowns=dims)).breakdowns
    seen = {d: {(g.key, g.label): g.figures.cameras for g in groups[d]} for d in dims}
    assert seen[BY_DISTRICT] == {("441302", "惠城区"): 4, ("441303", "惠阳区"): 4}
    assert seen[BY_CLASS] == {("1", "class 1"): 3, ("2", "class 2"): 3, ("3", "class 3"): 2}
    assert seen[BY_NETWORK] == {("local", "local"): 2, ("police", "police"): 3, ("social", "social"): 3}
    edu, health = str(world.orgs["S-EDU"]), str(world.orgs["S-HEALTH"])
    assert seen[BY_SECTOR] == {(edu, "教育"): 2, (health, "卫生"): 1, ("", "no sector"): 5}
    school, hospital = str(world.orgs["U-SCHOOL"]), str(world.orgs["U-HOSPITAL"])
    assert seen[BY_UNIT] == {(school, "第一中学"): 2, (hospital, "中心医院"): 1, ("", "no owning unit"): 5}
    hd_by_district = {g.key: g.figures.hd for g in groups[BY_DISTRICT]}
    assert hd_by_district == {"441302": 2, "441303": 0}


async def test_one_district_breaks_down_by_its_stations(world: World) -> None:
    groups = (await report(world.engine, CameraSet(region_code="441302"), breakdowns=[BY_DISTRICT])).breakdowns
    # The two cameras placed on the district itself are their own group.
    assert {(g.key, g.label, g.figures.cameras) for g in groups[BY_DISTRICT]} == {
        ("441302", "惠城区", 2),
        ("44130201", "江北派出所", 2),
    }


@pytest.mark.parametrize(
    ("selection", "error", "message"),
    [
        (CameraSet(region_code="999999"), NotFound, "no region with code '999999'"),
        (CameraSet(sector_id=999), NotFound, "no industry sector with id 999"),
        (CameraSet(camera_id=999_999), NotFound, "no camera with id 999999"),
        (CameraSet(cls=4), InvalidInput, "class must be one of 1, 2, 3"),
        (CameraSet(network="wifi"), InvalidInput, "network must be one of"),
    ],
)
async def test_unknown_things_are_refused_clearly(
    world: World, selection: CameraSet, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        await report(world.engine, selection)


async def test_a_sector_is_not_an_owning_unit_and_a_breakdown_must_exist(world: World) -> None:
    with pytest.raises(NotFound, match="no owning unit"):
        await report(world.engine, CameraSet(owning_unit_id=world.orgs["S-EDU"]))
    with pytest.raises(InvalidInput, match="unknown breakdown 'colour'"):
        await report(world.engine, breakdowns=["colour"])
