"""A simulated camera for the VQD test set: it looks at a world (tianyan.sim.vqd_scenes) and makes frames.

`Camera.view` crops the view and blurs it as the optics do; `with_things` draws moving cars and people;
`sensor_lut`/`sensor` expose it, auto-white-balance it (partially, as cameras do) and add sensor noise;
`output` burns in the on-screen text (OSD) and compresses it. Faults slot in between these stages, where they
happen in a real camera (defocus before the sensor, interference after it).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import cv2
import numpy as np

from tianyan.sim.picture_faults import exposure_lut
from tianyan.sim.vqd_scenes import World

# Clean exposure: mean luma an auto-exposed camera settles at (night scenes run darker but stay readable).
DAY_MEAN = (70.0, 175.0)
NIGHT_MEAN = (50.0, 80.0)
_NOISE_UNIT = 64.0


@dataclass(frozen=True)
class MovingThing:
    """A car or a person crossing the view: position in view fractions at time 0, velocity in view widths/frame."""

    kind: str
    x: float
    y: float
    size: float
    colour: tuple[int, int, int]
    speed: float

    def at(self, frame_index: int) -> MovingThing:
        return replace(self, x=self.x + self.speed * frame_index)


@dataclass(frozen=True)
class Shot:
    """How the camera takes one picture: where it looks, its optics, exposure and encoder."""

    x0: float = 0.0  # view origin in the world, fractions of the spare margin (0..1)
    y0: float = 0.0
    zoom: float = 1.0  # > 1 shows less of the world
    angle_deg: float = 0.0
    jitter_px: tuple[float, float] = (0.0, 0.0)
    optics_sigma: float = 0.8  # pixels at 720 lines: even a focused lens is a little soft
    target_mean: float = 120.0
    white_balance: tuple[float, float, float] = (1.0, 1.0, 1.0)  # error left after auto white balance
    awb: float = 0.7  # how far auto white balance pulls the picture's mean colour to grey (0 off .. 1 fully)
    noise_sigma: float = 2.0
    jpeg_quality: int | None = None
    osd: str | None = None
    things: tuple[MovingThing, ...] = field(default_factory=tuple)


def random_things(rng: np.random.Generator, count: int) -> tuple[MovingThing, ...]:
    """Cars and people somewhere in the lower part of the view, each with its own speed."""
    things = []
    for _ in range(count):
        kind = "car" if rng.random() < 0.5 else "person"
        size = rng.uniform(0.08, 0.16) if kind == "car" else rng.uniform(0.03, 0.07)
        colour = tuple(int(v) for v in rng.integers(20, 235, 3))
        speed = float(rng.choice([-1, 1]) * rng.uniform(0.004, 0.02))
        things.append(MovingThing(kind, rng.uniform(0.05, 0.95), rng.uniform(0.5, 0.9), size, colour, speed))
    return tuple(things)


def _draw_thing(frame: np.ndarray, thing: MovingThing) -> None:
    h, w = frame.shape[:2]
    x, y, s = thing.x * w, thing.y * h, thing.size * w
    colour = thing.colour
    if thing.kind == "car":
        cv2.rectangle(frame, (round(x - s / 2), round(y - s * 0.3)), (round(x + s / 2), round(y)), colour, -1)
        cv2.rectangle(frame, (round(x - s / 3), round(y - s * 0.5)), (round(x + s / 4), round(y - s * 0.3)), colour, -1)
        dark = (30, 30, 30)
        cv2.rectangle(
            frame, (round(x - s / 3.5), round(y - s * 0.47)), (round(x + s / 5), round(y - s * 0.32)), dark, -1
        )
        for wx in (-0.3, 0.3):
            cv2.circle(frame, (round(x + wx * s), round(y)), max(2, round(s * 0.1)), dark, -1, cv2.LINE_AA)
    else:
        cv2.ellipse(frame, (round(x), round(y - s)), (round(s * 0.3), round(s * 0.7)), 0, 0, 360, colour, -1)
        cv2.circle(frame, (round(x), round(y - s * 1.9)), max(2, round(s * 0.22)), (90, 120, 170), -1, cv2.LINE_AA)


class Camera:
    """Turns a world and a shot into frames; noise comes from a shared bank so many frames stay cheap."""

    def __init__(self, size: tuple[int, int], rng: np.random.Generator) -> None:
        self.width, self.height = size
        pad = 64
        luma = rng.standard_normal((self.height + pad, self.width + pad), dtype=np.float32)
        chroma = rng.standard_normal(((self.height + pad) // 2, (self.width + pad) // 2, 3), dtype=np.float32)
        chroma = cv2.resize(chroma, (self.width + pad, self.height + pad), interpolation=cv2.INTER_LINEAR)
        # Sensor noise is mostly luma, with some coarser colour noise on top; kept as int16 at NOISE_UNIT per sigma.
        self._noise = np.clip((luma[:, :, None] + 0.5 * chroma) * _NOISE_UNIT, -32000, 32000).astype(np.int16)
        self._pad = pad

    def view(self, world: World, shot: Shot) -> np.ndarray:
        """The still view through the lens: the world cropped, zoomed and turned, softened by the optics."""
        wh, ww = world.image.shape[:2]
        spare_x, spare_y = ww - self.width, wh - self.height
        cx = shot.x0 * spare_x + self.width / 2 + shot.jitter_px[0]
        cy = shot.y0 * spare_y + self.height / 2 + shot.jitter_px[1]
        matrix = cv2.getRotationMatrix2D((cx, cy), shot.angle_deg, shot.zoom)
        matrix[:, 2] += (self.width / 2 - cx, self.height / 2 - cy)
        frame = cv2.warpAffine(world.image, matrix, (self.width, self.height), flags=cv2.INTER_LINEAR)
        sigma = shot.optics_sigma * self.height / 720
        return cv2.GaussianBlur(frame, (0, 0), sigma) if sigma > 0.3 else frame

    def with_things(self, view: np.ndarray, shot: Shot, frame_index: int) -> np.ndarray:
        """A copy of the view with the shot's moving things where they are at `frame_index`."""
        frame = view.copy()
        for thing in shot.things:
            _draw_thing(frame, thing.at(frame_index))
        return frame

    def sensor_lut(self, picture: np.ndarray, shot: Shot, target_mean: float | None = None) -> np.ndarray:
        """Per-channel (1, 256, 3) LUT: auto exposure to the shot's mean (or `target_mean`) and its white balance."""
        exposure = exposure_lut(picture, shot.target_mean if target_mean is None else target_mean).astype(np.float32)
        # Auto white balance: a partial grey-world correction, as cameras limit how far they trust the scene.
        means = np.array(cv2.mean(picture[::4, ::4])[:3]) + 1.0
        awb = (means.mean() / means) ** shot.awb
        gains = awb * np.array(shot.white_balance)
        lut = np.stack([np.clip(exposure * g, 0, 255) for g in gains], axis=1).round().astype(np.uint8)
        return lut.reshape(1, 256, 3)

    def sensor(self, picture: np.ndarray, lut: np.ndarray, shot: Shot, rng: np.random.Generator) -> np.ndarray:
        """Exposure and white balance through `lut`, then sensor noise of the shot's level."""
        out = cv2.LUT(picture, lut)
        if shot.noise_sigma <= 0:
            return out
        dy, dx = (int(v) for v in rng.integers(0, self._pad, 2))
        noise = self._noise[dy : dy + self.height, dx : dx + self.width]
        return cv2.addWeighted(out, 1.0, noise, shot.noise_sigma / _NOISE_UNIT, 0.0, dtype=cv2.CV_8U)

    def output(self, picture: np.ndarray, shot: Shot) -> np.ndarray:
        """On-screen text burnt in after the sensor, then the encoder's compression."""
        out = picture
        if shot.osd:
            out = out.copy()
            burn_osd(out, shot.osd)
        if shot.jpeg_quality is not None:
            _, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, shot.jpeg_quality])
            out = cv2.imdecode(data, cv2.IMREAD_COLOR)
        return out


def burn_osd(frame: np.ndarray, text: str) -> None:
    """A camera's OSD: its name and the time, white with a dark outline, top left (in place)."""
    scale = frame.shape[0] / 720
    for line, s in enumerate(text.split("\n")):
        origin = (round(24 * scale), round((40 + 36 * line) * scale))
        cv2.putText(frame, s, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.9 * scale, (0, 0, 0), round(4 * scale), cv2.LINE_AA)
        cv2.putText(frame, s, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.9 * scale, (255, 255, 255), round(2 * scale))


def osd_text(rng: np.random.Generator) -> str:
    when = datetime(2026, 3, 1) + timedelta(seconds=int(rng.integers(0, 30 * 86400)))
    return f"CAM {int(rng.integers(1, 999)):03d} GATE\n{when:%Y-%m-%d %H:%M:%S}"


def random_shot(world: World, rng: np.random.Generator) -> Shot:
    """A camera's normal settings for this world: exposure, focus, noise and encoder all varied."""
    low, high = NIGHT_MEAN if world.night else DAY_MEAN
    noise = rng.uniform(2.5, 6.0) if world.night else rng.uniform(0.8, 4.0)
    wb = tuple(float(v) for v in 1 + rng.uniform(-0.05, 0.05, 3))
    return Shot(
        x0=float(rng.uniform(0, 1)),
        y0=float(rng.uniform(0, 1)),
        zoom=float(rng.uniform(1.0, 1.15)),
        optics_sigma=float(rng.uniform(0.5, 1.2)),
        target_mean=float(rng.uniform(low, high)),
        white_balance=wb,  # type: ignore[arg-type]
        awb=float(rng.uniform(0.4, 0.9)),
        noise_sigma=float(noise),
        jpeg_quality=int(rng.integers(55, 93)) if rng.random() < 0.5 else None,
        osd=osd_text(rng) if rng.random() < 0.7 else None,
        things=random_things(rng, int(rng.integers(0, 4))) if world.kind != "wall" else (),
    )


def relit(shot: Shot, rng: np.random.Generator, night: bool) -> Shot:
    """The same camera at another time of day: exposure and white balance drift, a new noise level."""
    low, high = NIGHT_MEAN if night else DAY_MEAN
    mean = float(np.clip(shot.target_mean * rng.uniform(0.55, 1.5), low, high))
    wb = tuple(float(g * (1 + rng.uniform(-0.04, 0.04))) for g in shot.white_balance)
    return replace(shot, target_mean=mean, white_balance=wb, noise_sigma=shot.noise_sigma * rng.uniform(0.8, 1.6))  # type: ignore[arg-type]


def jittered(shot: Shot, rng: np.random.Generator, size: tuple[int, int]) -> Shot:
    """The same view shaken by wind or a vibrating pole: a few pixels, a fraction of a degree."""
    scale = size[1] / 720
    jx, jy = (float(v) for v in rng.uniform(-4, 4, 2) * scale)
    return replace(shot, jitter_px=(jx, jy), angle_deg=shot.angle_deg + float(rng.uniform(-0.3, 0.3)))


def moved_view(shot: Shot, rng: np.random.Generator) -> Shot:
    """The camera knocked or its PTZ left elsewhere: pan/tilt of a sixth of the view or more, zoom or roll."""
    roll = rng.random()
    if roll < 0.5:
        # The world's spare margin is 45 % of the view: moving x0 by 0.4 or more pans a sixth of the view or more.
        room_left, room_right = shot.x0, 1 - shot.x0
        step = float(rng.uniform(0.4, 1.0))
        go_right = room_right > room_left if min(room_left, room_right) < step else bool(rng.random() < 0.5)
        x0 = min(1.0, shot.x0 + step) if go_right else max(0.0, shot.x0 - step)
        return replace(shot, x0=x0, y0=float(np.clip(shot.y0 + rng.uniform(-0.5, 0.5), 0, 1)))
    if roll < 0.8:
        return replace(shot, zoom=shot.zoom * float(rng.uniform(1.4, 2.2)), x0=float(rng.uniform(0, 1)))
    return replace(shot, angle_deg=float(rng.choice([-1, 1]) * rng.uniform(8, 25)), zoom=shot.zoom * 1.3)
