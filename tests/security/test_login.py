"""Login: lockout after repeated failures, the TOTP second factor, session expiry, logout and API keys, each
attempt audited. Every login runs in a session of its own, as separate requests would."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.registry_fixtures import PASSWORD, add_user, password_hash
from tianyan.core.clock import FakeClock
from tianyan.core.errors import Locked, TianyanError, Unauthenticated
from tianyan.security import accounts, login, passwords, totp
from tianyan.security.login import LoginResult
from tianyan.security.models import AuditEntry, LoginSession, User
from tianyan.security.scope import Principal

USERNAME = "zhang"
SOURCE = "10.20.30.40"
MINUTE = 60


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Argon2id at its lowest cost. These tests are about lockout, TOTP, sessions and keys, and each attempt would
    otherwise spend a fifth of a second or more hashing; tests/test_passwords.py holds the real parameters."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "_HASHER", cheap)
    monkeypatch.setattr(passwords, "_DUMMY_HASH", cheap.hash("tianyan-no-such-user"))
    password_hash.cache_clear()  # the accounts' shared hash is made with the hasher in force, before and after
    yield
    password_hash.cache_clear()


@pytest.fixture
async def user(session: AsyncSession) -> User:
    user = await add_user(session, USERNAME, "operator", all_regions=True)
    await session.commit()
    return user


async def log_in(
    engine: AsyncEngine,
    clock: FakeClock,
    *,
    username: str = USERNAME,
    password: str = PASSWORD,
    code: str | None = None,
) -> LoginResult:
    async with AsyncSession(engine, expire_on_commit=False) as s:
        return await login.login(s, username=username, password=password, totp_code=code, source=SOURCE, clock=clock)


async def refused(engine: AsyncEngine, clock: FakeClock, **credentials: str | None) -> TianyanError:
    """The error a login attempt that must fail raises."""
    with pytest.raises(TianyanError) as caught:
        await log_in(engine, clock, **credentials)  # type: ignore[arg-type]
    return caught.value


async def from_session(engine: AsyncEngine, clock: FakeClock, token: str) -> Principal:
    async with AsyncSession(engine, expire_on_commit=False) as s:
        return await login.principal_from_session(s, token=token, clock=clock)


async def from_key(engine: AsyncEngine, clock: FakeClock, key: str) -> Principal:
    async with AsyncSession(engine, expire_on_commit=False) as s:
        return await login.principal_from_api_key(s, key=key, clock=clock)


async def login_audit(session: AsyncSession) -> list[tuple[str, str, str]]:
    """(actor, outcome, source) of every auth.login entry, oldest first."""
    await session.commit()
    query = select(AuditEntry.actor, AuditEntry.outcome, AuditEntry.source).where(AuditEntry.action == "auth.login")
    return [tuple(row) for row in (await session.execute(query.order_by(AuditEntry.seq))).all()]


def minutes_left(error: TianyanError) -> int:
    found = re.search(r"(\d+) minute", error.detail)
    assert found, error.detail
    return int(found.group(1))


async def open_sessions(session: AsyncSession) -> int:
    await session.commit()
    return (await session.execute(select(func.count()).select_from(LoginSession))).scalar_one()


# --- password and lockout -------------------------------------------------------------------------


async def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(
    engine: AsyncEngine, session: AsyncSession, clock: FakeClock, user: User
) -> None:
    for _ in range(4):
        error = await refused(engine, clock, password="wrong-Password-1")
        assert type(error) is Unauthenticated
    error = await refused(engine, clock, password="wrong-Password-1")
    assert isinstance(error, Locked)
    assert minutes_left(error) == 15

    # While locked, even the right password is refused, and the message says how long is left.
    error = await refused(engine, clock)
    assert isinstance(error, Locked)
    assert minutes_left(error) == 15
    clock.advance(5 * MINUTE)
    error = await refused(engine, clock)
    assert isinstance(error, Locked)
    assert minutes_left(error) == 10
    clock.advance(9 * MINUTE + 30)
    error = await refused(engine, clock)
    assert isinstance(error, Locked)
    assert minutes_left(error) == 1
    assert await open_sessions(session) == 0

    clock.advance(30)  # fifteen minutes after the lock
    result = await log_in(engine, clock)
    assert result.user.username == USERNAME
    assert await open_sessions(session) == 1
    # Every attempt was audited, the ones refused during the lock included.
    assert [outcome for _, outcome, _ in await login_audit(session)] == ["denied"] * 8 + ["ok"]


async def test_a_success_resets_the_failure_count(engine: AsyncEngine, clock: FakeClock, user: User) -> None:
    for _ in range(4):
        assert type(await refused(engine, clock, password="wrong-Password-1")) is Unauthenticated
    await log_in(engine, clock)
    for _ in range(4):  # four more: eight failures in all, but never five in a row
        assert type(await refused(engine, clock, password="wrong-Password-1")) is Unauthenticated


async def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(
    engine: AsyncEngine, clock: FakeClock, user: User
) -> None:
    wrong_password = await refused(engine, clock, password="wrong-Password-1")
    unknown_user = await refused(engine, clock, username="nobody")
    assert type(unknown_user) is type(wrong_password) is Unauthenticated
    assert (unknown_user.detail, unknown_user.extra) == (wrong_password.detail, wrong_password.extra)
    assert "nobody" not in unknown_user.detail


async def test_a_disabled_account_cannot_log_in(
    engine: AsyncEngine, session: AsyncSession, clock: FakeClock, user: User
) -> None:
    await accounts.set_disabled(session, user=user, disabled=True, actor="admin")
    await session.commit()
    error = await refused(engine, clock)
    assert isinstance(error, Unauthenticated)
    assert await open_sessions(session) == 0


async def test_every_attempt_success_and_failure_is_audited(
    engine: AsyncEngine, session: AsyncSession, clock: FakeClock, user: User
) -> None:
    await refused(engine, clock, password="wrong-Password-1")
    await refused(engine, clock, username="nobody")
    await log_in(engine, clock)
    await accounts.set_disabled(session, user=user, disabled=True, actor="admin")
    await session.commit()
    await refused(engine, clock)
    assert await login_audit(session) == [
        (USERNAME, "denied", SOURCE),
        ("nobody", "denied", SOURCE),
        (USERNAME, "ok", SOURCE),
        (USERNAME, "denied", SOURCE),
    ]


# --- TOTP -----------------------------------------------------------------------------------------


def at(secret: str, clock: FakeClock, steps_ago: int = 0) -> str:
    totp_ = pyotp.TOTP(secret)
    return totp_.at(clock.now().timestamp() - steps_ago * totp_.interval)


def wrong_code(secret: str, clock: FakeClock) -> str:
    """A well-formed code that matches no step within the allowed drift."""
    near = {at(secret, clock, steps) for steps in (-1, 0, 1)}
    return next(code for code in (f"{n:06d}" for n in range(1_000_000)) if code not in near)


@pytest.fixture
async def secret(session: AsyncSession, clock: FakeClock, user: User) -> str:
    """TOTP enrolled and confirmed for the user; the clock then moves on half a minute past the next step."""
    uri = await totp.begin_totp(session, user=user)
    secret = pyotp.parse_uri(uri).secret
    await totp.confirm_totp(session, user=user, code=at(secret, clock), clock=clock)
    await session.commit()
    clock.advance(45)  # the code used to confirm is now one step old
    return secret


async def test_totp_is_not_required_until_enrolment_is_confirmed(
    engine: AsyncEngine, session: AsyncSession, clock: FakeClock, user: User
) -> None:
    uri = await totp.begin_totp(session, user=user)
    await session.commit()
    await log_in(engine, clock)  # enrolment begun but not confirmed: the password is enough
    secret = pyotp.parse_uri(uri).secret
    await totp.confirm_totp(session, user=user, code=at(secret, clock), clock=clock)
    await session.commit()
    assert isinstance(await refused(engine, clock), Unauthenticated)


async def test_with_totp_the_password_alone_is_refused_as_totp_required(
    engine: AsyncEngine, clock: FakeClock, secret: str
) -> None:
    error = await refused(engine, clock)
    assert isinstance(error, Unauthenticated)
    assert error.extra.get("totp_required") is True
    result = await log_in(engine, clock, code=at(secret, clock))
    assert result.user.username == USERNAME


async def test_a_wrong_totp_code_counts_toward_lockout(
    engine: AsyncEngine, session: AsyncSession, clock: FakeClock, secret: str
) -> None:
    for _ in range(4):
        assert type(await refused(engine, clock, code=wrong_code(secret, clock))) is Unauthenticated
    assert isinstance(await refused(engine, clock, code=wrong_code(secret, clock)), Locked)
    assert isinstance(await refused(engine, clock, code=at(secret, clock)), Locked)  # the right code is refused too
    assert await open_sessions(session) == 0


async def test_a_totp_code_cannot_be_replayed(engine: AsyncEngine, clock: FakeClock, secret: str) -> None:
    clock.advance(30)
    code = at(secret, clock)
    await log_in(engine, clock, code=code)
    error = await refused(engine, clock, code=code)
    assert isinstance(error, Unauthenticated)
    clock.advance(20)  # still within the drift allowed for that code
    assert isinstance(await refused(engine, clock, code=code), Unauthenticated)


async def test_a_code_one_step_old_is_accepted_once(engine: AsyncEngine, clock: FakeClock, secret: str) -> None:
    clock.advance(60)  # two steps after enrolment, so the previous step's code is unused
    previous = at(secret, clock, steps_ago=1)
    await log_in(engine, clock, code=previous)
    assert isinstance(await refused(engine, clock, code=previous), Unauthenticated)
    await log_in(engine, clock, code=at(secret, clock))  # the current step is newer, so it still works


async def test_a_code_two_steps_old_is_refused(engine: AsyncEngine, clock: FakeClock, secret: str) -> None:
    clock.advance(5 * MINUTE)  # long after enrolment: a refusal here is about age, not replay
    assert isinstance(await refused(engine, clock, code=at(secret, clock, steps_ago=2)), Unauthenticated)
    await log_in(engine, clock, code=at(secret, clock))


async def test_disabling_totp_lets_the_password_alone_in_again(
    engine: AsyncEngine, session: AsyncSession, clock: FakeClock, user: User, secret: str
) -> None:
    await totp.disable_totp(session, user=user, actor="admin")
    await session.commit()
    await log_in(engine, clock)


# --- sessions -------------------------------------------------------------------------------------


async def test_a_session_expires_after_thirty_idle_minutes(engine: AsyncEngine, clock: FakeClock, user: User) -> None:
    token = (await log_in(engine, clock)).token
    assert (await from_session(engine, clock, token)).username == USERNAME
    clock.advance(29 * MINUTE)
    await from_session(engine, clock, token)  # activity keeps it alive
    clock.advance(29 * MINUTE)
    await from_session(engine, clock, token)
    clock.advance(30 * MINUTE)
    with pytest.raises(Unauthenticated, match="expired"):
        await from_session(engine, clock, token)


async def test_a_session_ends_after_twelve_hours_however_busy(
    engine: AsyncEngine, clock: FakeClock, user: User
) -> None:
    token = (await log_in(engine, clock)).token
    for _ in range(35):  # active every 20 minutes for 11 h 40 min
        clock.advance(20 * MINUTE)
        await from_session(engine, clock, token)
    clock.advance(19 * MINUTE)
    await from_session(engine, clock, token)
    clock.advance(1 * MINUTE)  # 12 h after login
    with pytest.raises(Unauthenticated, match="expired"):
        await from_session(engine, clock, token)


async def test_logout_ends_that_session_only(
    engine: AsyncEngine, session: AsyncSession, clock: FakeClock, user: User
) -> None:
    first = (await log_in(engine, clock)).token
    second = (await log_in(engine, clock)).token
    await login.logout(session, token=first, source=SOURCE)
    await session.commit()
    with pytest.raises(Unauthenticated):
        await from_session(engine, clock, first)
    assert (await from_session(engine, clock, second)).username == USERNAME
    logouts = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "auth.logout")
    assert (await session.execute(logouts)).scalar_one() == 1


async def test_an_unknown_session_token_is_refused(engine: AsyncEngine, clock: FakeClock, user: User) -> None:
    token = (await log_in(engine, clock)).token
    with pytest.raises(Unauthenticated):
        await from_session(engine, clock, token[:-1] + ("A" if token[-1] != "A" else "B"))


# --- API keys -------------------------------------------------------------------------------------


async def test_an_api_key_authenticates_until_revoked(
    engine: AsyncEngine, session: AsyncSession, clock: FakeClock, user: User
) -> None:
    key, plaintext = await login.create_api_key(session, user=user, name="vms-bridge", actor="admin")
    await session.commit()
    principal = await from_key(engine, clock, plaintext)
    assert (principal.username, principal.role) == (USERNAME, "operator")
    await login.revoke_api_key(session, key=key, actor="admin")
    await session.commit()
    with pytest.raises(Unauthenticated):
        await from_key(engine, clock, plaintext)


async def test_a_tampered_api_key_is_refused(
    engine: AsyncEngine, session: AsyncSession, clock: FakeClock, user: User
) -> None:
    _, first = await login.create_api_key(session, user=user, name="one", actor="admin")
    _, second = await login.create_api_key(session, user=user, name="two", actor="admin")
    await session.commit()
    prefix, secret = first.rsplit("_", 1)
    other_secret = second.rsplit("_", 1)[1]
    forgeries = {
        "last character changed": first[:-1] + ("A" if first[-1] != "A" else "B"),
        "another key's secret": f"{prefix}_{other_secret}",
        "secret cut short": f"{prefix}_{secret[:-4]}",
        "no secret": prefix,
        "not a key at all": "Bearer nothing",
    }
    accepted = []
    for name, forged in forgeries.items():
        try:
            await from_key(engine, clock, forged)
            accepted.append(name)
        except Unauthenticated:
            pass
    assert accepted == []
    assert (await from_key(engine, clock, first)).username == USERNAME  # the real keys still work
    assert (await from_key(engine, clock, second)).username == USERNAME


async def test_changing_the_password_ends_sessions_and_revokes_keys(
    engine: AsyncEngine, session: AsyncSession, clock: FakeClock, user: User
) -> None:
    token = (await log_in(engine, clock)).token
    _, key = await login.create_api_key(session, user=user, name="bridge", actor="admin")
    await session.commit()
    new_password = "Another-Secret-2027!"
    await accounts.set_password(session, user=user, password=new_password, actor="admin", clock=clock)
    await session.commit()
    with pytest.raises(Unauthenticated):
        await from_session(engine, clock, token)
    with pytest.raises(Unauthenticated):
        await from_key(engine, clock, key)
    assert isinstance(await refused(engine, clock), Unauthenticated)  # the old password no longer works
    await log_in(engine, clock, password=new_password)


async def test_disabling_the_user_ends_sessions_and_revokes_keys(
    engine: AsyncEngine, session: AsyncSession, clock: FakeClock, user: User
) -> None:
    token = (await log_in(engine, clock)).token
    _, key = await login.create_api_key(session, user=user, name="bridge", actor="admin")
    await session.commit()
    await accounts.set_disabled(session, user=user, disabled=True, actor="admin")
    await session.commit()
    with pytest.raises(Unauthenticated):
        await from_session(engine, clock, token)
    with pytest.raises(Unauthenticated):
        await from_key(engine, clock, key)
    # Enabling the account again does not bring the old session or key back.
    await accounts.set_disabled(session, user=user, disabled=False, actor="admin")
    await session.commit()
    with pytest.raises(Unauthenticated):
        await from_session(engine, clock, token)
    with pytest.raises(Unauthenticated):
        await from_key(engine, clock, key)
    await log_in(engine, clock)


# --- through the HTTP API -------------------------------------------------------------------------


async def test_api_login_sets_an_httponly_samesite_cookie_and_me_works(client: httpx.AsyncClient, user: User) -> None:
    assert (await client.get("/api/v1/auth/me")).status_code == 401
    response = await client.post("/api/v1/auth/login", json={"username": USERNAME, "password": PASSWORD})
    assert response.status_code == 200, response.text
    cookie = response.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")}
    assert "httponly" in attributes
    assert attributes["samesite"].lower() in ("samesite=strict", "samesite=lax")
    assert PASSWORD not in cookie
    me = await client.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert (me.json()["username"], me.json()["role"]) == (USERNAME, "operator")
    assert (await client.post("/api/v1/auth/logout")).status_code == 204
    assert (await client.get("/api/v1/auth/me")).status_code == 401


async def test_api_the_sixth_attempt_after_lockout_answers_423_as_a_problem(
    client: httpx.AsyncClient, user: User
) -> None:
    statuses = []
    for _ in range(5):
        response = await client.post("/api/v1/auth/login", json={"username": USERNAME, "password": "wrong-Password-1"})
        statuses.append(response.status_code)
    assert statuses == [401, 401, 401, 401, 423]
    response = await client.post("/api/v1/auth/login", json={"username": USERNAME, "password": PASSWORD})
    assert response.status_code == 423
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 423
    assert re.search(r"15 minute", body["detail"]), body
    assert "set-cookie" not in response.headers
    assert (await client.get("/api/v1/auth/me")).status_code == 401
