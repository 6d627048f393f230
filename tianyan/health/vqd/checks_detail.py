"""Fine detail of the grey detail copy: blur and snow_noise (stripes are in checks_stripes).

- blur score: edge softness, 0..1 (higher = worse). At the picture's strongest edges (the top 4 % of gradients
  after an extra 5x5 box blur), along each edge's centre line (where the gradient peaks across it), the
  gradient after the extra blur is divided by the gradient as it is: a sharp edge loses most of it (ratio
  around 0.3), an already soft edge barely changes (ratio towards 1). The median over all those edge pixels
  ignores a sharp OSD clock burnt into an unfocused picture. Too few edges to judge: score 0 (no verdict).
- snow_noise score: the noise level in grey levels at the detail scale (higher = worse), from the
  Laplacian-of-differences estimator (Immerkaer) taken over blocks; a low percentile of the blocks is used, so
  texture (foliage, brick) does not count as noise: the flattest parts of any picture show the noise alone.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

# Blur
_EDGE_SHARE = 0.04  # the strongest 4 % of the picture's gradients are its edges
_MIN_EDGE_PIXELS = 200
_MIN_EDGE_GRADIENT = 6.0  # gradient units (see _gradient) after the extra blur: weaker edges are noise or shading
# Noise
_NOISE_BLOCK = 20
_NOISE_PERCENTILE = 20.0


def blur_score(detail: np.ndarray) -> tuple[float, int]:
    """(softness 0..1, number of edge pixels judged); (0, n) when there are too few edges to judge."""
    fine = _gradient(detail)
    coarse = _gradient(cv2.blur(detail, (5, 5)))
    histogram = cv2.calcHist([coarse], [0], None, [256], [0, 256]).ravel()
    above = np.cumsum(histogram[::-1])[::-1]  # pixels at or above each level
    level = max(_MIN_EDGE_GRADIENT, float(np.argmax(above <= _EDGE_SHARE * coarse.size)))
    # Judge each edge at its centre line, where the fine gradient peaks across it.
    ridge = cv2.compare(fine, cv2.dilate(fine, _RIDGE), cv2.CMP_GE)
    edges = (coarse >= level) & (ridge > 0) & (fine >= level)
    count = int(np.count_nonzero(edges))
    if count < _MIN_EDGE_PIXELS:
        return 0.0, count
    ratio = coarse[edges].astype(np.float32) / fine[edges].astype(np.float32)
    return float(np.clip(np.median(ratio), 0.0, 1.0)), count


_RIDGE = np.ones((3, 3), np.uint8)


def _gradient(grey: np.ndarray) -> np.ndarray:
    """max(|d/dx|, |d/dy|) as uint8, 2 units per grey level per pixel (Sobel / 4: never saturates)."""
    gx = cv2.convertScaleAbs(cv2.Sobel(grey, cv2.CV_16S, 1, 0), alpha=0.25)
    gy = cv2.convertScaleAbs(cv2.Sobel(grey, cv2.CV_16S, 0, 1), alpha=0.25)
    return cv2.max(gx, gy)


_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def noise_sigma(detail: np.ndarray) -> float:
    """Noise standard deviation in grey levels, from the flattest blocks of the picture."""
    response = cv2.filter2D(detail, cv2.CV_16S, _NOISE_KERNEL, borderType=cv2.BORDER_REFLECT)
    magnitude = cv2.convertScaleAbs(response)  # strong edges saturate: only the flattest blocks are used
    block_means = cv2.boxFilter(magnitude, cv2.CV_32F, (_NOISE_BLOCK, _NOISE_BLOCK))
    half = _NOISE_BLOCK // 2
    blocks = block_means[half::_NOISE_BLOCK, half::_NOISE_BLOCK]
    # Immerkaer: sigma = sqrt(pi / 2) / 6 * mean |L * I| for white Gaussian noise.
    return float(np.percentile(blocks, _NOISE_PERCENTILE)) * math.sqrt(math.pi / 2) / 6
