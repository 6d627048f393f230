"""PS demuxing: what PsMuxer writes and what FFmpeg writes, split anywhere, damaged, and fuzzed."""

from __future__ import annotations

import itertools
import random
import subprocess
from pathlib import Path

import av
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tianyan.media.nal import split_nal_units
from tianyan.media.ps import (
    PROGRAM_STREAM_MAP_START_CODE,
    AudioAccessUnit,
    PsMuxer,
    StreamType,
    VideoAccessUnit,
    pack_header,
    pes_packets,
)
from tianyan.media.ps_demux import DemuxedUnit, PsDemuxer
from tianyan.media.timestamps import TimestampUnwrapper
from tianyan.media.units import AudioCodec, VideoCodec
from tianyan.sim.video import FileVideo, SyntheticVideo


def demux_all(data: bytes, chunk: int | None = None, *, frames: list[bytes] | None = None) -> tuple[list, PsDemuxer]:
    demuxer = PsDemuxer()
    out: list[DemuxedUnit] = []
    if frames is not None:
        for frame in frames:
            out += demuxer.feed(frame)
            out += demuxer.end_of_frame()
    else:
        step = chunk or len(data) or 1
        for i in range(0, len(data), step):
            out += demuxer.feed(data[i : i + step])
        out += demuxer.flush()
    return out, demuxer


def video(out: list) -> list[VideoAccessUnit]:
    return [unit for codec, unit in out if isinstance(codec, VideoCodec)]


def audio(out: list) -> list[AudioAccessUnit]:
    return [unit for codec, unit in out if isinstance(codec, AudioCodec)]


def decoded_luma(units: list[VideoAccessUnit], codec: str) -> list[bytes]:
    """Each decoded picture's Y plane, in output order: pictures are equal exactly when these are."""
    decoder = av.CodecContext.create(codec, "r")
    pictures: list[bytes] = []
    for unit in units:
        pictures += [f.to_ndarray(format="gray").tobytes() for f in decoder.decode(av.Packet(unit.data))]
    pictures += [f.to_ndarray(format="gray").tobytes() for f in decoder.decode(None)]
    return pictures


def adts_frames(path: Path) -> list[bytes]:
    data = path.read_bytes()
    frames, position = [], 0
    while position + 7 <= len(data):
        length = ((data[position + 3] & 3) << 11) | (data[position + 4] << 3) | (data[position + 5] >> 5)
        frames.append(data[position : position + length])
        position += length
    return frames


@pytest.fixture(scope="module")
def h264_units() -> list[VideoAccessUnit]:
    return list(itertools.islice(SyntheticVideo(352, 288, bitrate_bps=600_000), 60))


@pytest.mark.parametrize("chunk", [None, 1, 7, 1400, 4096])
def test_psmuxer_h264_round_trips_whatever_the_chunking(h264_units: list[VideoAccessUnit], chunk: int | None) -> None:
    muxer = PsMuxer(video=StreamType.H264)
    stream = b"".join(muxer.mux_video(u) for u in h264_units)
    out, demuxer = demux_all(stream, chunk)
    assert [c for c, _ in out] == [VideoCodec.H264] * len(h264_units)
    assert [u.data for u in video(out)] == [u.data for u in h264_units]
    assert [u.pts_90k for u in video(out)] == [u.pts_90k for u in h264_units]
    assert [u.keyframe for u in video(out)] == [u.keyframe for u in h264_units]
    assert demuxer.stats.errors == demuxer.stats.dropped_units == demuxer.stats.crc_errors == 0


def test_frames_given_one_by_one_come_out_at_once(h264_units: list[VideoAccessUnit]) -> None:
    muxer = PsMuxer(video=StreamType.H264, pack_stuffing_bytes=5, max_pes_payload_bytes=1000)
    demuxer = PsDemuxer()
    for unit in h264_units[:10]:
        # Small PES packets: one picture spans several, only the first with a PTS.
        out = demuxer.feed(muxer.mux_video(unit)) + demuxer.end_of_frame()
        assert [u.data for _, u in out] == [unit.data]


def test_psmuxer_h265_round_trips_and_decodes(hevc_mp4: Path) -> None:
    units = list(itertools.islice(FileVideo(hevc_mp4), 40))
    muxer = PsMuxer(video=StreamType.H265)
    out, demuxer = demux_all(b"", frames=[muxer.mux_video(u) for u in units])
    assert demuxer.video_codec is VideoCodec.H265
    assert [u.data for u in video(out)] == [u.data for u in units]
    # B-frames: DTS comes back where it differs from the PTS.
    assert [(u.pts_90k, u.dts_90k) for u in video(out)] == [(u.pts_90k, u.dts_90k) for u in units]
    assert decoded_luma(video(out), "hevc") == decoded_luma(units, "hevc")


def test_aac_interleaved_with_video(h264_units: list[VideoAccessUnit], adts_aac: Path) -> None:
    frames = adts_frames(adts_aac)
    assert len(frames) > 10
    sound = [AudioAccessUnit(f, i * 1024 * 90_000 // 8000) for i, f in enumerate(frames)]
    muxer = PsMuxer(video=StreamType.H264, audio=StreamType.AAC)
    timeline = sorted([(u.pts_90k, 0, u) for u in h264_units] + [(u.pts_90k, 1, u) for u in sound], key=lambda e: e[:2])
    packed = [muxer.mux_video(u) if kind == 0 else muxer.mux_audio(u) for _, kind, u in timeline]  # type: ignore[arg-type]
    for out, _ in (demux_all(b"", frames=packed), demux_all(b"".join(packed), 333)):
        assert [u.data for u in video(out)] == [u.data for u in h264_units]
        assert [(u.data, u.pts_90k) for u in audio(out)] == [(u.data, u.pts_90k) for u in sound]
        assert {c for c, _ in out} == {VideoCodec.H264, AudioCodec.AAC}


@pytest.mark.parametrize(
    ("stream_type", "codec"), [(StreamType.G711A, AudioCodec.G711A), (StreamType.G711U, AudioCodec.G711U)]
)
def test_g711_audio(stream_type: StreamType, codec: AudioCodec) -> None:
    muxer = PsMuxer(video=None, audio=stream_type)
    sound = [AudioAccessUnit(bytes([i]) * 320, 1000 + i * 3600) for i in range(30)]
    out, _ = demux_all(b"".join(muxer.mux_audio(u) for u in sound), 100)
    assert out == [(codec, u) for u in sound]


def test_map_with_a_bad_crc_is_used_and_counted(h264_units: list[VideoAccessUnit]) -> None:
    frame = bytearray(PsMuxer(video=StreamType.H265).mux_video(h264_units[0]))
    psm = frame.find(PROGRAM_STREAM_MAP_START_CODE)
    length = int.from_bytes(frame[psm + 4 : psm + 6], "big")
    frame[psm + 6 + length - 1] ^= 0xFF  # the CRC's last byte
    out, demuxer = demux_all(bytes(frame))
    assert demuxer.stats.crc_errors == 1
    # The map said H.265 (wrongly, for this picture): the map wins over guessing.
    assert [c for c, _ in out] == [VideoCodec.H265]


def test_without_a_map_the_codec_is_guessed(h264_units: list[VideoAccessUnit], hevc_mp4: Path) -> None:
    for units, codec in (
        (h264_units[:20], VideoCodec.H264),
        (list(itertools.islice(FileVideo(hevc_mp4), 20)), VideoCodec.H265),
    ):
        stream = b"".join(pack_header(u.pts_90k) + b"".join(pes_packets(0xE0, u.data, u.pts_90k)) for u in units)
        out, demuxer = demux_all(stream, 999)
        assert demuxer.video_codec is codec
        assert [u.data for u in video(out)] == [u.data for u in units]


def test_device_style_pes_per_nal_and_continuations_without_pts(h264_units: list[VideoAccessUnit]) -> None:
    """Like many cameras: SPS, PPS and the slice each in their own PES with the same PTS; big slices continued."""
    stream = bytearray()
    for unit in h264_units[:12]:
        stream += pack_header(unit.pts_90k)
        nals = unit.data.split(b"\x00\x00\x00\x01")
        for nal in (n for n in nals if n):
            body = b"\x00\x00\x00\x01" + nal
            first, rest = body[:300], body[300:]
            stream += pes_packets(0xE0, first, unit.pts_90k)[0]
            for i in range(0, len(rest), 500):
                stream += pes_packets(0xE0, rest[i : i + 500], None)[0]
    out, demuxer = demux_all(bytes(stream), 1500)
    got = video(out)
    assert [u.pts_90k for u in got] == [u.pts_90k for u in h264_units[:12]]
    assert [u.data.replace(b"\x00\x00\x00\x01", b"") for u in got] == [
        u.data.replace(b"\x00\x00\x00\x01", b"") for u in h264_units[:12]
    ]
    assert demuxer.stats.errors == 0


def test_garbage_is_skipped_to_the_next_pack_and_counted(h264_units: list[VideoAccessUnit]) -> None:
    muxer = PsMuxer()
    frames = [muxer.mux_video(u) for u in h264_units[:10]]
    junk = bytes(random.Random(5).randrange(256) for _ in range(3000))
    stream = b"".join(frames[:4]) + junk + b"\x00\x00\x01\xe0\x00\x10" + b"".join(frames[4:])
    out, demuxer = demux_all(stream, 512)
    # Picture 3 might have gone on in the garbage: never passed on as if whole.
    assert [u.data for u in video(out)] == [u.data for i, u in enumerate(h264_units[:10]) if i != 3]
    assert demuxer.stats.errors >= 1 and demuxer.stats.skipped_bytes >= 3000
    assert demuxer.stats.dropped_units == 1
    # When the transport marks where frames end, picture 3 was known whole before the garbage.
    out, demuxer = demux_all(b"", frames=[*frames[:4], junk, *frames[4:]])
    assert [u.data for u in video(out)] == [u.data for u in h264_units[:10]]
    assert demuxer.stats.errors >= 1


def test_resync_drops_the_torn_unit(h264_units: list[VideoAccessUnit]) -> None:
    muxer = PsMuxer(max_pes_payload_bytes=500)
    torn = next(i for i, u in enumerate(h264_units) if i and len(u.data) > 1500)
    units = h264_units[torn - 1 : torn + 5]
    frames = [muxer.mux_video(u) for u in units]
    demuxer = PsDemuxer()
    out = demuxer.feed(frames[0]) + demuxer.end_of_frame()
    out += demuxer.feed(frames[1][: len(frames[1]) // 2])
    demuxer.resync()  # the rest of the frame was lost
    out += demuxer.feed(frames[2][5:])  # and the next one's pack header: wait for a whole frame
    for frame in frames[3:]:
        out += demuxer.feed(frame) + demuxer.end_of_frame()
    assert [u.data for _, u in out] == [units[i].data for i in (0, 3, 4, 5)]
    assert demuxer.stats.dropped_units == 1 and demuxer.stats.resyncs == 1


def test_pts_wrapping_at_33_bits_keeps_growing(h264_units: list[VideoAccessUnit]) -> None:
    start = (1 << 33) - 5 * 3600
    units = [VideoAccessUnit(u.data, start + i * 3600, u.keyframe) for i, u in enumerate(h264_units[:12])]
    muxer = PsMuxer()
    out, _ = demux_all(b"", frames=[muxer.mux_video(u) for u in units])
    assert [u.pts_90k for u in video(out)] == [u.pts_90k for u in units]
    unwrap = TimestampUnwrapper(32)
    assert [unwrap.unwrap(v) for v in (0xFFFFFF00, 0x10, 0x5, 0x200)] == [
        0xFFFFFF00,
        0x100000010,
        0x100000005,
        0x100000200,
    ]


def test_missing_parameter_sets_are_added_before_keyframes(h264_units: list[VideoAccessUnit]) -> None:
    def without_sets(unit: VideoAccessUnit) -> VideoAccessUnit:
        nals = [n for n in split_nal_units(unit.data) if n[0] & 0x1F not in (7, 8)]
        return VideoAccessUnit(b"".join(b"\x00\x00\x00\x01" + n for n in nals), unit.pts_90k, unit.keyframe)

    bare = [without_sets(u) if i == 50 else u for i, u in enumerate(h264_units)]
    muxer = PsMuxer()
    out, demuxer = demux_all(b"", frames=[muxer.mux_video(u) for u in bare])
    assert demuxer.stats.parameter_sets_added == 1
    assert video(out)[50].data.endswith(bare[50].data) and video(out)[50].data != bare[50].data
    # A decoder starting at that keyframe can decode it.
    assert len(decoded_luma(video(out)[50:], "h264")) == 10


def _ffmpeg_ps(ffmpeg: str, out: Path, fmt: str, codec_args: list[str]) -> Path:
    command = [ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-frames:v", "50"]
    subprocess.run(
        [*command, *codec_args, "-f", fmt, str(out)],
        check=True,
        timeout=60,
    )
    return out


X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p"]
X265 = ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error:keyint=25", "-pix_fmt", "yuv420p"]


@pytest.mark.parametrize(
    ("fmt", "args", "codec"),
    [
        ("mpeg", [*X264, "-bf", "0"], "h264"),  # MPEG-1 packs
        ("vob", [*X264, "-bf", "2"], "h264"),  # MPEG-2 packs, B-frames
        ("vob", X265, "hevc"),
    ],
)
@pytest.mark.parametrize("chunk", [1316, 65536])
def test_ffmpeg_program_streams(ffmpeg: str, tmp_path: Path, fmt: str, args: list[str], codec: str, chunk: int) -> None:
    path = _ffmpeg_ps(ffmpeg, tmp_path / f"out.{fmt}", fmt, args)
    out, demuxer = demux_all(path.read_bytes(), chunk)
    units = video(out)
    assert demuxer.video_codec is (VideoCodec.H264 if codec == "h264" else VideoCodec.H265)
    assert len(units) == 50
    assert [i for i, u in enumerate(units) if u.keyframe] == [0, 25]
    assert demuxer.stats.errors == demuxer.stats.dropped_units == 0
    # Every picture decodes, and to what FFmpeg itself gets out of the file.
    with av.open(str(path)) as container:
        reference = [f.to_ndarray(format="gray").tobytes() for f in container.decode(video=0)]
    assert decoded_luma(units, codec) == reference
    dts = [u.dts_90k if u.dts_90k is not None else u.pts_90k for u in units]
    assert dts == sorted(dts)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000), st.integers(1, 600))
def test_fuzzed_bytes_never_raise(data: bytes, chunk: int) -> None:
    demux_all(b"\x00\x00\x01\xba" + data, chunk)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mutated_streams_never_raise_and_still_yield_units(data: st.DataObject) -> None:
    units = list(itertools.islice(_FUZZ_SOURCE, 0, 8))
    muxer = PsMuxer(video=StreamType.H264, audio=StreamType.G711A)
    stream = bytearray(b"".join(muxer.mux_video(u) for u in units))
    for _ in range(data.draw(st.integers(0, 6))):
        at = data.draw(st.integers(0, len(stream) - 1))
        stream[at] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        at = data.draw(st.integers(0, len(stream)))
        del stream[at : at + data.draw(st.integers(0, 200))]
    out, _ = demux_all(bytes(stream), data.draw(st.integers(1, 2000)))
    for _codec, unit in out:
        assert isinstance(unit.pts_90k, int) and unit.data


_FUZZ_SOURCE = list(itertools.islice(SyntheticVideo(64, 48, bitrate_bps=200_000), 8))
