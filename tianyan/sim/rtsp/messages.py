"""RTSP/1.0 messages (RFC 2326): an incremental parser for requests and interleaved frames, and response building.

Sans-IO: feed bytes in whatever pieces the socket gives, take out complete requests and `$`-framed binary
packets (RFC 2326 §10.12) in arrival order. Anything malformed raises RtspSyntaxError with the status to
answer; after that the byte stream cannot be trusted and the connection should be closed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

RTSP_VERSION = "RTSP/1.0"
MAX_HEAD_BYTES = 8192
MAX_BODY_BYTES = 65536
METHODS = frozenset(
    {"OPTIONS", "DESCRIBE", "SETUP", "PLAY", "PAUSE", "TEARDOWN", "GET_PARAMETER", "SET_PARAMETER", "ANNOUNCE",
     "RECORD", "REDIRECT"}
)  # fmt: skip

REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    413: "Request Entity Too Large",
    414: "Request-URI Too Large",
    453: "Not Enough Bandwidth",
    451: "Parameter Not Understood",
    454: "Session Not Found",
    455: "Method Not Valid in This State",
    457: "Invalid Range",
    459: "Aggregate Operation Not Allowed",
    461: "Unsupported Transport",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "RTSP Version Not Supported",
}


class RtspSyntaxError(ValueError):
    """A request we cannot parse; `status` is the answer it deserves (400, 413, 505…)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Headers:
    """Case-insensitive header fields that keep their order and repeated names."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self.items: list[tuple[str, str]] = list(items)

    def get(self, name: str, default: str | None = None) -> str | None:
        lowered = name.lower()
        for key, value in self.items:
            if key.lower() == lowered:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        lowered = name.lower()
        return [value for key, value in self.items if key.lower() == lowered]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __repr__(self) -> str:
        return f"Headers({self.items!r})"


@dataclass(frozen=True)
class RtspRequest:
    method: str
    uri: str
    headers: Headers
    body: bytes = b""

    @property
    def cseq(self) -> str | None:
        return self.headers.get("CSeq")

    @property
    def session_id(self) -> str | None:
        value = self.headers.get("Session")
        if value is None:
            return None
        return value.split(";", 1)[0].strip() or None


@dataclass(frozen=True)
class InterleavedFrame:
    """A binary packet on the RTSP connection: `$`, channel, 16-bit length (RTCP from the client, mostly)."""

    channel: int
    data: bytes


@dataclass
class RtspResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def reason(self) -> str:
        return REASONS.get(self.status, "Unknown")

    def to_bytes(self) -> bytes:
        lines = [f"{RTSP_VERSION} {self.status} {self.reason}"]
        lines.extend(f"{name}: {value}" for name, value in self.headers)
        if self.body:
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + self.body


def response(status: int, cseq: str | None, headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
             body: bytes = b"") -> RtspResponse:  # fmt: skip
    """A response echoing the request's CSeq (RFC 2326 §12.17), with `headers` after it."""
    items = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    first = [("CSeq", cseq)] if cseq is not None else []
    return RtspResponse(status, [*first, *items], body)


def interleave(channel: int, packet: bytes) -> bytes:
    """One RTP/RTCP packet framed for the RTSP connection (RFC 2326 §10.12)."""
    if not 0 <= channel <= 255:
        raise ValueError(f"interleaved channel must be 0-255, got {channel}")
    if not 0 < len(packet) <= 0xFFFF:
        raise ValueError(f"an interleaved packet must be 1-65535 bytes, got {len(packet)}")
    return b"$" + bytes([channel]) + len(packet).to_bytes(2, "big") + packet


class RtspParser:
    """Splits a client's byte stream into RtspRequest and InterleavedFrame events."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._failed: RtspSyntaxError | None = None

    @property
    def buffered_bytes(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[RtspRequest | InterleavedFrame]:
        if self._failed is not None:
            raise self._failed
        self._buffer += data
        events: list[RtspRequest | InterleavedFrame] = []
        try:
            while True:
                event = self._next()
                if event is None:
                    break
                events.append(event)
        except RtspSyntaxError as exc:
            self._failed = exc
            self._buffer.clear()
            if not events:
                raise
            # The good events before the bad bytes are still delivered; the error comes on the next feed.
        return events

    def _next(self) -> RtspRequest | InterleavedFrame | None:
        buffer = self._buffer
        # Blank lines between messages are allowed (RFC 2326 §15.1, like HTTP's robustness rule).
        while buffer[:2] == b"\r\n" or buffer[:1] == b"\n":
            del buffer[: 2 if buffer[:1] == b"\r" else 1]
        if not buffer:
            return None
        if buffer[0] == 0x24:  # '$'
            if len(buffer) < 4:
                return None
            size = int.from_bytes(buffer[2:4], "big")
            if len(buffer) < 4 + size:
                return None
            frame = InterleavedFrame(buffer[1], bytes(buffer[4 : 4 + size]))
            del buffer[: 4 + size]
            return frame
        end = buffer.find(b"\r\n\r\n")
        separator = 4
        if end < 0:
            end = buffer.find(b"\n\n")
            separator = 2
        if end < 0:
            if len(buffer) > MAX_HEAD_BYTES:
                raise RtspSyntaxError(f"request head longer than {MAX_HEAD_BYTES} bytes", 413)
            return None
        if end > MAX_HEAD_BYTES:
            raise RtspSyntaxError(f"request head longer than {MAX_HEAD_BYTES} bytes", 413)
        method, uri, headers = parse_head(bytes(buffer[:end]))
        length_text = headers.get("Content-Length", "0") or "0"
        if not length_text.strip().isdigit():
            raise RtspSyntaxError(f"Content-Length must be a number, got {length_text!r}")
        length = int(length_text.strip())
        if length > MAX_BODY_BYTES:
            raise RtspSyntaxError(f"body of {length} bytes is over the {MAX_BODY_BYTES}-byte limit", 413)
        total = end + separator + length
        if len(buffer) < total:
            return None
        body = bytes(buffer[end + separator : total])
        del buffer[:total]
        return RtspRequest(method, uri, headers, body)


def parse_head(head: bytes) -> tuple[str, str, Headers]:
    """The request line and header fields of one request (without the blank line)."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RtspSyntaxError("request head is not UTF-8") from exc
    lines = text.replace("\r\n", "\n").split("\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not all(parts):
        raise RtspSyntaxError(f"bad request line {lines[0][:80]!r}")
    method, uri, version = parts
    if not method.isascii() or not method.replace("_", "").isalpha() or not method.isupper():
        raise RtspSyntaxError(f"bad method {method[:40]!r}")
    if not version.startswith("RTSP/"):
        raise RtspSyntaxError(f"not an RTSP request: {version[:40]!r}")
    if version != RTSP_VERSION:
        raise RtspSyntaxError(f"{version[:40]} is not supported, only {RTSP_VERSION}", 505)
    if any(ord(c) < 0x21 for c in uri):
        raise RtspSyntaxError("request URI with control characters")
    items: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and items:  # obsolete line folding continues the previous field
            name, value = items[-1]
            items[-1] = (name, f"{value} {line.strip()}")
            continue
        name, sep, value = line.partition(":")
        name = name.strip()
        if not sep or not name or any(c in name for c in ' \t()<>@,;\\"/[]?={}') or not name.isascii():
            raise RtspSyntaxError(f"bad header line {line[:80]!r}")
        if any(ord(c) < 0x20 and c != "\t" for c in value):
            raise RtspSyntaxError(f"control characters in header {name[:40]!r}")
        items.append((name, value.strip()))
    return method, uri, Headers(items)


@dataclass(frozen=True)
class TransportSpec:
    """One Transport header alternative: RTP over the RTSP connection (interleaved) or over UDP."""

    interleaved: tuple[int, int] | None = None
    client_ports: tuple[int, int] | None = None
    multicast: bool = False

    @property
    def tcp(self) -> bool:
        return self.interleaved is not None


def parse_transport(value: str) -> list[TransportSpec | str]:
    """Each comma-separated alternative of a Transport header: a TransportSpec, or why it cannot be served."""
    specs: list[TransportSpec | str] = []
    for alternative in value.split(","):
        params = [p.strip() for p in alternative.split(";") if p.strip()]
        if not params:
            continue
        protocol = params[0].upper()
        options: dict[str, str] = {}
        for param in params[1:]:
            name, _, raw = param.partition("=")
            options[name.strip().lower()] = raw.strip()
        if protocol not in ("RTP/AVP", "RTP/AVP/UDP", "RTP/AVP/TCP"):
            specs.append(f"transport {params[0]!r} is not supported (RTP/AVP over UDP or TCP only)")
            continue
        if "multicast" in options:
            specs.append("multicast is not supported")
            continue
        if protocol == "RTP/AVP/TCP":
            channels = _pair(options.get("interleaved"), 0, 255)
            if channels is None and "interleaved" in options:
                specs.append(f"bad interleaved channels {options['interleaved'][:20]!r}")
                continue
            specs.append(TransportSpec(interleaved=channels or (0, 1)))
            continue
        ports = _pair(options.get("client_port"), 1, 65535)
        if ports is None:
            specs.append("UDP transport without a valid client_port=RTP-RTCP")
            continue
        specs.append(TransportSpec(client_ports=ports))
    return specs


def _pair(text: str | None, low: int, high: int) -> tuple[int, int] | None:
    if not text:
        return None
    first, sep, second = text.partition("-")
    if not first.strip().isdigit() or (sep and not second.strip().isdigit()):
        return None
    a = int(first)
    b = int(second) if sep else a + 1
    if not (low <= a <= high and low <= b <= high):
        return None
    return a, b


def parse_npt_start(value: str | None) -> float | None:
    """The start of a `Range: npt=…` header in seconds; None for `now`, absent or open-ended live ranges."""
    if value is None:
        return None
    text = value.strip()
    if not text.lower().startswith("npt="):
        raise RtspSyntaxError(f"only npt ranges are supported, got {value[:60]!r}", 457)
    start = text[4:].partition("-")[0].strip()
    if start in ("", "now"):
        return None
    try:
        # npt-time is seconds ("12.5") or hours:minutes:seconds ("0:00:12.5"), RFC 2326 §3.6.
        parts = [float(p) for p in start.split(":")]
        if len(parts) not in (1, 3) or any(p < 0 for p in parts[:-1]):
            raise ValueError(start)
        seconds = parts[0] if len(parts) == 1 else parts[0] * 3600 + parts[1] * 60 + parts[2]
    except ValueError:
        raise RtspSyntaxError(f"bad npt range {value[:60]!r}", 457) from None
    if not math.isfinite(seconds) or seconds < 0:
        raise RtspSyntaxError(f"bad npt range {value[:60]!r}", 457)
    return seconds
