"""GB/T 28181 SDP values: sessions, media sections, transports and the checks a buildable SDP passes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

MAX_SDP_BYTES = 16 * 1024
MAX_LINES = 256
PROTOCOL_UDP = "RTP/AVP"
PROTOCOL_TCP = "TCP/RTP/AVP"
# Some devices write the TCP profile the other way round; both mean RTP over TCP.
_TCP_PROTOCOLS = {"TCP/RTP/AVP", "RTP/AVP/TCP"}
_KNOWN_PROTOCOLS = {"RTP/AVP", *_TCP_PROTOCOLS}
_DIGITS = re.compile(r"[0-9]+")
_GB_ID = re.compile(r"[0-9]{20}")
_SSRC = re.compile(r"[0-9]{1,10}")


class SdpError(ValueError):
    """An SDP body that cannot be used; the message names the offending line."""


class SessionName(StrEnum):
    PLAY = "Play"
    PLAYBACK = "Playback"
    DOWNLOAD = "Download"
    TALK = "Talk"

    @property
    def is_history(self) -> bool:
        return self in (SessionName.PLAYBACK, SessionName.DOWNLOAD)


class Transport(StrEnum):
    """How media travels, seen from the side that wrote the SDP."""

    UDP = "udp"
    TCP_ACTIVE = "tcp-active"  # this side opens the TCP connection
    TCP_PASSIVE = "tcp-passive"  # this side listens on its m= port

    @property
    def is_tcp(self) -> bool:
        return self is not Transport.UDP

    @property
    def counterpart(self) -> Transport:
        """What the other side does: the answer to a tcp-passive offer is tcp-active, and so on."""
        if self is Transport.TCP_ACTIVE:
            return Transport.TCP_PASSIVE
        if self is Transport.TCP_PASSIVE:
            return Transport.TCP_ACTIVE
        return Transport.UDP

    @property
    def setup(self) -> str | None:
        """The RFC 4145 a=setup value that says this."""
        return {Transport.TCP_ACTIVE: "active", Transport.TCP_PASSIVE: "passive"}.get(self)


class Direction(StrEnum):
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    SENDRECV = "sendrecv"
    INACTIVE = "inactive"


@dataclass(frozen=True)
class RtpMap:
    """a=rtpmap:<payload type> <encoding>/<clock rate>[/<channels>]."""

    payload_type: int
    encoding: str
    clock_rate: int
    channels: int | None = None

    def to_text(self) -> str:
        channels = f"/{self.channels}" if self.channels is not None else ""
        return f"{self.payload_type} {self.encoding}/{self.clock_rate}{channels}"


PS = RtpMap(96, "PS", 90000)
MPEG4 = RtpMap(97, "MPEG4", 90000)
H264 = RtpMap(98, "H264", 90000)
SVAC = RtpMap(99, "SVAC", 90000)
H265 = RtpMap(100, "H265", 90000)
PCMA = RtpMap(8, "PCMA", 8000)
PCMU = RtpMap(0, "PCMU", 8000)
DEFAULT_VIDEO_RTPMAPS = (PS, H264, MPEG4)

# The f= code tables of GB/T 28181-2016 appendix F.
VIDEO_CODECS = {1: "MPEG-4", 2: "H.264", 3: "SVAC", 4: "3GP"}
RESOLUTIONS = {1: "QCIF", 2: "CIF", 3: "4CIF", 4: "D1", 5: "720P", 6: "1080P/I"}
RATE_TYPES = {1: "CBR", 2: "VBR"}
AUDIO_CODECS = {1: "G.711", 2: "G.723.1", 3: "G.729", 4: "G.722.1"}
AUDIO_BITRATES_KBPS = {1: 5.3, 2: 6.3, 3: 8, 4: 16, 5: 24, 6: 32, 7: 48, 8: 64}
SAMPLE_RATES_HZ = {1: 8000, 2: 14000, 3: 16000, 4: 32000}


@dataclass(frozen=True)
class MediaFormat:
    """f=v/codec/resolution/frame rate/rate type/bitrate a/codec/bitrate/sample rate; empty fields are None.

    The fields stay codes (see the tables above); `raw` keeps the line as the device wrote it.
    """

    video_codec: int | None = None
    resolution: int | None = None
    frame_rate: int | None = None
    rate_type: int | None = None
    bitrate: int | None = None
    audio_codec: int | None = None
    audio_bitrate: int | None = None
    sample_rate: int | None = None
    raw: str | None = field(default=None, compare=False)

    def to_text(self) -> str:
        def joined(values: tuple[int | None, ...]) -> str:
            return "/".join("" if v is None else str(v) for v in values)

        video = (self.video_codec, self.resolution, self.frame_rate, self.rate_type, self.bitrate)
        audio = (self.audio_codec, self.audio_bitrate, self.sample_rate)
        return f"v/{joined(video)}a/{joined(audio)}"

    @property
    def video_codec_name(self) -> str | None:
        return VIDEO_CODECS.get(self.video_codec) if self.video_codec is not None else None

    @property
    def resolution_name(self) -> str | None:
        return RESOLUTIONS.get(self.resolution) if self.resolution is not None else None


@dataclass(frozen=True)
class MediaDescription:
    """One m= section with the attributes GB/T 28181 gives meaning to; anything else stays in `attributes`."""

    media: str
    port: int
    protocol: str
    payload_types: tuple[int, ...]
    rtpmaps: tuple[RtpMap, ...] = ()
    fmtps: tuple[tuple[int, str], ...] = ()
    direction: Direction | None = None
    setup: str | None = None
    connection: str | None = None
    download_speed: int | None = None
    file_size_bytes: int | None = None
    address: str | None = None
    attributes: tuple[tuple[str, str | None], ...] = ()

    @property
    def is_tcp(self) -> bool:
        return self.protocol.upper() in _TCP_PROTOCOLS

    @property
    def transport(self) -> Transport:
        """The writer's own role. TCP without a=setup is read as the writer listening (tcp-passive): what
        devices that omit it do in the field, though RFC 4145 would default to active."""
        if not self.is_tcp:
            return Transport.UDP
        return Transport.TCP_ACTIVE if (self.setup or "").lower() == "active" else Transport.TCP_PASSIVE

    def rtpmap(self, payload_type: int) -> RtpMap | None:
        return next((m for m in self.rtpmaps if m.payload_type == payload_type), None)


@dataclass(frozen=True)
class SessionDescription:
    """A GB/T 28181 SDP offer or answer. Build one with `make_offer` / `make_answer`, read one with `parse_sdp`."""

    username: str
    session_name: str
    media: tuple[MediaDescription, ...]
    session_id: str = "0"
    session_version: str = "0"
    origin_address: str | None = None
    uri: str | None = None
    info: str | None = None
    address: str | None = None
    start_s: int = 0
    stop_s: int = 0
    ssrc: str | None = None
    media_format: MediaFormat | None = None
    attributes: tuple[tuple[str, str | None], ...] = ()

    @property
    def session(self) -> SessionName | None:
        """The GB session kind, or None when s= is something else (refuse such an INVITE with 488)."""
        return _SESSION_NAMES.get(self.session_name.lower())

    @property
    def video(self) -> MediaDescription:
        """The m= section media travels in: the video one, else the first (a Talk offer carries audio)."""
        found = next((m for m in self.media if m.media == "video"), None)
        if found is None and self.media:
            found = self.media[0]
        if found is None:  # parse_sdp refuses this; a hand-built value might not
            raise SdpError("the SDP has no m= section")
        return found

    @property
    def transport(self) -> Transport:
        return self.video.transport

    @property
    def counterpart_transport(self) -> Transport:
        """What the other side must do: connect to a tcp-passive writer, listen for a tcp-active one."""
        return self.transport.counterpart

    @property
    def connection_address(self) -> str | None:
        return self.video.address or self.address

    @property
    def port(self) -> int:
        return self.video.port

    @property
    def payload_types(self) -> tuple[int, ...]:
        return self.video.payload_types

    @property
    def channel_id(self) -> str | None:
        """The channel named by u=<channel ID>:<type> (history sessions)."""
        if not self.uri:
            return None
        channel = self.uri.split(":", 1)[0].strip()
        return channel or None

    @property
    def time_range_s(self) -> tuple[int, int] | None:
        """(start, stop) in Unix seconds for history; None for t=0 0."""
        return None if self.start_s == 0 and self.stop_s == 0 else (self.start_s, self.stop_s)

    @property
    def download_speed(self) -> int | None:
        return self.video.download_speed

    @property
    def file_size_bytes(self) -> int | None:
        return self.video.file_size_bytes

    @property
    def ssrc_value(self) -> int | None:
        """The y= SSRC as the 32-bit integer RTP headers carry (a leading 0 is just a zero)."""
        return None if self.ssrc is None else int(self.ssrc)


def _clip(text: str | None, limit: int = 60) -> str:
    text = "" if text is None else text
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _check_gb_id(value: str, what: str) -> None:
    if not isinstance(value, str) or not _GB_ID.fullmatch(value):
        raise SdpError(f"{what} must be a 20-digit GB/T 28181 ID, got {value!r}")


def _parse_y(value: str, where: str) -> str:
    # Hikvision refuses anything but 10 digits; we read shorter ones but keep them as sent.
    if not _SSRC.fullmatch(value) or int(value) > 0xFFFFFFFF:
        raise SdpError(f"{where}: SSRC must be up to 10 decimal digits within 32 bits, got {_clip(value)}")
    return value


def _validated(sd: SessionDescription) -> SessionDescription:
    """Refuse values that would build an SDP a device could not read back."""
    if not sd.media:
        raise SdpError("an SDP needs at least one m= section")
    if not sd.username or any(ch.isspace() for ch in sd.username):
        raise SdpError(f"o= username must be one token, got {sd.username!r}")
    for text, what in ((sd.session_name, "s="), (sd.uri, "u="), (sd.info, "i="), (sd.address, "c=")):
        if text is not None and ("\n" in text or "\r" in text or not text.strip()):
            raise SdpError(f"{what} value must be one non-empty line, got {text!r}")
    if sd.ssrc is not None:
        _parse_y(sd.ssrc, "y=")
    if not (0 <= sd.start_s < 10**12 and 0 <= sd.stop_s < 10**12):
        raise SdpError(f"t= times out of range: {sd.start_s} {sd.stop_s}")
    for m in sd.media:
        if not 0 <= m.port <= 65535:
            raise SdpError(f"m= port must be 0-65535, got {m.port}")
        if not m.payload_types or any(not 0 <= pt <= 127 for pt in m.payload_types):
            raise SdpError(f"m= needs payload types 0-127, got {list(m.payload_types)}")
        if m.protocol.upper() not in _KNOWN_PROTOCOLS:
            raise SdpError(f"m= protocol must be RTP/AVP or TCP/RTP/AVP, got {m.protocol!r}")
        if not m.media or any(ch.isspace() for ch in m.media):
            raise SdpError(f"m= media must be one token, got {m.media!r}")
    if sd.address is None and any(m.address is None for m in sd.media):
        raise SdpError("no c= address: neither at session level nor in every m= section")
    return sd


_SESSION_NAMES = {s.value.lower(): s for s in SessionName}
