"""A labelled, seed-reproducible set of camera pictures for measuring the VQD checks.

`generate(seed, size=..., per_fault=N)` gives N samples per fault (one per VQD check) and 4N clean ones. A sample
is a burst of frames in time order (one frame, or `burst` = 4-8 of them: every frozen sample, a quarter of the
other faulty ones, half the clean ones), sometimes with the camera's reference picture (every occlusion and
scene-change sample, 40 % of the other faulty ones, half the clean ones), and the set of faults it shows.
Scenes come from a pool of worlds drawn for the seed (at least 3 of each kind), each seen through many shots.
Labels are the faults put in, one per faulty sample; the checks' suppression rules make that honest: a flat or
no-signal screen is only a black_screen / signal_loss (not also too dark or blurred), and an occluded or moved
view is only occlusion / scene_change.

Clean pictures come from two sources:
- "synthetic": textured worlds (streets by day and night, a facade of windows, a fence, a parking lot with bay
  lines, a plain indoor wall) seen through a simulated camera: varied exposure and white balance, optics
  softness, sensor noise, OSD text, JPEG compression; moving cars and people.
- "simulator": real decoded H.264 frames of `tianyan.sim.video.SyntheticVideo`, the demo cameras' picture.
Clean references differ from the current picture as a healthy camera's would: another time of day, new noise,
a few pixels of shake, things moving. Faults are put in where they arise in a camera: defocus and occluders in
the optics, bad exposure at the sensor, colour cast, snow and stripes after it, frozen pictures in the encoder.
The simulator's picture is a moving test pattern, not a scene (its ramp scrolls, a bar and a disc sweep it:
within a minute the whole picture has moved), so samples with a reference use synthetic worlds only; the
simulator gives single frames and bursts, clean and with every other fault.

Tune thresholds on one seed and measure on others (bench/vqd.py, tests/health/test_vqd_accuracy.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from fractions import Fraction

import av
import numpy as np

from tianyan.sim import picture_faults as faults
from tianyan.sim.video import SyntheticVideo
from tianyan.sim.vqd_camera import (
    Camera,
    Shot,
    burn_osd,
    jittered,
    moved_view,
    random_shot,
    random_things,
    relit,
)
from tianyan.sim.vqd_scenes import WORLD_KINDS, World, make_world

SOURCES = ("synthetic", "simulator")
_OPTICAL = ("blur", "occlusion")
_REFERENCE_ONLY = ("occlusion", "scene_change")
_SIMULATOR_SHARE = 0.25
_SIM_SETTLE_FRAMES = 10


@dataclass(frozen=True)
class Sample:
    """One diagnosis input and the faults it truly shows."""

    id: str
    frames: list[np.ndarray]
    reference: np.ndarray | None
    labels: set[str]
    source: str
    note: str = field(default="", compare=False)


class _Simulator:
    """Decoded frames of the demo cameras' synthetic H.264 picture, made once per set."""

    def __init__(self, size: tuple[int, int], seed: int, count: int) -> None:
        start = datetime(2026, 3, 1, 8, 0, 0) + timedelta(minutes=seed % 10_000)
        ticks = iter(range(1_000_000))

        def clock() -> datetime:
            return start + timedelta(seconds=next(ticks))

        video = SyntheticVideo(size[0], size[1], label=f"SIM {seed}", clock=clock)
        decoder = av.CodecContext.create("h264", "r")
        self.frames: list[np.ndarray] = []
        for index in range(_SIM_SETTLE_FRAMES + count):
            unit = next(video)
            for picture in decoder.decode(av.Packet(unit.data)):
                if index >= _SIM_SETTLE_FRAMES:
                    self.frames.append(picture.to_ndarray(format="bgr24"))


def reencode(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Frames through a fresh H.264 encoder and back, as a camera or DVR would send them."""
    h, w = frames[0].shape[:2]
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = w, h, "yuv420p"
    encoder.time_base = Fraction(1, 25)
    encoder.options = {"preset": "ultrafast", "tune": "zerolatency", "crf": "23"}
    decoder = av.CodecContext.create("h264", "r")
    out: list[np.ndarray] = []
    packets = []
    for index, frame in enumerate(frames):
        picture = av.VideoFrame.from_ndarray(frame, format="bgr24").reformat(format="yuv420p")
        picture.pts = index
        packets.extend(encoder.encode(picture))
    packets.extend(encoder.encode(None))
    for packet in packets:
        out.extend(p.to_ndarray(format="bgr24") for p in decoder.decode(packet))
    return out


class _Builder:
    def __init__(self, seed: int, size: tuple[int, int], per_fault: int, burst: tuple[int, int]) -> None:
        self.rng = np.random.default_rng(seed)
        self.size = size
        self.burst = burst
        self.camera = Camera(size, self.rng)
        per_kind = max(3, per_fault // 6)
        self.worlds = [make_world(kind, size, self.rng) for kind in WORLD_KINDS for _ in range(per_kind)]
        self.sim = _Simulator(size, seed, 48)
        self.made: list[Sample] = []

    def _child(self) -> np.random.Generator:
        return np.random.default_rng(int(self.rng.integers(0, 2**63)))

    def _burst_length(self) -> int:
        return int(self.rng.integers(self.burst[0], self.burst[1] + 1))

    # Synthetic pictures -------------------------------------------------------------------------------------

    def synthetic(self, fault: str | None, strength: float, length: int, with_reference: bool) -> Sample:
        rng = self.rng
        world = self.worlds[int(rng.integers(0, len(self.worlds)))]
        shot = random_shot(world, rng)
        if length > 1 and not shot.things and world.kind != "wall" and rng.random() < 0.6:
            shot = replace(shot, things=random_things(rng, int(rng.integers(1, 4))))
        reference = self._synthetic_reference(world, shot) if with_reference else None
        current_world, current_shot = world, shot
        if with_reference:
            current_shot = self._healthy_change(shot, world)
        if fault == "scene_change":
            if rng.random() < 0.2:
                current_world = self.worlds[int(rng.integers(0, len(self.worlds)))]
                current_shot = random_shot(current_world, rng)
            else:
                current_shot = moved_view(current_shot, rng)
        frames = self._synthetic_frames(current_world, current_shot, fault, strength, length)
        note = f"{world.kind} mean {shot.target_mean:.0f} noise {shot.noise_sigma:.1f} q {shot.jpeg_quality}"
        return self._sample(fault, frames, reference, "synthetic", f"{note} strength {strength:.2f}")

    def _healthy_change(self, shot: Shot, world: World) -> Shot:
        rng = self.rng
        out = shot
        if rng.random() < 0.6:
            out = relit(out, rng, world.night)
        if rng.random() < 0.6:
            out = jittered(out, rng, self.size)
        if world.kind != "wall" and rng.random() < 0.6:
            out = replace(out, things=random_things(rng, int(rng.integers(1, 4))))
        return out

    def _synthetic_reference(self, world: World, shot: Shot) -> np.ndarray:
        view = self.camera.view(world, shot)
        picture = self.camera.with_things(view, shot, 0)
        lut = self.camera.sensor_lut(picture, shot)
        return self.camera.output(self.camera.sensor(picture, lut, shot, self.rng), shot)

    def _synthetic_frames(self, world: World, shot: Shot, fault: str | None, strength: float, length: int) -> list:
        cam, rng = self.camera, self.rng
        view = cam.view(world, shot)
        fault_seed = int(rng.integers(0, 2**63))  # one fault shape for the whole burst

        def fault_rng() -> np.random.Generator:
            return np.random.default_rng(fault_seed)

        target = None
        if fault == "too_dark":
            target = faults.too_dark_mean(fault_rng(), strength)
        elif fault == "too_bright":
            target = faults.too_bright_mean(fault_rng(), strength)
        if fault == "frozen":
            return self._frozen(self._synthetic_one(view, shot, None, 0.0, 0, fault_rng, None), shot, length)
        lut = None
        frames = []
        for index in range(length):
            if fault in ("black_screen", "signal_loss"):
                screen = faults.apply(fault, np.empty((self.size[1], self.size[0], 3), np.uint8), fault_rng(), strength)
                osd_shot = shot if fault == "black_screen" else replace(shot, osd=None)
                frames.append(cam.output(screen, osd_shot))
                continue
            if lut is None:
                picture = cam.with_things(view, shot, 0)
                lut = cam.sensor_lut(picture, shot, target)
            frames.append(self._synthetic_one(view, shot, fault, strength, index, fault_rng, lut))
        return frames

    def _synthetic_one(
        self,
        view: np.ndarray,
        shot: Shot,
        fault: str | None,
        strength: float,
        index: int,
        fault_rng: Callable[[], np.random.Generator],
        lut: np.ndarray | None,
    ) -> np.ndarray:
        cam = self.camera
        picture = cam.with_things(view, shot, index)
        if fault in _OPTICAL:
            picture = faults.apply(fault, picture, fault_rng(), strength)
        if lut is None:
            lut = cam.sensor_lut(picture, shot)
        frame = cam.sensor(picture, lut, shot, self.rng)
        if fault in ("colour_cast", "snow_noise", "stripes"):
            frame = faults.apply(fault, frame, fault_rng(), strength)
        return cam.output(frame, shot)

    def _frozen(self, frame: np.ndarray, shot: Shot | None, length: int) -> list[np.ndarray]:
        """A frozen source: the same picture again, exactly, re-encoded, +-1 jitter, or under a running clock."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.3:
            return [frame.copy() for _ in range(length)]
        if roll < 0.55:
            return reencode([frame] * length)[-length:]
        if roll < 0.8:
            return [frame] + [faults.apply("frozen", frame, rng, float(rng.random())) for _ in range(length - 1)]
        # The decoder is stuck but the DVR's own clock keeps running over the frozen picture.
        frames = []
        start = datetime(2026, 3, 5) + timedelta(seconds=int(rng.integers(0, 86400)))
        for index in range(length):
            copy = frame.copy()
            burn_osd(copy, f"\n\n\n{start + timedelta(seconds=index):%Y-%m-%d %H:%M:%S}")
            frames.append(copy)
        return frames

    # Simulator pictures -------------------------------------------------------------------------------------

    def simulator(self, fault: str | None, strength: float, length: int, with_reference: bool) -> Sample:
        rng, clip = self.rng, self.sim.frames
        start = int(rng.integers(0, len(clip) - self.burst[1] * 2))
        step = int(rng.integers(1, 3))
        fault_seed = int(rng.integers(0, 2**63))
        if with_reference:
            raise ValueError("the simulator's moving test pattern has no scene to keep a reference of")
        reference = None
        if fault == "frozen":
            frames = self._frozen(clip[start], None, length)
        else:
            frames = []
            for index in range(length):
                frame = clip[start + index * step]
                if fault is not None:
                    frame = faults.apply(fault, frame, np.random.default_rng(fault_seed), strength)
                frames.append(frame)
            if length > 1 and rng.random() < 0.3:
                frames = reencode(frames)[-length:]
        return self._sample(fault, frames, reference, "simulator", f"sim frame {start} strength {strength:.2f}")

    def _sample(
        self, fault: str | None, frames: list[np.ndarray], reference: np.ndarray | None, source: str, note: str
    ) -> Sample:
        index = len(self.made)
        labels = {fault} if fault else set()
        sample = Sample(f"{index:05d}-{fault or 'clean'}", frames, reference, labels, source, note)
        self.made.append(sample)
        return sample

    def build(self, checks: tuple[str, ...], per_fault: int) -> list[Sample]:
        rng = self.rng
        self.made = []
        for fault in checks:
            for _ in range(per_fault):
                strength = float(rng.random())
                burst = fault == "frozen" or rng.random() < 0.25
                length = self._burst_length() if burst else 1
                with_reference = fault in _REFERENCE_ONLY or rng.random() < 0.4
                use_sim = not with_reference and rng.random() < _SIMULATOR_SHARE
                make = self.simulator if use_sim else self.synthetic
                make(fault, strength, length, with_reference)
        for kind in range(4 * per_fault):
            length = self._burst_length() if kind % 2 else 1
            with_reference = kind % 4 >= 2
            make = self.simulator if not with_reference and rng.random() < 2 * _SIMULATOR_SHARE else self.synthetic
            make(None, 0.0, length, with_reference)
        return self.made


def generate(
    seed: int,
    *,
    size: tuple[int, int] = (1280, 720),
    per_fault: int = 20,
    burst: tuple[int, int] = (4, 8),
) -> list[Sample]:
    """N samples of each fault (checks' order) then 4N clean ones, all from `seed`."""
    if per_fault < 1:
        raise ValueError("per_fault must be at least 1")
    if not 2 <= burst[0] <= burst[1]:
        raise ValueError("burst must be (min, max) frames with 2 <= min <= max")
    return _Builder(seed, size, per_fault, burst).build(faults.KINDS, per_fault)


@dataclass(frozen=True)
class CheckAccuracy:
    """How one check did on a set: detections among samples labelled with its fault, firings among the rest."""

    labelled: int
    detected: int
    unlabelled: int
    false_alarms: int
    missed_ids: tuple[str, ...]
    false_alarm_ids: tuple[str, ...]

    @property
    def detection(self) -> float:
        return self.detected / self.labelled if self.labelled else 1.0

    @property
    def false_alarm(self) -> float:
        return self.false_alarms / self.unlabelled if self.unlabelled else 0.0


def accuracy(
    samples: Sequence[Sample], found: Sequence[Sequence[str]], checks: Sequence[str]
) -> dict[str, CheckAccuracy]:
    """Per check, its detection and false-alarm rates given the faults `found` for each sample (same order)."""
    if len(samples) != len(found):
        raise ValueError(f"{len(samples)} samples but {len(found)} results")
    out = {}
    for check in checks:
        labelled = [(s.id, check in f) for s, f in zip(samples, found, strict=True) if check in s.labels]
        other = [(s.id, check in f) for s, f in zip(samples, found, strict=True) if check not in s.labels]
        out[check] = CheckAccuracy(
            labelled=len(labelled),
            detected=sum(hit for _, hit in labelled),
            unlabelled=len(other),
            false_alarms=sum(hit for _, hit in other),
            missed_ids=tuple(i for i, hit in labelled if not hit),
            false_alarm_ids=tuple(i for i, hit in other if hit),
        )
    return out
