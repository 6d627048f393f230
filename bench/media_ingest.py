"""Media ingest: N simulated 2 Mbit/s 25 fps 720p GB/T 28181 streams (RTP/PS over UDP) recorded to fMP4.

The platform side (RTP ingest, reorder, PS demux, ChannelRecorder writing fragmented MP4 into a storage pool,
the recording index in SQLite) runs in this process; the cameras are a sender process replaying real encoded
720p H.264, muxed to PS and packetised once, under N SSRCs at 25 frames a second each. For each N it prints the
receiving process's CPU per stream, the frames lost between sender and recording, and the write throughput.
Floor: >= 200 concurrent streams recorded per core with zero lost frames.

    .venv/bin/python bench/media_ingest.py [--quick] [--streams 50,100,200,300] [--seconds S]

The last line of output is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import socket
import struct
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from tianyan.config import StoragePool
from tianyan.db.engine import make_engine, make_sessionmaker
from tianyan.media.index_writer import RecordingIndex
from tianyan.media.ingest import RtpIngest
from tianyan.media.pools import StoragePools
from tianyan.media.ps import PsMuxer, StreamType
from tianyan.media.recorder import ChannelRecorder
from tianyan.media.rtp import RtpPacketizer
from tianyan.registry.models import Camera, Region
from tianyan.schema.migrate import upgrade
from tianyan.sim.video import SyntheticVideo

FPS = 25
BITRATE_BPS = 2_000_000
CLIP_FRAMES = 100  # 4 s, two GOPs, replayed in a loop
SETTLE_FRAMES = 150
FLOOR_STREAMS_PER_CORE = 200
WARMUP_S = 2.0


def encoded_clip() -> list[list[tuple[bytes, bool]]]:
    """Each frame of the clip as its RTP payloads (PS) and marker bits."""
    video = SyntheticVideo(1280, 720, FPS, "bench", bitrate_bps=BITRATE_BPS)
    muxer = PsMuxer(video=StreamType.H264)
    packetizer = RtpPacketizer(ssrc=1)
    frames = []
    # The encoder's rate control settles in the first seconds: skip those (a whole number of 2 s GOPs).
    for index in range(SETTLE_FRAMES + CLIP_FRAMES):
        unit = next(video)
        if index < SETTLE_FRAMES:
            continue
        packets = packetizer.packetize(muxer.mux_video(unit), unit.pts_90k)
        frames.append([(p.payload, p.marker) for p in packets])
    return frames


def sender(ports: list[int], seconds: float, clip: list[list[tuple[bytes, bool]]], report: Any) -> None:
    """One socket per camera, each frame's packets sent at its time; counts frames sent after the warm-up."""
    sockets = []
    for _ in ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        sockets.append(sock)
    header = struct.Struct("!BBHII")
    sequences = [0] * len(ports)
    frame_interval = 1 / FPS
    started = time.perf_counter()
    index = 0
    sent_frames = 0
    counted_from = None
    while True:
        due = started + index * frame_interval
        now = time.perf_counter()
        if now - started >= seconds:
            break
        if due > now:
            time.sleep(due - now)
        frame = clip[index % CLIP_FRAMES]
        timestamp = (index * (90_000 // FPS)) & 0xFFFFFFFF
        for n, (sock, port) in enumerate(zip(sockets, ports, strict=True)):
            seq = sequences[n]
            for payload, marker in frame:
                sock.sendto(
                    header.pack(0x80, (0x80 if marker else 0) | 96, seq & 0xFFFF, timestamp, 1000 + n) + payload,
                    ("127.0.0.1", port),
                )
                seq += 1
            sequences[n] = seq
        if counted_from is None and time.perf_counter() - started >= WARMUP_S:
            counted_from = index
        index += 1
        sent_frames += len(ports)
    report.send({"frames_per_stream": index, "sent_frames": sent_frames, "behind_s": time.perf_counter() - due})


async def prepare(url: str, streams: int) -> list[tuple[int, str]]:
    engine = make_engine(url)
    await upgrade(engine)
    cameras = [(n + 1, f"441302000013100{n + 1:05d}") for n in range(streams)]
    async with engine.begin() as conn:
        await conn.execute(
            insert(Region),
            [{"id": 1, "code": "441302", "name": "惠城区", "level": "county", "path": "/441302/",
              "locally_assigned": False}],
        )  # fmt: skip
        await conn.execute(
            insert(Camera),
            [{"id": cid, "gb_id": gb, "name": f"bench {cid}", "class": 1, "network": "police", "region_id": 1}
             for cid, gb in cameras],
        )  # fmt: skip
    await engine.dispose()
    return cameras


async def one_run(streams: int, seconds: float, clip: list[list[tuple[bytes, bool]]], workdir: Path) -> dict[str, Any]:
    url = f"sqlite+aiosqlite:///{workdir / f'bench-{streams}.db'}"
    cameras = await prepare(url, streams)
    engine = make_engine(url)
    index = RecordingIndex(make_sessionmaker(engine))
    index.start()
    pools = StoragePools([StoragePool(name="bench", path=workdir / f"pool-{streams}")])
    ingest = RtpIngest("127.0.0.1", 34000, 34000 + streams + 10, reorder_window_ms=120, stream_timeout_s=10)
    recorders = [
        ChannelRecorder(camera_id=cid, gb_id=gb, pools=pools, index=index, segment_s=60, fragment_ms=1000)
        for cid, gb in cameras
    ]
    opened = [await ingest.open_stream(1000 + n, "udp", rec) for n, rec in enumerate(recorders)]
    receive, report = multiprocessing.Pipe(duplex=False)
    process = multiprocessing.get_context("spawn").Process(
        target=sender, args=([s.port for s in opened], seconds, clip, report), daemon=True
    )
    process.start()
    await asyncio.sleep(WARMUP_S)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    frames0 = sum(r.stats.frames for r in recorders)
    bytes0 = sum(r.stats.bytes for r in recorders)
    await asyncio.to_thread(process.join)
    cpu1, wall1 = time.process_time(), time.perf_counter()
    frames1 = sum(r.stats.frames for r in recorders)
    bytes1 = sum(r.stats.bytes for r in recorders)
    await asyncio.sleep(0.5)  # the last frames in flight and in the reorder window
    for stream in opened:
        await stream.close()
    await ingest.close()
    for rec in recorders:
        rec.close()
    await index.close()
    await engine.dispose()
    sent = receive.recv()
    recorded_frames = sum(r.stats.frames + r.stats.waiting_frames for r in recorders)
    lost_packets = sum(s.stats.lost for s in opened)
    cpu_share = (cpu1 - cpu0) / (wall1 - wall0)
    per_stream = cpu_share / streams
    return {
        "streams": streams,
        "cpu_cores_used": round(cpu_share, 3),
        "cpu_per_stream_pct": round(per_stream * 100, 3),
        "streams_per_core": round(1 / per_stream) if per_stream else None,
        "sent_frames": sent["sent_frames"],
        "recorded_frames": recorded_frames,
        "lost_frames": sent["sent_frames"] - recorded_frames,
        "lost_packets": lost_packets,
        "write_mb_per_s": round((bytes1 - bytes0) / (wall1 - wall0) / 1e6, 2),
        "frames_per_s": round((frames1 - frames0) / (wall1 - wall0)),
        "sender_behind_s": round(sent["behind_s"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 and 200 streams, 10 s each")
    parser.add_argument("--streams", default="50,100,200,300")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    counts, seconds = ([50, 200], 10.0) if args.quick else ([int(n) for n in args.streams.split(",")], args.seconds)
    logging.basicConfig(level=logging.WARNING)
    clip = encoded_clip()
    clip_bps = sum(len(payload) for frame in clip for payload, _ in frame) * 8 * FPS / CLIP_FRAMES
    packets_per_frame = sum(len(frame) for frame in clip) / CLIP_FRAMES
    print(
        f"each stream: 1280x720 H.264 at {FPS} fps, {clip_bps / 1e6:.2f} Mbit/s of PS, "
        f"{packets_per_frame:.1f} RTP packets a frame",
        flush=True,
    )
    runs = []
    with tempfile.TemporaryDirectory(prefix="tianyan-ingest-") as tmp:
        for streams in counts:
            result = asyncio.run(one_run(streams, seconds, clip, Path(tmp)))
            runs.append(result)
            print(
                f"{streams:4d} streams: {result['cpu_per_stream_pct']:.3f} % of a core each "
                f"({result['streams_per_core']} per core), lost frames {result['lost_frames']} "
                f"(packets {result['lost_packets']}), writing {result['write_mb_per_s']} MB/s",
                flush=True,
            )
    # The floor: at least 200 streams at once, none of their frames lost, at no more than one core per 200.
    meets = any(
        r["streams"] >= FLOOR_STREAMS_PER_CORE
        and r["lost_frames"] == 0
        and (r["streams_per_core"] or 0) >= FLOOR_STREAMS_PER_CORE
        for r in runs
    )
    figures = {"bench": "media_ingest", "seconds": seconds, "stream_mbit_s": round(clip_bps / 1e6, 2), "runs": runs}
    print(json.dumps({**figures, "meets_floor": meets}))


if __name__ == "__main__":
    main()
