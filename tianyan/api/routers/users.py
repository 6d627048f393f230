"""Account administration: users, roles, scopes, enable/disable, passwords, sensitive-camera grants."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from tianyan.api.deps import CurrentPlatform, CurrentPrincipal, DbSession
from tianyan.core.errors import Conflict, NotFound
from tianyan.registry.models import Camera, Organisation
from tianyan.registry.rules import CLASSES, NETWORKS
from tianyan.security import accounts, audit
from tianyan.security.models import SensitiveGrant, User
from tianyan.security.roles import Permission

router = APIRouter(tags=["users"])


class ScopeIn(BaseModel):
    all_regions: bool = False
    regions: list[str] = Field(default_factory=list)
    networks: list[str] = Field(default_factory=lambda: list(NETWORKS))
    classes: list[int] = Field(default_factory=lambda: list(CLASSES))
    sector: str | None = None

    def spec(self) -> accounts.ScopeSpec:
        return accounts.ScopeSpec(
            all_regions=self.all_regions,
            regions=tuple(self.regions),
            networks=tuple(self.networks),
            classes=tuple(self.classes),
            sector_code=self.sector,
        )


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)
    role: str
    display_name: str = Field("", max_length=100)
    scope: ScopeIn = Field(default_factory=ScopeIn)


class UserPatch(BaseModel):
    role: str | None = None
    disabled: bool | None = None
    password: str | None = Field(None, max_length=200)
    scope: ScopeIn | None = None


class UserOut(BaseModel):
    username: str
    display_name: str
    role: str
    disabled: bool
    locked_until: datetime | None
    totp_enabled: bool
    all_regions: bool
    regions: list[str]
    networks: list[str]
    classes: list[int]
    sector: str | None
    created_at: datetime


async def _out(session: DbSession, user: User) -> UserOut:
    sector = await session.get(Organisation, user.sector_id) if user.sector_id else None
    return UserOut(
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        disabled=user.disabled,
        locked_until=user.locked_until,
        totp_enabled=user.totp_enabled,
        all_regions=user.all_regions,
        regions=list(user.scope_regions or []),
        networks=list(user.scope_networks or []),
        classes=list(user.scope_classes or []),
        sector=sector.code if sector else None,
        created_at=user.created_at,
    )


@router.get("/users", response_model=list[UserOut])
async def list_users(principal: CurrentPrincipal, session: DbSession):
    principal.require(Permission.USER_MANAGE)
    users = (await session.execute(select(User).order_by(User.username))).scalars().all()
    return [await _out(session, user) for user in users]


@router.post("/users", response_model=UserOut, status_code=201)
async def create_user(body: UserIn, principal: CurrentPrincipal, session: DbSession, platform: CurrentPlatform):
    principal.require(Permission.USER_MANAGE)
    user = await accounts.create_user(
        session,
        username=body.username,
        password=body.password,
        role=body.role,
        display_name=body.display_name,
        scope=body.scope.spec(),
        actor=principal.username,
        policy=platform.auth.policy,
        source=principal.source,
    )
    return await _out(session, user)


@router.get("/users/{username}", response_model=UserOut)
async def get_user(username: str, principal: CurrentPrincipal, session: DbSession):
    principal.require(Permission.USER_MANAGE)
    return await _out(session, await accounts.get_user(session, username))


@router.patch("/users/{username}", response_model=UserOut)
async def update_user(
    username: str, body: UserPatch, principal: CurrentPrincipal, session: DbSession, platform: CurrentPlatform
):
    principal.require(Permission.USER_MANAGE)
    user = await accounts.get_user(session, username)
    who = {"actor": principal.username, "source": principal.source}
    if body.role is not None:
        await accounts.set_role(session, user=user, role=body.role, **who)
    if body.scope is not None:
        await accounts.set_scope(session, user=user, scope=body.scope.spec(), **who)
    if body.password is not None:
        await accounts.set_password(
            session, user=user, password=body.password, policy=platform.auth.policy, clock=platform.clock, **who
        )
    if body.disabled is not None:
        await accounts.set_disabled(session, user=user, disabled=body.disabled, **who)
    return await _out(session, user)


class GrantIn(BaseModel):
    camera: str = Field(description="GB ID of a sensitive camera")


@router.get("/users/{username}/grants", response_model=list[str])
async def list_grants(username: str, principal: CurrentPrincipal, session: DbSession):
    principal.require(Permission.USER_MANAGE)
    user = await accounts.get_user(session, username)
    query = select(Camera.gb_id).join(SensitiveGrant, SensitiveGrant.camera_id == Camera.id)
    return list((await session.execute(query.where(SensitiveGrant.user_id == user.id))).scalars())


@router.post("/users/{username}/grants", status_code=201)
async def grant(username: str, body: GrantIn, principal: CurrentPrincipal, session: DbSession) -> dict[str, str]:
    principal.require(Permission.USER_MANAGE)
    user = await accounts.get_user(session, username)
    camera = (await session.execute(select(Camera).where(Camera.gb_id == body.camera))).scalar_one_or_none()
    if camera is None:
        raise NotFound(f"no camera {body.camera}")
    exists = await session.execute(
        select(SensitiveGrant.id).where(SensitiveGrant.user_id == user.id, SensitiveGrant.camera_id == camera.id)
    )
    if exists.first():
        raise Conflict(f"{username} already holds a grant for {body.camera}")
    session.add(SensitiveGrant(user_id=user.id, camera_id=camera.id, granted_by=principal.username))
    await audit.record(
        session,
        actor=principal.username,
        source=principal.source,
        action="grant.create",
        target=f"camera:{body.camera}",
        detail={"user": username},
    )
    return {"user": username, "camera": body.camera}


@router.delete("/users/{username}/grants/{camera}", status_code=204)
async def revoke_grant(username: str, camera: str, principal: CurrentPrincipal, session: DbSession) -> None:
    principal.require(Permission.USER_MANAGE)
    user = await accounts.get_user(session, username)
    row = (
        await session.execute(
            select(SensitiveGrant)
            .join(Camera, SensitiveGrant.camera_id == Camera.id)
            .where(SensitiveGrant.user_id == user.id, Camera.gb_id == camera)
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"{username} holds no grant for {camera}")
    await session.delete(row)
    await audit.record(
        session,
        actor=principal.username,
        source=principal.source,
        action="grant.revoke",
        target=f"camera:{camera}",
        detail={"user": username},
    )
