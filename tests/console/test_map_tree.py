"""The resource tree and the camera map in Chromium against the demo: districts with their counts, finding a camera
by its GB ID and revealing it, a district operator's tree cut to its district, and cameras drawn where they stand."""

from __future__ import annotations

import itertools
import re
import time

from playwright.sync_api import Page, expect

from tests.console.conftest import Console

TREE = "[data-test=resource-tree]"
DEVICES_READY_S = 60


def tree_children(console: Console, username: str, node: str | None = None) -> list[dict]:
    with console.api(username) as client:
        response = client.get("/api/v1/tree", params={"node": node} if node else {})
        assert response.status_code == 200, response.text
        return response.json()["items"]


def cameras(console: Console) -> list[dict]:
    with console.api("admin") as client:
        response = client.get("/api/v1/cameras", params={"limit": 1000})
        assert response.status_code == 200, response.text
        return response.json()["items"]


def node(page: Page, name: str):  # type: ignore[no-untyped-def]
    return page.locator(f"{TREE} [data-test=tree-region]", has_text=name).first


def test_the_tree_shows_districts_and_finds_a_camera(open_page, console: Console) -> None:
    page = open_page("admin", path="/console/map")
    # The city opens by itself onto its districts, each with online / total. The demo's devices may still be
    # reporting their channels as the test starts, so the tree is refreshed until it agrees with the registry.
    for attempt in range(5):
        if attempt:
            page.get_by_test_id("tree-refresh").click()
        (city,) = tree_children(console, "admin")
        districts = tree_children(console, "admin", city["id"])
        try:
            for district in districts:
                counts = node(page, district["name"]).get_by_test_id("tree-counts")
                expect(counts).to_have_text(re.compile(rf"^\s*\d+\s*/\s*{district['counts']['total']}\b"))
            break
        except AssertionError:
            if attempt == 4:
                raise
    # A camera deep in the tree (city › district › station › owning unit), found by its GB ID, then revealed.
    target = next(c for c in cameras(console) if len(c["region"]) == 8 and c["owning_unit"] and not c["device"])
    page.get_by_test_id("tree-search").fill(target["gb_id"])
    hit = page.locator(f"{TREE} [data-test=tree-hit][data-gb-id='{target['gb_id']}']")
    expect(hit).to_contain_text(target["name"])
    expect(hit).to_contain_text(f"{target['region_name']} / {target['owning_unit']}")  # where it is
    hit.click()
    channel = f"[data-test=tree-channel][data-gb-id='{target['gb_id']}']"
    expect(page.locator(f"{TREE} {channel}")).to_be_visible()
    expect(page.locator(f"{TREE} .el-tree-node.is-current", has=page.locator(channel))).to_have_count(1)
    # The map flies there and says what it is.
    expect(page.get_by_test_id("map-popup")).to_contain_text(target["name"])
    assert page.evaluate("window.__tianyanMissingKeys") == []


def test_a_district_operator_sees_only_its_district(open_page) -> None:
    page = open_page("huiyang.operator", path="/console/map")
    top = page.locator(f"{TREE} .el-tree > .el-tree-node")
    expect(top).to_have_count(1)
    expect(top.first.get_by_test_id("tree-region").first).to_contain_text("惠阳区")
    expect(page.locator(f"{TREE} .el-tree-node__children [data-test=tree-region]").first).to_be_visible()
    expect(page.locator(TREE)).not_to_contain_text("惠城区")


def drawn(page: Page) -> dict:
    """What the map shows at one instant: the status line, the cameras clusters stand for, the single markers."""
    return page.evaluate(
        """() => ({
             status: document.querySelector('[data-test=map-status]').innerText,
             clustered: [...document.querySelectorAll('[data-test=map-cluster] > span')]
               .reduce((sum, span) => sum + Number(span.innerText), 0),
             markers: [...document.querySelectorAll('[data-test=map] [data-test=map-camera]')].map((m) => {
               const box = m.getBoundingClientRect();
               return [m.dataset.gbId, box.x + box.width / 2, box.y + box.height / 2];
             }),
           })"""
    )


def nvr_channel(console: Console) -> dict:
    """A channel of the simulated NVR, whose channels stand a few hundred metres apart; waits for the NVR to
    register and report its catalog."""
    deadline = time.monotonic() + DEVICES_READY_S
    while True:
        by_device: dict[str, list[dict]] = {}
        for camera in cameras(console):
            if camera["device"] and camera["latitude"] is not None:
                by_device.setdefault(camera["device"], []).append(camera)
        channels = max(by_device.values(), key=len, default=[])
        if len(channels) >= 3:
            return channels[0]
        assert time.monotonic() < deadline, "the simulated NVR did not report its channels"
        time.sleep(1)


def test_the_map_draws_cameras_where_they_stand(open_page, console: Console, shot) -> None:
    page = open_page("admin", path="/console/map")
    # The whole city: clusters with their numbers, and the cameras standing alone; every camera counted once.
    expect(page.get_by_test_id("map-cluster").first).to_be_visible()
    city = drawn(page)
    in_view = int(re.search(r"\d+", city["status"]).group())  # type: ignore[union-attr]
    assert in_view > 100 and city["clustered"] + len(city["markers"]) == in_view
    expect(page.get_by_test_id("map-legend")).to_contain_text("在线")
    expect(node(page, "惠阳区")).to_be_visible()  # the tree beside it has opened onto the districts
    shot(page, "map")

    # Down to a street, through the tree.
    channel = nvr_channel(console)
    page.get_by_test_id("tree-search").fill(channel["gb_id"])
    page.locator(f"{TREE} [data-test=tree-hit][data-gb-id='{channel['gb_id']}']").click()
    expect(page.get_by_test_id("map-popup")).to_contain_text(channel["name"])
    street = drawn(page)
    where = {c["gb_id"]: (c["latitude"], c["longitude"]) for c in cameras(console) if c["latitude"] is not None}
    points = [(where[gb_id], x, y) for gb_id, x, y in street["markers"]]
    assert street["clustered"] == 0 and len(points) == int(re.search(r"\d+", street["status"]).group()) >= 3
    # Screen x is a linear function of longitude: fitted on the two cameras farthest apart, it places every other
    # one within two pixels. North is up: a camera further north is never drawn lower.
    west = min(points, key=lambda p: p[0][1])
    east = max(points, key=lambda p: p[0][1])
    scale = (east[1] - west[1]) / (east[0][1] - west[0][1])
    assert scale > 0
    for (lat, lon), x, _ in points:
        assert abs(west[1] + (lon - west[0][1]) * scale - x) < 2, (lat, lon, x)
    by_latitude = sorted(points, key=lambda p: p[0][0])
    assert all(a[2] >= b[2] - 0.5 for a, b in itertools.pairwise(by_latitude))
    popup = page.get_by_test_id("map-popup")
    expect(popup).to_contain_text(channel["gb_id"])
    # The live wall takes the camera from the address and may tidy the address at once: record where we went.
    page.evaluate(
        """() => { window.__visited = []; const push = history.pushState;
                   history.pushState = function (state, title, url) { window.__visited.push(String(url));
                                                                     return push.apply(this, arguments); }; }"""
    )
    popup.get_by_test_id("map-live").click()
    expect(page).to_have_url(re.compile(r"/console/live"))
    assert page.evaluate("window.__visited")[0].endswith(f"/console/live?camera={channel['gb_id']}")
