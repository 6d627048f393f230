"""Pure registry decisions: default retention per class, HD and format compliance of a stream."""

from __future__ import annotations

CLASSES = (1, 2, 3)
NETWORKS = ("police", "social", "local")
KINDS = ("fixed", "ptz", "checkpoint", "vehicle", "bus", "other")
REGION_LEVELS = ("province", "city", "county", "station")
ORGANISATION_KINDS = ("police_unit", "sector", "owning_unit", "maintainer")

DEFAULT_RETENTION_DAYS = {1: 30, 2: 15, 3: 7}

HD_MIN_WIDTH, HD_MIN_HEIGHT = 1280, 720
MIN_FPS = 25.0
# SD minimums from the plans: D1 720x576 or 4CIF 704x576 at >= 25 fps.
SD_MIN_WIDTH, SD_MIN_HEIGHT = 704, 576


def retention_days(cls: int, override: int | None) -> int:
    return override if override is not None else DEFAULT_RETENTION_DAYS[cls]


def is_hd(width: int | None, height: int | None, fps: float | None) -> bool:
    """HD per the plans: at least 1280x720 at 25 fps or more."""
    if width is None or height is None or fps is None:
        return False
    return width >= HD_MIN_WIDTH and height >= HD_MIN_HEIGHT and fps >= MIN_FPS


def meets_format_minimum(width: int | None, height: int | None, fps: float | None) -> bool:
    """At least SD D1/4CIF (704x576) at 25 fps; HD qualifies too."""
    if width is None or height is None or fps is None:
        return False
    return width >= SD_MIN_WIDTH and height >= SD_MIN_HEIGHT and fps >= MIN_FPS
