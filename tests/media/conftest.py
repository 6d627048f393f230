"""Media fixtures: the real ffmpeg and ffprobe (missing tools fail the run, never skip it) and small files they make."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is required for the media tests (apt-get install ffmpeg); refusing to skip them")
    return path


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    return _tool("ffmpeg")


@pytest.fixture(scope="session")
def ffprobe() -> str:
    return _tool("ffprobe")


@pytest.fixture(scope="session")
def probe(ffprobe: str) -> Callable[[Path], dict]:
    """ffprobe's JSON view of a file: format and streams."""

    def run(path: Path) -> dict:
        result = subprocess.run(
            [ffprobe, "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return json.loads(result.stdout)

    return run


def _make(ffmpeg: str, out: Path, *args: str) -> Path:
    subprocess.run([ffmpeg, "-v", "error", "-y", *args, str(out)], check=True, timeout=60)
    return out


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def h264_mp4(ffmpeg: str, media_dir: Path) -> Path:
    """20 frames of 320x240 H.264 in MP4 (length-prefixed NAL units), GOP 10, with B-frames."""
    return _make(
        ffmpeg,
        media_dir / "h264.mp4",
        *("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-frames:v", "20"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-bf", "2", "-pix_fmt", "yuv420p"),
    )


@pytest.fixture(scope="session")
def hevc_mp4(ffmpeg: str, media_dir: Path) -> Path:
    """20 frames of 320x240 H.265 in MP4, GOP 10."""
    return _make(
        ffmpeg,
        media_dir / "hevc.mp4",
        *("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-frames:v", "20"),
        *("-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error:keyint=10", "-tag:v", "hvc1"),
    )


@pytest.fixture(scope="session")
def h264_ts(ffmpeg: str, media_dir: Path, h264_mp4: Path) -> Path:
    """The same H.264 remuxed to MPEG-TS, whose packets are Annex B already."""
    return _make(ffmpeg, media_dir / "h264.ts", "-i", str(h264_mp4), "-c", "copy")


@pytest.fixture(scope="session")
def adts_aac(ffmpeg: str, media_dir: Path) -> Path:
    """2 s of a 440 Hz tone as AAC in ADTS frames, 8 kHz mono (what GB cameras send)."""
    return _make(
        ffmpeg,
        media_dir / "tone.aac",
        *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000:duration=2"),
        *("-c:a", "aac", "-b:a", "32k", "-f", "adts"),
    )
