"""Accounts: create users and change their roles, scopes, passwords and state, each audited."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core.clock import Clock, SystemClock
from tianyan.core.errors import Conflict, InvalidInput, NotFound
from tianyan.registry.models import Organisation, Region
from tianyan.registry.rules import CLASSES, NETWORKS
from tianyan.security import audit
from tianyan.security.models import ApiKey, LoginSession, User
from tianyan.security.passwords import PasswordPolicy, check_policy, hash_password
from tianyan.security.roles import Role
from tianyan.security.scope import Principal


@dataclass(frozen=True)
class ScopeSpec:
    """What an administrator states about an account's scope."""

    all_regions: bool = False
    regions: tuple[str, ...] = ()
    networks: tuple[str, ...] = NETWORKS
    classes: tuple[int, ...] = CLASSES
    sector_code: str | None = None

    @classmethod
    def everything(cls) -> ScopeSpec:
        return cls(all_regions=True)


async def _apply_scope(session: AsyncSession, user: User, scope: ScopeSpec) -> None:
    bad_networks = set(scope.networks) - set(NETWORKS)
    if bad_networks:
        raise InvalidInput(f"unknown network(s) {sorted(bad_networks)}; expected some of {list(NETWORKS)}")
    bad_classes = set(scope.classes) - set(CLASSES)
    if bad_classes:
        raise InvalidInput(f"unknown class(es) {sorted(bad_classes)}; expected some of {list(CLASSES)}")
    if scope.regions:
        found = set((await session.execute(select(Region.code).where(Region.code.in_(scope.regions)))).scalars())
        missing = [code for code in scope.regions if code not in found]
        if missing:
            raise InvalidInput(f"unknown region code(s) {missing}")
    sector_id = None
    if scope.sector_code is not None:
        sector_id = (
            await session.execute(
                select(Organisation.id).where(Organisation.code == scope.sector_code, Organisation.kind == "sector")
            )
        ).scalar_one_or_none()
        if sector_id is None:
            raise InvalidInput(f"unknown industry sector {scope.sector_code!r}")
    if user.role == Role.INDUSTRY.value and sector_id is None:
        raise InvalidInput("an industry user needs the industry sector it belongs to")
    user.all_regions = scope.all_regions
    user.scope_regions = list(scope.regions)
    user.scope_networks = sorted(set(scope.networks))
    user.scope_classes = sorted(set(scope.classes))
    user.sector_id = sector_id


async def get_user(session: AsyncSession, username: str) -> User:
    user = (await session.execute(select(User).where(User.username == username))).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user


async def create_user(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    role: str,
    scope: ScopeSpec,
    actor: str,
    display_name: str = "",
    policy: PasswordPolicy | None = None,
    source: str = "",
) -> User:
    if not username or len(username) > 64 or not all(c.isalnum() or c in "._-" for c in username):
        raise InvalidInput("username must be 1-64 letters, digits, '.', '_' or '-'")
    try:
        Role(role)
    except ValueError as exc:
        raise InvalidInput(f"unknown role {role!r}; expected one of {[r.value for r in Role]}") from exc
    check_policy(password, username=username, policy=policy or PasswordPolicy())
    if (await session.execute(select(User.id).where(User.username == username))).first():
        raise Conflict(f"user {username!r} already exists")
    user = User(username=username, display_name=display_name, role=role, password_hash=hash_password(password))
    await _apply_scope(session, user, scope)
    session.add(user)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        source=source,
        action="user.create",
        target=f"user:{username}",
        detail={"role": role, "scope": scope_summary(user)},
    )
    return user


def scope_summary(user: User) -> dict[str, object]:
    return {
        "all_regions": user.all_regions,
        "regions": list(user.scope_regions or []),
        "networks": list(user.scope_networks or []),
        "classes": list(user.scope_classes or []),
        "sector_id": user.sector_id,
    }


async def set_scope(session: AsyncSession, *, user: User, scope: ScopeSpec, actor: str, source: str = "") -> None:
    before = scope_summary(user)
    await _apply_scope(session, user, scope)
    await audit.record(
        session,
        actor=actor,
        source=source,
        action="user.scope",
        target=f"user:{user.username}",
        detail={"before": before, "after": scope_summary(user)},
    )


async def set_role(session: AsyncSession, *, user: User, role: str, actor: str, source: str = "") -> None:
    try:
        Role(role)
    except ValueError as exc:
        raise InvalidInput(f"unknown role {role!r}") from exc
    before, user.role = user.role, role
    await audit.record(
        session,
        actor=actor,
        source=source,
        action="user.role",
        target=f"user:{user.username}",
        detail={"before": before, "after": role},
    )


async def set_password(
    session: AsyncSession,
    *,
    user: User,
    password: str,
    actor: str,
    policy: PasswordPolicy | None = None,
    source: str = "",
    clock: Clock | None = None,
) -> None:
    check_policy(password, username=user.username, policy=policy or PasswordPolicy())
    user.password_hash = hash_password(password)
    user.password_changed_at = (clock or SystemClock()).now()
    user.failed_logins = 0
    user.locked_until = None
    await _end_sessions(session, user)
    await audit.record(session, actor=actor, source=source, action="user.password", target=f"user:{user.username}")


async def set_disabled(session: AsyncSession, *, user: User, disabled: bool, actor: str, source: str = "") -> None:
    user.disabled = disabled
    if disabled:
        await _end_sessions(session, user)
    await audit.record(
        session,
        actor=actor,
        source=source,
        action="user.disable" if disabled else "user.enable",
        target=f"user:{user.username}",
    )


async def _end_sessions(session: AsyncSession, user: User) -> None:
    for row in (await session.execute(select(LoginSession).where(LoginSession.user_id == user.id))).scalars():
        await session.delete(row)
    for key in (await session.execute(select(ApiKey).where(ApiKey.user_id == user.id))).scalars():
        key.revoked = True


async def principal_for(session: AsyncSession, user: User, *, source: str = "") -> Principal:
    paths: tuple[str, ...] = ()
    if user.scope_regions and not user.all_regions:
        paths = tuple((await session.execute(select(Region.path).where(Region.code.in_(user.scope_regions)))).scalars())
    return Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,
        all_regions=user.all_regions,
        region_paths=paths,
        networks=frozenset(user.scope_networks or ()),
        classes=frozenset(int(c) for c in (user.scope_classes or ())),
        sector_id=user.sector_id,
        source=source,
    )
