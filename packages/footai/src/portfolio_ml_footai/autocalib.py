"""Automatic calibration from the pitch markings (placeholder, filled below)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .segmentation import PitchMasks


@dataclass(frozen=True)
class AutoFit:
    homography: np.ndarray
    detail: str


def auto_calibrate(image: np.ndarray, masks: PitchMasks) -> AutoFit | None:
    return None


class LineRefiner:
    def __init__(self, size: tuple[int, int]) -> None:
        self.size = size

    def update(self, image, masks, h, boxes, scale):
        return h
