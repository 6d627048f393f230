"""Signed stream tokens: short-lived HMAC-SHA256 tickets that let one user's player fetch one camera's media.

A media URL cannot carry the session cookie everywhere (a WebSocket from another origin, an HLS player, a
`<video src>`), so the API hands out a token bound to the user, the camera, the purpose (live or playback), the
stream, and an expiry. The token is `base64url(claims JSON) "." base64url(HMAC-SHA256(key, claims))`; it is
URL-safe and so fits in a query string or a path segment. Verification compares MACs in constant time and says
exactly what was wrong, so a player can show the user why a stream was refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from tianyan.core.clock import Clock, SystemClock
from tianyan.core.errors import Forbidden, Unauthenticated

__all__ = [
    "KEY_BYTES",
    "MediaClaims",
    "Purpose",
    "TokenError",
    "TokenExpired",
    "TokenMismatch",
    "TokenSigner",
    "key_path",
]

Purpose = Literal["live", "playback"]
PURPOSES: frozenset[str] = frozenset({"live", "playback"})
KEY_BYTES = 32
VERSION = 1
# Tokens are short; anything much longer is not one of ours and is refused before any decoding.
MAX_TOKEN_CHARS = 1024


class TokenError(Unauthenticated):
    """The token is malformed or its signature does not match; the message says which."""

    title = "Invalid stream token"


class TokenExpired(TokenError):
    title = "Stream token expired"


class TokenMismatch(Forbidden):
    """A valid token used for something it was not issued for (another camera, another purpose)."""

    title = "Stream token not valid here"


@dataclass(frozen=True)
class MediaClaims:
    user_id: int
    camera: str  # the camera's GB ID
    purpose: Purpose
    expires_at: int  # Unix seconds
    nonce: str
    stream: str = "main"
    username: str = ""

    def to_json(self) -> bytes:
        body = {
            "v": VERSION,
            "u": self.user_id,
            "n": self.username,
            "c": self.camera,
            "p": self.purpose,
            "s": self.stream,
            "e": self.expires_at,
            "r": self.nonce,
        }
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> MediaClaims:
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise TokenError("the stream token's claims are not JSON") from exc
        if not isinstance(body, dict) or body.get("v") != VERSION:
            raise TokenError(f"the stream token is not a version {VERSION} token")
        try:
            user_id, camera, purpose = body["u"], body["c"], body["p"]
            stream, expires_at, nonce, username = body["s"], body["e"], body["r"], body.get("n", "")
        except KeyError as exc:
            raise TokenError(f"the stream token lacks the claim {exc.args[0]!r}") from exc
        typed = (
            isinstance(user_id, int)
            and isinstance(camera, str)
            and purpose in PURPOSES
            and isinstance(stream, str)
            and isinstance(expires_at, int)
            and isinstance(nonce, str)
            and isinstance(username, str)
        )
        if not typed:
            raise TokenError("the stream token's claims have the wrong types")
        return cls(user_id, camera, purpose, expires_at, nonce, stream, username)

    @property
    def expires(self) -> datetime:
        return datetime.fromtimestamp(self.expires_at, UTC)


def key_path(data_dir: Path) -> Path:
    """Where the platform keeps the signing key (made on first use by `tianyan.app.platform.secret_file`)."""
    return data_dir / "secrets" / "media-token.key"


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    # validate: a character outside the alphabet is an error, not silently skipped.
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


class TokenSigner:
    """Issues and verifies stream tokens with one secret key; time comes from `clock` (tests freeze it)."""

    def __init__(self, key: bytes, *, clock: Clock | None = None) -> None:
        if len(key) < 16:
            raise ValueError("a stream token key needs at least 16 bytes")
        self._key = key
        self._clock = clock or SystemClock()

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def now(self) -> int:
        return int(self._clock.now().timestamp())

    def issue(
        self,
        *,
        user_id: int,
        camera: str,
        purpose: Purpose,
        ttl_s: int,
        stream: str = "main",
        username: str = "",
    ) -> tuple[str, MediaClaims]:
        if purpose not in PURPOSES:
            raise ValueError(f"purpose must be one of {sorted(PURPOSES)}, not {purpose!r}")
        if ttl_s <= 0:
            raise ValueError("a stream token's lifetime must be positive")
        claims = MediaClaims(
            user_id=user_id,
            camera=camera,
            purpose=purpose,
            expires_at=self.now() + ttl_s,
            nonce=secrets.token_urlsafe(9),
            stream=stream,
            username=username,
        )
        payload = claims.to_json()
        return f"{_b64encode(payload)}.{_b64encode(self._mac(payload))}", claims

    def verify(
        self,
        token: str,
        *,
        purpose: Purpose,
        camera: str | None = None,
        still_in_use: Callable[[MediaClaims], bool] | None = None,
    ) -> MediaClaims:
        """The token's claims, if it is ours, unexpired, and for `purpose` (and `camera`, when given).

        `still_in_use` lets an expired token through when the session it opened is still running (an HLS player
        re-reads the same playlist URL for as long as it plays, long after the URL's lifetime)."""
        if not token:
            raise TokenError("no stream token was given")
        if len(token) > MAX_TOKEN_CHARS:
            raise TokenError("the stream token is too long to be one of ours")
        payload_text, dot, mac_text = token.partition(".")
        if not dot or not payload_text or not mac_text or "." in mac_text:
            raise TokenError("the stream token is malformed (expected two parts joined by '.')")
        try:
            payload, mac = _b64decode(payload_text), _b64decode(mac_text)
        except (binascii.Error, ValueError) as exc:
            raise TokenError("the stream token is not base64url") from exc
        # Signature first, in constant time: nothing from an unsigned payload is trusted, not even for errors.
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise TokenError("the stream token's signature does not match (forged, altered, or from another key)")
        claims = MediaClaims.from_json(payload)
        if self.now() >= claims.expires_at and not (still_in_use is not None and still_in_use(claims)):
            raise TokenExpired(f"the stream token expired at {claims.expires.isoformat()}; ask for a new stream URL")
        if claims.purpose != purpose:
            raise TokenMismatch(f"this stream token is for {claims.purpose}, not {purpose}")
        if camera is not None and claims.camera != camera:
            raise TokenMismatch(f"this stream token is for camera {claims.camera}, not {camera}")
        return claims
