"""Exposure and colour of the whole picture: too_dark, too_bright, colour_cast (all on the BGR overview).

- too_dark / too_bright score: the mean luma, 0..255 (too_dark: lower = worse; too_bright: higher = worse).
  Auto exposure aims a healthy camera at mid grey whatever it sees, so a mean far from it means the iris, the
  exposure control or the lighting failed.
- colour_cast score: how far the picture's typical colour is from grey in log chromaticity (log R/G, log B/G):
  the average of the length of the mean and the length of the median over the pixels (higher = worse; 0.3
  means channels about 35 % apart). A white-balance fault or a lost colour line multiplies a channel: that
  moves every pixel's log chromaticity by the same amount, in shadows as much as in highlights, so a cast
  shows as strongly in a dark night picture as in daylight. The mean is the grey-world estimate; the median
  is not pulled by a minority of strongly coloured things (street lamps, a red car, a tree). A healthy
  camera's auto white balance keeps both near grey; a scene that really is one strong colour (a lawn filling
  the view) needs a higher threshold for that camera. With a reference picture of the same view, the shift of
  the mean log chromaticity from the reference's also counts (diagnose takes the larger): the approved
  picture says what this scene's normal colour is.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tianyan.health.vqd.picture import Picture

# Added to each channel before the logarithm so the noise of near-black pixels does not swamp the average.
_DARK_OFFSET = 10.0


@dataclass(frozen=True)
class ExposureScores:
    mean_luma: float
    cast: float  # (|mean| + |median|) / 2 of the log chromaticity
    cast_red: float  # mean log(R/G)
    cast_blue: float  # mean log(B/G)

    @property
    def cast_note(self) -> str:
        return f"mean log R/G {self.cast_red:+.2f}, log B/G {self.cast_blue:+.2f}"


_LOG_LEVELS = np.log(np.arange(256, dtype=np.float64) + _DARK_OFFSET)
_LOG_LEVELS_32 = _LOG_LEVELS.astype(np.float32)


def exposure_scores(picture: Picture) -> ExposureScores:
    mean_luma = float(cv2.mean(picture.overview_grey)[0])
    red, blue = mean_chroma(picture)
    # The median on every fourth pixel each way: plenty for a median of a whole picture, a sixteenth of the work.
    logs = _LOG_LEVELS_32[picture.overview[::4, ::4]]
    median_red = float(np.median(logs[:, :, 2] - logs[:, :, 1]))
    median_blue = float(np.median(logs[:, :, 0] - logs[:, :, 1]))
    cast = (float(np.hypot(red, blue)) + float(np.hypot(median_red, median_blue))) / 2
    return ExposureScores(mean_luma, cast, red, blue)


def mean_chroma(picture: Picture) -> tuple[float, float]:
    """The mean (log R/G, log B/G) over the overview, from each channel's histogram (mean log R - mean log G)."""
    pixels = picture.overview.shape[0] * picture.overview.shape[1]
    mean_log = [
        float((cv2.calcHist([picture.overview], [c], None, [256], [0, 256]).ravel() * _LOG_LEVELS).sum()) / pixels
        for c in range(3)
    ]
    return mean_log[2] - mean_log[1], mean_log[0] - mean_log[1]
