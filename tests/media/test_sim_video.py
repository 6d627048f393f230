"""Simulator video sources: synthetic H.264 (GOP, timing, motion, clock, cost) and files looped without re-encoding."""

from __future__ import annotations

import itertools
import re
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path

import av
import numpy as np
import pytest

from tianyan.media.ps import StreamType, VideoAccessUnit
from tianyan.sim.video import SIZES, FileVideo, SyntheticVideo

START_CODE = re.compile(b"\x00\x00\x01")


def nal_types(data: bytes, codec: str = "h264") -> list[int]:
    """NAL unit types of an Annex B access unit."""
    heads = [m.end() for m in START_CODE.finditer(data)]
    if codec == "h264":
        return [data[i] & 0x1F for i in heads]
    return [(data[i] >> 1) & 0x3F for i in heads]


def decode(units: list[VideoAccessUnit], codec: str = "h264") -> list[av.VideoFrame]:
    decoder = av.CodecContext.create(codec, "r")
    frames = []
    for unit in units:
        for packet in decoder.parse(unit.data):
            frames += decoder.decode(packet)
    for packet in decoder.parse(b""):
        frames += decoder.decode(packet)
    frames += decoder.decode(None)
    return frames


def fixed(at: datetime):
    return lambda: at


NOON = datetime(2026, 1, 1, 12, 0, 0)


def test_synthetic_gop_timing_and_parameter_sets() -> None:
    units = list(itertools.islice(SyntheticVideo(352, 288, label="34020000001320000001", clock=fixed(NOON)), 101))
    assert [i for i, u in enumerate(units) if u.keyframe] == [0, 50, 100]
    assert [u.pts_90k for u in units] == [i * 3600 for i in range(101)]
    assert all(u.dts_90k is None for u in units)
    assert all(u.data.startswith((b"\x00\x00\x00\x01", b"\x00\x00\x01")) for u in units)
    for i in (0, 50, 100):
        # SPS and PPS before every IDR, so a receiver can join at any keyframe.
        assert {7, 8, 5} <= set(nal_types(units[i].data))
    assert set(nal_types(units[1].data)) == {1}


def test_synthetic_picture_decodes_and_moves() -> None:
    units = list(itertools.islice(SyntheticVideo(352, 288, clock=fixed(NOON)), 25))
    frames = decode(units)
    assert len(frames) == 25
    assert (frames[0].width, frames[0].height) == (352, 288)
    first, later = (f.to_ndarray(format="gray").astype(np.int16) for f in (frames[0], frames[12]))
    change = np.abs(first - later)
    # Traffic moves through a still street, as a fixed camera sees it: a motion detector sees the moving part,
    # while most of the picture (the scene a diagnosis compares with its reference) stays where it was.
    assert (change > 20).mean() > 0.02, "a motion detector must see motion"
    assert np.median(change) < 3, "the scene itself must not move"


def test_clock_is_injected_and_encoding_is_deterministic() -> None:
    def first_units(clock) -> list[bytes]:
        return [u.data for u in itertools.islice(SyntheticVideo(352, 288, label="cam", clock=clock), 3)]

    assert first_units(fixed(NOON)) == first_units(fixed(NOON))
    assert first_units(fixed(NOON))[0] != first_units(fixed(NOON + timedelta(seconds=1)))[0]
    calls = []
    source = SyntheticVideo(352, 288, clock=lambda: calls.append(1) or NOON)
    list(itertools.islice(source, 4))
    assert len(calls) == 4


def test_synthetic_start_time_and_rate() -> None:
    units = list(itertools.islice(SyntheticVideo(352, 288, fps=15, start_pts_90k=90_000, clock=fixed(NOON)), 3))
    assert [u.pts_90k for u in units] == [90_000, 96_000, 102_000]


def test_bitrate_stays_near_the_target() -> None:
    source = SyntheticVideo(*SIZES["4cif"], clock=fixed(NOON))
    sizes = [len(u.data) for u in itertools.islice(source, 100)]
    bitrate = sum(sizes) * 8 * 25 / 100
    assert 0.4 * source.bitrate_bps < bitrate < 1.3 * source.bitrate_bps


def test_encoding_a_4cif_frame_is_cheap() -> None:
    source = SyntheticVideo(*SIZES["4cif"], clock=fixed(NOON))
    list(itertools.islice(source, 5))
    started = time.perf_counter()
    list(itertools.islice(source, 50))
    per_frame_ms = (time.perf_counter() - started) * 1000 / 50
    # Several 25 fps streams per core need well under 40 ms a frame; measured 3-5 ms on a shared 2-core box.
    assert per_frame_ms < 20, f"{per_frame_ms:.1f} ms per 704x576 frame"


@pytest.mark.parametrize(("width", "height", "fps"), [(15, 16, 25), (352, 287, 25), (352, 288, 0), (352, 288, 61)])
def test_bad_settings_are_refused(width: int, height: int, fps: int) -> None:
    with pytest.raises(ValueError):
        SyntheticVideo(width, height, fps)


def test_file_h264_with_b_frames_loops_without_reencoding(h264_mp4: Path) -> None:
    source = FileVideo(h264_mp4)
    assert (source.codec, source.stream_type, source.width, source.height) == ("h264", StreamType.H264, 320, 240)
    units = list(itertools.islice(source, 60))  # three passes over 20 frames
    assert all(u.data.startswith((b"\x00\x00\x00\x01", b"\x00\x00\x01")) for u in units)
    assert [i for i, u in enumerate(units) if u.keyframe] == [0, 10, 20, 30, 40, 50]
    assert all({7, 8, 5} <= set(nal_types(u.data)) for u in units if u.keyframe)
    # Presentation runs on without a gap across the loop points; decode order strictly increases.
    assert sorted(u.pts_90k for u in units) == [units[0].pts_90k + i * 3600 for i in range(60)]
    dts = [u.dts_90k if u.dts_90k is not None else u.pts_90k for u in units]
    assert all(b > a for a, b in itertools.pairwise(dts))
    assert any(u.dts_90k is not None for u in units), "B-frames keep their own DTS"
    assert len(decode(units)) == 60


def test_file_bytes_are_the_files_own(h264_mp4: Path) -> None:
    with av.open(str(h264_mp4)) as container:
        stored = bytes(next(container.demux(video=0)))
    # MP4 stores the first NAL unit behind a 4-byte length; the unit must carry it byte for byte.
    length = int.from_bytes(stored[:4], "big")
    assert stored[4 : 4 + length] in next(FileVideo(h264_mp4)).data


def test_file_h265_has_vps_sps_pps_on_keyframes(hevc_mp4: Path) -> None:
    source = FileVideo(hevc_mp4, start_pts_90k=1000)
    assert (source.codec, source.stream_type) == ("hevc", StreamType.H265)
    units = list(itertools.islice(source, 40))
    assert min(u.pts_90k for u in units) >= 1000
    assert all({32, 33, 34} <= set(nal_types(u.data, "hevc")) for u in units if u.keyframe)
    assert len(decode(units, "hevc")) == 40


def test_file_that_is_annex_b_already(h264_ts: Path) -> None:
    units = list(itertools.islice(FileVideo(h264_ts, loop=False), 100))
    assert len(units) == 20
    assert units[0].keyframe and {7, 8, 5} <= set(nal_types(units[0].data))
    assert len(decode(units)) == 20


def test_file_with_another_codec_is_refused(ffmpeg: str, tmp_path: Path) -> None:
    path = tmp_path / "mjpeg.mkv"
    subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=64x48",
            "-frames:v",
            "2",
            "-c:v",
            "mjpeg",
            str(path),
        ],
        check=True,
        timeout=30,
    )
    with pytest.raises(ValueError, match=r"not H\.264 or H\.265"):
        FileVideo(path)
