"""Events: past-tense facts one domain publishes for others, as frozen dataclasses that travel as JSON."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from typing import Any, ClassVar, TypeVar, get_type_hints

E = TypeVar("E", bound="Event")

_TYPES: dict[str, type[Event]] = {}


@dataclasses.dataclass(frozen=True)
class Event:
    """Subclasses set `subject` (dot-separated, e.g. "gb28181.alarm.received") and are frozen dataclasses."""

    subject: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.subject:
            if cls.subject in _TYPES and _TYPES[cls.subject].__qualname__ != cls.__qualname__:
                raise TypeError(f"two event types claim the subject {cls.subject!r}")
            _TYPES[cls.subject] = cls

    def to_json(self) -> bytes:
        return json.dumps(dataclasses.asdict(self), default=_encode, ensure_ascii=False).encode("utf-8")


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot put {type(value).__name__} into an event")


def event_from_json(subject: str, data: bytes) -> Event:
    """The event a subject and its JSON name; dates and datetimes come back typed."""
    cls = _TYPES.get(subject)
    if cls is None:
        raise ValueError(f"no event type for subject {subject!r}")
    raw = json.loads(data)
    hints = get_type_hints(cls)
    for name, value in raw.items():
        hint = hints.get(name)
        if isinstance(value, str) and hint in (datetime, datetime | None):
            raw[name] = datetime.fromisoformat(value)
        elif isinstance(value, str) and hint in (date, date | None):
            raw[name] = date.fromisoformat(value)
    return cls(**raw)


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS-style: `*` matches one token, a trailing `>` the rest ("gb28181.>" matches "gb28181.alarm.received")."""
    want, have = pattern.split("."), subject.split(".")
    for index, token in enumerate(want):
        if token == ">":
            return len(have) > index
        if index >= len(have) or (token != "*" and token != have[index]):
            return False
    return len(want) == len(have)
