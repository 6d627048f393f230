"""The browser side: the web console (built from console/ into web/dist, served under /console/) and the standalone
player page (/player)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
CONSOLE_DIR = Path(__file__).resolve().parent / "dist"
CONSOLE_PATH = "/console"
# Built asset names carry a content hash: a browser may keep them for good.
IMMUTABLE = "public, max-age=31536000, immutable"
NOT_BUILT = (
    "The web console has not been built. `make demo` builds it (or: cd console && npm ci && npm run build); "
    "the API itself is up: see /api/v1/docs."
)


def _console_file(relative: str) -> Path | None:
    """The built file for a path under /console/, never outside the build folder."""
    root = CONSOLE_DIR.resolve()
    candidate = (root / relative).resolve()
    if candidate != root and root not in candidate.parents:
        return None
    return candidate if candidate.is_file() else None


def _serve_asset(path: Path, request: Request) -> Response:
    headers = {"Cache-Control": IMMUTABLE if "assets" in path.parts else "no-cache"}
    gzipped = path.with_name(path.name + ".gz")
    if gzipped.is_file() and "gzip" in request.headers.get("accept-encoding", ""):
        headers.update({"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
        return FileResponse(gzipped, headers=headers, media_type=_media_type(path))
    return FileResponse(path, headers=headers)


def _media_type(path: Path) -> str | None:
    return {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".json": "application/json"}.get(
        path.suffix
    )


def install(app: FastAPI) -> None:
    """The console under /console/ (its own routes fall back to index.html), / redirecting there, and the player."""

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse(f"{CONSOLE_PATH}/")

    @app.get(CONSOLE_PATH, include_in_schema=False)
    async def console_bare() -> RedirectResponse:
        return RedirectResponse(f"{CONSOLE_PATH}/")

    @app.get(CONSOLE_PATH + "/{path:path}", include_in_schema=False)
    async def console(path: str, request: Request) -> Response:
        index = CONSOLE_DIR / "index.html"
        if not index.is_file():
            return PlainTextResponse(NOT_BUILT, status_code=503)
        found = _console_file(path) if path else None
        if found is not None:
            return _serve_asset(found, request)
        if path.startswith("assets/"):
            return PlainTextResponse("not found", status_code=404)
        # A console route (/console/live, /console/playback...): the page decides what to show.
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    @app.get("/player", include_in_schema=False)
    async def player_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "player.html", headers={"Cache-Control": "no-cache"})

    app.mount("/player", StaticFiles(directory=STATIC_DIR), name="player")
