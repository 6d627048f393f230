"""`tianyan sim rtsp`: a simulated RTSP-only camera on loopback (or any local address) until Ctrl+C."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Annotated

import typer

from tianyan.cli.runtime import fail
from tianyan.sim.rtsp import RtspCamera, default_paths
from tianyan.sim.video import SIZES


def rtsp(
    host: Annotated[str, typer.Option(help="local address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="RTSP port (0: any free one)")] = 8554,
    codec: Annotated[str, typer.Option(help="h264 or h265")] = "h264",
    main_size: Annotated[str, typer.Option(help=f"/main size: {', '.join(SIZES)}")] = "720p",
    sub_size: Annotated[str, typer.Option(help="/sub size")] = "cif",
    fps: Annotated[int, typer.Option(min=1, max=60, help="frames per second")] = 25,
    video: Annotated[Path | None, typer.Option(help="loop this H.264/H.265 file instead of synthetic video")] = None,
    label: Annotated[str, typer.Option(help="text drawn on the picture (ASCII)")] = "RTSP camera",
    username: Annotated[str, typer.Option(help="user name when --password is set")] = "admin",
    password: Annotated[str | None, typer.Option(help="require this password (default: no authentication)")] = None,
    auth: Annotated[str, typer.Option(help="digest or basic")] = "digest",
    duration: Annotated[float | None, typer.Option(help="stop after S seconds instead of at Ctrl+C")] = None,
) -> None:
    """Serve /main and /sub over RTSP (RTP over TCP or UDP) until Ctrl+C."""
    if codec not in ("h264", "h265") or auth not in ("digest", "basic"):
        fail("--codec must be h264 or h265 and --auth digest or basic")
    if video is not None and not video.is_file():
        fail(f"--video {video}: no such file")
    try:
        paths = default_paths(codec, main_size, sub_size, fps, video)
        camera = RtspCamera(paths, host=host, port=port, label=label, username=username, password=password,
                            auth=auth)  # type: ignore[arg-type]  # fmt: skip
    except ValueError as exc:
        fail(str(exc))
    asyncio.run(_serve(camera, duration))


async def _serve(camera: RtspCamera, duration_s: float | None) -> None:
    try:
        await camera.start()
    except OSError as exc:
        fail(f"cannot listen on {camera.host}:{camera.port}: {exc.strerror or exc}")
    for path in camera.paths:
        typer.echo(camera.url(path))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), duration_s)
    finally:
        stats = camera.stats
        await camera.stop()
        typer.echo(f"served {stats.connections} connection(s), {stats.sessions_started} session(s)")
