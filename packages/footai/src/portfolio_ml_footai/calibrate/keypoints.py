"""Pitch keypoints → a homography for every frame.

One frame: RANSAC over the confident keypoints (`fit_keypoints`). Over a video
(`HomographyTracker`): between good fits the last homography is carried by the measured camera
motion, and fits are smoothed so the tactical map does not shiver; a fit that disagrees with
the carried one by a lot is treated as a cut (taken as is) once two frames agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .. import pitch
from ..detections import PitchKeypoints
from .geometry import apply_h, general_position, homography_is_plausible

MIN_INLIERS = 4
# While the camera stands still (camera motion exactly "none"), fits are averaged: their errors
# are noise around one true homography. The average spans up to this many fits, then slides.
STILL_AVERAGE = 12
# A fit from 4 points is exact whatever their errors; one that contradicts the carried homography
# must have a fifth point that checks it.
MIN_SWITCH_INLIERS = 5
RANSAC_PX = 0.012  # reprojection threshold as a fraction of the frame width (15 px at 1280)


@dataclass(frozen=True)
class KeypointFit:
    homography: np.ndarray  # pitch metres → image pixels
    inliers: np.ndarray  # (32,) bool
    error_px: float  # median reprojection error of the inliers

    @property
    def n_inliers(self) -> int:
        return int(self.inliers.sum())


def fit_keypoints(
    keypoints: PitchKeypoints, frame_width: int, threshold: float | None = None
) -> KeypointFit | None:
    """RANSAC homography from the confident keypoints; None without 4 consistent, spread points."""
    seen = np.nonzero(keypoints.visible(threshold))[0]
    if len(seen) < MIN_INLIERS:
        return None
    world = pitch.KEYPOINTS[seen]
    image = keypoints.xy[seen]
    h, mask = cv2.findHomography(world, image, cv2.RANSAC, RANSAC_PX * frame_width, maxIters=500)
    if h is None or mask is None:
        return None
    ok = mask.ravel().astype(bool)
    # Three keypoints of the halfway line and one more fix no homography: the far side folds.
    if ok.sum() < MIN_INLIERS or not _spread(world[ok]) or not general_position(world[ok]):
        return None
    h = h / h[2, 2]
    if not homography_is_plausible(h, world[ok]):
        return None
    inliers = np.zeros(len(pitch.KEYPOINTS), bool)
    inliers[seen[ok]] = True
    err = np.linalg.norm(apply_h(h, world[ok]) - image[ok], axis=1)
    return KeypointFit(h, inliers, float(np.median(err)))


def _spread(world: np.ndarray) -> bool:
    """Four points on one line (or bunched up) fix no homography."""
    centred = world - world.mean(axis=0)
    s = np.linalg.svd(centred, compute_uv=False)
    return bool(len(s) == 2 and s[1] > 2.0)


def image_to_pitch(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Image pixels → pitch metres through the inverse of ``h`` (pitch → image)."""
    return apply_h(np.linalg.inv(h), points)


class HomographyTracker:
    """A homography for every frame: keypoint fits, carried by camera motion between them."""

    def __init__(self, frame_size: tuple[int, int], smoothing: float = 0.5) -> None:
        self.size = frame_size
        self.smoothing = smoothing
        self.current: np.ndarray | None = None
        self.frames_since_fit = 0
        self.pending: np.ndarray | None = None  # a disagreeing fit waiting for confirmation
        self.still_fits = 0  # fits averaged into `current` since the camera last moved

    def update(self, fit: KeypointFit | None, motion: np.ndarray | None) -> np.ndarray | None:
        """This frame's homography: ``motion`` maps last frame's pixels to this frame's."""
        carried = self.carried(motion)
        moving = motion is None or not np.array_equal(motion, np.eye(3))
        if moving:
            self.still_fits = 0
        if fit is None:
            self.frames_since_fit += 1
            # Motion alone drifts: give up after ~2 s without a keypoint fit.
            self.current = carried if self.frames_since_fit <= 50 else None
            return self.current
        self.frames_since_fit = 0
        pending, self.pending = self.pending, None
        if pending is not None and motion is not None:
            pending = _moved(pending, motion)
        if carried is None:
            return self._restart(fit)
        if self._disagree(carried, fit.homography):
            # A cut the thumbnail test missed, or drift: switch once two checked fits agree.
            if fit.n_inliers < MIN_SWITCH_INLIERS:
                self.current = carried
            elif pending is not None and not self._disagree(pending, fit.homography):
                return self._restart(fit)
            else:
                self.pending, self.current = fit.homography, carried
            return self.current
        weight = 1 - self.smoothing
        if self.still_fits:  # a running mean of the still camera's fits, then a sliding one
            weight = min(weight, 1.0 / (min(self.still_fits, STILL_AVERAGE) + 1))
        self.still_fits = 0 if moving else self.still_fits + 1
        blend = (1 - weight) * carried + weight * fit.homography
        self.current = blend / blend[2, 2]
        return self.current

    def carried(self, motion: np.ndarray | None) -> np.ndarray | None:
        """The current homography moved by ``motion`` (last frame's pixels → this frame's)."""
        if self.current is None or motion is None:
            return None
        return _moved(self.current, motion)

    def carry(self, motion: np.ndarray | None) -> np.ndarray | None:
        """Follow the camera only (a calibration file: exact for its shot, never re-fitted)."""
        carried = self.carried(motion)
        if carried is not None:
            self.current = carried
        return self.current

    def _restart(self, fit: KeypointFit) -> np.ndarray:
        self.current, self.still_fits = fit.homography, 1
        return self.current

    def _disagree(self, a: np.ndarray, b: np.ndarray) -> bool:
        """More than 4 % of the frame width apart on a grid over the picture."""
        w, h = self.size
        grid = np.array([[x, y] for x in (0.2 * w, 0.5 * w, 0.8 * w) for y in (0.4 * h, 0.8 * h)])
        try:
            pa = image_to_pitch(a, grid)
            back = apply_h(b, pa)
        except np.linalg.LinAlgError:
            return True
        return bool(np.median(np.linalg.norm(back - grid, axis=1)) > 0.04 * w)


def _moved(h: np.ndarray, motion: np.ndarray) -> np.ndarray:
    moved = motion @ h
    return moved / moved[2, 2]
