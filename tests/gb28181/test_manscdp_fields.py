"""Field values: GB times in the forms devices send, numbers, and the optional-becomes-None / required-raises rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tianyan.gb28181.manscdp.fields import (
    format_float,
    format_time,
    optional_choice,
    optional_float,
    optional_int,
    optional_time,
    parse_float,
    parse_int,
    parse_time,
    required_choice,
    required_float,
    required_int,
    required_text,
    required_time,
)
from tianyan.gb28181.manscdp.xml import ManscdpError, decode


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-21T08:30:00", datetime(2026, 11, 21, 8, 30)),
        ("2026-11-21 08:30:00", datetime(2026, 11, 21, 8, 30)),
        (" 2026-11-21T08:30:00.123 ", datetime(2026, 11, 21, 8, 30, 0, 123000)),
        ("2026-11-21T08:30:00,5", datetime(2026, 11, 21, 8, 30, 0, 500000)),
        ("2026-1-2T8:5:3", datetime(2026, 1, 2, 8, 5, 3)),
        ("2026/11/21 08:30:00", datetime(2026, 11, 21, 8, 30)),
        ("2026-11-21T00:30:00Z", datetime(2026, 11, 21, 8, 30)),  # UTC → Beijing wall clock
        ("2026-11-21T08:30:00+08:00", datetime(2026, 11, 21, 8, 30)),
        ("2026-11-21T09:30:00+0900", datetime(2026, 11, 21, 8, 30)),
    ],
)
def test_times_devices_send(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["", "2026-11-21", "2026-13-01T00:00:00", "2026-02-30T00:00:00", "08:30:00", "x"])
def test_bad_times(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text)


def test_times_are_built_in_the_standard_form() -> None:
    assert format_time(datetime(2026, 11, 21, 8, 30, 0, 999)) == "2026-11-21T08:30:00"
    assert format_time(datetime(2026, 11, 21, 0, 30, tzinfo=UTC)) == "2026-11-21T08:30:00"
    assert format_time(datetime(1, 1, 1)) == "0001-01-01T00:00:00"


@given(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(lambda d: d.replace(microsecond=0))
)
def test_time_round_trip(value: datetime) -> None:
    assert parse_time(format_time(value)) == value


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_round_trip_never_uses_exponents(value: float) -> None:
    text = format_float(value)
    assert "e" not in text.lower()
    assert parse_float(text) == value


def test_numbers_accept_only_plain_ascii_decimals() -> None:
    assert parse_int(" +12 ") == 12 and parse_int("-3") == -3
    for bad in ("1_000", "١٢", "0x10", "1.0", "", "nan"):
        with pytest.raises(ValueError):
            parse_int(bad)
    assert parse_float("114.05") == 114.05 and parse_float(".5") == 0.5 and parse_float("1e2") == 100
    for bad in ("nan", "inf", "1e999", "1,5", "--1", ""):
        with pytest.raises(ValueError):
            parse_float(bad)


NODE = decode(
    b"<Item><Port>abc</Port><Secrecy>7</Secrecy><Longitude>200</Longitude><Latitude>22.5</Latitude>"
    b"<EndTime>never</EndTime><Status>online</Status><Count>12</Count></Item>"
)


def test_bad_optional_values_become_none() -> None:
    assert optional_int(NODE, "Port", low=0, high=65535) is None
    assert optional_int(NODE, "Secrecy", low=0, high=1) is None
    assert optional_float(NODE, "Longitude", low=-180, high=180) is None
    assert optional_float(NODE, "Latitude", low=-90, high=90) == 22.5
    assert optional_time(NODE, "EndTime") is None
    assert optional_choice(NODE, "Status", {"ONLINE": "ON"}) == "ON"
    assert optional_choice(NODE, "Status", {"ON": "ON"}) is None
    assert optional_int(NODE, "Missing") is None


def test_bad_required_values_raise_naming_the_field() -> None:
    with pytest.raises(ManscdpError, match="DeviceList/Item\\[3\\]/Port must be an integer"):
        required_int(NODE, "Port", where="DeviceList/Item[3]")
    with pytest.raises(ManscdpError, match=r"Secrecy must be in 0\.\.1"):
        required_int(NODE, "Secrecy", low=0, high=1)
    with pytest.raises(ManscdpError, match="Longitude must be in"):
        required_float(NODE, "Longitude", low=-180, high=180)
    with pytest.raises(ManscdpError, match="EndTime"):
        required_time(NODE, "EndTime")
    with pytest.raises(ManscdpError, match="Status must be one of ON"):
        required_choice(NODE, "Status", {"ON": "ON"})
    with pytest.raises(ManscdpError, match="Name is required"):
        required_text(NODE, "Name")
    assert required_int(NODE, "Count", low=0) == 12


def test_odd_offsets() -> None:
    eastern = timezone(timedelta(hours=-5))
    assert parse_time("2026-11-20T19:30:00-05:00") == datetime(2026, 11, 21, 8, 30)
    assert format_time(datetime(2026, 11, 20, 19, 30, tzinfo=eastern)) == "2026-11-21T08:30:00"
    with pytest.raises(ValueError):
        parse_time("2026-11-21T08:30:00+25:00")
