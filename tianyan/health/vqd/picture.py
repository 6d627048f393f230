"""A frame checked and reduced once to the small copies every check works on.

Checks never touch the full frame: `prepare` makes a grey "detail" copy at most 640 pixels wide (focus, noise,
stripes, motion) and a BGR "overview" 320 wide (colour, exposure, flat screens, comparisons with the reference).
Thresholds are calibrated on these scales for 720p and 1080p streams; 4CIF/CIF sub-streams are analysed as they
come (narrower than 640), which only makes the noise and focus checks a little stricter.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tianyan.core.errors import InvalidInput

DETAIL_WIDTH = 640
OVERVIEW_WIDTH = 320
MIN_WIDTH, MIN_HEIGHT = 128, 72
# Small grey tiles of the full frame, TILES_ACROSS x TILES_ACROSS of them, for stripes too fine for the detail copy.
FINE_TILE = 64
TILES_ACROSS = 3


@dataclass(frozen=True)
class Picture:
    """One frame at the checks' working scales."""

    width: int  # of the original frame
    height: int
    detail: np.ndarray  # grey uint8, <= DETAIL_WIDTH wide
    overview: np.ndarray  # BGR uint8, OVERVIEW_WIDTH wide (or the frame's width if narrower)
    overview_grey: np.ndarray  # grey uint8 of `overview`
    fine_tiles: list[np.ndarray]  # grey FINE_TILE squares of the full frame, spread over it

    @property
    def aspect(self) -> float:
        return self.width / self.height


def check_frame(frame: object, what: str = "frame") -> np.ndarray:
    """`frame` if it is a BGR uint8 picture big enough to judge, else InvalidInput saying what is wrong."""
    if not isinstance(frame, np.ndarray):
        raise InvalidInput(f"{what} must be a numpy array (BGR uint8), got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise InvalidInput(f"{what} must be uint8 BGR, got dtype {frame.dtype}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise InvalidInput(f"{what} must be a colour picture of shape (height, width, 3) BGR, got shape {frame.shape}")
    height, width = frame.shape[:2]
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        raise InvalidInput(
            f"{what} is {width}x{height}; pictures smaller than {MIN_WIDTH}x{MIN_HEIGHT} cannot be judged"
        )
    return frame


def _shrink(image: np.ndarray, width: int) -> np.ndarray:
    h, w = image.shape[:2]
    if w <= width:
        return image
    height = max(1, round(h * width / w))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def detail_grey(frame: np.ndarray) -> np.ndarray:
    """The grey detail copy alone (what the motion check needs from each frame of a burst)."""
    return cv2.cvtColor(_shrink(frame, DETAIL_WIDTH), cv2.COLOR_BGR2GRAY)


def tile_origins(size: int, tile: int, count: int) -> list[int]:
    """`count` tile starts spread evenly over `size` (one at 0 if the tile does not fit)."""
    return [round(v) for v in np.linspace(0, size - tile, count)] if size > tile else [0]


def prepare(frame: np.ndarray) -> Picture:
    """The frame's working copies; `frame` must already have passed `check_frame`."""
    height, width = frame.shape[:2]
    # Halving first takes OpenCV's fast 2x area path; the overview is then another cheap halving.
    half = _shrink(frame, DETAIL_WIDTH)
    overview = _shrink(half, OVERVIEW_WIDTH)
    return Picture(
        width=width,
        height=height,
        detail=cv2.cvtColor(half, cv2.COLOR_BGR2GRAY),
        overview=overview,
        overview_grey=cv2.cvtColor(overview, cv2.COLOR_BGR2GRAY),
        fine_tiles=[
            cv2.cvtColor(frame[y : y + FINE_TILE, x : x + FINE_TILE], cv2.COLOR_BGR2GRAY)
            for y in tile_origins(height, FINE_TILE, TILES_ACROSS)
            for x in tile_origins(width, FINE_TILE, TILES_ACROSS)
        ],
    )
