"""A recorder to kill: records SyntheticVideo paced in real time until it is killed (run by test_crash_safety).

Prints "recording" once the first segment is open, then nothing; it never stops by itself.
Usage: crash_recorder.py DB_URL SCHEMA|- POOL_DIR CAMERA_ID GB_ID
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import create_async_engine

from tianyan.config import StoragePool
from tianyan.db.engine import make_engine, make_sessionmaker
from tianyan.media.index_writer import RecordingIndex
from tianyan.media.pools import StoragePools
from tianyan.media.recorder import ChannelRecorder
from tianyan.media.units import VideoCodec
from tianyan.sim.video import SyntheticVideo

FPS = 25
FRAME_90K = 90_000 // FPS


async def main(url: str, schema: str, pool_dir: str, camera_id: int, gb_id: str) -> None:
    if schema != "-":
        engine = create_async_engine(url, connect_args={"server_settings": {"search_path": schema}})
    else:
        engine = make_engine(url)
    index = RecordingIndex(make_sessionmaker(engine), flush_interval_s=0.5)
    index.start()
    pools = StoragePools([StoragePool(name="main", path=Path(pool_dir))], reserve_bytes=0)
    recorder = ChannelRecorder(
        camera_id=camera_id, gb_id=gb_id, pools=pools, index=index, segment_s=2, fragment_ms=1000
    )
    # Encoded up front, so a busy machine slows nothing down once pictures are being paced out.
    pattern = list(itertools.islice(SyntheticVideo(352, 288, FPS, clock=lambda: datetime.now(UTC)), 10 * FPS))
    started = time.monotonic()
    for index_, unit in enumerate(itertools.cycle(pattern)):
        delay = started + index_ / FPS - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        recorder.on_video(VideoCodec.H264, dataclasses.replace(unit, pts_90k=index_ * FRAME_90K))
        if index_ == 0:
            print("recording", flush=True)


if __name__ == "__main__":
    url, schema, pool_dir, camera_id, gb_id = sys.argv[1:6]
    asyncio.run(main(url, schema, pool_dir, int(camera_id), gb_id))
