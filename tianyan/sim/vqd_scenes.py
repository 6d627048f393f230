"""Synthetic worlds for the VQD test set: textured scenes drawn once, bigger than a camera's view.

A `World` is a picture larger than the camera's view (streets by day and night, a building facade, a fence, a
parking lot, a plain indoor wall), so a camera (tianyan.sim.vqd_camera) can jitter, pan or zoom over it.
Textures are smoothed noise at several scales, shading is per surface, windows and fences are regular: the
stripes check must not take them for interference.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

WORLD_KINDS: tuple[str, ...] = ("street", "night_street", "facade", "fence", "parking", "wall")
WORLD_MARGIN = 1.45  # world size / view size: room to pan and zoom


@dataclass
class World:
    """A scene's static picture (BGR uint8), bigger than the view, and its kind."""

    kind: str
    image: np.ndarray

    @property
    def night(self) -> bool:
        return self.kind == "night_street"


def fractal(h: int, w: int, rng: np.random.Generator, cell: int = 8, octaves: int = 5) -> np.ndarray:
    """Zero-mean float32 texture about 1 in std: white noise smoothed at doubling scales, summed.

    Each octave is drawn at a size where its smoothing is a couple of pixels and then enlarged: cheap, and
    (unlike enlarging a coarse random grid) free of the grid's period, which would look like stripes.
    """
    out = np.zeros((h, w), np.float32)
    scale = cell / 2
    for octave in range(octaves):
        shrink = max(1, int(scale // 2))
        small = rng.standard_normal((max(2, h // shrink), max(2, w // shrink)), dtype=np.float32)
        small = cv2.GaussianBlur(small, (0, 0), scale / shrink)
        layer = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR) if shrink > 1 else small
        out += layer / float(layer.std() + 1e-6) * (0.7**octave)
        scale *= 2
    return out / float(out.std() + 1e-6)


def _colour(rng: np.random.Generator, low: float, high: float, sat: float) -> np.ndarray:
    grey = rng.uniform(low, high)
    return np.clip(grey * (1 + rng.uniform(-sat, sat, 3)), 0, 255).astype(np.float32)


class _Canvas:
    """Flat colours plus a texture-amplitude map, combined with one shared texture field at the end."""

    def __init__(self, h: int, w: int, rng: np.random.Generator) -> None:
        self.h, self.w, self.rng = h, w, rng
        self.base = np.zeros((h, w, 3), np.float32)
        self.texture = np.zeros((h, w), np.float32)
        self.facade_full_width = False

    def rect(self, x0: float, y0: float, x1: float, y1: float, colour: np.ndarray, texture: float) -> None:
        p0, p1 = (round(x0), round(y0)), (round(x1), round(y1))
        cv2.rectangle(self.base, p0, p1, colour.tolist(), -1)
        cv2.rectangle(self.texture, p0, p1, texture, -1)

    def poly(self, points: list[tuple[float, float]], colour: np.ndarray, texture: float) -> None:
        pts = np.array(points, np.int32)
        cv2.fillPoly(self.base, [pts], colour.tolist(), cv2.LINE_AA)
        cv2.fillPoly(self.texture, [pts], texture)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, colour: np.ndarray, texture: float) -> None:
        centre, axes = (round(cx), round(cy)), (max(1, round(rx)), max(1, round(ry)))
        cv2.ellipse(self.base, centre, axes, 0, 0, 360, colour.tolist(), -1, cv2.LINE_AA)
        cv2.ellipse(self.texture, centre, axes, 0, 0, 360, texture, -1)

    def line(self, p0: tuple[float, float], p1: tuple[float, float], colour: np.ndarray, width: float) -> None:
        a, b = (round(p0[0]), round(p0[1])), (round(p1[0]), round(p1[1]))
        cv2.line(self.base, a, b, colour.tolist(), max(1, round(width)), cv2.LINE_AA)

    def text(self, s: str, x: float, y: float, scale: float, colour: np.ndarray) -> None:
        thickness = max(1, round(scale * 2))
        cv2.putText(self.base, s, (round(x), round(y)), cv2.FONT_HERSHEY_SIMPLEX, scale, colour.tolist(), thickness)

    def finish(self) -> np.ndarray:
        grain = fractal(self.h, self.w, self.rng, cell=4, octaves=4)
        fine = cv2.GaussianBlur(self.rng.standard_normal((self.h, self.w), dtype=np.float32), (0, 0), 0.8) * 2.5
        modulation = 1 + self.texture * (0.75 * grain + 0.5 * fine)
        return np.clip(self.base * modulation[:, :, None], 0, 255).astype(np.uint8)


def make_world(kind: str, size: tuple[int, int], rng: np.random.Generator) -> World:
    """A new world of `kind` for a camera whose frames are `size` (width, height)."""
    w, h = round(size[0] * WORLD_MARGIN), round(size[1] * WORLD_MARGIN)
    canvas = _Canvas(h, w, rng)
    u = h / 720  # drawing unit: one pixel at 720 lines
    if kind in ("street", "night_street"):
        _street(canvas, u, night=kind == "night_street")
    elif kind == "facade":
        _facade(canvas, u)
    elif kind == "fence":
        _street(canvas, u, night=False)
        _fence(canvas, u)
    elif kind == "parking":
        _parking(canvas, u)
    elif kind == "wall":
        _wall(canvas, u)
    else:
        raise ValueError(f"unknown world kind {kind!r}")
    image = canvas.finish()
    if kind == "night_street":
        image = _night_lights(image, canvas, u)
    if kind == "facade" and canvas.facade_full_width:
        image = _receding(image, rng)
    return World(kind, image)


def _receding(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The picture seen at an angle, as a street camera sees a facade: its far side shrinks into perspective."""
    h, w = image.shape[:2]
    squeeze = rng.uniform(0.12, 0.3) * h
    # A trapezoid inside the picture, tall on the near side, is stretched to fill the frame: seen from the near
    # side, the far side's windows come out smaller.
    near_left = rng.random() < 0.5
    left_inset, right_inset = (0.0, squeeze) if near_left else (squeeze, 0.0)
    source = np.float32([(0, left_inset), (w, right_inset), (w, h - right_inset), (0, h - left_inset)])
    target = np.float32([(0, 0), (w, 0), (w, h), (0, h)])
    matrix = cv2.getPerspectiveTransform(target, source)
    return cv2.warpPerspective(image, matrix, (w, h), flags=cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)


def _sky(c: _Canvas, horizon: float, night: bool) -> None:
    rng = c.rng
    top = np.array([60, 30, 15], np.float32) if night else _colour(rng, 150, 230, 0.25) * [1.15, 1.0, 0.85]
    bottom = top * (1.1 if night else 1.25)
    ramp = np.linspace(0, 1, max(2, round(horizon)), dtype=np.float32)[:, None, None]
    c.base[: round(horizon)] = top * (1 - ramp) + bottom * ramp
    clouds = cv2.resize(rng.standard_normal((4, 8), dtype=np.float32), (c.w, round(horizon)), cv2.INTER_CUBIC)
    c.base[: round(horizon)] *= (1 + 0.06 * clouds)[:, :, None]
    c.texture[: round(horizon)] = 0.01


def _building(c: _Canvas, x0: float, x1: float, top: float, bottom: float, u: float) -> None:
    rng = c.rng
    colour = _colour(rng, 70, 210, 0.3)
    c.rect(x0, top, x1, bottom, colour, rng.uniform(0.02, 0.08))
    if rng.random() < 0.8:
        cols, rows = int(rng.integers(2, 9)), int(rng.integers(2, 9))
        ww, wh = (x1 - x0) / cols, (bottom - top) / (rows + 0.5)
        glass = _colour(rng, 20, 120, 0.3)
        for r in range(rows):
            for col in range(cols):
                shade = glass * rng.uniform(0.6, 1.5)
                wx, wy = x0 + col * ww + ww * 0.2, top + r * wh + wh * 0.3
                c.rect(wx, wy, wx + ww * 0.6, wy + wh * 0.55, shade, 0.02)
    if rng.random() < 0.5:
        sign = _colour(rng, 30, 220, 0.8)
        sy = bottom - rng.uniform(60, 120) * u
        c.rect(x0 + 10 * u, sy, x1 - 10 * u, sy + 30 * u, sign, 0.02)
        c.text("SHOP 24H" if rng.random() < 0.5 else "HOTEL", x0 + 20 * u, sy + 24 * u, 0.8 * u, 255 - sign)


def _street(c: _Canvas, u: float, *, night: bool) -> None:
    rng = c.rng
    horizon = rng.uniform(0.22, 0.42) * c.h
    kerb = rng.uniform(0.55, 0.68) * c.h
    _sky(c, horizon + 5, night)
    x = -rng.uniform(0, 100) * u
    while x < c.w:
        width = rng.uniform(0.1, 0.28) * c.w
        top = rng.uniform(0.02, 0.9) * horizon
        _building(c, x, x + width, top, kerb, u)
        x += width + rng.uniform(0, 20) * u
    pavement = _colour(rng, 120, 180, 0.08)
    c.rect(0, kerb, c.w, kerb + 40 * u, pavement, 0.08)
    for px in np.arange(0, c.w, rng.uniform(40, 90) * u):
        c.line((px, kerb), (px - 10 * u, kerb + 40 * u), pavement * 0.8, 1.5 * u)
    road = _colour(rng, 60, 110, 0.05)
    c.rect(0, kerb + 40 * u, c.w, c.h, road, 0.12)
    vanish_x = c.w * rng.uniform(0.3, 0.7)
    for lane in np.linspace(-1.5, 2.5, 5):
        bottom_x = c.w / 2 + lane * c.w * 0.35
        for t in np.arange(0, 1, 0.12):
            p0 = (vanish_x + (bottom_x - vanish_x) * t, kerb + 40 * u + (c.h - kerb) * t)
            p1 = (vanish_x + (bottom_x - vanish_x) * (t + 0.06), kerb + 40 * u + (c.h - kerb) * (t + 0.06))
            c.line(p0, p1, np.full(3, 220, np.float32), (2 + 8 * t) * u)
    for _ in range(int(rng.integers(1, 5))):
        tx, ty = rng.uniform(0, c.w), kerb + rng.uniform(0, 30) * u
        c.rect(tx - 4 * u, ty - 120 * u, tx + 4 * u, ty, _colour(rng, 40, 80, 0.1), 0.05)
        leaves = np.array([40, 110, 50], np.float32) * rng.uniform(0.6, 1.3)
        for _ in range(6):
            c.ellipse(tx + rng.uniform(-50, 50) * u, ty - rng.uniform(120, 200) * u, 50 * u, 40 * u, leaves, 0.5)
    for _ in range(int(rng.integers(2, 6))):
        px = rng.uniform(0, c.w)
        c.line((px, kerb + 30 * u), (px, kerb - 260 * u), np.full(3, 50, np.float32), 5 * u)
    for _ in range(int(rng.integers(1, 5))):
        _car(c, rng.uniform(0, c.w), kerb + 60 * u + rng.uniform(0, 60) * u, rng.uniform(0.8, 1.3) * u)


def _car(c: _Canvas, x: float, y: float, u: float) -> None:
    body = _colour(c.rng, 30, 230, 0.5)
    c.rect(x - 110 * u, y - 45 * u, x + 110 * u, y + 10 * u, body, 0.04)
    c.rect(x - 70 * u, y - 85 * u, x + 60 * u, y - 45 * u, body, 0.04)
    c.rect(x - 60 * u, y - 80 * u, x + 50 * u, y - 48 * u, np.full(3, 40, np.float32), 0.05)
    for wx in (-70, 70):
        c.ellipse(x + wx * u, y + 10 * u, 22 * u, 22 * u, np.full(3, 25, np.float32), 0.1)


def _facade(c: _Canvas, u: float) -> None:
    """A building's wall of windows: across the whole view seen at an angle from the street (the usual case), or
    square-on across part of it (a camera facing a building across a square)."""
    rng = c.rng
    _street(c, u, night=False)
    colour = _colour(rng, 90, 200, 0.2)
    c.facade_full_width = bool(rng.random() < 0.6)
    if c.facade_full_width:
        x0, x1 = rng.uniform(-0.1, 0.05) * c.w, rng.uniform(0.95, 1.1) * c.w
    else:
        x0 = rng.uniform(0.0, 0.5) * c.w
        x1 = x0 + rng.uniform(0.3, 0.5) * c.w
    bottom = c.h * rng.uniform(0.75, 0.95)
    c.rect(x0, c.h * rng.uniform(0, 0.15), x1, bottom, colour, rng.uniform(0.02, 0.06))
    cols, rows = int(rng.integers(8, 22)), int(rng.integers(5, 12))
    cw, rh = (x1 - x0) / cols, (bottom - c.h * 0.15) / rows
    glass = _colour(rng, 20, 110, 0.3)
    for r in range(rows):
        for col in range(cols):
            wx, wy = x0 + col * cw + cw * 0.15, c.h * 0.15 + r * rh + rh * 0.2
            c.rect(wx, wy, wx + cw * 0.7, wy + rh * 0.6, glass * rng.uniform(0.5, 1.6), 0.03)
            if rng.random() < 0.15:  # an air conditioner box under the window
                c.rect(wx, wy + rh * 0.62, wx + cw * 0.4, wy + rh * 0.78, np.full(3, 210, np.float32), 0.03)
    c.rect(0, bottom, c.w, c.h, _colour(rng, 70, 130, 0.05), 0.12)


def _fence(c: _Canvas, u: float) -> None:
    rng = c.rng
    metal = _colour(rng, 20, 120, 0.3)
    top = rng.uniform(0.35, 0.6) * c.h
    bottom = top + rng.uniform(0.15, 0.35) * c.h
    x0, x1 = rng.uniform(-0.2, 0.3) * c.w, rng.uniform(0.6, 1.2) * c.w
    spacing = rng.uniform(14, 45) * u
    for bx in np.arange(x0, x1, spacing):
        c.rect(bx, top, bx + spacing * rng.uniform(0.15, 0.3), bottom, metal, 0.05)
    for ry in (top + 15 * u, bottom - 25 * u):
        c.rect(x0, ry, x1, ry + 8 * u, metal, 0.05)


def _parking(c: _Canvas, u: float) -> None:
    rng = c.rng
    horizon = c.h * rng.uniform(0.1, 0.25)
    _sky(c, horizon, night=False)
    _building(c, 0, c.w, horizon * 0.2, horizon + 60 * u, u)
    c.rect(0, horizon + 60 * u, c.w, c.h, _colour(rng, 70, 120, 0.04), 0.14)
    spacing = rng.uniform(90, 160) * u
    white = np.full(3, 215, np.float32)
    for row_y in np.arange(horizon + 120 * u, c.h, rng.uniform(220, 320) * u):
        for bx in np.arange(rng.uniform(0, spacing), c.w, spacing):
            c.line((bx, row_y), (bx + 30 * u, row_y + 140 * u), white, 4 * u)
            if rng.random() < 0.5:
                _car(c, bx + spacing / 2 + 15 * u, row_y + 110 * u, 0.55 * u)
    for _ in range(int(rng.integers(0, 3))):
        gy = rng.uniform(horizon + 80 * u, c.h)
        c.rect(0, gy, c.w, gy + 30 * u, np.array([40, 120, 60], np.float32) * rng.uniform(0.6, 1.2), 0.6)


def _wall(c: _Canvas, u: float) -> None:
    rng = c.rng
    wall = _colour(rng, 140, 225, 0.08)
    floor_y = c.h * rng.uniform(0.62, 0.82)
    c.rect(0, 0, c.w, floor_y, wall, rng.uniform(0.015, 0.05))
    floor = _colour(rng, 60, 170, 0.15)
    c.rect(0, floor_y, c.w, c.h, floor, 0.08)
    if rng.random() < 0.6:
        tile = rng.uniform(60, 140) * u
        for tx in np.arange(0, c.w, tile):
            c.line((tx, floor_y), (tx + (tx - c.w / 2) * 0.4, c.h), floor * 0.8, 2 * u)
    c.rect(0, floor_y - 12 * u, c.w, floor_y, wall * 0.6, 0.02)
    for _ in range(int(rng.integers(1, 3))):
        dx = rng.uniform(0, c.w - 200 * u)
        door = _colour(rng, 40, 160, 0.3)
        c.rect(dx, floor_y - 420 * u, dx + 180 * u, floor_y, door * 0.7, 0.05)
        c.rect(dx + 10 * u, floor_y - 410 * u, dx + 170 * u, floor_y, door, 0.08)
        c.ellipse(dx + 150 * u, floor_y - 200 * u, 8 * u, 8 * u, np.full(3, 200, np.float32), 0.0)
    for _ in range(int(rng.integers(1, 4))):
        px, py = rng.uniform(0, c.w - 150 * u), rng.uniform(0.1, 0.4) * c.h
        paper = _colour(rng, 160, 250, 0.3)
        c.rect(px, py, px + 140 * u, py + 190 * u, paper, 0.02)
        for line in range(5):
            c.text("NOTICE" if line == 0 else "xxxxx xx", px + 10 * u, py + (30 + 30 * line) * u, 0.6 * u, paper * 0.3)
    if rng.random() < 0.7:
        py = rng.uniform(0.05, 0.3) * c.h
        c.rect(0, py, c.w, py + 14 * u, _colour(rng, 150, 230, 0.05), 0.02)
    if rng.random() < 0.6:
        ex = rng.uniform(0, c.w)
        c.rect(ex, floor_y - 110 * u, ex + 40 * u, floor_y - 10 * u, np.array([30, 30, 190], np.float32), 0.03)
    # Light falls off away from the ceiling lamp.
    ys, xs = np.mgrid[0 : c.h, 0 : c.w].astype(np.float32)
    lx, ly = rng.uniform(0.2, 0.8) * c.w, -0.1 * c.h
    fall = 1.25 - 0.6 * np.clip(np.hypot((xs - lx) / c.w, (ys - ly) / c.h), 0, 1.2)
    c.base *= fall[:, :, None]


def _night_lights(image: np.ndarray, c: _Canvas, u: float) -> np.ndarray:
    """Darken to night, then light windows (sharp), street lamps (a bright core in a soft halo)."""
    rng = c.rng
    out = image.astype(np.float32) * rng.uniform(0.18, 0.3)
    sharp = np.zeros(c.base.shape[:2], np.float32)
    halo = np.zeros(c.base.shape[:2], np.float32)
    for _ in range(int(rng.integers(30, 90))):
        wx, wy = rng.uniform(0, c.w), rng.uniform(0.05, 0.6) * c.h
        cv2.rectangle(
            sharp, (round(wx), round(wy)), (round(wx + 25 * u), round(wy + 30 * u)), rng.uniform(0.3, 0.8), -1
        )
    for _ in range(int(rng.integers(3, 8))):
        lx, ly = rng.uniform(0, c.w), rng.uniform(0.25, 0.55) * c.h
        cv2.circle(halo, (round(lx), round(ly)), round(60 * u), 0.4, -1)
        cv2.circle(sharp, (round(lx), round(ly)), round(8 * u), 3.0, -1, cv2.LINE_AA)
    # The halo is smooth: blurred at an eighth of the size, then enlarged.
    small = cv2.resize(halo, (c.w // 8, c.h // 8), interpolation=cv2.INTER_AREA)
    glow = sharp + cv2.resize(cv2.GaussianBlur(small, (0, 0), 2.5 * u), (c.w, c.h), interpolation=cv2.INTER_LINEAR)
    warm = np.array([120, 200, 255], np.float32)
    return np.clip(out + glow[:, :, None] * warm, 0, 255).astype(np.uint8)
