"""MANSRTSP INFO bodies: what WVP and devices send, round trips, CSeq order, and garbage only raising MansRtspError."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tianyan.gb28181.mansrtsp import (
    CSeqCounter,
    CSeqTracker,
    MansRtspError,
    MansRtspRequest,
    MansRtspResponse,
    Method,
    NptRange,
    parse_request,
    parse_response,
    pause,
    play,
    teardown,
)


def test_builders_write_what_devices_expect() -> None:
    assert play(1) == "PLAY RTSP/1.0\r\nCSeq: 1\r\nRange: npt=now-\r\n\r\n"
    assert play(2, scale=2) == "PLAY RTSP/1.0\r\nCSeq: 2\r\nScale: 2.0\r\n\r\n"
    assert play(3, scale=0.5) == "PLAY RTSP/1.0\r\nCSeq: 3\r\nScale: 0.5\r\n\r\n"
    assert play(4, seek_s=120) == "PLAY RTSP/1.0\r\nCSeq: 4\r\nRange: npt=120.0-\r\n\r\n"
    assert pause(5) == "PAUSE RTSP/1.0\r\nCSeq: 5\r\nPauseTime: now\r\n\r\n"
    assert teardown(6) == "TEARDOWN RTSP/1.0\r\nCSeq: 6\r\n\r\n"
    assert teardown(7, version="MANSRTSP/1.0").startswith("TEARDOWN MANSRTSP/1.0\r\n")


def test_parse_wvp_pause_without_trailing_blank_line() -> None:
    request = parse_request("PAUSE RTSP/1.0\r\nCSeq: 12\r\nPauseTime: now\r\n")
    assert request == MansRtspRequest(Method.PAUSE, 12)


def test_parse_resume_seek_and_speed() -> None:
    resume = parse_request(b"PLAY RTSP/1.0\r\nCSeq: 3\r\nRange: npt=now-\r\n")
    assert resume.is_resume and resume.seek_s is None
    seek = parse_request("PLAY RTSP/1.0\r\nCSeq: 4\r\nRange: npt=20.5-30\r\n")
    assert seek.range == NptRange(20.5, 30.0) and not seek.is_resume and seek.seek_s == 20.5
    fast = parse_request("PLAY RTSP/1.0\r\nCSeq: 5\r\nScale: 4.0\r\n")
    assert fast.scale == 4.0 and fast.range is None and not fast.is_resume


def test_parse_is_tolerant_of_lf_spaces_case_and_the_2022_version() -> None:
    body = "play MANSRTSP/1.0  \ncseq:7 \n scale : -2 \nRANGE: NPT = 100 -\n\n\x00"
    request = parse_request(body)
    assert request == MansRtspRequest(Method.PLAY, 7, scale=-2.0, range=NptRange(100.0, None), version="MANSRTSP/1.0")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("", "empty body"),
        ("PLAY\r\nCSeq: 1\r\n", "line 1"),
        ("DESCRIBE RTSP/1.0\r\nCSeq: 1\r\n", "line 1: method"),
        ("PLAY HTTP/1.1\r\nCSeq: 1\r\n", "line 1: version"),
        ("PLAY RTSP/1.0\r\nScale: 2\r\n", "CSeq header missing"),
        ("PLAY RTSP/1.0\r\nCSeq: x\r\n", "line 2: CSeq"),
        ("PLAY RTSP/1.0\r\nCSeq: 4294967296\r\n", "line 2: CSeq"),
        ("PLAY RTSP/1.0\r\nCSeq: 1\r\nCSeq: 2\r\n", "line 3: header CSeq repeated"),
        ("PLAY RTSP/1.0\r\nCSeq: 1\r\nScale: fast\r\n", "line 3: Scale"),
        ("PLAY RTSP/1.0\r\nCSeq: 1\r\nScale: 0\r\n", "line 3: Scale must be non-zero"),
        ("PLAY RTSP/1.0\r\nCSeq: 1\r\nScale: 128\r\n", "line 3: Scale"),
        ("PLAY RTSP/1.0\r\nCSeq: 1\r\nRange: clock=20260101T000000Z-\r\n", "line 3: only npt"),
        ("PLAY RTSP/1.0\r\nCSeq: 1\r\nRange: npt=30-20\r\n", "line 3: Range end"),
        ("PLAY RTSP/1.0\r\nCSeq: 1\r\nRange: npt=abc-\r\n", "line 3: npt start"),
        ("PAUSE RTSP/1.0\r\nCSeq: 1\r\nPauseTime: later\r\n", "line 3: PauseTime"),
        ("PLAY RTSP/1.0\r\nCSeq: 1\r\nno colon here\r\n", "line 3: expected 'Name: value'"),
        ("PLAY RTSP/1.0\r\n" + "X: y\r\n" * 40, "more than 32"),
        (b"PLAY RTSP/1.0\r\nCSeq: 1\r\n\xff\xfe", "not UTF-8"),
        (b"PLAY RTSP/1.0\r\n" + b" " * 5000, "exceeds"),
    ],
)
def test_bad_bodies_name_the_problem(body: str | bytes, reason: str) -> None:
    with pytest.raises(MansRtspError, match=reason):
        parse_request(body)


def test_requests_that_mix_up_headers_are_refused() -> None:
    with pytest.raises(MansRtspError, match="belong to PLAY"):
        MansRtspRequest(Method.PAUSE, 1, scale=2.0)
    with pytest.raises(MansRtspError, match="PauseTime belongs to PAUSE"):
        MansRtspRequest(Method.PLAY, 1, pause_at_s=3.0)
    with pytest.raises(MansRtspError, match="CSeq"):
        MansRtspRequest(Method.PLAY, -1)


requests = st.one_of(
    st.builds(
        MansRtspRequest,
        method=st.just(Method.PLAY),
        cseq=st.integers(0, 2**32 - 1),
        scale=st.none() | st.sampled_from([0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, -1.0, -2.0]),
        range=st.none() | st.builds(NptRange, st.none() | st.floats(0, 1e6).map(lambda x: round(x, 3)), st.none()),
        version=st.sampled_from(["RTSP/1.0", "MANSRTSP/1.0"]),
    ),
    st.builds(MansRtspRequest, method=st.just(Method.PAUSE), cseq=st.integers(0, 2**32 - 1)),
    st.builds(MansRtspRequest, method=st.just(Method.TEARDOWN), cseq=st.integers(0, 2**32 - 1)),
)


@given(requests)
def test_build_then_parse_is_identity(request: MansRtspRequest) -> None:
    assert parse_request(request.to_text()) == request


@settings(max_examples=300)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_garbage_only_raises_mansrtsp_error(body: bytes | str) -> None:
    with contextlib.suppress(MansRtspError):
        parse_request(body)
    with contextlib.suppress(MansRtspError):
        parse_response(body)


@settings(max_examples=200)
@given(st.lists(st.sampled_from(["PLAY RTSP/1.0", "CSeq: 3", "Scale: 2", "Range: npt=5-", ":", "PauseTime: now"])))
def test_shuffled_valid_lines_only_raise_mansrtsp_error(lines: list[str]) -> None:
    with contextlib.suppress(MansRtspError):
        parse_request("\r\n".join(lines))


def test_device_status_answer_round_trips() -> None:
    response = parse_response("RTSP/1.0 200 OK\r\nCSeq: 9\r\n")
    assert response == MansRtspResponse(200, "OK", 9)
    assert parse_response(response.to_text()) == response
    with pytest.raises(MansRtspError, match="status must be 3 digits"):
        parse_response("RTSP/1.0 OK\r\nCSeq: 9\r\n")


def test_cseq_counter_counts_and_wraps_past_zero() -> None:
    counter = CSeqCounter()
    assert [counter.next() for _ in range(3)] == [1, 2, 3]
    wrapping = CSeqCounter(start=2**32 - 1)
    assert [wrapping.next(), wrapping.next()] == [2**32 - 1, 1]


def test_cseq_tracker_drops_retransmissions_and_stale_requests() -> None:
    tracker = CSeqTracker()
    assert tracker.accept(5)
    assert not tracker.accept(5)  # the INFO retransmitted
    assert not tracker.accept(4)  # overtaken by a newer one
    assert tracker.accept(6)
    assert tracker.last == 6
    late = CSeqTracker()
    assert late.accept(2**32 - 1) and late.accept(1)
