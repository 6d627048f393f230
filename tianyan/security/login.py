"""Authentication: password (+ TOTP) login with lockout, browser sessions and API keys, each audited."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core.clock import Clock, SystemClock
from tianyan.core.errors import Locked, Unauthenticated
from tianyan.db.engine import commit_keeping_intent
from tianyan.security import audit
from tianyan.security.accounts import principal_for
from tianyan.security.models import ApiKey, LoginSession, User
from tianyan.security.passwords import PasswordPolicy, hash_password, needs_rehash, verify_password
from tianyan.security.scope import Principal
from tianyan.security.totp import totp_step

API_KEY_PREFIX = "ty_"


def token_digest(token: str) -> str:
    """Sessions and API keys are stored as this digest, never as the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class AuthSettings:
    lockout_failures: int = 5
    lockout_minutes: int = 15
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    policy: PasswordPolicy = field(default_factory=PasswordPolicy)


@dataclass(frozen=True)
class LoginResult:
    user: User
    token: str
    expires_at: datetime


async def _refuse(
    session: AsyncSession, *, username: str, source: str, why: str, clock: Clock, error: Exception
) -> Exception:
    await audit.record(
        session,
        actor=username,
        source=source,
        action="auth.login",
        target=f"user:{username}",
        outcome="denied",
        detail={"why": why},
        clock=clock,
    )
    await session.commit()
    return error


async def login(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    totp_code: str | None = None,
    source: str = "",
    clock: Clock | None = None,
    settings: AuthSettings | None = None,
) -> LoginResult:
    """Check credentials, count failures toward lockout, audit the attempt and open a session.

    Commits on its own: a failed attempt must be counted and audited even though it raises.
    """
    clock = clock or SystemClock()
    settings = settings or AuthSettings()
    now = clock.now()
    user = (await session.execute(select(User).where(User.username == username))).scalar_one_or_none()
    generic = Unauthenticated("invalid username, password or code")
    if user is None:
        verify_password(None, password)
        raise await _refuse(session, username=username, source=source, why="unknown user", clock=clock, error=generic)
    if user.locked_until is not None and user.locked_until > now:
        minutes = max(1, int((user.locked_until - now).total_seconds() + 59) // 60)
        raise await _refuse(
            session,
            username=username,
            source=source,
            why="locked",
            clock=clock,
            error=Locked(
                f"account locked after {settings.lockout_failures} failed logins; try again in {minutes} minute(s)",
                locked_until=user.locked_until.isoformat(),
            ),
        )
    password_ok = verify_password(user.password_hash, password)
    step = totp_step(user, totp_code or "", now) if user.totp_enabled else None
    # Only a step later than the last one used: with drift allowed, "not equal" would let an older code back in.
    fresh = step is not None and (user.totp_last_step is None or step > user.totp_last_step)
    totp_ok = not user.totp_enabled or fresh
    if not (password_ok and totp_ok):
        user.failed_logins += 1
        why = "bad password" if not password_ok else "bad or missing TOTP code"
        error: Exception = generic
        if user.failed_logins >= settings.lockout_failures:
            user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
            user.failed_logins = 0
            why += "; account locked"
            error = Locked(
                f"account locked after {settings.lockout_failures} failed logins; "
                f"try again in {settings.lockout_minutes} minute(s)",
                locked_until=user.locked_until.isoformat(),
            )
        elif password_ok and user.totp_enabled and not totp_code:
            error = Unauthenticated("a TOTP code is required for this account", totp_required=True)
        raise await _refuse(session, username=username, source=source, why=why, clock=clock, error=error)
    if user.disabled:
        raise await _refuse(
            session,
            username=username,
            source=source,
            why="disabled",
            clock=clock,
            error=Unauthenticated("this account is disabled"),
        )
    user.failed_logins = 0
    user.locked_until = None
    if step is not None:
        user.totp_last_step = step
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    token = secrets.token_urlsafe(32)
    expires_at = now + timedelta(hours=settings.session_max_hours)
    session.add(
        LoginSession(
            token_hash=token_digest(token),
            user_id=user.id,
            source=source,
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
        )
    )
    await audit.record(
        session, actor=username, source=source, action="auth.login", target=f"user:{username}", clock=clock
    )
    await session.commit()
    return LoginResult(user=user, token=token, expires_at=expires_at)


async def logout(session: AsyncSession, *, token: str, source: str = "") -> None:
    row = (
        await session.execute(select(LoginSession).where(LoginSession.token_hash == token_digest(token)))
    ).scalar_one_or_none()
    if row is None:
        return
    user = await session.get(User, row.user_id)
    await session.delete(row)
    if user is not None:
        await audit.record(
            session, actor=user.username, source=source, action="auth.logout", target=f"user:{user.username}"
        )


async def principal_from_session(
    session: AsyncSession,
    *,
    token: str,
    source: str = "",
    clock: Clock | None = None,
    settings: AuthSettings | None = None,
) -> Principal:
    clock = clock or SystemClock()
    settings = settings or AuthSettings()
    now = clock.now()
    row = (
        await session.execute(select(LoginSession).where(LoginSession.token_hash == token_digest(token)))
    ).scalar_one_or_none()
    if row is None:
        raise Unauthenticated("not logged in")
    idle_limit = row.last_seen_at + timedelta(minutes=settings.session_idle_minutes)
    if now >= row.expires_at or now >= idle_limit:
        await session.commit()  # end the reads first: on SQLite a write must open its own transaction
        await session.delete(row)
        await session.commit()
        raise Unauthenticated("session expired; log in again")
    user = await session.get(User, row.user_id)
    if user is None or user.disabled:
        raise Unauthenticated("this account is disabled")
    # Writing last_seen on every request would make every read a write; a minute's slack is enough.
    if (now - row.last_seen_at).total_seconds() > 60:
        await session.commit()  # end the reads first: on SQLite a write must open its own transaction
        row.last_seen_at = now
        await commit_keeping_intent(session)
    return await principal_for(session, user, source=source)


async def create_api_key(
    session: AsyncSession, *, user: User, name: str, actor: str, source: str = ""
) -> tuple[ApiKey, str]:
    """Returns the row and the plaintext key, which is shown once and never stored."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    plaintext = f"{API_KEY_PREFIX}{prefix}_{secret}"
    key = ApiKey(user_id=user.id, name=name, prefix=prefix, key_hash=token_digest(plaintext))
    session.add(key)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        source=source,
        action="apikey.create",
        target=f"user:{user.username}",
        detail={"name": name, "prefix": prefix},
    )
    return key, plaintext


async def revoke_api_key(session: AsyncSession, *, key: ApiKey, actor: str, source: str = "") -> None:
    key.revoked = True
    await audit.record(session, actor=actor, source=source, action="apikey.revoke", target=f"apikey:{key.prefix}")


async def principal_from_api_key(
    session: AsyncSession, *, key: str, source: str = "", clock: Clock | None = None
) -> Principal:
    parts = key.split("_")
    if len(parts) < 3 or not key.startswith(API_KEY_PREFIX):
        raise Unauthenticated("malformed API key")
    row = (await session.execute(select(ApiKey).where(ApiKey.prefix == parts[1]))).scalar_one_or_none()
    # Compare digests in constant time even when the prefix matched nothing.
    stored = row.key_hash if row is not None else "0" * 64
    if not hmac.compare_digest(stored, token_digest(key)) or row is None or row.revoked:
        raise Unauthenticated("invalid or revoked API key")
    user = await session.get(User, row.user_id)
    if user is None or user.disabled:
        raise Unauthenticated("this account is disabled")
    await session.commit()  # end the reads first: on SQLite a write must open its own transaction
    row.last_used_at = (clock or SystemClock()).now()
    await commit_keeping_intent(session)
    return await principal_for(session, user, source=source)
