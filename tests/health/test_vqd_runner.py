"""Picture diagnosis end to end over loopback: a simulated NVR streams a clean channel and spoiled ones over
GB/T 28181, the runner pulls a burst from each live stream, diagnoses it, keeps the evidence and opens orders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.gb28181 import conftest as gb_fixtures
from tests.gb28181.conftest import PASSWORD, Recorder, add_device
from tests.gb28181.test_with_simulator import FAST_DEVICE, until
from tests.media.test_media_service import media_config
from tianyan.bus.memory import MemoryBus
from tianyan.config import HealthConfig
from tianyan.core.clock import SystemClock
from tianyan.gb28181.server import SipServer
from tianyan.health.models import VqdEvent, VqdSetting, WorkOrder
from tianyan.health.paths import health_dir
from tianyan.health.vqd_runner import VqdRunner, due_between, phase_of
from tianyan.media.service import MediaService
from tianyan.registry.models import Camera
from tianyan.sim.gb28181.device import SimDevice
from tianyan.sim.gb28181.profile import DeviceSpec, PlatformAddress, VideoSettings

sip_config = gb_fixtures.sip_config
sessions = gb_fixtures.sessions
sip = gb_fixtures.sip

NVR = "44130200001180000001"


@pytest.fixture
async def nvr(sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[SimDevice]:
    server, _ = sip
    spec = DeviceSpec.build(NVR, PASSWORD, kind="nvr", channels=3)
    _clean, blurred, black = spec.channel_ids
    video = VideoSettings(main_size="cif", sub_size="cif", picture_faults=((blurred, "blur"), (black, "black")))
    await add_device(sessions, spec.device_id)
    await server.directory.load(server.endpoint.now())
    platform = PlatformAddress.of("127.0.0.1", server.port, gb_fixtures.PLATFORM_ID, gb_fixtures.DOMAIN)
    device = await SimDevice.standalone(spec, platform, transport="UDP", behaviour=FAST_DEVICE, video=video)
    try:
        await until(lambda: _cameras_online(sessions, 3), 15)
        yield device
    finally:
        await device.stop()


async def _cameras_online(sessions: async_sessionmaker[AsyncSession], count: int) -> bool:
    async with sessions() as session:
        rows = (await session.execute(select(Camera.id).where(Camera.online.is_(True)))).all()
    return len(rows) >= count


async def _camera_id(sessions: async_sessionmaker[AsyncSession], gb_id: str) -> int:
    async with sessions() as session:
        return (await session.execute(select(Camera.id).where(Camera.gb_id == gb_id))).scalar_one()


@pytest.fixture
async def media(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> AsyncIterator[MediaService]:
    server, _ = sip
    service = MediaService(media_config(tmp_path, record_classes=[]), sessions, server.core.bus, sip=server)
    try:
        yield service
    finally:
        await service.close()


def _runner(tmp_path: Path, sessions: async_sessionmaker[AsyncSession], media: MediaService) -> VqdRunner:
    config = media_config(tmp_path, record_classes=[])
    config.health = HealthConfig(vqd_order_after_failures=2, vqd_timeout_s=8, vqd_stream="sub")
    return VqdRunner(
        config, sessions, MemoryBus(), clock=SystemClock(), hub=lambda: media.hub, recorded_stream=lambda _: None
    )


async def test_spoiled_pictures_are_diagnosed_kept_as_evidence_and_become_one_work_order(
    nvr: SimDevice, media: MediaService, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    runner = _runner(tmp_path, sessions, media)
    clean, blurred, black = [await _camera_id(sessions, gb) for gb in nvr.spec.channel_ids]
    results = await asyncio.gather(*(runner.diagnose_camera(c) for c in (clean, blurred, black)))
    by_camera = {latest.camera_id: latest for latest in results if latest is not None}
    assert by_camera[clean].ok, by_camera[clean].faults
    assert by_camera[clean].source == "live"
    assert "blur" in by_camera[blurred].faults
    assert "black_screen" in by_camera[black].faults
    # The faulty picture is kept as evidence and is a real JPEG of the stream's size (CIF).
    picture = cv2.imread(str(health_dir(tmp_path) / by_camera[blurred].frame_path))
    assert picture is not None and picture.shape[:2] == (288, 352)
    # The clean camera's healthy picture became its reference; spoiled ones did not get one.
    async with sessions() as session:
        references = dict((await session.execute(select(VqdSetting.camera_id, VqdSetting.reference_path))).all())
        assert list(references) == [clean]
        assert (await session.execute(select(WorkOrder))).scalars().all() == []
    # A second faulty diagnosis in a row opens the order (one bad picture is not yet a fault), a third adds none.
    await runner.diagnose_camera(blurred)
    await runner.diagnose_camera(blurred)
    async with sessions() as session:
        orders = (await session.execute(select(WorkOrder))).scalars().all()
        events = (await session.execute(select(VqdEvent).where(VqdEvent.camera_id == blurred))).scalars().all()
    assert [(o.camera_id, o.fault, o.status) for o in orders] == [(blurred, "vqd", "open")]
    assert "blur" in orders[0].detail and orders[0].evidence["frame_path"]
    # Verdict changes only: three faulty diagnoses with the same faults are one event.
    assert [(e.ok, "blur" in e.faults) for e in events] == [(False, True)]


async def test_a_camera_online_without_a_stream_is_a_signal_loss(
    nvr: SimDevice, media: MediaService, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    runner = _runner(tmp_path, sessions, media)
    async with sessions() as session:
        channel = await session.get(Camera, await _camera_id(sessions, nvr.spec.channel_ids[0]))
        assert channel is not None
        # A channel the NVR does not have: the INVITE is refused, so no picture can come.
        ghost = Camera(
            gb_id="44130200001310009999", name="ghost", cls=1, network="police", region_id=channel.region_id,
            device_id=channel.device_id, online=True, labels=[],
        )  # fmt: skip
        session.add(ghost)
        await session.commit()
    latest = await runner.diagnose_camera(ghost.id)
    assert latest is not None and latest.faults == ["signal_loss"] and not latest.ok
    assert latest.frame_path is None and latest.detail


def test_the_schedule_spreads_cameras_evenly_and_misses_none() -> None:
    cameras = list(range(1, 10_001))
    interval = 3600.0
    seen: list[int] = []
    for second in range(0, 3600, 10):
        seen += due_between(cameras, interval, second, second + 10)
    assert sorted(seen) == cameras  # each exactly once per interval
    per_minute = [sum(1 for c in cameras if m * 60 < phase_of(c, interval) <= (m + 1) * 60) for m in range(60)]
    assert max(per_minute) - min(per_minute) < 0.1 * (10_000 / 60)
    # Across the interval's wrap, nobody is missed or repeated.
    assert sorted(due_between(cameras, interval, 3590, 3610)) == sorted(
        due_between(cameras, interval, 3590, 3600) + due_between(cameras, interval, 0, 10)
    )


def _scene(shift: int) -> np.ndarray:
    """A textured street-like picture; `shift` pans it sideways as a PTZ head would."""
    rng = np.random.default_rng(5)
    wide = cv2.GaussianBlur(rng.integers(0, 255, (288, 352 + 200, 3), dtype=np.uint8), (0, 0), 3)
    for x in range(0, wide.shape[1], 37):
        cv2.rectangle(wide, (x, 60), (x + 18, 200), (40, 90 + x % 120, 160), -1)
    return np.ascontiguousarray(wide[:, 100 + shift : 100 + shift + 352])


@pytest.mark.parametrize("head_moves", [True, False])
async def test_the_ptz_check_pans_the_head_and_faults_a_picture_that_did_not_move(
    engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    head_moves: bool,  # type: ignore[no-untyped-def]
) -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker as maker

    from tests.registry_fixtures import build_regions
    from tianyan.health import vqd_runner
    from tianyan.registry.models import Region

    sessions = maker(engine, expire_on_commit=False)
    async with sessions() as session:
        await build_regions(session)
        region = (await session.execute(select(Region.id).where(Region.code == "441302"))).scalar_one()
        camera = Camera(gb_id="44130200001320000077", name="dome", cls=1, network="police", region_id=region,
                        kind="ptz", ptz_type=1, online=True, labels=[])  # fmt: skip
        session.add(camera)
        await session.flush()
        session.add(VqdSetting(camera_id=camera.id, enabled=True, thresholds={}, ptz_check=True))
        await session.commit()
    position = {"x": 0}
    sent: list[str] = []

    async def ptz(camera_id: int, action: str) -> str:
        sent.append(action)
        if head_moves and action in ("right", "left"):
            position["x"] += 40 if action == "right" else -40
        return "A50F01..."

    async def burst(hub, gb_id, *, stream, count, span_s=1.0, timeout_s=10.0):  # type: ignore[no-untyped-def]
        rng = np.random.default_rng(len(sent))
        return [
            np.clip(_scene(position["x"]).astype(np.int16) + rng.normal(0, 2, (288, 352, 3)), 0, 255).astype(np.uint8)
            for _ in range(count)
        ]

    monkeypatch.setattr(vqd_runner, "live_burst", burst)
    monkeypatch.setattr(vqd_runner, "PTZ_MOVE_S", 0.01)
    config = media_config(tmp_path, record_classes=[])
    runner = VqdRunner(config, sessions, MemoryBus(), clock=SystemClock(), hub=lambda: object(),  # type: ignore[arg-type]
                       recorded_stream=lambda _: None, ptz=ptz)  # fmt: skip
    latest = await runner.diagnose_camera(camera.id)
    assert latest is not None
    assert sent == ["right", "stop", "left", "stop"]  # and the head is put back where it was
    assert ("ptz" in latest.faults) is (not head_moves)
    assert "ptz" in latest.scores
