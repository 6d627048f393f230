"""Browser fixtures: Debian's Chromium under Playwright (missing: the run fails, never skips), and a running
console: the real app under uvicorn on a loopback port, a registry, an operator to log in as, a StreamHub fed by
synthetic pictures, and recorded footage made with ffmpeg."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.async_api import Browser, Page, async_playwright
from sqlalchemy.ext.asyncio import AsyncSession

from tests.media.test_live import SyntheticFactory
from tests.media.test_live_api import running_server
from tests.registry_fixtures import PASSWORD, add_user, build_registry
from tianyan.api.app import create_app
from tianyan.app.platform import Platform
from tianyan.media.hub import StreamHub
from tianyan.media.models import RecordingSegment

CHROMIUM = Path("/usr/bin/chromium")
# Recorded footage: three 4 s segments, the third after a 2 s gap, starting at RECORDED_AT.
RECORDED_AT = datetime(2026, 1, 1, 8, 0, 0, tzinfo=UTC)
SEGMENT_S = 4
SEGMENT_STARTS_S = (0, 4, 10)
FPS = 25


@pytest.fixture
def backend() -> str:
    # The browser tests are about the player; both databases are covered by the API tests.
    return "sqlite"


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not CHROMIUM.is_file():
        pytest.fail(f"Chromium is required at {CHROMIUM} for the browser tests (apt-get install chromium)")
    return str(CHROMIUM)


@pytest.fixture
async def browser(chromium_path: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            args=["--autoplay-policy=no-user-gesture-required", "--mute-audio"],
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture(scope="session")
def recorded_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Recorder-like segments: fragmented MP4, 320x240 H.264, a keyframe every second."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.fail("ffmpeg is required for the browser playback test")
    folder = tmp_path_factory.mktemp("recorded")
    files = []
    for index in range(len(SEGMENT_STARTS_S)):
        out = folder / f"segment-{index}.mp4"
        subprocess.run(
            [ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate={FPS}",
             "-t", str(SEGMENT_S), "-c:v", "libx264", "-preset", "ultrafast", "-g", str(FPS), "-pix_fmt", "yuv420p",
             "-movflags", "frag_keyframe+empty_moov+default_base_moof", str(out)],
            check=True, timeout=120,
        )  # fmt: skip
        files.append(out)
    return files


@dataclass
class Console:
    base_url: str
    camera: str
    username: str
    password: str
    platform: Platform
    factory: SyntheticFactory


async def _record(session: AsyncSession, platform: Platform, camera_id: int, gb_id: str, files: list[Path]) -> None:
    pool = platform.config.storage_pools[0]
    for index, (source, offset) in enumerate(zip(files, SEGMENT_STARTS_S, strict=True)):
        begins = RECORDED_AT + timedelta(seconds=offset)
        relative = f"{gb_id}/{begins:%Y-%m-%d}/{begins:%H%M%S}-{index + 1}.mp4"
        target = pool.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        session.add(
            RecordingSegment(
                camera_id=camera_id, pool=pool.name, path=relative, start_at=begins,
                end_at=begins + timedelta(seconds=SEGMENT_S), bytes=target.stat().st_size, codec="h264",
                width=320, height=240, frames=SEGMENT_S * FPS, has_audio=False, status="closed",
            )
        )  # fmt: skip
    await session.commit()


@pytest.fixture
async def console(platform: Platform, session: AsyncSession, recorded_files: list[Path]) -> AsyncIterator[Console]:
    registry = await build_registry(session, sensitive=(False,))
    camera = registry.cameras[0]
    await add_user(session, "duty.officer", "operator", all_regions=True)
    await session.commit()
    await _record(session, platform, camera.id, camera.gb_id, recorded_files)
    factory = SyntheticFactory(width=320, height=240, fps=FPS)
    hub = StreamHub(factory, retry_min_s=60, retry_max_s=60)
    platform.config.media.live_grace_s = 0.0
    platform.media = SimpleNamespace(hub=hub)  # type: ignore[attr-defined]
    try:
        async with running_server(create_app(platform)) as base_url:
            yield Console(base_url, camera.gb_id, "duty.officer", PASSWORD, platform, factory)
    finally:
        await hub.close()


async def logged_in_page(browser: Browser, console: Console) -> Page:
    """A page whose context carries the session cookie, got by logging in through the API as the console does."""
    context = await browser.new_context(base_url=console.base_url)
    response = await context.request.post(
        "/api/v1/auth/login", data={"username": console.username, "password": console.password}
    )
    assert response.ok, await response.text()
    cookies = {cookie["name"] for cookie in await context.cookies()}
    assert "tianyan_session" in cookies
    page = await context.new_page()
    page.on("console", lambda message: print(f"[browser {message.type}] {message.text}"))
    return page
