"""Passwords: Argon2id hashes, verification that never raises, and the policy with its messages."""

from __future__ import annotations

import pytest

from tianyan.core.errors import InvalidInput
from tianyan.security.passwords import PasswordPolicy, check_policy, hash_password, needs_rehash, verify_password

GOOD = "Huizhou-2026!"


def test_hash_is_argon2id_and_salted() -> None:
    first, second = hash_password(GOOD), hash_password(GOOD)
    assert first.startswith("$argon2id$")
    assert first != second
    assert GOOD not in first
    assert not needs_rehash(first)


def test_verify_accepts_only_the_password() -> None:
    stored = hash_password(GOOD)
    assert verify_password(stored, GOOD)
    assert not verify_password(stored, GOOD.lower())
    assert not verify_password(stored, "")


@pytest.mark.parametrize("stored", [None, "", "not-a-hash", "$argon2id$v=19$m=65536,t=3,p=4$broken"])
def test_verify_of_a_missing_or_broken_hash_is_false(stored: str | None) -> None:
    assert verify_password(stored, GOOD) is False


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("Sh0rt!", "at least 10 characters"),
        ("alllowercaseletters", "mix at least 3 of"),
        ("lowercase12345", "mix at least 3 of"),
        ("UPPER-and-lower", None),  # three classes: upper, lower, symbols
        ("xX-operator-1", "must not contain the username"),
        ("xx-OPERATOR-1", "must not contain the username"),
    ],
)
def test_policy(password: str, message: str | None) -> None:
    policy = PasswordPolicy()
    if message is None:
        check_policy(password, username="operator", policy=policy)
        return
    with pytest.raises(InvalidInput) as caught:
        check_policy(password, username="operator", policy=policy)
    assert message in caught.value.detail


def test_policy_length_follows_configuration() -> None:
    with pytest.raises(InvalidInput, match="at least 16 characters"):
        check_policy(GOOD, username="wang", policy=PasswordPolicy(min_length=16))
    check_policy(GOOD + "abcd", username="wang", policy=PasswordPolicy(min_length=16))
