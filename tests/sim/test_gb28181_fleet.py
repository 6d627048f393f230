"""Fleets: consecutive IDs, a storm over shared sockets routed by Request-URI, statistics, and the CLI command."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from typer.testing import CliRunner

from tests.sim.gb28181_platform import FAST, PLATFORM_ID, FakePlatform, RtpReceiver, eventually
from tianyan.cli.main import app
from tianyan.core import gbid
from tianyan.gb28181.manscdp.catalog import CatalogQuery
from tianyan.sim.gb28181.fleet import Fleet, FleetOptions, fleet_specs
from tianyan.sim.gb28181.profile import Behaviour, VideoSettings


@pytest.fixture
async def platform() -> AsyncIterator[FakePlatform]:
    platform = await FakePlatform().start()
    yield platform
    await platform.close()


def test_fleet_ids_are_consecutive_distinct_and_placed_in_huizhou() -> None:
    ipcs = fleet_specs(40, password="pw", centre="441302")
    nvrs = fleet_specs(2, password="pw", kind="nvr", channels=16, alarm_inputs=2)
    vehicles = fleet_specs(3, password="pw", kind="vehicle", first_serial=901)
    assert [s.device_id for s in ipcs[:2]] == ["44130200001320000001", "44130200001320000002"]
    every = [i for s in (*ipcs, *nvrs, *vehicles) for i in (s.device_id, *s.channel_ids, *s.alarm_input_ids)]
    assert len(every) == len(set(every)) and all(gbid.is_valid(i) for i in every)
    assert all(22.9 < s.latitude < 23.3 and 114.2 < s.longitude < 114.6 for s in ipcs)
    assert len({s.name for s in ipcs}) == 40 and ipcs[0].name.startswith("惠城")
    assert {s.route for s in vehicles} == {0, 1, 2}


async def test_a_storm_over_three_shared_sockets(platform: FakePlatform) -> None:
    specs = fleet_specs(30, password="secret")
    options = FleetOptions(sockets=3, storm=True, behaviour=Behaviour(keepalive_s=0.3, timers=FAST),
                           video=VideoSettings(main_size="cif"))  # fmt: skip
    fleet = Fleet(specs, platform.address, options)
    await fleet.start()
    try:
        assert await fleet.wait_until(lambda s: s.registered == 30 and s.keepalives_answered >= 30, 5)
        # Thirty devices, three sockets: the platform sees three addresses.
        assert len({(p.host, p.port) for p in platform.registered.values()}) == 3
        # Requests to one device arrive on a shared socket and reach that device alone.
        target = specs[17].device_id
        sn = platform.next_sn()
        await platform.send(target, CatalogQuery(sn, target))
        await eventually(lambda: (target, sn) in platform.catalogs, 3)
        assert fleet.device(target).stats.queries_answered == 1
        assert sum(d.stats.queries_answered for d in fleet.devices) == 1
        # And so do INVITEs addressed to a channel.
        receiver = RtpReceiver()
        await receiver.start()
        call = await platform.invite(target, specs[17].channel_ids[0], receiver)
        await eventually(lambda: receiver.count(call.ssrc) > 0, 3)
        await platform.bye(call)
        await receiver.close()
        stats = fleet.stats()
        assert stats.online == 30 and stats.streams_started == 1 and stats.rtp_packets_sent > 0
    finally:
        await fleet.stop()
    assert not platform.registered, "stopping the fleet unregisters every device"


async def test_the_cli_runs_a_fleet_for_a_while(platform: FakePlatform) -> None:
    args = ["sim", "gb28181", "--server", f"127.0.0.1:{platform.port}", "--server-id", PLATFORM_ID,
            "--password", "secret", "--devices", "3", "--keepalive", "0.3", "--duration", "1.5",
            "--report-every", "0.5", "--centre", "44130300"]  # fmt: skip
    result = await asyncio.to_thread(CliRunner().invoke, app, args)
    assert result.exit_code == 0, result.output
    assert "registered 3/3" in result.output and "+3 registered" in result.output
    assert {a.device_id for a in platform.registers if a.status == 200} == {
        f"4413030000132000000{i}" for i in (1, 2, 3)
    }
    assert len(platform.keepalives) == 3 and not platform.registered


def test_the_cli_refuses_a_bad_server() -> None:
    result = CliRunner().invoke(app, ["sim", "gb28181", "--server", "nowhere", "--duration", "0"])
    assert result.exit_code == 2 and "HOST:PORT" in result.output
