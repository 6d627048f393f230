"""The subscription usage of a dialog (RFC 6665): its Event, its state, when it expires and when to refresh it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tianyan.gb28181.sip.errors import SipError
from tianyan.gb28181.sip.headers import format_params, is_digits, parse_params


class SubscriptionState(Enum):
    PENDING = "pending"
    ACTIVE = "active"
    TERMINATED = "terminated"


@dataclass(frozen=True)
class SubscriptionStateHeader:
    """The Subscription-State header (RFC 6665 §8.2.3): `active;expires=3600`, `terminated;reason=timeout`."""

    state: SubscriptionState
    expires_s: int | None = None
    reason: str | None = None
    retry_after_s: int | None = None

    @classmethod
    def parse(cls, text: str) -> SubscriptionStateHeader:
        name, _, param_text = text.strip().partition(";")
        try:
            state = SubscriptionState(name.strip().lower())
        except ValueError:
            raise SipError(f"unknown subscription state {name[:30]!r}") from None
        params = parse_params(param_text)
        return cls(state, _seconds(params.get("expires")), params.get("reason"), _seconds(params.get("retry-after")))

    def __str__(self) -> str:
        params: dict[str, str | None] = {}
        if self.expires_s is not None:
            params["expires"] = str(self.expires_s)
        if self.reason is not None:
            params["reason"] = self.reason
        if self.retry_after_s is not None:
            params["retry-after"] = str(self.retry_after_s)
        return self.state.value + format_params(params)


def _seconds(text: str | None) -> int | None:
    if text is None:
        return None
    if not is_digits(text) or len(text) > 10:
        raise SipError(f"bad seconds value {text[:20]!r}")
    return int(text)


def event_key(value: str) -> tuple[str, str | None]:
    """RFC 6665 §8.2.1: an Event is its package (case-insensitive) and its id parameter."""
    package, _, param_text = value.partition(";")
    return package.strip().lower(), parse_params(param_text).get("id")


@dataclass
class Subscription:
    """One subscription usage of a dialog: its Event, state and the times that follow from Expires."""

    event: str
    state: SubscriptionState
    expires_s: int
    expires_at: float
    reason: str | None = None

    @classmethod
    def starting(cls, event: str, state: SubscriptionState, expires_s: int, now: float) -> Subscription:
        return cls(event, state, expires_s, now + expires_s)

    @property
    def refresh_at(self) -> float:
        """When the subscriber refreshes: halfway for short subscriptions, a minute early for long ones."""
        return self.expires_at - min(self.expires_s / 2, 60.0)

    def remaining_s(self, now: float) -> int:
        return max(0, int(self.expires_at - now))

    def expired(self, now: float) -> bool:
        return self.state is SubscriptionState.TERMINATED or now >= self.expires_at

    def refresh_due(self, now: float) -> bool:
        return self.state is not SubscriptionState.TERMINATED and now >= self.refresh_at

    def extend(self, expires_s: int, now: float) -> None:
        self.expires_s = expires_s
        self.expires_at = now + expires_s
        if expires_s == 0:
            self.terminate("timeout")  # RFC 6665 §4.2.2's word for a subscription that ran out, Expires: 0 too.

    def terminate(self, reason: str | None) -> None:
        self.state = SubscriptionState.TERMINATED
        self.reason = reason
