"""Whole-screen states: a no-signal screen (signal_loss) and a picture of one flat colour (black_screen).

Both look at the BGR overview, lightly smoothed so sensor noise does not break up a flat screen.
- black_screen score: the share of the picture within a few levels of its dominant colour (0..1, higher = worse).
  Any single colour counts (black lens cap, dead sensor grey, decoder green); an OSD clock on it does not help.
- signal_loss score: how much of the picture is a recognisable no-signal screen (0..1, higher = worse): the
  saturated blue "NO VIDEO" screen DVRs and encoders send, or colour bars. A flat screen of any other colour is a
  black_screen, not a signal loss: we cannot tell a lens cap from a black "no signal" page, so we do not guess.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tianyan.health.vqd.picture import Picture

# Levels a pixel may differ from the dominant colour (per channel) and still count as the flat colour: a few
# levels plus a share of the colour's own level (a dim scene's shading is small in levels, a bright one's large).
FLAT_TOLERANCE = 4
FLAT_TOLERANCE_SHARE = 0.04
# A no-signal blue: blue well above both green and red, and bright enough to be a lit screen.
_BLUE_MIN, _BLUE_MARGIN = 100, 70
# Colour bars: enough saturated, differently coloured columns.
_BAR_SATURATION, _BAR_MIN_HUES = 80, 4
_BAR_MAX_ROW_CHANGE = 2.0  # mean grey change from one row to the next


@dataclass(frozen=True)
class ScreenScores:
    flat_share: float  # share of the picture in its dominant colour
    dominant_bgr: tuple[int, int, int]
    no_signal: float  # share of the picture that is a no-signal screen


def _channel_median(channel: np.ndarray) -> int:
    counts = np.bincount(channel.ravel(), minlength=256)
    return int(np.searchsorted(np.cumsum(counts), channel.size / 2))


def screen_scores(picture: Picture) -> ScreenScores:
    smooth = cv2.blur(picture.overview, (3, 3))
    dominant = tuple(_channel_median(smooth[:, :, c]) for c in range(3))
    tolerance = [FLAT_TOLERANCE + FLAT_TOLERANCE_SHARE * v for v in dominant]
    low = np.array([max(0, round(v - t)) for v, t in zip(dominant, tolerance, strict=True)], np.uint8)
    high = np.array([min(255, round(v + t)) for v, t in zip(dominant, tolerance, strict=True)], np.uint8)
    flat_share = float(np.count_nonzero(cv2.inRange(smooth, low, high))) / smooth.shape[0] / smooth.shape[1]
    b, g, r = dominant
    blue_screen = flat_share if b >= _BLUE_MIN and b - max(g, r) >= _BLUE_MARGIN else 0.0
    return ScreenScores(flat_share, (b, g, r), max(blue_screen, _colour_bars(smooth)))


def _colour_bars(smooth: np.ndarray) -> float:
    """Share of the picture that is vertical bars of saturated colours (0 when there are too few hues)."""
    grey = cv2.cvtColor(smooth, cv2.COLOR_BGR2GRAY)
    if float(cv2.mean(cv2.absdiff(grey[1:], grey[:-1]))[0]) > _BAR_MAX_ROW_CHANGE:
        return 0.0  # rows differ: not a picture of vertical bars (and the full test below is not needed)
    column_mean = cv2.reduce(smooth, 0, cv2.REDUCE_AVG)  # (1, W, 3)
    spread = smooth.astype(np.int16) - column_mean.astype(np.int16)
    uniform = np.all(np.abs(spread) <= 2 * FLAT_TOLERANCE, axis=2)
    columns = column_mean[0].astype(np.int16)
    saturated = (columns.max(axis=1) - columns.min(axis=1)) >= _BAR_SATURATION
    if not saturated.any():
        return 0.0
    hsv = cv2.cvtColor(column_mean, cv2.COLOR_BGR2HSV)[0]
    hues = {int(h) // 20 for h in hsv[saturated, 0]}
    if len(hues) < _BAR_MIN_HUES:
        return 0.0
    return float(uniform.mean())
