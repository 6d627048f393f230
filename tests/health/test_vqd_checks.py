"""Picture diagnosis checks on pictures whose verdict is obvious, thresholds overrides, and bad input."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import cv2
import numpy as np
import pytest

from tianyan.core.errors import InvalidInput
from tianyan.health.vqd.diagnose import CHECKS, Diagnosis, diagnose, signal_lost
from tianyan.health.vqd.motion import picture_moved
from tianyan.health.vqd.thresholds import SPECS, Thresholds
from tianyan.sim import picture_faults
from tianyan.sim.vqd_camera import Camera, Shot, jittered, relit
from tianyan.sim.vqd_scenes import World, make_world

SIZE = (1280, 720)


class Street:
    """One textured street seen by one camera: clean frames, bursts and references on demand."""

    def __init__(self) -> None:
        self.rng = np.random.default_rng(20260301)
        self.camera = Camera(SIZE, self.rng)
        self.world: World = make_world("street", SIZE, self.rng)
        self.shot = Shot(x0=0.4, y0=0.5, target_mean=120, noise_sigma=2.0, jpeg_quality=80, osd="CAM 001\n2026-03-01")

    def frame(self, shot: Shot | None = None, index: int = 0) -> np.ndarray:
        shot = shot or self.shot
        picture = self.camera.with_things(self.camera.view(self.world, shot), shot, index)
        lut = self.camera.sensor_lut(picture, shot)
        return self.camera.output(self.camera.sensor(picture, lut, shot, self.rng), shot)

    def burst(self, count: int = 5) -> list[np.ndarray]:
        return [self.frame(index=i) for i in range(count)]


@pytest.fixture(scope="module")
def street() -> Street:
    return Street()


@pytest.fixture(scope="module")
def clean(street: Street) -> np.ndarray:
    return street.frame()


def faults_of(frames: list[np.ndarray], **kwargs: object) -> list[str]:
    return diagnose(frames, **kwargs).faults  # type: ignore[arg-type]


def spoil(kind: str, frame: np.ndarray, strength: float = 0.6, seed: int = 3) -> np.ndarray:
    return picture_faults.apply(kind, frame, np.random.default_rng(seed), strength)


# Healthy pictures -------------------------------------------------------------------------------------------


def test_a_healthy_street_passes_every_check_and_may_become_the_reference(street: Street) -> None:
    diagnosis = diagnose(street.burst(), reference=street.frame(jittered(street.shot, street.rng, SIZE)))
    assert diagnosis.ok and diagnosis.faults == []
    assert [r.name for r in diagnosis.results] == list(CHECKS)
    assert all(r.ran for r in diagnosis.results), [(r.name, r.note) for r in diagnosis.results if not r.ran]
    assert set(diagnosis.scores) == set(CHECKS)
    assert diagnosis.usable_as_reference


def test_the_same_view_at_dusk_with_new_noise_is_not_a_scene_change_or_occlusion(street: Street) -> None:
    dusk = relit(replace(street.shot, target_mean=70), street.rng, night=False)
    diagnosis = diagnose([street.frame(dusk)], reference=street.frame())
    assert "scene_change" not in diagnosis.faults and "occlusion" not in diagnosis.faults


# One obvious fault each -------------------------------------------------------------------------------------


def test_a_dvr_no_video_screen_is_signal_loss_and_nothing_else(clean: np.ndarray) -> None:
    for seed in range(6):  # blue screens of several vendors, and colour bars
        screen = spoil("signal_loss", clean, seed=seed)
        diagnosis = diagnose([screen, screen], reference=clean)
        assert diagnosis.faults == ["signal_loss"], seed
        assert not diagnosis.result("blur").ran and "no-signal" in diagnosis.result("blur").note


def test_a_black_picture_with_its_clock_is_a_black_screen_not_also_dark_blurred_or_frozen(clean: np.ndarray) -> None:
    black = np.full_like(clean, 6)
    cv2.putText(black, "2026-03-01 08:00:00", (30, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 2)
    diagnosis = diagnose([black, black.copy(), black.copy()], reference=clean)
    assert diagnosis.faults == ["black_screen"]
    for name in ("too_dark", "blur", "frozen", "occlusion"):
        assert not diagnosis.result(name).ran and "flat colour" in diagnosis.result(name).note
    assert not diagnosis.usable_as_reference


@pytest.mark.parametrize(
    ("kind", "check"),
    [
        ("blur", "blur"),
        ("colour_cast", "colour_cast"),
        ("too_dark", "too_dark"),
        ("too_bright", "too_bright"),
        ("snow_noise", "snow_noise"),
        ("stripes", "stripes"),
    ],
)
def test_each_single_frame_fault_is_named_by_its_check(kind: str, check: str, clean: np.ndarray) -> None:
    diagnosis = diagnose([spoil(kind, clean)])
    assert diagnosis.faults == [check]
    result = diagnosis.result(check)
    assert result.failed and result.score == diagnosis.scores[check]
    assert not diagnosis.ok and not diagnosis.usable_as_reference


def test_fine_horizontal_interference_lines_are_stripes(clean: np.ndarray) -> None:
    lines = clean.astype(np.int16)
    lines[::4] += 25
    assert "stripes" in faults_of([np.clip(lines, 0, 255).astype(np.uint8)])


def test_a_repeated_picture_is_frozen_but_a_live_burst_is_not(street: Street, clean: np.ndarray) -> None:
    rng = np.random.default_rng(1)
    repeated = [clean] + [picture_faults.apply("frozen", clean, rng, 0.5) for _ in range(5)]
    assert diagnose(repeated).faults == ["frozen"]
    live = diagnose(street.burst())
    assert "frozen" not in live.faults and live.scores["frozen"] > SPECS["frozen"].default


def test_a_single_frame_cannot_be_judged_frozen(clean: np.ndarray) -> None:
    result = diagnose([clean]).result("frozen")
    assert not result.ran and result.score is None and "2 or more frames" in result.note


def test_something_on_the_lens_is_occlusion_and_the_view_moving_is_a_scene_change(clean: np.ndarray) -> None:
    covered = spoil("occlusion", clean, strength=0.5, seed=5)
    assert faults_of([covered], reference=clean) == ["occlusion"]
    moved = spoil("scene_change", clean, strength=0.5)
    diagnosis = diagnose([moved], reference=clean)
    assert "scene_change" in diagnosis.faults
    assert not diagnosis.result("occlusion").ran and "view changed" in diagnosis.result("occlusion").note


def test_reference_checks_are_skipped_without_a_reference_or_with_another_format(clean: np.ndarray) -> None:
    alone = diagnose([clean])
    for name in ("occlusion", "scene_change"):
        assert not alone.result(name).ran and "no reference" in alone.result(name).note
    square = cv2.resize(clean, (704, 576))
    other = diagnose([clean], reference=square)
    assert not other.result("scene_change").ran and "704x576" in other.result("scene_change").note
    # The same view from the camera's sub-stream (same aspect, smaller) is compared.
    assert diagnose([clean], reference=cv2.resize(clean, (640, 360))).result("scene_change").ran


def test_no_picture_at_all_is_signal_loss() -> None:
    diagnosis = signal_lost("stream refused: 488 Not Acceptable Here")
    assert not diagnosis.ok and diagnosis.faults == ["signal_loss"] and diagnosis.scores == {"signal_loss": 1.0}
    assert diagnosis.result("signal_loss").note == "stream refused: 488 Not Acceptable Here"
    assert all(not r.ran for r in diagnosis.results if r.name != "signal_loss")
    assert not diagnosis.usable_as_reference


def test_the_json_form_is_plain_data_with_every_check(street: Street, clean: np.ndarray) -> None:
    data = diagnose(street.burst(3), reference=clean).to_json()
    assert json.loads(json.dumps(data)) == data
    assert [r["name"] for r in data["results"]] == list(CHECKS)
    assert set(data) == {"ok", "faults", "scores", "results", "usable_as_reference"}


def test_faults_are_listed_in_check_order(clean: np.ndarray) -> None:
    both = spoil("too_dark", spoil("stripes", clean))
    found = faults_of([both])
    assert found == sorted(found, key=CHECKS.index) and {"stripes", "too_dark"} <= set(found)


# PTZ check ---------------------------------------------------------------------------------------------------


def test_picture_moved_tells_a_pan_from_noise_and_lighting(street: Street, clean: np.ndarray) -> None:
    score, moved = picture_moved(clean, street.frame(relit(street.shot, street.rng, night=False)))
    assert not moved and score < 0.3
    panned = street.frame(replace(street.shot, x0=street.shot.x0 + 0.15))
    assert picture_moved(clean, panned)[1]
    assert picture_moved(clean, spoil("scene_change", clean))[1]


# Thresholds --------------------------------------------------------------------------------------------------


def test_a_camera_override_moves_a_threshold_or_turns_a_check_off(clean: np.ndarray) -> None:
    dark = spoil("too_dark", clean)
    assert "too_dark" in faults_of([dark])
    lenient = Thresholds.from_overrides({"too_dark": {"threshold": 5}})
    assert "too_dark" not in faults_of([dark], thresholds=lenient)
    off = Thresholds.from_overrides({"too_dark": {"enabled": False}, "blur": {"enabled": True, "threshold": 0.9}})
    diagnosis = diagnose([dark], thresholds=off)
    assert "too_dark" not in diagnosis.faults and "too_dark" not in diagnosis.scores
    assert not diagnosis.result("too_dark").ran and diagnosis.result("too_dark").note == "disabled for this camera"
    assert diagnosis.result("blur").threshold == 0.9
    assert off.to_overrides() == {"too_dark": {"enabled": False}, "blur": {"threshold": 0.9}}


def test_directions_of_the_scores() -> None:
    thresholds = Thresholds.default()
    assert thresholds.failed("too_dark", 10) and not thresholds.failed("too_dark", 120)
    assert thresholds.failed("frozen", 0.0) and not thresholds.failed("frozen", 3.0)
    assert thresholds.failed("too_bright", 240) and not thresholds.failed("blur", 0.1)


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"focus": {"threshold": 1}}, "unknown VQD check 'focus'"),
        ({"blur": 0.5}, "expected an object"),
        ({"blur": {"threshold": "high"}}, "must be a number"),
        ({"blur": {"threshold": True}}, "must be a number"),
        ({"blur": {"threshold": math.nan}}, "outside"),
        ({"too_dark": {"threshold": 300}}, "outside 0..255"),
        ({"blur": {"enabled": "no"}}, "true or false"),
        ({"blur": {"limit": 0.5}}, "unknown setting 'limit'"),
        (["blur"], "object of checks"),
    ],
)
def test_bad_overrides_are_refused_with_the_reason(overrides: object, complaint: str) -> None:
    with pytest.raises(InvalidInput, match=complaint):
        Thresholds.from_overrides(overrides)  # type: ignore[arg-type]


def test_no_overrides_are_the_defaults() -> None:
    assert Thresholds.from_overrides(None) == Thresholds.from_overrides({}) == Thresholds.default()
    assert Thresholds.default().to_overrides() == {}
    assert all(Thresholds.default().threshold(name) == spec.default for name, spec in SPECS.items())


# Bad input ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frames", "complaint"),
    [
        ([], "at least one frame"),
        ([np.zeros((720, 1280), np.uint8)], r"shape \(height, width, 3\)"),
        ([np.zeros((720, 1280, 3), np.float32)], "uint8"),
        ([np.zeros((720, 1280, 4), np.uint8)], "BGR"),
        ([np.zeros((40, 60, 3), np.uint8)], "cannot be judged"),
        (["frame.jpg"], "numpy array"),
        ([np.zeros((720, 1280, 3), np.uint8), np.zeros((360, 640, 3), np.uint8)], "frame 0 is 1280x720"),
    ],
)
def test_bad_frames_are_refused_with_the_reason(frames: list[object], complaint: str) -> None:
    with pytest.raises(InvalidInput, match=complaint):
        diagnose(frames)  # type: ignore[arg-type]


def test_a_single_array_instead_of_a_burst_and_bad_arguments_are_refused(clean: np.ndarray) -> None:
    with pytest.raises(InvalidInput, match="list of BGR frames"):
        diagnose(clean)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="reference must be uint8"):
        diagnose([clean], reference=clean.astype(np.float64))
    with pytest.raises(InvalidInput, match="must be a Thresholds"):
        diagnose([clean], thresholds={"blur": {"threshold": 0.5}})  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="before"):
        picture_moved(clean[:, :, 0], clean)


def test_a_diagnosis_is_a_value(clean: np.ndarray) -> None:
    first, second = diagnose([clean]), diagnose([clean.copy()])
    assert isinstance(first, Diagnosis) and first == second
