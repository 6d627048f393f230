"""The web console in real Chromium against a real `tianyan demo` process (one for all the console tests, gone when
they end: starting it costs seconds and its simulated cameras need a while to register and record). Chromium, the
built console and ffmpeg are required: a missing one fails the run, never skips it."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.demo_process import Demo, free_port, start_demo, stop
from tianyan.web import CONSOLE_DIR

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
VIEWPORT = {"width": 1440, "height": 900}
LANGUAGE_KEY = "tianyan.language"


@dataclass
class Console:
    demo: Demo
    data_dir: Path
    passwords: dict[str, str]

    @property
    def base_url(self) -> str:
        return self.demo.base_url

    @contextmanager
    def api(self, username: str) -> Iterator[httpx.Client]:
        """`with console.api("admin") as client:` an HTTP client logged in as `username` (for setting up and for
        checking what the page did)."""
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            response = client.post(
                "/api/v1/auth/login", json={"username": username, "password": self.passwords[username]}
            )
            response.raise_for_status()
            yield client


# Package scope: the demo and the browser go when the console tests are done. Playwright's sync API keeps an event
# loop running in this thread while a browser is open, which the asyncio tests after this package could not run in;
# and the demo's simulated cameras would load the machine for the rest of the suite.
@pytest.fixture(scope="package")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    if not (CONSOLE_DIR / "index.html").is_file():
        pytest.fail(f"the web console is not built in {CONSOLE_DIR}: run `make console` (Node.js 20.19+ and npm)")
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        pytest.fail("ffmpeg and ffprobe are required for the console tests (apt-get install ffmpeg)")
    folder = tmp_path_factory.mktemp("console-demo")
    data_dir = folder / "tianyan-data"
    running = start_demo(data_dir, free_port(), folder / "demo.log")
    try:
        yield Console(demo=running, data_dir=data_dir, passwords=running.passwords())
    finally:
        stop(running.process)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(f"Chromium is required at {CHROMIUM} for the browser tests (apt-get install chromium)")
    with sync_playwright() as playwright:
        # The console marks what tests look for with data-test="..." (get_by_test_id reads it).
        playwright.selectors.set_test_id_attribute("data-test")
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--autoplay-policy=no-user-gesture-required", "--mute-audio"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


def new_context(browser: Browser, console: Console, language: str = "zh-CN") -> BrowserContext:
    # Operators sit in China: pages show Beijing time whatever zone the test machine runs in.
    context = browser.new_context(
        base_url=console.base_url, viewport=VIEWPORT, accept_downloads=True, timezone_id="Asia/Shanghai"
    )
    # The first page opens in `language`; a language the user picks on the page afterwards is kept, as in real use.
    context.add_init_script(
        f"if (!localStorage.getItem({LANGUAGE_KEY!r})) localStorage.setItem({LANGUAGE_KEY!r}, {language!r})"
    )
    context.set_default_timeout(15_000)
    return context


def log_in_page(context: BrowserContext, console: Console, username: str, path: str = "/console/") -> Page:
    """A page whose context carries `username`'s session cookie (logged in over the API, as the login form does)."""
    response = context.request.post(
        "/api/v1/auth/login", data={"username": username, "password": console.passwords[username]}
    )
    assert response.ok, response.text()
    page = context.new_page()
    page.goto(path)
    return page


@pytest.fixture
def open_page(browser: Browser, console: Console) -> Iterator[Callable[..., Page]]:
    """open_page("admin", language="en", path="/console/live") -> a logged-in Page; closed after the test."""
    contexts: list[BrowserContext] = []

    def _open(username: str, language: str = "zh-CN", path: str = "/console/") -> Page:
        context = new_context(browser, console, language)
        contexts.append(context)
        return log_in_page(context, console, username, path)

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def shot() -> Callable[[Page, str], Path]:
    """shot(page, "live-wall") saves docs/screenshots/live-wall.png (the README shows them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def _shot(page: Page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        # Transitions finished (a progress bar caught half-way would misstate the page).
        page.screenshot(path=str(path), animations="disabled")
        return path

    return _shot
