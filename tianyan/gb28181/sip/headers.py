"""Typed SIP header values: URIs, name-addrs (From/To/Contact), Via, CSeq and the parameter lists they carry."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache

from tianyan.gb28181.sip.errors import SipError

# Header names as RFC 3261 writes them, for the ones plain title case gets wrong.
_CANONICAL = {
    "call-id": "Call-ID",
    "cseq": "CSeq",
    "www-authenticate": "WWW-Authenticate",
    "proxy-authenticate": "Proxy-Authenticate",
    "mime-version": "MIME-Version",
    "sip-etag": "SIP-ETag",
    "sip-if-match": "SIP-If-Match",
}
# RFC 3261 §7.3.3 and later RFCs: one-letter forms devices and stacks send to save bytes.
COMPACT_FORMS = {
    "i": "Call-ID",
    "m": "Contact",
    "e": "Content-Encoding",
    "l": "Content-Length",
    "c": "Content-Type",
    "f": "From",
    "s": "Subject",
    "k": "Supported",
    "t": "To",
    "v": "Via",
    "o": "Event",
    "u": "Allow-Events",
    "r": "Refer-To",
    "b": "Referred-By",
    "x": "Session-Expires",
}
_TOKEN = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+")
# Host names and IPv4 as devices write them, and IPv6 inside brackets (with an optional zone).
_HOSTNAME = re.compile(r"[A-Za-z0-9._-]+")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]+(%[A-Za-z0-9._~-]+)?")
# RFC 3261 gen-value = token / host / quoted-string: a host (IPv6 in `received`, `maddr`) goes bare too.
_BARE_VALUE = re.compile(r"[A-Za-z0-9.!%*_+`'~:\[\]-]+")
# Characters that would end or split a URI's user part inside a header or the request line.
_USER_FORBIDDEN = re.compile(r"[\x00-\x20\x7f<>\"]")


@lru_cache(maxsize=1024)  # Every header of every message passes here; the set of names seen is small.
def canonical_name(name: str) -> str:
    """`via`, `V` and `VIA` all become `Via`; `call-id` becomes `Call-ID`."""
    stripped = name.strip()
    lowered = stripped.lower()
    if len(lowered) == 1 and lowered in COMPACT_FORMS:
        return COMPACT_FORMS[lowered]
    if lowered in _CANONICAL:
        return _CANONICAL[lowered]
    return "-".join(part.capitalize() for part in lowered.split("-"))


def is_token(text: str) -> bool:
    # fullmatch, not match with `$`: `$` also matches before a trailing newline.
    return bool(_TOKEN.fullmatch(text))


def is_digits(text: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts "²" and "٣", which int() refuses or reads differently."""
    return text.isascii() and text.isdigit()


def split_commas(value: str) -> list[str]:
    """Split a header value on commas outside quotes and angle brackets (Via and Contact may list several)."""
    if "," not in value:
        # Almost every value holds one item; this is the parser's hottest path.
        stripped = value.strip()
        return [stripped] if stripped else []
    parts: list[str] = []
    depth_angle = 0
    quoted = False
    escaped = False
    start = 0
    for index, char in enumerate(value):
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
            continue
        if char == '"':
            quoted = True
        elif char == "<":
            depth_angle += 1
        elif char == ">":
            depth_angle = max(0, depth_angle - 1)
        elif char == "," and depth_angle == 0:
            parts.append(value[start:index].strip())
            start = index + 1
    parts.append(value[start:].strip())
    return [part for part in parts if part]


def unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


Params = dict[str, str | None]


def parse_params(text: str) -> Params:
    """`;tag=ab;lr;transport=udp` (leading semicolon optional) to {"tag": "ab", "lr": None, ...}; names lower-cased."""
    params: Params = {}
    for raw in _split_outside_quotes(text, ";"):
        item = raw.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        key = name.strip().lower()
        if not key:
            raise SipError(f"parameter without a name in {text!r}")
        params[key] = unquote(value) if sep else None
    return params


def format_params(params: Params) -> str:
    out = []
    for name, value in params.items():
        if value is None:
            out.append(f";{name}")
        elif _BARE_VALUE.fullmatch(value):
            out.append(f";{name}={value}")
        else:
            out.append(f";{name}={quote(value)}")
    return "".join(out)


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    quoted = False
    start = 0
    for index, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


@dataclass(frozen=True)
class SipUri:
    """sip:user@host:port;params — the user part is the 20-digit GB/T 28181 ID in every URI that matters here."""

    host: str
    user: str | None = None
    port: int | None = None
    params: Params = field(default_factory=dict)
    scheme: str = "sip"

    @classmethod
    def parse(cls, text: str) -> SipUri:
        value = text.strip()
        scheme, colon, rest = value.partition(":")
        if not colon or scheme.lower() not in ("sip", "sips"):
            raise SipError(f"not a SIP URI: {text!r}")
        rest, _, _headers = rest.partition("?")
        address, _, param_text = rest.partition(";")
        user, at, hostport = address.rpartition("@")
        if not at:
            user, hostport = "", address
        if _USER_FORBIDDEN.search(user):
            raise SipError(f"bad user part in {text!r}")
        host, port = _split_hostport(hostport, text)
        return cls(
            host=host,
            user=user or None,
            port=port,
            params=parse_params(param_text) if param_text else {},
            scheme=scheme.lower(),
        )

    def __str__(self) -> str:
        user = f"{self.user}@" if self.user else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.scheme}:{user}{host}{port}{format_params(self.params)}"

    def with_params(self, **params: str | None) -> SipUri:
        return replace(self, params={**self.params, **params})


def _split_hostport(text: str, whole: str) -> tuple[str, int | None]:
    hostport = text.strip()
    if not hostport:
        raise SipError(f"no host in {whole!r}")
    if hostport.startswith("["):
        host, bracket, rest = hostport[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise SipError(f"bad IPv6 reference in {whole!r}")
        if not _IPV6.fullmatch(host):
            raise SipError(f"bad IPv6 host {host!r} in {whole!r}")
        port_text = rest[1:] if rest else None
    else:
        host, colon, port_text_or_empty = hostport.partition(":")
        port_text = port_text_or_empty if colon else None
        if not _HOSTNAME.fullmatch(host):
            raise SipError(f"bad host {host!r} in {whole!r}")
    port: int | None = None
    if port_text is not None:
        # "host:" with nothing after the colon is as malformed as a bad number.
        if not is_digits(port_text) or len(port_text) > 5 or not 0 < int(port_text) < 65536:
            raise SipError(f"bad port {port_text!r} in {whole!r}")
        port = int(port_text)
    return host, port


def _closing_quote(text: str) -> int:
    """Index just past the quoted string that opens `text`; SipError if it never closes."""
    escaped = False
    for index in range(1, len(text)):
        char = text[index]
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            return index + 1
    raise SipError(f"unclosed quote in {text!r}")


@dataclass(frozen=True)
class NameAddr:
    """From, To and Contact: an optional display name, a URI, and header parameters such as tag and expires."""

    uri: SipUri
    display: str | None = None
    params: Params = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        value = text.strip()
        if not value:
            raise SipError("empty address")
        if "<" in value:
            # A quoted display name may itself hold '<' or '>', so skip past it before looking for the URI.
            quoted_end = _closing_quote(value) if value.startswith('"') else 0
            before_end = value.find("<", quoted_end)
            if before_end < 0:
                raise SipError(f"no '<' after the display name in {text!r}")
            before, rest = value[:before_end], value[before_end + 1 :]
            uri_text, closed, after = rest.partition(">")
            if not closed:
                raise SipError(f"unclosed '<' in {text!r}")
            if before.strip().startswith('"') and not before.strip().endswith('"'):
                raise SipError(f"text after the quoted display name in {text!r}")
            after = after.strip()
            if after and not after.startswith(";"):
                raise SipError(f"text after '>' that is not a parameter in {text!r}")
            display = unquote(before) or None
            return cls(SipUri.parse(uri_text), display, parse_params(after) if after else {})
        # Without angle brackets, every ;param belongs to the header, not the URI (RFC 3261 §20).
        uri_text, _, param_text = value.partition(";")
        return cls(SipUri.parse(uri_text), None, parse_params(param_text) if param_text else {})

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def with_tag(self, tag: str) -> NameAddr:
        return replace(self, params={**self.params, "tag": tag})

    def __str__(self) -> str:
        display = f"{quote(self.display)} " if self.display else ""
        return f"{display}<{self.uri}>{format_params(self.params)}"


_VIA_PROTOCOL = re.compile(r"SIP[ \t]*/[ \t]*2\.0[ \t]*/[ \t]*([A-Za-z0-9.!%*_+`'~-]+)[ \t]+", re.IGNORECASE)


@dataclass(frozen=True)
class Via:
    """SIP/2.0/UDP host:port;branch=z9hG4bK…;rport;received=… — where responses go back to."""

    transport: str
    host: str
    port: int | None = None
    params: Params = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Via:
        value = text.strip()
        # RFC 3261 allows spaces around the slashes ("SIP / 2.0 / UDP"); the sent-by follows the transport.
        match = _VIA_PROTOCOL.match(value)
        if not match:
            raise SipError(f"bad Via protocol in {text!r}")
        sent_by, _, param_text = value[match.end() :].partition(";")
        host, port = _split_hostport(sent_by, text)
        return cls(match.group(1).upper(), host, port, parse_params(param_text) if param_text else {})

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    def with_params(self, **params: str | None) -> Via:
        return replace(self, params={**self.params, **params})

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port is not None else ""
        return f"SIP/2.0/{self.transport} {host}{port}{format_params(self.params)}"


@dataclass(frozen=True)
class CSeq:
    number: int
    method: str

    @classmethod
    def parse(cls, text: str) -> CSeq:
        parts = text.split()
        if len(parts) != 2:
            raise SipError(f"bad CSeq {text!r}")
        number, method = parts
        if not is_digits(number) or len(number) > 10 or int(number) >= 2**31 or not is_token(method):
            raise SipError(f"bad CSeq {text!r}")
        return cls(int(number), method.upper())

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


@dataclass(frozen=True)
class Challenge:
    """An authentication header value: `Digest realm="…", nonce="…", …` (WWW-Authenticate or Authorization)."""

    scheme: str
    params: dict[str, str]

    @classmethod
    def parse(cls, text: str) -> Challenge:
        parts = re.split(r"[ \t]+", text.strip(), maxsplit=1)
        scheme, rest = parts[0], parts[1] if len(parts) > 1 else ""
        if not scheme or not is_token(scheme):
            raise SipError(f"bad authentication header {text!r}")
        params: dict[str, str] = {}
        for item in split_commas(rest):
            name, sep, raw = item.partition("=")
            if not sep or not name.strip():
                raise SipError(f"bad authentication parameter {item!r}")
            params[name.strip().lower()] = unquote(raw)
        return cls(scheme.capitalize(), params)

    def __str__(self) -> str:
        # Parameters RFC 2617/7616 define as tokens stay bare; everything else is quoted.
        bare = {"algorithm", "nc", "stale"}
        items = [f"{k}={v}" if k in bare or (k == "qop" and "," not in v and self._is_response) else f"{k}={quote(v)}"
                 for k, v in self.params.items()]  # fmt: skip
        return f"{self.scheme} " + ", ".join(items)

    @property
    def _is_response(self) -> bool:
        return "response" in self.params
