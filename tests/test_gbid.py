"""GB/T 28181 20-digit IDs: every field decoded, each invalid form named precisely, build round-trips."""

from __future__ import annotations

import httpx
import pytest

from tianyan.core import gbid
from tianyan.core.errors import InvalidInput

IPC = "44130200001320000001"  # 广东 惠州 惠城区, industry 00, IPC, police network, serial 1


def test_ipc_decodes_every_field() -> None:
    parsed = gbid.parse(IPC)
    assert (parsed.province, parsed.city, parsed.county, parsed.grassroots) == ("44", "13", "02", "00")
    assert parsed.centre == "44130200"
    assert (parsed.industry, parsed.type_code, parsed.network, parsed.serial) == ("00", "132", "0", "000001")
    assert parsed.region_code == "441302"
    assert parsed.realm == "4413020000"
    assert parsed.is_camera
    assert parsed.describe() == {
        "id": IPC,
        "centre": {
            "code": "44130200",
            "province": "44",
            "province_name": "广东省",
            "city": "13",
            "county": "02",
            "grassroots": "00",
            "region_code": "441302",
        },
        "industry": {"code": "00", "name": "社会治安路面接入"},
        "type": {"code": "132", "name": "网络摄像机 (IPC)", "category": "front-end peripheral"},
        "network": {"code": "0", "name": "监控报警专网", "kind": "police"},
        "serial": "000001",
    }


@pytest.mark.parametrize(
    ("value", "region_code", "realm"),
    [
        ("44000000002000000001", "440000", "4400000000"),  # a provincial platform
        ("44130000002000000001", "441300", "4413000000"),  # the city platform
        ("44130201002000000001", "441302", "4413020100"),  # a grassroots unit's platform in 惠城区
    ],
)
def test_region_code_is_the_most_specific_level(value: str, region_code: str, realm: str) -> None:
    parsed = gbid.parse(value)
    assert parsed.region_code == region_code
    assert parsed.realm == realm
    assert not parsed.is_camera


@pytest.mark.parametrize(
    ("type_code", "name", "category"),
    [
        ("111", "DVR", "front-end main device"),
        ("118", "NVR", "front-end main device"),
        ("131", "摄像机", "front-end peripheral"),
        ("134", "报警输入设备", "front-end peripheral"),
        ("200", "中心信令控制服务器 (SIP 服务器/平台)", "platform device"),
        ("215", "业务分组", "platform device"),
        ("216", "虚拟组织", "platform device"),
        ("300", "中心用户", "centre user"),
        ("400", "终端用户", "terminal user"),
        ("500", "扩展类型", "extension"),
    ],
)
def test_type_names_and_categories(type_code: str, name: str, category: str) -> None:
    described = gbid.parse(f"4413020000{type_code}0000001").describe()["type"]
    assert described == {"code": type_code, "name": name, "category": category}


@pytest.mark.parametrize(
    ("network", "name", "kind"),
    [("0", "监控报警专网", "police"), ("4", "监控报警专网", "police"), ("5", "公安信息网", "police"),
     ("6", "政务网", None), ("7", "Internet", None), ("8", "社会资源接入网", "social"), ("9", "预留", None)],
)  # fmt: skip
def test_network_digit(network: str, name: str, kind: str | None) -> None:
    assert gbid.parse(f"4413020000132{network}000001").describe()["network"] == {
        "code": network,
        "name": name,
        "kind": kind,
    }


@pytest.mark.parametrize(
    ("industry", "name"),
    [("00", "社会治安路面接入"), ("05", "交通卡口接入"), ("51", "金融企业接入"), ("20", "公安行业预留"),
     ("60", "非公安行业预留"), ("90", "预留")],
)  # fmt: skip
def test_industry_names_including_reserved_ranges(industry: str, name: str) -> None:
    assert gbid.parse(f"44130200{industry}1320000001").describe()["industry"] == {"code": industry, "name": name}


def test_surrounding_whitespace_is_ignored() -> None:
    assert gbid.parse(f"  {IPC}\n").value == IPC


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("4413020000132000000", "GB ID must have 20 digits, got 19"),
        ("441302000013200000012", "GB ID must have 20 digits, got 21"),
        ("", "GB ID must have 20 digits, got 0"),
        ("4413020000132000000X", "position 20 is 'X'"),
        ("44130a0000132000000 ", "GB ID must have 20 digits, got 19"),  # the trailing space is stripped first
        ("44130a00001320000001", "position 6 is 'a'"),
        ("4413020000132000000\u0663", "position 20 is '٣'"),  # an Arabic-Indic digit is not a digit here
        ("\uff14\uff14130200001320000001", "position 1 is '４'"),  # nor is a full-width one
        ("99130200001320000001", "'99' (digits 1-2) is not a GB/T 2260 province code"),
        ("00000000001320000001", "'00' (digits 1-2) is not a GB/T 2260 province code"),
        ("44000200001320000001", "county '02' (digits 5-6) given without a city (digits 3-4)"),
        ("44000001001320000001", "grassroots unit (digits 7-8) given without a city and county"),
        ("44130001001320000001", "grassroots unit (digits 7-8) given without a city and county"),
        ("44130200001100000001", "type: '110' (digits 11-13) is below 111"),
        ("44130200000000000001", "type: '000' (digits 11-13) is below 111"),
    ],
)
def test_invalid_ids_name_what_is_wrong(value: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        gbid.parse(value)
    assert message in caught.value.detail
    assert not gbid.is_valid(value)


def test_a_non_string_is_refused() -> None:
    with pytest.raises(InvalidInput, match="must be a string"):
        gbid.parse(44130200001320000001)  # type: ignore[arg-type]


def test_build_round_trips_every_field() -> None:
    built = gbid.build(centre="44130201", industry="05", type_code="118", network="8", serial=42)
    assert built.value == "44130201051188000042"
    again = gbid.parse(built.value)
    assert (again.centre, again.industry, again.type_code, again.network, again.serial) == (
        "44130201",
        "05",
        "118",
        "8",
        "000042",
    )


def test_build_pads_a_region_code_to_a_centre_code() -> None:
    assert gbid.build(centre="441302", serial="7").value == "44130200001320000007"
    assert gbid.build(centre="441302", serial=999999).serial == "999999"
    assert gbid.build(centre="441302", serial=0).serial == "000000"


@pytest.mark.parametrize("province", sorted(gbid.PROVINCES))
def test_every_province_builds_and_parses(province: str) -> None:
    built = gbid.build(centre=f"{province}0000", type_code="200")
    assert gbid.parse(built.value).describe()["centre"]["province_name"] == gbid.PROVINCES[province]
    assert built.region_code == f"{province}0000"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"centre": "4413"}, "centre code must be 8 digits (or a 6-digit GB/T 2260 code), got '4413'"),
        ({"centre": "4413020X"}, "centre code must be 8 digits"),
        ({"centre": "441302", "industry": "5"}, "industry must be 2 digits, got '5'"),
        ({"centre": "441302", "type_code": "13a"}, "type must be 3 digits, got '13a'"),
        ({"centre": "441302", "network": "10"}, "network must be 1 digit, got '10'"),
        ({"centre": "441302", "serial": 1_000_000}, "serial must be 0-999999, got 1000000"),
        ({"centre": "441302", "serial": -1}, "serial must be 0-999999, got -1"),
        # Well-formed fields are still checked as a whole ID.
        ({"centre": "991302"}, "'99' (digits 1-2) is not a GB/T 2260 province code"),
        ({"centre": "441302", "type_code": "100"}, "type: '100' (digits 11-13) is below 111"),
    ],
)
def test_build_rejects_bad_fields(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        gbid.build(**fields)  # type: ignore[arg-type]
    assert message in caught.value.detail


async def test_api_decodes_and_builds(client: httpx.AsyncClient) -> None:
    decoded = await client.get(f"/api/v1/gbid/{IPC}")
    assert decoded.status_code == 200
    assert decoded.json()["centre"]["region_code"] == "441302"
    built = await client.post("/api/v1/gbid", json={"centre": "441302", "type": "118", "network": "8", "serial": 9})
    assert built.status_code == 200
    assert built.json()["id"] == "44130200001188000009"


async def test_api_names_the_bad_field(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/gbid/99130200001320000001")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "digits 1-2" in response.json()["detail"]
