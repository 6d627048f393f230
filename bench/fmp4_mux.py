"""How long remuxing one picture into fragmented MP4 takes: the live fragmenter and the recording file writer.

Pictures are encoded once (SyntheticVideo, 4CIF, 25 fps, GOP 2 s) and replayed with rising times, so only
the muxing is timed. The recording path's budget is about 5,000 pictures a second a core for everything, so
muxing should stay well under 30 µs a picture. Last line: JSON with µs per picture for each mode.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import tempfile
import time
from datetime import datetime
from pathlib import Path

from tianyan.media.fmp4 import Fmp4FileWriter, Fmp4Fragmenter
from tianyan.media.units import VideoAccessUnit, VideoCodec
from tianyan.sim.video import SIZES, SyntheticVideo

FRAME_90K = 3600


def units(pattern: list[VideoAccessUnit], count: int) -> list[VideoAccessUnit]:
    return [
        dataclasses.replace(unit, pts_90k=index * FRAME_90K)
        for index, unit in zip(range(count), itertools.cycle(pattern), strict=False)
    ]


def time_fragmenter(stream: list[VideoAccessUnit], fragment_ms: int) -> float:
    fragmenter = Fmp4Fragmenter(VideoCodec.H264, stream[0], fragment_ms=fragment_ms)
    started = time.perf_counter()
    for unit in stream[1:]:
        fragmenter.push_video(unit)
    fragmenter.flush()
    return (time.perf_counter() - started) * 1e6 / len(stream)


def time_file(stream: list[VideoAccessUnit], fragment_ms: int, directory: Path) -> float:
    path = directory / f"bench-{fragment_ms}-{time.monotonic_ns()}.mp4"
    writer = Fmp4FileWriter(path, VideoCodec.H264, stream[0], fragment_ms=fragment_ms)
    started = time.perf_counter()
    for unit in stream[1:]:
        writer.push_video(unit)
    writer.close()
    elapsed = time.perf_counter() - started
    path.unlink()
    return elapsed * 1e6 / len(stream)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer pictures (well under a minute)")
    args = parser.parse_args()
    count = 5_000 if args.quick else 50_000
    source = SyntheticVideo(*SIZES["4cif"], clock=lambda: datetime(2026, 1, 1, 12))
    pattern = list(itertools.islice(source, 100))
    stream = units(pattern, count)
    rounds = 3
    results = {}
    with tempfile.TemporaryDirectory() as directory:
        for name, run in (
            ("live_per_frame_us", lambda: time_fragmenter(stream, 0)),
            ("live_1s_fragments_us", lambda: time_fragmenter(stream, 1000)),
            ("file_1s_fragments_us", lambda: time_file(stream, 1000, Path(directory))),
        ):
            best = min(run() for _ in range(rounds))
            results[name] = round(best, 2)
            print(f"{name}: {best:.2f} µs per picture (best of {rounds}, {count} pictures of 704x576)")
    results["frames"] = count
    print(json.dumps(results))


if __name__ == "__main__":
    main()
