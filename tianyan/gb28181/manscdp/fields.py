"""Typed field values: read text, integers, numbers, times and choices from a Node, and write them back.

The rule every body follows: a bad value in an optional field becomes None (one odd field from a device
must not lose the whole message); a missing or bad required field is a ManscdpError naming the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Final, TypeVar

from tianyan.gb28181.manscdp.xml import ManscdpError, Node

_INTEGER = re.compile(r"[+-]?[0-9]{1,19}")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
# GB time is local (Beijing) time without a zone: "2026-11-21T08:30:00"; devices also send a space instead
# of the T, milliseconds, single-digit parts, slashes, and now and then a zone suffix.
_TIME = re.compile(
    r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})[T ]+(\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,](\d{1,9}))?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?"
)
_BEIJING: Final = timezone(timedelta(hours=8))
LONGITUDE: Final = (-180.0, 180.0)
LATITUDE: Final = (-90.0, 90.0)

T = TypeVar("T")


def _name(where: str, path: str) -> str:
    return f"{where}/{path}" if where else path


def _missing(where: str, path: str) -> ManscdpError:
    return ManscdpError(f"{_name(where, path)} is required but missing or empty")


def parse_int(text: str) -> int:
    value = text.strip()
    if not _INTEGER.fullmatch(value):
        raise ValueError(f"{text!r} is not an integer")
    return int(value)


def parse_float(text: str) -> float:
    value = text.strip()
    if not _DECIMAL.fullmatch(value):
        raise ValueError(f"{text!r} is not a number")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{text!r} is not a finite number")
    return number


def parse_time(text: str) -> datetime:
    """A GB time as a naive local datetime; a zone, if a device adds one, is converted to Beijing time."""
    match = _TIME.fullmatch(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a time like 2026-11-21T08:30:00")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zone = match.group(7), match.group(8)
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        value = datetime(year, month, day, hour, minute, second, micro)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid time: {exc}") from exc
    if zone:
        offset = UTC if zone == "Z" else _zone(zone)
        value = value.replace(tzinfo=offset).astimezone(_BEIJING).replace(tzinfo=None)
    return value


def _zone(text: str) -> timezone:
    digits = text[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:])
    if minutes >= 24 * 60:
        raise ValueError(f"{text!r} is not a UTC offset")
    return timezone(timedelta(minutes=-minutes if text[0] == "-" else minutes))


def format_time(value: datetime) -> str:
    """The standard form, second precision, no zone; an aware time is first converted to Beijing time."""
    if value.tzinfo is not None:
        value = value.astimezone(_BEIJING).replace(tzinfo=None)
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"


def format_float(value: float) -> str:
    # Shortest text that reads back as the same float, never in exponent form (devices cannot parse "1e-05").
    text = format(Decimal(repr(float(value))), "f")
    return text if "." in text else text + ".0"


def to_text(value: object) -> str | None:
    """The text of a field value: None stays None (the element is left out)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("MANSCDP has no boolean fields; pass the integer or word the standard uses")
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, datetime):
        return format_time(value)
    return str(value)


def leaf(tag: str, value: object) -> Node | None:
    """An element for an optional value, or None to leave it out."""
    text = to_text(value)
    return None if text is None else Node(tag, text)


def optional_text(node: Node, path: str) -> str | None:
    return node.get(path)


def required_text(node: Node, path: str, *, where: str = "") -> str:
    value = node.get(path)
    if value is None:
        raise _missing(where, path)
    return value


def _in_range(value: float, low: float | None, high: float | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def optional_int(node: Node, path: str, *, low: int | None = None, high: int | None = None) -> int | None:
    text = node.get(path)
    if text is None:
        return None
    try:
        value = parse_int(text)
    except ValueError:
        return None
    return value if _in_range(value, low, high) else None


def required_int(node: Node, path: str, *, low: int | None = None, high: int | None = None, where: str = "") -> int:
    text = required_text(node, path, where=where)
    try:
        value = parse_int(text)
    except ValueError as exc:
        raise ManscdpError(f"{_name(where, path)} must be an integer, got {text[:40]!r}") from exc
    if not _in_range(value, low, high):
        raise ManscdpError(f"{_name(where, path)} must be in {low}..{high}, got {value}")
    return value


def optional_float(node: Node, path: str, *, low: float | None = None, high: float | None = None) -> float | None:
    text = node.get(path)
    if text is None:
        return None
    try:
        value = parse_float(text)
    except ValueError:
        return None
    return value if _in_range(value, low, high) else None


def required_float(
    node: Node, path: str, *, low: float | None = None, high: float | None = None, where: str = ""
) -> float:
    text = required_text(node, path, where=where)
    try:
        value = parse_float(text)
    except ValueError as exc:
        raise ManscdpError(f"{_name(where, path)} must be a number, got {text[:40]!r}") from exc
    if not _in_range(value, low, high):
        raise ManscdpError(f"{_name(where, path)} must be in {low}..{high}, got {value}")
    return value


def optional_time(node: Node, path: str) -> datetime | None:
    text = node.get(path)
    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError:
        return None


def required_time(node: Node, path: str, *, where: str = "") -> datetime:
    text = required_text(node, path, where=where)
    try:
        return parse_time(text)
    except ValueError as exc:
        raise ManscdpError(f"{_name(where, path)}: {exc}") from exc


def optional_choice(node: Node, path: str, choices: Mapping[str, T]) -> T | None:
    """A value from a closed set; `choices` maps each accepted spelling, upper-cased, to the canonical value."""
    text = node.get(path)
    return None if text is None else choices.get(text.upper())


def required_choice(node: Node, path: str, choices: Mapping[str, T], *, where: str = "") -> T:
    text = required_text(node, path, where=where)
    value = choices.get(text.upper())
    if value is None:
        allowed = ", ".join(sorted({str(v) for v in choices.values()}))
        raise ManscdpError(f"{_name(where, path)} must be one of {allowed}, got {text[:40]!r}")
    return value


def check_range(name: str, value: float | None, low: float, high: float) -> None:
    """For builders: refuse a value the standard does not allow before it goes out on the wire."""
    if value is not None and not low <= value <= high:
        raise ManscdpError(f"{name} must be in {low}..{high}, got {value}")
