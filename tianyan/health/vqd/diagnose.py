"""Diagnose one camera's picture: run every enabled check on a burst of frames and give one verdict.

The newest frame of the burst is the picture judged by the single-frame checks (and the one to keep as
evidence); the whole burst feeds the frozen check (spread its frames over a few seconds: a static scene from a
camera with strong noise reduction can repeat a frame or two); the reference, when given, feeds occlusion and
scene_change. Scores, directions and defaults are in thresholds.SPECS; how each is measured is in the
checks_* modules. Every check works on small copies made once (picture.py), so a 1280x720 frame costs about
10-20 ms of one core whatever the checks (bench/vqd.py measures it).

`usable_as_reference` is true for a healthy picture whose picture checks all ran and which has enough
structure (15 % of its blocks textured) for later occlusion and scene-change comparisons to mean something.

One fault is reported once, by the check that names its cause. Suppression rules (a suppressed check has
ran=False and says why in its note):
- signal_loss failed (a no-signal screen): nothing else is judged; neither when black_screen failed (one flat
  colour): a flat screen is not also "too dark", "blurred" or "frozen". So a black lens cap is {black_screen}.
- scene_change failed: occlusion is not judged (the reference shows another view; it cannot say what is hidden).
- occlusion failed: if the part of the picture not covered is itself too dark or too bright, exposure (not an
  occluder) changed the picture and occlusion is dropped; otherwise too_dark, too_bright, colour_cast and blur
  are not judged (the occluder dominates the picture's brightness and colour, and its out-of-focus edge is the
  strongest edge in a plain scene).
- too_dark or too_bright failed: blur and colour_cast are not judged (clipped or crushed detail leaves only
  soft edges, and channels clipping at different levels shift the colour).
- stripes failed with a fine period (8 pixels at 720 lines or less): snow_noise is not judged (such stripes are
  what raised the noise estimate).
The labelled test set (tianyan.sim.vqd_testset) labels each faulty sample with the one fault put in, which
these rules make the honest expectation: a black screen sample is {"black_screen"}, never also "too_dark".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import cv2
import numpy as np

from tianyan.core.errors import InvalidInput
from tianyan.health.vqd.checks_detail import blur_score, noise_sigma
from tianyan.health.vqd.checks_exposure import ExposureScores, exposure_scores, mean_chroma
from tianyan.health.vqd.checks_reference import TEXTURED, reference_scores
from tianyan.health.vqd.checks_screen import screen_scores
from tianyan.health.vqd.checks_stripes import stripes_score
from tianyan.health.vqd.motion import frozen_score
from tianyan.health.vqd.picture import Picture, check_frame, detail_grey, prepare
from tianyan.health.vqd.structure import band_pass, block_grid
from tianyan.health.vqd.thresholds import CHECKS, SPECS, Thresholds

__all__ = ["CHECKS", "CheckResult", "Diagnosis", "diagnose", "signal_lost"]

_SCREEN_CHECKS = frozenset({"signal_loss", "black_screen"})
_PICTURE_CHECKS = ("signal_loss", "black_screen", "blur", "colour_cast", "too_dark", "too_bright", "snow_noise")
# A reference needs enough structure for later comparisons to mean anything.
_MIN_REFERENCE_TEXTURE = 0.15
_MAX_ASPECT_DIFFERENCE = 0.03
_FINE_STRIPES_720 = 8.0


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome: `score` is comparable with `threshold` (None when the check did not run)."""

    name: str
    ran: bool
    score: float | None
    threshold: float
    failed: bool
    note: str = ""


@dataclass(frozen=True)
class Diagnosis:
    """The verdict on one picture: failed checks in CHECKS order, every score that ran, and each check's result."""

    ok: bool
    faults: list[str]
    scores: dict[str, float]
    results: list[CheckResult] = field(default_factory=list)
    usable_as_reference: bool = False

    def result(self, name: str) -> CheckResult:
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "faults": list(self.faults),
            "scores": {name: round(score, 4) for name, score in self.scores.items()},
            "results": [{**asdict(r), "score": None if r.score is None else round(r.score, 4)} for r in self.results],
            "usable_as_reference": self.usable_as_reference,
        }


class _Verdicts:
    """Results being collected for one diagnosis."""

    def __init__(self, thresholds: Thresholds) -> None:
        self.thresholds = thresholds
        self.results: dict[str, CheckResult] = {}
        self.stripe_period_720 = 0.0
        self.covered: np.ndarray | None = None
        self.exposure: ExposureScores | None = None

    def wanted(self, name: str) -> bool:
        if name in self.results:
            return False
        if not self.thresholds.enabled(name):
            self.skip(name, "disabled for this camera")
            return False
        return True

    def score(self, name: str, value: float, note: str = "") -> None:
        failed = self.thresholds.failed(name, value)
        self.results[name] = CheckResult(name, True, float(value), self.thresholds.threshold(name), failed, note)

    def skip(self, name: str, note: str) -> None:
        self.results[name] = CheckResult(name, False, None, self.thresholds.threshold(name), False, note)

    def suppress(self, names: Sequence[str], note: str) -> None:
        for name in names:
            result = self.results.get(name)
            if result is None or result.ran:
                self.skip(name, note)

    def failed(self, name: str) -> bool:
        result = self.results.get(name)
        return result is not None and result.failed

    def diagnosis(self, usable: Callable[[Diagnosis], bool] | None = None) -> Diagnosis:
        results = [
            self.results.get(n) or CheckResult(n, False, None, self.thresholds.threshold(n), False) for n in CHECKS
        ]
        faults = [r.name for r in results if r.failed]
        scores = {r.name: r.score for r in results if r.ran and r.score is not None}
        out = Diagnosis(not faults, faults, scores, results, False)
        if usable is not None and usable(out):
            out = Diagnosis(out.ok, out.faults, out.scores, out.results, True)
        return out


def signal_lost(reason: str) -> Diagnosis:
    """The diagnosis of a camera from which no picture came (stream refused, timed out, nothing decodable)."""
    verdicts = _Verdicts(Thresholds.default())
    verdicts.results["signal_loss"] = CheckResult("signal_loss", True, 1.0, SPECS["signal_loss"].default, True, reason)
    verdicts.suppress([n for n in CHECKS if n != "signal_loss"], "no picture")
    return verdicts.diagnosis()


def diagnose(
    frames: Sequence[np.ndarray], *, reference: np.ndarray | None = None, thresholds: Thresholds | None = None
) -> Diagnosis:
    """Judge a burst of frames (BGR uint8, time order, newest last) against the thresholds and the reference."""
    burst = _check_burst(frames)
    if reference is not None:
        check_frame(reference, "reference")
    if thresholds is None:
        thresholds = Thresholds.default()
    elif not isinstance(thresholds, Thresholds):
        raise InvalidInput(f"thresholds must be a Thresholds, got {type(thresholds).__name__}")
    verdicts = _Verdicts(thresholds)
    latest = prepare(burst[-1])

    _screen(verdicts, latest)
    if verdicts.failed("signal_loss") or verdicts.failed("black_screen"):
        cause = "no-signal screen" if verdicts.failed("signal_loss") else "the picture is one flat colour"
        verdicts.suppress([n for n in CHECKS if n not in _SCREEN_CHECKS], f"not judged: {cause}")
        return verdicts.diagnosis()

    _picture(verdicts, latest)
    _motion(verdicts, latest, burst)
    _reference(verdicts, latest, reference)
    if verdicts.failed("scene_change"):
        verdicts.suppress(["occlusion"], "not judged: the view changed, the reference no longer applies")
    if verdicts.failed("occlusion"):
        if _exposure_fault_outside(verdicts, latest, verdicts.covered):
            verdicts.suppress(["occlusion"], "not judged: the uncovered picture is badly exposed too")
        else:
            verdicts.suppress(["too_dark", "too_bright", "colour_cast", "blur"], "not judged: the picture is occluded")
    if verdicts.failed("too_dark") or verdicts.failed("too_bright"):
        verdicts.suppress(["blur", "colour_cast"], "not judged: badly exposed")
    if verdicts.failed("stripes") and verdicts.stripe_period_720 <= _FINE_STRIPES_720:
        verdicts.suppress(["snow_noise"], "not judged: fine interference stripes")
    return verdicts.diagnosis(lambda d: _usable_as_reference(d, latest, thresholds))


def _check_burst(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    if isinstance(frames, np.ndarray) or not isinstance(frames, Sequence):
        raise InvalidInput("frames must be a list of BGR frames (a burst, oldest first), not a single array")
    if len(frames) == 0:
        raise InvalidInput("frames is empty: a diagnosis needs at least one frame")
    burst = [check_frame(frame, f"frame {index}") for index, frame in enumerate(frames)]
    shape = burst[-1].shape
    for index, frame in enumerate(burst):
        if frame.shape != shape:
            raise InvalidInput(
                f"frame {index} is {frame.shape[1]}x{frame.shape[0]}, the newest is {shape[1]}x{shape[0]}"
            )
    return burst


def _screen(verdicts: _Verdicts, latest: Picture) -> None:
    if not (verdicts.wanted("signal_loss") | verdicts.wanted("black_screen")):
        return
    screen = screen_scores(latest)
    if "signal_loss" not in verdicts.results:
        verdicts.score("signal_loss", screen.no_signal)
    if "black_screen" not in verdicts.results:
        if verdicts.failed("signal_loss"):
            verdicts.skip("black_screen", "not judged: no-signal screen")
        else:
            b, g, r = screen.dominant_bgr
            verdicts.score("black_screen", screen.flat_share, f"dominant colour BGR ({b}, {g}, {r})")


def _picture(verdicts: _Verdicts, latest: Picture) -> None:
    wanted = {name: verdicts.wanted(name) for name in ("too_dark", "too_bright", "colour_cast")}
    if any(wanted.values()):
        exposure = exposure_scores(latest)
        if wanted["too_dark"]:
            verdicts.score("too_dark", exposure.mean_luma)
        if wanted["too_bright"]:
            verdicts.score("too_bright", exposure.mean_luma)
        if wanted["colour_cast"]:
            verdicts.exposure = exposure
            verdicts.score("colour_cast", exposure.cast, exposure.cast_note)
    if verdicts.wanted("blur"):
        softness, edges = blur_score(latest.detail)
        verdicts.score("blur", softness, f"{edges} edge pixels" if softness else "too few edges to judge focus")
    if verdicts.wanted("snow_noise"):
        verdicts.score("snow_noise", noise_sigma(latest.detail))
    if verdicts.wanted("stripes"):
        prominence, period = stripes_score(latest)
        verdicts.stripe_period_720 = period * 720 / latest.height
        verdicts.score("stripes", prominence, f"period {period:.1f} px" if prominence else "")


def _motion(verdicts: _Verdicts, latest: Picture, burst: list[np.ndarray]) -> None:
    if not verdicts.wanted("frozen"):
        return
    if len(burst) < 2:
        verdicts.skip("frozen", "needs a burst of 2 or more frames")
        return
    details = [detail_grey(frame) for frame in burst[:-1]] + [latest.detail]
    verdicts.score("frozen", frozen_score(details), f"{len(burst)} frames")


def _reference(verdicts: _Verdicts, latest: Picture, reference: np.ndarray | None) -> None:
    wanted = [name for name in ("occlusion", "scene_change") if verdicts.wanted(name)]
    if not wanted:
        return
    if reference is None:
        verdicts.suppress(wanted, "no reference picture for this camera")
        return
    approved = prepare(reference)
    if abs(approved.aspect / latest.aspect - 1) > _MAX_ASPECT_DIFFERENCE:
        note = f"reference is {approved.width}x{approved.height}, the picture {latest.width}x{latest.height}"
        verdicts.suppress(wanted, f"not compared: {note} (approve a new reference)")
        return
    overview = approved.overview
    if overview.shape != latest.overview.shape:
        size = (latest.overview.shape[1], latest.overview.shape[0])
        overview = cv2.resize(overview, size, interpolation=cv2.INTER_AREA)
    scores = reference_scores(latest.overview, overview)
    verdicts.covered = scores.covered
    _colour_against_reference(verdicts, approved, scores.judged_scene and scores.scene_change < 0.5)
    if "occlusion" in wanted:
        verdicts.score("occlusion", scores.occlusion)
    if "scene_change" in wanted:
        if scores.judged_scene:
            verdicts.score("scene_change", scores.scene_change, f"{scores.compared_blocks} blocks compared")
        else:
            verdicts.skip("scene_change", "too little texture in the picture or the reference to compare")


def _colour_against_reference(verdicts: _Verdicts, approved: Picture, same_view: bool) -> None:
    """Judge colour cast also as a change from the reference's colour balance, when the view is the same.

    A scene's own colours (a red-brick street, sodium lamps) can hide a mild cast, or mimic one; the camera's
    approved picture of the same view says what its normal colour is. A view that changed says nothing.
    """
    current = verdicts.exposure
    result = verdicts.results.get("colour_cast")
    if current is None or result is None or not result.ran or not same_view:
        return
    normal_red, normal_blue = mean_chroma(approved)
    shift = float(np.hypot(current.cast_red - normal_red, current.cast_blue - normal_blue))
    if shift > current.cast:
        verdicts.score("colour_cast", shift, f"{current.cast_note}; shifted {shift:.2f} from the reference")


def _exposure_fault_outside(verdicts: _Verdicts, latest: Picture, covered: np.ndarray | None) -> bool:
    """Whether the part of the picture not covered is itself too dark or too bright: then over- or
    under-exposure, not an occluder, is what changed the picture."""
    if covered is None or covered.all():
        return False
    grid = (covered.shape[1], covered.shape[0])
    luma = cv2.resize(latest.overview_grey.astype(np.float32), grid, interpolation=cv2.INTER_AREA)
    visible = float(luma[~covered].mean())
    thresholds = verdicts.thresholds
    dark = thresholds.enabled("too_dark") and thresholds.failed("too_dark", visible)
    bright = thresholds.enabled("too_bright") and thresholds.failed("too_bright", visible)
    return dark or bright


def _usable_as_reference(diagnosis: Diagnosis, latest: Picture, thresholds: Thresholds) -> bool:
    """A healthy picture, with every picture check judged, and enough structure to compare later pictures with."""
    if not diagnosis.ok:
        return False
    if any(not diagnosis.result(name).ran for name in _PICTURE_CHECKS if thresholds.enabled(name)):
        return False
    texture = band_pass(latest.overview_grey)
    grid = block_grid(latest.overview_grey.shape)
    mean = cv2.resize(texture, grid, interpolation=cv2.INTER_AREA)
    std = np.sqrt(np.maximum(cv2.resize(texture * texture, grid, interpolation=cv2.INTER_AREA) - mean * mean, 0))
    return float(np.mean(std >= TEXTURED)) >= _MIN_REFERENCE_TEXTURE
