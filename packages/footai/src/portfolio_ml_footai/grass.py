"""The grass colour of the footage: kit colours are measured on the pixels that are not grass.

The grass hue is learnt from the footage (the dominant green of the first frames) instead of
being hard-coded, so floodlit, sunny and synthetic pitches all work.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class GrassModel:
    hue_lo: int
    hue_hi: int
    sat_min: int
    val_min: int
    val_median: int = 120
    hue_median: int = 45
    sat_median: int = 150

    @property
    def lab(self) -> np.ndarray:
        """The typical grass colour in OpenCV Lab."""
        hsv = np.array([[[self.hue_median, self.sat_median, self.val_median]]], dtype=np.uint8)
        return cv2.cvtColor(cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR), cv2.COLOR_BGR2LAB)[0, 0].astype(
            np.float32
        )

    def mask(self, hsv: np.ndarray) -> np.ndarray:
        return cv2.inRange(hsv, (self.hue_lo, self.sat_min, self.val_min), (self.hue_hi, 255, 255))


def learn_grass(bgr_frames: list[np.ndarray]) -> GrassModel | None:
    """Fit the grass colour range, or None when there is no dominant green (not football)."""
    hues = []
    for bgr in bgr_frames:
        small = cv2.resize(bgr, (160, 90), interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV).reshape(-1, 3)
        green = hsv[(hsv[:, 0] >= 28) & (hsv[:, 0] <= 95) & (hsv[:, 1] >= 50) & (hsv[:, 2] >= 40)]
        hues.append(green)
    pix = np.concatenate(hues) if hues else np.empty((0, 3), np.uint8)
    total = 160 * 90 * len(bgr_frames)
    if len(pix) < 0.2 * total:
        return None
    hist = np.bincount(pix[:, 0], minlength=181).astype(float)
    hist = np.convolve(hist, np.ones(5) / 5, mode="same")
    peak = int(np.argmax(hist))
    # Range where the hue histogram is still 8% of the peak, widened a little.
    lo = peak
    while lo > 25 and hist[lo - 1] > 0.08 * hist[peak]:
        lo -= 1
    hi = peak
    while hi < 100 and hist[hi + 1] > 0.08 * hist[peak]:
        hi += 1
    sat = np.percentile(pix[np.abs(pix[:, 0].astype(int) - peak) < 8, 1], 2)
    val = np.percentile(pix[np.abs(pix[:, 0].astype(int) - peak) < 8, 2], 2)
    near = pix[np.abs(pix[:, 0].astype(int) - peak) < 8]
    vmed, smed = np.median(near[:, 2]), np.median(near[:, 1])
    # Dark greens are not grass: translucent overlay panels let the pitch show through dimly.
    vmin = max(25.0, val * 0.5, 0.45 * vmed)
    return GrassModel(
        max(20, lo - 4),
        min(105, hi + 4),
        int(max(30, sat * 0.6)),
        int(vmin),
        int(vmed),
        peak,
        int(smed),
    )


# A default grass range for footage whose first frames show none (close-ups, replays).
DEFAULT_GRASS = GrassModel(hue_lo=30, hue_hi=85, sat_min=40, val_min=40)
