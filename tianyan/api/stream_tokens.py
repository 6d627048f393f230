"""The signer of short-lived stream URLs (live, recorded and device playback), one per application."""

from __future__ import annotations

from typing import Any

from tianyan.app.platform import Platform
from tianyan.core.secrets import secret_file
from tianyan.media.tokens import KEY_BYTES, TokenSigner, key_path


def token_signer(platform: Platform, state: Any) -> TokenSigner:
    """The media plane's signer when this node runs it, else one keyed from the data folder, made once."""
    signer = getattr(platform.media, "tokens", None)
    if isinstance(signer, TokenSigner):
        return signer
    signer = getattr(state, "media_tokens", None)
    if signer is None:
        key = secret_file(key_path(platform.config.server.data_dir), size_bytes=KEY_BYTES)
        signer = state.media_tokens = TokenSigner(key, clock=platform.clock)
    return signer
