"""Camera-motion compensation: the frame-to-frame image homography from background features.

A broadcast camera pans, tilts and zooms about a fixed point, so every background point (crowd,
boards, markings) moves by one homography between frames whatever its depth. Corners are tracked
with pyramidal Lucas-Kanade on a small grey image with the players masked out, and the homography
is fitted with RANSAC (moving players, static overlays and bad tracks are its outliers).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class MotionEstimate:
    matrix: np.ndarray  # 3×3, previous frame pixels → current frame pixels
    inliers: int
    ok: bool


class CameraMotion:
    def __init__(self, frame_size: tuple[int, int], work_width: int = 480) -> None:
        self.scale = min(1.0, work_width / frame_size[0])
        self.size = (round(frame_size[0] * self.scale), round(frame_size[1] * self.scale))
        self.prev: np.ndarray | None = None
        self.static_votes = np.zeros((self.size[1] // 8 + 1, self.size[0] // 8 + 1), np.float32)

    def update(self, bgr: np.ndarray, exclude: np.ndarray | None = None) -> MotionEstimate:
        """Motion from the previous frame to ``bgr``. ``exclude``: boxes (N, 4) x,y,w,h to ignore."""
        gray = cv2.cvtColor(cv2.resize(bgr, self.size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
        prev, self.prev = self.prev, gray
        eye = np.eye(3)
        if prev is None:
            return MotionEstimate(eye, 0, True)
        mask = np.full(gray.shape, 255, np.uint8)
        if exclude is not None and len(exclude):
            s = self.scale
            for x, y, w, h in exclude:
                cv2.rectangle(mask, (int(x * s) - 3, int(y * s) - 3),
                              (int((x + w) * s) + 3, int((y + h) * s) + 3), 0, -1)
        # Overlays (scorebug, logos) never move while the picture does: mask cells that keep
        # voting for "no motion" during pans.
        overlay = cv2.resize((self.static_votes > 4).astype(np.uint8), self.size,
                             interpolation=cv2.INTER_NEAREST)
        mask[overlay > 0] = 0
        pts = cv2.goodFeaturesToTrack(prev, maxCorners=300, qualityLevel=0.01, minDistance=8,
                                      mask=mask, blockSize=5)
        if pts is None or len(pts) < 8:
            return MotionEstimate(eye, 0, False)
        nxt, status, _ = cv2.calcOpticalFlowPyrLK(prev, gray, pts, None, winSize=(21, 21), maxLevel=3)
        good = status.ravel() == 1
        a, b = pts[good].reshape(-1, 2), nxt[good].reshape(-1, 2)
        if len(a) < 8:
            return MotionEstimate(eye, 0, False)
        m, inl = cv2.findHomography(a, b, cv2.RANSAC, 1.0)
        if m is None or inl is None or inl.sum() < 8:
            return MotionEstimate(eye, 0, False)
        inl = inl.ravel().astype(bool)
        self._vote_overlays(a, b, inl)
        s = np.diag([self.scale, self.scale, 1.0])
        full = np.linalg.inv(s) @ m @ s
        return MotionEstimate(full / full[2, 2], int(inl.sum()), True)

    def _vote_overlays(self, a: np.ndarray, b: np.ndarray, inl: np.ndarray) -> None:
        moving = np.median(np.linalg.norm(b[inl] - a[inl], axis=1)) > 1.0
        self.static_votes *= 0.98
        if not moving:
            return
        still = (~inl) & (np.linalg.norm(b - a, axis=1) < 0.2)
        cells = (a[still] / 8).astype(int)
        h, w = self.static_votes.shape
        cells = cells[(cells[:, 0] < w) & (cells[:, 1] < h)]
        np.add.at(self.static_votes, (cells[:, 1], cells[:, 0]), 1.0)
