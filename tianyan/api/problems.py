"""Errors as RFC 9457 problem details (application/problem+json)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tianyan.core.errors import TianyanError

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"


def problem(status: int, title: str, detail: str, *, request: Request | None = None, **extra: Any) -> JSONResponse:
    slug = title.lower().replace(" ", "-")
    body: dict[str, Any] = {"type": f"/api/v1/problems/{slug}", "title": title, "status": status, "detail": detail}
    if request is not None:
        body["instance"] = request.url.path
    body.update(extra)
    headers = {"WWW-Authenticate": 'Cookie realm="tianyan"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(TianyanError)
    async def _domain(request: Request, exc: TianyanError) -> JSONResponse:
        return problem(exc.status, exc.title, exc.detail, request=request, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"location": ".".join(str(p) for p in err["loc"]), "message": err["msg"]} for err in exc.errors()]
        summary = "; ".join(f"{e['location']}: {e['message']}" for e in errors[:5])
        return problem(422, "Invalid input", summary, request=request, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed", 413: "Request too large"}.get(exc.status_code, "Error")
        return problem(exc.status_code, title, str(exc.detail), request=request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return problem(500, "Internal error", "the server hit an unexpected error; it has been logged", request=request)
