"""Who may watch a simulated camera: RTSP Digest (RFC 2617 via the SIP stack's DigestAuthority) or Basic auth."""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from tianyan.gb28181.sip.digest import DigestAuthority, username_of

AuthScheme = Literal["digest", "basic"]
REALM = "TianyanSimCamera"


@dataclass(frozen=True)
class AuthVerdict:
    ok: bool
    reason: str = ""
    challenges: tuple[str, ...] = ()  # WWW-Authenticate values to answer 401 with


class CameraAuth:
    """Checks each request's Authorization header against one user name and password."""

    def __init__(
        self, username: str, password: str, scheme: AuthScheme = "digest", *, now: Callable[[], float] = time.time
    ) -> None:
        if scheme not in ("digest", "basic"):
            raise ValueError(f"auth scheme must be digest or basic, got {scheme!r}")
        self.username, self.password, self.scheme = username, password, scheme
        self._now = now
        # FFmpeg and most clients answer qop=auth with a rising nonce count, so one nonce serves the whole session.
        self._digest = DigestAuthority(REALM, secrets.token_bytes(32), nonce_ttl_s=3600.0, qop=True)

    def check(self, method: str, authorization: str | None) -> AuthVerdict:
        if authorization is None:
            return AuthVerdict(False, "no credentials", self._challenges())
        scheme, _, rest = authorization.strip().partition(" ")
        if scheme.lower() == "basic" and self.scheme == "basic":
            return self._check_basic(rest.strip())
        if scheme.lower() == "digest" and self.scheme == "digest":
            verdict = self._digest.verify(method, authorization, self._password_for(authorization), self._now())
            if verdict.ok:
                return AuthVerdict(True)
            return AuthVerdict(False, verdict.reason, self._challenges(stale=verdict.stale))
        return AuthVerdict(False, f"{scheme[:20]} authentication is not accepted here", self._challenges())

    def _password_for(self, authorization: str) -> str | None:
        return self.password if username_of(authorization) == self.username else None

    def _check_basic(self, token: str) -> AuthVerdict:
        try:
            decoded = base64.b64decode(token, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return AuthVerdict(False, "malformed Basic credentials", self._challenges())
        expected = f"{self.username}:{self.password}"
        if hmac.compare_digest(decoded.encode(), expected.encode()):
            return AuthVerdict(True)
        return AuthVerdict(False, "wrong user name or password", self._challenges())

    def _challenges(self, stale: bool = False) -> tuple[str, ...]:
        if self.scheme == "basic":
            return (f'Basic realm="{REALM}"',)
        return tuple(self._digest.challenge(self._now(), stale=stale))
