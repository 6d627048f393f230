"""Footage kept on an NVR, through the API: start a GB/T 28181 playback, watch it over WebSocket, steer it, end it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import websockets
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.gb28181 import conftest as gb_fixtures
from tests.gb28181.conftest import PASSWORD, Recorder
from tests.gb28181.test_with_simulator import simulated
from tests.media.test_live_api import running_server
from tests.media.test_media_service import _camera_exists, media_config, until
from tests.registry_fixtures import add_user, api_key
from tianyan.api.app import create_app
from tianyan.app.platform import Platform
from tianyan.gb28181.server import SipServer
from tianyan.media.service import MediaService
from tianyan.security.models import AuditEntry
from tianyan.sim.gb28181.profile import DeviceSpec

sip_config = gb_fixtures.sip_config
sessions = gb_fixtures.sessions
sip = gb_fixtures.sip

NVR = "44130200001180000002"
API = "/api/v1"


async def test_an_nvr_recording_plays_in_the_browser_path_and_obeys_its_viewer(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine, tmp_path: Path
) -> None:
    server, _ = sip
    config = media_config(tmp_path)
    media = MediaService(config, sessions, server.core.bus, sip=server)
    platform = Platform(config=config, engine=engine, sessions=sessions, sip=server, media=media)
    async with sessions() as session:
        officer = await api_key(session, await add_user(session, "duty.officer", "operator", all_regions=True))
        other = await api_key(session, await add_user(session, "other.officer", "operator", all_regions=True))
        await session.commit()
    device = await simulated(server, sessions, DeviceSpec.build(NVR, PASSWORD, kind="nvr", channels=1))
    try:
        channel = device.spec.channel_ids[0]
        await _camera_exists(sessions, channel)
        end = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
        async with running_server(create_app(platform)) as base, httpx.AsyncClient(base_url=base + API) as http:
            body = {"from": (end - timedelta(minutes=30)).isoformat(), "to": end.isoformat()}
            answer = await http.post(f"/cameras/{channel}/device-playback", json=body, headers=officer)
            assert answer.status_code == 200, answer.text
            started = answer.json()
            async with websockets.connect(started["ws_url"]) as socket:
                header = json.loads(await socket.recv())
                assert header["mime_codec"].startswith("video/mp4")
                assert (await socket.recv())[4:8] == b"ftyp"
                assert (await socket.recv())[4:8] == b"moof"
                control = f"/media/device-playback/{started['id']}/control"
                paused = await http.post(control, json={"action": "pause"}, headers=officer)
                assert paused.status_code == 200 and paused.json()["paused"] is True
                faster = await http.post(control, json={"action": "scale", "scale": 4}, headers=officer)
                assert faster.json() == {"id": started["id"], "paused": False, "scale": 4.0}
                refused = await http.post(control, json={"action": "pause"}, headers=other)
                assert refused.status_code == 403  # someone else's playback
                bad = await http.post(control, json={"action": "scale", "scale": 3}, headers=officer)
                assert bad.status_code == 422
            # The viewer left: the device was told (BYE) and the playback is gone.
            await until(lambda: device.stats.streams_active == 0, 10)
            gone = await http.delete(f"/media/device-playback/{started['id']}", headers=officer)
            assert gone.status_code == 404
    finally:
        await media.close()
        await device.stop()
    async with sessions() as session:
        actions = (await session.execute(select(AuditEntry.action, AuditEntry.target))).all()
    assert ("video.playback.device", f"camera:{channel}") in actions
