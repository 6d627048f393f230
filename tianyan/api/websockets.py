"""Streaming a media viewer's messages (fMP4 for Media Source Extensions) over a WebSocket until either side ends."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from tianyan.media.live import CLOSE_ENDED, CLOSE_SERVER_ERROR, Viewer, ViewerClosed

log = logging.getLogger(__name__)
# RFC 6455 leaves 123 bytes for a close frame's reason.
MAX_CLOSE_REASON = 123


async def close_socket(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.application_state == WebSocketState.DISCONNECTED:
        return
    encoded = reason.encode("utf-8")[:MAX_CLOSE_REASON].decode("utf-8", "ignore")
    with contextlib.suppress(Exception):
        await websocket.close(code=code, reason=encoded)


async def _pump(websocket: WebSocket, viewer: Viewer) -> ViewerClosed:
    while True:
        try:
            message = await viewer.next()
        except ViewerClosed as closed:
            return closed
        if isinstance(message, str):
            await websocket.send_text(message)
        else:
            await websocket.send_bytes(message)


async def _until_disconnect(websocket: WebSocket) -> None:
    # The player sends nothing; reading is how a closed socket is noticed.
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return


async def stream_viewer(websocket: WebSocket, viewer: Viewer, *, what: str) -> tuple[int, str]:
    """Send the viewer's messages until its stream ends or the browser goes; the close code and reason to give."""
    pump = asyncio.ensure_future(_pump(websocket, viewer))
    watcher = asyncio.ensure_future(_until_disconnect(websocket))
    code, reason = CLOSE_ENDED, "the viewer left"
    try:
        done, _ = await asyncio.wait({pump, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if pump in done:
            try:
                closed = pump.result()
                code, reason = closed.code, closed.reason
            except Exception as exc:  # the socket broke while sending: the viewer is gone
                log.debug("%s ended: %s", what, exc)
    except Exception:
        log.exception("%s failed", what)
        code, reason = CLOSE_SERVER_ERROR, "the server hit an unexpected error"
    finally:
        for task in (pump, watcher):
            task.cancel()
    return code, reason
