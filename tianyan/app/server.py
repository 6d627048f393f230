"""Run the platform's parts (HTTP API, GB/T 28181 SIP server, media plane, health worker) in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator

import uvicorn

from tianyan.api.app import create_app
from tianyan.app.platform import Platform
from tianyan.config import Config

ROLES = ("api", "sip", "media", "health")
log = logging.getLogger(__name__)


class _ApiServer(uvicorn.Server):
    """uvicorn without its own signal handling: it would re-raise SIGINT after shutting down, cancelling
    the platform's cleanup. `serve` owns the signals and stops every part in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _api_server(config: Config, platform: Platform) -> _ApiServer:
    return _ApiServer(
        uvicorn.Config(
            create_app(platform),
            host=config.server.http_host,
            port=config.server.http_port,
            log_level="info",
            proxy_headers=False,
            # The only WebSockets carry fMP4, which deflate cannot shrink: compressing it would only cost both ends.
            ws_per_message_deflate=False,
        )
    )


async def serve(
    config: Config,
    *,
    roles: tuple[str, ...] = ROLES,
    platform: Platform | None = None,
    after_start: Callable[[Platform], Awaitable[Callable[[], Awaitable[None]]]] | None = None,
) -> None:
    """Run the given roles until SIGINT or SIGTERM (or until a part stops on its own), then close cleanly.

    `after_start` (the demo's simulated devices) runs once the parts are up and returns how to stop it.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    platform = platform or await Platform.open(config)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        if "sip" in roles:
            await platform.start_sip()
        if "media" in roles:
            await platform.start_media()
        if "health" in roles:
            await platform.start_health()
        stop_extra = await after_start(platform) if after_start is not None else None
        api = _api_server(config, platform) if "api" in roles else None
        parts = [asyncio.create_task(api.serve(), name="api")] if api else []
        if not parts:
            parts.append(asyncio.create_task(stop.wait(), name="sip"))
        stopping = asyncio.create_task(stop.wait(), name="signal")
        await asyncio.wait([stopping, *parts], return_when=asyncio.FIRST_COMPLETED)
        log.info("stopping %s", ", ".join(roles))
        if api is not None:
            api.should_exit = True
        stopping.cancel()
        if stop_extra is not None:
            # Recordings end as "stopped", not as streams lost to the simulated devices going away first.
            await platform.stop_health()
            await platform.stop_media()
            await stop_extra()
        await asyncio.gather(*parts, return_exceptions=True)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await platform.close()
        log.info("stopped")
