"""Reading fMP4 structure without decoding: spans from tfdt/trun, the last whole fragment, torn tails, garbage."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.media.recording_helpers import mp4_digests, synthetic
from tianyan.media import mp4boxes
from tianyan.media.bitstream import parse_adts, video_format
from tianyan.media.fmp4 import Fmp4Fragmenter
from tianyan.media.units import VideoCodec


@pytest.fixture(scope="module")
def segment() -> tuple[bytes, list[int]]:
    """A 3 s file in 1 s fragments, and where each fragment ends."""
    units = synthetic(75)
    fragmenter = Fmp4Fragmenter(VideoCodec.H264, units[0], fragment_ms=1000)
    fragments = []
    for unit in units[1:]:
        fragments += fragmenter.push_video(unit)
    fragments += fragmenter.flush()
    data = fragmenter.init_segment
    ends = []
    for fragment in fragments:
        data += fragment
        ends.append(len(data))
    return data, ends


def test_whole_file_span_and_tracks(segment: tuple[bytes, list[int]]) -> None:
    data, ends = segment
    scan = mp4boxes.scan_bytes(data)
    assert scan.problem is None and not scan.torn and scan.good_end == len(data)
    assert scan.init is not None and scan.init.video is not None
    video = scan.init.video
    assert (video.kind, video.timescale, video.width, video.height) == ("video", 90000, 352, 288)
    assert [f.end for f in scan.fragments] == ends
    assert scan.video_span_s() == (0.0, 3.0)
    assert scan.samples(video.track_id) == 75


@pytest.mark.parametrize("cut", [1, 7, 100, 1000, -1, -5000])
def test_torn_tail_is_found_and_cut(segment: tuple[bytes, list[int]], tmp_path: Path, cut: int) -> None:
    data, ends = segment
    at = ends[1] + cut if cut > 0 else ends[2] + cut
    path = tmp_path / "torn.mp4"
    path.write_bytes(data[:at])
    scan = mp4boxes.scan_file(path)
    assert scan.torn and scan.good_end == ends[1] and scan.problem
    assert scan.video_span_s() == (0.0, 2.0)
    assert mp4boxes.truncate_torn_tail(path) == at - ends[1]
    assert path.read_bytes() == data[: ends[1]]
    assert mp4boxes.truncate_torn_tail(path) == 0
    assert len(mp4_digests(path.read_bytes())) == 50


def test_file_cut_inside_the_header_has_no_fragments(segment: tuple[bytes, list[int]], tmp_path: Path) -> None:
    data, _ = segment
    scan = mp4boxes.scan_bytes(data[:300])
    ftyp = next(mp4boxes.iter_boxes(data))
    assert scan.init is None and scan.fragments == [] and scan.good_end == ftyp.end and scan.torn
    assert scan.video_span_s() is None


def test_garbage_after_the_last_fragment(segment: tuple[bytes, list[int]]) -> None:
    data, ends = segment
    for tail in (b"\x00" * 64, b"\xff" * 3, b"\x00\x00\x00\x10moof" + b"\x00" * 8, b"\x00\x00\x01\x00mdat"):
        scan = mp4boxes.scan_bytes(data + tail)
        assert scan.good_end == ends[-1] and scan.torn and len(scan.fragments) == 3


def test_random_bytes_never_raise() -> None:
    rng = random.Random(7)
    for _ in range(300):
        blob = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
        scan = mp4boxes.scan_bytes(blob)
        assert scan.good_end <= len(blob)
        assert mp4boxes.parse_init(blob) is None or isinstance(mp4boxes.parse_init(blob), mp4boxes.InitInfo)


def test_a_fragment_that_claims_more_than_its_mdat(segment: tuple[bytes, list[int]]) -> None:
    data, ends = segment
    first = ends[0]
    moof = next(b for b in mp4boxes.iter_boxes(data, first) if b.type == "moof")
    mdat = next(mp4boxes.iter_boxes(data, moof.end))
    shrunk = bytearray(data[: mdat.offset]) + (mdat.size - 100).to_bytes(4, "big") + b"mdat"
    shrunk += data[mdat.body : mdat.end - 100]
    scan = mp4boxes.scan_bytes(bytes(shrunk))
    assert len(scan.fragments) == 1 and "more sample bytes" in (scan.problem or "")


def test_codec_strings_from_real_files(hevc_mp4: Path, h264_mp4: Path) -> None:
    # ffmpeg's own non-fragmented output: the moov (after the mdat) still says what the tracks are.
    h264 = mp4boxes.parse_init(h264_mp4.read_bytes())
    assert h264 is not None and h264.video is not None
    assert h264.video.codec_string.startswith("avc1.")
    assert (h264.video.width, h264.video.height) == (320, 240)
    hevc = mp4boxes.parse_init(hevc_mp4.read_bytes())
    assert hevc is not None and hevc.video is not None
    assert hevc.video.codec_string.startswith("hvc1.1.6.L")


def test_picture_size_from_the_sps() -> None:
    for width, height in ((352, 288), (704, 576), (1280, 720), (1920, 1080)):
        fmt = video_format(VideoCodec.H264, synthetic(1, width, height)[0].data)
        assert (fmt.width, fmt.height) == (width, height)
        assert fmt.parameter_sets.count(b"\x00\x00\x00\x01") == 2


def test_adts_header(adts_aac: Path) -> None:
    header = parse_adts(adts_aac.read_bytes())
    assert (header.object_type, header.sample_rate, header.channels, header.samples) == (2, 8000, 1, 1024)
    assert header.audio_specific_config() == bytes([0x15, 0x88])
