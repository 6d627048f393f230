"""`tianyan`: serve, demo, init, db, user, gbid, audit (and the registry and report commands)."""

from __future__ import annotations

from typing import Annotated

import typer

from tianyan.app import server
from tianyan.app.platform import Platform
from tianyan.cli import audit, devices, gbid, regions, registry, report, sim, users
from tianyan.cli import export as export_cli
from tianyan.cli import recordings as recordings_cli
from tianyan.cli.runtime import ConfigOption, fail, load_config, print_json, run, with_session

app = typer.Typer(
    help="Tianyan 天眼: city-scale public-security video surveillance platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(users.app, name="user")
app.add_typer(gbid.app, name="gbid")
app.add_typer(audit.app, name="audit")
app.add_typer(regions.app, name="region")
app.add_typer(registry.app, name="camera")
app.add_typer(report.app, name="report")
app.add_typer(devices.app, name="device")
app.add_typer(sim.app, name="sim")
app.add_typer(recordings_cli.app, name="recordings")
app.command("export")(export_cli.export)

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@app.command()
def serve(
    config: ConfigOption = None,
    role: Annotated[
        list[str] | None, typer.Option("--role", help=f"run only these parts on this node: {', '.join(server.ROLES)}")
    ] = None,
) -> None:
    """Run the platform."""
    roles = tuple(role or server.ROLES)
    unknown = set(roles) - set(server.ROLES)
    if unknown:
        fail(f"unknown role(s) {sorted(unknown)}; known: {', '.join(server.ROLES)}")
    cfg = load_config(config)
    run(server.serve(cfg, roles=roles))


@app.command()
def init(
    username: Annotated[str, typer.Option(help="name of the first administrator")] = "admin",
    config: ConfigOption = None,
) -> None:
    """Create the database schema and the first administrator; its password is printed once."""
    from tianyan.app.bootstrap import create_first_admin
    from tianyan.app.platform import auth_settings

    policy = auth_settings(load_config(config)).policy
    password = run(with_session(config, lambda session: create_first_admin(session, username=username, policy=policy)))
    typer.echo(f"administrator: {username}\npassword:      {password}\n(shown once: store it now)")


@db_app.command()
def upgrade(config: ConfigOption = None) -> None:
    """Apply pending migrations (serve does this too)."""
    from tianyan.schema.migrate import current_revision

    async def work() -> str | None:
        platform = await Platform.open(load_config(config))
        try:
            return await current_revision(platform.engine)
        finally:
            await platform.close()

    print_json({"revision": run(work())})


@app.command()
def demo(
    config: ConfigOption = None,
    seed: Annotated[int, typer.Option(help="seed of the generated registry")] = 2012,
    cameras: Annotated[int, typer.Option(help="number of generated cameras")] = 8000,
    nvrs: Annotated[
        int, typer.Option(help="simulated NVRs of 16 channels each, on first run (10 gives ~200 simulated channels)")
    ] = 1,
) -> None:
    """Run the platform with demo data and simulated devices, on localhost."""
    from tianyan.app.demo import run_demo

    run(run_demo(load_config(config), seed=seed, cameras=cameras, nvrs=nvrs))
