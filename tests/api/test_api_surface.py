"""The HTTP API as an integrator meets it: /api/v1, OpenAPI, problem details, limits, cursors, regions, devices."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.registry_fixtures import CITY, HUICHENG, HUIYANG, add_user, api_key, build_registry
from tianyan.api.app import create_app
from tianyan.app.platform import Platform
from tianyan.core import gbid

API = "/api/v1"


@pytest.fixture
async def admin(session: AsyncSession) -> dict[str, str]:
    await build_registry(session, sensitive=(False,))
    user = await add_user(session, "boss", "admin", all_regions=True)
    headers = await api_key(session, user)
    await session.commit()
    return headers


@pytest.fixture
async def huiyang_maintainer(session: AsyncSession, admin: dict[str, str]) -> dict[str, str]:
    user = await add_user(session, "hy.maint", "maintainer", regions=[HUIYANG])
    headers = await api_key(session, user)
    await session.commit()
    return headers


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"].startswith(API)
    return body


async def test_openapi_lists_every_domain_under_api_v1(client: httpx.AsyncClient) -> None:
    spec = (await client.get(f"{API}/openapi.json")).json()
    paths = set(spec["paths"])
    for path in ("/cameras", "/cameras/{gb_id}", "/cameras/import", "/cameras/export", "/devices", "/regions",
                 "/organisations", "/users", "/auth/login", "/audit", "/audit/verify", "/plans/{plan_id}/progress",
                 "/gbid/{value}"):  # fmt: skip
        assert f"{API}{path}" in paths
    assert all(path.startswith(API) for path in paths)
    docs = await client.get(f"{API}/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


async def test_errors_are_problem_details(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    assert_problem(await client.get(f"{API}/no-such-thing", headers=admin), 404)
    assert_problem(await client.put(f"{API}/health", headers=admin), 405)
    body = assert_problem(await client.get(f"{API}/cameras", params={"limit": 0}, headers=admin), 422)
    assert any(error["location"] == "query.limit" for error in body["errors"])  # type: ignore[union-attr]
    bad_id = assert_problem(await client.get(f"{API}/cameras/12345", headers=admin), 422)
    assert "20 digits" in str(bad_id["detail"])
    absent = gbid.build(centre=HUICHENG, serial=999_999).value
    missing = assert_problem(await client.get(f"{API}/cameras/{absent}", headers=admin), 404)
    assert missing["instance"] == f"{API}/cameras/{absent}"


async def test_request_size_is_limited(platform: Platform, admin: dict[str, str]) -> None:
    platform.config.server.max_request_bytes = 4096
    transport = httpx.ASGITransport(app=create_app(platform))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as small:
        declared = await small.post(f"{API}/regions", content=b"x" * 5000, headers=admin)
        assert_problem(declared, 413)

        async def chunks():  # no Content-Length: the limit must still hold
            for _ in range(10):
                yield b"y" * 1000

        streamed = await small.post(f"{API}/regions", content=chunks(), headers=admin)
        assert_problem(streamed, 413)
        fine = await small.post(
            f"{API}/regions", json={"code": "44130299", "name": "测试所", "level": "station", "parent": HUICHENG},
            headers=admin,
        )  # fmt: skip
        assert fine.status_code == 201, fine.text


async def test_camera_cursor_walks_every_camera_once(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    seen: list[str] = []
    after, pages = 0, 0
    while True:
        page = (await client.get(f"{API}/cameras", params={"limit": 7, "after": after}, headers=admin)).json()
        pages += 1
        assert len(page["items"]) <= 7
        seen += [item["gb_id"] for item in page["items"]]
        if page["next_after"] is None:
            break
        after = page["next_after"]
    assert len(seen) == len(set(seen)) == page["total"] == 4 * 3 * 3
    assert pages == -(-page["total"] // 7)
    too_many = await client.get(f"{API}/cameras", params={"limit": 1001}, headers=admin)
    assert_problem(too_many, 422)


async def test_camera_filters(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    async def total(**params: object) -> int:
        response = await client.get(f"{API}/cameras", params={**params, "limit": 1}, headers=admin)
        assert response.status_code == 200, response.text
        return int(response.json()["total"])

    assert await total() == 36
    assert await total(region=HUIYANG) == 18  # the district and its station
    assert await total(region=HUIYANG, network="police") == 6
    assert await total(**{"class": 1}) == 12
    assert await total(q="441303") == 18  # GB ID prefix: the district's centre code and its station's
    assert await total(q="44130300") == 9  # the district's own centre code only
    assert await total(q=f"{HUICHENG}-social-2") == 1  # by name


async def test_camera_lifecycle(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    gb_id = gbid.build(centre=HUICHENG, type_code="132", network="8", serial=901).value
    body = {"gb_id": gb_id, "name": "河南岸学校门口", "class": 2, "network": "social", "region": HUICHENG,
            "sector": "S-EDU", "main_width": 1920, "main_height": 1080, "main_fps": 25, "labels": ["学校"]}  # fmt: skip
    created = await client.post(f"{API}/cameras", json=body, headers=admin)
    assert created.status_code == 201, created.text
    camera = created.json()
    assert (camera["class"], camera["hd"], camera["retention_days"], camera["region_name"]) == (2, True, 15, "惠城区")
    assert_problem(await client.post(f"{API}/cameras", json=body, headers=admin), 409)

    changed = await client.patch(f"{API}/cameras/{gb_id}", json={"retention_days": 30, "main_fps": 15}, headers=admin)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["retention_days"], changed.json()["hd"]) == (30, False)
    too_short = await client.patch(f"{API}/cameras/{gb_id}", json={"retention_days": 7}, headers=admin)
    assert "legal minimum" in str(assert_problem(too_short, 422)["detail"])

    deleted = await client.delete(f"{API}/cameras/{gb_id}", params={"reason": "拆除"}, headers=admin)
    assert deleted.status_code == 204
    assert_problem(await client.get(f"{API}/cameras/{gb_id}", headers=admin), 404)


async def test_region_tree_with_locally_assigned_codes(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    zone = {"code": "441371", "name": "大亚湾区", "level": "county", "parent": CITY, "locally_assigned": True}
    created = await client.post(f"{API}/regions", json=zone, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["path"] == "/440000/441300/441371/"
    station = {"code": "44137101", "name": "西区派出所", "level": "station", "parent": "441371"}
    assert (await client.post(f"{API}/regions", json=station, headers=admin)).status_code == 201

    subtree = (await client.get(f"{API}/regions", params={"under": "441371"}, headers=admin)).json()
    assert [(r["code"], r["parent"], r["locally_assigned"]) for r in subtree] == [
        ("441371", CITY, True), ("44137101", "441371", False),
    ]  # fmt: skip
    upside_down = {"code": "441399", "name": "错层", "level": "city", "parent": "441371"}
    assert "cannot sit under" in str(assert_problem(await client.post(f"{API}/regions", json=upside_down,
                                                                       headers=admin), 422)["detail"])  # fmt: skip
    assert_problem(await client.post(f"{API}/regions", json=zone, headers=admin), 409)


async def test_devices_are_scoped_and_enrolments_approved(
    client: httpx.AsyncClient, admin: dict[str, str], huiyang_maintainer: dict[str, str]
) -> None:
    huicheng_nvr = gbid.build(centre=HUICHENG, type_code="118", serial=1).value
    huiyang_nvr = gbid.build(centre=HUIYANG, type_code="118", serial=2).value
    for gb_id, region in ((huicheng_nvr, HUICHENG), (huiyang_nvr, HUIYANG)):
        response = await client.post(
            f"{API}/devices", json={"gb_id": gb_id, "name": f"NVR {region}", "region": region}, headers=admin
        )
        assert response.status_code == 201, response.text
        assert response.json()["type_name"] == "NVR"

    mine = (await client.get(f"{API}/devices", headers=huiyang_maintainer)).json()["items"]
    assert [d["gb_id"] for d in mine] == [huiyang_nvr]
    elsewhere = {"gb_id": gbid.build(centre=HUICHENG, type_code="118", serial=3).value, "name": "x",
                 "region": HUICHENG}  # fmt: skip
    assert_problem(await client.post(f"{API}/devices", json=elsewhere, headers=huiyang_maintainer), 403)
    # Maintainers add devices but do not approve enrolments.
    approval = await client.put(
        f"{API}/devices/{huiyang_nvr}/approval", json={"approval": "rejected"}, headers=huiyang_maintainer
    )
    assert_problem(approval, 403)
    approval = await client.put(f"{API}/devices/{huiyang_nvr}/approval", json={"approval": "rejected"}, headers=admin)
    assert approval.json()["approval"] == "rejected"
    rejected = (await client.get(f"{API}/devices", params={"approval": "rejected"}, headers=admin)).json()["items"]
    assert [d["gb_id"] for d in rejected] == [huiyang_nvr]


async def test_gbid_decode_and_build(client: httpx.AsyncClient) -> None:
    decoded = (await client.get(f"{API}/gbid/44130200001320000007")).json()
    assert (decoded["centre"]["region_code"], decoded["type"]["code"], decoded["serial"]) == ("441302", "132", "000007")
    built = await client.post(f"{API}/gbid", json={"centre": "441302", "type": "118", "serial": 9})
    assert built.json()["id"] == "44130200001180000009"
    assert "province" in str(assert_problem(await client.get(f"{API}/gbid/99130200001320000007"), 422)["detail"])
