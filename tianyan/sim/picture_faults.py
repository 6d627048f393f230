"""Picture faults a simulated camera can show: pure functions that degrade a clean BGR frame.

`apply(kind, frame, rng, strength)` returns a new BGR uint8 frame with the fault `kind` (one of KINDS, named like
the VQD check that should catch it) at `strength` in [0, 1]: 0 is the mildest picture an operator would still
call faulty, 1 is severe. Randomness (shapes, colours, periods) comes only from `rng`, so a seed gives the same
picture. Lengths are defined for 720 lines and scale with the frame height.

"frozen" cannot be shown by one frame: a frozen camera keeps sending the same picture, so the caller keeps the
frame it froze on and sends `apply("frozen", frozen_frame, rng, s)` each time (the picture plus the tiny
re-encoding differences an encoder adds to an unchanged input).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

from tianyan.health.vqd.thresholds import CHECKS

# The faults a simulated camera can show are exactly what diagnosis checks for.
KINDS: tuple[str, ...] = CHECKS

# DVR "no video" screens: the vendors' blues differ (BGR).
_NO_SIGNAL_BLUES = ((255, 0, 0), (200, 40, 16), (170, 60, 20), (235, 16, 16), (160, 0, 0))
_NO_SIGNAL_TEXTS = ("NO VIDEO", "VIDEO LOSS", "NO SIGNAL", "CONNECTING...")
# 75 % colour bars, left to right: white, yellow, cyan, green, magenta, red, blue (BGR).
_BARS = ((191, 191, 191), (0, 191, 191), (191, 191, 0), (0, 191, 0), (191, 0, 191), (0, 0, 191), (191, 0, 0))
# Flat pictures a broken camera or decoder sends: black (lens cap, dead sensor), grey, decoder green, white.
_FLAT_COLOURS = ((8, 8, 8), (0, 0, 0), (16, 16, 16), (30, 30, 30), (128, 128, 128), (0, 135, 0), (90, 60, 140))


def apply(kind: str, frame: np.ndarray, rng: np.random.Generator, strength: float = 0.5) -> np.ndarray:
    """The frame with fault `kind` at `strength` (0 mild .. 1 severe); the input is not modified."""
    if kind not in _FAULTS:
        raise ValueError(f"unknown picture fault {kind!r}; known: {', '.join(KINDS)}")
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame must be BGR uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
    return _FAULTS[kind](frame, rng, float(np.clip(strength, 0.0, 1.0)))


def _scale(frame: np.ndarray) -> float:
    return frame.shape[0] / 720


def blur(frame: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Out of focus: a defocus disc (most lenses) or a Gaussian blur (dirty dome, fogged lens)."""
    h, w = frame.shape[:2]
    if rng.random() < 0.6:
        # The disc is filtered at half size (a wide kernel at full size is slow); the result is smooth anyway.
        radius = max(1, round((4 + 9 * strength) * _scale(frame) / 2))
        kernel = np.zeros((2 * radius + 1, 2 * radius + 1), np.float32)
        cv2.circle(kernel, (radius, radius), radius, 1.0, -1, cv2.LINE_AA)
        half = cv2.resize(frame, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        half = cv2.filter2D(half, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)
        return cv2.resize(half, (w, h), interpolation=cv2.INTER_LINEAR)
    sigma = (2.5 + 4.5 * strength) * _scale(frame)
    return cv2.GaussianBlur(frame, (0, 0), sigma)


def exposure_lut(frame: np.ndarray, target_mean: float) -> np.ndarray:
    """A 256-entry LUT re-exposing `frame` to mean luma `target_mean`: a gain in linear light, clipped like a sensor."""
    grey = cv2.cvtColor(np.ascontiguousarray(frame[::4, ::4]), cv2.COLOR_BGR2GRAY)
    histogram = np.bincount(grey.ravel(), minlength=256).astype(np.float64)
    histogram /= histogram.sum()
    linear = (np.arange(256) / 255) ** 2.2
    low, high = 1e-3, 1e3
    for _ in range(40):
        mid = math.sqrt(low * high)
        mean = float(histogram @ (np.minimum(linear * mid, 1.0) ** (1 / 2.2))) * 255
        low, high = (mid, high) if mean < target_mean else (low, mid)
    gain = math.sqrt(low * high)
    return (np.minimum(linear * gain, 1.0) ** (1 / 2.2) * 255).round().astype(np.uint8)


def expose(frame: np.ndarray, target_mean: float) -> np.ndarray:
    """The frame re-exposed so its mean luma is about `target_mean`."""
    return cv2.LUT(frame, exposure_lut(frame, target_mean))


def too_dark_mean(rng: np.random.Generator, strength: float) -> float:
    """The mean luma of an underexposed picture: 32 at strength 0 down to 12."""
    return 32 - 20 * strength + rng.uniform(-1, 1)


def too_bright_mean(rng: np.random.Generator, strength: float) -> float:
    """The mean luma of an overexposed picture: 208 at strength 0 up to 236."""
    return 208 + 28 * strength + rng.uniform(-1, 1)


def too_dark(frame: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Underexposed (iris stuck, IR light dead at night)."""
    return expose(frame, too_dark_mean(rng, strength))


def too_bright(frame: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Overexposed (iris open, sun into the lens): highlights clipped."""
    return expose(frame, too_bright_mean(rng, strength))


def _add(frame: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """frame + delta (float, (H, W) for all channels or (H, W, 3)), saturated to uint8."""
    steps = delta.astype(np.int16)
    if steps.ndim == 2:
        steps = cv2.merge([steps, steps, steps])
    return cv2.addWeighted(frame, 1.0, steps, 1.0, 0.0, dtype=cv2.CV_8U)


def snow_noise(frame: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Analogue interference "snow": strong noise smeared along the lines, with white and black specks."""
    h, w = frame.shape[:2]
    sigma = 14 + 26 * strength
    # Noise drawn at half width and stretched: analogue snow is smeared along the scan lines.
    luma = cv2.resize(rng.standard_normal((h, w // 2), dtype=np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    chroma = cv2.resize(rng.standard_normal((h // 4, w // 4, 3), dtype=np.float32), (w, h))
    out = _add(frame, cv2.merge([luma, luma, luma]) * (sigma * 1.2) + chroma * (sigma * 0.3))
    specks = rng.random((h, w // 2), dtype=np.float32) < 0.002 + 0.02 * strength
    specks = cv2.resize(specks.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    out[specks] = np.where(rng.random(int(specks.sum())) < 0.6, 255, 0).astype(np.uint8)[:, None]
    return out


def stripes(frame: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Interference stripes across the whole picture: bands, hum bars or thin lines, straight or slanted.

    Amplitude 10 grey levels at strength 0 up to 30; wide bands (periods from 20 up to 60 pixels at 720 lines)
    get up to half as much again, as the eye needs more contrast to see a slow ripple than a fine one.
    """
    h, w = frame.shape[:2]
    period_720 = float(np.exp(rng.uniform(math.log(3.0), math.log(60.0))))
    amplitude = (10 + 20 * strength) * (1 + 0.5 * min(1.0, max(0.0, (period_720 - 20) / 40)))
    period = max(period_720 * _scale(frame), 2.5)
    roll = rng.random()
    angle = 0.0 if roll < 0.5 else 90.0 if roll < 0.75 else float(rng.choice([-1, 1]) * rng.uniform(10, 45))
    theta = math.radians(angle)
    rows = np.arange(h, dtype=np.float32)[:, None]
    cols = np.arange(w, dtype=np.float32)[None, :]
    phase = (rows * math.cos(theta) + cols * math.sin(theta)) * (2 * math.pi / period) + rng.uniform(0, 2 * math.pi)
    phase = np.broadcast_to(phase, (h, w))
    shape = rng.random()
    if shape < 0.5:
        wave = np.sin(phase)
    elif shape < 0.8:
        wave = np.clip(np.sin(phase) * 3, -1, 1)  # square-ish bands
    else:
        wave = (np.cos(phase) > 0.8).astype(np.float32) * 2 - 0.4  # thin lines
    wave = (wave * amplitude).astype(np.float32)
    if rng.random() < 0.6:
        return _add(frame, wave)
    tint = rng.uniform(0.3, 1.0, 3)
    return _add(frame, cv2.merge([wave * float(t) for t in tint]))


def colour_cast(frame: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """White balance gone wrong or a colour line lost: channel gains pulling the picture towards one hue."""
    hue = rng.uniform(0, 2 * math.pi)
    amount = 0.25 + 0.4 * strength
    # A direction in the chroma plane as (B, G, R) gains, balanced so the luma stays about the same.
    direction = np.array([math.cos(hue), math.cos(hue - 2 * math.pi / 3), math.cos(hue + 2 * math.pi / 3)])
    gains = 1 + amount * direction
    if strength > 0.7 and rng.random() < 0.4:
        gains[int(rng.integers(0, 3))] = rng.uniform(0.05, 0.3)  # one colour line lost
    luma_weights = np.array([0.114, 0.587, 0.299])
    gains = gains / float(gains @ luma_weights)
    lut = np.stack([np.clip(np.arange(256) * g, 0, 255) for g in gains], axis=1).round().astype(np.uint8)
    return cv2.merge([cv2.LUT(frame[:, :, c], lut[:, c].copy()) for c in range(3)])


def occlusion(frame: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Something on or just before the lens (leaf, bag, tape, spray paint): a soft, featureless blob.

    It covers 25 % of the picture at strength 0 up to 70 %; close to the lens it is far out of focus, so its
    edge is feathered and it has almost no texture of its own.
    """
    h, w = frame.shape[:2]
    mask = occluder_mask(h, w, rng, 0.25 + 0.45 * strength)
    roll = rng.random()
    if roll < 0.5:
        colour = rng.uniform(5, 45, 3)  # dark: a hand, a bag, spray paint
    elif roll < 0.8:
        colour = rng.uniform(20, 200, 3)  # any colour: a leaf, a sign
    else:
        colour = rng.uniform(170, 240, 3)  # paper, tape, snow
    shade = cv2.resize(rng.uniform(0.8, 1.2, (3, 3)).astype(np.float32), (64, 36), interpolation=cv2.INTER_CUBIC)
    blob = np.clip(shade[:, :, None] * colour, 0, 255).astype(np.uint8)
    blob = cv2.resize(blob, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.blendLinear(frame, blob, cv2.subtract(1.0, mask), mask)


def occluder_mask(h: int, w: int, rng: np.random.Generator, area: float) -> np.ndarray:
    """A float32 mask in [0, 1] of an irregular blob covering about `area` of the frame, edge feathered."""
    small_h, small_w = 72, 128
    yy, xx = np.mgrid[0:small_h, 0:small_w].astype(np.float32)
    # The blob grows from an anchor: a corner or edge (something hanging into view) or anywhere (dirt on the lens).
    ay, ax = rng.choice([0.0, small_h - 1.0, rng.uniform(0, small_h)]), rng.uniform(0, small_w)
    if rng.random() < 0.3:
        ay, ax = rng.uniform(0, small_h), rng.choice([0.0, small_w - 1.0])
    distance = np.hypot((yy - ay) / small_h, (xx - ax) / small_w * rng.uniform(0.6, 1.4))
    wobble = cv2.resize(rng.standard_normal((4, 6)).astype(np.float32), (small_w, small_h), cv2.INTER_CUBIC)
    field = distance + 0.12 * wobble
    level = float(np.quantile(field, area))
    small = (field <= level).astype(np.float32)
    # Feathered at the small size: the edge of something this far out of focus is wide and smooth.
    feather = max(0.5, rng.uniform(0.01, 0.04) * small_w)
    small = cv2.GaussianBlur(small, (0, 0), feather)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def scene_change(frame: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """The camera was knocked or its PTZ left elsewhere: the view zoomed, turned and shifted."""
    h, w = frame.shape[:2]
    zoom = 1.0 + rng.uniform(0.25, 0.5) + 0.8 * strength
    angle = float(rng.choice([-1, 1]) * rng.uniform(0, 4 + 20 * strength))
    shift = rng.uniform(0.1, 0.2 + 0.2 * strength) * np.array([w, h]) * rng.choice([-1, 1], 2)
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, zoom)
    matrix[:, 2] += shift
    return cv2.warpAffine(frame, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def black_screen(frame: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """One flat colour (lens cap, dead sensor, decoder green): the frame's size, a little noise, nothing else."""
    h, w = frame.shape[:2]
    out = np.empty(frame.shape, np.uint8)
    out[:] = _FLAT_COLOURS[int(rng.integers(0, len(_FLAT_COLOURS)))]
    noise = cv2.resize(rng.standard_normal((h // 2, w // 2), dtype=np.float32), (w, h)) * rng.uniform(0.3, 1.5)
    return _add(out, noise)


def signal_loss(frame: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """The screen a DVR or encoder shows for a lost input: a blue "NO VIDEO" screen or colour bars."""
    h, w = frame.shape[:2]
    out = np.empty(frame.shape, np.uint8)
    if rng.random() < 0.7:
        out[:] = _NO_SIGNAL_BLUES[int(rng.integers(0, len(_NO_SIGNAL_BLUES)))]
    else:
        edges = np.linspace(0, w, len(_BARS) + 1).round().astype(int)
        for colour, left, right in zip(_BARS, edges[:-1], edges[1:], strict=True):
            out[:, left:right] = colour
    if rng.random() < 0.8:
        text = _NO_SIGNAL_TEXTS[int(rng.integers(0, len(_NO_SIGNAL_TEXTS)))]
        scale = 1.5 * _scale(frame)
        thickness = max(1, round(3 * _scale(frame)))
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        cv2.putText(
            out, text, ((w - tw) // 2, (h + th) // 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness
        )
    return out


def frozen(frame: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """The same picture sent again: exact, or with the +-1 level differences re-encoding an unchanged input gives."""
    if rng.random() < 0.5:
        return frame.copy()
    h, w = frame.shape[:2]
    jitter = (rng.random((h, w), dtype=np.float32) < 0.05 * (1 - strength) + 0.01).astype(np.int16)
    jitter *= rng.choice(np.array([-1, 1], np.int16), (h, w))
    return np.clip(frame.astype(np.int16) + jitter[:, :, None], 0, 255).astype(np.uint8)


_FAULTS: dict[str, Callable[[np.ndarray, np.random.Generator, float], np.ndarray]] = {
    "signal_loss": signal_loss,
    "black_screen": black_screen,
    "blur": blur,
    "frozen": frozen,
    "occlusion": occlusion,
    "colour_cast": colour_cast,
    "too_dark": too_dark,
    "too_bright": too_bright,
    "snow_noise": snow_noise,
    "stripes": stripes,
    "scene_change": scene_change,
}
