"""SIP over a byte stream (TCP, RFC 3261 §18.3): cut whole messages by Content-Length, spot CRLF keep-alives."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tianyan.gb28181.sip.errors import SipError
from tianyan.gb28181.sip.headers import is_digits
from tianyan.gb28181.sip.message import DEFAULT_LIMITS, Limits

# The same blank line parse() looks for, so the framer and the parser agree on where the head ends.
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_LINE_END = re.compile(rb"\r?\n")


@dataclass(frozen=True)
class Frame:
    """One whole SIP message, head and body, ready for parse()."""

    data: bytes


@dataclass(frozen=True)
class Ping:
    """A double-CRLF keep-alive (RFC 5626 §4.4.1); the server answers it with a single CRLF."""


@dataclass(frozen=True)
class Pong:
    """A single CRLF: the answer to our ping (only reported when the framer is the client's)."""


FramerEvent = Frame | Ping | Pong


class StreamFramer:
    """Incremental: feed() any split of the stream, get the same events; a SipError means close the connection.

    Between messages only line ends may appear. As the server (default) two line ends make a Ping and a lone
    one is skipped, as RFC 3261 §7.5 says; as the client (`client=True`) every line end is a Pong, because a
    server never pings and waiting to see whether a second CRLF follows would delay the pong without bound.
    """

    def __init__(self, *, limits: Limits = DEFAULT_LIMITS, client: bool = False) -> None:
        self._limits = limits
        self._client = client
        self._buffer = bytearray()
        self._line_ends = 0  # Line ends seen since the last message or ping (server side).
        self._head_scanned = 0  # Where the search for the blank line resumes, so a slow head costs O(n).
        self._body_end: int | None = None  # Once the head is complete: the length of the whole message.
        self._failed = False

    @property
    def buffered_bytes(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[FramerEvent]:
        if self._failed:
            raise SipError("the stream was refused earlier; close the connection")
        self._buffer += data
        events: list[FramerEvent] = []
        try:
            while self._next(events):
                pass
        except SipError:
            self._failed = True
            raise
        return events

    def _next(self, events: list[FramerEvent]) -> bool:
        """Take one event off the front of the buffer; False when more bytes are needed."""
        if self._body_end is None and not self._skip_line_ends(events):
            return False
        if self._body_end is None:
            self._body_end = self._find_message_end()
            if self._body_end is None:
                return False
        if len(self._buffer) < self._body_end:
            return False
        events.append(Frame(bytes(self._buffer[: self._body_end])))
        del self._buffer[: self._body_end]
        self._body_end = None
        self._head_scanned = 0
        self._line_ends = 0
        return True

    def _skip_line_ends(self, events: list[FramerEvent]) -> bool:
        """Consume keep-alive line ends; True when a message's first byte is at the front."""
        while self._buffer:
            match = _LINE_END.match(self._buffer)
            if match is None:
                if self._buffer[:1] == b"\r" and len(self._buffer) == 1:
                    return False  # Half of a CRLF: wait for the LF.
                self._line_ends = 0
                return True
            del self._buffer[: match.end()]
            if self._client:
                events.append(Pong())
            else:
                self._line_ends += 1
                if self._line_ends == 2:
                    events.append(Ping())
                    self._line_ends = 0
        return False

    def _find_message_end(self) -> int | None:
        limits = self._limits
        # Resume a little before where the last search stopped: the blank line may straddle two feeds.
        start = max(0, self._head_scanned - 3)
        blank = _BLANK_LINE.search(self._buffer, start)
        if blank is None:
            self._head_scanned = len(self._buffer)
            if len(self._buffer) > limits.max_head_bytes + 4:
                raise SipError(f"no end of header section within {limits.max_head_bytes} bytes")
            return None
        if blank.start() > limits.max_head_bytes:
            raise SipError(f"header section of {blank.start()} bytes exceeds the limit of {limits.max_head_bytes}")
        length = _content_length(bytes(self._buffer[: blank.start()]))
        if length > limits.max_body_bytes or blank.end() + length > limits.max_message_bytes:
            raise SipError(f"Content-Length {length} exceeds the limit")
        return blank.end() + length


def _content_length(head: bytes) -> int:
    """The Content-Length (or `l`) value; required over a stream, and every copy of it must agree."""
    # Latin-1 keeps every byte; header names are ASCII, so this finds them whatever the head's encoding.
    lines = head.decode("latin-1").replace("\r\n", "\n").split("\n")[1:]
    unfolded: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t") and unfolded:
            unfolded[-1] += " " + line.strip()
        else:
            unfolded.append(line)
    values = set()
    for line in unfolded:
        name, colon, value = line.partition(":")
        if colon and name.strip().lower() in ("content-length", "l"):
            values.add(value.strip())
    if not values:
        raise SipError("no Content-Length: it is required over a stream transport")
    if len(values) > 1:
        raise SipError(f"conflicting Content-Length values {sorted(values)!r}")
    (text,) = values
    if not is_digits(text) or len(text) > 9:
        raise SipError(f"bad Content-Length {text[:20]!r}")
    return int(text)
