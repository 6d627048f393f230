"""Who is online, decided from what arrives: registrations, keepalives and their absence (pure, no clock inside).

A device is online from a successful REGISTER until it unregisters, its registration expires, or
`missed` keepalive intervals pass without a keepalive (GB/T 28181: 3 × 60 s). Every change comes out as a
Transition stating the moment it happened, which is what online rate is computed from.

After a platform restart the table is seeded from the database (`restore`): a device the database says was
online stays online if its deadline has not passed, so a restart alone changes nothing. One whose deadline
passed while the platform was down gets one more keepalive window to show it is alive (the platform could not
hear it while down); if it does, nothing changes, and if it does not, it goes offline at its original
deadline, not at the restart.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime, timedelta

REGISTERED = "registered"
KEEPALIVE = "keepalive"
UNREGISTERED = "unregistered"
EXPIRED = "registration expired"
MISSED = "keepalives missed"
REFUSED = "registration refused"


@dataclass(frozen=True)
class Transition:
    device_id: int
    online: bool
    at: datetime
    reason: str


@dataclass
class _State:
    online: bool
    registered_until: datetime
    last_seen: datetime
    interval_s: float
    deadline: datetime
    # Set for a device restored past its deadline: the moment it goes offline at if it never shows up.
    backdate: datetime | None = None


class PresenceTable:
    """Online state of every device this node serves; `sweep(now)` yields those whose time has run out."""

    def __init__(self, *, keepalive_interval_s: float = 60.0, missed: int = 3) -> None:
        self.keepalive_interval_s = keepalive_interval_s
        self.missed = missed
        self._states: dict[int, _State] = {}
        # (deadline, device_id): stale entries stay until popped and are skipped then, so touching is O(log n).
        self._deadlines: list[tuple[datetime, int]] = []

    def __len__(self) -> int:
        return len(self._states)

    def is_online(self, device_id: int) -> bool:
        state = self._states.get(device_id)
        return bool(state and state.online)

    def online_count(self) -> int:
        return sum(1 for state in self._states.values() if state.online)

    def last_seen(self, device_id: int) -> datetime | None:
        state = self._states.get(device_id)
        return state.last_seen if state else None

    def _deadline(self, state: _State) -> datetime:
        silent_for = timedelta(seconds=state.interval_s * self.missed)
        return min(state.registered_until, state.last_seen + silent_for)

    def _schedule(self, device_id: int, state: _State) -> None:
        state.deadline = self._deadline(state)
        heapq.heappush(self._deadlines, (state.deadline, device_id))

    def registered(
        self, device_id: int, *, now: datetime, expires_s: int, interval_s: float | None = None
    ) -> Transition | None:
        """A REGISTER was accepted; returns the transition if the device was not already online."""
        state = self._states.get(device_id)
        was_online = bool(state and state.online)
        state = _State(
            online=True,
            registered_until=now + timedelta(seconds=expires_s),
            last_seen=now,
            interval_s=interval_s or (state.interval_s if state else self.keepalive_interval_s),
            deadline=now,
        )
        self._states[device_id] = state
        self._schedule(device_id, state)
        return None if was_online else Transition(device_id, True, now, REGISTERED)

    def keepalive(self, device_id: int, *, now: datetime) -> bool:
        """A keepalive arrived; False when the device is not registered (it should REGISTER first)."""
        state = self._states.get(device_id)
        if state is None or not state.online or now >= state.registered_until:
            return False
        state.last_seen = now
        state.backdate = None
        self._schedule(device_id, state)
        return True

    def set_interval(self, device_id: int, interval_s: float) -> None:
        """The device's own keepalive interval (from ConfigDownload), so slow keepalivers are not cut off."""
        state = self._states.get(device_id)
        if state is not None and interval_s > 0:
            state.interval_s = interval_s
            self._schedule(device_id, state)

    def unregistered(self, device_id: int, *, now: datetime, reason: str = UNREGISTERED) -> Transition | None:
        state = self._states.pop(device_id, None)
        if state is None or not state.online:
            return None
        return Transition(device_id, False, now, reason)

    def restore(
        self,
        device_id: int,
        *,
        now: datetime,
        registered_until: datetime,
        last_seen: datetime,
        interval_s: float | None = None,
    ) -> Transition | None:
        """Seed one device the database says is online; a deadline that passed while down waits one window more."""
        state = _State(
            online=True,
            registered_until=registered_until,
            last_seen=last_seen,
            interval_s=interval_s or self.keepalive_interval_s,
            deadline=now,
        )
        deadline = self._deadline(state)
        self._states[device_id] = state
        if deadline > now:
            self._schedule(device_id, state)
            return None
        if registered_until <= now:
            # Its registration ran out while we were down: nothing it sends now can keep it online.
            del self._states[device_id]
            return Transition(device_id, False, deadline, EXPIRED if registered_until <= deadline else MISSED)
        state.backdate = deadline
        state.deadline = now + timedelta(seconds=state.interval_s * self.missed)
        heapq.heappush(self._deadlines, (state.deadline, device_id))
        return None

    def next_deadline(self) -> datetime | None:
        while self._deadlines:
            deadline, device_id = self._deadlines[0]
            state = self._states.get(device_id)
            if state is not None and state.online and state.deadline == deadline:
                return deadline
            heapq.heappop(self._deadlines)
        return None

    def sweep(self, now: datetime) -> list[Transition]:
        """Every device whose deadline is at or before `now` goes offline, at its deadline."""
        out: list[Transition] = []
        while self._deadlines and self._deadlines[0][0] <= now:
            deadline, device_id = heapq.heappop(self._deadlines)
            state = self._states.get(device_id)
            if state is None or not state.online or state.deadline != deadline:
                continue  # touched since this entry was pushed
            at = state.backdate or deadline
            reason = EXPIRED if state.registered_until <= at else MISSED
            del self._states[device_id]
            out.append(Transition(device_id, False, at, reason))
        return out
