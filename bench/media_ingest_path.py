"""Per-packet cost of the GB ingest receive path: RTP header, reorder buffer, frame assembly, PS demux, sink.

Real packets: SyntheticVideo 1280x720 at about 2 Mbit/s, muxed by PsMuxer and cut by RtpPacketizer
(1400-byte payloads), encoded once up front so only the receive path is timed. Packets go
through RtpPsReceiver as they would from the socket (no socket and no event loop: those are
measured by the loopback tests), in order and with light reordering. The floor the platform aims
at is 200 streams of 2 Mbit/s at 25 fps per core, about 36,000 packets/s for the whole path
including recording, so this part must stay well under 28 µs a packet.

    .venv/bin/python bench/media_ingest_path.py [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import time

from tianyan.media.ingest_receiver import RtpPsReceiver
from tianyan.media.ps import PsMuxer, StreamType
from tianyan.media.rtp import RtpPacketizer
from tianyan.sim.video import SyntheticVideo

FLOOR_PACKETS_PER_S = 36_000


class CountingSink:
    def __init__(self) -> None:
        self.video = 0
        self.audio = 0
        self.ended = False

    def on_video(self, codec: object, unit: object) -> None:
        self.video += 1

    def on_audio(self, codec: object, unit: object) -> None:
        self.audio += 1

    def on_end(self, reason: str) -> None:
        self.ended = True


def make_packets(frames: int) -> tuple[list[bytes], float]:
    source = SyntheticVideo(1280, 720, bitrate_bps=2_000_000, label="bench")
    muxer = PsMuxer(video=StreamType.H264)
    packetizer = RtpPacketizer(ssrc=0x1234_5678, next_sequence=65_000)
    packets: list[bytes] = []
    size = 0
    for unit in itertools.islice(source, frames):
        for packet in packetizer.packetize(muxer.mux_video(unit), unit.pts_90k):
            data = packet.to_bytes()
            size += len(data)
            packets.append(data)
    return packets, size * 8 * 25 / frames


def shuffled(packets: list[bytes], window: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    out = packets[:]
    for i in range(0, len(out), window):
        chunk = out[i : i + window]
        rng.shuffle(chunk)
        out[i : i + window] = chunk
    return out


def run(packets: list[bytes], repeats: int, frames: int) -> dict[str, float]:
    best = float("inf")
    sink = CountingSink()
    for _ in range(repeats):
        sink = CountingSink()
        receiver = RtpPsReceiver(sink, ssrc=0x1234_5678, reorder_window_ms=120)
        receive = receiver.receive
        # 25 fps pacing on a fake clock: packets of a frame arrive together, frames 40 ms apart.
        step_s = 0.04 * frames / len(packets)
        started = time.perf_counter()
        now = 0.0
        for packet in packets:
            now += step_s
            receive(packet, now)
        receiver.finish()
        best = min(best, time.perf_counter() - started)
    per_packet_us = best * 1e6 / len(packets)
    return {
        "us_per_packet": round(per_packet_us, 3),
        "packets_per_s_per_core": round(1e6 / per_packet_us),
        "units": sink.video,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer frames and repeats (under a minute)")
    args = parser.parse_args()
    frames = 150 if args.quick else 750
    repeats = 3 if args.quick else 7
    packets, bitrate_bps = make_packets(frames)
    in_order = run(packets, repeats, frames)
    reordered = run(shuffled(packets, 4), repeats, frames)
    assert in_order["units"] == frames, f"lost units in order: {in_order['units']} of {frames}"
    assert reordered["units"] == frames, f"lost units reordered: {reordered['units']} of {frames}"
    packets_per_frame = len(packets) / frames
    streams_per_core = in_order["packets_per_s_per_core"] / (packets_per_frame * 25)
    print(f"{len(packets)} packets, {packets_per_frame:.1f} per frame, {bitrate_bps / 1e6:.2f} Mbit/s")
    print(
        f"in order:  {in_order['us_per_packet']:.2f} µs/packet, {in_order['packets_per_s_per_core']:,} packets/s/core"
    )
    print(
        f"reordered: {reordered['us_per_packet']:.2f} µs/packet, {reordered['packets_per_s_per_core']:,} packets/s/core"
    )
    print(f"receive path alone: {streams_per_core:.0f} such streams per core (floor: 200 for the whole path)")
    print(
        json.dumps(
            {
                "bench": "media_ingest_path",
                "frames": frames,
                "packets": len(packets),
                "bitrate_bps": round(bitrate_bps),
                "us_per_packet": in_order["us_per_packet"],
                "packets_per_s_per_core": in_order["packets_per_s_per_core"],
                "reordered_us_per_packet": reordered["us_per_packet"],
                "reordered_packets_per_s_per_core": reordered["packets_per_s_per_core"],
                "streams_per_core_receive_path": round(streams_per_core),
                "floor_packets_per_s": FLOOR_PACKETS_PER_S,
            }
        )
    )


if __name__ == "__main__":
    main()
