"""Secrets the platform makes for itself (signing keys, nonce keys): random, kept in owner-only files."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def secret_file(path: Path, *, size_bytes: int) -> bytes:
    """A random secret kept in a file only its owner can read, made the first time it is asked for."""
    if path.exists():
        data = path.read_bytes()
        if len(data) >= size_bytes:
            return data
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = secrets.token_bytes(size_bytes)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(data)
    return data
