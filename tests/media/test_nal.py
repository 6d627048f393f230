"""NAL units: Annex B splitting, types, keyframes, codec guessing, SPS picture size, parameter-set repair."""

from __future__ import annotations

import contextlib
import itertools
import subprocess
from pathlib import Path

import av
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tianyan.media.nal import (
    H264_IDR,
    H264_PPS,
    H264_SPS,
    H265_PPS,
    H265_SPS,
    H265_VPS,
    NalError,
    ParameterSetCache,
    guess_codec,
    h264_sps_size,
    h265_sps_size,
    is_keyframe,
    nal_types,
    parameter_sets,
    remove_emulation_prevention,
    split_nal_units,
    sps_size,
    starts_access_unit,
)
from tianyan.media.units import VideoCodec
from tianyan.sim.video import FileVideo, SyntheticVideo

H264 = VideoCodec.H264
H265 = VideoCodec.H265


def decode_count(chunks: list[bytes], codec: str) -> int:
    decoder = av.CodecContext.create(codec, "r")
    frames = 0
    for chunk in chunks:
        for packet in decoder.parse(chunk):
            frames += len(decoder.decode(packet))
    for packet in decoder.parse(b""):
        frames += len(decoder.decode(packet))
    return frames + len(decoder.decode(None))


def test_split_handles_three_and_four_byte_start_codes_and_leading_junk() -> None:
    data = b"\xaa\xbb\x00\x00\x00\x01\x67\x42\x00\x00\x01\x68\xce\x00\x00\x00\x01\x65\x88\x80"
    assert split_nal_units(data) == [b"\x67\x42", b"\x68\xce", b"\x65\x88\x80"]
    assert split_nal_units(b"") == []
    assert split_nal_units(b"\x00\x00\x01") == []
    assert nal_types(data, H264) == [H264_SPS, H264_PPS, H264_IDR]


def test_synthetic_h264_keyframes_parameter_sets_and_size() -> None:
    units = list(itertools.islice(SyntheticVideo(1280, 720, bitrate_bps=2_000_000), 52))
    assert [is_keyframe(u.data, H264) for u in units] == [u.keyframe for u in units]
    sets = parameter_sets(units[0].data, H264)
    assert set(sets) == {H264_SPS, H264_PPS}
    # 720 is 45 macroblocks: exact, no cropping; 1280 is 80.
    assert h264_sps_size(sets[H264_SPS]) == (sps := sps_size(sets[H264_SPS], H264))
    assert (sps.width, sps.height) == (1280, 720)
    assert guess_codec(units[0].data) is H264
    assert guess_codec(units[1].data) is H264
    assert starts_access_unit(split_nal_units(units[1].data)[0], H264)


def _encode(ffmpeg: str, out: Path, size: str, codec: str) -> Path:
    args = ["-c:v", "libx264", "-preset", "ultrafast"]
    if codec == "hevc":
        args = ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error:keyint=10"]
    command = [ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25", "-frames:v", "12"]
    subprocess.run(
        [*command, *args, "-pix_fmt", "yuv420p", str(out)],
        check=True,
        timeout=60,
    )
    return out


@pytest.mark.parametrize(("size", "codec"), [("326x182", "h264"), ("326x182", "hevc"), ("320x240", "hevc")])
def test_sps_size_applies_cropping(ffmpeg: str, tmp_path: Path, size: str, codec: str) -> None:
    path = _encode(ffmpeg, tmp_path / f"v.{'mp4'}", size, codec)
    unit = next(FileVideo(path, loop=False))
    video = H264 if codec == "h264" else H265
    sets = parameter_sets(unit.data, video)
    width, height = (int(x) for x in size.split("x"))
    sps = sets[H264_SPS if video is H264 else H265_SPS]
    assert sps_size(sps, video) == (h264_sps_size(sps) if video is H264 else h265_sps_size(sps))
    assert (sps_size(sps, video).width, sps_size(sps, video).height) == (width, height)
    if video is H265:
        assert {H265_VPS, H265_SPS, H265_PPS} <= set(sets)
        assert guess_codec(unit.data) is H265
        assert is_keyframe(unit.data, H265)


def test_hevc_frames_are_told_from_h264(hevc_mp4: Path) -> None:
    units = list(itertools.islice(FileVideo(hevc_mp4, loop=False), 20))
    assert all(guess_codec(u.data) is H265 for u in units)
    assert [is_keyframe(u.data, H265) for u in units] == [u.keyframe for u in units]


def test_emulation_prevention_bytes_are_removed() -> None:
    assert remove_emulation_prevention(b"\x00\x00\x03\x01\x00\x00\x03\x00\x00\x03") == b"\x00\x00\x01\x00\x00\x00\x00"


def test_sps_of_the_wrong_kind_is_refused() -> None:
    with pytest.raises(NalError):
        h264_sps_size(b"\x68\xce\x38\x80")
    with pytest.raises(NalError):
        h265_sps_size(b"\x44\x01\xc1")
    with pytest.raises(NalError):
        h264_sps_size(b"\x67\x42")  # truncated


def test_parameter_sets_are_put_back_in_front_of_a_bare_keyframe() -> None:
    units = list(itertools.islice(SyntheticVideo(352, 288), 51))
    cache = ParameterSetCache(H264)
    assert cache.complete(units[0].data) is units[0].data  # has its own: left alone, but learnt
    assert cache.size() is not None and (cache.size().width, cache.size().height) == (352, 288)  # type: ignore[union-attr]
    bare = b"".join(b"\x00\x00\x00\x01" + nal for nal in split_nal_units(units[50].data) if nal[0] & 0x1F not in (7, 8))
    repaired = cache.complete(bare)
    assert nal_types(repaired, H264)[:2] == [H264_SPS, H264_PPS]
    assert cache.repaired == 1
    # A decoder joining at the repaired keyframe decodes it and what follows.
    assert decode_count([repaired], "h264") == 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzzed_sps_only_raises_nal_error(data: bytes) -> None:
    for parse in (h264_sps_size, h265_sps_size):
        with contextlib.suppress(NalError):
            parse(data)
    guess_codec(data)
    split_nal_units(data)
    for codec in (H264, H265):
        is_keyframe(data, codec)
        ParameterSetCache(codec).complete(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=60))
def test_fuzzed_sps_bodies_only_raise_nal_error(body: bytes) -> None:
    for sps, parse in ((b"\x67" + body, h264_sps_size), (b"\x42\x01" + body, h265_sps_size)):
        try:
            size = parse(sps)
        except NalError:
            continue
        assert size.width > 0 and size.height > 0
