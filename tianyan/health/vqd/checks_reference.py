"""Comparisons with the camera's approved picture (its reference): occlusion and scene_change.

The reference is reduced to the current frame's overview size; a reference of another aspect ratio cannot be
compared (the camera's format changed: approve a new reference). See structure.py for the block comparison.
- occlusion score: the share of the picture covered by something featureless that was not there (0..1, higher
  = worse). A block is covered when it is flat now and either had texture in the reference (relative to how the
  whole picture's texture changed, so dusk or a soft focus, which soften every block alike, do not count) or its
  colour changed beyond the picture's overall change of light (learnt from blocks that still match; clipping
  and crushing by a change of exposure are allowed for). Fine grain counts as texture here (a plaster wall
  loses it under a blob). Only regions of 6 blocks or more (about 4 % of the picture) count: something close
  to the lens is big and far out of focus, a passing car is neither.
- scene_change score: of the blocks textured in both pictures, the share whose structure no longer matches
  (normalised cross-correlation under 0.5 after taking out a few pixels of shake); 0..1, higher = worse. A
  moved camera changes nearly every block; lighting, noise and a car passing change few. Blocks on or beside an
  occluding blob are left out (an occluder's soft rim matches nothing). Fewer than 8 comparable blocks: no
  verdict (diagnose reports the check as not run).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tianyan.health.vqd.structure import compare_blocks

TEXTURED = 3.0  # band-pass standard deviation (grey levels) for a block to have structure
_GRAIN = 1.0  # band-pass standard deviation of a surface's fine grain
_FLAT = 1.5  # ... and below this (scaled by the picture's change of contrast) a block is featureless
_LOST = 0.3  # a block keeping less than this share of the picture's typical texture ratio has lost its texture
_BRIGHTNESS_CHANGE = float(np.log(1.5))  # beyond the picture's own change of light
_COLOUR_CHANGE = 0.25  # log-chromaticity distance beyond the picture's own white-balance drift
_CHROMA_MIN_LUMA = 25.0  # darker blocks' colour is mostly noise
_WHITE, _BLACK, _DARK = 245.0, 12.0, 4.0
_MIN_MATCHED = 8
_LUMA = np.array([0.114, 0.587, 0.299], np.float32)
_MATCH = 0.5
_MIN_COMPARED = 8  # fewer comparable blocks than this: no scene verdict
_NEIGHBOURS = np.ones((3, 3), np.uint8)
_MIN_BLOB = 6  # blocks (about 4 % of the picture): a passing car or a lit window is smaller


@dataclass(frozen=True)
class ReferenceScores:
    occlusion: float
    scene_change: float
    textured_blocks: int
    compared_blocks: int
    shift: tuple[float, float]
    judged_scene: bool
    covered: np.ndarray  # bool per block: part of an occluding blob


def reference_scores(current: np.ndarray, reference: np.ndarray) -> ReferenceScores:
    """Both arguments are BGR overviews of the same size."""
    blocks = compare_blocks(reference, current)
    textured = blocks.std_before >= TEXTURED
    count = int(np.count_nonzero(textured))
    ratio = blocks.std_after / np.maximum(blocks.std_before, 1e-3)
    typical = max(float(np.percentile(ratio[textured], 75)), 0.05) if count else 1.0
    comparable = textured & (blocks.std_after >= TEXTURED * min(typical, 1.0))
    matched = comparable & (blocks.ncc >= _MATCH)

    light = _Light(blocks.colour_before, blocks.colour_after, matched)
    flat_now = blocks.std_after < _FLAT * min(typical, 1.0)
    # Fine texture (plaster, asphalt) counts too for losing it: something on the lens is smoother than any wall.
    lost = (blocks.std_before >= _GRAIN) & (ratio < _LOST * typical) & ~light.clipped_or_crushed
    candidates = (flat_now & (lost | light.changed)).astype(np.uint8)
    covered = _blobs(candidates)
    occlusion = float(covered.mean())

    # An occluder's soft rim is textured and matches nothing: leave it, and the blobs, out of the scene check.
    beside_cover = cv2.dilate(covered.astype(np.uint8), _NEIGHBOURS) > 0
    comparable &= ~beside_cover
    compared = int(np.count_nonzero(comparable))
    judged = compared >= _MIN_COMPARED
    scene = float(np.count_nonzero(comparable & (blocks.ncc < _MATCH))) / compared if judged else 0.0
    return ReferenceScores(occlusion, scene, count, compared, blocks.shift, judged, covered)


class _Light:
    """How the light changed between the pictures, learnt from blocks that still match, and which blocks it
    does not explain.

    Exposure changes multiply brightness (and clip at white); white balance drifts shift colour a little, the
    same everywhere. A block is `changed` when its brightness or its colour moved beyond that; it is
    `clipped_or_crushed` when over- or under-exposure alone explains it going flat.
    """

    def __init__(self, before: np.ndarray, after: np.ndarray, matched: np.ndarray) -> None:
        luma_before, luma_after = (before * _LUMA).sum(axis=2), (after * _LUMA).sum(axis=2)
        basis = matched if np.count_nonzero(matched) >= _MIN_MATCHED else np.ones(matched.shape, bool)
        usable = basis & (luma_before < _WHITE) & (luma_after < _WHITE) & (luma_before > _BLACK)
        if not usable.any():
            usable = basis
        brightness = np.log((luma_after + _DARK) / (luma_before + _DARK))
        gain = float(np.median(brightness[usable]))
        expected = np.minimum((luma_before + _DARK) * np.exp(gain) - _DARK, 255.0)
        deviation = np.log((luma_after + _DARK) / (np.maximum(expected, 0.0) + _DARK))
        # White in the reference was at least that bright: only a fall below what the light allows counts.
        deviation = np.where(luma_before >= _WHITE, np.minimum(deviation, 0.0), deviation)
        clipped = (luma_after >= _WHITE - 10) & (expected >= _WHITE - 15)
        crushed = (luma_after <= _BLACK) & (expected <= _BLACK + 8)
        self.clipped_or_crushed = clipped | crushed
        changed = (np.abs(deviation) > _BRIGHTNESS_CHANGE) & ~self.clipped_or_crushed

        chroma_before, chroma_after = _chroma(before), _chroma(after)
        shift = chroma_after - chroma_before
        drift = np.median(shift[usable], axis=0)
        colour_deviation = np.linalg.norm(shift - drift, axis=2)
        visible = (np.minimum(luma_before, luma_after) >= _CHROMA_MIN_LUMA) & (
            np.maximum(before.max(axis=2), after.max(axis=2)) < _WHITE
        )
        self.changed = changed | (visible & (colour_deviation > _COLOUR_CHANGE))


def _blobs(covered: np.ndarray) -> np.ndarray:
    """The covered blocks that form regions of at least _MIN_BLOB blocks (8-connected), as a bool mask."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(covered, connectivity=8)
    big = [index for index in range(1, count) if stats[index, cv2.CC_STAT_AREA] >= _MIN_BLOB]
    return np.isin(labels, big)


def _chroma(colour: np.ndarray) -> np.ndarray:
    """Per block (log R/G, log B/G)."""
    b, g, r = (colour[:, :, c] + _DARK for c in range(3))
    return np.stack([np.log(r / g), np.log(b / g)], axis=2)
