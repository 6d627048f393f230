"""The access matrix: each role x scope x network x class x sensitive flag, allowed and denied, for list, read
and change. What each account should see is worked out here from the camera facts alone (region subtree,
network, class, the industry user's sector, the sensitive flag and its grants), never from the code under test."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.registry_fixtures import (
    CITY,
    HUICHENG,
    HUICHENG_STATION,
    HUIYANG,
    HUIYANG_STATION,
    PROVINCE,
    CameraFacts,
    Registry,
    add_user,
    api_key,
    build_registry,
    grant,
)
from tianyan.core import gbid
from tianyan.core.errors import Forbidden, NotFound
from tianyan.registry import service
from tianyan.registry.models import Camera, Organisation, Region
from tianyan.registry.schemas import CameraIn, CameraPatch
from tianyan.security.accounts import principal_for
from tianyan.security.models import AuditEntry, User
from tianyan.security.scope import Principal, check_attributes

T = TypeVar("T")

ROLES = ("admin", "operator", "analyst", "maintainer", "industry", "auditor")
# From the issue: administrators, maintainers and industry users manage cameras; the others only read them.
WRITERS = frozenset({"admin", "maintainer", "industry"})
ALL_NETWORKS = frozenset({"police", "social", "local"})
ALL_CLASSES = frozenset({1, 2, 3})
# The region tree build_registry makes, child -> parent.
PARENT = {HUICHENG_STATION: HUICHENG, HUIYANG_STATION: HUIYANG, HUICHENG: CITY, HUIYANG: CITY, CITY: PROVINCE}
HUICHENG_SIDE = frozenset({HUICHENG, HUICHENG_STATION})


def lineage(region: str) -> set[str]:
    """The region and every region above it: a scope on any of them covers a camera placed here."""
    found = {region}
    while region in PARENT:
        region = PARENT[region]
        found.add(region)
    return found


@dataclass(frozen=True)
class Scope:
    all_regions: bool = False
    regions: tuple[str, ...] = ()
    networks: frozenset[str] = ALL_NETWORKS
    classes: frozenset[int] = ALL_CLASSES
    sector: str | None = "S-EDU"  # only an industry account is given (and bound by) a sector


SCOPES: dict[str, Scope] = {
    "all regions": Scope(all_regions=True),
    "city subtree": Scope(regions=(CITY,)),
    "huiyang district with its station": Scope(regions=(HUIYANG,)),
    "huicheng station only": Scope(regions=(HUICHENG_STATION,)),
    "both stations": Scope(regions=(HUICHENG_STATION, HUIYANG_STATION)),
    "social network only": Scope(all_regions=True, networks=frozenset({"social"})),
    "huicheng police+local class 1": Scope(
        regions=(HUICHENG,), networks=frozenset({"police", "local"}), classes=frozenset({1})
    ),
    "huiyang classes 2+3": Scope(regions=(HUIYANG,), classes=frozenset({2, 3})),
    "all regions, health sector": Scope(all_regions=True, sector="S-HEALTH"),
    "all regions, no sector": Scope(all_regions=True, sector=None),
    "no regions": Scope(),
    "no networks": Scope(all_regions=True, networks=frozenset()),
}
HUIYANG_SCOPE = SCOPES["huiyang district with its station"]


def visible(camera: CameraFacts, role: str, scope: Scope, granted: frozenset[int]) -> bool:
    """The rule as the issue states it, from the facts alone."""
    in_region = scope.all_regions or bool(lineage(camera.region) & set(scope.regions))
    in_sector = role != "industry" or (camera.sector is not None and camera.sector == scope.sector)
    sensitive_ok = not camera.sensitive or role == "admin" or camera.id in granted
    return in_region and camera.network in scope.networks and camera.cls in scope.classes and in_sector and sensitive_ok


def expected(registry: Registry, role: str, scope: Scope, granted: frozenset[int]) -> set[str]:
    return {c.gb_id for c in registry.cameras if visible(c, role, scope, granted)}


def describe(registry: Registry, gb_ids: set[str]) -> list[str]:
    def label(c: CameraFacts) -> str:
        return f"{c.region}/{c.network}/class {c.cls}/{c.sector or 'no sector'}{'/sensitive' if c.sensitive else ''}"

    return sorted(label(registry.by_gb_id(g)) for g in gb_ids)


def diff(registry: Registry, got: set[str], want: set[str]) -> dict[str, list[str]]:
    return {"missing": describe(registry, want - got), "extra": describe(registry, got - want)}


def half_the_sensitive(registry: Registry) -> frozenset[int]:
    """Every other sensitive camera: in and out of any scope, so a grant is seen not to widen a scope."""
    return frozenset([c.id for c in registry.cameras if c.sensitive][::2])


@dataclass(frozen=True)
class Account:
    user: User
    principal: Principal
    scope: Scope
    granted: frozenset[int]


async def account(
    session: AsyncSession, name: str, role: str, scope: Scope, granted: frozenset[int] = frozenset()
) -> Account:
    user = await add_user(
        session,
        name,
        role,
        all_regions=scope.all_regions,
        regions=scope.regions,
        networks=scope.networks,
        classes=scope.classes,
        sector=scope.sector if role == "industry" else None,
    )
    await grant(session, [(user.id, camera_id) for camera_id in granted])
    await session.commit()
    return Account(user=user, principal=await principal_for(session, user), scope=scope, granted=granted)


async def accounts_for(session: AsyncSession, registry: Registry, role: str) -> dict[str, Account]:
    granted = half_the_sensitive(registry)
    return {
        name: await account(session, f"{role}{i}", role, scope, granted)
        for i, (name, scope) in enumerate(SCOPES.items())
    }


async def as_request(session: AsyncSession, call: Awaitable[T]) -> T:
    """Like one API request: committed when the call returns, rolled back when it raises."""
    try:
        result = await call
    except BaseException:
        await session.rollback()
        raise
    await session.commit()
    return result


async def listed(session: AsyncSession, principal: Principal) -> tuple[set[str], int]:
    page = await service.list_cameras(session, principal=principal, limit=1000)
    assert page.next_after is None
    return {c.gb_id for c in page.items}, page.total


@dataclass(frozen=True)
class Row:
    name: str
    network: str
    cls: int
    region: str
    sector: str | None
    sensitive: bool


async def stored_rows(session: AsyncSession) -> dict[str, Row]:
    """What the database holds now, read afresh."""
    await session.commit()
    sector = Organisation.__table__.alias("sector")
    query = (
        select(Camera.gb_id, Camera.name, Camera.network, Camera.cls, Region.code, sector.c.code, Camera.sensitive)
        .join(Region, Camera.region_id == Region.id)
        .outerjoin(sector, Camera.sector_id == sector.c.id)
    )
    return {gb_id: Row(*rest) for gb_id, *rest in (await session.execute(query)).all()}


@pytest.fixture
async def registry(session: AsyncSession) -> Registry:
    return await build_registry(session)


def test_the_registry_covers_every_combination(registry: Registry) -> None:
    combos = {(c.region, c.network, c.cls, c.sensitive) for c in registry.cameras}
    assert len(combos) == len(registry.cameras) == 4 * 3 * 3 * 2
    assert {c.sector for c in registry.cameras} == {"S-EDU", "S-HEALTH", None}


# --- the examples the issue names -----------------------------------------------------------------


async def test_a_huiyang_operator_never_sees_a_huicheng_camera(session: AsyncSession, registry: Registry) -> None:
    operator = await account(session, "huiyang-op", "operator", HUIYANG_SCOPE)
    seen, _ = await listed(session, operator.principal)
    regions = {registry.by_gb_id(g).region for g in seen}
    assert regions == {HUIYANG, HUIYANG_STATION}  # the district and the station under it
    for camera in registry.cameras:
        if camera.region in HUICHENG_SIDE:
            with pytest.raises(NotFound):
                await service.get_camera(session, principal=operator.principal, gb_id=camera.gb_id)


async def test_a_social_network_user_never_sees_a_police_network_camera(
    session: AsyncSession, registry: Registry
) -> None:
    user = await account(session, "social-op", "operator", SCOPES["social network only"])
    seen, _ = await listed(session, user.principal)
    assert seen
    assert {registry.by_gb_id(g).network for g in seen} == {"social"}
    for camera in registry.cameras:
        if camera.network == "police":
            with pytest.raises(NotFound):
                await service.get_camera(session, principal=user.principal, gb_id=camera.gb_id)


async def test_sensitive_cameras_need_an_explicit_grant(session: AsyncSession, registry: Registry) -> None:
    sensitive = [c for c in registry.cameras if c.sensitive]
    chosen = sensitive[0]
    everything = SCOPES["all regions"]
    without = await account(session, "no-grant", "operator", everything)
    with_one = await account(session, "one-grant", "operator", everything, frozenset({chosen.id}))
    admin = await account(session, "boss", "admin", everything)

    seen, _ = await listed(session, without.principal)
    assert not {g for g in seen if registry.by_gb_id(g).sensitive}
    assert len(seen) == len(registry.cameras) - len(sensitive)
    with pytest.raises(NotFound):
        await service.get_camera(session, principal=without.principal, gb_id=chosen.gb_id)

    seen, _ = await listed(session, with_one.principal)
    assert {g for g in seen if registry.by_gb_id(g).sensitive} == {chosen.gb_id}
    assert (await service.get_camera(session, principal=with_one.principal, gb_id=chosen.gb_id)).sensitive

    seen, _ = await listed(session, admin.principal)  # administrators see sensitive cameras without a grant
    assert seen == {c.gb_id for c in registry.cameras}


async def test_a_grant_does_not_reach_outside_the_scope(session: AsyncSession, registry: Registry) -> None:
    huicheng_sensitive = next(c for c in registry.cameras if c.sensitive and c.region == HUICHENG)
    operator = await account(session, "op", "operator", HUIYANG_SCOPE, frozenset({huicheng_sensitive.id}))
    seen, _ = await listed(session, operator.principal)
    assert huicheng_sensitive.gb_id not in seen
    with pytest.raises(NotFound):
        await service.get_camera(session, principal=operator.principal, gb_id=huicheng_sensitive.gb_id)


async def test_an_industry_user_sees_only_its_own_sector(session: AsyncSession, registry: Registry) -> None:
    user = await account(session, "school", "industry", SCOPES["all regions"])
    seen, _ = await listed(session, user.principal)
    assert seen
    assert {registry.by_gb_id(g).sector for g in seen} == {"S-EDU"}


# --- list and read, every role x scope ------------------------------------------------------------


# Reading every camera under every scope would cost thousands of queries; these scopes vary every dimension.
READ_SCOPES = ("huiyang district with its station", "huicheng police+local class 1", "social network only")


async def readable(session: AsyncSession, registry: Registry, principal: Principal) -> set[str]:
    """The cameras get_camera hands over, asking for each one by its ID."""
    found = set()
    for camera in registry.cameras:
        try:
            out = await service.get_camera(session, principal=principal, gb_id=camera.gb_id)
        except NotFound:  # never Forbidden: that would tell the camera exists
            continue
        assert (out.network, out.cls, out.sensitive) == (camera.network, camera.cls, camera.sensitive)
        found.add(camera.gb_id)
    return found


@pytest.mark.parametrize("role", ROLES)
async def test_list_and_read_show_exactly_the_cameras_in_scope(
    session: AsyncSession, registry: Registry, role: str
) -> None:
    wrong: dict[str, Any] = {}
    sizes = set()
    for name, acct in (await accounts_for(session, registry, role)).items():
        want = expected(registry, role, acct.scope, acct.granted)
        sizes.add(len(want))
        got, total = await listed(session, acct.principal)
        if got != want or total != len(want):
            wrong[f"{name}: list"] = {"total": total, **diff(registry, got, want)}
        if name in READ_SCOPES:
            got = await readable(session, registry, acct.principal)
            if got != want:
                wrong[f"{name}: read"] = diff(registry, got, want)
    assert wrong == {}
    assert len(sizes) > 3  # the scopes really differ, so the comparison says something


async def test_an_out_of_scope_camera_reads_exactly_like_a_missing_one(
    session: AsyncSession, registry: Registry
) -> None:
    operator = await account(session, "op", "operator", HUIYANG_SCOPE)
    hidden = next(c for c in registry.cameras if c.region == HUICHENG)
    missing = gbid.build(centre=HUICHENG, serial=999_999).value
    errors = []
    for gb_id in (hidden.gb_id, missing):
        with pytest.raises(NotFound) as caught:
            await service.get_camera(session, principal=operator.principal, gb_id=gb_id)
        errors.append(caught.value.detail.replace(gb_id, "<id>"))
    assert errors[0] == errors[1]


# --- change ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
async def test_editing_needs_camera_write_and_the_camera_in_scope(
    session: AsyncSession, registry: Registry, role: str
) -> None:
    acct = await account(session, "writer", role, HUIYANG_SCOPE, half_the_sensitive(registry))
    before = await stored_rows(session)
    outcomes: dict[str, str] = {}
    for camera in registry.cameras:
        patch = CameraPatch(name=f"改名 {camera.id}")
        try:
            await as_request(
                session,
                service.update_camera(session, principal=acct.principal, gb_id=camera.gb_id, patch=patch),
            )
            outcomes[camera.gb_id] = "ok"
        except (Forbidden, NotFound) as exc:
            outcomes[camera.gb_id] = type(exc).__name__
    in_scope = expected(registry, role, acct.scope, acct.granted)
    if role in WRITERS:
        assert {g for g, o in outcomes.items() if o == "ok"} == in_scope
        assert {o for g, o in outcomes.items() if g not in in_scope} == {"NotFound"}  # out of scope looks absent
    else:
        assert set(outcomes.values()) == {"Forbidden"}
    after = await stored_rows(session)
    renamed = {g for g in after if after[g].name != before[g].name}
    assert renamed == (in_scope if role in WRITERS else set())


@pytest.mark.parametrize("role", ROLES)
async def test_deleting_needs_camera_write_and_the_camera_in_scope(
    session: AsyncSession, registry: Registry, role: str
) -> None:
    acct = await account(session, "writer", role, HUIYANG_SCOPE, half_the_sensitive(registry))
    refusals: set[str] = set()
    for camera in registry.cameras:
        try:
            await as_request(session, service.delete_camera(session, principal=acct.principal, gb_id=camera.gb_id))
        except (Forbidden, NotFound) as exc:
            refusals.add(type(exc).__name__)
    in_scope = expected(registry, role, acct.scope, acct.granted)
    remaining = set(await stored_rows(session))
    everything = {c.gb_id for c in registry.cameras}
    if role in WRITERS:
        assert remaining == everything - in_scope
        assert refusals == {"NotFound"}
    else:
        assert remaining == everything
        assert refusals == {"Forbidden"}


def new_camera(serial: int, **fields: Any) -> CameraIn:
    data: dict[str, Any] = {
        "gb_id": gbid.build(centre=HUIYANG, serial=serial).value,
        "name": f"新点位 {serial}",
        "class": 1,
        "network": "police",
        "region": HUIYANG_STATION,
        "sector": "S-EDU",
    }
    data.update(fields)
    return CameraIn.model_validate(data)


@pytest.mark.parametrize("role", ROLES)
async def test_creating_needs_camera_write_and_a_camera_inside_the_scope(
    session: AsyncSession, registry: Registry, role: str
) -> None:
    acct = await account(session, "writer", role, HUIYANG_SCOPE)
    inside = new_camera(900_001)
    outside = new_camera(900_002, region=HUICHENG)

    async def create(data: CameraIn) -> str:
        try:
            await as_request(session, service.create_camera(session, principal=acct.principal, data=data))
        except Forbidden:
            return "Forbidden"
        return "ok"

    assert await create(inside) == ("ok" if role in WRITERS else "Forbidden")
    assert await create(outside) == "Forbidden"
    stored = await stored_rows(session)
    assert (inside.gb_id in stored) == (role in WRITERS)
    assert outside.gb_id not in stored


# The writer's scope: 惠阳区 (with its station), police and local networks, classes 1 and 2, sector S-EDU.
NARROW = Scope(regions=(HUIYANG,), networks=frozenset({"police", "local"}), classes=frozenset({1, 2}))
WRITER_ROLES = ("maintainer", "industry")


def narrow_target(registry: Registry) -> CameraFacts:
    """A camera inside NARROW for every role: 惠阳区, police, class 2, not sensitive, sector S-EDU."""
    wanted = (HUIYANG, "police", 2, False, "S-EDU")
    return next(c for c in registry.cameras if (c.region, c.network, c.cls, c.sensitive, c.sector) == wanted)


LEAVING = {
    "network to one outside the scope": {"network": "social"},
    "region to the other district": {"region": HUICHENG},
    "region to the other district's station": {"region": HUICHENG_STATION},
    "region to the whole city (above the scope)": {"region": CITY},
    "class to one outside the scope": {"class": 3},
    "sensitive without a grant": {"sensitive": True},
}
LEAVING_SECTOR = {"sector to another sector": {"sector": "S-HEALTH"}, "sector removed": {"sector": None}}
STAYING = {
    "region to the station inside the district": {"region": HUIYANG_STATION},
    "network to another one inside the scope": {"network": "local"},
    "class to another one inside the scope": {"class": 1},
    "name": {"name": "东门"},
}


async def audited_updates(session: AsyncSession) -> int:
    query = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "camera.update")
    return (await session.execute(query)).scalar_one()


@pytest.mark.parametrize("role", WRITER_ROLES)
async def test_a_change_that_would_move_a_camera_out_of_scope_is_refused(
    session: AsyncSession, registry: Registry, role: str
) -> None:
    target = narrow_target(registry)
    writer = await account(session, "writer", role, NARROW)
    assert visible(target, role, NARROW, frozenset())
    before = await stored_rows(session)
    outcomes = {}
    for label, change in (LEAVING | (LEAVING_SECTOR if role == "industry" else {})).items():
        patch = CameraPatch.model_validate(change)
        try:
            await as_request(
                session,
                service.update_camera(session, principal=writer.principal, gb_id=target.gb_id, patch=patch),
            )
            outcomes[label] = "accepted"
        except Forbidden:
            outcomes[label] = "Forbidden"
    assert set(outcomes.values()) == {"Forbidden"}, outcomes
    assert await stored_rows(session) == before
    assert await audited_updates(session) == 0


@pytest.mark.parametrize("role", WRITER_ROLES)
async def test_a_change_that_stays_inside_the_scope_goes_through(
    session: AsyncSession, registry: Registry, role: str
) -> None:
    """The control for the refusals above: they are about scope, not about editing those fields."""
    target = narrow_target(registry)
    writer = await account(session, "writer", role, NARROW)
    # A maintainer is not bound to a sector; an industry user is (above).
    changes = STAYING | ({"sector to another sector": {"sector": "S-HEALTH"}} if role == "maintainer" else {})
    for label, change in changes.items():
        patch = CameraPatch.model_validate(change)
        await as_request(
            session, service.update_camera(session, principal=writer.principal, gb_id=target.gb_id, patch=patch)
        )
        row = (await stored_rows(session))[target.gb_id]
        [(field, value)] = change.items()
        assert getattr(row, "cls" if field == "class" else field) == value, label
    assert await audited_updates(session) == len(changes)


async def test_a_writer_with_a_grant_or_an_admin_may_mark_a_camera_sensitive(
    session: AsyncSession, registry: Registry
) -> None:
    target = narrow_target(registry)
    granted = await account(session, "granted", "maintainer", NARROW, frozenset({target.id}))
    admin = await account(session, "boss", "admin", NARROW)
    for who, value in ((granted, True), (admin, False), (admin, True)):
        out = await as_request(
            session,
            service.update_camera(
                session, principal=who.principal, gb_id=target.gb_id, patch=CameraPatch(sensitive=value)
            ),
        )
        assert out.sensitive is value
        assert (await stored_rows(session))[target.gb_id].sensitive is value


CREATE_OUTSIDE = {
    "network": {"network": "social"},
    "class": {"class": 3},
    "region": {"region": HUICHENG},
    "sensitive without a grant": {"sensitive": True},
    "another sector": {"sector": "S-HEALTH"},
}


async def test_creating_a_camera_outside_the_scope_is_refused(session: AsyncSession, registry: Registry) -> None:
    writer = await account(session, "writer", "industry", NARROW)
    outcomes = {}
    for label, fields in CREATE_OUTSIDE.items():
        data = new_camera(900_100, **fields)
        try:
            await as_request(session, service.create_camera(session, principal=writer.principal, data=data))
            outcomes[label] = "accepted"
        except Forbidden:
            outcomes[label] = "Forbidden"
    assert set(outcomes.values()) == {"Forbidden"}, outcomes
    assert new_camera(900_100).gb_id not in await stored_rows(session)
    # The same camera inside the scope is accepted, so it was the attribute that was refused.
    await as_request(session, service.create_camera(session, principal=writer.principal, data=new_camera(900_100)))
    assert new_camera(900_100).gb_id in await stored_rows(session)


HUIYANG_PATH = f"/{PROVINCE}/{CITY}/{HUIYANG}/"
# check_attributes is the rule the importer applies row by row, before anything is written.
ATTRIBUTE_CASES = {
    "inside": (HUIYANG_PATH, "police", 1, 7, True),
    "the station under the district": (f"{HUIYANG_PATH}{HUIYANG_STATION}/", "local", 2, 7, True),
    "the other district": (f"/{PROVINCE}/{CITY}/{HUICHENG}/", "police", 1, 7, False),
    "a sibling whose code starts alike": (f"/{PROVINCE}/{CITY}/{HUIYANG}9/", "police", 1, 7, False),
    "the city above": (f"/{PROVINCE}/{CITY}/", "police", 1, 7, False),
    "network outside": (HUIYANG_PATH, "social", 1, 7, False),
    "class outside": (HUIYANG_PATH, "police", 3, 7, False),
    "another sector": (HUIYANG_PATH, "police", 1, 8, False),
    "no sector": (HUIYANG_PATH, "police", 1, None, False),
}


@pytest.mark.parametrize("case", ATTRIBUTE_CASES.values(), ids=ATTRIBUTE_CASES.keys())
def test_check_attributes_refuses_each_attribute_outside_the_scope(
    case: tuple[str, str, int, int | None, bool],
) -> None:
    region_path, network, cls, sector_id, allowed = case
    writer = Principal(
        user_id=1,
        username="school",
        role="industry",
        region_paths=(HUIYANG_PATH,),
        networks=frozenset({"police", "local"}),
        classes=frozenset({1, 2}),
        sector_id=7,
    )
    try:
        check_attributes(writer, region_path=region_path, network=network, cls=cls, sector_id=sector_id)
        outcome = True
    except Forbidden:
        outcome = False
    assert outcome is allowed
    # Only industry users are bound to a sector.
    maintainer = replace(writer, role="maintainer", sector_id=None)
    if case[:3] == ATTRIBUTE_CASES["inside"][:3]:
        check_attributes(maintainer, region_path=region_path, network=network, cls=cls, sector_id=sector_id)


# --- through the HTTP API -------------------------------------------------------------------------


API_CASES = {
    "huiyang operator": ("operator", HUIYANG_SCOPE),
    "social-only analyst": ("analyst", SCOPES["social network only"]),
    "industry user, education": ("industry", SCOPES["all regions"]),
    "admin, huicheng police+local class 1": ("admin", SCOPES["huicheng police+local class 1"]),
}


@pytest.mark.parametrize(("role", "scope"), API_CASES.values(), ids=API_CASES.keys())
async def test_api_lists_exactly_the_scoped_set_page_by_page(
    client: httpx.AsyncClient, session: AsyncSession, registry: Registry, role: str, scope: Scope
) -> None:
    acct = await account(session, "viewer", role, scope, half_the_sensitive(registry))
    headers = await api_key(session, acct.user)
    await session.commit()
    want = expected(registry, role, scope, acct.granted)
    seen: list[str] = []
    after = 0
    for _ in range(len(registry.cameras)):
        response = await client.get("/api/v1/cameras", params={"limit": 5, "after": after}, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["total"] == len(want)
        seen += [item["gb_id"] for item in page["items"]]
        if page["next_after"] is None:
            break
        after = page["next_after"]
    assert len(seen) == len(set(seen))  # no camera twice across pages
    assert set(seen) == want, diff(registry, set(seen), want)


async def test_api_reading_an_out_of_scope_camera_is_404(
    client: httpx.AsyncClient, session: AsyncSession, registry: Registry
) -> None:
    acct = await account(session, "huiyang-op", "operator", HUIYANG_SCOPE)
    headers = await api_key(session, acct.user)
    await session.commit()
    inside = next(c for c in registry.cameras if c.region == HUIYANG_STATION and not c.sensitive)
    outside = next(c for c in registry.cameras if c.region == HUICHENG and not c.sensitive)
    missing = gbid.build(centre=HUICHENG, serial=999_999).value

    assert (await client.get(f"/api/v1/cameras/{inside.gb_id}", headers=headers)).status_code == 200
    hidden = await client.get(f"/api/v1/cameras/{outside.gb_id}", headers=headers)
    absent = await client.get(f"/api/v1/cameras/{missing}", headers=headers)
    assert hidden.status_code == absent.status_code == 404
    assert hidden.headers["content-type"].startswith("application/problem+json")
    assert hidden.json()["title"] == absent.json()["title"]


async def test_api_patch_without_camera_write_is_403(
    client: httpx.AsyncClient, session: AsyncSession, registry: Registry
) -> None:
    target = next(c for c in registry.cameras if not c.sensitive)
    before = await stored_rows(session)
    for role in sorted(set(ROLES) - WRITERS):
        acct = await account(session, f"reader-{role}", role, SCOPES["all regions"])
        headers = await api_key(session, acct.user)
        await session.commit()
        assert (await client.get(f"/api/v1/cameras/{target.gb_id}", headers=headers)).status_code == 200, role
        response = await client.patch(f"/api/v1/cameras/{target.gb_id}", json={"name": "篡改"}, headers=headers)
        assert response.status_code == 403, role
        assert response.headers["content-type"].startswith("application/problem+json")
    assert await stored_rows(session) == before


async def test_api_patch_that_would_leave_the_scope_is_403_and_changes_nothing(
    client: httpx.AsyncClient, session: AsyncSession, registry: Registry
) -> None:
    acct = await account(session, "maint", "maintainer", NARROW)
    headers = await api_key(session, acct.user)
    await session.commit()
    target = narrow_target(registry)
    before = await stored_rows(session)
    for change in ({"sensitive": True}, {"network": "social"}, {"region": HUICHENG}):
        response = await client.patch(f"/api/v1/cameras/{target.gb_id}", json=change, headers=headers)
        assert response.status_code == 403, (change, response.text)
    assert await stored_rows(session) == before
    response = await client.get(f"/api/v1/cameras/{target.gb_id}", headers=headers)
    assert response.status_code == 200
    assert (response.json()["sensitive"], response.json()["network"], response.json()["region"]) == (
        False,
        "police",
        HUIYANG,
    )
