"""RTSP request parsing, header helpers and URI resolution: pure, including a fuzz of the parser."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tianyan.sim.rtsp.messages import (
    InterleavedFrame,
    RtspParser,
    RtspRequest,
    RtspSyntaxError,
    TransportSpec,
    interleave,
    parse_npt_start,
    parse_transport,
    response,
)
from tianyan.sim.rtsp.session import RtspSession, SessionError, State, Target, resolve

DESCRIBE = b"DESCRIBE rtsp://127.0.0.1:8554/main RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n"


def test_a_request_split_anywhere_comes_out_whole() -> None:
    for cut in range(1, len(DESCRIBE)):
        parser = RtspParser()
        events = parser.feed(DESCRIBE[:cut]) + parser.feed(DESCRIBE[cut:])
        assert len(events) == 1
        request = events[0]
        assert isinstance(request, RtspRequest)
        assert (request.method, request.uri, request.cseq) == ("DESCRIBE", "rtsp://127.0.0.1:8554/main", "2")
        assert request.headers.get("accept") == "application/sdp"


def test_requests_bodies_and_interleaved_frames_in_one_stream() -> None:
    body = b"position\r\n"
    data = (
        DESCRIBE
        + interleave(1, b"\x81\xc9\x00\x01rtcp")
        + b"GET_PARAMETER * RTSP/1.0\r\nCSeq: 3\r\nSession: ABC;timeout=60\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    events = RtspParser().feed(data)
    assert [type(e) for e in events] == [RtspRequest, InterleavedFrame, RtspRequest]
    assert events[1] == InterleavedFrame(1, b"\x81\xc9\x00\x01rtcp")
    last = events[2]
    assert isinstance(last, RtspRequest)
    assert last.body == body and last.session_id == "ABC"


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"DESCRIBE rtsp://x/main RTSP/2.0\r\nCSeq: 1\r\n\r\n", 505),
        (b"DESCRIBE  rtsp://x/main RTSP/1.0\r\nCSeq: 1\r\n\r\n", 400),
        (b"DESCRIBE rtsp://x/main RTSP/1.0\r\nno colon here\r\n\r\n", 400),
        (b"DESCRIBE rtsp://x/main RTSP/1.0\r\nContent-Length: ten\r\n\r\n", 400),
        (b"DESCRIBE rtsp://x/main RTSP/1.0\r\nContent-Length: 99999999\r\n\r\n", 413),
        (b"OPTIONS * RTSP/1.0\r\nX: " + b"a" * 9000, 413),
        (b"\xff\xfe RTSP/1.0\r\n\r\n", 400),
    ],
)
def test_malformed_requests_get_a_clear_status(data: bytes, status: int) -> None:
    parser = RtspParser()
    with pytest.raises(RtspSyntaxError) as caught:
        parser.feed(data)
    assert caught.value.status == status
    with pytest.raises(RtspSyntaxError):  # the stream stays failed: nothing after bad bytes is trusted
        parser.feed(DESCRIBE)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=8))
def test_the_parser_never_fails_except_with_its_own_error(chunks: list[bytes]) -> None:
    parser = RtspParser()
    for chunk in chunks:
        try:
            events = parser.feed(chunk)
        except RtspSyntaxError as exc:
            assert 400 <= exc.status < 600
            return
        for event in events:
            assert isinstance(event, RtspRequest | InterleavedFrame)
    assert parser.buffered_bytes <= sum(map(len, chunks))


@settings(max_examples=200, deadline=None)
@given(
    method=st.sampled_from(["OPTIONS", "DESCRIBE", "SETUP", "PLAY", "TEARDOWN"]),
    path=st.from_regex(r"/[a-z0-9]{1,12}", fullmatch=True),
    cseq=st.integers(0, 10**6),
    values=st.lists(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30), max_size=5),
)
def test_well_formed_requests_parse_back(method: str, path: str, cseq: int, values: list[str]) -> None:
    headers = "".join(f"X-H{i}: {v.strip()}\r\n" for i, v in enumerate(values))
    data = f"{method} rtsp://127.0.0.1{path} RTSP/1.0\r\nCSeq: {cseq}\r\n{headers}\r\n".encode()
    (request,) = RtspParser().feed(data)
    assert isinstance(request, RtspRequest)
    assert request.method == method and request.cseq == str(cseq)
    assert [request.headers.get(f"x-h{i}") for i in range(len(values))] == [v.strip() for v in values]


def test_response_echoes_cseq_and_counts_the_body() -> None:
    text = response(200, "7", {"Content-Type": "application/sdp"}, b"v=0\r\n").to_bytes()
    assert text == b"RTSP/1.0 200 OK\r\nCSeq: 7\r\nContent-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n"


def test_transport_alternatives() -> None:
    assert parse_transport("RTP/AVP/TCP;unicast;interleaved=2-3") == [TransportSpec(interleaved=(2, 3))]
    assert parse_transport("RTP/AVP;unicast;client_port=5000-5001") == [TransportSpec(client_ports=(5000, 5001))]
    assert parse_transport("RTP/AVP/UDP;unicast;client_port=5000") == [TransportSpec(client_ports=(5000, 5001))]
    assert parse_transport("RTP/AVP/TCP;unicast") == [TransportSpec(interleaved=(0, 1))]
    refused = parse_transport(
        "RTP/SAVP;unicast, RTP/AVP;multicast, RTP/AVP;unicast;client_port=x, RTP/AVP/TCP;interleaved=300-301"
    )
    assert all(isinstance(r, str) for r in refused) and len(refused) == 4


def test_npt_ranges() -> None:
    assert parse_npt_start(None) is None
    assert parse_npt_start("npt=now-") is None
    assert parse_npt_start("npt=0.000-") == 0.0
    assert parse_npt_start("npt=0:01:02.5-") == 62.5
    for bad in ("clock=19961108T142300Z-", "npt=abc-", "npt=1:2-", "npt=nan-", "npt=1.5.5-"):
        with pytest.raises(RtspSyntaxError) as caught:
            parse_npt_start(bad)
        assert caught.value.status == 457


def test_request_uris_resolve_to_paths_and_tracks() -> None:
    paths = frozenset({"main", "sub", "Streaming/Channels/101"})
    assert resolve("rtsp://127.0.0.1:8554/main", paths) == Target("main")
    assert resolve("rtsp://127.0.0.1:8554/main/", paths) == Target("main")
    assert resolve("rtsp://127.0.0.1:8554/sub/trackID=0", paths) == Target("sub", "trackID=0")
    assert resolve("/Streaming/Channels/101?transportmode=unicast", paths) == Target("Streaming/Channels/101")
    assert resolve("rtsp://127.0.0.1:8554/other", paths) is None
    assert resolve("rtsp://[bad", paths) is None


def test_session_states() -> None:
    session = RtspSession("main", TransportSpec(interleaved=(0, 1)), timeout_s=60)
    assert session.header.endswith(";timeout=60")
    assert session.play() and not session.play()
    assert session.state is State.PLAYING
    with pytest.raises(SessionError) as caught:
        session.setup_again(TransportSpec(client_ports=(5000, 5001)))
    assert caught.value.status == 455
    with pytest.raises(SessionError) as caught:
        session.check_target(Target("sub"))
    assert caught.value.status == 459
    assert session.pause() and not session.pause()
    session.touch(100.0)
    assert not session.expired(150.0) and session.expired(161.0)
