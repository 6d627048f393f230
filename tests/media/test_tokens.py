"""Signed stream tokens: what they bind, how long they live, and the clear refusal of anything altered or misused."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tianyan.app.platform import secret_file
from tianyan.core.clock import FakeClock
from tianyan.media.tokens import (
    KEY_BYTES,
    MediaClaims,
    TokenError,
    TokenExpired,
    TokenMismatch,
    TokenSigner,
    key_path,
)

CAMERA = "44130200001320000001"
OTHER = "44130200001320000002"
KEY = b"k" * 32


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def signer(clock: FakeClock) -> TokenSigner:
    return TokenSigner(KEY, clock=clock)


def _issue(signer: TokenSigner, **overrides: object) -> tuple[str, MediaClaims]:
    fields: dict[str, object] = dict(user_id=7, username="hy.op", camera=CAMERA, purpose="live", ttl_s=120)
    fields.update(overrides)
    return signer.issue(**fields)  # type: ignore[arg-type]


def test_a_token_carries_user_camera_purpose_stream_and_expiry(signer: TokenSigner, clock: FakeClock) -> None:
    token, issued = _issue(signer, stream="sub")
    claims = signer.verify(token, purpose="live", camera=CAMERA)
    assert claims == issued
    assert (claims.user_id, claims.username, claims.camera, claims.purpose, claims.stream) == (
        7, "hy.op", CAMERA, "live", "sub",
    )  # fmt: skip
    assert claims.expires_at == int(clock.now().timestamp()) + 120
    assert claims.expires.tzinfo is not None


def test_tokens_are_url_safe_and_unique(signer: TokenSigner) -> None:
    tokens = {_issue(signer)[0] for _ in range(50)}
    assert len(tokens) == 50  # the nonce differs each time
    for token in tokens:
        assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def test_a_token_expires_after_its_lifetime(signer: TokenSigner, clock: FakeClock) -> None:
    token, _ = _issue(signer, ttl_s=60)
    clock.advance(59)
    signer.verify(token, purpose="live")
    clock.advance(1)
    with pytest.raises(TokenExpired, match=r"expired at .*ask for a new stream URL"):
        signer.verify(token, purpose="live")


def test_an_expired_token_still_serves_a_session_in_use(signer: TokenSigner, clock: FakeClock) -> None:
    token, issued = _issue(signer, ttl_s=10)
    clock.advance(3600)
    claims = signer.verify(token, purpose="live", still_in_use=lambda c: c.nonce == issued.nonce)
    assert claims.camera == CAMERA
    with pytest.raises(TokenExpired):
        signer.verify(token, purpose="live", still_in_use=lambda c: False)


def test_a_token_for_another_camera_or_purpose_is_refused(signer: TokenSigner) -> None:
    token, _ = _issue(signer)
    with pytest.raises(TokenMismatch, match=f"for camera {CAMERA}, not {OTHER}"):
        signer.verify(token, purpose="live", camera=OTHER)
    with pytest.raises(TokenMismatch, match="for live, not playback"):
        signer.verify(token, purpose="playback")
    assert TokenMismatch.status == 403 and TokenError.status == 401


def test_any_altered_byte_breaks_the_signature(signer: TokenSigner) -> None:
    token, _ = _issue(signer)
    payload_text, _, mac_text = token.partition(".")
    payload = base64.urlsafe_b64decode(payload_text + "=" * (-len(payload_text) % 4))
    body = json.loads(payload)
    body["c"] = OTHER  # the holder tries to watch another camera with their token
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    with pytest.raises(TokenError, match="signature does not match"):
        signer.verify(f"{forged}.{mac_text}", purpose="live")
    flipped = mac_text[:-2] + ("A" if mac_text[-2] != "A" else "B") + mac_text[-1]
    with pytest.raises(TokenError, match="signature does not match"):
        signer.verify(f"{payload_text}.{flipped}", purpose="live")


def test_another_key_does_not_verify(signer: TokenSigner, clock: FakeClock) -> None:
    token, _ = _issue(signer)
    with pytest.raises(TokenError, match="another key"):
        TokenSigner(b"z" * 32, clock=clock).verify(token, purpose="live")


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "no stream token"),
        ("no-dot-here", "malformed"),
        (".abc", "malformed"),
        ("abc.", "malformed"),
        ("x" * 2000 + ".y", "too long"),
        ("a.b.c", "malformed"),
        ("abcd.abcd", "signature does not match"),
        ("a.b", "not base64url"),
        ("!!!.???", "not base64url"),
    ],
)
def test_malformed_tokens_get_a_clear_error(signer: TokenSigner, token: str, message: str) -> None:
    with pytest.raises(TokenError, match=message):
        signer.verify(token, purpose="live")


def test_a_signed_but_malformed_payload_is_refused(signer: TokenSigner) -> None:
    # Only a holder of the key could make these; the verifier still refuses them cleanly.
    import hashlib
    import hmac

    def sign(payload: bytes) -> str:
        mac = hmac.new(KEY, payload, hashlib.sha256).digest()
        enc = base64.urlsafe_b64encode
        return f"{enc(payload).rstrip(b'=').decode()}.{enc(mac).rstrip(b'=').decode()}"

    with pytest.raises(TokenError, match="not JSON"):
        signer.verify(sign(b"\xff\xfe"), purpose="live")
    with pytest.raises(TokenError, match="version 1"):
        signer.verify(sign(b'{"v": 2}'), purpose="live")
    with pytest.raises(TokenError, match="lacks the claim"):
        signer.verify(sign(b'{"v": 1, "u": 1}'), purpose="live")
    bad_types = {"v": 1, "u": "7", "c": CAMERA, "p": "live", "s": "main", "e": 10**10, "r": "n"}
    with pytest.raises(TokenError, match="wrong types"):
        signer.verify(sign(json.dumps(bad_types).encode()), purpose="live")


def test_issuing_checks_its_arguments(signer: TokenSigner) -> None:
    with pytest.raises(ValueError, match="purpose"):
        _issue(signer, purpose="download")
    with pytest.raises(ValueError, match="positive"):
        _issue(signer, ttl_s=0)
    with pytest.raises(ValueError, match="16 bytes"):
        TokenSigner(b"short")


def test_the_key_lives_in_the_data_folder_and_survives_restarts(tmp_path: Path, clock: FakeClock) -> None:
    path = key_path(tmp_path)
    assert path == tmp_path / "secrets" / "media-token.key"
    first = TokenSigner(secret_file(path, size_bytes=KEY_BYTES), clock=clock)
    token, _ = first.issue(user_id=1, camera=CAMERA, purpose="playback", ttl_s=30)
    assert path.stat().st_mode & 0o777 == 0o600
    again = TokenSigner(secret_file(path, size_bytes=KEY_BYTES), clock=clock)
    assert again.verify(token, purpose="playback", camera=CAMERA).user_id == 1
