"""TOTP second factor: enrolment with a fresh secret, confirmation, and checking a code at login."""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta

import pyotp
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core.clock import Clock, SystemClock
from tianyan.core.errors import InvalidInput
from tianyan.security import audit
from tianyan.security.models import User

TOTP_ISSUER = "Tianyan"


def totp_provisioning(user: User) -> str:
    if not user.totp_secret:
        raise InvalidInput("no TOTP secret; start enrolment first")
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.username, issuer_name=TOTP_ISSUER)


async def begin_totp(session: AsyncSession, *, user: User) -> str:
    """A fresh secret, not yet required at login until confirmed with a code."""
    user.totp_secret = pyotp.random_base32()
    user.totp_enabled = False
    user.totp_last_step = None
    await session.flush()
    return totp_provisioning(user)


def totp_step(user: User, code: str, now: datetime) -> int | None:
    """The time step the code matches (±1 step of drift), or None."""
    if not user.totp_secret or not code or not code.isdigit():
        return None
    totp = pyotp.TOTP(user.totp_secret)
    for drift in (0, -1, 1):
        at = now + timedelta(seconds=drift * totp.interval)
        if hmac.compare_digest(totp.at(at), code):
            return totp.timecode(at)
    return None


async def confirm_totp(
    session: AsyncSession, *, user: User, code: str, clock: Clock | None = None, source: str = ""
) -> None:
    step = totp_step(user, code, (clock or SystemClock()).now())
    if step is None:
        raise InvalidInput("that TOTP code is not valid for the enrolled secret")
    user.totp_enabled = True
    user.totp_last_step = step
    await audit.record(
        session, actor=user.username, source=source, action="user.totp.enable", target=f"user:{user.username}"
    )


async def disable_totp(session: AsyncSession, *, user: User, actor: str, source: str = "") -> None:
    user.totp_enabled = False
    user.totp_secret = None
    user.totp_last_step = None
    await audit.record(session, actor=actor, source=source, action="user.totp.disable", target=f"user:{user.username}")
