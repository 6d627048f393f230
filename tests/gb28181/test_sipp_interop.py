"""Interoperability: SIPp (Debian sip-tester), a SIP implementation that is not ours, registers and keeps alive."""

from __future__ import annotations

import asyncio
import shutil
import socket
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.gb28181.conftest import DOMAIN, PASSWORD, PLATFORM_ID, Recorder, add_device
from tianyan.gb28181.server import SipServer
from tianyan.registry.models import Device
from tianyan.security.models import AuditEntry

SCENARIOS = Path(__file__).parent / "sipp"
DEVICES = [f"4413020000132{n:07d}" for n in range(1, 6)]


def sipp() -> str:
    found = shutil.which("sipp")
    if found is None:
        pytest.fail("sipp is required (Debian package sip-tester; .ci/run installs it)")
    return found


BIND_ATTEMPTS = 3


def _free_port(transport: str) -> int:
    """SIPp listens on 5060 unless told otherwise; several at once must not collide. The port is probed for the
    transport SIPp will bind (a port free for TCP may be taken for UDP)."""
    kind = socket.SOCK_DGRAM if transport == "UDP" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def run_sipp(
    scenario: str, port: int, tmp_path: Path, device: str, transport: str, password: str = PASSWORD
) -> tuple[int, str]:
    """One SIPp run plays one device: SIPp answers digest challenges with -au/-ap, one identity per run.

    The platform asks a newly registered device for its DeviceInfo, settings and catalog; this scenario does not
    answer them (no device would be worse off), so SIPp is told not to abort the call over them.
    """
    inf = tmp_path / f"{device}.csv"
    inf.write_text(f"SEQUENTIAL\n{device};{PLATFORM_ID};{DOMAIN};\n")
    errors = tmp_path / f"{device}-errors.log"
    mode = {"UDP": "u1", "TCP": "t1"}[transport]
    # The port probed free can be taken by another process before SIPp binds it: try another one then.
    for _ in range(BIND_ATTEMPTS):
        process = await asyncio.create_subprocess_exec(
            sipp(),
            f"127.0.0.1:{port}",
            "-sf",
            str(SCENARIOS / scenario),
            "-inf",
            str(inf),
            "-m",
            "1",
            "-t",
            mode,
            "-i",
            "127.0.0.1",
            "-p",
            str(_free_port(transport)),
            "-au",
            device,
            "-ap",
            password,
            "-nostdin",
            "-timeout",
            "30s",
            "-max_socket",
            "100",
            "-trace_err",
            "-error_file",
            str(errors),
            "-default_behaviors",
            "all,-abortunexp",
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), 60)
        trace = errors.read_text(errors="replace") if errors.exists() else ""
        if "Unable to bind main socket" not in output.decode(errors="replace") + trace:
            break
    return process.returncode or 0, output.decode(errors="replace")[-1500:] + trace[-1500:]


@pytest.mark.parametrize("transport", ["UDP", "TCP"])
async def test_sipp_devices_register_with_digest_and_keep_alive(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession], tmp_path: Path, transport: str
) -> None:
    server, _ = sip
    for device in DEVICES:
        await add_device(sessions, device)
    await server.directory.load(server.endpoint.now())
    runs = [run_sipp("register_keepalive.xml", server.port, tmp_path, device, transport) for device in DEVICES]
    for code, output in await asyncio.gather(*runs):
        assert code == 0, output
    await server.writer.flush()
    async with sessions() as session:
        online = (await session.execute(select(Device.gb_id).where(Device.online.is_(True)))).scalars().all()
    assert sorted(online) == DEVICES
    assert server.stats.keepalives == 2 * len(DEVICES)


async def test_sipp_with_a_wrong_password_is_refused_and_audited(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    server, _ = sip
    await add_device(sessions, DEVICES[0])
    await server.directory.load(server.endpoint.now())
    code, output = await run_sipp("wrong_password.xml", server.port, tmp_path, DEVICES[0], "UDP", "wrong-password")
    assert code == 0, output
    async with sessions() as session:
        denied = (await session.execute(select(AuditEntry.actor).where(AuditEntry.outcome == "denied"))).scalars()
        assert list(denied) == [DEVICES[0]]
        assert not (await session.execute(select(Device.online))).scalar_one()
