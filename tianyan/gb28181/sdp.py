"""GB/T 28181 SDP (RFC 4566 plus the y= SSRC and f= media-format lines): parse and build INVITE offers and answers.

GB/T 28181-2016 appendix F: o= carries the sender's 20-digit ID; s= is Play, Playback,
Download or Talk; u=<channel ID>:<type> names the recording for history; t= is 0 0 for live
and Unix seconds for history; m= is RTP/AVP (UDP) or TCP/RTP/AVP (RFC 4571 framing) with PS
as payload 96; TCP adds a=setup (RFC 4145) and a=connection:new; y= is the SSRC.

The parser forgives what devices do in the field — LF-only lines, trailing spaces, a NUL at
the end, a=/y=/f= in any order, lower-case session names — and refuses the rest with an
SdpError that names the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from tianyan.gb28181.sdp_types import (
    _DIGITS,
    _KNOWN_PROTOCOLS,
    _SESSION_NAMES,
    DEFAULT_VIDEO_RTPMAPS,
    MAX_LINES,
    MAX_SDP_BYTES,
    PROTOCOL_TCP,
    PROTOCOL_UDP,
    PS,
    Direction,
    MediaDescription,
    MediaFormat,
    RtpMap,
    SdpError,
    SessionDescription,
    SessionName,
    Transport,
    _check_gb_id,
    _clip,
    _parse_y,
    _validated,
)
from tianyan.gb28181.ssrc import Ssrc


def make_offer(
    *,
    session: SessionName,
    sender_id: str,
    address: str,
    port: int,
    transport: Transport,
    ssrc: str | Ssrc,
    channel_id: str | None = None,
    start_s: int = 0,
    stop_s: int = 0,
    download_speed: int | None = None,
    rtpmaps: tuple[RtpMap, ...] = DEFAULT_VIDEO_RTPMAPS,
    record_type: int = 0,
    stream_number: int | None = None,
) -> SessionDescription:
    """The INVITE body a platform sends: it receives (recvonly) on address:port.

    `transport` is the platform's own role; history sessions need `channel_id` (for u=) and a
    time range, Download may ask for a `download_speed` multiple. `stream_number` (0 main, 1 sub…) is
    GB/T 28181-2022's a=streamnumber, sent with the vendor spelling a=stream that older devices read.
    """
    _check_gb_id(sender_id, "sender ID")
    if session.is_history:
        if channel_id is None:
            raise SdpError(f"{session} needs the channel ID for u=")
        _check_gb_id(channel_id, "channel ID")
        if not 0 < start_s < stop_s:
            raise SdpError(f"{session} needs 0 < start < stop in Unix seconds, got {start_s} {stop_s}")
    elif start_s or stop_s:
        raise SdpError(f"{session} is live: t= must be 0 0")
    if download_speed is not None and session is not SessionName.DOWNLOAD:
        raise SdpError("a=downloadspeed belongs to Download")
    media = MediaDescription(
        media="audio" if session is SessionName.TALK else "video",
        port=port,
        protocol=PROTOCOL_TCP if transport.is_tcp else PROTOCOL_UDP,
        payload_types=tuple(m.payload_type for m in rtpmaps),
        rtpmaps=rtpmaps,
        direction=Direction.RECVONLY,
        setup=transport.setup,
        connection="new" if transport.is_tcp else None,
        download_speed=download_speed,
        attributes=()
        if stream_number is None
        else (("streamnumber", str(stream_number)), ("stream", str(stream_number))),
    )
    offer = SessionDescription(
        username=sender_id,
        origin_address=address,
        session_name=session.value,
        uri=f"{channel_id}:{record_type}" if session.is_history else None,
        address=address,
        start_s=start_s,
        stop_s=stop_s,
        media=(media,),
        ssrc=str(ssrc),
    )
    return _validated(offer)


def make_answer(
    offer: SessionDescription,
    *,
    sender_id: str,
    address: str,
    port: int,
    payload_type: int = PS.payload_type,
    ssrc: str | Ssrc | None = None,
    file_size_bytes: int | None = None,
    media_format: MediaFormat | None = None,
) -> SessionDescription:
    """The 200 OK body a device sends back: same session and time, it sends (sendonly) from address:port.

    It takes the opposite TCP role, echoes the offer's SSRC unless told otherwise, and keeps
    only the payload type it will send.
    """
    _check_gb_id(sender_id, "sender ID")
    wanted = offer.video
    if payload_type not in wanted.payload_types:
        raise SdpError(f"payload type {payload_type} was not offered (offered {list(wanted.payload_types)})")
    rtpmap = wanted.rtpmap(payload_type) or (PS if payload_type == PS.payload_type else None)
    transport = wanted.transport.counterpart
    media = MediaDescription(
        media=wanted.media,
        port=port,
        protocol=wanted.protocol,
        payload_types=(payload_type,),
        rtpmaps=(rtpmap,) if rtpmap is not None else (),
        direction=Direction.SENDONLY,
        setup=transport.setup,
        connection="new" if transport.is_tcp else None,
        file_size_bytes=file_size_bytes,
    )
    answer = SessionDescription(
        username=sender_id,
        origin_address=address,
        session_name=offer.session_name,
        address=address,
        start_s=offer.start_s,
        stop_s=offer.stop_s,
        media=(media,),
        ssrc=str(ssrc) if ssrc is not None else offer.ssrc,
        media_format=media_format,
    )
    return _validated(answer)


def build_sdp(sd: SessionDescription) -> str:
    """Serialise in the order GB devices expect (v o s [i] [u] c t m a… y f), CRLF line ends."""
    _validated(sd)
    lines = [
        "v=0",
        f"o={sd.username} {sd.session_id} {sd.session_version} {_net(sd.origin_address or sd.address or '0.0.0.0')}",
        f"s={sd.session_name}",
    ]
    if sd.info is not None:
        lines.append(f"i={sd.info}")
    if sd.uri is not None:
        lines.append(f"u={sd.uri}")
    if sd.address is not None:
        lines.append(f"c={_net(sd.address)}")
    lines.append(f"t={sd.start_s} {sd.stop_s}")
    lines.extend(_attribute_line(name, value) for name, value in sd.attributes)
    for m in sd.media:
        lines.append(f"m={m.media} {m.port} {m.protocol} {' '.join(str(pt) for pt in m.payload_types)}")
        if m.address is not None:
            lines.append(f"c={_net(m.address)}")
        if m.direction is not None:
            lines.append(f"a={m.direction}")
        fmtps = dict(m.fmtps)
        for rtpmap in m.rtpmaps:
            lines.append(f"a=rtpmap:{rtpmap.to_text()}")
            if rtpmap.payload_type in fmtps:
                lines.append(f"a=fmtp:{rtpmap.payload_type} {fmtps.pop(rtpmap.payload_type)}")
        lines.extend(f"a=fmtp:{pt} {params}" for pt, params in fmtps.items())
        if m.setup is not None:
            lines.append(f"a=setup:{m.setup}")
        if m.connection is not None:
            lines.append(f"a=connection:{m.connection}")
        if m.download_speed is not None:
            lines.append(f"a=downloadspeed:{m.download_speed}")
        if m.file_size_bytes is not None:
            lines.append(f"a=filesize:{m.file_size_bytes}")
        lines.extend(_attribute_line(name, value) for name, value in m.attributes)
    if sd.ssrc is not None:
        lines.append(f"y={sd.ssrc}")
    if sd.media_format is not None:
        lines.append(f"f={sd.media_format.to_text()}")
    for line in lines:
        if "\n" in line or "\r" in line or "\x00" in line:
            raise SdpError(f"a value would break the line {line.splitlines()[0]!r}")
    return "\r\n".join(lines) + "\r\n"


def _net(address: str) -> str:
    return f"IN IP6 {address}" if ":" in address else f"IN IP4 {address}"


def parse_sdp(body: str | bytes) -> SessionDescription:
    """Parse an SDP body from an INVITE or its answer."""
    text = _decode(body)
    raw_lines = text.split("\n")
    if len(raw_lines) > MAX_LINES:
        raise SdpError(f"SDP has {len(raw_lines)} lines, more than {MAX_LINES}")
    session: dict[str, object] = {}
    session_attributes: list[tuple[str, str | None]] = []
    media: list[_MediaBuilder] = []
    seen_version = False
    for line_no, raw in enumerate(raw_lines, 1):
        line = raw.strip()
        if not line:
            continue
        kind, eq, value = line.partition("=")
        kind = kind.strip()
        if not eq or len(kind) != 1 or not kind.isascii() or not kind.isalpha():
            raise SdpError(f"line {line_no}: expected '<letter>=<value>', got {_clip(line)}")
        value = value.strip()
        where = f"line {line_no} ({kind}=)"
        if not seen_version:
            if kind != "v":
                raise SdpError(f"line {line_no}: SDP must start with v=0, got {_clip(line)}")
            if value != "0":
                raise SdpError(f"{where}: version must be 0, got {_clip(value)}")
            seen_version = True
            continue
        if kind == "v":
            raise SdpError(f"{where}: a second v= line")
        if kind == "m":
            media.append(_MediaBuilder(_parse_m(value, where)))
        elif kind in ("y", "f"):
            # GB puts y= and f= after the media section; they describe the whole session.
            key = "ssrc" if kind == "y" else "media_format"
            if key in session:
                raise SdpError(f"{where}: repeated")
            session[key] = _parse_y(value, where) if kind == "y" else _parse_f(value)
        elif kind == "a":
            name, value_or_none = _split_attribute(value, where)
            if media:
                media[-1].attribute(name, value_or_none, where)
            else:
                session_attributes.append((name, value_or_none))
        elif kind == "c":
            address = _parse_c(value, where)
            if media:
                media[-1].address = address
            elif "address" in session:
                raise SdpError(f"{where}: repeated")
            else:
                session["address"] = address
        elif kind in ("o", "s", "u", "t") or (kind == "i" and not media):
            # These are session-level wherever they stand; a device that writes u= late still means it.
            key = {"o": "origin", "s": "session_name", "u": "uri", "t": "time", "i": "info"}[kind]
            if key in session:
                raise SdpError(f"{where}: repeated")
            if not value and kind == "s":
                raise SdpError(f"{where}: session name is empty")
            if value or kind not in ("u", "i"):  # an empty u= or i= says nothing
                session[key] = value
        # b=, k=, i= inside media, e=, p=, z=, r= carry nothing GB/T 28181 uses: skipped.
    if not seen_version:
        raise SdpError("empty SDP: no v=0 line")
    if "origin" not in session:
        raise SdpError("no o= line")
    if "session_name" not in session:
        raise SdpError("no s= line")
    if not media:
        raise SdpError("no m= line")
    username, session_id, session_version, origin_address = _parse_o(str(session["origin"]))
    start_s, stop_s = _parse_t(str(session.get("time", "0 0")))
    sessions_address = session.get("address")
    built = tuple(m.build() for m in media)
    if sessions_address is None and any(m.address is None for m in built):
        raise SdpError("no c= line: neither at session level nor in every m= section")
    session_name = str(session["session_name"])
    known = _SESSION_NAMES.get(session_name.lower())
    return SessionDescription(
        username=username,
        session_id=session_id,
        session_version=session_version,
        origin_address=origin_address,
        # Devices write "PlayBack" or "play"; keep the standard spelling when we recognise it.
        session_name=known.value if known is not None else session_name,
        uri=_optional_str(session.get("uri")),
        info=_optional_str(session.get("info")),
        address=_optional_str(sessions_address),
        start_s=start_s,
        stop_s=stop_s,
        media=built,
        ssrc=_optional_str(session.get("ssrc")),
        media_format=session.get("media_format"),  # type: ignore[arg-type]
        attributes=tuple(session_attributes),
    )


@dataclass
class _MediaBuilder:
    """Collects one m= section's attributes while parsing."""

    base: MediaDescription
    address: str | None = None
    rtpmaps: list[RtpMap] = field(default_factory=list)
    fmtps: list[tuple[int, str]] = field(default_factory=list)
    attributes: list[tuple[str, str | None]] = field(default_factory=list)
    values: dict[str, object] = field(default_factory=dict)

    def attribute(self, name: str, value: str | None, where: str) -> None:
        lowered = name.lower()
        if lowered in ("sendonly", "recvonly", "sendrecv", "inactive"):
            self._once("direction", Direction(lowered), where)
        elif lowered == "rtpmap":
            rtpmap = _parse_rtpmap(value or "", where)
            if any(m.payload_type == rtpmap.payload_type for m in self.rtpmaps):
                raise SdpError(f"{where}: second rtpmap for payload type {rtpmap.payload_type}")
            self.rtpmaps.append(rtpmap)
        elif lowered == "fmtp":
            pt_text, _, params = (value or "").partition(" ")
            payload_type = _payload_type(pt_text, where)
            if any(pt == payload_type for pt, _ in self.fmtps):
                raise SdpError(f"{where}: second fmtp for payload type {payload_type}")
            self.fmtps.append((payload_type, params.strip()))
        elif lowered == "setup":
            setup = (value or "").lower()
            if setup not in ("active", "passive", "actpass", "holdconn"):
                raise SdpError(f"{where}: setup must be active, passive, actpass or holdconn, got {_clip(value)}")
            self._once("setup", setup, where)
        elif lowered == "connection":
            connection = (value or "").lower()
            if connection not in ("new", "existing"):
                raise SdpError(f"{where}: connection must be new or existing, got {_clip(value)}")
            self._once("connection", connection, where)
        elif lowered == "downloadspeed":
            self._once("download_speed", _positive_int(value, where, "downloadspeed"), where)
        elif lowered == "filesize":
            self._once("file_size_bytes", _non_negative_int(value, where, "filesize"), where)
        else:
            self.attributes.append((name, value))

    def _once(self, key: str, value: object, where: str) -> None:
        if key in self.values:
            raise SdpError(f"{where}: a second {key.replace('_', ' ')} attribute")
        self.values[key] = value

    def build(self) -> MediaDescription:
        # Order fmtps as build_sdp writes them (after their rtpmap, orphans last) so a rebuild compares equal.
        rank = {m.payload_type: i for i, m in enumerate(self.rtpmaps)}
        fmtps = sorted(self.fmtps, key=lambda f: rank.get(f[0], len(rank)))
        return replace(
            self.base,
            address=self.address,
            rtpmaps=tuple(self.rtpmaps),
            fmtps=tuple(fmtps),
            attributes=tuple(self.attributes),
            **self.values,  # type: ignore[arg-type]
        )


def _decode(body: str | bytes) -> str:
    if isinstance(body, bytes | bytearray | memoryview):
        data = bytes(body)
        if len(data) > MAX_SDP_BYTES:
            raise SdpError(f"SDP of {len(data)} bytes exceeds {MAX_SDP_BYTES}")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            # Chinese i= lines from older devices arrive in GB18030 (a superset of GB2312).
            try:
                text = data.decode("gb18030")
            except UnicodeDecodeError as exc:
                raise SdpError(f"SDP is neither UTF-8 nor GB18030 text (byte {exc.start})") from None
    elif isinstance(body, str):
        if len(body) > MAX_SDP_BYTES:
            raise SdpError(f"SDP of {len(body)} characters exceeds {MAX_SDP_BYTES}")
        text = body
    else:
        raise SdpError(f"SDP must be text or bytes, not {type(body).__name__}")
    return text.strip("\x00")


def _parse_o(value: str) -> tuple[str, str, str, str]:
    parts = value.split()
    if len(parts) != 6:
        raise SdpError(f"o= must be '<username> <session id> <version> IN IP4 <address>', got {_clip(value)}")
    if parts[3].upper() != "IN" or parts[4].upper() not in ("IP4", "IP6"):
        raise SdpError(f"o= network must be 'IN IP4' or 'IN IP6', got {_clip(value)}")
    return parts[0], parts[1], parts[2], parts[5]


def _parse_c(value: str, where: str) -> str:
    parts = value.split()
    if len(parts) != 3 or parts[0].upper() != "IN" or parts[1].upper() not in ("IP4", "IP6"):
        raise SdpError(f"{where}: expected 'IN IP4 <address>', got {_clip(value)}")
    # Multicast addresses may carry /ttl; the address is what we connect to.
    return parts[2].split("/", 1)[0]


def _parse_t(value: str) -> tuple[int, int]:
    parts = value.split()
    if len(parts) != 2 or not all(_DIGITS.fullmatch(p) and len(p) <= 12 for p in parts):
        raise SdpError(f"t= must be '<start> <stop>' in whole seconds, got {_clip(value)}")
    start, stop = int(parts[0]), int(parts[1])
    # RFC 4566 times count from 1900 (NTP); GB/T 28181 says Unix seconds and devices follow it.
    return start, stop


def _parse_m(value: str, where: str) -> MediaDescription:
    parts = value.split()
    if len(parts) < 4:
        raise SdpError(f"{where}: expected '<media> <port> <protocol> <payload types>', got {_clip(value)}")
    media, port_text, protocol = parts[0].lower(), parts[1].split("/", 1)[0], parts[2]
    if not _DIGITS.fullmatch(port_text) or len(port_text) > 5 or int(port_text) > 65535:
        raise SdpError(f"{where}: port must be 0-65535, got {_clip(parts[1])}")
    if protocol.upper() not in _KNOWN_PROTOCOLS:
        raise SdpError(f"{where}: protocol must be RTP/AVP or TCP/RTP/AVP, got {_clip(protocol)}")
    payload_types = tuple(_payload_type(p, where) for p in parts[3:])
    return MediaDescription(media=media, port=int(port_text), protocol=protocol.upper(), payload_types=payload_types)


def _parse_rtpmap(value: str, where: str) -> RtpMap:
    pt_text, _, spec = value.partition(" ")
    pieces = spec.strip().split("/")
    if len(pieces) not in (2, 3) or not pieces[0]:
        raise SdpError(f"{where}: rtpmap must be '<pt> <encoding>/<clock rate>[/<channels>]', got {_clip(value)}")
    clock = _positive_int(pieces[1], where, "rtpmap clock rate")
    channels = _positive_int(pieces[2], where, "rtpmap channels") if len(pieces) == 3 else None
    return RtpMap(_payload_type(pt_text, where), pieces[0], clock, channels)


def _parse_f(value: str) -> MediaFormat:
    video_part, audio_part = value, ""
    lowered = value.lower()
    split_at = lowered.find("a/")
    if split_at >= 0:
        video_part, audio_part = value[:split_at], value[split_at + 2 :]
    video_fields = video_part.strip()
    if video_fields.lower().startswith("v/"):
        video_fields = video_fields[2:]
    elif video_fields.lower() == "v":
        video_fields = ""
    video = [_code(x) for x in video_fields.split("/")] if video_fields else []
    audio = [_code(x) for x in audio_part.strip().split("/")] if audio_part.strip() else []
    video += [None] * (5 - len(video))
    audio += [None] * (3 - len(audio))
    return MediaFormat(*video[:5], *audio[:3], raw=value)


def _code(text: str) -> int | None:
    text = text.strip()
    return int(text) if _DIGITS.fullmatch(text) and len(text) <= 9 else None


def _split_attribute(value: str, where: str) -> tuple[str, str | None]:
    name, colon, rest = value.partition(":")
    name = name.strip()
    if not name:
        raise SdpError(f"{where}: attribute without a name")
    return name, rest.strip() if colon else None


def _attribute_line(name: str, value: str | None) -> str:
    return f"a={name}" if value is None else f"a={name}:{value}"


def _payload_type(text: str, where: str) -> int:
    text = text.strip()
    if not _DIGITS.fullmatch(text) or len(text) > 3 or int(text) > 127:
        raise SdpError(f"{where}: payload type must be 0-127, got {_clip(text)}")
    return int(text)


def _positive_int(text: str | None, where: str, what: str) -> int:
    value = _non_negative_int(text, where, what)
    if value == 0:
        raise SdpError(f"{where}: {what} must be positive")
    return value


def _non_negative_int(text: str | None, where: str, what: str) -> int:
    text = (text or "").strip()
    if not _DIGITS.fullmatch(text) or len(text) > 15:
        raise SdpError(f"{where}: {what} must be a whole number, got {_clip(text)}")
    return int(text)


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)
