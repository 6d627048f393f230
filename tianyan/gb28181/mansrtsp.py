"""MANSRTSP bodies of SIP INFO (Content-Type: Application/MANSRTSP) that steer playback: PLAY, PAUSE, TEARDOWN.

GB/T 28181-2016 appendix B borrows RTSP syntax: a request line, CSeq, and for PLAY an
optional `Scale` (playback speed; negative is reverse in the 2022 edition) and `Range:
npt=<start>-[<end>]` (seek; `npt=now-` resumes where paused); PAUSE carries `PauseTime: now`.
Devices answer the INFO with a SIP 200 and sometimes an RTSP-style status body.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum

MAX_BODY_BYTES = 4096
MAX_LINES = 32
MAX_CSEQ = 0xFFFFFFFF
# Wider than any device's speed list (1/8 .. 8) so new speeds pass; zero would stop time.
MAX_ABS_SCALE = 64.0
# RTSP/1.0 is what WVP and most devices send; the 2022 edition writes MANSRTSP/1.0.
VERSIONS = ("RTSP/1.0", "MANSRTSP/1.0")
DEFAULT_VERSION = "RTSP/1.0"

_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_SCALE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


class MansRtspError(ValueError):
    """A MANSRTSP body that cannot be understood; the message names the bad line."""


class Method(StrEnum):
    PLAY = "PLAY"
    PAUSE = "PAUSE"
    TEARDOWN = "TEARDOWN"


@dataclass(frozen=True)
class NptRange:
    """`Range: npt=start-[end]` in seconds from the start of the requested period; start None means `now`."""

    start_s: float | None = None
    end_s: float | None = None

    def __post_init__(self) -> None:
        for name, value in (("start", self.start_s), ("end", self.end_s)):
            if value is not None and (not math.isfinite(value) or value < 0):
                raise MansRtspError(f"Range {name} must be a non-negative number of seconds, got {value}")
        if self.start_s is not None and self.end_s is not None and self.end_s < self.start_s:
            raise MansRtspError(f"Range end {self.end_s} is before its start {self.start_s}")

    def to_text(self) -> str:
        start = "now" if self.start_s is None else _number(self.start_s)
        end = "" if self.end_s is None else _number(self.end_s)
        return f"npt={start}-{end}"


@dataclass(frozen=True)
class MansRtspRequest:
    """One INFO body. For PAUSE, `pause_at_s` None is `PauseTime: now`."""

    method: Method
    cseq: int
    scale: float | None = None
    range: NptRange | None = None
    pause_at_s: float | None = None
    version: str = DEFAULT_VERSION

    def __post_init__(self) -> None:
        _check_cseq(self.cseq)
        if self.version not in VERSIONS:
            raise MansRtspError(f"version must be one of {', '.join(VERSIONS)}, got {self.version!r}")
        if self.method is not Method.PLAY and (self.scale is not None or self.range is not None):
            raise MansRtspError(f"Scale and Range belong to PLAY, not {self.method}")
        if self.method is not Method.PAUSE and self.pause_at_s is not None:
            raise MansRtspError(f"PauseTime belongs to PAUSE, not {self.method}")
        if self.scale is not None:
            _check_scale(self.scale)
        if self.pause_at_s is not None and (not math.isfinite(self.pause_at_s) or self.pause_at_s < 0):
            raise MansRtspError(f"PauseTime must be now or non-negative seconds, got {self.pause_at_s}")

    @property
    def is_resume(self) -> bool:
        """A PLAY that continues where playback paused: no seek, no speed change."""
        return self.method is Method.PLAY and self.scale is None and (self.range is None or self.range.start_s is None)

    @property
    def seek_s(self) -> float | None:
        return self.range.start_s if self.range is not None else None

    def to_text(self) -> str:
        return build_request(self)


@dataclass(frozen=True)
class MansRtspResponse:
    """The RTSP-style status some devices put in their answer to the INFO."""

    status: int
    reason: str
    cseq: int
    version: str = DEFAULT_VERSION

    def __post_init__(self) -> None:
        _check_cseq(self.cseq)
        if not 100 <= self.status <= 699:
            raise MansRtspError(f"status must be 100-699, got {self.status}")
        if self.version not in VERSIONS:
            raise MansRtspError(f"version must be one of {', '.join(VERSIONS)}, got {self.version!r}")

    def to_text(self) -> str:
        return f"{self.version} {self.status} {self.reason}\r\nCSeq: {self.cseq}\r\n\r\n"


def play(cseq: int, *, scale: float | None = None, seek_s: float | None = None, version: str = DEFAULT_VERSION) -> str:
    """A PLAY body: resume (`Range: npt=now-`) unless a speed or a seek position is given."""
    npt = NptRange(start_s=seek_s) if seek_s is not None or scale is None else None
    return build_request(MansRtspRequest(Method.PLAY, cseq, scale=scale, range=npt, version=version))


def pause(cseq: int, *, version: str = DEFAULT_VERSION) -> str:
    return build_request(MansRtspRequest(Method.PAUSE, cseq, version=version))


def teardown(cseq: int, *, version: str = DEFAULT_VERSION) -> str:
    return build_request(MansRtspRequest(Method.TEARDOWN, cseq, version=version))


def build_request(request: MansRtspRequest) -> str:
    lines = [f"{request.method} {request.version}", f"CSeq: {request.cseq}"]
    if request.scale is not None:
        lines.append(f"Scale: {_number(request.scale)}")
    if request.range is not None:
        lines.append(f"Range: {request.range.to_text()}")
    if request.method is Method.PAUSE:
        lines.append("PauseTime: " + ("now" if request.pause_at_s is None else _number(request.pause_at_s)))
    return "\r\n".join(lines) + "\r\n\r\n"


def parse_request(body: str | bytes) -> MansRtspRequest:
    """Parse an INFO body. Unknown headers are ignored; a missing or repeated CSeq is an error."""
    first, headers = _split(body)
    parts = first.split()
    if len(parts) != 2:
        raise MansRtspError(f"line 1: expected '<METHOD> RTSP/1.0', got {first!r}")
    method_text, version = parts[0].upper(), _version(parts[1], 1)
    try:
        method = Method(method_text)
    except ValueError:
        raise MansRtspError(f"line 1: method must be PLAY, PAUSE or TEARDOWN, got {parts[0]!r}") from None
    cseq = _cseq(headers)
    scale = range_ = pause_at = None
    if "scale" in headers and method is Method.PLAY:
        line_no, value = headers["scale"]
        if not _SCALE.fullmatch(value):
            raise MansRtspError(f"line {line_no}: Scale must be a number, got {value!r}")
        scale = float(value)
        if scale == 0 or abs(scale) > MAX_ABS_SCALE:
            raise MansRtspError(f"line {line_no}: Scale must be non-zero and within ±{MAX_ABS_SCALE:g}, got {value}")
    if "range" in headers and method is Method.PLAY:
        range_ = _range(*headers["range"])
    if "pausetime" in headers and method is Method.PAUSE:
        line_no, value = headers["pausetime"]
        if value.lower() != "now":
            if not _NUMBER.fullmatch(value):
                raise MansRtspError(f"line {line_no}: PauseTime must be 'now' or seconds, got {value!r}")
            pause_at = float(value)
    return MansRtspRequest(method, cseq, scale=scale, range=range_, pause_at_s=pause_at, version=version)


def parse_response(body: str | bytes) -> MansRtspResponse:
    first, headers = _split(body)
    parts = first.split(None, 2)
    if len(parts) < 2:
        raise MansRtspError(f"line 1: expected 'RTSP/1.0 <status> <reason>', got {first!r}")
    version = _version(parts[0], 1)
    if not parts[1].isascii() or not parts[1].isdigit() or len(parts[1]) != 3:
        raise MansRtspError(f"line 1: status must be 3 digits, got {parts[1]!r}")
    return MansRtspResponse(int(parts[1]), parts[2] if len(parts) > 2 else "", _cseq(headers), version)


class CSeqCounter:
    """The sender's CSeq for INFOs within one playback dialog: 1, 2, 3 … wrapping after 2^32-1."""

    def __init__(self, start: int = 1) -> None:
        _check_cseq(start)
        self._next = start

    def next(self) -> int:
        value = self._next
        self._next = value + 1 if value < MAX_CSEQ else 1
        return value


class CSeqTracker:
    """The receiver's view: accept a CSeq only if it is newer than the last (a SIP retransmission repeats it)."""

    def __init__(self) -> None:
        self._last: int | None = None

    @property
    def last(self) -> int | None:
        return self._last

    def accept(self, cseq: int) -> bool:
        _check_cseq(cseq)
        # Serial-number comparison, so the wrap from 2^32-1 to 1 still counts as newer.
        if self._last is not None and not 0 < (cseq - self._last) % (MAX_CSEQ + 1) < 2**31:
            return False
        self._last = cseq
        return True


def _split(body: str | bytes) -> tuple[str, dict[str, tuple[int, str]]]:
    if isinstance(body, bytes | bytearray):
        if len(body) > MAX_BODY_BYTES:
            raise MansRtspError(f"body of {len(body)} bytes exceeds {MAX_BODY_BYTES}")
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MansRtspError(f"body is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    elif isinstance(body, str):
        text = body
        if len(text.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
            raise MansRtspError(f"body exceeds {MAX_BODY_BYTES} bytes")
    else:
        raise MansRtspError(f"body must be text or bytes, not {type(body).__name__}")
    # Devices end lines with CRLF or LF alone and some pad with spaces or a trailing NUL.
    raw_lines = text.strip("\x00").split("\n")
    if len(raw_lines) > MAX_LINES:
        raise MansRtspError(f"body has {len(raw_lines)} lines, more than {MAX_LINES}")
    lines = [(n, line.strip()) for n, line in enumerate(raw_lines, 1)]
    lines = [(n, line) for n, line in lines if line]
    if not lines:
        raise MansRtspError("empty body")
    headers: dict[str, tuple[int, str]] = {}
    for line_no, line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise MansRtspError(f"line {line_no}: expected 'Name: value', got {line!r}")
        key = name.strip().lower()
        if key in headers:
            raise MansRtspError(f"line {line_no}: header {name.strip()} repeated")
        headers[key] = (line_no, value.strip())
    return lines[0][1], headers


def _version(text: str, line_no: int) -> str:
    for known in VERSIONS:
        if text.upper() == known:
            return known
    raise MansRtspError(f"line {line_no}: version must be RTSP/1.0 or MANSRTSP/1.0, got {text!r}")


def _cseq(headers: dict[str, tuple[int, str]]) -> int:
    if "cseq" not in headers:
        raise MansRtspError("CSeq header missing")
    line_no, value = headers["cseq"]
    if not value.isascii() or not value.isdigit() or len(value) > 10 or int(value) > MAX_CSEQ:
        raise MansRtspError(f"line {line_no}: CSeq must be an integer 0-{MAX_CSEQ}, got {value!r}")
    return int(value)


def _range(line_no: int, value: str) -> NptRange:
    unit, eq, spec = value.partition("=")
    if not eq or unit.strip().lower() != "npt":
        raise MansRtspError(f"line {line_no}: only npt ranges are supported, got {value!r}")
    start, dash, end = spec.strip().partition("-")
    start, end = start.strip(), end.strip()
    if not dash:
        raise MansRtspError(f"line {line_no}: npt range needs a '-', got {value!r}")
    if start.lower() == "now" or start == "":
        start_s = None
    elif _NUMBER.fullmatch(start):
        start_s = float(start)
    else:
        raise MansRtspError(f"line {line_no}: npt start must be 'now' or seconds, got {start!r}")
    if end == "":
        end_s = None
    elif _NUMBER.fullmatch(end):
        end_s = float(end)
    else:
        raise MansRtspError(f"line {line_no}: npt end must be seconds, got {end!r}")
    try:
        return NptRange(start_s, end_s)
    except MansRtspError as exc:
        raise MansRtspError(f"line {line_no}: {exc}") from None


def _check_cseq(cseq: int) -> None:
    if isinstance(cseq, bool) or not isinstance(cseq, int) or not 0 <= cseq <= MAX_CSEQ:
        raise MansRtspError(f"CSeq must be an integer 0-{MAX_CSEQ}, got {cseq!r}")


def _check_scale(scale: float) -> None:
    if not math.isfinite(scale) or scale == 0 or abs(scale) > MAX_ABS_SCALE:
        raise MansRtspError(f"Scale must be non-zero and within ±{MAX_ABS_SCALE:g}, got {scale}")


def _number(value: float) -> str:
    """Seconds and speeds as devices expect them: 2.0 stays '2.0', 0.5 is '0.5', 12.25 is '12.25'."""
    text = repr(float(value))
    return text if "e" not in text else f"{value:.6f}".rstrip("0").rstrip(".") or "0"
