"""The TCP framer: any split of the stream gives the same messages; keep-alives; bounded; garbage only raises."""

from __future__ import annotations

import contextlib
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.gb28181 import sip_samples as samples
from tianyan.gb28181.sip.errors import SipError
from tianyan.gb28181.sip.framing import Frame, FramerEvent, Ping, Pong, StreamFramer
from tianyan.gb28181.sip.message import Limits, parse

# Over TCP every message carries Content-Length; the two UDP-style samples get one added.
STREAM_MESSAGES = [
    samples.REGISTER,
    samples.KEEPALIVE,
    samples.INVITE,
    samples.INVITE_OK,
    samples.NOTIFY,
    samples.wire(samples.COMPACT_LF.decode().split("\n\n")[0], b"<Notify/>", eol="\n").replace(b"Content-Length", b"l"),
    samples.GB18030_IPV6,
]
STREAM = b"".join(STREAM_MESSAGES)


def _feed_all(chunks: list[bytes], **kwargs: object) -> list[FramerEvent]:
    framer = StreamFramer(**kwargs)  # type: ignore[arg-type]
    events: list[FramerEvent] = []
    for chunk in chunks:
        events += framer.feed(chunk)
    assert framer.buffered_bytes == 0
    return events


def test_whole_stream_at_once() -> None:
    events = _feed_all([STREAM])
    assert events == [Frame(message) for message in STREAM_MESSAGES]
    for event, original in zip(events, STREAM_MESSAGES, strict=True):
        assert isinstance(event, Frame)
        assert parse(event.data) == parse(original)


def test_one_byte_at_a_time() -> None:
    assert _feed_all([STREAM[i : i + 1] for i in range(len(STREAM))]) == [Frame(m) for m in STREAM_MESSAGES]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, len(STREAM)), max_size=30))
def test_random_splits(cuts: list[int]) -> None:
    points = sorted({0, len(STREAM), *cuts})
    chunks = [STREAM[a:b] for a, b in itertools.pairwise(points)]
    assert _feed_all(chunks) == [Frame(m) for m in STREAM_MESSAGES]


def test_lf_only_head_with_compact_content_length() -> None:
    message = b"MESSAGE sip:a@b SIP/2.0\nl: 5\nCall-ID: 1\n\nhello"
    assert _feed_all([message + message]) == [Frame(message), Frame(message)]


def test_ping_between_messages_and_stray_line_ends() -> None:
    stream = b"\r\n\r\n" + samples.REGISTER + b"\r\n\r\n\r\n\r\n" + samples.KEEPALIVE + b"\r\n" + samples.BYE
    events = _feed_all([stream])
    assert events == [Ping(), Frame(samples.REGISTER), Ping(), Ping(), Frame(samples.KEEPALIVE), Frame(samples.BYE)]
    # The same split anywhere, LF-only pings too.
    assert _feed_all([bytes([b]) for b in stream]) == events
    assert _feed_all([b"\n\n", b"\n", b"\n"]) == [Ping(), Ping()]


def test_client_side_reports_each_line_end_as_a_pong() -> None:
    assert _feed_all([b"\r", b"\n", samples.REGISTER, b"\r\n"], client=True) == [
        Pong(),
        Frame(samples.REGISTER),
        Pong(),
    ]


def test_partial_message_waits_for_more() -> None:
    framer = StreamFramer()
    assert framer.feed(samples.KEEPALIVE[:-5]) == []
    assert framer.buffered_bytes == len(samples.KEEPALIVE) - 5
    assert framer.feed(samples.KEEPALIVE[-5:] + samples.BYE[:10]) == [Frame(samples.KEEPALIVE)]
    assert framer.buffered_bytes == 10


def test_missing_content_length_is_refused() -> None:
    with pytest.raises(SipError, match="Content-Length"):
        StreamFramer().feed(samples.COMPACT_LF)


@pytest.mark.parametrize("value", [b"-1", b"abc", "٣".encode(), b"1234567890", b""])
def test_bad_content_length_is_refused(value: bytes) -> None:
    with pytest.raises(SipError):
        StreamFramer().feed(samples.REGISTER.replace(b"Content-Length: 0", b"Content-Length: " + value))


def test_conflicting_content_lengths_are_refused() -> None:
    data = samples.REGISTER.replace(b"Content-Length: 0", b"Content-Length: 0\r\nl: 10")
    with pytest.raises(SipError, match="conflicting"):
        StreamFramer().feed(data)
    agreeing = samples.REGISTER.replace(b"Content-Length: 0", b"Content-Length: 0\r\nl: 0")
    assert StreamFramer().feed(agreeing) == [Frame(agreeing)]


def test_oversized_content_length_is_refused_before_the_body_arrives() -> None:
    framer = StreamFramer(limits=Limits(max_body_bytes=1000))
    with pytest.raises(SipError, match="exceeds"):
        framer.feed(samples.REGISTER.replace(b"Content-Length: 0", b"Content-Length: 1001"))
    # Once refused, the stream stays refused: the transport closes it.
    with pytest.raises(SipError):
        framer.feed(samples.REGISTER)


def test_oversized_head_is_refused_and_the_buffer_stays_bounded() -> None:
    limits = Limits(max_head_bytes=1024)
    framer = StreamFramer(limits=limits)
    with pytest.raises(SipError, match="header section"):
        for _ in range(1000):
            framer.feed(b"X-Junk: " + b"a" * 100 + b"\r\n")
            assert framer.buffered_bytes <= limits.max_head_bytes + 4 + 110
    with pytest.raises(SipError, match="header section"):
        StreamFramer(limits=limits).feed(b"X: " + b"a" * 2000 + b"\r\n\r\n")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=8))
def test_arbitrary_bytes_only_raise_sip_error(chunks: list[bytes]) -> None:
    framer = StreamFramer(limits=Limits(max_head_bytes=512, max_body_bytes=512))
    try:
        for chunk in chunks:
            for event in framer.feed(chunk):
                assert isinstance(event, Frame | Ping | Pong)
            assert framer.buffered_bytes <= 512 + 4 + 512 + 300
    except SipError:
        pass


@st.composite
def mutated_stream(draw: st.DrawFn) -> bytes:
    data = bytearray(STREAM)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["flip", "truncate", "duplicate", "delete"]))
        if kind == "flip":
            data[at] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del data[at:]
        elif kind == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 200))]
        else:
            del data[at : at + draw(st.integers(1, 30))]
        if not data:
            break
    return bytes(data)


@settings(max_examples=300, deadline=None)
@given(mutated_stream(), st.integers(1, 64))
def test_mutated_streams_split_anywhere_give_the_same_events(data: bytes, step: int) -> None:
    """Whole or in pieces, the framer sees the same thing; frames it cuts parse or raise SipError only."""

    def run(chunks: list[bytes]) -> tuple[list[FramerEvent], bool]:
        framer = StreamFramer()
        events: list[FramerEvent] = []
        try:
            for chunk in chunks:
                events += framer.feed(chunk)
        except SipError:
            return events, True
        return events, False

    whole = run([data])
    pieces = run([data[i : i + step] for i in range(0, len(data), step)])
    if not whole[1] and not pieces[1]:
        assert whole == pieces
    else:
        # A refusal may come earlier when the whole stream is seen at once (a limit it can see sooner), but never
        # with different messages before it.
        shorter, longer = sorted((whole[0], pieces[0]), key=len)
        assert longer[: len(shorter)] == shorter
    for event in whole[0]:
        if isinstance(event, Frame):
            with contextlib.suppress(SipError):
                parse(event.data)
