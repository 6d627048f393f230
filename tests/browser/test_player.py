"""The player page in a real Chromium: live video plays (MSE over WebSocket, and HLS), recorded footage plays with
its wall-clock time, the controls work, and a camera that cannot stream says so on the page."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from playwright.async_api import Browser, Page

from tests.browser.conftest import RECORDED_AT, Console, logged_in_page

PLAY_TIMEOUT_S = 15.0


async def current_time(page: Page) -> float:
    return float(await page.evaluate("document.getElementById('video').currentTime"))


async def player_state(page: Page) -> dict:
    return await page.evaluate(
        "({technique: tianyanPlayer.technique, state: tianyanPlayer.state, errors: tianyanPlayer.errors,"
        " header: tianyanPlayer.header, rate: document.getElementById('video').playbackRate,"
        " paused: document.getElementById('video').paused, readyState: document.getElementById('video').readyState,"
        " buffered: Array.from({length: document.getElementById('video').buffered.length}, (_, i) =>"
        " [document.getElementById('video').buffered.start(i), document.getElementById('video').buffered.end(i)])})"
    )


async def assert_video_advances(page: Page, by_s: float = 1.0) -> float:
    """Wait (up to PLAY_TIMEOUT_S) for the picture to start, then for its time to move on by `by_s`."""
    deadline = time.monotonic() + PLAY_TIMEOUT_S
    start = await current_time(page)
    while (now := await current_time(page)) < start + by_s or now == 0:
        if time.monotonic() > deadline:
            raise AssertionError(f"the video did not play: currentTime {start} -> {now}; {await player_state(page)}")
        if now == 0:
            start = 0.0
        await asyncio.sleep(0.2)
    return now


async def until(check, timeout_s: float = PLAY_TIMEOUT_S, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, f"{what} not reached in {timeout_s} s"
        await asyncio.sleep(0.2)


async def test_this_chromium_plays_h264_through_media_source_extensions(browser: Browser) -> None:
    page = await browser.new_page()
    supported = await page.evaluate(
        """() => Object.fromEntries([
            'video/mp4; codecs="avc1.64001f"', 'video/mp4; codecs="avc1.42E01E"',
            'video/mp4; codecs="avc1.64001f, mp4a.40.2"', 'video/mp4; codecs="hvc1.1.6.L93.B0"',
        ].map(type => [type, MediaSource.isTypeSupported(type)]))"""
    )
    print(f"MSE support in {browser.version}: {supported}")
    assert supported['video/mp4; codecs="avc1.64001f"'], f"this Chromium cannot play H.264 in MSE: {supported}"
    assert supported['video/mp4; codecs="avc1.64001f, mp4a.40.2"']


async def test_live_view_plays_in_the_browser_and_stops_the_stream_on_leaving(
    browser: Browser, console: Console
) -> None:
    page = await logged_in_page(browser, console)
    await page.goto(f"/player?camera={console.camera}&mode=live")
    await assert_video_advances(page, by_s=1.5)
    state = await player_state(page)
    assert state["technique"] == "mse-ws" and state["errors"] == []
    assert state["header"]["width"] == 320 and state["header"]["mime_codec"].startswith("video/mp4")
    assert await page.text_content("#mode-badge") == "LIVE"
    assert "320×240" in (await page.text_content("#info") or "")
    clock_text = await page.text_content("#wall-clock") or ""
    assert clock_text[:4].isdigit() and clock_text[4] == "-"
    # Pausing holds the picture; play jumps back to the live edge.
    await page.click("#play")
    paused_at = await current_time(page)
    await asyncio.sleep(0.6)
    assert await current_time(page) == paused_at
    await page.click("#play")
    await assert_video_advances(page, by_s=0.5)
    assert console.factory.opened == [(console.camera, "main")]
    await page.context.close()
    await until(_no_upstream(console), what="the upstream stopping after the page closed")


def _no_upstream(console: Console):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return console.factory.running == 0

    return check


async def test_live_view_over_hls_plays_too(browser: Browser, console: Console) -> None:
    page = await logged_in_page(browser, console)
    await page.goto(f"/player?camera={console.camera}&mode=live&transport=hls")
    await assert_video_advances(page, by_s=1.0)
    assert (await player_state(page))["technique"] == "hls"


async def test_a_camera_that_cannot_stream_shows_why(browser: Browser, console: Console) -> None:
    console.factory.offline.add(console.camera)
    page = await logged_in_page(browser, console)
    await page.goto(f"/player?camera={console.camera}&mode=live")
    error = page.locator("#error")
    await error.wait_for(state="visible", timeout=PLAY_TIMEOUT_S * 1000)
    text = await error.text_content() or ""
    assert "unavailable" in text and "offline" in text, text


async def test_the_page_explains_a_missing_camera_and_a_missing_login(browser: Browser, console: Console) -> None:
    page = await browser.new_page(base_url=console.base_url)
    await page.goto("/player?mode=live")
    assert "20-digit GB ID" in (await page.text_content("#error") or "")
    await page.goto(f"/player?camera={console.camera}&mode=live")
    error = page.locator("#error")
    await error.wait_for(state="visible", timeout=PLAY_TIMEOUT_S * 1000)
    assert "Not logged in" in (await error.text_content() or "")


async def test_recorded_footage_plays_with_wall_clock_time_speed_and_frame_step(
    browser: Browser, console: Console
) -> None:
    page = await logged_in_page(browser, console)
    start = RECORDED_AT + timedelta(seconds=1)
    end = RECORDED_AT + timedelta(seconds=14)
    await page.goto(
        f"/player?camera={console.camera}&mode=playback&from={start.isoformat().replace('+00:00', 'Z')}"
        f"&to={end.isoformat().replace('+00:00', 'Z')}"
    )
    await assert_video_advances(page, by_s=1.0)
    state = await player_state(page)
    assert state["technique"] == "mse-http" and state["errors"] == [], state
    assert await page.text_content("#mode-badge") == "PLAYBACK"
    assert await page.locator("#timeline").is_visible()
    assert await page.locator(".spans > .gap").count() == 1  # the 2 s hole in the recording
    # The clock shows the recording's own time (UTC 08:00 in the browser's zone).
    wall = await page.evaluate(
        "() => { const t = document.getElementById('wall-clock').textContent;"
        " return new Date(t.replace(' ', 'T')).getTime(); }"
    )
    assert RECORDED_AT.timestamp() * 1000 <= wall <= end.timestamp() * 1000, wall
    await page.select_option("#speed", "2")
    assert (await player_state(page))["rate"] == 2
    await assert_video_advances(page, by_s=1.0)
    await page.click("#play")  # pause
    before = await current_time(page)
    await page.click("#step")
    await until(lambda: _moved(page, before), what="one frame forward")
    stepped = await current_time(page)
    assert abs(stepped - before - 1 / 25) < 0.02
    # Seeking on the timeline: near its end, after the gap.
    box = await page.locator("#track").bounding_box()
    assert box is not None
    await page.mouse.click(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2)
    await page.click("#play")
    await assert_video_advances(page, by_s=0.5)
    wall_after = await page.evaluate(
        "() => new Date(document.getElementById('wall-clock').textContent.replace(' ', 'T')).getTime()"
    )
    assert wall_after >= (RECORDED_AT + timedelta(seconds=10)).timestamp() * 1000


async def _moved(page: Page, before: float) -> bool:
    return await current_time(page) > before
