"""Online state from registrations and keepalives: when a device goes offline, and why, and restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tianyan.gb28181.presence import EXPIRED, MISSED, REGISTERED, UNREGISTERED, PresenceTable, Transition

T0 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_register_brings_a_device_online_once() -> None:
    table = PresenceTable()
    assert table.registered(7, now=T0, expires_s=3600) == Transition(7, True, T0, REGISTERED)
    assert table.registered(7, now=at(1800), expires_s=3600) is None  # a refresh is not a transition
    assert table.is_online(7) and table.online_count() == 1


def test_three_missed_keepalives_take_a_device_offline_at_the_third() -> None:
    table = PresenceTable(keepalive_interval_s=60, missed=3)
    table.registered(1, now=T0, expires_s=3600)
    for minute in (1, 2, 3):
        assert table.keepalive(1, now=at(60 * minute))
    assert table.sweep(at(180 + 179)) == []
    assert table.next_deadline() == at(180 + 180)
    assert table.sweep(at(400)) == [Transition(1, False, at(360), MISSED)]
    assert not table.is_online(1)
    assert table.sweep(at(10_000)) == []


def test_registration_expiry_wins_when_it_comes_first() -> None:
    table = PresenceTable(keepalive_interval_s=60, missed=3)
    table.registered(1, now=T0, expires_s=100)
    assert table.keepalive(1, now=at(60))
    assert table.sweep(at(150)) == [Transition(1, False, at(100), EXPIRED)]


def test_keepalive_from_an_unregistered_device_is_refused() -> None:
    table = PresenceTable()
    assert not table.keepalive(5, now=T0)
    table.registered(5, now=T0, expires_s=60)
    assert not table.keepalive(5, now=at(61))  # its registration ran out


def test_unregister_is_a_transition_with_its_reason() -> None:
    table = PresenceTable()
    table.registered(3, now=T0, expires_s=3600)
    assert table.unregistered(3, now=at(10)) == Transition(3, False, at(10), UNREGISTERED)
    assert table.unregistered(3, now=at(11)) is None
    assert table.sweep(at(100_000)) == []


def test_a_device_with_its_own_interval_is_not_cut_off() -> None:
    table = PresenceTable(keepalive_interval_s=60, missed=3)
    table.registered(2, now=T0, expires_s=86_400, interval_s=300)
    assert table.sweep(at(800)) == []
    assert table.sweep(at(901)) == [Transition(2, False, at(900), MISSED)]


def test_restart_keeps_live_devices_online_and_backdates_dead_ones() -> None:
    table = PresenceTable(keepalive_interval_s=60, missed=3)
    restart = at(1000)
    # Heard from 100 s before the restart: still inside its window, nothing changes.
    assert table.restore(1, now=restart, registered_until=at(3600), last_seen=at(900)) is None
    # Silent since 500 s: it would have gone offline at 680 s had we been up; it gets one window to speak.
    assert table.restore(2, now=restart, registered_until=at(3600), last_seen=at(500)) is None
    # Also silent since 500 s, but it does speak up after the restart: it was alive all along.
    assert table.restore(4, now=restart, registered_until=at(3600), last_seen=at(500)) is None
    # Its registration ran out at 800 s, while we were down: offline then, and nothing can save it.
    assert table.restore(3, now=restart, registered_until=at(800), last_seen=at(700)) == Transition(
        3, False, at(800), EXPIRED
    )
    assert table.is_online(1) and table.is_online(2) and not table.is_online(3)
    assert table.keepalive(1, now=at(1050)) and table.keepalive(4, now=at(1100))
    assert table.sweep(at(1000 + 179)) == []
    # Device 2 never spoke: offline at 680 s, the moment it would have been declared, not at the restart.
    assert table.sweep(at(1000 + 181)) == [Transition(2, False, at(680), MISSED)]
    assert table.is_online(1) and table.is_online(4)


def test_fifty_thousand_devices_sweep_only_the_silent_ones() -> None:
    table = PresenceTable(keepalive_interval_s=60, missed=3)
    for device in range(50_000):
        table.registered(device, now=T0, expires_s=7200)
    gone: list[Transition] = []
    for minute in range(1, 6):
        for device in range(50_000):
            if device % 1000 or minute < 2:  # every thousandth device falls silent after its first keepalive
                table.keepalive(device, now=at(60 * minute))
        gone += table.sweep(at(60 * minute))
    assert sorted(t.device_id for t in gone) == list(range(0, 50_000, 1000))
    assert {(t.at, t.reason) for t in gone} == {(at(60 + 180), MISSED)}
    assert table.online_count() == 50_000 - 50
