"""Fragmented MP4 without re-encoding: every picture comes back out, MSE-ready, in files ffprobe reads."""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.media.recording_helpers import aac_units, mp4_digests, picture_digests, synthetic
from tianyan.media import mp4boxes
from tianyan.media.fmp4 import Fmp4FileWriter, Fmp4Fragmenter, MuxError
from tianyan.media.units import AudioAccessUnit, AudioCodec, VideoAccessUnit, VideoCodec
from tianyan.sim.video import FileVideo


def run(fragmenter: Fmp4Fragmenter, units: list[VideoAccessUnit]) -> list[bytes]:
    out = []
    for unit in units[1:]:
        out += fragmenter.push_video(unit)
    return out + fragmenter.flush()


def tfhd_flags(fragment: bytes) -> list[int]:
    flags = []
    moof = next(mp4boxes.iter_boxes(fragment))
    for traf in mp4boxes.child_boxes(fragment, moof):
        if traf.type == "traf":
            tfhd = next(b for b in mp4boxes.child_boxes(fragment, traf) if b.type == "tfhd")
            flags.append(struct.unpack_from(">I", fragment, tfhd.body)[0] & 0xFFFFFF)
    return flags


def test_one_fragment_per_picture_decodes_to_the_same_pictures() -> None:
    units = synthetic(60)
    fragmenter = Fmp4Fragmenter(VideoCodec.H264, units[0])
    assert fragmenter.mime_codec.startswith("avc1.") and len(fragmenter.mime_codec) == len("avc1.42c00d")
    assert fragmenter.mime_type == f'video/mp4; codecs="{fragmenter.mime_codec}"'
    assert (fragmenter.width, fragmenter.height) == (352, 288)
    init = fragmenter.init_segment
    assert [b.type for b in mp4boxes.iter_boxes(init)] == ["ftyp", "moov"]
    fragments = run(fragmenter, units)
    assert len(fragments) == 60
    for index, fragment in enumerate(fragments):
        assert [b.type for b in mp4boxes.iter_boxes(fragment)] == ["moof", "mdat"]
        # default-base-is-moof: what MSE needs to place the data without knowing where the fragment sits.
        assert all(flags & 0x020000 for flags in tfhd_flags(fragment))
        (parsed,) = mp4boxes.split_fragments(fragment)
        (run_,) = parsed.runs
        assert (run_.base_decode_time, run_.duration, run_.samples) == (index * 3600, 3600, 1)
        assert run_.starts_with_sync == units[index].keyframe
    assert mp4_digests(init + b"".join(fragments)) == picture_digests(units)


def test_a_fragment_comes_out_when_the_next_picture_arrives() -> None:
    units = synthetic(3)
    fragmenter = Fmp4Fragmenter(VideoCodec.H264, units[0])
    assert len(fragmenter.push_video(units[1])) == 1
    assert len(fragmenter.push_video(units[2])) == 1
    assert len(fragmenter.flush()) == 1
    assert fragmenter.flush() == []
    with pytest.raises(MuxError, match="flushed"):
        fragmenter.push_video(units[0])


def test_times_are_rebased_to_zero() -> None:
    units = synthetic(10, start_pts_90k=123_456_789)
    fragments = run(Fmp4Fragmenter(VideoCodec.H264, units[0], fragment_ms=200), units)
    scan = mp4boxes.scan_bytes(b"".join(fragments))
    assert scan.track_span(1) == (0, 36000)
    assert [f.run(1).samples for f in scan.fragments] == [5, 5]  # type: ignore[union-attr]


def test_one_second_fragments_in_a_file_that_ffprobe_reads(tmp_path: Path, probe: Callable[[Path], dict]) -> None:
    units = synthetic(75)
    path = tmp_path / "seg.mp4"
    writer = Fmp4FileWriter(path, VideoCodec.H264, units[0], fragment_ms=1000)
    written = []
    for unit in units[1:]:
        written += writer.push_video(unit)
    # Each whole second went to the file as soon as the picture after it arrived.
    assert [(w.start_90k, w.end_90k, w.frames) for w in written] == [(0, 90000, 25), (90000, 180000, 25)]
    assert path.stat().st_size == writer.bytes == written[-1].offset + written[-1].size
    written += writer.close()
    assert written[-1].end_90k == 270000 and writer.frames == 75
    assert written[0].keyframe and written[2].keyframe and not written[1].keyframe
    info = probe(path)
    (stream,) = info["streams"]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 352, 288)
    assert float(info["format"]["duration"]) == pytest.approx(3.0, abs=0.05)
    assert mp4_digests(path.read_bytes()) == picture_digests(units)


def test_b_frames_keep_their_order(h264_mp4: Path, tmp_path: Path, probe: Callable[[Path], dict]) -> None:
    units = list(itertools.islice(FileVideo(h264_mp4, start_pts_90k=5000), 40))
    assert any(u.dts_90k is not None for u in units)
    path = tmp_path / "b.mp4"
    writer = Fmp4FileWriter(path, VideoCodec.H264, units[0], fragment_ms=500)
    for unit in units[1:]:
        writer.push_video(unit)
    writer.close()
    assert writer.fragmenter.retimed == 0
    assert mp4_digests(path.read_bytes()) == picture_digests(units)
    (stream,) = probe(path)["streams"]
    assert stream["has_b_frames"] >= 1


def test_hevc_is_hvc1_with_its_codec_string(hevc_mp4: Path, tmp_path: Path, probe: Callable[[Path], dict]) -> None:
    units = list(itertools.islice(FileVideo(hevc_mp4), 20))
    fragmenter = Fmp4Fragmenter(VideoCodec.H265, units[0])
    # Main profile, level 2 (60/30), tier Main: the form browsers' isTypeSupported understands.
    assert fragmenter.mime_codec.startswith("hvc1.1.6.L60")
    data = fragmenter.init_segment + b"".join(run(fragmenter, units))
    assert [e.type for e in mp4boxes.sample_entries(data)] == ["hvc1"]
    (tmp_path / "h.mp4").write_bytes(data)
    (stream,) = probe(tmp_path / "h.mp4")["streams"]
    assert (stream["codec_name"], stream["codec_tag_string"], stream["width"]) == ("hevc", "hvc1", 320)
    assert mp4_digests(data) == picture_digests(units, "hevc")


def test_aac_audio_rides_along_and_g711_is_skipped(
    adts_aac: Path, tmp_path: Path, probe: Callable[[Path], dict]
) -> None:
    video = synthetic(50)
    audio = aac_units(adts_aac.read_bytes())
    for fragment_ms in (0, 1000):
        fragmenter = Fmp4Fragmenter(
            VideoCodec.H264, video[0], audio=AudioCodec.AAC, first_audio=audio[0], fragment_ms=fragment_ms
        )
        assert fragmenter.audio == AudioCodec.AAC
        assert fragmenter.mime_type.endswith(', mp4a.40.2"')
        out = []
        pending = iter(audio)
        next_audio = next(pending, None)
        for unit in video[1:]:
            while next_audio is not None and next_audio.pts_90k <= unit.pts_90k:
                out += fragmenter.push_audio(next_audio)
                next_audio = next(pending, None)
            out += fragmenter.push_video(unit)
        out += fragmenter.flush()
        data = fragmenter.init_segment + b"".join(out)
        scan = mp4boxes.scan_bytes(data)
        # Both tracks run on without holes, whichever track's packet cut each fragment.
        for track in (1, 2):
            runs = [r for f in scan.fragments if (r := f.run(track)) is not None and r.samples]
            assert all(a.base_decode_time + a.duration == b.base_decode_time for a, b in itertools.pairwise(runs))
        assert scan.samples(1) == 50
        path = tmp_path / f"av{fragment_ms}.mp4"
        path.write_bytes(data)
        streams = {s["codec_type"]: s for s in probe(path)["streams"]}
        assert streams["audio"]["codec_name"] == "aac" and streams["audio"]["sample_rate"] == "8000"
        assert mp4_digests(data) == picture_digests(video)

    g711 = Fmp4Fragmenter(VideoCodec.H264, video[0], audio=AudioCodec.G711A)
    assert g711.audio is None and "mp4a" not in g711.mime_type
    g711.push_audio(AudioAccessUnit(b"\xd5" * 320, 0))
    assert g711.skipped_audio == 1


def test_aac_without_a_frame_to_configure_it_is_skipped() -> None:
    fragmenter = Fmp4Fragmenter(VideoCodec.H264, synthetic(1)[0], audio=AudioCodec.AAC)
    assert fragmenter.audio is None
    fragmenter.push_audio(AudioAccessUnit(b"\xff\xf1garbage", 0))
    assert fragmenter.skipped_audio == 1


def test_late_picture_is_nudged_not_refused() -> None:
    units = synthetic(4)
    late = VideoAccessUnit(units[3].data, units[1].pts_90k, False)
    fragmenter = Fmp4Fragmenter(VideoCodec.H264, units[0])
    out = fragmenter.push_video(units[1]) + fragmenter.push_video(units[2]) + fragmenter.push_video(late)
    out += fragmenter.flush()
    assert fragmenter.retimed == 1
    assert mp4boxes.scan_bytes(b"".join(out)).samples(1) == 4


def test_bad_starts_are_refused_clearly() -> None:
    units = synthetic(2)
    with pytest.raises(MuxError, match="keyframe"):
        Fmp4Fragmenter(VideoCodec.H264, units[1])
    with pytest.raises(MuxError, match="sequence parameter set"):
        Fmp4Fragmenter(VideoCodec.H264, VideoAccessUnit(b"\x00\x00\x00\x01\x65\x88\x84", 0, True))
    with pytest.raises(MuxError, match="sequence parameter set"):
        Fmp4Fragmenter(VideoCodec.H265, units[0])


def test_file_writer_refuses_to_overwrite(tmp_path: Path) -> None:
    units = synthetic(1)
    path = tmp_path / "x.mp4"
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError):
        Fmp4FileWriter(path, VideoCodec.H264, units[0])
    assert path.read_bytes() == b"precious"
