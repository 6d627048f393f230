"""GET /metrics as Prometheus sees it: registry, VQD, work-order and alarm figures that match the database, the
bearer token, and SIP and RTP counters that move when a simulated camera registers and streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.gb28181 import conftest as gb_fixtures
from tests.gb28181.conftest import PASSWORD, Recorder
from tests.gb28181.test_with_simulator import simulated
from tests.registry_fixtures import build_registry
from tianyan.api.app import create_app
from tianyan.api.routers.metrics import node_metrics
from tianyan.app.platform import Platform
from tianyan.config import Config, MediaConfig, ServerConfig
from tianyan.gb28181.server import SipServer
from tianyan.health.metrics import NodeMetrics
from tianyan.health.models import VqdLatest, WorkOrder
from tianyan.media.models import MediaAlarm, RecordingSegment
from tianyan.media.service import MediaService
from tianyan.media.units import AudioAccessUnit, AudioCodec, VideoAccessUnit, VideoCodec
from tianyan.registry.models import Camera, Device
from tianyan.sim.gb28181.profile import DeviceSpec

# The signaling fixtures: a SIP server on loopback (fast timers) over the test's migrated database.
sip_config = gb_fixtures.sip_config
sessions = gb_fixtures.sessions
sip = gb_fixtures.sip

T0 = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
IPC = "44130200001320000001"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    assert key in samples, f"/metrics has no {name}{labels}"
    return samples[key]


Scrape = Callable[[], Awaitable[Samples]]


@pytest.fixture
async def scrape(platform: Platform) -> AsyncIterator[Scrape]:
    """GET /metrics on a fresh app; every call sees fresh figures (the caches are turned off)."""
    app = create_app(platform)
    metrics = node_metrics(app, platform)
    metrics.max_age_s = metrics.database_max_age_s = metrics.stored_max_age_s = 0
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:

        async def get() -> Samples:
            response = await client.get("/metrics")
            assert response.status_code == 200, response.text
            assert response.headers["content-type"].startswith("text/plain; version=")
            return parse(response.text)

        yield get


async def test_cameras_and_devices_online_are_what_the_registry_says(session: AsyncSession, scrape: Scrape) -> None:
    registry = await build_registry(session, sensitive=(False,))
    region_id = (await session.execute(select(Camera.region_id).limit(1))).scalar_one()
    session.add_all(
        [
            Device(gb_id="44130200001320000001", name="IPC 1", type_code="132", region_id=region_id, online=True),
            Device(gb_id="44130200001320000002", name="IPC 2", type_code="132", region_id=region_id),
            Device(gb_id="44130200001180000001", name="NVR", type_code="118", region_id=region_id, online=True),
        ]
    )
    online_ids = [camera.id for camera in registry.cameras[::3]]
    await session.execute(update(Camera).where(Camera.id.in_(online_ids)).values(online=True))
    await session.commit()

    samples = await scrape()

    for cls in (1, 2, 3):
        total, online = (
            await session.execute(
                select(func.count(), func.count().filter(Camera.online.is_(True))).where(Camera.cls == cls)
            )
        ).one()
        assert value(samples, "tianyan_cameras", **{"class": str(cls)}) == total > 0
        assert value(samples, "tianyan_cameras_online", **{"class": str(cls)}) == online
    assert sum(value(samples, "tianyan_cameras_online", **{"class": c}) for c in "123") == len(online_ids)
    assert value(samples, "tianyan_devices", type_code="132") == 2
    assert value(samples, "tianyan_devices_online", type_code="132") == 1
    assert value(samples, "tianyan_devices_online", type_code="118") == 1
    assert value(samples, "tianyan_component_up", component="database") == 1
    assert value(samples, "tianyan_component_up", component="sip") == 0


async def test_failed_diagnoses_open_work_orders_alarms_and_stored_bytes_show_up(
    session: AsyncSession, scrape: Scrape
) -> None:
    registry = await build_registry(session, classes=(1,), sensitive=(False,))
    a, b, c, d = (camera.id for camera in registry.cameras[:4])
    session.add_all(
        [
            VqdLatest(camera_id=a, at=T0, source="live", ok=False, faults=["blur", "colour_cast"], scores={}),
            VqdLatest(camera_id=b, at=T0, source="live", ok=False, faults=["blur"], scores={}),
            VqdLatest(camera_id=c, at=T0, source="live", ok=True, faults=[], scores={}),
            WorkOrder(camera_id=a, fault="vqd", detail="blur", opened_at=T0, fault_since=T0),
            WorkOrder(camera_id=b, fault="offline", status="resolved", opened_at=T0, fault_since=T0),
            WorkOrder(camera_id=d, fault="offline", status="closed", opened_at=T0, fault_since=T0, closed_at=T0),
            MediaAlarm(kind="stream_lost", camera_id=a, message="lost", raised_at=T0),
            MediaAlarm(kind="stream_lost", camera_id=b, message="lost", raised_at=T0, cleared_at=T0),
        ]
    )
    for n, (pool, size, status) in enumerate([("a", 1000, "closed"), ("a", 500, "open"), ("b", 7, "closed"),
                                              ("b", 99, "missing")]):  # fmt: skip
        start = T0 + timedelta(minutes=5 * n)
        session.add(RecordingSegment(camera_id=a, pool=pool, path=f"{n}.mp4", start_at=start, codec="h264",
                                     end_at=start + timedelta(minutes=5), bytes=size, status=status))  # fmt: skip
    await session.commit()

    samples = await scrape()

    assert value(samples, "tianyan_vqd_failed_cameras", fault="blur") == 2
    assert value(samples, "tianyan_vqd_failed_cameras", fault="colour_cast") == 1
    assert value(samples, "tianyan_vqd_cameras", result="failed") == 2
    assert value(samples, "tianyan_vqd_cameras", result="ok") == 1
    assert value(samples, "tianyan_work_orders_open", fault="vqd", status="open") == 1
    assert value(samples, "tianyan_work_orders_open", fault="offline", status="resolved") == 1
    assert value(samples, "tianyan_work_orders_open", fault="offline", status="open") == 0  # the closed one
    assert value(samples, "tianyan_media_alarms_open", kind="stream_lost") == 1
    assert value(samples, "tianyan_media_alarms_open", kind="pool_nearly_full") == 0
    assert value(samples, "tianyan_recording_stored_bytes", pool="a") == 1500
    assert value(samples, "tianyan_recording_stored_bytes", pool="b") == 7  # a missing file holds nothing
    assert value(samples, "tianyan_recording_segments", pool="a") == 2

    # The camera is repaired: its fault reads 0 rather than vanishing from the graph.
    await session.execute(update(VqdLatest).values(ok=True, faults=[]))
    await session.commit()
    samples = await scrape()
    assert value(samples, "tianyan_vqd_failed_cameras", fault="blur") == 0
    assert value(samples, "tianyan_vqd_cameras", result="failed") == 0


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_configured_token_is_required(platform: Platform) -> None:
    app = create_app(platform)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        assert (await client.get("/metrics")).status_code == 200  # no token configured: anyone may scrape
        platform.config.health.metrics_token = "prometheus-Sesame-2026"
        refused = await client.get("/metrics")
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer prometheus-sesame-2026"})
        assert wrong.status_code == 401
        assert (
            await client.get("/metrics", headers={"Authorization": "Basic prometheus-Sesame-2026"})
        ).status_code == 401
        good = await client.get("/metrics", headers={"Authorization": "Bearer prometheus-Sesame-2026"})
        assert good.status_code == 200 and "tianyan_cameras" in good.text


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_scrapes_within_the_cache_period_share_one_snapshot(platform: Platform) -> None:
    now = [100.0]
    metrics = NodeMetrics(platform.sessions, monotonic=lambda: now[0], max_age_s=5, database_max_age_s=15)
    first = await metrics.refresh()
    now[0] += 4.9
    assert await metrics.refresh() is first
    now[0] += 0.1
    second = await metrics.refresh()
    assert second is not first and second.database is first.database  # the aggregates are kept longer
    now[0] += 10
    assert (await metrics.refresh()).database is not first.database
    now[0] += 5
    both = await asyncio.gather(metrics.refresh(), metrics.refresh())
    assert both[0] is both[1]


# --- with a simulated camera --------------------------------------------------------------------------------------


class Frames:
    """A hub consumer that counts pictures."""

    def __init__(self) -> None:
        self.video = 0

    def on_video(self, codec: VideoCodec, unit: VideoAccessUnit) -> None:
        self.video += 1

    def on_audio(self, codec: AudioCodec, unit: AudioAccessUnit) -> None:
        pass

    def on_end(self, reason: str) -> None:
        pass


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_camera_registering_moves_the_sip_counters(
    platform: Platform, sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession], scrape: Scrape
) -> None:
    server, _ = sip
    platform.sip = server
    before = await scrape()
    assert value(before, "tianyan_component_up", component="sip") == 1
    assert value(before, "tianyan_sip_registered_devices") == 0
    assert before.get(("tianyan_sip_requests_received_total", (("method", "REGISTER"),)), 0) == 0

    device = await simulated(server, sessions, DeviceSpec.build(IPC, PASSWORD, channels=1))
    try:
        after = await scrape()
    finally:
        await device.stop()
    # The first REGISTER is challenged (401), the second carries the digest and is accepted.
    assert value(after, "tianyan_sip_requests_received_total", method="REGISTER") >= 2
    assert value(after, "tianyan_sip_responses_sent_total", status_class="4xx") >= 1
    assert value(after, "tianyan_sip_responses_sent_total", status_class="2xx") >= 1
    assert value(after, "tianyan_sip_registrations_total") == 1
    assert value(after, "tianyan_sip_registered_devices") == 1
    assert value(after, "tianyan_sip_parse_errors_total", stage="message") == 0


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_live_stream_moves_the_rtp_counters_and_they_survive_its_end(
    platform: Platform,
    sip: tuple[SipServer, Recorder],
    sessions: async_sessionmaker[AsyncSession],
    scrape: Scrape,
    tmp_path: Path,
) -> None:
    server, _ = sip
    config = Config(server=ServerConfig(data_dir=tmp_path / "media"),
                    media=MediaConfig(rtp_port_min=34000, rtp_port_max=34999, stream_timeout_s=3))  # fmt: skip
    media = MediaService(config, sessions, server.core.bus, sip=server)
    platform.sip, platform.media = server, media
    device = await simulated(server, sessions, DeviceSpec.build(IPC, PASSWORD, channels=1))
    try:
        channel = device.spec.channel_ids[0]
        await until(lambda: server.directory.cached(IPC) is not None)
        await _until_camera(sessions, channel)
        frames = Frames()
        attachment = await media.hub.attach(channel, frames)
        await until(lambda: frames.video >= 10)
        live = await scrape()
        feed = media.hub.feed(channel)
        assert feed is not None and feed.upstream is not None
        stream = feed.upstream.stream  # type: ignore[attr-defined]
        await media.hub.detach(attachment)
        ended = await scrape()
    finally:
        await device.stop()
        await media.close()
        platform.media = None
    packets = value(live, "tianyan_rtp_packets_total")
    assert packets >= 10
    assert value(live, "tianyan_rtp_bytes_total") > 12 * packets
    assert value(live, "tianyan_rtp_streams", transport="udp") == 1
    assert value(live, "tianyan_media_feeds", state="running") == 1
    assert value(live, "tianyan_sip_invites_total") == 1
    assert value(live, "tianyan_sip_requests_sent_total", method="INVITE") >= 1
    assert value(live, "tianyan_storage_pool_free_bytes", pool="default") > 0
    # The stream is closed: it no longer counts as open, but all it received (after the first scrape too) counts.
    assert value(ended, "tianyan_rtp_streams", transport="udp") == 0
    assert value(ended, "tianyan_rtp_packets_total") == stream.stats.packets >= packets
    assert value(ended, "tianyan_rtp_bytes_total") == stream.stats.bytes
    assert value(ended, "tianyan_rtp_streams_opened_total") == 1


async def _until_camera(sessions: async_sessionmaker[AsyncSession], gb_id: str) -> None:
    for _ in range(200):
        async with sessions() as session:
            if (await session.execute(select(Camera.id).where(Camera.gb_id == gb_id))).first() is not None:
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"camera {gb_id} never appeared")
