"""Interference stripes: one spatial frequency standing out across the whole picture (score higher = worse).

The score is the prominence (natural log of the peak over its spectral neighbourhood) of the strongest pattern
that stands out in all of 9 parts of the picture but two, from three passes:
- horizontal and vertical bands, on averaged profiles: the mean row profile of each of 9 vertical strips (the
  full height each), and the mean column profile of 9 horizontal strips. Averaging along a band keeps it whole
  and averages the scene away, and a long profile resolves its period sharply. A wall of windows seen
  square-on repeats as regularly, so a band's strength along its crests is measured too: interference runs
  unbroken, a row of windows is windows and wall by turns, and such a lattice does not count (_unbroken);
- slanted patterns, on the 2-D spectra of 9 tiles of the detail copy, away from the axes (a busy scene's 2-D
  spectrum stands out by chance more often, hence _SLANT_ALLOWANCE);
- the finest stripes (periods under ~6 frame pixels, any direction), on small tiles of the full frame, since
  halving the frame for the detail copy averages them away.
A pattern must be visible (2 grey levels or more) in those parts too. The slowest patterns (periods over ~70
pixels at 720 lines, e.g. a rolling hum bar) are left out: there the scene's own shading dominates. Known
limits: a lattice of windows that the unbroken test misses (seen at an angle, dense) can still score, and faint
wide bands over a busy scene can be missed.
"""

from __future__ import annotations

import math
from functools import cache

import cv2
import numpy as np

from tianyan.health.vqd.picture import FINE_TILE, TILES_ACROSS, Picture, tile_origins

_TILE = 128
_FINE_MIN_BIN = 11.0  # full-resolution periods under ~6 pixels only: coarser ones are judged on the detail copy
_TILES_AGREEING = 3  # the pattern must stand out in all tiles but two
_PROFILES_AGREEING = 3
_PROFILE_STRIPS = 9
_UNBROKEN, _BROKEN = 0.25, 0.5  # envelope modulation of interference / of a wall of windows (see _unbroken)
_SLOW_CYCLES = 3
_LATTICE_TEST_FROM = 0.8
_MIN_BIN = 3.5  # spectral radius (bins of a 128 tile) below which the scene's shading dominates
_SLANT_ALLOWANCE = 0.2
_OFF_AXIS = 2  # bins from an axis: nearer, a pattern is horizontal or vertical bands (judged on profiles)
_MIN_AMPLITUDE = 2.0  # grey levels at the detail scale: fainter patterns are invisible (e.g. 8-bit ramp steps)


@cache
def _tile_window(size: int) -> np.ndarray:
    return cv2.createHanningWindow((size, size), cv2.CV_32F)


@cache
def _frequency_mask(size: int, min_bin: float, off_axis: bool = False) -> np.ndarray:
    k = np.fft.fftfreq(size) * size
    ky, kx = np.meshgrid(k, k, indexing="ij")
    mask = np.hypot(kx, ky) >= min_bin
    if off_axis:
        mask &= (np.abs(kx) >= _OFF_AXIS) & (np.abs(ky) >= _OFF_AXIS)
    # The spectrum of a real image is symmetric: keep one half.
    mask &= (ky > 0) | ((ky == 0) & (kx > 0))
    return mask


def stripes_score(picture: Picture) -> tuple[float, float]:
    """(prominence of the strongest pattern present across the picture, its period in frame pixels).

    Three passes, each asking for one frequency to stand out in all of 9 tiles but two:
    - horizontal and vertical bands, on each tile's averaged row and column profiles (averaging along a band
      keeps it whole and averages the scene away, so a wall of windows, a 2-D pattern, does not pass);
    - slanted patterns, on the 2-D spectra of tiles of the detail copy, away from the axes (a busy scene's
      2-D spectrum stands out by chance more often, hence _SLANT_ALLOWANCE);
    - the finest stripes (periods under ~6 frame pixels, any direction), on small full-resolution tiles,
      since halving the frame for the detail copy averages them away.
    """
    detail = picture.detail
    h, w = detail.shape
    scale = picture.width / w
    candidates = [(0.0, 0.0)]
    for across, (profiles, length) in zip((False, True), _band_profiles(detail), strict=True):
        peak = _coherent_profile_peak(profiles)
        if peak is not None:
            prominence = peak[0]
            if prominence >= _LATTICE_TEST_FROM:  # weaker peaks are no fault whatever they are: skip the work
                prominence *= _unbroken(detail.T if across else detail, peak[1] / length)
            candidates.append((prominence, length / peak[1] * scale))
    if h >= _TILE and w >= _TILE:
        tiles = [
            detail[y : y + _TILE, x : x + _TILE]
            for y in tile_origins(h, _TILE, TILES_ACROSS)
            for x in tile_origins(w, _TILE, TILES_ACROSS)
        ]
        slanted = _coherent_peak(tiles, _TILE, _MIN_BIN, off_axis=True)
        if slanted is not None:
            prominence, kx, ky = slanted
            candidates.append((prominence - _SLANT_ALLOWANCE, _TILE / math.hypot(kx, ky) * scale))
    if picture.fine_tiles and picture.fine_tiles[0].shape == (FINE_TILE, FINE_TILE):
        finest = _coherent_peak(picture.fine_tiles, FINE_TILE, _FINE_MIN_BIN)
        if finest is not None:
            candidates.append((finest[0], FINE_TILE / math.hypot(finest[1], finest[2])))
    return max(candidates)


def _band_profiles(detail: np.ndarray) -> list[tuple[list[np.ndarray], int]]:
    """Mean row profiles of vertical strips (for horizontal bands) and mean column profiles of horizontal strips
    (for vertical bands), each strip the picture's full height or width: averaging along a band keeps it whole
    and averages the scene away, and a long profile resolves a band's period sharply."""
    h, w = detail.shape
    strips = _PROFILE_STRIPS
    image = detail.astype(np.float32)
    sw, sh = w // strips, h // strips
    rows = cv2.resize(image[:, : sw * strips], (strips, h), interpolation=cv2.INTER_AREA)
    columns = cv2.resize(image[: sh * strips], (w, strips), interpolation=cv2.INTER_AREA)
    return [([rows[:, i] for i in range(strips)], h), ([columns[i] for i in range(strips)], w)]


def _coherent_profile_peak(profiles: list[np.ndarray]) -> tuple[float, int] | None:
    """The frequency standing out in all profiles but a few: (prominence, bin); profiles share one length."""
    length = profiles[0].size
    window = _profile_window(length)
    log_unit = math.log(float(window.sum()) / 2)
    stack = np.stack(profiles)
    centred = (stack - stack.mean(axis=1, keepdims=True)) * window
    log_magnitude = np.log(np.abs(np.fft.rfft(centred, axis=1)) + 1.0).astype(np.float32)
    # The background is the +-4 bins around each bin without the bin and its neighbours (a peak's own spread).
    around = cv2.boxFilter(log_magnitude, -1, (9, 1), normalize=False, borderType=cv2.BORDER_REFLECT)
    inner = cv2.boxFilter(log_magnitude, -1, (3, 1), normalize=False, borderType=cv2.BORDER_REFLECT)
    prominence = log_magnitude - (around - inner) / 6.0
    k = min(_PROFILES_AGREEING, len(profiles)) - 1
    common = np.partition(prominence, k, axis=0)[k]
    amplitude = np.partition(log_magnitude, k, axis=0)[k]
    bins = np.arange(common.size)
    usable = (bins * _TILE / length >= _MIN_BIN) & (amplitude - log_unit >= math.log(_MIN_AMPLITUDE))
    common = np.where(usable, common, -np.inf)
    best = int(np.argmax(common))
    if not np.isfinite(common[best]):
        return None
    return float(common[best]), best


def _unbroken(image: np.ndarray, frequency: float) -> float:
    """1.0 when bands of `frequency` (cycles per pixel down the image) run unbroken across it, falling to 0.0 when
    their strength comes and goes along them with a period of its own.

    Interference is laid over everything and runs unbroken along its crests. The rows of a wall of windows seen
    square-on repeat just as regularly, but each row is windows and wall by turns, so their strength along the
    row rises and falls at the windows' spacing: a 2-D lattice, not a 1-D pattern. The band's amplitude is
    measured for every column (a projection on the complex wave), and the strongest periodic part of that
    envelope is compared with its mean.
    """
    h, w = image.shape
    rows = np.arange(h, dtype=np.float32)
    phase = (2 * np.pi * frequency) * rows
    window = _profile_window(h)
    columns = image.astype(np.float32)
    columns -= columns.mean(axis=0, keepdims=True)
    # Multiply and sum rather than a matrix product: BLAS would spread this small job over threads and cores.
    real = (columns * (window * np.cos(phase))[:, None]).sum(axis=0)
    imaginary = (columns * (window * np.sin(phase))[:, None]).sum(axis=0)
    envelope = np.hypot(real, imaginary)
    envelope = np.convolve(envelope, np.ones(3, np.float32) / 3, mode="same")
    spectrum = np.abs(np.fft.rfft(envelope - envelope.mean()))
    # Slow changes across the picture (light, a building ending) are not a lattice: skip the first few cycles.
    modulation = float(spectrum[_SLOW_CYCLES:].max()) / (float(envelope.mean()) * w / 2 + 1e-6)
    return float(np.clip((_BROKEN - modulation) / (_BROKEN - _UNBROKEN), 0.0, 1.0))


@cache
def _profile_window(length: int) -> np.ndarray:
    return np.hanning(length).astype(np.float32)


def _coherent_peak(
    tiles: list[np.ndarray], size: int, min_bin: float, off_axis: bool = False
) -> tuple[float, int, int] | None:
    """The frequency that stands out in all tiles but a few: (its prominence, kx, ky in bins), if any is visible."""
    window = _tile_window(size)
    # A windowed sinusoid of amplitude A peaks at A / 2 * sum(window) in the spectrum.
    log_unit = math.log(float(window.sum()) / 2)
    prominences = _LowestK(_TILES_AGREEING)
    amplitudes = _LowestK(_TILES_AGREEING)
    for grey in tiles:
        tile = grey.astype(np.float32)
        tile -= float(cv2.mean(tile)[0])
        spectrum = cv2.dft(cv2.multiply(tile, window), flags=cv2.DFT_COMPLEX_OUTPUT)
        log_magnitude = cv2.log(cv2.magnitude(spectrum[:, :, 0], spectrum[:, :, 1]) + 1.0)
        # The background is the 9x9 neighbourhood without the peak's own 3x3 (a windowed peak spreads that far).
        around = cv2.boxFilter(log_magnitude, -1, (9, 9), normalize=False, borderType=cv2.BORDER_REFLECT)
        inner = cv2.boxFilter(log_magnitude, -1, (3, 3), normalize=False, borderType=cv2.BORDER_REFLECT)
        prominences.add(log_magnitude - (around - inner) / 72.0)
        amplitudes.add(log_magnitude)
    visible = amplitudes.kth() - log_unit >= math.log(_MIN_AMPLITUDE)
    common = np.where(_frequency_mask(size, min_bin, off_axis) & visible, prominences.kth(), -np.inf)
    best = int(np.argmax(common))
    if not np.isfinite(common.flat[best]):
        return None
    ky, kx = divmod(best, size)
    return float(common.flat[best]), (kx if kx <= size // 2 else kx - size), (ky if ky <= size // 2 else ky - size)


class _LowestK:
    """Bin by bin, the k-th lowest of the arrays added so far (their k lowest kept sorted)."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.lowest: list[np.ndarray] = []

    def add(self, values: np.ndarray) -> None:
        carry = values
        for index, kept in enumerate(self.lowest):
            self.lowest[index], carry = cv2.min(kept, carry), cv2.max(kept, carry)
        if len(self.lowest) < self.k:
            self.lowest.append(carry)

    def kth(self) -> np.ndarray:
        return self.lowest[-1]
