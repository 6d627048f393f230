"""Evidence export speed: N minutes of 720p, ~2 Mbit/s, 25 fps recording remuxed into one faststart MP4.

One minute is encoded once with ffmpeg, stream-copied into 5-minute fragmented-MP4 segments (the recorder's
layout), and those are copied to make the footage; then the whole range, crossing every segment boundary, is
exported with `tianyan.media.export.export_mp4` and the file hashed (SHA-256), as an export job does.
Floor: 300x real time (one hour exported in 12 s or less).

    .venv/bin/python bench/export.py [--quick] [--minutes N] [--keep DIR]

The last line of output is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tianyan.media.export import SegmentFile, export_mp4
from tianyan.media.manifest import file_sha256

FLOOR_X_REALTIME = 300.0
SEGMENT_MIN = 5
FRAG = "frag_keyframe+empty_moov+default_base_moof"


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def build_footage(workdir: Path, minutes: int) -> list[SegmentFile]:
    one = workdir / "one-minute.mp4"
    ffmpeg(
        *("-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-t", "60"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-b:v", "2M", "-maxrate", "2M", "-bufsize", "2M"),
        *("-g", "50", "-pix_fmt", "yuv420p", "-movflags", FRAG, str(one)),
    )
    per_segment = min(SEGMENT_MIN, minutes)
    listing = workdir / "list.txt"
    listing.write_text("".join(f"file '{one}'\n" for _ in range(per_segment)))
    segment = workdir / "segment.mp4"
    ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", "-movflags", FRAG, str(segment))
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    segments = []
    for index in range(-(-minutes // per_segment)):
        path = workdir / f"seg-{index:03d}.mp4"
        shutil.copyfile(segment, path)
        start = t0 + timedelta(minutes=index * per_segment)
        segments.append(SegmentFile(index + 1, path, start, start + timedelta(minutes=per_segment)))
    return segments


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 minutes of footage instead of 60")
    parser.add_argument("--minutes", type=int, help="minutes of footage (default 60, or 10 with --quick)")
    parser.add_argument("--keep", type=Path, help="build the footage here and keep it")
    args = parser.parse_args()
    minutes = args.minutes or (10 if args.quick else 60)
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="tianyan-export-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        began = time.perf_counter()
        segments = build_footage(workdir, minutes)
        print(f"built {minutes} min in {len(segments)} segments in {time.perf_counter() - began:.1f} s", flush=True)
        start, end = segments[0].start_at, segments[-1].end_at
        out = workdir / "export.mp4"
        began = time.perf_counter()
        result = export_mp4(segments, start, end, out)
        remuxed = time.perf_counter() - began
        digest = file_sha256(out)
        elapsed = time.perf_counter() - began
        size = out.stat().st_size
        speed = result.duration_s / elapsed
        print(
            f"exported {result.duration_s:.0f} s of video ({result.video_frames} frames, {size / 1e6:.0f} MB) "
            f"in {elapsed:.2f} s (remux {remuxed:.2f} s, hash {elapsed - remuxed:.2f} s): {speed:.0f}x real time, "
            f"sha256 {digest[:16]}…"
        )
        figures = {
            "bench": "export",
            "minutes": minutes,
            "segments": len(segments),
            "bytes": size,
            "frames": result.video_frames,
            "export_s": round(elapsed, 3),
            "remux_s": round(remuxed, 3),
            "x_realtime": round(speed, 1),
            "floor_x_realtime": FLOOR_X_REALTIME,
            "ok": speed >= FLOOR_X_REALTIME,
        }
        print(json.dumps(figures))
        if not figures["ok"]:
            sys.exit(1)
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
