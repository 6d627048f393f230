"""Change over time: frozen pictures in a burst, and whether a PTZ move really moved the picture.

- frozen score: the typical change between consecutive frames, in grey levels at the detail scale (lower =
  worse). Each pair's absolute difference is averaged in blocks and the 75th percentile block taken, then the
  median pair: a live camera's sensor noise changes every block a little in every pair, while a frozen source
  repeats the picture exactly or within the +-1 level of re-encoding it, even if a clock burnt in over it still
  runs or one repeated keyframe differs. Frames should be spread over a few seconds, not consecutive: a static
  scene from a camera with strong noise reduction can repeat itself for a frame or two.
- picture_moved(before, after): (score, moved). The score is the larger of the share of textured blocks whose
  structure no longer matches and the measured shift as a share of the shake allowance (both 0..1); moved is
  true for a shift of 2 overview pixels (about 0.6 % of the width) or more, or for most of the structure
  changing (a zoom), so a PTZ step of any useful size counts and noise or a passing car does not.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import cv2
import numpy as np

from tianyan.health.vqd.picture import check_frame, prepare
from tianyan.health.vqd.structure import MAX_JITTER, compare_blocks

_BLOCKS = (32, 18)
# A quarter of the picture changing counts: an overexposed picture's clipped white does not move, nor does a
# clock's corner move a frozen one.
_BLOCK_PERCENTILE = 75.0
_MOVED_SHIFT = 2.0  # overview pixels
_MOVED_SHARE = 0.5
_TEXTURED = 3.0


def frozen_score(details: Sequence[np.ndarray]) -> float:
    """Typical per-pair change of a burst of grey detail copies (at least two, same size)."""
    changes = []
    for before, after in itertools.pairwise(details):
        difference = cv2.absdiff(before, after).astype(np.float32)
        blocks = cv2.resize(difference, _BLOCKS, interpolation=cv2.INTER_AREA)
        changes.append(float(np.percentile(blocks, _BLOCK_PERCENTILE)))
    return float(np.median(changes))


def picture_moved(before: np.ndarray, after: np.ndarray) -> tuple[float, bool]:
    """How much the picture changed between two frames of one camera, and whether the camera really moved."""
    first, second = prepare(check_frame(before, "before")), prepare(check_frame(after, "after"))
    a, b = first.overview, second.overview
    if a.shape != b.shape:
        a = cv2.resize(a, (b.shape[1], b.shape[0]), interpolation=cv2.INTER_AREA)
    blocks = compare_blocks(a, b)
    if not blocks.compensated:
        return 1.0, True
    shift = float(np.hypot(*blocks.shift))
    comparable = (blocks.std_before >= _TEXTURED) & (blocks.std_after >= _TEXTURED)
    count = int(np.count_nonzero(comparable))
    share = float(np.count_nonzero(blocks.ncc[comparable] < 0.5)) / count if count else 0.0
    score = max(share, min(1.0, shift / MAX_JITTER))
    return score, shift >= _MOVED_SHIFT or share >= _MOVED_SHARE
