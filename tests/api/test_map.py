"""The camera map: cameras in a view box within the caller's scope, clusters when many, district outlines, and
the console's map settings from the [web] configuration."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.registry_fixtures import (
    HUICHENG,
    HUICHENG_STATION,
    HUIYANG,
    CameraFacts,
    Registry,
    add_user,
    api_key,
    build_registry,
)
from tianyan import config
from tianyan.app.platform import Platform
from tianyan.config import WebConfig
from tianyan.core.errors import ConfigError
from tianyan.health.resources import camera_map
from tianyan.registry.models import Camera

API = "/api/v1"
# 惠城 cameras stand in a row near the city centre, 惠阳 ones 35 km south-east; both rows are a few hundred metres.
ORIGIN = {"惠城": (23.1100, 114.4100), "惠阳": (22.7900, 114.4600)}
SPACING = 0.0004
BOTH = "114.0,22.5,114.9,23.4"


@dataclass(frozen=True)
class World:
    registry: Registry
    where: dict[str, tuple[float, float]]  # gb_id -> (lat, lon); cameras without coordinates are absent
    online: frozenset[str]
    admin: dict[str, str]
    operator: dict[str, str]  # 惠阳区, police + social, classes 1-2


def town(camera: CameraFacts) -> str:
    return "惠城" if camera.region.startswith(HUICHENG) else "惠阳"


def operator_sees(camera: CameraFacts) -> bool:
    return town(camera) == "惠阳" and camera.network != "local" and camera.cls != 3 and not camera.sensitive


@pytest.fixture
async def world(session: AsyncSession) -> World:
    registry = await build_registry(session)
    where: dict[str, tuple[float, float]] = {}
    online = set()
    for index, camera in enumerate(registry.cameras):
        if camera.region == HUICHENG_STATION and camera.cls == 3:
            continue  # no coordinates on record
        lat, lon = ORIGIN[town(camera)]
        where[camera.gb_id] = (lat + SPACING * (index % 6), lon + SPACING * (index // 6))
        values: dict[str, object] = {"latitude": where[camera.gb_id][0], "longitude": where[camera.gb_id][1]}
        if index % 3 == 0:
            online.add(camera.gb_id)
            values["online"] = True
        await session.execute(update(Camera).where(Camera.id == camera.id).values(**values))
    admin = await add_user(session, "boss", "admin", all_regions=True)
    operator = await add_user(session, "hy.op", "operator", regions=[HUIYANG], networks=["police", "social"],
                              classes=[1, 2])  # fmt: skip
    headers = [await api_key(session, user) for user in (admin, operator)]
    await session.commit()
    return World(registry, where, frozenset(online), headers[0], headers[1])


async def view(client: httpx.AsyncClient, headers: dict[str, str], bbox: str, zoom: int) -> dict:
    response = await client.get(f"{API}/map/cameras", params={"bbox": bbox, "zoom": zoom}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_few_cameras_come_one_by_one_in_scope(client: httpx.AsyncClient, world: World) -> None:
    everything = await view(client, world.admin, BOTH, camera_map.DETAIL_ZOOM)
    assert everything["mode"] == "cameras" and everything["clusters"] == []
    assert {c["gb_id"] for c in everything["cameras"]} == set(world.where)
    for camera in everything["cameras"]:
        assert (camera["latitude"], camera["longitude"]) == world.where[camera["gb_id"]]
        assert camera["state"] == ("online" if camera["gb_id"] in world.online else "offline")
    huicheng_only = "114.40,23.10,114.42,23.12"
    near = await view(client, world.admin, huicheng_only, 15)
    expected = {c.gb_id for c in world.registry.cameras if c.gb_id in world.where and town(c) == "惠城"}
    assert {c["gb_id"] for c in near["cameras"]} == expected and near["total"] == len(expected)
    mine = await view(client, world.operator, BOTH, 11)
    assert {c["gb_id"] for c in mine["cameras"]} == {
        c.gb_id for c in world.registry.cameras if operator_sees(c) and c.gb_id in world.where
    }
    assert (await view(client, world.operator, huicheng_only, 15))["cameras"] == []


async def test_many_cameras_are_clustered_by_zoom(
    client: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(camera_map, "FEW", 5)
    far = await view(client, world.admin, BOTH, 3)
    # At zoom 3 a cell is over 5 degrees wide: both towns are one cluster.
    assert far["mode"] == "clusters" and far["cameras"] == [] and len(far["clusters"]) == 1
    (cluster,) = far["clusters"]
    assert cluster["count"] == far["total"] == len(world.where)
    assert cluster["online"] == len(world.online & set(world.where))
    (south, west), (north, east) = cluster["bounds"]
    assert south <= cluster["latitude"] <= north and west <= cluster["longitude"] <= east
    near = await view(client, world.admin, BOTH, 12)
    # At zoom 12 (cells of about 0.02 degrees) the towns never share a cluster, and nothing is lost or counted twice.
    assert near["mode"] == "clusters" and len(near["clusters"]) >= 2
    assert sum(c["count"] for c in near["clusters"]) + len(near["cameras"]) == len(world.where)
    for group in near["clusters"]:
        assert group["count"] >= 2
        (south, west), (north, east) = group["bounds"]
        assert north - south < 0.1 and east - west < 0.1
    mine = await view(client, world.operator, BOTH, 3)
    visible = [c for c in world.registry.cameras if operator_sees(c) and c.gb_id in world.where]
    assert mine["total"] == len(visible) == mine["clusters"][0]["count"]


async def test_bad_view_boxes_get_clear_problems(client: httpx.AsyncClient, world: World) -> None:
    async def status(bbox: str, zoom: object = 10) -> tuple[int, str]:
        response = await client.get(f"{API}/map/cameras", params={"bbox": bbox, "zoom": zoom}, headers=world.admin)
        return response.status_code, response.json().get("detail", "")

    for bad in ("1,2,3", "a,b,c,d", "114,23,113,24", "114,24,115,23", "nan,1,2,3"):
        code, detail = await status(bad)
        assert code == 422 and "bbox" in detail, (bad, detail)
    assert (await status(BOTH, 30))[0] == 422
    # A map zoomed out past the world asks for more than the world: that is cut to the world, not refused.
    assert (await status("-540,-100,540,100", 1))[0] == 200


def inside(hull: list[list[float]], point: tuple[float, float]) -> bool:
    """Point in a convex counter-clockwise polygon (on the edge counts)."""
    for (a_lat, a_lon), (b_lat, b_lon) in zip(hull, hull[1:] + hull[:1], strict=True):
        if (b_lat - a_lat) * (point[1] - a_lon) - (b_lon - a_lon) * (point[0] - a_lat) < -1e-12:
            return False
    return True


async def test_outlines_cover_each_districts_cameras(client: httpx.AsyncClient, world: World) -> None:
    response = await client.get(f"{API}/map/outlines", headers=world.admin)
    assert response.status_code == 200, response.text
    outlines = {o["name"]: o for o in response.json()}
    assert set(outlines) == {"惠城区", "惠阳区"}
    for name, outline in outlines.items():
        located = [c for c in world.registry.cameras if c.gb_id in world.where and town(c) == name[:2]]
        assert outline["count"] == len(located)
        assert all(inside(outline["hull"], world.where[c.gb_id]) for c in located)
    stations = await client.get(f"{API}/map/outlines", params={"level": "station"}, headers=world.operator)
    assert [o["name"] for o in stations.json()] == ["淡水派出所"]
    bad = await client.get(f"{API}/map/outlines", params={"level": "planet"}, headers=world.admin)
    assert bad.status_code == 422 and "county" in bad.json()["detail"]


async def test_settings_open_the_map_on_the_users_cameras(
    client: httpx.AsyncClient, world: World, platform: Platform, session: AsyncSession
) -> None:
    async def settings(headers: dict[str, str]) -> dict:
        response = await client.get(f"{API}/console/settings", headers=headers)
        assert response.status_code == 200, response.text
        return response.json()["map"]

    city = await settings(world.admin)
    assert city["tiles_url"] == "" and city["center_from"] == "cameras" and city["zoom"] == 11
    lats = [lat for lat, _ in world.where.values()]
    assert city["center"][0] == pytest.approx(sum(lats) / len(lats))
    assert city["bounds"][0][0] == pytest.approx(min(lats)) and city["bounds"][1][0] == pytest.approx(max(lats))
    district = await settings(world.operator)
    assert district["center"][0] == pytest.approx(ORIGIN["惠阳"][0], abs=0.01)  # the operator's own district
    platform.config.web = WebConfig(
        map_tiles_url="https://tiles.example/{z}/{x}/{y}.png", map_attribution="© 测绘", map_center=[23.0, 114.5],
        map_zoom=13,
    )  # fmt: skip
    configured = await settings(world.operator)
    assert configured["tiles_url"] == "https://tiles.example/{z}/{x}/{y}.png" and configured["attribution"] == "© 测绘"
    assert configured["center"] == [23.0, 114.5] and configured["zoom"] == 13 and configured["center_from"] == "config"
    platform.config.web = WebConfig()
    await session.execute(update(Camera).values(latitude=None, longitude=None))
    await session.commit()
    nowhere = await settings(world.admin)
    assert nowhere["center_from"] == "default" and nowhere["center"] == [23.11, 114.41] and nowhere["bounds"] is None
    assert (await client.get(f"{API}/console/settings")).status_code == 401


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("MAP_TILES_URL", "https://tiles.example/{z}/{x}.png", "{y}"),
        ("MAP_TILES_URL", "tiles.example/{z}/{x}/{y}.png", "http"),
        ("MAP_CENTER", "23.1", "latitude"),
        ("MAP_CENTER", "114.41,23.11", "latitude first"),
        ("MAP_ZOOM", "0", "map_zoom"),
    ],
)
def test_bad_map_settings_stop_the_start(key: str, value: str, words: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        config.load(None, environ={f"TIANYAN_WEB__{key}": value})
    assert words in str(error.value) and f"TIANYAN_WEB__{key}" in str(error.value)


def test_map_settings_from_the_environment() -> None:
    loaded = config.load(None, environ={"TIANYAN_WEB__MAP_CENTER": "22.8,114.46", "TIANYAN_WEB__MAP_ZOOM": "12"})
    assert loaded.web.map_center == [22.8, 114.46] and loaded.web.map_zoom == 12 and loaded.web.map_tiles_url == ""
