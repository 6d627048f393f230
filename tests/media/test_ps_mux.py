"""The PS muxer: golden syntax, PES splitting, and proof by ffprobe and PyAV that the output is a program stream."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

import av
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tianyan.media.ps import (
    MAX_PES_PACKET_LENGTH,
    AudioAccessUnit,
    PsError,
    PsMuxer,
    StreamType,
    VideoAccessUnit,
    crc32_mpeg2,
    decode_scr,
    decode_timestamp,
    encode_scr,
    encode_timestamp,
    pack_header,
    pes_packets,
    program_stream_map,
    system_header,
)
from tianyan.media.rtp import Rfc4571Deframer, RtpPacketizer, frame_rfc4571, parse_rtp
from tianyan.sim.video import FileVideo, SyntheticVideo


def fixed_clock() -> datetime:
    return datetime(2026, 1, 1, 8, 0, 0)


def units(ps: bytes) -> list[tuple[int, bytes]]:
    """Walk a program stream: (start-code byte, whole unit) for each pack header, header, map and PES."""
    out, i = [], 0
    while i < len(ps):
        assert ps[i : i + 3] == b"\x00\x00\x01", f"lost sync at byte {i}"
        code = ps[i + 3]
        size = 14 + (ps[i + 13] & 7) if code == 186 else 6 + int.from_bytes(ps[i + 4 : i + 6], "big")
        out.append((code, ps[i : i + size]))
        i += size
    return out


def pes_payload(pes: bytes) -> bytes:
    return pes[9 + pes[8] :]


def bitwise_crc32_mpeg2(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if crc & 0x80000000 else (crc << 1) & 0xFFFFFFFF
    return crc


def write_ps(path: Path, frames: Iterable[bytes]) -> Path:
    path.write_bytes(b"".join(frames))
    return path


def decode_all(path: Path, kind: str = "video") -> list:
    with av.open(str(path), format="mpeg") as container:
        return list(container.decode(**{kind: 0}))


# --- syntax --------------------------------------------------------------------------------


def test_crc32_mpeg2_check_value_and_residue() -> None:
    assert crc32_mpeg2(b"123456789") == 0x0376E6E7
    psm = program_stream_map([StreamType.H264, StreamType.G711A])
    # An MPEG-2 CRC over data plus its own CRC leaves zero.
    assert crc32_mpeg2(psm) == 0


@given(st.binary(max_size=64))
def test_crc32_mpeg2_matches_the_bitwise_definition(data: bytes) -> None:
    assert crc32_mpeg2(data) == bitwise_crc32_mpeg2(data)


@given(st.integers(0, 2**33 - 1), st.sampled_from([0b0010, 0b0011, 0b0001]))
def test_pes_timestamps_round_trip(value: int, prefix: int) -> None:
    encoded = encode_timestamp(prefix, value)
    assert decode_timestamp(encoded) == value
    assert encoded[0] >> 4 == prefix and encoded[0] & 1 and encoded[2] & 1 and encoded[4] & 1


@given(st.integers(0, 2**33 - 1), st.integers(0, 299))
def test_scr_round_trips(base: int, extension: int) -> None:
    assert decode_scr(encode_scr(base, extension)) == (base, extension)


def test_timestamps_wrap_at_33_bits() -> None:
    assert decode_timestamp(encode_timestamp(0b0010, 2**33 + 5)) == 5


def test_pack_header_golden_bytes() -> None:
    # SCR 0 and 10 Mbit/s: the '44 00 04 00 04 01' SCR every GB capture starts with.
    assert pack_header(0, 25_000) == bytes.fromhex("000001ba 440004000401 0186a3 f8")
    assert pack_header(0, 25_000, stuffing_bytes=3).endswith(b"\xfb\xff\xff\xff")
    with pytest.raises(PsError):
        pack_header(0, 0)
    with pytest.raises(PsError):
        pack_header(0, stuffing_bytes=8)


def test_system_header_lists_each_stream() -> None:
    header = system_header([StreamType.H264, StreamType.G711A])
    assert header[:4] == b"\x00\x00\x01\xbb"
    assert int.from_bytes(header[4:6], "big") == len(header) - 6 == 12
    assert header[9] >> 2 == 1  # audio_bound
    assert header[10] & 0x1F == 1  # video_bound
    assert header[12] == 0xE0 and header[15] == 0xC0


def test_program_stream_map_golden_bytes() -> None:
    psm = program_stream_map([StreamType.H264, StreamType.G711A])
    body = bytes.fromhex("000001bc 0012 e0ff 0000 0008 1be00000 90c00000")
    assert psm[:-4] == body
    assert psm[-4:] == crc32_mpeg2(body).to_bytes(4, "big")


def test_small_pes_golden_bytes() -> None:
    aud = b"\x00\x00\x00\x01\x09\xf0"
    assert pes_packets(0xE0, aud, 3600) == [bytes.fromhex("000001e0 000e 848005 210001 1c21") + aud]
    with_dts = pes_packets(0xE0, aud, 7200, 3600)[0]
    assert with_dts[7:9] == b"\xc0\x0a"
    assert decode_timestamp(with_dts[9:14]) == 7200 and decode_timestamp(with_dts[14:19]) == 3600


def test_large_access_unit_is_split_under_the_pes_length_limit() -> None:
    payload = random.Random(7).randbytes(200_000)
    packets = pes_packets(0xE0, payload, 90_000)
    assert len(packets) == 4
    for pes in packets:
        assert int.from_bytes(pes[4:6], "big") == len(pes) - 6 <= MAX_PES_PACKET_LENGTH
    assert b"".join(pes_payload(p) for p in packets) == payload
    # Only the first carries the PTS and says an access unit starts there.
    assert [(p[6], p[7]) for p in packets] == [(0x84, 0x80), (0x80, 0x00), (0x80, 0x00), (0x80, 0x00)]


def test_keyframes_carry_system_header_and_map_other_frames_do_not() -> None:
    muxer = PsMuxer(audio=StreamType.G711A)
    key = muxer.mux_video(VideoAccessUnit(b"\x00\x00\x00\x01\x65key", 0, keyframe=True))
    delta = muxer.mux_video(VideoAccessUnit(b"\x00\x00\x00\x01\x41delta", 3600, keyframe=False))
    audio = muxer.mux_audio(AudioAccessUnit(b"\xd5" * 160, 3600))
    assert [code for code, _ in units(key)] == [0xBA, 0xBB, 0xBC, 0xE0]
    assert [code for code, _ in units(delta)] == [0xBA, 0xE0]
    assert [code for code, _ in units(audio)] == [0xBA, 0xC0]
    assert decode_scr(units(delta)[0][1][4:10]) == (3600, 0)


def test_a_stream_that_starts_mid_gop_still_sends_the_map_first() -> None:
    muxer = PsMuxer()
    first = muxer.mux_video(VideoAccessUnit(b"\x00\x00\x01\x41", 0, keyframe=False))
    assert [code for code, _ in units(first)] == [0xBA, 0xBB, 0xBC, 0xE0]


def test_audio_only_stream_repeats_the_map_every_second() -> None:
    muxer = PsMuxer(video=None, audio=StreamType.G711U)
    with_map = [
        0xBC in [code for code, _ in units(muxer.mux_audio(AudioAccessUnit(b"\xff" * 160, i * 1800)))]
        for i in range(120)
    ]
    assert [i for i, has in enumerate(with_map) if has] == [0, 50, 100]


def test_muxer_refuses_bad_input() -> None:
    with pytest.raises(PsError, match="needs a video or an audio"):
        PsMuxer(video=None)
    with pytest.raises(PsError, match="not a video stream type"):
        PsMuxer(video=StreamType.AAC)
    with pytest.raises(PsError, match="not an audio stream type"):
        PsMuxer(audio=StreamType.H265)
    muxer = PsMuxer()
    with pytest.raises(PsError, match="no audio stream"):
        muxer.mux_audio(AudioAccessUnit(b"x", 0))
    with pytest.raises(PsError, match="PTS"):
        muxer.mux_video(VideoAccessUnit(b"x", -1, keyframe=True))
    with pytest.raises(PsError, match="needs data"):
        muxer.mux_video(VideoAccessUnit(b"", 0, keyframe=True))


# --- real decoders -------------------------------------------------------------------------


def test_synthetic_h264_in_ps_is_read_by_ffprobe_and_pyav(tmp_path: Path, probe: Callable[[Path], dict]) -> None:
    source = SyntheticVideo(352, 288, label="34020000001320000001", clock=fixed_clock)
    muxer = PsMuxer()
    path = write_ps(tmp_path / "cif.ps", (muxer.mux_video(u) for u in itertools.islice(source, 60)))

    info = probe(path)
    assert "mpeg" in info["format"]["format_name"].split(",")
    (stream,) = info["streams"]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 352, 288)

    frames = decode_all(path)
    assert len(frames) == 60
    assert [f.pts for f in frames] == [i * 3600 for i in range(60)]
    assert (frames[0].width, frames[0].height) == (352, 288)


def test_1080p_keyframes_larger_than_one_pes_still_decode(tmp_path: Path) -> None:
    source = SyntheticVideo(1920, 1080, label="34020000001320000001", clock=fixed_clock)
    muxer = PsMuxer()
    ps_frames = [muxer.mux_video(u) for u in itertools.islice(source, 51)]
    # The second keyframe (frame 50), once rate control has settled, is well over 64 KiB.
    keyframe_pes = [code for code, _ in units(ps_frames[50]) if code == 0xE0]
    assert len(keyframe_pes) >= 2, "a 1080p keyframe should need more than one PES packet"
    frames = decode_all(write_ps(tmp_path / "1080p.ps", ps_frames))
    assert len(frames) == 51 and (frames[50].width, frames[50].height) == (1920, 1080)
    assert frames[50].key_frame


def test_small_pes_packets_reassemble_in_the_decoder(tmp_path: Path) -> None:
    muxer = PsMuxer(max_pes_payload_bytes=1000, pack_stuffing_bytes=2)
    source = SyntheticVideo(352, 288, clock=fixed_clock)
    path = write_ps(tmp_path / "small-pes.ps", (muxer.mux_video(u) for u in itertools.islice(source, 25)))
    frames = decode_all(path)
    assert [f.pts for f in frames] == [i * 3600 for i in range(25)]


def test_h265_from_a_file_in_ps(tmp_path: Path, hevc_mp4: Path, probe: Callable[[Path], dict]) -> None:
    source = FileVideo(hevc_mp4)
    muxer = PsMuxer(video=source.stream_type)
    path = write_ps(tmp_path / "hevc.ps", (muxer.mux_video(u) for u in itertools.islice(source, 40)))
    (stream,) = probe(path)["streams"]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("hevc", 320, 240)
    frames = decode_all(path)
    assert len(frames) == 40
    assert all(b.pts > a.pts for a, b in itertools.pairwise(frames))


def adts_frames(data: bytes) -> list[bytes]:
    out, i = [], 0
    while i + 7 <= len(data):
        assert data[i] == 0xFF and data[i + 1] & 0xF0 == 0xF0
        size = ((data[i + 3] & 0x03) << 11) | (data[i + 4] << 3) | (data[i + 5] >> 5)
        out.append(data[i : i + size])
        i += size
    return out


def test_video_with_aac_audio(tmp_path: Path, adts_aac: Path, probe: Callable[[Path], dict]) -> None:
    audio = [AudioAccessUnit(f, i * 1024 * 90_000 // 8000) for i, f in enumerate(adts_frames(adts_aac.read_bytes()))]
    video = list(itertools.islice(SyntheticVideo(352, 288, clock=fixed_clock), 50))
    muxer = PsMuxer(audio=StreamType.AAC)
    timeline = sorted([(u.pts_90k, 0, u) for u in video] + [(u.pts_90k, 1, u) for u in audio], key=lambda t: t[:2])
    path = write_ps(
        tmp_path / "av.ps",
        (muxer.mux_video(u) if isinstance(u, VideoAccessUnit) else muxer.mux_audio(u) for _, _, u in timeline),
    )
    streams = {s["codec_type"]: s for s in probe(path)["streams"]}
    assert streams["video"]["codec_name"] == "h264"
    assert (streams["audio"]["codec_name"], streams["audio"]["sample_rate"]) == ("aac", "8000")
    decoded = decode_all(path, "audio")
    assert len(decoded) >= len(audio) - 1 and decoded[0].sample_rate == 8000


def test_g711a_is_declared_so_ffmpeg_knows_it(tmp_path: Path) -> None:
    muxer = PsMuxer(audio=StreamType.G711A)
    video = itertools.islice(SyntheticVideo(352, 288, clock=fixed_clock), 10)
    frames = []
    for i, unit in enumerate(video):
        frames.append(muxer.mux_video(unit))
        frames += [muxer.mux_audio(AudioAccessUnit(b"\xd5" * 160, (2 * i + k) * 1800)) for k in range(2)]
    path = write_ps(tmp_path / "g711.ps", frames)
    # PyAV's FFmpeg maps stream type 0x90 to A-law; the system ffprobe (5.1) is too old to.
    with av.open(str(path), format="mpeg") as container:
        assert container.streams.audio[0].codec_context.name == "pcm_alaw"
        assert sum(f.samples for f in container.decode(audio=0)) == 20 * 160


def test_g711u_is_declared_as_0x91() -> None:
    # 0x91 is what ZLMediaKit's muxer and GB devices use for µ-law; FFmpeg does not map it yet.
    ps = PsMuxer(audio=StreamType.G711U).mux_video(VideoAccessUnit(b"\x00\x00\x01\x65", 0, keyframe=True))
    psm = dict(units(ps))[0xBC]
    assert psm[12:20] == bytes.fromhex("1be00000 91c00000")


def test_ps_survives_rtp_over_tcp_in_random_pieces(tmp_path: Path) -> None:
    muxer = PsMuxer()
    ps_frames = [muxer.mux_video(u) for u in itertools.islice(SyntheticVideo(352, 288, clock=fixed_clock), 30)]
    packetizer = RtpPacketizer(ssrc=200000001, next_sequence=65530)
    stream = b"".join(
        frame_rfc4571(p.to_bytes()) for i, ps in enumerate(ps_frames) for p in packetizer.packetize(ps, i * 3600)
    )
    rng, deframer, received, current = random.Random(3), Rfc4571Deframer(), [], b""
    position = 0
    while position < len(stream):
        step = rng.randint(1, 3000)
        for raw in deframer.feed(stream[position : position + step]):
            packet = parse_rtp(raw)
            current += packet.payload
            if packet.marker:
                received.append(current)
                current = b""
        position += step
    assert received == ps_frames
    frames = decode_all(write_ps(tmp_path / "rtp.ps", received))
    assert len(frames) == 30
