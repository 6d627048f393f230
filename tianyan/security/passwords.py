"""Argon2id password hashing and the password policy."""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from tianyan.core.errors import InvalidInput

_HASHER = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory profile
# Verified against when the username does not exist, so a miss costs the same time as a hit.
_DUMMY_HASH = _HASHER.hash("tianyan-no-such-user")


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 10
    min_character_classes: int = 3


def check_policy(password: str, *, username: str, policy: PasswordPolicy) -> None:
    if len(password) < policy.min_length:
        raise InvalidInput(f"password must have at least {policy.min_length} characters")
    classes = sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if classes < policy.min_character_classes:
        raise InvalidInput(
            f"password must mix at least {policy.min_character_classes} of: lower case, upper case, digits, symbols"
        )
    if username and username.lower() in password.lower():
        raise InvalidInput("password must not contain the username")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant-time verification (argon2 compares digests itself); unknown users burn the same time."""
    try:
        return _HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _HASHER.check_needs_rehash(stored_hash)
