"""The live wall in real Chromium against the demo's simulated cameras: a camera opened from a link plays, its
tile switches to the sub stream and plays again, a dome is steered from the PTZ pad and the auditor finds the
command in the audit log; sixteen channels fill a 16-tile wall from the resource tree; a camera without a video
source says why instead of showing a black box."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.console.conftest import Console

# The simulated devices register a few seconds after the demo answers; a first INVITE takes a moment more.
DEVICES_READY_S = 90
FIRST_PICTURE_MS = 45_000
STEERABLE_PTZ_TYPES = (1, 4)
NVR_TYPE_CODE = "118"


def online_channels(console: Console, username: str, want: Callable[[dict[str, Any], dict[str, Any]], bool]) -> list:
    """Channels of the online simulated devices `username` may see, for which want(device, channel) holds; waits
    for the devices to register and report their catalog."""
    deadline = time.monotonic() + DEVICES_READY_S
    with console.api(username) as client:
        while True:
            found = []
            devices = client.get("/api/v1/devices", params={"online": "true", "limit": 1000}).json()["items"]
            for device in devices:
                for channel in client.get(f"/api/v1/devices/{device['gb_id']}/channels").json():
                    if channel["online"] and want(device, channel):
                        found.append(channel["gb_id"])
            if found:
                return found
            assert time.monotonic() < deadline, f"no suitable simulated channel for {username}: {devices}"
            time.sleep(1)


def is_dome(_device: dict[str, Any], channel: dict[str, Any]) -> bool:
    return channel["kind"] == "ptz" or channel["ptz_type"] in STEERABLE_PTZ_TYPES


def tile_of(page: Page, gb_id: str) -> Locator:
    return page.locator(f'[data-test="wall-tile"][data-gb-id="{gb_id}"]')


def assert_video_advances(page: Page, tile: Locator, by_s: float = 1.0) -> None:
    video = tile.locator("video").element_handle()
    start = video.evaluate("v => v.currentTime")
    page.wait_for_function("([v, start, by]) => v.currentTime > start + by", arg=[video, start, by_s])


def test_an_operator_watches_a_camera_switches_to_the_sub_stream_and_steers_it(
    console: Console, open_page: Callable[..., Page]
) -> None:
    channel = online_channels(console, "huiyang.operator", is_dome)[0]
    # The map links to the wall with ?camera=: the camera opens in the first tile.
    page = open_page("huiyang.operator", path=f"/console/live?camera={channel}")
    tile = tile_of(page, channel)
    expect(tile).to_have_attribute("data-state", "playing", timeout=FIRST_PICTURE_MS)
    expect(tile.get_by_test_id("tile-state")).to_have_text("播放中")
    assert_video_advances(page, tile)
    main_width = tile.locator("video").evaluate("v => v.videoWidth")
    assert main_width > 0

    tile.get_by_test_id("tile-stream-sub").click()
    expect(tile).to_have_attribute("data-stream", "sub")
    # The sub stream is the smaller picture; once it shows, the tile plays again.
    page.wait_for_function(
        "([v, width]) => v.videoWidth > 0 && v.videoWidth < width",
        arg=[tile.locator("video").element_handle(), main_width],
        timeout=FIRST_PICTURE_MS,
    )
    expect(tile).to_have_attribute("data-state", "playing")
    assert_video_advances(page, tile)

    # The tile opened from the link is the selected one: its PTZ pad steers this camera.
    expect(page.get_by_test_id("selected-camera")).to_contain_text(channel)
    pad = page.get_by_test_id("ptz-pad")
    expect(pad).to_have_attribute("data-enabled", "true")
    page.get_by_test_id("ptz-up").hover()
    page.mouse.down()
    expect(pad).to_have_attribute("data-last", "up")
    page.mouse.up()
    expect(pad).to_have_attribute("data-last", "stop")
    expect(pad).to_have_attribute("data-last-ok", "true")

    auditor = open_page("auditor")
    answer = auditor.request.get("/api/v1/audit", params={"actor": "huiyang.operator", "target": channel})
    assert answer.ok, answer.text()
    entries = answer.json()["items"]
    actions = [entry["action"] for entry in entries]
    assert "ptz.up" in actions and "ptz.stop" in actions, actions
    streams = {entry["detail"].get("stream") for entry in entries if entry["action"] == "video.live"}
    assert streams == {"main", "sub"}, entries


def test_sixteen_channels_fill_the_wall_from_the_resource_tree(
    console: Console, open_page: Callable[..., Page], shot: Callable[[Page, str], Any]
) -> None:
    channels = online_channels(console, "admin", lambda device, _: device["type_code"] == NVR_TYPE_CODE)
    assert len(channels) >= 16, channels
    channels = channels[:16]
    page = open_page("admin", path="/console/live")
    page.get_by_test_id("layout-16").click()
    expect(page.get_by_test_id("wall-tile")).to_have_count(16)

    # Find the NVR in the tree through the search; picking the hit opens the tree down to its channels.
    page.get_by_test_id("tree-search").fill(channels[0])
    page.get_by_test_id("tree-hit").first.click()
    for gb_id in channels[:15]:
        page.locator(f'[data-test="tree-channel"][data-gb-id="{gb_id}"]').dblclick()
    # The last one is dragged onto the last tile.
    last_tile = page.get_by_test_id("wall-tile").nth(15)
    page.locator(f'[data-test="tree-channel"][data-gb-id="{channels[15]}"]').drag_to(last_tile)
    expect(last_tile).to_have_attribute("data-gb-id", channels[15])

    tiles = page.get_by_test_id("wall-tile")
    for index, gb_id in enumerate(channels):
        expect(tiles.nth(index)).to_have_attribute("data-gb-id", gb_id)
        # A crowded wall plays the sub streams.
        expect(tiles.nth(index)).to_have_attribute("data-stream", "sub")
    # Each tile gets somewhere (a picture, or a reason it has none) rather than connecting for ever.
    page.wait_for_function(
        """() => {
            const states = Array.from(document.querySelectorAll('[data-test=wall-tile]'), (tile) => tile.dataset.state);
            return !states.includes('connecting') && states.filter((state) => state === 'playing').length >= 4;
        }""",
        timeout=2 * FIRST_PICTURE_MS,
    )
    # Every tile says what it is doing: never a black box.
    for index in range(16):
        expect(tiles.nth(index).get_by_test_id("tile-state")).not_to_have_text("")
    expect(page.get_by_test_id("wall-count")).to_contain_text("/ 16")
    shot(page, "live-wall")

    # Closing a tile lets its stream go.
    tiles.nth(0).get_by_test_id("tile-close").click()
    expect(tiles.nth(0)).to_have_attribute("data-state", "empty")
    assert tiles.nth(0).locator("video").evaluate("v => !v.getAttribute('src')")


def test_a_camera_without_a_video_source_says_why(console: Console, open_page: Callable[..., Page]) -> None:
    with console.api("admin") as client:
        cameras = client.get("/api/v1/cameras", params={"limit": 200}).json()["items"]
    unconnected = next(camera for camera in cameras if camera["device"] is None)
    page = open_page("admin", language="en", path=f"/console/live?camera={unconnected['gb_id']}")
    tile = tile_of(page, unconnected["gb_id"])
    expect(tile).to_have_attribute("data-state", "error", timeout=FIRST_PICTURE_MS)
    expect(tile).to_have_attribute("data-reason", "noSource")
    expect(tile.get_by_test_id("tile-state")).to_have_text("Not connected")
    expect(tile.get_by_test_id("tile-message")).to_contain_text("no video connected")
    assert page.evaluate("window.__tianyanMissingKeys") == []
