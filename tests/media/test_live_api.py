"""The live-view API over real sockets: signed URLs, fMP4 over WebSocket, HLS, refusals, audit, and release.

The app runs under uvicorn on a loopback port in the test's own event loop, with a StreamHub whose upstreams are
synthetic pictures paced in real time (no GB/T 28181 device involved).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import av
import httpx
import pytest
import uvicorn
import websockets
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.media.test_live import SyntheticFactory
from tests.registry_fixtures import add_user, api_key, build_registry
from tianyan.api.app import create_app
from tianyan.app.platform import Platform
from tianyan.core.clock import FakeClock
from tianyan.media import mp4boxes
from tianyan.media.hub import StreamHub
from tianyan.security.models import AuditEntry

API = "/api/v1"
OFFLINE_SERIAL = 3  # the third camera of the registry is the one whose device is offline


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _QuietServer(uvicorn.Server):
    """uvicorn without signal handlers: the test owns the process."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[override]
        yield


@contextlib.asynccontextmanager
async def running_server(app: object) -> AsyncIterator[str]:
    """Serve `app` on a free loopback port in this event loop; yields its base URL."""
    port = free_port()
    server = _QuietServer(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))  # type: ignore[arg-type]
    task = asyncio.ensure_future(server.serve())
    deadline = time.monotonic() + 20
    while not server.started:
        if task.done():
            task.result()
        assert time.monotonic() < deadline, "the test server did not start"
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=10)


async def until(check: Callable[[], bool], timeout_s: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"{what} not reached within {timeout_s} s"
        await asyncio.sleep(0.05)


def decoded_sizes(path: Path) -> list[tuple[int, int]]:
    with av.open(str(path)) as container:
        return [(frame.width, frame.height) for frame in container.decode(video=0)]


@pytest.fixture
def factory() -> SyntheticFactory:
    return SyntheticFactory(width=320, height=240, fps=25)


@pytest.fixture
async def live_platform(platform: Platform, factory: SyntheticFactory) -> AsyncIterator[Platform]:
    platform.config.media.live_grace_s = 0.0
    hub = StreamHub(factory, retry_min_s=60, retry_max_s=60)
    platform.media = SimpleNamespace(hub=hub)  # type: ignore[attr-defined]
    yield platform
    await hub.close()


@pytest.fixture
async def accounts(session: AsyncSession) -> dict[str, object]:
    registry = await build_registry(session, sensitive=(False,))
    admin = await add_user(session, "boss", "admin", all_regions=True)
    auditor = await add_user(session, "eye", "auditor", all_regions=True)
    # An operator who may only see the police network.
    police = await add_user(session, "cop", "operator", all_regions=True, networks=["police"])
    keys = {"admin": await api_key(session, admin), "auditor": await api_key(session, auditor),
            "police": await api_key(session, police)}  # fmt: skip
    await session.commit()
    cameras = registry.cameras
    return {
        "keys": keys,
        "camera": cameras[0].gb_id,
        "offline": cameras[OFFLINE_SERIAL - 1].gb_id,
        "social": next(c.gb_id for c in cameras if c.network == "social"),
    }


@pytest.fixture
async def server(live_platform: Platform) -> AsyncIterator[str]:
    async with running_server(create_app(live_platform)) as base:
        yield base


@pytest.fixture
async def http(server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server, timeout=30) as client:
        yield client


async def _audit(platform: Platform, action: str) -> list[AuditEntry]:
    async with platform.sessions() as session:
        rows = await session.execute(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq))
        return list(rows.scalars())


async def _start(http: httpx.AsyncClient, camera: str, headers: dict[str, str], **body: str) -> httpx.Response:
    return await http.post(f"{API}/cameras/{camera}/live", json=body or None, headers=headers)


async def test_a_live_view_plays_over_websocket_and_is_released_when_closed(
    http: httpx.AsyncClient,
    accounts: dict,
    live_platform: Platform,
    factory: SyntheticFactory,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    camera, admin = accounts["camera"], accounts["keys"]["admin"]
    response = await _start(http, camera, admin, stream="main", transport="ws")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ws_url"].startswith("ws://127.0.0.1:") and "/api/v1/media/live/ws?token=" in body["ws_url"]
    assert body["hls_url"].endswith("/index.m3u8")
    ttl = live_platform.config.media.token_ttl_s
    assert datetime.fromisoformat(body["expires_at"]) == clock.now() + timedelta(seconds=ttl)
    assert [e.target for e in await _audit(live_platform, "video.live")] == [f"camera:{camera}"]

    received: list[str | bytes] = []
    async with websockets.connect(body["ws_url"], max_size=None) as ws:
        header = json.loads(await asyncio.wait_for(ws.recv(), 20))
        assert header["mime_codec"].startswith('video/mp4; codecs="avc1.')
        assert (header["width"], header["height"]) == (320, 240)
        init = await asyncio.wait_for(ws.recv(), 20)
        assert isinstance(init, bytes) and mp4boxes.parse_init(init) is not None
        while len(received) < 30:  # a little over a second of pictures
            received.append(await asyncio.wait_for(ws.recv(), 20))
        assert factory.running == 1
    (tmp_path / "live.mp4").write_bytes(init + b"".join(m for m in received if isinstance(m, bytes)))
    assert decoded_sizes(tmp_path / "live.mp4") == [(320, 240)] * 30
    # Nobody watches (and the grace period is 0): the upstream stops, and the end of the view is audited.
    await until(lambda: factory.running == 0, what="the upstream stopping")
    await until_audited(live_platform, "video.live.end")
    end = (await _audit(live_platform, "video.live.end"))[0]
    assert end.actor == "boss" and end.target == f"camera:{camera}" and end.detail["bytes"] > 0


async def until_audited(platform: Platform, action: str) -> None:
    deadline = time.monotonic() + 15
    while not await _audit(platform, action):
        assert time.monotonic() < deadline, f"no {action} audit entry"
        await asyncio.sleep(0.1)


async def test_two_viewers_share_one_upstream(http: httpx.AsyncClient, accounts: dict, factory: SyntheticFactory):
    camera, admin = accounts["camera"], accounts["keys"]["admin"]
    urls = [(await _start(http, camera, admin)).json()["ws_url"] for _ in range(2)]
    async with websockets.connect(urls[0], max_size=None) as one, websockets.connect(urls[1], max_size=None) as two:
        for ws in (one, two):
            assert json.loads(await asyncio.wait_for(ws.recv(), 20))["width"] == 320
            await asyncio.wait_for(ws.recv(), 20)
            assert isinstance(await asyncio.wait_for(ws.recv(), 20), bytes)
        assert factory.opened == [(camera, "main")]


async def test_a_wall_asks_for_its_cameras_in_one_request(
    http: httpx.AsyncClient, accounts: dict, live_platform: Platform, factory: SyntheticFactory
) -> None:
    """POST /live answers each camera on its own: URLs for those the caller may watch, the reason for the others."""
    camera, social, keys = accounts["camera"], accounts["social"], accounts["keys"]
    items = [{"camera": camera, "stream": "sub"}, {"camera": social}, {"camera": "123"}]
    response = await http.post(f"{API}/live", json={"items": items}, headers=keys["police"])
    assert response.status_code == 200, response.text
    answers = response.json()["items"]
    assert [(a["camera"], a["stream"]) for a in answers] == [(camera, "sub"), (social, "main"), ("123", "main")]
    assert answers[0]["error"] is None and "/media/live/ws?token=" in answers[0]["live"]["ws_url"]
    assert answers[1]["live"] is None and answers[1]["error"]["status"] == 404
    assert answers[2]["error"]["status"] == 422 and "20 digits" in answers[2]["error"]["detail"]
    # Only what was issued is audited, and the URL given plays the stream asked for.
    audited = await _audit(live_platform, "video.live")
    assert [(e.actor, e.target, e.detail["stream"]) for e in audited] == [("cop", f"camera:{camera}", "sub")]
    async with websockets.connect(answers[0]["live"]["ws_url"], max_size=None) as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), 20))["width"] == 320
    assert factory.opened == [(camera, "sub")]
    refused = await http.post(f"{API}/live", json={"items": items}, headers=keys["auditor"])
    assert refused.status_code == 403 and "video.live" in refused.json()["detail"]
    too_many = await http.post(f"{API}/live", json={"items": [{"camera": camera}] * 65}, headers=keys["admin"])
    assert too_many.status_code == 422
    assert (await http.post(f"{API}/live", json={"items": []}, headers=keys["admin"])).status_code == 422


async def _close_of(url: str) -> tuple[int, str]:
    async with websockets.connect(url, max_size=None) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 20)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def test_bad_tokens_close_the_socket_with_the_reason(
    http: httpx.AsyncClient, server: str, accounts: dict, clock: FakeClock, live_platform: Platform
) -> None:
    ws_base = server.replace("http://", "ws://") + f"{API}/media/live/ws"
    code, reason = await _close_of(f"{ws_base}?token=nonsense")
    assert code == 4401 and "malformed" in reason
    assert await _close_of(ws_base) == (4401, "no stream token was given")
    body = (await _start(http, accounts["camera"], accounts["keys"]["admin"])).json()
    forged = body["token"][:-3] + ("AAA" if not body["token"].endswith("AAA") else "BBB")
    code, reason = await _close_of(f"{ws_base}?token={forged}")
    assert code == 4401 and "signature" in reason
    clock.advance(live_platform.config.media.token_ttl_s + 1)
    code, reason = await _close_of(body["ws_url"])
    assert code == 4401 and "expired" in reason


async def test_an_offline_camera_closes_with_unavailable(http: httpx.AsyncClient, accounts: dict, factory):
    factory.offline.add(accounts["offline"])
    body = (await _start(http, accounts["offline"], accounts["keys"]["admin"])).json()
    code, reason = await _close_of(body["ws_url"])
    assert code == 4503 and "offline" in reason


async def test_permission_and_scope_are_checked_before_any_url_is_given(
    http: httpx.AsyncClient, accounts: dict, live_platform: Platform
) -> None:
    keys, camera = accounts["keys"], accounts["camera"]
    refused = await _start(http, camera, keys["auditor"])
    assert refused.status_code == 403 and "video.live" in refused.json()["detail"]
    hidden = await _start(http, accounts["social"], keys["police"])
    assert hidden.status_code == 404
    assert (await _start(http, camera, {})).status_code == 401
    bad = await _start(http, camera, keys["admin"], stream="third")
    assert bad.status_code == 422
    assert (await http.post(f"{API}/cameras/123/live", headers=keys["admin"])).status_code == 422
    assert [e.target for e in await _audit(live_platform, "video.live")] == []
    live_platform.media = None  # type: ignore[attr-defined]
    off = await _start(http, camera, keys["admin"])
    assert off.status_code == 503 and "media plane" in off.json()["detail"]


# Two 2 s segments take their real time to fill. The database only authenticates the request here, which the other
# tests of this file do on PostgreSQL as well, so SQLite alone serves.
@pytest.mark.parametrize("backend", ["sqlite"])
async def test_hls_serves_a_rolling_playlist_of_playable_segments(
    http: httpx.AsyncClient, accounts: dict, factory: SyntheticFactory, tmp_path: Path
) -> None:
    body = (await _start(http, accounts["camera"], accounts["keys"]["admin"], transport="hls")).json()
    playlist_url = body["hls_url"]
    base = playlist_url.rsplit("/", 1)[0]
    text = ""
    deadline = time.monotonic() + 30
    while text.count("#EXTINF") < 2:  # segments are a GOP (2 s) long
        assert time.monotonic() < deadline, f"the playlist did not fill: {text!r}"
        response = await http.get(playlist_url)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/vnd.apple.mpegurl")
        text = response.text
        await asyncio.sleep(0.5)
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U" and any(line.startswith("#EXT-X-MAP:URI=") for line in lines)
    init_name = next(line for line in lines if line.startswith("#EXT-X-MAP")).split('"')[1]
    segment_name = next(line for line in lines if line.startswith("seg-"))
    init = await http.get(f"{base}/{init_name}")
    segment = await http.get(f"{base}/{segment_name}")
    assert init.status_code == segment.status_code == 200
    assert (await http.get(f"{base}/init.mp4")).content == init.content
    (tmp_path / "hls.mp4").write_bytes(init.content + segment.content)
    assert len(decoded_sizes(tmp_path / "hls.mp4")) == 50  # one 2 s GOP at 25 fps
    missing = await http.get(f"{base}/seg-99999.m4s")
    assert missing.status_code == 404 and "not held" in missing.json()["detail"]
    bad = await http.get(f"{API}/media/live/hls/forged.token/index.m3u8")
    assert bad.status_code == 401 and bad.headers["content-type"].startswith("application/problem+json")
    assert factory.running == 1
