"""Routes vehicle-mounted cameras drive through Huizhou: polylines, and where a vehicle is after so many seconds.

Coordinates are WGS-84 (longitude, latitude), approximate, along real roads of 惠城区 and 仲恺区. An open route
is driven there and back; a closed one round and round. Distances use a local flat-earth approximation, which
is good to well under a metre over a city.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cached_property

_EARTH_RADIUS_M = 6_371_000.0


@dataclass(frozen=True)
class Fix:
    """A position report: where, how fast and which way (degrees clockwise from north)."""

    longitude: float
    latitude: float
    speed_kmh: float
    direction_deg: float


@dataclass(frozen=True)
class Route:
    name: str
    points: tuple[tuple[float, float], ...]
    closed: bool = False

    def __post_init__(self) -> None:
        if len(self.points) < 2:
            raise ValueError("a route needs at least two points")

    @cached_property
    def _legs(self) -> tuple[tuple[tuple[float, float], tuple[float, float], float], ...]:
        points = [*self.points, self.points[0]] if self.closed else list(self.points)
        return tuple((a, b, _distance_m(a, b)) for a, b in itertools.pairwise(points))

    @cached_property
    def length_m(self) -> float:
        return sum(length for _, _, length in self._legs)

    def fix_at(self, travelled_m: float, speed_kmh: float) -> Fix:
        """Where a vehicle is after `travelled_m` metres from the first point."""
        if self.closed:
            along, backwards = travelled_m % self.length_m, False
        else:
            # There and back: the second half of each round trip runs the route in reverse.
            lap = travelled_m % (2 * self.length_m)
            backwards = lap > self.length_m
            along = 2 * self.length_m - lap if backwards else lap
        for start, end, length in self._legs:
            if along <= length or (start, end, length) == self._legs[-1]:
                share = along / length if length else 0.0
                longitude = start[0] + (end[0] - start[0]) * share
                latitude = start[1] + (end[1] - start[1]) * share
                heading = _bearing_deg(end, start) if backwards else _bearing_deg(start, end)
                return Fix(round(longitude, 6), round(latitude, 6), speed_kmh, round(heading, 1))
            along -= length
        raise AssertionError("unreachable: the last leg always matches")


def _distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    mean_latitude = math.radians((a[1] + b[1]) / 2)
    dx = math.radians(b[0] - a[0]) * math.cos(mean_latitude)
    dy = math.radians(b[1] - a[1])
    return _EARTH_RADIUS_M * math.hypot(dx, dy)


def _bearing_deg(a: tuple[float, float], b: tuple[float, float]) -> float:
    east = (b[0] - a[0]) * math.cos(math.radians((a[1] + b[1]) / 2))
    north = b[1] - a[1]
    return math.degrees(math.atan2(east, north)) % 360.0


ROUTES: tuple[Route, ...] = (
    Route(
        "江北环线",
        ((114.395, 23.121), (114.407, 23.125), (114.418, 23.124), (114.428, 23.114), (114.420, 23.104),
         (114.402, 23.107)),
        closed=True,
    ),
    Route(
        "演达大道—河南岸",
        ((114.402, 23.122), (114.406, 23.111), (114.410, 23.100), (114.418, 23.085), (114.428, 23.066),
         (114.440, 23.050)),
    ),
    Route(
        "惠州大道—陈江",
        ((114.420, 23.080), (114.405, 23.075), (114.390, 23.070), (114.360, 23.060), (114.345, 23.052),
         (114.330, 23.045)),
    ),
    Route(
        "三环南路",
        ((114.385, 23.064), (114.400, 23.060), (114.430, 23.058), (114.455, 23.062), (114.470, 23.075)),
    ),
    Route(
        "西湖—桥东",
        ((114.395, 23.083), (114.398, 23.093), (114.410, 23.097), (114.425, 23.093), (114.432, 23.086)),
    ),
)  # fmt: skip


def fix_at(route_index: int, elapsed_s: float, speed_kmh: float, offset_m: float = 0.0) -> Fix:
    """Where vehicle number `route_index` (mod the routes) is `elapsed_s` seconds after it set off."""
    route = ROUTES[route_index % len(ROUTES)]
    return route.fix_at(offset_m + elapsed_s * speed_kmh / 3.6, speed_kmh)
