"""The resource tree as the console uses it: roots and counts in the caller's scope, units and devices, channel
states, paging, search with the path to reveal a camera, and clear errors for bad node ids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.registry_fixtures import (
    CITY,
    HUICHENG,
    HUICHENG_STATION,
    HUIYANG,
    HUIYANG_STATION,
    CameraFacts,
    Registry,
    add_user,
    api_key,
    build_registry,
)
from tianyan.core import gbid
from tianyan.health.models import VqdLatest
from tianyan.registry import service
from tianyan.registry.models import Camera, Device

API = "/api/v1"
SUBTREE = {CITY: (HUICHENG, HUICHENG_STATION, HUIYANG, HUIYANG_STATION), HUICHENG: (HUICHENG, HUICHENG_STATION),
           HUIYANG: (HUIYANG, HUIYANG_STATION)}  # fmt: skip
NVR = gbid.build(centre=HUICHENG, type_code="118", serial=1).value
IPC = gbid.build(centre=HUICHENG, type_code="132", serial=2).value


@dataclass(frozen=True)
class World:
    registry: Registry
    online: frozenset[str]
    faulty: frozenset[str]  # latest diagnosis failed (a fault only while online)
    school: int  # owning unit in 惠城区: its social cameras there
    hospital: int  # owning unit in 淡水派出所: its police cameras there
    nvr_channels: frozenset[str]  # 惠城区's police cameras, channels of one NVR, no unit
    ipc_channel: str  # 惠城区's local class-1 camera, the one channel of an IPC
    admin: dict[str, str]
    operator: dict[str, str]  # 惠阳区, police and social networks, classes 1 and 2


def state_of(world: World, gb_id: str) -> str:
    if gb_id not in world.online:
        return "offline"
    return "fault" if gb_id in world.faulty else "online"


def operator_sees(camera: CameraFacts) -> bool:
    return (
        camera.region in SUBTREE[HUIYANG]
        and camera.network in ("police", "social")
        and camera.cls in (1, 2)
        and not camera.sensitive
    )


def expected_counts(world: World, cameras: list[CameraFacts]) -> dict[str, int]:
    states = [state_of(world, c.gb_id) for c in cameras]
    return {
        "total": len(states),
        "online": states.count("online") + states.count("fault"),
        "fault": states.count("fault"),
    }


@pytest.fixture
async def world(session: AsyncSession) -> World:
    registry = await build_registry(session)
    cams = registry.cameras
    online = {c.gb_id for c in cams if c.network != "local" and not (c.cls == 2 and c.region == HUIYANG_STATION)}
    faulty = {c.gb_id for c in cams if c.cls == 1 and c.network in ("police", "local")}
    school = await service.add_organisation(session, kind="owning_unit", code="OU-SCHOOL", name="惠城一中",
                                            region_code=HUICHENG)  # fmt: skip
    hospital = await service.add_organisation(session, kind="owning_unit", code="OU-HOSP", name="淡水医院",
                                              region_code=HUIYANG_STATION)  # fmt: skip
    region = await service.region_by_code(session, HUICHENG)
    nvr = Device(gb_id=NVR, name="惠城 NVR", type_code="118", region_id=region.id)
    ipc = Device(gb_id=IPC, name="惠城 IPC", type_code="132", region_id=region.id)
    session.add_all([nvr, ipc])
    await session.flush()
    by_id = {c.gb_id: c.id for c in cams}
    school_cams = [c.id for c in cams if c.region == HUICHENG and c.network == "social"]
    hospital_cams = [c.id for c in cams if c.region == HUIYANG_STATION and c.network == "police"]
    nvr_channels = {c.gb_id for c in cams if c.region == HUICHENG and c.network == "police"}
    ipc_channel = next(c.gb_id for c in cams if c.region == HUICHENG and c.network == "local" and c.cls == 1
                       and not c.sensitive)  # fmt: skip
    await session.execute(update(Camera).where(Camera.id.in_(school_cams)).values(owning_unit_id=school.id))
    await session.execute(update(Camera).where(Camera.id.in_(hospital_cams)).values(owning_unit_id=hospital.id))
    await session.execute(
        update(Camera).where(Camera.id.in_([by_id[g] for g in nvr_channels])).values(device_id=nvr.id)
    )
    await session.execute(update(Camera).where(Camera.id == by_id[ipc_channel]).values(device_id=ipc.id, ptz_type=1))
    await session.execute(
        update(Camera).where(Camera.id.in_([by_id[g] for g in online])).values(online=True, main_width=1920,
                                                                               main_height=1080, main_fps=25.0)
    )  # fmt: skip
    now = datetime.now(UTC)
    session.add_all(
        VqdLatest(camera_id=c.id, at=now, source="live", ok=c.gb_id not in faulty,
                  faults=[] if c.gb_id not in faulty else ["blur"], scores={})
        for c in cams if c.cls == 1
    )  # fmt: skip
    admin = await add_user(session, "boss", "admin", all_regions=True)
    operator = await add_user(session, "hy.op", "operator", regions=[HUIYANG], networks=["police", "social"],
                              classes=[1, 2])  # fmt: skip
    headers = [await api_key(session, user) for user in (admin, operator)]
    await session.commit()
    return World(
        registry=registry, online=frozenset(online), faulty=frozenset(faulty), school=school.id,
        hospital=hospital.id, nvr_channels=frozenset(nvr_channels), ipc_channel=ipc_channel, admin=headers[0],
        operator=headers[1],
    )  # fmt: skip


async def children(client: httpx.AsyncClient, headers: dict[str, str], node: str | None = None, **params: object):
    query = {**params, **({"node": node} if node else {})}
    response = await client.get(f"{API}/tree", params=query, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def assert_problem(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    detail = response.json()["detail"]
    assert all(word in detail for word in words), detail


async def test_the_city_opens_with_its_districts_and_their_counts(client: httpx.AsyncClient, world: World) -> None:
    roots = await children(client, world.admin)
    # 广东省 holds only 惠州市 and no camera of its own, so the tree starts at the city.
    assert [(n["id"], n["name"], n["type"]) for n in roots["items"]] == [(f"r:{CITY}", "惠州市", "region")]
    everything = list(world.registry.cameras)
    assert roots["items"][0]["counts"] == expected_counts(world, everything)
    districts = await children(client, world.admin, f"r:{CITY}")
    assert [n["name"] for n in districts["items"]] == ["惠城区", "惠阳区"]
    for node, code in zip(districts["items"], (HUICHENG, HUIYANG), strict=True):
        inside = [c for c in everything if c.region in SUBTREE[code]]
        assert node["counts"] == expected_counts(world, inside)
        assert node["counts"]["fault"] > 0 and node["counts"]["online"] < node["counts"]["total"]


async def test_a_district_operator_sees_only_its_district(client: httpx.AsyncClient, world: World) -> None:
    roots = await children(client, world.operator)
    assert [n["name"] for n in roots["items"]] == ["惠阳区"]
    mine = [c for c in world.registry.cameras if operator_sees(c)]
    assert roots["items"][0]["counts"] == expected_counts(world, mine)
    below = await children(client, world.operator, f"r:{HUIYANG}")
    listed = {n["camera"]["gb_id"] for n in below["items"] if n["type"] == "camera"}
    station = next(n for n in below["items"] if n["type"] == "region")
    assert station["name"] == "淡水派出所"
    assert station["counts"]["total"] == sum(1 for c in mine if c.region == HUIYANG_STATION)
    assert listed == {c.gb_id for c in mine if c.region == HUIYANG}
    for node in (f"r:{HUICHENG}", f"r:{CITY}", f"r:{HUICHENG_STATION}", f"u:{HUICHENG}:{world.school}"):
        assert_problem(await client.get(f"{API}/tree", params={"node": node}, headers=world.operator), 404, "scope")
    huicheng = next(c for c in world.registry.cameras if c.region == HUICHENG and c.network == "police")
    found = await client.get(f"{API}/tree/search", params={"q": huicheng.gb_id}, headers=world.operator)
    assert found.status_code == 200 and found.json()["items"] == []


async def test_units_devices_and_channels_sit_where_the_cameras_are(client: httpx.AsyncClient, world: World) -> None:
    district = await children(client, world.admin, f"r:{HUICHENG}")
    kinds = [(n["type"], n["name"]) for n in district["items"]]
    assert kinds[:3] == [("region", "江北派出所"), ("unit", "惠城一中"), ("device", "惠城 NVR")]
    # The IPC has one channel: it is listed as that channel, not as a device.
    leaves = {n["camera"]["gb_id"] for n in district["items"] if n["type"] == "camera"}
    assert world.ipc_channel in leaves and not leaves & world.nvr_channels
    assert all(n["leaf"] for n in district["items"] if n["type"] == "camera")
    device = next(n for n in district["items"] if n["type"] == "device")
    assert device["code"] == NVR and device["counts"]["total"] == len(world.nvr_channels)
    channels = await children(client, world.admin, device["id"])
    assert {n["camera"]["gb_id"] for n in channels["items"]} == world.nvr_channels
    unit = await children(client, world.admin, f"u:{HUICHENG}:{world.school}")
    school = {c.gb_id for c in world.registry.cameras if c.region == HUICHENG and c.network == "social"}
    assert {n["camera"]["gb_id"] for n in unit["items"]} == school
    ipc = next(n["camera"] for n in district["items"] if n["type"] == "camera" and n["code"] == world.ipc_channel)
    assert ipc["ptz"] is True and ipc["class"] == 1 and ipc["network"] == "local" and ipc["hd"] is False


async def test_channels_carry_their_state(client: httpx.AsyncClient, world: World) -> None:
    seen: dict[str, dict[str, object]] = {}
    for node in (f"r:{HUICHENG}", f"u:{HUICHENG}:{world.school}", f"d:{HUICHENG}:-:{NVR}"):
        for item in (await children(client, world.admin, node))["items"]:
            if item["type"] == "camera":
                seen[item["camera"]["gb_id"]] = item["camera"]
    assert len(seen) == sum(1 for c in world.registry.cameras if c.region == HUICHENG)
    assert {camera["state"] for camera in seen.values()} == {"online", "offline", "fault"}
    for gb_id, camera in seen.items():
        assert camera["state"] == state_of(world, gb_id), gb_id
        assert camera["online"] == (gb_id in world.online)
        assert camera["hd"] == (gb_id in world.online)  # only the online ones were given a 1080p main stream


async def test_big_groups_come_in_pages(client: httpx.AsyncClient, world: World, session: AsyncSession) -> None:
    # Give the hospital the whole station: 18 cameras, in pages of 4.
    station = await service.region_by_code(session, HUIYANG_STATION)
    await session.execute(update(Camera).where(Camera.region_id == station.id).values(owning_unit_id=world.hospital))
    await session.commit()
    node = f"u:{HUIYANG_STATION}:{world.hospital}"
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page = await children(client, world.admin, node, offset=offset, limit=4)
        assert page["offset"] == offset and len(page["items"]) <= 4
        seen += [n["camera"]["gb_id"] for n in page["items"]]
        offset = page["next_offset"]
    assert page["total"] == 18 and len(seen) == len(set(seen)) == 18
    names = [c.gb_id for c in world.registry.cameras if c.region == HUIYANG_STATION]
    assert set(seen) == set(names)


async def test_search_finds_a_camera_and_the_way_to_it(client: httpx.AsyncClient, world: World) -> None:
    channel = sorted(world.nvr_channels)[0]
    result = await client.get(f"{API}/tree/search", params={"q": channel}, headers=world.admin)
    assert result.status_code == 200, result.text
    hits = result.json()["items"]
    assert hits[0]["camera"]["gb_id"] == channel and hits[0]["camera"]["state"] == state_of(world, channel)
    path = [(step["id"], step["name"]) for step in hits[0]["path"]]
    assert path == [(f"r:{CITY}", "惠州市"), (f"r:{HUICHENG}", "惠城区"), (f"d:{HUICHENG}:-:{NVR}", "惠城 NVR")]
    # Every step is a node the tree really has, down to the camera.
    for step, child in zip(hits[0]["path"], [*hits[0]["path"][1:], None], strict=True):
        listed = [n["id"] for n in (await children(client, world.admin, step["id"]))["items"]]
        assert (child["id"] if child else f"c:{channel}") in listed
    hospital_camera = next(c for c in world.registry.cameras if c.region == HUIYANG_STATION
                           and c.network == "police" and c.cls == 1 and not c.sensitive)  # fmt: skip
    mine = await client.get(f"{API}/tree/search", params={"q": hospital_camera.gb_id}, headers=world.operator)
    steps = [step["name"] for step in mine.json()["items"][0]["path"]]
    assert steps == ["惠阳区", "淡水派出所", "淡水医院"]  # from the operator's own root
    by_name = await client.get(f"{API}/tree/search", params={"q": f"{HUIYANG}-social"}, headers=world.operator)
    names = {hit["camera"]["name"] for hit in by_name.json()["items"]}
    assert names == {f"{HUIYANG}-social-1", f"{HUIYANG}-social-2"}  # class 3 and sensitive ones are out of scope


async def test_channels_by_gb_id_keep_the_order_asked_and_the_scope(client: httpx.AsyncClient, world: World) -> None:
    """A link to a wall of cameras looks them up in one request: in the order asked, those out of scope left out."""
    mine = [c.gb_id for c in world.registry.cameras if operator_sees(c)][:3]
    theirs = next(c.gb_id for c in world.registry.cameras if c.region == HUICHENG and c.network == "police")
    unknown = gbid.build(centre=HUICHENG, serial=99999).value
    wanted = [mine[2], theirs, mine[0], unknown, mine[1], mine[0]]
    as_admin = await client.get(f"{API}/tree/channels", params={"gb_id": wanted}, headers=world.admin)
    assert [c["gb_id"] for c in as_admin.json()["items"]] == [mine[2], theirs, mine[0], mine[1]]
    as_operator = await client.get(f"{API}/tree/channels", params={"gb_id": wanted}, headers=world.operator)
    items = as_operator.json()["items"]
    assert [c["gb_id"] for c in items] == [mine[2], mine[0], mine[1]]
    assert all(item["state"] == state_of(world, item["gb_id"]) for item in items)
    too_many = [gbid.build(centre=HUICHENG, serial=n).value for n in range(1, 66)]
    assert_problem(await client.get(f"{API}/tree/channels", params={"gb_id": too_many}, headers=world.admin), 422, "64")


async def test_bad_requests_get_clear_problems(client: httpx.AsyncClient, world: World) -> None:
    async def get(path: str, **params: object) -> httpx.Response:
        return await client.get(f"{API}{path}", params=params, headers=world.admin)

    assert_problem(await get("/tree", node="441302"), 422, "r:<region code>")
    assert_problem(await get("/tree", node="x:1"), 422, "not a tree node id")
    assert_problem(await get("/tree", node=f"c:{world.ipc_channel}"), 422, "camera")
    assert_problem(await get("/tree", node="r:999999"), 404, "999999")
    assert_problem(await get("/tree", node=f"u:{HUICHENG}:987654"), 404, "987654")
    assert_problem(await get("/tree", node=f"d:{HUICHENG}:-:{gbid.build(centre=HUICHENG, serial=77).value}"), 404)
    assert_problem(await get("/tree", node=f"r:{CITY}", limit=0), 422)
    assert_problem(await get("/tree/search", q="   "), 422, "search")
    assert_problem(await get("/tree/search"), 422)
    assert_problem(await client.get(f"{API}/tree"), 401)
