"""SIP messages: parse bytes into requests and responses and serialise them back, tolerant of what devices send.

Tolerated because real GB/T 28181 devices send it: LF-only line ends, compact header names, folded header
lines, header text in GB18030, a missing Content-Length over UDP. Refused with SipError: anything else that
is malformed, and anything over the size limits.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar

from tianyan.gb28181.sip.errors import SipError
from tianyan.gb28181.sip.headers import CSeq, NameAddr, SipUri, Via, canonical_name, is_digits, is_token, split_commas

SIP_VERSION = "SIP/2.0"
T = TypeVar("T")
BRANCH_MAGIC = "z9hG4bK"
# Headers whose one line may carry several comma-separated values (RFC 3261 §7.3.1).
_LISTS = frozenset({"Via", "Route", "Record-Route", "Contact", "Allow", "Supported", "Require", "Accept"})
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

REASONS: dict[int, str] = {
    100: "Trying", 180: "Ringing", 183: "Session Progress", 200: "OK", 202: "Accepted",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    408: "Request Timeout", 413: "Request Entity Too Large", 415: "Unsupported Media Type",
    420: "Bad Extension", 423: "Interval Too Brief", 481: "Call/Transaction Does Not Exist",
    482: "Loop Detected", 486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here",
    489: "Bad Event", 500: "Server Internal Error", 501: "Not Implemented", 503: "Service Unavailable",
    504: "Server Time-out", 505: "Version Not Supported", 513: "Message Too Large", 603: "Decline",
}  # fmt: skip


@dataclass(frozen=True)
class Limits:
    """Bounds on what the parser accepts; anything larger is refused before it costs more."""

    max_message_bytes: int = 1 << 20
    max_head_bytes: int = 16 * 1024
    max_headers: int = 128
    max_body_bytes: int = 1 << 20


DEFAULT_LIMITS = Limits()


class Headers:
    """Ordered, case-insensitive headers; a name may repeat. Names are stored in their canonical form."""

    __slots__ = ("_changes", "_items")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str]] = []
        # Changes per header name, so a message can keep the typed values it parsed until their header changes.
        self._changes: dict[str, int] = {}
        for name, value in items:
            self.add(name, value)

    def version_of(self, name: str) -> int:
        return self._changes.get(canonical_name(name), 0)

    def _changed(self, key: str) -> None:
        self._changes[key] = self._changes.get(key, 0) + 1

    def get(self, name: str, default: str | None = None) -> str | None:
        wanted = canonical_name(name)
        for key, value in self._items:
            if key == wanted:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        """Every value of the header, comma-separated lists split apart (for Via, Route, Contact…)."""
        wanted = canonical_name(name)
        values = [value for key, value in self._items if key == wanted]
        if wanted in _LISTS:
            return [part for value in values for part in split_commas(value)]
        return values

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def add(self, name: str, value: str) -> None:
        key = _checked_name(name)
        self._items.append((key, _checked_value(str(value))))
        self._changed(key)

    def set(self, name: str, value: str) -> None:
        """Replace every value of the header with this one, keeping the position of the first."""
        key = _checked_name(name)
        checked = _checked_value(str(value))
        index = next((i for i, (k, _) in enumerate(self._items) if k == key), None)
        self.remove(key)
        if index is None:
            self._items.append((key, checked))
        else:
            self._items.insert(min(index, len(self._items)), (key, checked))

    def remove(self, name: str) -> None:
        key = canonical_name(name)
        self._items = [(k, v) for k, v in self._items if k != key]
        self._changed(key)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def copy(self) -> Headers:
        copied = Headers()
        copied._items = list(self._items)
        copied._changes = dict(self._changes)
        return copied

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and self._items == other._items

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@lru_cache(maxsize=1024)  # the names seen are few; every header of every message comes through here
def _checked_name(name: str) -> str:
    key = canonical_name(name)
    if not is_token(key):
        # A name with a colon, space or line break would smuggle a header of its own onto the wire.
        raise SipError(f"bad header name {name[:60]!r}")
    return key


def _checked_value(value: str) -> str:
    if "\r" in value or "\n" in value or "\x00" in value:
        # A value with a line break would let text in it become a header of its own.
        raise SipError(f"header value contains a line break or NUL: {value[:60]!r}")
    return value.strip()


@dataclass(kw_only=True)
class SipMessage:
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    # Typed header values already parsed, with the headers' identity and version they were parsed from.
    _parsed: dict[str, tuple[int, int, Any]] = field(default_factory=dict, repr=False, compare=False)

    def _typed(self, name: str, parse: Callable[[], T]) -> T:
        stamp = (id(self.headers), self.headers.version_of(name))
        cached = self._parsed.get(name)
        if cached is not None and cached[:2] == stamp:
            return cached[2]  # type: ignore[no-any-return]
        value = parse()
        self._parsed[name] = (*stamp, value)
        return value

    def _required(self, name: str) -> str:
        value = self.headers.get(name)
        if value is None:
            raise SipError(f"missing {name} header")
        return value

    @property
    def call_id(self) -> str:
        return self._required("Call-ID")

    @property
    def cseq(self) -> CSeq:
        return self._typed("CSeq", lambda: CSeq.parse(self._required("CSeq")))

    @property
    def from_(self) -> NameAddr:
        return self._typed("From", lambda: NameAddr.parse(self._required("From")))

    @property
    def to(self) -> NameAddr:
        return self._typed("To", lambda: NameAddr.parse(self._required("To")))

    @property
    def vias(self) -> list[Via]:
        return [Via.parse(value) for value in self.headers.get_all("Via")]

    @property
    def via(self) -> Via:
        return self._typed("Via", self._top_via)

    def _top_via(self) -> Via:
        values = self.headers.get_all("Via")
        if not values:
            raise SipError("missing Via header")
        return Via.parse(values[0])

    @property
    def contact(self) -> NameAddr | None:
        values = self.headers.get_all("Contact")
        if not values or values[0] == "*":
            return None
        return NameAddr.parse(values[0])

    @property
    def content_type(self) -> str | None:
        """The media type alone, lower-cased ("application/manscdp+xml"), without parameters."""
        value = self.headers.get("Content-Type")
        return value.split(";", 1)[0].strip().lower() if value else None

    @property
    def expires(self) -> int | None:
        value = self.headers.get("Expires")
        if value is None:
            return None
        if not is_digits(value.strip()) or len(value.strip()) > 10:
            raise SipError(f"bad Expires {value!r}")
        return int(value)


@dataclass(kw_only=True)
class SipRequest(SipMessage):
    method: str
    uri: SipUri

    @property
    def start_line(self) -> str:
        return f"{self.method} {self.uri} {SIP_VERSION}"

    @property
    def branch(self) -> str | None:
        return self.via.branch


@dataclass(kw_only=True)
class SipResponse(SipMessage):
    status: int
    reason: str = ""

    @property
    def start_line(self) -> str:
        return f"{SIP_VERSION} {self.status} {self.reason or REASONS.get(self.status, '')}".rstrip()


Message = SipRequest | SipResponse


def serialize(message: Message) -> bytes:
    """The message on the wire; Content-Length always states the body's real length."""
    _check_start_line(message)
    lines = [message.start_line]
    lines.extend(f"{name}: {value}" for name, value in message.headers if name != "Content-Length")
    lines.append(f"Content-Length: {len(message.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + message.body


def _check_start_line(message: Message) -> None:
    """Refuse to build a start line that a line break, NUL or stray space would split into something else."""
    if isinstance(message, SipRequest):
        if not is_token(message.method):
            raise SipError(f"bad method {message.method[:20]!r}")
        if any(c in str(message.uri) for c in " \t\r\n\x00"):
            raise SipError(f"bad Request-URI {str(message.uri)[:80]!r}")
    else:
        if not 100 <= message.status <= 699:
            raise SipError(f"bad status code {message.status}")
        if any(c in message.reason for c in "\r\n\x00"):
            raise SipError(f"bad reason phrase {message.reason[:80]!r}")


def _decode_head(raw: bytes) -> str:
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def _header_lines(lines: list[str], limits: Limits) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for line in lines:
        if not line.strip():
            continue
        if line[0] in " \t":
            # A folded line continues the previous header's value (RFC 3261 §7.3.1).
            if not headers:
                raise SipError("continuation line before any header")
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        name = name.strip()
        # The name itself is checked (and cached) when it goes into Headers.
        if not colon or not name:
            raise SipError(f"bad header line {line[:80]!r}")
        headers.append((name, value.strip()))
        if len(headers) > limits.max_headers:
            raise SipError(f"more than {limits.max_headers} headers")
    return headers


def _start_line(line: str) -> SipRequest | SipResponse:
    if _CONTROL.search(line):
        # A bare CR or NUL here would come back out of serialize() as a line break of its own.
        raise SipError(f"control character in start line {line[:80]!r}")
    if line.upper().startswith("SIP/"):
        parts = [part for part in re.split(r"[ \t]+", line, maxsplit=2) if part]
        if len(parts) < 2 or parts[0].upper() != SIP_VERSION:
            raise SipError(f"bad status line {line[:80]!r}")
        code = parts[1]
        if len(code) != 3 or not is_digits(code) or not 100 <= int(code) <= 699:
            raise SipError(f"bad status code in {line[:80]!r}")
        return SipResponse(status=int(code), reason=parts[2].strip() if len(parts) > 2 else "")
    # Split on spaces and tabs only: str.split() would also split on Unicode separators such as U+0085.
    parts = [part for part in re.split(r"[ \t]+", line) if part]
    if len(parts) != 3 or parts[2].upper() != SIP_VERSION:
        raise SipError(f"bad request line {line[:80]!r}")
    method, uri, _ = parts
    if not is_token(method):
        raise SipError(f"bad method {method[:20]!r}")
    return SipRequest(method=method.upper(), uri=SipUri.parse(uri))


def parse(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> Message:
    """One whole message (a UDP datagram, or a TCP frame cut by Content-Length) into a request or response."""
    if len(data) > limits.max_message_bytes:
        raise SipError(f"message of {len(data)} bytes exceeds the limit of {limits.max_message_bytes}")
    data = data.lstrip(b"\r\n")
    if not data:
        raise SipError("empty message")
    blank = _BLANK_LINE.search(data)
    head_bytes, rest = (data[: blank.start()], data[blank.end() :]) if blank else (data, b"")
    if len(head_bytes) > limits.max_head_bytes:
        raise SipError(f"header section of {len(head_bytes)} bytes exceeds the limit of {limits.max_head_bytes}")
    lines = [line.rstrip("\r") for line in _decode_head(head_bytes).split("\n")]
    message = _start_line(lines[0])
    message.headers = Headers(_header_lines(lines[1:], limits))
    message.body = _body(message.headers, rest, limits)
    # Content-Length is framing, not content: the body's length states it, and serialize() writes it afresh.
    # Dropping it here is what makes parse(serialize(m)) == m hold for messages built in code.
    message.headers.remove("Content-Length")
    _check_required(message)
    return message


def _body(headers: Headers, rest: bytes, limits: Limits) -> bytes:
    length_text = headers.get("Content-Length")
    if length_text is None:
        # Allowed over UDP: the datagram ends the message.
        body = rest
    else:
        if not is_digits(length_text) or len(length_text) > 9:
            raise SipError(f"bad Content-Length {length_text!r}")
        length = int(length_text)
        if length > len(rest):
            raise SipError(f"truncated body: Content-Length {length}, got {len(rest)} bytes")
        body = rest[:length]
    if len(body) > limits.max_body_bytes:
        raise SipError(f"body of {len(body)} bytes exceeds the limit of {limits.max_body_bytes}")
    return body


def _check_required(message: Message) -> None:
    """What every request and response must carry, checked now so a handler never trips over it later."""
    message.via  # noqa: B018 -- parsing is the check
    message.from_  # noqa: B018
    message.to  # noqa: B018
    message.call_id  # noqa: B018
    cseq = message.cseq
    if isinstance(message, SipRequest) and cseq.method != message.method:
        raise SipError(f"CSeq method {cseq.method} does not match request method {message.method}")


def response_to(
    request: SipRequest,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    content_type: str | None = None,
) -> SipResponse:
    """A response carrying the request's Via, From, To (tagged), Call-ID and CSeq, as RFC 3261 §8.2.6 says."""
    copied = Headers()
    for value in request.headers.get_all("Via"):
        copied.add("Via", value)
    copied.add("From", request.headers.get("From") or "")
    to_text = request.headers.get("To") or ""
    if to_tag and status > 100 and request.to.tag is None:
        # Appended to the text as sent, so the device sees its own To back unchanged but for the tag.
        to_text = f"{to_text};tag={to_tag}"
    copied.add("To", to_text)
    copied.add("Call-ID", request.call_id)
    copied.add("CSeq", request.headers.get("CSeq") or "")
    for name, value in headers:
        copied.add(name, value)
    if body and content_type:
        copied.set("Content-Type", content_type)
    return SipResponse(status=status, reason=reason or REASONS.get(status, ""), headers=copied, body=body)


def new_branch() -> str:
    return BRANCH_MAGIC + secrets.token_hex(8)


def new_tag() -> str:
    return secrets.token_hex(5)


def new_call_id(host: str) -> str:
    return f"{secrets.token_hex(10)}@{host}"


def new_request(
    method: str,
    uri: SipUri,
    *,
    via: Via,
    from_: NameAddr,
    to: NameAddr,
    call_id: str,
    cseq: int,
    contact: NameAddr | None = None,
    max_forwards: int = 70,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    content_type: str | None = None,
) -> SipRequest:
    """A request with the headers RFC 3261 §8.1.1 requires, in the order devices expect them."""
    built = Headers(
        [
            ("Via", str(via)),
            ("From", str(from_)),
            ("To", str(to)),
            ("Call-ID", call_id),
            ("CSeq", f"{cseq} {method.upper()}"),
            ("Max-Forwards", str(max_forwards)),
        ]
    )
    if contact is not None:
        built.add("Contact", str(contact))
    for name, value in headers:
        built.add(name, value)
    if body and content_type:
        built.set("Content-Type", content_type)
    return SipRequest(method=method.upper(), uri=uri, headers=built, body=body)
