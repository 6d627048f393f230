"""`tianyan user add|passwd|disable|enable|list`: accounts from the command line (audited as `cli`)."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from tianyan.cli.runtime import ConfigOption, fail, load_config, run, with_session
from tianyan.registry.models import Organisation
from tianyan.registry.rules import CLASSES, NETWORKS
from tianyan.security import accounts
from tianyan.security.models import User

app = typer.Typer(help="Manage accounts.", no_args_is_help=True)
ACTOR = "cli"


def _ask_password(given: str | None) -> str:
    if given:
        return given
    first = getpass.getpass("New password: ")
    if first != getpass.getpass("Repeat password: "):
        fail("the passwords differ")
    return first


@app.command()
def add(
    username: str,
    role: Annotated[str, typer.Option(help="admin, operator, analyst, maintainer, industry or auditor")],
    password: Annotated[str | None, typer.Option(help="prompted for when omitted")] = None,
    region: Annotated[list[str] | None, typer.Option(help="region code of a subtree in scope (repeatable)")] = None,
    all_regions: Annotated[bool, typer.Option("--all-regions", help="every region is in scope")] = False,
    network: Annotated[list[str] | None, typer.Option(help="police, social or local (repeatable; default all)")] = None,
    cls: Annotated[list[int] | None, typer.Option("--class", help="1, 2 or 3 (repeatable; default all)")] = None,
    sector: Annotated[str | None, typer.Option(help="industry sector code, for industry users")] = None,
    display_name: Annotated[str, typer.Option(help="name shown in the console")] = "",
    config: ConfigOption = None,
) -> None:
    """Create an account with a role and a scope."""
    secret = _ask_password(password)
    scope = accounts.ScopeSpec(
        all_regions=all_regions,
        regions=tuple(region or ()),
        networks=tuple(network or NETWORKS),
        classes=tuple(cls or CLASSES),
        sector_code=sector,
    )
    policy = _policy(config)

    async def work(session) -> None:  # type: ignore[no-untyped-def]
        await accounts.create_user(
            session, username=username, password=secret, role=role, scope=scope, actor=ACTOR,
            display_name=display_name, policy=policy, source="cli",
        )  # fmt: skip

    run(with_session(config, work))
    typer.echo(f"created {role} {username}")


def _policy(config: Path | None) -> accounts.PasswordPolicy:
    from tianyan.app.platform import auth_settings

    return auth_settings(load_config(config)).policy


@app.command()
def passwd(
    username: str,
    password: Annotated[str | None, typer.Option(help="prompted for when omitted")] = None,
    config: ConfigOption = None,
) -> None:
    """Set a new password (also clears a lockout and ends the account's sessions)."""
    secret = _ask_password(password)
    policy = _policy(config)

    async def work(session) -> None:  # type: ignore[no-untyped-def]
        user = await accounts.get_user(session, username)
        await accounts.set_password(session, user=user, password=secret, actor=ACTOR, policy=policy, source="cli")

    run(with_session(config, work))
    typer.echo(f"password of {username} changed")


def _set_disabled(username: str, disabled: bool, config: Path | None) -> None:
    async def work(session) -> None:  # type: ignore[no-untyped-def]
        user = await accounts.get_user(session, username)
        await accounts.set_disabled(session, user=user, disabled=disabled, actor=ACTOR, source="cli")

    run(with_session(config, work))


@app.command()
def disable(username: str, config: ConfigOption = None) -> None:
    """Disable an account: it can no longer log in, and its sessions and API keys end."""
    _set_disabled(username, True, config)
    typer.echo(f"{username} disabled")


@app.command()
def enable(username: str, config: ConfigOption = None) -> None:
    """Enable a disabled account again."""
    _set_disabled(username, False, config)
    typer.echo(f"{username} enabled")


@app.command("list")
def list_users(config: ConfigOption = None) -> None:
    """List accounts with role, state and scope."""

    async def work(session) -> tuple[list[User], dict[int, str]]:  # type: ignore[no-untyped-def]
        users = list((await session.execute(select(User).order_by(User.username))).scalars())
        sectors = select(Organisation.id, Organisation.code).where(Organisation.kind == "sector")
        return users, dict((await session.execute(sectors)).tuples().all())

    users, sector_codes = run(with_session(config, work))
    for user in users:
        state = "disabled" if user.disabled else "active"
        typer.echo(f"{user.username:20} {user.role:11} {state:8} {_scope_text(user, sector_codes)}")


def _scope_text(user: User, sector_codes: dict[int, str]) -> str:
    """Every part of the scope: regions x networks x classes, and the sector of an industry user."""
    where = "all regions" if user.all_regions else ",".join(user.scope_regions or []) or "no regions"
    networks = sorted(user.scope_networks or [])
    classes = sorted(user.scope_classes or [])
    if set(networks) == set(NETWORKS):
        network_text = "all networks"
    else:
        network_text = "+".join(networks) if networks else "no networks"
    if set(classes) == set(CLASSES):
        class_text = "all classes"
    else:
        class_text = "class " + ",".join(map(str, classes)) if classes else "no classes"
    parts = [where, network_text, class_text]
    if user.sector_id is not None:
        parts.append(f"sector {sector_codes.get(user.sector_id, user.sector_id)}")
    return "; ".join(parts)
