"""GB/T 28181 SDP: offers as WVP/ZLMediaKit send them, answers as Hikvision/Dahua devices write them, and garbage."""

from __future__ import annotations

import contextlib
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tianyan.gb28181.sdp import build_sdp, make_answer, make_offer, parse_sdp
from tianyan.gb28181.sdp_types import (
    H264,
    MAX_SDP_BYTES,
    MPEG4,
    PCMA,
    PS,
    Direction,
    MediaFormat,
    RtpMap,
    SdpError,
    SessionName,
    Transport,
)
from tianyan.gb28181.ssrc import SsrcAllocator, parse_ssrc

PLATFORM = "34020000002000000001"
CAMERA = "34020000001320000001"


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


# WVP live play, media server receiving on UDP 30000.
LIVE_UDP = crlf(
    """v=0
o=34020000002000000001 0 0 IN IP4 10.0.0.5
s=Play
c=IN IP4 10.0.0.5
t=0 0
m=video 30000 RTP/AVP 96 98 97
a=recvonly
a=rtpmap:96 PS/90000
a=rtpmap:98 H264/90000
a=rtpmap:97 MPEG4/90000
y=0200000001
"""
)

# WVP "senior SDP", TCP passive: ZLMediaKit listens, the camera connects.
LIVE_TCP_PASSIVE = crlf(
    """v=0
o=34020000002000000001 0 0 IN IP4 10.0.0.5
s=Play
c=IN IP4 10.0.0.5
t=0 0
m=video 30002 TCP/RTP/AVP 96 126 125 99 34 98 97
a=recvonly
a=rtpmap:96 PS/90000
a=fmtp:126 profile-level-id=42e01e
a=rtpmap:126 H264/90000
a=rtpmap:125 H264S/90000
a=fmtp:125 profile-level-id=42e01e
a=rtpmap:99 MP4V-ES/90000
a=fmtp:99 profile-level-id=3
a=rtpmap:98 H264/90000
a=rtpmap:97 MPEG4/90000
a=setup:passive
a=connection:new
y=0200000002
"""
)

LIVE_TCP_ACTIVE = LIVE_UDP.replace("RTP/AVP 96", "TCP/RTP/AVP 96").replace(
    "y=0200000001", "a=setup:active\r\na=connection:new\r\ny=0200000003"
)

# History: u= names the channel, t= the recording's Unix seconds.
PLAYBACK = crlf(
    """v=0
o=34020000002000000001 0 0 IN IP4 10.0.0.5
s=Playback
u=34020000001320000001:0
c=IN IP4 10.0.0.5
t=1767225600 1767229200
m=video 30004 RTP/AVP 96 98 97
a=recvonly
a=rtpmap:96 PS/90000
a=rtpmap:98 H264/90000
a=rtpmap:97 MPEG4/90000
y=1200000004
"""
)

# The standard's own Download example, TCP with a speed multiple.
DOWNLOAD = crlf(
    """v=0
o=34000000002000000001 0 0 IN IP4 192.168.100.100
s=Download
u=34020000001310000001:3
c=IN IP4 192.168.100.100
t=1498173736 1498174066
m=video 10122 TCP/RTP/AVP 96 98 97
a=recvonly
a=rtpmap:96 PS/90000
a=rtpmap:98 H264/90000
a=rtpmap:97 MPEG4/90000
a=setup:passive
a=connection:new
a=downloadspeed:8
y=1000000025
"""
)

# A Hikvision IPC's 200 OK: sends from its own port, echoes y=, fills f=.
HIKVISION_ANSWER = crlf(
    """v=0
o=34020000001320000001 0 0 IN IP4 10.0.1.64
s=Play
c=IN IP4 10.0.1.64
t=0 0
m=video 15060 RTP/AVP 96
a=sendonly
a=rtpmap:96 PS/90000
y=0200000001
f=v/2/6/25/1/4096a/1/8/1
"""
)

# A Dahua-style answer: i= line, private a=streamprofile, zeros in f=, LF-only and trailing spaces.
DAHUA_ANSWER = """v=0  
o=34020000001310000002 0 0 IN IP4 192.168.0.111 
s=Play
i=VCam Live Video
c=IN IP4 192.168.0.111
t=0 0
m=video 9712 RTP/AVP 96
a=sendonly
a=rtpmap:96 PS/90000
a=streamprofile:0
y=0100000001
f=v/0/0/0/0/0a/0/0/0
"""  # noqa: W291

# An NVR answering a TCP-active download: it listens, and reports the file size.
NVR_DOWNLOAD_ANSWER = crlf(
    """v=0
o=34020000001180000001 0 0 IN IP4 10.0.2.8
s=Download
c=IN IP4 10.0.2.8
t=1498173736 1498174066
m=video 8000 TCP/RTP/AVP 96
a=sendonly
a=rtpmap:96 PS/90000
a=setup:passive
a=connection:new
a=filesize:104857600
y=1000000025
f=
"""
)

SAMPLES = [LIVE_UDP, LIVE_TCP_PASSIVE, LIVE_TCP_ACTIVE, PLAYBACK, DOWNLOAD, HIKVISION_ANSWER, DAHUA_ANSWER]
SAMPLES.append(NVR_DOWNLOAD_ANSWER)


def test_live_udp_offer() -> None:
    sd = parse_sdp(LIVE_UDP)
    assert sd.username == PLATFORM
    assert sd.session is SessionName.PLAY
    assert (sd.connection_address, sd.port) == ("10.0.0.5", 30000)
    assert sd.transport is Transport.UDP and sd.counterpart_transport is Transport.UDP
    assert sd.payload_types == (96, 98, 97)
    assert sd.video.rtpmaps == (PS, H264, MPEG4)
    assert sd.video.direction is Direction.RECVONLY
    assert sd.ssrc == "0200000001" and sd.ssrc_value == 200000001
    assert sd.time_range_s is None and sd.channel_id is None


def test_tcp_passive_offer_means_the_device_connects() -> None:
    sd = parse_sdp(LIVE_TCP_PASSIVE)
    assert sd.transport is Transport.TCP_PASSIVE
    assert sd.counterpart_transport is Transport.TCP_ACTIVE
    assert sd.video.connection == "new"
    assert sd.video.rtpmap(126) == RtpMap(126, "H264", 90000)
    assert dict(sd.video.fmtps)[99] == "profile-level-id=3"


def test_tcp_active_offer_means_the_device_listens() -> None:
    sd = parse_sdp(LIVE_TCP_ACTIVE)
    assert sd.transport is Transport.TCP_ACTIVE
    assert sd.counterpart_transport is Transport.TCP_PASSIVE


def test_playback_offer_carries_channel_and_time_range() -> None:
    sd = parse_sdp(PLAYBACK)
    assert sd.session is SessionName.PLAYBACK and sd.session.is_history
    assert sd.channel_id == CAMERA
    assert sd.time_range_s == (1767225600, 1767229200)
    assert sd.ssrc == "1200000004"


def test_download_offer_carries_speed() -> None:
    sd = parse_sdp(DOWNLOAD)
    assert sd.session is SessionName.DOWNLOAD
    assert sd.download_speed == 8
    assert sd.channel_id == "34020000001310000001"
    assert sd.uri == "34020000001310000001:3"


def test_hikvision_answer_with_media_format() -> None:
    sd = parse_sdp(HIKVISION_ANSWER.encode())
    assert sd.video.direction is Direction.SENDONLY
    assert (sd.connection_address, sd.port) == ("10.0.1.64", 15060)
    assert sd.media_format == MediaFormat(2, 6, 25, 1, 4096, 1, 8, 1)
    assert sd.media_format is not None and sd.media_format.raw == "v/2/6/25/1/4096a/1/8/1"


def test_dahua_answer_with_private_attributes_lf_only_and_trailing_spaces() -> None:
    sd = parse_sdp(DAHUA_ANSWER)
    assert sd.username == "34020000001310000002"
    assert sd.origin_address == "192.168.0.111"
    assert sd.info == "VCam Live Video"
    assert sd.video.attributes == (("streamprofile", "0"),)
    assert sd.media_format == MediaFormat(0, 0, 0, 0, 0, 0, 0, 0)


def test_nvr_answer_with_file_size_and_empty_f() -> None:
    sd = parse_sdp(NVR_DOWNLOAD_ANSWER)
    assert sd.file_size_bytes == 104857600
    assert sd.transport is Transport.TCP_PASSIVE
    assert sd.media_format == MediaFormat()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("v/2/4/25/1/1024 a///", MediaFormat(2, 4, 25, 1, 1024)),
        ("v/////a/1/8/1", MediaFormat(audio_codec=1, audio_bitrate=8, sample_rate=1)),
        ("v/2/5/25/2/2048", MediaFormat(2, 5, 25, 2, 2048)),
        ("v/2/x/25//a/1", MediaFormat(video_codec=2, frame_rate=25, audio_codec=1)),
    ],
)
def test_media_format_variants(line: str, expected: MediaFormat) -> None:
    sd = parse_sdp(HIKVISION_ANSWER.replace("f=v/2/6/25/1/4096a/1/8/1", f"f={line}"))
    assert sd.media_format == expected


def test_forgiven_spellings() -> None:
    odd = LIVE_UDP.replace("s=Play", "s=play").replace("\r\n", "\n") + "\x00"
    sd = parse_sdp(odd)
    assert sd.session_name == "Play"
    assert parse_sdp(PLAYBACK.replace("s=Playback", "s=PlayBack")).session is SessionName.PLAYBACK
    # y= before m= and a media-level c= still read as GB means them.
    moved = LIVE_UDP.replace("y=0200000001\r\n", "").replace("t=0 0\r\n", "t=0 0\r\ny=0200000001\r\n")
    assert parse_sdp(moved).ssrc == "0200000001"
    media_c = LIVE_UDP.replace("c=IN IP4 10.0.0.5\r\n", "").replace("a=recvonly", "c=IN IP4 10.0.0.6\r\na=recvonly")
    assert parse_sdp(media_c).connection_address == "10.0.0.6"


def test_unknown_session_name_is_kept_but_not_recognised() -> None:
    sd = parse_sdp(LIVE_UDP.replace("s=Play", "s=Embedded Net DVR"))
    assert sd.session is None and sd.session_name == "Embedded Net DVR"


def test_talk_offer_is_audio() -> None:
    offer = make_offer(
        session=SessionName.TALK,
        sender_id=PLATFORM,
        address="10.0.0.5",
        port=30010,
        transport=Transport.UDP,
        ssrc="0200000009",
        rtpmaps=(PCMA,),
    )
    assert build_sdp(offer).splitlines()[5] == "m=audio 30010 RTP/AVP 8"
    answer = make_answer(offer, sender_id=CAMERA, address="10.0.1.64", port=15062, payload_type=8)
    assert answer.video.rtpmaps == (PCMA,) and answer.video.media == "audio"


def test_make_offer_writes_the_gb_order() -> None:
    offer = make_offer(
        session=SessionName.PLAY,
        sender_id=PLATFORM,
        address="10.0.0.5",
        port=30000,
        transport=Transport.UDP,
        ssrc="0200000001",
    )
    assert build_sdp(offer) == LIVE_UDP


def test_make_offer_for_download_matches_the_standards_example() -> None:
    offer = make_offer(
        session=SessionName.DOWNLOAD,
        sender_id="34000000002000000001",
        address="192.168.100.100",
        port=10122,
        transport=Transport.TCP_PASSIVE,
        ssrc="1000000025",
        channel_id="34020000001310000001",
        start_s=1498173736,
        stop_s=1498174066,
        download_speed=8,
        record_type=3,
    )
    assert build_sdp(offer) == DOWNLOAD


def test_offer_takes_an_allocated_ssrc() -> None:
    ssrc = SsrcAllocator("3402000000").allocate(history=True)
    offer = make_offer(
        session=SessionName.PLAYBACK,
        sender_id=PLATFORM,
        address="10.0.0.5",
        port=30004,
        transport=Transport.UDP,
        ssrc=ssrc,
        channel_id=CAMERA,
        start_s=1767225600,
        stop_s=1767229200,
    )
    assert offer.ssrc == "1200000001" and parse_ssrc(offer.ssrc) == ssrc
    assert build_sdp(offer) == PLAYBACK.replace("y=1200000004", "y=1200000001")


def test_answer_takes_the_opposite_tcp_role_and_echoes_the_ssrc() -> None:
    offer = parse_sdp(LIVE_TCP_ACTIVE)
    answer = make_answer(offer, sender_id=CAMERA, address="10.0.1.64", port=15060)
    assert answer.transport is Transport.TCP_PASSIVE
    assert answer.ssrc == offer.ssrc
    assert answer.video.direction is Direction.SENDONLY
    assert answer.video.payload_types == (96,) and answer.video.rtpmaps == (PS,)
    text = build_sdp(answer)
    assert "a=setup:passive\r\na=connection:new\r\n" in text
    assert parse_sdp(text) == answer


def test_download_answer_keeps_time_and_reports_file_size() -> None:
    offer = parse_sdp(DOWNLOAD)
    answer = make_answer(
        offer, sender_id=CAMERA, address="10.0.1.64", port=15064, file_size_bytes=1 << 20, media_format=MediaFormat()
    )
    assert answer.time_range_s == offer.time_range_s
    assert answer.transport is Transport.TCP_ACTIVE
    assert build_sdp(answer).endswith("a=filesize:1048576\r\ny=1000000025\r\nf=v/////a///\r\n")


def test_builder_refuses_what_a_device_could_not_read() -> None:
    with pytest.raises(SdpError, match="sender ID"):
        make_offer(
            session=SessionName.PLAY, sender_id="admin", address="1.2.3.4", port=1, transport=Transport.UDP, ssrc="1"
        )
    with pytest.raises(SdpError, match="needs the channel ID"):
        make_offer(
            session=SessionName.PLAYBACK,
            sender_id=PLATFORM,
            address="1.2.3.4",
            port=1,
            transport=Transport.UDP,
            ssrc="1200000001",
            start_s=1,
            stop_s=2,
        )
    with pytest.raises(SdpError, match="t= must be 0 0"):
        make_offer(
            session=SessionName.PLAY,
            sender_id=PLATFORM,
            address="1.2.3.4",
            port=1,
            transport=Transport.UDP,
            ssrc="0200000001",
            start_s=5,
        )
    with pytest.raises(SdpError, match="was not offered"):
        make_answer(parse_sdp(LIVE_UDP), sender_id=CAMERA, address="1.2.3.4", port=1, payload_type=100)
    offer = parse_sdp(LIVE_UDP)
    with pytest.raises(SdpError, match="one non-empty line"):
        build_sdp(replace(offer, info="a\r\nb=x"))
    injected = replace(offer.video, attributes=(("x", "1\r\nb=2"),))
    with pytest.raises(SdpError, match="break the line"):
        build_sdp(replace(offer, media=(injected,)))


@pytest.mark.parametrize("sample", SAMPLES)
def test_parse_build_parse_is_stable(sample: str) -> None:
    sd = parse_sdp(sample)
    assert parse_sdp(build_sdp(sd)) == sd


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("", "empty SDP"),
        ("o=x 0 0 IN IP4 1.2.3.4\r\n", "line 1: SDP must start with v=0"),
        ("v=1\r\n", "line 1 \\(v=\\): version must be 0"),
        (LIVE_UDP.replace("m=video 30000", "m=video 70000"), "line 6 \\(m=\\): port"),
        (LIVE_UDP.replace("RTP/AVP 96 98 97", "RTP/SAVP 96"), "line 6 \\(m=\\): protocol"),
        (LIVE_UDP.replace("96 98 97", "96 abc"), "line 6 \\(m=\\): payload type"),
        (LIVE_UDP.replace("a=rtpmap:98 H264/90000", "a=rtpmap:98 H264"), "line 9 \\(a=\\): rtpmap"),
        (LIVE_UDP.replace("a=rtpmap:98 H264/90000", "a=rtpmap:96 H264/90000"), "line 9 \\(a=\\): second rtpmap"),
        (LIVE_UDP.replace("y=0200000001", "y=02000000O1"), "line 11 \\(y=\\): SSRC"),
        (LIVE_UDP.replace("y=0200000001", "y=9999999999"), "line 11 \\(y=\\): SSRC"),
        (LIVE_UDP + "y=0200000002\r\n", "line 12 \\(y=\\): repeated"),
        (LIVE_UDP.replace("a=recvonly", "hello world"), "line 7: expected '<letter>=<value>'"),
        (LIVE_UDP.replace("t=0 0", "t=now"), "t= must be"),
        (LIVE_UDP.replace("o=34020000002000000001 0 0 IN IP4 10.0.0.5", "o=x"), "o= must be"),
        (LIVE_UDP.replace("c=IN IP4 10.0.0.5", "c=IP4 10.0.0.5"), "line 4 \\(c=\\): expected 'IN IP4"),
        (LIVE_UDP.replace("c=IN IP4 10.0.0.5\r\n", ""), "no c= line"),
        (LIVE_UDP.split("m=")[0], "no m= line"),
        (LIVE_UDP.replace("s=Play\r\n", ""), "no s= line"),
        (LIVE_TCP_PASSIVE.replace("a=setup:passive", "a=setup:sideways"), "setup must be"),
        (LIVE_TCP_PASSIVE.replace("a=connection:new", "a=connection:new\r\na=connection:new"), "second connection"),
        (DOWNLOAD.replace("downloadspeed:8", "downloadspeed:fast"), "downloadspeed must be a whole number"),
        (DOWNLOAD.replace("downloadspeed:8", "downloadspeed:0"), "downloadspeed must be positive"),
        (LIVE_UDP + "a=x\r\n" * 300, "more than 256"),
        (LIVE_UDP + "a=" + "x" * MAX_SDP_BYTES + "\r\n", "exceeds"),
        (b"v=0\r\ni=\xff\xff\xff\r\n", "neither UTF-8 nor GB18030"),
    ],
)
def test_bad_sdp_names_the_line(body: str | bytes, reason: str) -> None:
    with pytest.raises(SdpError, match=reason):
        parse_sdp(body)


def test_gb18030_info_line_is_read() -> None:
    body = LIVE_UDP.replace("s=Play\r\n", "s=Play\r\ni=大门口\r\n").encode("gb18030")
    assert parse_sdp(body).info == "大门口"


@settings(max_examples=300)
@given(st.one_of(st.binary(max_size=400), st.text(max_size=400)))
def test_arbitrary_input_only_raises_sdp_error(body: bytes | str) -> None:
    with contextlib.suppress(SdpError):
        parse_sdp(body)


@settings(max_examples=300)
@given(st.sampled_from(SAMPLES), st.data())
def test_mangled_real_sdp_only_raises_sdp_error(sample: str, data: st.DataObject) -> None:
    lines = sample.splitlines()
    ops = data.draw(
        st.lists(st.tuples(st.sampled_from(["drop", "dup", "cut", "swap"]), st.integers(0, 100)), max_size=4)
    )
    for op, at in ops:
        if not lines:
            break
        i = at % len(lines)
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "cut":
            lines[i] = lines[i][: at % (len(lines[i]) + 1)]
        else:
            j = (i + 1) % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
    try:
        sd = parse_sdp("\r\n".join(lines))
    except SdpError:
        return
    # Whatever was accepted must build and read back the same.
    assert parse_sdp(build_sdp(sd)) == sd
