"""Block-by-block comparison of two pictures' structure, tolerant of lighting, noise and a few pixels of shake.

Both pictures are compared as band-passed grey overviews (fine smoothing minus coarse smoothing): smooth
shading (a lamp's fall-off, a gradient sky) and pixel noise are both removed, leaving edges and texture, whose
correlation does not survive a shift the way a smooth gradient's would. A small global shift (a pole swaying)
is measured by phase correlation and taken out first. For every block it gives the texture (standard deviation
of the band-pass) in each picture, their normalised cross-correlation (blind to a change of brightness or
contrast, so day, dusk and a new noise pattern all still match) and the block's mean colour in each picture.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

BLOCK = 20  # overview pixels (80 at 720p)
# A shift up to this (overview pixels; 2.5 % of a 320 wide overview) is shake and is compensated.
MAX_JITTER = 8.0
_FINE_SIGMA = 1.0


@dataclass(frozen=True)
class BlockComparison:
    shift: tuple[float, float]  # measured (dx, dy) of `after` against `before`, overview pixels
    compensated: bool
    std_before: np.ndarray  # per-block texture (band-pass standard deviation), grey levels
    std_after: np.ndarray
    ncc: np.ndarray  # per-block normalised cross-correlation of the band-pass, -1..1
    colour_before: np.ndarray  # per-block mean BGR, float32 (rows, cols, 3)
    colour_after: np.ndarray


@cache
def _window(h: int, w: int) -> np.ndarray:
    return cv2.createHanningWindow((w, h), cv2.CV_32F)


def band_pass(grey: np.ndarray) -> np.ndarray:
    """Fine Gaussian minus coarse smoothing (two 9x9 box passes, about a Gaussian of sigma 3.7, much cheaper)."""
    image = grey.astype(np.float32)
    coarse = cv2.blur(cv2.blur(image, (9, 9)), (9, 9))
    return cv2.subtract(cv2.GaussianBlur(image, (0, 0), _FINE_SIGMA), coarse)


def block_grid(shape: tuple[int, ...]) -> tuple[int, int]:
    """(columns, rows) of blocks for an overview of this shape."""
    return max(1, round(shape[1] / BLOCK)), max(1, round(shape[0] / BLOCK))


def compare_blocks(before: np.ndarray, after: np.ndarray) -> BlockComparison:
    """Compare two BGR overviews of the same size."""
    h, w = after.shape[:2]
    a = band_pass(cv2.cvtColor(before, cv2.COLOR_BGR2GRAY))
    b = band_pass(cv2.cvtColor(after, cv2.COLOR_BGR2GRAY))
    # Shake is measured at half size (a quarter of the work); half a pixel there is a pixel here.
    small = (w // 2, h // 2)
    half_a = cv2.resize(a, small, interpolation=cv2.INTER_AREA)
    half_b = cv2.resize(b, small, interpolation=cv2.INTER_AREA)
    (dx, dy), _ = cv2.phaseCorrelate(half_a, half_b, _window(small[1], small[0]))
    dx, dy = dx * 2, dy * 2
    compensated = bool(np.hypot(dx, dy) <= MAX_JITTER)
    if compensated and np.hypot(dx, dy) >= 0.25:
        matrix = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
        a = cv2.warpAffine(a, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)
    grid = block_grid(after.shape)

    def block_mean(image: np.ndarray) -> np.ndarray:
        return cv2.resize(image, grid, interpolation=cv2.INTER_AREA)

    mean_a, mean_b = block_mean(a), block_mean(b)
    var_a = np.maximum(block_mean(a * a) - mean_a * mean_a, 0.0)
    var_b = np.maximum(block_mean(b * b) - mean_b * mean_b, 0.0)
    cov = block_mean(a * b) - mean_a * mean_b
    std_a, std_b = np.sqrt(var_a), np.sqrt(var_b)
    ncc = np.clip(cov / np.maximum(std_a * std_b, 1e-3), -1.0, 1.0)
    # Block colours are compared unshifted: a few pixels of shake barely move a 20-pixel block's mean.
    colour_a = block_mean(before.astype(np.float32))
    colour_b = block_mean(after.astype(np.float32))
    return BlockComparison((float(dx), float(dy)), compensated, std_a, std_b, ncc, colour_a, colour_b)
