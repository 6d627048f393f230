"""The error types domains raise; the API maps each to one HTTP problem type."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class TianyanError(Exception):
    """Base of every error Tianyan raises on purpose; `title` is the short, stable kind."""

    title = "Error"
    status = 400

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInput(TianyanError):
    title = "Invalid input"
    status = 422


class NotFound(TianyanError):
    title = "Not found"
    status = 404


class Forbidden(TianyanError):
    title = "Forbidden"
    status = 403


class Unauthenticated(TianyanError):
    title = "Authentication required"
    status = 401


class Conflict(TianyanError):
    title = "Conflict"
    status = 409


class Locked(TianyanError):
    title = "Account locked"
    status = 423


class ConfigError(TianyanError):
    title = "Invalid configuration"


@dataclass(frozen=True)
class RowError:
    """One reason one row of an import file was refused."""

    line: int
    column: str
    reason: str


@dataclass
class ImportRejected(Exception):
    """An import whose file had bad rows and was not written (or partly, with --partial)."""

    errors: list[RowError] = field(default_factory=list)


class Unavailable(TianyanError):
    """What was asked for cannot be reached right now (a device offline, a part not running on this node)."""

    title = "Unavailable"
    status = 503


class UpstreamTimeout(TianyanError):
    """A device or upstream platform did not answer in time."""

    title = "Upstream timeout"
    status = 504


class UpstreamError(TianyanError):
    """A device or upstream platform refused or failed what was asked of it."""

    title = "Upstream error"
    status = 502
