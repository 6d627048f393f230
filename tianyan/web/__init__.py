"""The browser console's static files (the video player page), served by the API app under /player."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"


def install(app: FastAPI) -> None:
    """Serve the player at /player (the page) and its assets under /player/."""

    @app.get("/player", include_in_schema=False)
    async def player_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "player.html", headers={"Cache-Control": "no-cache"})

    app.mount("/player", StaticFiles(directory=STATIC_DIR), name="player")
