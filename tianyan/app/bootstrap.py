"""First-run set-up: the first administrator, with a generated password shown once."""

from __future__ import annotations

import secrets
import string

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core.errors import Conflict
from tianyan.security import accounts
from tianyan.security.models import User
from tianyan.security.passwords import PasswordPolicy
from tianyan.security.roles import Role


def generate_password(min_length: int = 16) -> str:
    """Random, and always meeting the policy: every character class appears, at least 16 characters long."""
    length = max(16, min_length)
    alphabet = string.ascii_letters + string.digits + "-_.!@#%"
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if (
            any(c.islower() for c in candidate)
            and any(c.isupper() for c in candidate)
            and any(c.isdigit() for c in candidate)
            and any(not c.isalnum() for c in candidate)
        ):
            return candidate


async def create_first_admin(
    session: AsyncSession, *, username: str = "admin", password: str | None = None, policy: PasswordPolicy | None = None
) -> str:
    """Create the first administrator; refuses if any administrator exists. Returns the password."""
    policy = policy or PasswordPolicy()
    if (await session.execute(select(User.id).where(User.role == Role.ADMIN.value).limit(1))).first():
        raise Conflict("an administrator already exists; use `tianyan user passwd` to reset a password")
    secret = password or generate_password(policy.min_length)
    await accounts.create_user(
        session,
        username=username,
        password=secret,
        role=Role.ADMIN.value,
        scope=accounts.ScopeSpec.everything(),
        actor="init",
        display_name="Administrator",
        source="cli",
        policy=policy,
    )
    return secret
