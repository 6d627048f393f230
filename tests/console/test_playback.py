"""Recorded playback in the console: a camera the demo records plays back on its day, the timeline seeks to where it
is clicked, and an analyst exports a stretch (never without a reason), follows the job and downloads an MP4 that
ffprobe reads and whose SHA-256 is the one the page shows. Channels picked in the resource tree play side by side
on one clock; an administrator may watch but not export."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from tests.console.conftest import Console

# The demo is a city in China; the console fixture's browsers run on Beijing time.
ZONE = "Asia/Shanghai"
FOOTAGE_S = 24  # recorded seconds wanted before the test starts: enough to seek and to cut a stretch from
WAIT_FOR_FOOTAGE_S = 150
EXPORT_TIMEOUT_MS = 90_000


def recorded_cameras(console: Console, count: int = 1) -> list[tuple[str, datetime, datetime]]:
    """Cameras the demo records (one a district), once their index holds FOOTAGE_S seconds: GB ID, first, last."""
    deadline = time.monotonic() + WAIT_FOR_FOOTAGE_S
    with console.api("city.analyst") as client:
        while True:
            items = client.get("/api/v1/recordings/compliance", params={"limit": 1000}).json()["items"]
            now = datetime.now(UTC)
            window = {"from": (now - timedelta(hours=2)).isoformat(), "to": (now + timedelta(minutes=5)).isoformat()}
            found = []
            for gb_id in [item["gb_id"] for item in items if item["oldest_footage_at"]]:
                segments = client.get(f"/api/v1/cameras/{gb_id}/recordings", params=window).json()["segments"]
                if not segments:
                    continue
                first = min(datetime.fromisoformat(s["start_at"]) for s in segments)
                last = max(datetime.fromisoformat(s["end_at"]) for s in segments)
                if (last - first).total_seconds() >= FOOTAGE_S:
                    found.append((gb_id, first, last))
            if len(found) >= count:
                return found[:count]
            assert time.monotonic() < deadline, f"the demo recorded no {FOOTAGE_S} s of {count} cameras in time"
            time.sleep(2)


def beijing_day(when: datetime) -> str:
    return when.astimezone(ZoneInfo(ZONE)).date().isoformat()


def wall_clock(page: Page) -> int:
    return int(page.get_by_test_id("playback-clock").get_attribute("data-wall") or 0)


def timeline_time_at(page: Page, x: float) -> float:
    """The wall time (epoch ms) the timeline shows at page coordinate x, from the view it says it shows."""
    view = page.get_by_test_id("timeline").evaluate("e => [Number(e.dataset.viewFrom), Number(e.dataset.viewTo)]")
    track = page.get_by_test_id("timeline-track").bounding_box()
    assert track is not None
    return view[0] + (x - track["x"]) / track["width"] * (view[1] - view[0])


def wait_for_video_to_advance(page: Page, by_s: float) -> None:
    start = page.get_by_test_id("playback-video").first.evaluate("v => v.currentTime")
    page.wait_for_function(
        "([t, by]) => document.querySelector('[data-test=playback-video]').currentTime > t + by", arg=[start, by_s]
    )


def test_a_recorded_day_plays_seeks_and_exports_with_a_reason(open_page, console: Console, shot) -> None:
    [(gb_id, first, last)] = recorded_cameras(console)
    with console.api("city.analyst") as client:
        exports_before = client.get("/api/v1/exports").json()["items"]
    page = open_page("city.analyst")
    page.goto(f"/console/playback?camera={gb_id}&day={beijing_day(last)}")

    tile = page.get_by_test_id("playback-tile").first
    expect(tile).to_have_attribute("data-gb-id", gb_id)
    expect(tile).to_have_attribute("data-state", "playing", timeout=30_000)
    wait_for_video_to_advance(page, 1.0)
    timeline = page.get_by_test_id("timeline")
    expect(timeline).not_to_have_attribute("data-ranges", "0")
    # The clock shows the recording's own time: within the recorded stretch.
    assert first.timestamp() * 1000 - 1000 <= wall_clock(page) <= last.timestamp() * 1000 + 60_000

    # Seek: zoom to the footage, click three quarters along it; the clock goes there and the picture plays on.
    page.get_by_test_id("timeline-fit").click()
    recorded = page.get_by_test_id("timeline-range").first.bounding_box()
    assert recorded is not None
    x = recorded["x"] + recorded["width"] * 0.75
    target = timeline_time_at(page, x)
    assert abs(target - wall_clock(page)) > 5000, "the click must move the position noticeably"
    page.mouse.click(x, recorded["y"] + recorded["height"] / 2)
    page.wait_for_function(
        "([low, high]) => { const w = Number(document.querySelector('[data-test=playback-clock]').dataset.wall);"
        " return w >= low && w <= high; }",
        arg=[target - 1000, target + 8000],
    )
    expect(tile).to_have_attribute("data-state", "playing")
    wait_for_video_to_advance(page, 0.5)

    # Export: select a stretch on the timeline, then the dialog refuses to go on without a reason.
    page.get_by_test_id("playback-select").click()
    recorded = page.get_by_test_id("timeline-range").first.bounding_box()
    assert recorded is not None
    y = recorded["y"] + recorded["height"] / 2
    page.mouse.move(recorded["x"] + recorded["width"] * 0.2, y)
    page.mouse.down()
    page.mouse.move(recorded["x"] + recorded["width"] * 0.55, y, steps=8)
    page.mouse.up()
    expect(page.get_by_test_id("timeline-selection")).to_be_visible()
    page.get_by_test_id("playback-export").click()
    dialog = page.get_by_test_id("export-dialog")
    expect(dialog).to_be_visible()
    reason = page.get_by_test_id("export-reason")
    for empty in ("", "   "):
        reason.fill(empty)
        page.get_by_test_id("export-submit").click()
        expect(dialog.get_by_text("请填写导出事由")).to_be_visible()
        expect(dialog).to_be_visible()
    with console.api("city.analyst") as client:
        assert client.get("/api/v1/exports").json()["items"] == exports_before

    reason.fill("2026-1122 盗窃案调查取证")
    page.get_by_test_id("export-submit").click()
    expect(dialog).to_be_hidden()
    job = page.get_by_test_id("export-job").first
    expect(job).to_contain_text("2026-1122 盗窃案调查取证")
    expect(job).to_have_attribute("data-status", "done", timeout=EXPORT_TIMEOUT_MS)
    shown_hash = job.get_by_test_id("export-sha256").get_attribute("title")
    # Back to the middle of the footage for the screenshot (for the docs), once the notices have faded.
    recorded = page.get_by_test_id("timeline-range").first.bounding_box()
    assert recorded is not None
    page.mouse.click(recorded["x"] + recorded["width"] * 0.4, recorded["y"] + recorded["height"] / 2)
    expect(tile).to_have_attribute("data-state", "playing")
    expect(page.locator(".el-message")).to_have_count(0)
    shot(page, "playback")

    with page.expect_download() as download:
        job.get_by_test_id("export-download").click()
    path = Path(download.value.path())
    assert download.value.suggested_filename.endswith(".mp4")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == shown_hash
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type:format=duration", "-of", "json", str(path)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    media = json.loads(probe.stdout)
    assert [s["codec_type"] for s in media["streams"]] == ["video"], media
    assert float(media["format"]["duration"]) > 1.0, media


def open_from_tree(page: Page, gb_id: str) -> None:
    """Find the channel with the tree's search, which reveals it in the tree, and double-click it there."""
    page.get_by_test_id("tree-search").fill(gb_id)
    page.locator(f'[data-test=tree-hit][data-gb-id="{gb_id}"]').click()
    page.locator(f'[data-test=tree-channel][data-gb-id="{gb_id}"]').dblclick()


def test_channels_from_the_tree_play_on_one_clock_and_an_administrator_cannot_export(
    open_page, console: Console
) -> None:
    (one, _, _), (two, _, _) = recorded_cameras(console, 2)
    page = open_page("admin", language="en")
    page.goto("/console/playback")
    open_from_tree(page, one)
    tiles = page.get_by_test_id("playback-tile")
    expect(tiles.first).to_have_attribute("data-gb-id", one)
    expect(tiles.first).to_have_attribute("data-state", "playing", timeout=30_000)
    expect(tiles.first.get_by_test_id("playback-tile-state")).to_have_text("Playing")
    page.get_by_test_id("playback-layout").get_by_text("4 windows").click()
    open_from_tree(page, two)
    expect(tiles.nth(1)).to_have_attribute("data-gb-id", two)
    expect(tiles.nth(1)).to_have_attribute("data-state", "playing", timeout=30_000)
    # The address names both channels, so the view can be shared or bookmarked.
    expect(page).to_have_url(re.compile(rf"[?&]camera={one}(,|%2C){two}"))
    # Both windows show the same moment: the second follows the first's clock.
    page.wait_for_function(
        "() => { const [a, b] = Array.from(document.querySelectorAll('[data-test=playback-tile]')).slice(0, 2)"
        ".map(t => Number(t.dataset.wall)); return a > 0 && b > 0 && Math.abs(a - b) < 1000; }"
    )
    # Separation of duties: administrators have no video.export, so the page offers no export.
    expect(page.get_by_test_id("timeline")).to_be_visible()
    expect(page.get_by_test_id("playback-export")).to_have_count(0)
    expect(page.get_by_test_id("playback-select")).to_have_count(0)
