"""`tianyan sim gb28181`: simulated GB/T 28181 devices joining a platform (ours or any other) until Ctrl+C."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from tianyan.cli import sim_rtsp
from tianyan.cli.runtime import ConfigOption, fail, load_config
from tianyan.sim.gb28181.events import DeviceRegistered, DeviceWentOffline, RegistrationFailed, SimEvent
from tianyan.sim.gb28181.fleet import Fleet, FleetOptions, fleet_specs
from tianyan.sim.gb28181.profile import KINDS, Behaviour, PlatformAddress, VideoSettings
from tianyan.sim.video import SIZES

app = typer.Typer(help="Simulators for tests, benches and demos.", no_args_is_help=True)
app.command("rtsp", help="A simulated camera that speaks only RTSP.")(sim_rtsp.rtsp)


@app.command("gb28181")
def gb28181(
    config: ConfigOption = None,
    server: Annotated[
        str | None, typer.Option(help="SIP server HOST:PORT (default: sip.host:sip.port of the configuration)")
    ] = None,
    server_id: Annotated[str | None, typer.Option(help="its 20-digit ID (default: sip.id)")] = None,
    domain: Annotated[str | None, typer.Option(help="its SIP domain, the realm (default: sip.domain)")] = None,
    password: Annotated[str | None, typer.Option(help="device password (default: sip.password)")] = None,
    devices: Annotated[int, typer.Option(min=1, help="number of devices")] = 1,
    channels: Annotated[int, typer.Option(min=1, help="camera channels per device")] = 1,
    kind: Annotated[str, typer.Option(help="ipc, nvr or vehicle")] = "ipc",
    transport: Annotated[str, typer.Option(help="udp or tcp for SIP")] = "udp",
    keepalive: Annotated[float, typer.Option(help="keepalive interval in seconds")] = 60.0,
    expires: Annotated[int, typer.Option(help="registration lifetime asked for, seconds")] = 3600,
    video: Annotated[Path | None, typer.Option(help="stream this H.264/H.265 file instead of synthetic video")] = None,
    main_size: Annotated[str, typer.Option(help=f"main stream size: {', '.join(SIZES)}")] = "720p",
    sub_size: Annotated[str, typer.Option(help="sub stream size")] = "cif",
    centre: Annotated[str, typer.Option(help="centre code (6 or 8 digits) the device IDs start with")] = "441302",
    first_serial: Annotated[int, typer.Option(min=0, help="serial of the first device")] = 1,
    alarm_inputs: Annotated[int, typer.Option(min=0, help="alarm inputs per device")] = 0,
    alarm_rate: Annotated[float, typer.Option(min=0, help="random alarms per device per hour")] = 0.0,
    position_interval: Annotated[float, typer.Option(min=0, help="vehicles: unsolicited positions every S")] = 0.0,
    bind: Annotated[str, typer.Option(help="local address for SIP and media")] = "127.0.0.1",
    sockets: Annotated[
        int | None, typer.Option(min=1, help="share this many SIP sockets (default: one per device)")
    ] = None,
    storm: Annotated[bool, typer.Option(help="start every device at once")] = False,
    ramp: Annotated[float | None, typer.Option(help="spread the starts over S seconds (default: devices/200)")] = None,
    qop: Annotated[bool, typer.Option(help="answer digest with qop=auth when offered")] = False,
    report_every: Annotated[float, typer.Option(help="seconds between summary lines")] = 5.0,
    duration: Annotated[float | None, typer.Option(help="stop after S seconds instead of at Ctrl+C")] = None,
) -> None:
    """Run simulated devices that register, keep alive, answer queries and stream, until Ctrl+C."""
    sip = load_config(config).sip
    host, _, port_text = (server or f"{sip.host}:{sip.port}").rpartition(":")
    if not host or not port_text.isdigit():
        fail(f"--server must be HOST:PORT, got {server!r}")
    if kind not in KINDS or transport.lower() not in ("udp", "tcp"):
        fail(f"--kind must be one of {', '.join(KINDS)} and --transport udp or tcp")
    try:
        platform = PlatformAddress.of(host.strip("[]"), int(port_text), server_id or sip.id, domain or sip.domain)
        specs = fleet_specs(devices, password=password or sip.password, kind=kind, channels=channels,  # type: ignore[arg-type]
                            alarm_inputs=alarm_inputs, centre=centre, first_serial=first_serial)  # fmt: skip
        behaviour = Behaviour(keepalive_s=keepalive, expires_s=expires, alarm_rate_per_h=alarm_rate,
                              position_interval_s=position_interval or None, digest_qop=qop)  # fmt: skip
        options = FleetOptions(host=bind, transport="TCP" if transport.lower() == "tcp" else "UDP", sockets=sockets,
                               storm=storm, ramp_s=devices / 200 if ramp is None else ramp, behaviour=behaviour,
                               video=VideoSettings(main_size=main_size, sub_size=sub_size, file=video))  # fmt: skip
    except Exception as exc:  # bad IDs, sizes, serial ranges: one line, not a traceback
        fail(str(getattr(exc, "detail", exc)))
    typer.echo(f"{devices} {kind} device(s) {specs[0].device_id}… → {platform.server_id} at {host}:{port_text}")
    report = _Report()
    asyncio.run(_run(Fleet(specs, platform, options, on_event=report.note), report, report_every, duration))


async def _run(fleet: Fleet, report: _Report, report_every_s: float, duration_s: float | None) -> None:
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Only the main thread may install signal handlers; a caller in another thread stops with --duration.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, done.set)
    await fleet.start()
    deadline = None if duration_s is None else loop.time() + duration_s
    try:
        while not done.is_set():
            wait_s = report_every_s if deadline is None else min(report_every_s, deadline - loop.time())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, wait_s)):
                    await done.wait()
            report.print(fleet)
            if deadline is not None and loop.time() >= deadline:
                break
    finally:
        typer.echo("stopping: unregistering and ending streams")
        await fleet.stop()
        report.print(fleet, force=True)


class _Report:
    """State changes since the last line, and the line itself when anything changed."""

    def __init__(self) -> None:
        self.changes: Counter[str] = Counter()
        self.last_failure = ""
        self.last_line = ""

    def note(self, event: SimEvent) -> None:
        if isinstance(event, DeviceRegistered):
            self.changes["registered"] += 1
        elif isinstance(event, RegistrationFailed):
            self.changes["refused" if event.status else "unanswered"] += 1
            self.last_failure = f"{event.device_id}: {event.status or ''} {event.reason}".strip()
        elif isinstance(event, DeviceWentOffline):
            self.changes["went offline"] += 1
            self.last_failure = f"{event.device_id}: {event.reason}"
        else:
            self.changes[type(event).__name__] += 1

    def print(self, fleet: Fleet, *, force: bool = False) -> None:
        line = fleet.stats().line()
        if line == self.last_line and not self.changes and not force:
            return
        changed = ", ".join(f"+{count} {name}" for name, count in sorted(self.changes.items()))
        last = f" (last: {self.last_failure})" if self.last_failure and changed else ""
        typer.echo(f"{datetime.now():%H:%M:%S} {line}" + (f" | {changed}{last}" if changed else ""))
        self.changes.clear()
        self.last_line = line
