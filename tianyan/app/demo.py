"""`tianyan demo`: the platform filled with the Huizhou regions, a generated registry and one account per role."""

from __future__ import annotations

import os
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.app import demo_devices, demo_fleet
from tianyan.app.bootstrap import create_first_admin, generate_password
from tianyan.app.platform import Platform
from tianyan.app.server import serve
from tianyan.config import Config
from tianyan.core.errors import InvalidInput
from tianyan.registry.models import Camera, Region
from tianyan.registry.rules import CLASSES, NETWORKS
from tianyan.security import accounts
from tianyan.security.models import User
from tianyan.security.passwords import PasswordPolicy
from tianyan.security.roles import ROLE_NAMES_ZH, Role
from tianyan.sim.gb28181.profile import DeviceSpec
from tianyan.sim.huizhou import CITY, DISTRICT_BY_CODE, SECTOR_BY_LEAD, SECTORS, load_huizhou
from tianyan.sim.registry_gen import generate, load_registry

CREDENTIALS_FILE = "demo-accounts.txt"
MAX_CAMERAS = 200_000
MAX_NVRS = 64
EDUCATION = SECTOR_BY_LEAD["市教育局"]
SECTOR_BY_CODE = {sector.code: sector for sector in SECTORS}


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: Role
    display_name: str
    scope: accounts.ScopeSpec


# The administrator comes first and is made by bootstrap.create_first_admin, like `tianyan init` does.
ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("admin", Role.ADMIN, "Administrator", accounts.ScopeSpec.everything()),
    # A district operator watches its own police points and may pull class-2 points, which are on the social network.
    DemoAccount(
        "huiyang.operator", Role.OPERATOR, "惠阳分局监看员",
        accounts.ScopeSpec(regions=("441303",), networks=("police", "social"), classes=(1, 2)),
    ),
    DemoAccount("city.analyst", Role.ANALYST, "市局研判员", accounts.ScopeSpec.everything()),
    DemoAccount("maintainer", Role.MAINTAINER, "市局运维员", accounts.ScopeSpec.everything()),
    DemoAccount(
        "edu.industry", Role.INDUSTRY, "市教育局行业用户",
        accounts.ScopeSpec(all_regions=True, networks=("social",), classes=(2,), sector_code=EDUCATION.code),
    ),
    DemoAccount("auditor", Role.AUDITOR, "审计员", accounts.ScopeSpec.everything()),
)  # fmt: skip


def describe_scope(scope: accounts.ScopeSpec) -> str:
    if scope.all_regions:
        where = f"all of {CITY[1]}"
    else:
        where = ", ".join(f"{DISTRICT_BY_CODE[code].name} {code}" if code in DISTRICT_BY_CODE else code
                          for code in scope.regions)  # fmt: skip
    networks = "all networks" if set(scope.networks) == set(NETWORKS) else " + ".join(scope.networks) + " network"
    classes = "all classes" if set(scope.classes) == set(CLASSES) else "class " + ", ".join(map(str, scope.classes))
    sector = f"; sector {scope.sector_code} {SECTOR_BY_CODE[scope.sector_code].lead}" if scope.sector_code else ""
    return f"{where}; {networks}; {classes}{sector}"


async def seed_demo(
    session: AsyncSession, *, seed: int, cameras: int, policy: PasswordPolicy
) -> list[tuple[DemoAccount, str | None]]:
    """Regions, registry and accounts on an empty database. Returns each account with its password
    (None where the account already existed and was left alone). Flushes; the caller commits."""
    await load_huizhou(session)
    await load_registry(session, generate(seed=seed, cameras=cameras))
    created: list[tuple[DemoAccount, str | None]] = []
    existing = set((await session.execute(select(User.username))).scalars())
    has_admin = (await session.execute(select(User.id).where(User.role == Role.ADMIN.value).limit(1))).first()
    for account in ACCOUNTS:
        if account.username in existing or (account.role is Role.ADMIN and has_admin):
            created.append((account, None))
            continue
        if account.role is Role.ADMIN:
            password = await create_first_admin(session, username=account.username, policy=policy)
        else:
            password = generate_password(policy.min_length)
            await accounts.create_user(
                session, username=account.username, password=password, role=account.role.value,
                scope=account.scope, actor="demo", display_name=account.display_name, policy=policy, source="cli",
            )  # fmt: skip
        created.append((account, password))
    return created


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(1, width - _width(text))


def account_table(created: list[tuple[DemoAccount, str | None]]) -> str:
    rows = [("username", "role", "scope", "password")]
    for account, password in created:
        role = f"{account.role.value} {ROLE_NAMES_ZH[account.role]}"
        rows.append((account.username, role, describe_scope(account.scope), password or "(existed; unchanged)"))
    widths = [max(_width(row[i]) for row in rows) + 2 for i in range(3)]
    return "\n".join("  " + "".join(_pad(cell, w) for cell, w in zip(row[:3], widths, strict=False)) + row[3]
                     for row in rows)  # fmt: skip


def docs_url(config: Config) -> str:
    host = config.server.http_host
    host = "127.0.0.1" if host in ("0.0.0.0", "") else f"[{host}]" if ":" in host else host
    return f"http://{host}:{config.server.http_port}/api/v1/docs"


def console_url(config: Config) -> str:
    return docs_url(config).rsplit("/api/", 1)[0] + "/console/"


def write_credentials(path: Path, text: str) -> None:
    """Owner-only from the first byte: the file holds passwords."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.chmod(path, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(text)


def _rule(title: str) -> str:
    return f"\n{'=' * 100}\n {title}\n{'=' * 100}"


async def prepare(platform: Platform, *, seed: int, cameras: int, nvrs: int = 1) -> str:
    """Seed an empty database (or recognise an earlier demo) and return the banner to print."""
    config = platform.config
    credentials = (config.server.data_dir / CREDENTIALS_FILE).resolve()
    url = docs_url(config)
    login = f"Web console: {console_url(config)} (log in with an account below; zh-CN or English)"
    async with platform.sessions() as session:
        if (await session.execute(select(Region.id).limit(1))).first():
            count = (await session.execute(select(func.count()).select_from(Camera))).scalar_one()
            where = (
                f"The demo accounts and their passwords are in {credentials}"
                if credentials.exists()
                else f"No {CREDENTIALS_FILE} in {credentials.parent}; reset a password with `tianyan user passwd admin`"
            )
            specs = demo_devices.load(config.server.data_dir / demo_devices.DEVICES_FILE, password=config.sip.password)
            return "\n".join([
                _rule(f"Tianyan 天眼 demo: existing data kept ({count} cameras); nothing was regenerated"),
                f" API docs: {url}", f" {login}", f" {sip_line(config, specs)}", f" {media_line(config, specs)}",
                f" {health_line(config)}", f" {where}", "=" * 100,
            ])  # fmt: skip
        created = await seed_demo(session, seed=seed, cameras=cameras, policy=platform.auth.policy)
        specs = await demo_devices.create(session, seed=seed, password=config.sip.password, nvrs=nvrs)
        await session.commit()
    demo_devices.save(config.server.data_dir / demo_devices.DEVICES_FILE, specs)
    table = account_table(created)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    write_credentials(
        credentials,
        f"Tianyan demo accounts, created {stamp} (seed {seed}, {cameras} cameras).\n"
        f"API docs: {url}\nChange a password with `tianyan user passwd NAME`.\n\n{table}\n",
    )
    return "\n".join([
        _rule(f"Tianyan 天眼 demo: {CITY[1]}, {cameras} generated cameras (seed {seed})"),
        f" API docs: {url}", f" {login}", f" {sip_line(config, specs)}", f" {media_line(config, specs)}",
        f" {health_line(config)}", "", table, "",
        f" The passwords are shown once here and kept in {credentials} (mode 0600).", "=" * 100,
    ])  # fmt: skip


async def run_demo(config: Config, *, seed: int = 2012, cameras: int = 8000, nvrs: int = 1) -> None:
    """Open the platform, fill it on first run, print how to log in, and serve until stopped."""
    if not 0 <= cameras <= MAX_CAMERAS:
        raise InvalidInput(f"--cameras must be between 0 and {MAX_CAMERAS}, got {cameras}")
    if not 1 <= nvrs <= MAX_NVRS:
        raise InvalidInput(f"--nvrs must be between 1 and {MAX_NVRS}, got {nvrs}")
    if "record_classes" not in config.media.model_fields_set:
        # Every simulated camera encodes what it sends on this machine: the demo records the cameras given a plan of
        # their own (one a district, sub stream) rather than every class 1 and 2 camera.
        config.media.record_classes = []
    demo_health_pace(config)
    platform = await Platform.open(config)
    try:
        banner = await prepare(platform, seed=seed, cameras=cameras, nvrs=nvrs)
    except BaseException:
        await platform.close()
        raise
    print(banner, flush=True)
    await serve(config, platform=platform, after_start=demo_fleet.start_fleet_process)


def demo_health_pace(config: Config) -> None:
    """Diagnose every two minutes and open orders sooner, so a new user sees faults found within minutes; a value
    the user set is kept."""
    health = config.health
    for key, value in (("vqd_interval_s", 120), ("offline_order_after_s", 300), ("recheck_after_s", 120)):
        if key not in health.model_fields_set:
            setattr(health, key, value)


def media_line(config: Config, specs: list[DeviceSpec]) -> str:
    base = docs_url(config).rsplit("/api/", 1)[0]
    camera = specs[0].channel_ids[0] if specs else "CAMERA"
    return (
        f"Live view (after logging in): {base}/player?camera={camera}&mode=live ; one camera a district is "
        f"recorded to {config.recordings_dir} (tianyan recordings timeline {camera} --from ... --to ...)"
    )


def health_line(config: Config) -> str:
    base = docs_url(config).rsplit("/api/", 1)[0]
    return (
        f"Health: every online camera's picture is diagnosed every {config.health.vqd_interval_s} s (the NVR's "
        f"channels 2-8 show faults): {base}/api/v1/vqd/failures , {base}/api/v1/work-orders , KPIs against "
        f"{config.health.plan or 'no plan'}: {base}/api/v1/kpi (or `tianyan report kpi`), Prometheus: {base}/metrics"
    )


def sip_line(config: Config, specs: list[DeviceSpec]) -> str:
    kinds = Counter(spec.kind for spec in specs)
    cameras = sum(len(spec.channel_ids) for spec in specs)
    return (
        f"GB/T 28181 SIP server {config.sip.host}:{config.sip.port} (ID {config.sip.id}, domain {config.sip.domain}); "
        f"{len(specs)} simulated devices ({kinds['ipc']} IPCs, {kinds['nvr']} NVR, {kinds['vehicle']} patrol cars; "
        f"{cameras} cameras) register within seconds: GET /api/v1/devices?online=true"
    )
