"""`tianyan device ...`: GB/T 28181 devices from the command line.

Reading state and setting passwords work on the database directly. Asking a device something (catalog, PTZ,
recordings, controls) needs the running SIP server, so those commands go through the HTTP API of the running
platform with an API key (`--api-key` or TIANYAN_API_KEY), and are scoped and audited like any API call.
"""

from __future__ import annotations

import dataclasses
import getpass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from tianyan.cli.runtime import ConfigOption, fail, load_config, print_json, run, with_session
from tianyan.gb28181 import control, service
from tianyan.registry import devices as devices_service
from tianyan.registry.devices import DeviceIn
from tianyan.security.scope import SYSTEM

app = typer.Typer(help="GB/T 28181 devices: state, channels, catalog, PTZ, recordings.", no_args_is_help=True)
CLI_PRINCIPAL = dataclasses.replace(SYSTEM, username="cli", source="cli")

UrlOption = Annotated[str | None, typer.Option("--url", help="the platform's API (default: from the config)")]
KeyOption = Annotated[
    str | None, typer.Option("--api-key", envvar="TIANYAN_API_KEY", help="an API key (POST /api/v1/auth/api-keys)")
]


def _api(config: Path | None, url: str | None, api_key: str | None) -> httpx.Client:
    if not api_key:
        fail("this command talks to the running platform: give --api-key or set TIANYAN_API_KEY")
    if url is None:
        server = load_config(config).server
        host = "127.0.0.1" if server.http_host in ("0.0.0.0", "::", "") else server.http_host
        url = f"http://{host}:{server.http_port}"
    return httpx.Client(
        base_url=url.rstrip("/") + "/api/v1", headers={"Authorization": f"Bearer {api_key}"}, timeout=60
    )


def _call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    try:
        response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        fail(f"cannot reach the platform at {client.base_url}: {exc}")
    if response.status_code >= 400:
        try:
            problem = response.json()
            fail(f"{problem.get('title', 'Error')}: {problem.get('detail', response.text)}")
        except ValueError:
            fail(f"HTTP {response.status_code}: {response.text[:200]}")
    return response.json() if response.content else None


@app.command("list")
def list_devices(
    online: Annotated[bool | None, typer.Option("--online/--offline", help="only online (or offline) devices")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    config: ConfigOption = None,
) -> None:
    """Every device with its online state, last keepalive, transport and address."""

    async def work(session: Any) -> list[service.DeviceState]:
        found: list[service.DeviceState] = []
        after: int | None = 0
        while after is not None:
            page, after = await service.list_devices(
                session, principal=CLI_PRINCIPAL, online=online, after=after, limit=1000
            )
            found += page
        return found

    devices = run(with_session(config, work))
    if as_json:
        print_json([dataclasses.asdict(d) for d in devices])
        return
    for d in devices:
        state = "online " if d.online else "offline"
        seen = d.last_keepalive_at.isoformat(timespec="seconds") if d.last_keepalive_at else "-"
        typer.echo(
            f"{d.gb_id}  {state}  {d.transport or '-':3}  {d.address or '-':21}  keepalive {seen}  "
            f"{d.channels_online}/{d.channels} channels  {d.name}"
        )


@app.command()
def add(
    device: str,
    region: Annotated[str, typer.Option(help="code of the region the device stands in")],
    name: Annotated[str | None, typer.Option(help="default: the device's GB ID")] = None,
    cls: Annotated[int, typer.Option("--class", min=1, max=3, help="class of the cameras its catalog adds")] = 1,
    network: Annotated[str, typer.Option(help="police, social or local: the network of those cameras")] = "police",
    config: ConfigOption = None,
) -> None:
    """Register a device before it connects (approved), so its first REGISTER gets in."""
    data = DeviceIn(
        gb_id=device,
        name=name or device,
        region=region,
        channel_class=cls,  # type: ignore[arg-type]
        channel_network=network,
    )  # type: ignore[arg-type]
    added = run(with_session(config, lambda s: devices_service.create_device(s, principal=CLI_PRINCIPAL, data=data)))
    typer.echo(
        f"added {added.type_name} {added.gb_id} in {added.region}; set its password with `tianyan device "
        f"password {added.gb_id}` or it uses the platform's default"
    )


@app.command()
def approve(
    device: str,
    reject: Annotated[bool, typer.Option("--reject", help="refuse it instead")] = False,
    config: ConfigOption = None,
) -> None:
    """Approve (or --reject) a device that enrolled itself and waits as pending."""
    decided = run(
        with_session(
            config,
            lambda s: devices_service.set_approval(
                s, principal=CLI_PRINCIPAL, gb_id=device, approval="rejected" if reject else "approved"
            ),
        )
    )
    typer.echo(f"{decided.gb_id}: {decided.approval} (it takes effect at the device's next REGISTER)")


@app.command()
def channels(device: str, config: ConfigOption = None) -> None:
    """The channels (cameras) of one device with their state."""
    found = run(with_session(config, lambda s: service.list_channels(s, principal=CLI_PRINCIPAL, gb_id=device)))
    for c in found:
        typer.echo(
            f"{c.gb_id}  {'online ' if c.online else 'offline'}  {c.channel_status or '-':3}  "
            f"class {c.cls} {c.network:6}  {c.kind:8}  {c.name}"
        )


@app.command()
def password(device: str, config: ConfigOption = None) -> None:
    """Set a device's own digest password (asked for twice; stored as digests only)."""
    first = getpass.getpass("Device password: ")
    if first != getpass.getpass("Repeat: "):
        fail("the passwords differ")
    cfg = load_config(config)

    async def work(session: Any) -> None:
        await service.set_password(
            session,
            principal=CLI_PRINCIPAL,
            gb_id=device,
            password=first,
            realm=cfg.sip.domain,
            now=datetime.now().astimezone(),
        )

    run(with_session(config, work))
    typer.echo(f"password of {device} set; it applies at the device's next REGISTER")


@app.command()
def catalog(device: str, url: UrlOption = None, api_key: KeyOption = None, config: ConfigOption = None) -> None:
    """Ask the device for its catalog now and apply it to the registry."""
    with _api(config, url, api_key) as client:
        print_json(_call(client, "POST", f"/devices/{device}/catalog"))


@app.command()
def ptz(
    camera: str,
    action: Annotated[str, typer.Argument(help=", ".join(control.PTZ_ACTIONS))],
    speed: Annotated[int, typer.Option(min=1, max=255)] = 128,
    preset: Annotated[int | None, typer.Option(min=1, max=255)] = None,
    url: UrlOption = None,
    api_key: KeyOption = None,
    config: ConfigOption = None,
) -> None:
    """Send one PTZ command to a camera."""
    with _api(config, url, api_key) as client:
        print_json(
            _call(client, "POST", f"/cameras/{camera}/ptz", json={"action": action, "speed": speed, "preset": preset})
        )


@app.command()
def records(
    camera: str,
    start: Annotated[datetime, typer.Option("--from", help="e.g. 2026-11-21T08:00:00+08:00")],
    end: Annotated[datetime, typer.Option("--to")],
    url: UrlOption = None,
    api_key: KeyOption = None,
    config: ConfigOption = None,
) -> None:
    """List the recordings a camera's device keeps between two times."""
    start = start if start.tzinfo else start.astimezone()
    end = end if end.tzinfo else end.astimezone()
    with _api(config, url, api_key) as client:
        found = _call(
            client,
            "GET",
            f"/cameras/{camera}/device-recordings",
            params={"start": start.isoformat(), "end": end.isoformat()},
        )
    for item in found["items"]:
        typer.echo(f"{item['start']}  {item['end']}  {item['type'] or '-':6}  {item['name'] or ''}")
    if not found["complete"]:
        typer.echo(f"(incomplete: {found['problem']})")


@app.command("control")
def device_control(
    device: str,
    action: Annotated[str, typer.Argument(help=", ".join(control.DEVICE_ACTIONS))],
    channel: Annotated[str | None, typer.Option(help="one channel of the device")] = None,
    url: UrlOption = None,
    api_key: KeyOption = None,
    config: ConfigOption = None,
) -> None:
    """Guard, unguard, record, stop-record, reset-alarm or reboot (teleboot) a device."""
    with _api(config, url, api_key) as client:
        print_json(_call(client, "POST", f"/devices/{device}/control", json={"action": action, "channel": channel}))
