"""Shared by the recording tests: synthetic pictures, decoding fMP4 back, and a camera row to record for."""

from __future__ import annotations

import hashlib
import io
import itertools
from datetime import UTC, datetime, timedelta

import av
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.registry_fixtures import HUICHENG, build_registry
from tianyan.media.bitstream import split_adts
from tianyan.media.units import AudioAccessUnit, VideoAccessUnit
from tianyan.sim.video import SyntheticVideo

NOON = datetime(2026, 1, 1, 12, 0, 0)


def synthetic(
    count: int, width: int = 352, height: int = 288, fps: int = 25, **kwargs: object
) -> list[VideoAccessUnit]:
    source = SyntheticVideo(width, height, fps, label="recorder", clock=lambda: NOON, **kwargs)  # type: ignore[arg-type]
    return list(itertools.islice(source, count))


def picture_digests(units: list[VideoAccessUnit], codec: str = "h264") -> list[str]:
    """What the pictures look like, decoded straight from the units: the reference a remux must reproduce."""
    decoder = av.CodecContext.create(codec, "r")
    frames = []
    for unit in units:
        for packet in decoder.parse(unit.data):
            frames += decoder.decode(packet)
    for packet in decoder.parse(b""):
        frames += decoder.decode(packet)
    frames += decoder.decode(None)
    return [hashlib.sha256(f.to_ndarray(format="gray").tobytes()).hexdigest() for f in frames]


def mp4_digests(data: bytes) -> list[str]:
    """The pictures of an MP4 (bytes), decoded in presentation order."""
    with av.open(io.BytesIO(data)) as container:
        return [hashlib.sha256(f.to_ndarray(format="gray").tobytes()).hexdigest() for f in container.decode(video=0)]


def aac_units(data: bytes) -> list[AudioAccessUnit]:
    """ADTS frames as audio units with their 90 kHz times (1024 samples each)."""
    units = []
    offset = 0
    for index, (header, _) in enumerate(split_adts(data)):
        units.append(
            AudioAccessUnit(data[offset : offset + header.frame_size], index * 1024 * 90_000 // header.sample_rate)
        )
        offset += header.frame_size
    return units


class FakeWall:
    """A wall clock the test moves."""

    def __init__(self, start: datetime = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def one_camera(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, str]:
    """A registry with one camera; returns its (id, GB id)."""
    async with sessions() as session:
        registry = await build_registry(
            session, regions=(HUICHENG,), networks=("police",), classes=(1,), sensitive=(False,)
        )
    camera = registry.cameras[0]
    return camera.id, camera.gb_id
