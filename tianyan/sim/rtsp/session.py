"""An RTSP session's state machine (RFC 2326 Appendix A.2: Init → Ready → Playing) and request-URI resolution; pure."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import urlsplit

from tianyan.sim.rtsp.messages import TransportSpec
from tianyan.sim.rtsp.sdp import TRACK_CONTROL

DEFAULT_SESSION_TIMEOUT_S = 60


class State(Enum):
    READY = "ready"
    PLAYING = "playing"


class SessionError(Exception):
    """A request the session's state does not allow; `status` is the RTSP answer (455, 459…)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Target:
    """What a request URI names: a camera path, and the track inside it (None: the whole presentation)."""

    path: str
    track: str | None = None


def resolve(uri: str, paths: set[str] | frozenset[str]) -> Target | None:
    """The path (and track) a request URI names, or None when the camera has no such stream.

    Absolute (`rtsp://host:port/main/trackID=0`) and bare (`/main`) URIs are both accepted; the query and
    a trailing slash are ignored, since clients build track URIs from Content-Base in different ways."""
    if uri.lower().startswith(("rtsp://", "rtspu://")):
        try:
            text = urlsplit(uri).path
        except ValueError:
            return None
    else:
        text = uri.partition("?")[0]
    text = text.strip("/")
    if text in paths:
        return Target(text)
    head, _, tail = text.rpartition("/")
    if head in paths and tail == TRACK_CONTROL:
        return Target(head, tail)
    return None


@dataclass
class RtspSession:
    """One client's session on one path: its transport and whether it is playing."""

    path: str
    transport: TransportSpec
    timeout_s: int = DEFAULT_SESSION_TIMEOUT_S
    id: str = field(default_factory=lambda: secrets.token_hex(8).upper())
    state: State = State.READY
    last_seen: float = 0.0

    @property
    def header(self) -> str:
        return f"{self.id};timeout={self.timeout_s}"

    def touch(self, now: float) -> None:
        self.last_seen = now

    def expired(self, now: float) -> bool:
        return now - self.last_seen > self.timeout_s

    def check_target(self, target: Target) -> None:
        if target.path != self.path:
            raise SessionError(f"session {self.id} is for /{self.path}, not /{target.path}", 459)

    def play(self) -> bool:
        """Enter Playing; False if it already was (a second PLAY only refreshes the session)."""
        was = self.state
        self.state = State.PLAYING
        return was is State.READY

    def pause(self) -> bool:
        """Back to Ready; False if it was not playing."""
        was = self.state
        self.state = State.READY
        return was is State.PLAYING

    def setup_again(self, transport: TransportSpec) -> None:
        # RFC 2326 §10.4: changing the transport of a playing session is not allowed.
        if self.state is State.PLAYING and transport != self.transport:
            raise SessionError("cannot change the transport while playing", 455)
        self.transport = transport
