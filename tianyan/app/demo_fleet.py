"""The demo's simulated devices in a process of their own, as real cameras are boxes of their own.

In the platform's process the simulator's encoders and packetisers would share its interpreter (and its GIL) and
every figure the console measures would be partly the simulator's. The child registers with the demo's SIP server
like any device, stops (unregistering) on SIGINT or SIGTERM, and ends with its parent if that dies without a word.

    python -m tianyan.app.demo_fleet SPECS_FILE HOST PORT SERVER_ID DOMAIN PARENT_PID   (password in the environment)
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tianyan.app import demo_devices
from tianyan.sim.gb28181.fleet import Fleet, FleetOptions
from tianyan.sim.gb28181.profile import PlatformAddress, VideoSettings

if TYPE_CHECKING:
    from tianyan.app.platform import Platform

log = logging.getLogger(__name__)
PASSWORD_VARIABLE = "TIANYAN_DEMO_DEVICE_PASSWORD"
# A fleet of 200 channels unregisters in well under this; past it the child is killed.
STOP_WAIT_S = 20.0
_PR_SET_PDEATHSIG = 1
NICENESS = 5


async def start_fleet_process(platform: Platform) -> Callable[[], Awaitable[None]]:
    """Start the simulated devices of the demo's data folder in a child process; returns how to stop them."""
    specs_file = platform.config.server.data_dir / demo_devices.DEVICES_FILE
    if platform.sip is None or not specs_file.exists():
        return _nothing
    sip = platform.config.sip
    host = "127.0.0.1" if sip.host in ("0.0.0.0", "::", "") else sip.host
    # An empty domain is the server ID's realm, as PlatformAddress.of defines it.
    args = [specs_file, host, platform.sip.port, sip.id, sip.domain or "", os.getpid()]
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tianyan.app.demo_fleet", *map(str, args),
        env={**os.environ, PASSWORD_VARIABLE: sip.password}, stdin=subprocess.DEVNULL,
    )  # fmt: skip

    async def stop() -> None:
        if child.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(child.wait(), STOP_WAIT_S)
            except TimeoutError:
                log.warning("the simulated devices did not stop within %.0f s; killed", STOP_WAIT_S)
                with contextlib.suppress(ProcessLookupError):
                    child.kill()
                await child.wait()

    return stop


async def _nothing() -> None:
    return None


async def run(specs_file: Path, address: PlatformAddress, password: str, parent: int) -> None:
    specs = demo_devices.load(specs_file, password=password)
    fleet = Fleet(
        specs, address,
        FleetOptions(
            ramp_s=5.0,
            video=VideoSettings(main_size="720p", sub_size="cif", picture_faults=demo_devices.picture_faults(specs)),
        ),
    )  # fmt: skip
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    await fleet.start()
    try:
        while not stopping.is_set() and os.getppid() == parent:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), 1.0)
    finally:
        await fleet.stop(unregister=os.getppid() == parent)


def _die_with_parent() -> None:
    """Linux: have the kernel send SIGTERM when the parent dies (the getppid poll covers other systems)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def main(argv: list[str]) -> None:
    specs_file, host, port, server_id, domain, parent = argv
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _die_with_parent()
    # Real cameras encode on their own hardware: here they yield the shared cores to the platform and the browser.
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    if os.getppid() != int(parent):
        return  # the demo was gone before we got here
    address = PlatformAddress.of(host, int(port), server_id, domain)
    asyncio.run(run(Path(specs_file), address, os.environ.get(PASSWORD_VARIABLE, ""), int(parent)))


if __name__ == "__main__":
    main(sys.argv[1:])
