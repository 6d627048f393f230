"""Picture faults a simulated camera can show, drawn straight into its YUV 4:2:0 frame before encoding.

They stand in for the faults VQD exists to catch (a lens knocked out of focus, a dead IR lamp, a cable picking up
interference), so a demo or a test can point diagnosis at a camera that really streams a bad picture.
"""

from __future__ import annotations

import cv2
import numpy as np

FAULTS = (
    "black", "blur", "dark", "bright", "noise", "stripes", "colour_cast", "occlusion", "frozen", "no_signal",
)  # fmt: skip


def check(fault: str | None) -> None:
    if fault is not None and fault not in FAULTS:
        raise ValueError(f"unknown picture fault {fault!r}; known: {', '.join(FAULTS)}")


def apply(fault: str, frame: np.ndarray, width: int, height: int, index: int, rng: np.random.Generator) -> None:
    """Spoil `frame` (planar I420: height*3/2 rows of `width`) in place. "frozen" is the caller's business."""
    luma = frame[:height]
    chroma = frame[height:]
    if fault == "black":
        luma.fill(16)
        chroma.fill(128)
    elif fault == "no_signal":
        # The flat blue "NO VIDEO" screen DVRs and encoders send when their input is dead.
        luma.fill(41)
        u_size = (width // 2) * (height // 2)
        flat = chroma.reshape(-1)
        flat[:u_size] = 240
        flat[u_size:] = 110
        scale = max(0.5, height / 360)
        cv2.putText(luma, "NO VIDEO", (width // 3, height // 2), cv2.FONT_HERSHEY_SIMPLEX, scale, 200, 2)
    elif fault == "blur":
        k = max(3, (width // 40) | 1)
        cv2.GaussianBlur(luma, (k, k), 0, dst=luma)
    elif fault == "dark":
        np.copyto(luma, (luma.astype(np.uint16) * 3 // 32 + 4).astype(np.uint8))
    elif fault == "bright":
        np.copyto(luma, (250 - (255 - luma.astype(np.int16)) // 4).astype(np.uint8))
    elif fault == "noise":
        noisy = luma.astype(np.int16) + rng.normal(0, 45, luma.shape).astype(np.int16)
        np.copyto(luma, np.clip(noisy, 0, 255).astype(np.uint8))
    elif fault == "stripes":
        rows = np.arange(height, dtype=np.float32)[:, None]
        wave = (45 * np.sin(2 * np.pi * rows / 10 + index / 4)).astype(np.int16)
        np.copyto(luma, np.clip(luma.astype(np.int16) + wave, 0, 255).astype(np.uint8))
    elif fault == "colour_cast":
        u_size = (width // 2) * (height // 2)
        flat = chroma.reshape(-1)
        flat[:u_size] = 90  # less blue
        flat[u_size:] = 185  # much more red
    elif fault == "occlusion":
        # Something stuck over most of the lens: a dark, featureless blob.
        cv2.ellipse(luma, (width // 2, height // 2), (width * 2 // 5, height * 2 // 5), 0, 0, 360, 28, -1)
    elif fault != "frozen":
        check(fault)
