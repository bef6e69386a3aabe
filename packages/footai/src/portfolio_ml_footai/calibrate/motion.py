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

from .geometry import rescaled


@dataclass(frozen=True)
class MotionEstimate:
    matrix: np.ndarray  # 3×3, previous frame pixels → current frame pixels
    inliers: int
    ok: bool


OVERLAY_VOTES = 8.0
# Lucas–Kanade on the small working copy: a 15-px window and 3 pyramid levels follow a pan of
# ±30 working pixels a frame; 12 corners per grid cell are plenty for a RANSAC homography.
LK_WINDOW = (15, 15)
LK_LEVELS = 2
CORNERS_PER_CELL = 12
# Corners are searched afresh on one frame in REFRESH (2 ms on the 320-px copy); in between,
# the last frame's RANSAC inliers, already found in this frame by Lucas-Kanade, are tracked on,
# as long as at least REUSE_SHARE of the last search's count is left (a pan takes them out of
# the picture, people's boxes and overlays mask them).
REFRESH = 4
REUSE_SHARE = 0.5


class CameraMotion:
    def __init__(self, frame_size: tuple[int, int], work_width: int = 480) -> None:
        self.scale = min(1.0, work_width / frame_size[0])
        self.size = (round(frame_size[0] * self.scale), round(frame_size[1] * self.scale))
        self.prev: np.ndarray | None = None
        self.static_votes = np.zeros((self.size[1] // 8 + 1, self.size[0] // 8 + 1), np.float32)
        self.kept: np.ndarray | None = None  # last update's inliers, in ``prev``'s pixels
        self.searched = 0  # corners the last search found
        self.since_search = 0  # updates since it

    def update(self, bgr: np.ndarray, exclude: np.ndarray | None = None) -> MotionEstimate:
        """Motion from the previous frame to ``bgr``; ``exclude``: xyxy boxes (people) to ignore."""
        # Any resolution in (a working copy saves decoding-size work); motion out in frame pixels.
        # Grey first, then a bilinear shrink: a third of the work of an area-averaged colour one.
        gray = cv2.resize(
            cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), self.size, interpolation=cv2.INTER_LINEAR
        )
        prev, self.prev = self.prev, gray
        eye = np.eye(3)
        if prev is None:
            return MotionEstimate(eye, 0, True)
        mask = np.full(gray.shape, 255, np.uint8)
        if exclude is not None and len(exclude):
            s = self.scale
            for x0, y0, x1, y1 in exclude:
                cv2.rectangle(
                    mask,
                    (int(x0 * s) - 3, int(y0 * s) - 3),
                    (int(x1 * s) + 3, int(y1 * s) + 3),
                    0,
                    -1,
                )
        # Overlays (scorebug, logos) never move while the picture does: mask cells that keep
        # voting for "no motion" during pans.
        cells = cv2.dilate(
            (self.static_votes > OVERLAY_VOTES).astype(np.uint8), np.ones((3, 3), np.uint8)
        )
        overlay = cv2.resize(
            cells, (cells.shape[1] * 8, cells.shape[0] * 8), interpolation=cv2.INTER_NEAREST
        )[: self.size[1], : self.size[0]]
        mask[overlay > 0] = 0
        kept, self.kept = self.kept, None
        pts = None
        if kept is not None and self.since_search < REFRESH - 1:
            inside = np.clip(kept.astype(int), 0, [self.size[0] - 1, self.size[1] - 1])
            kept = kept[mask[inside[:, 1], inside[:, 0]] > 0]
            if len(kept) >= max(8, REUSE_SHARE * self.searched):
                pts, self.since_search = kept.reshape(-1, 1, 2), self.since_search + 1
        if pts is None:
            pts = self._corners(prev, mask)
            self.searched, self.since_search = 0 if pts is None else len(pts), 0
        if pts is None or len(pts) < 8:
            return MotionEstimate(eye, 0, False)
        nxt, status, _ = cv2.calcOpticalFlowPyrLK(
            prev, gray, pts, None, winSize=LK_WINDOW, maxLevel=LK_LEVELS
        )
        good = status.ravel() == 1
        a, b = pts[good].reshape(-1, 2), nxt[good].reshape(-1, 2)
        if len(a) < 8:
            return MotionEstimate(eye, 0, False)
        m, inl = cv2.findHomography(a, b, cv2.RANSAC, 1.0)
        if m is None or inl is None or inl.sum() < 8:
            return MotionEstimate(eye, 0, False)
        inl = inl.ravel().astype(bool)
        self.kept = b[inl].astype(np.float32)
        self._vote_overlays(a, b, m)
        if _explains_as_well(a[inl], b[inl], m):
            # A still camera: fitting 8 parameters to tracking noise gives a small random
            # motion every frame, and carried homographies drift by their sum.
            return MotionEstimate(eye, int(inl.sum()), True)
        return MotionEstimate(rescaled(m, 1.0 / self.scale), int(inl.sum()), True)

    @property
    def cell_px(self) -> float:
        """Frame pixels per side of one `overlay_cells` cell."""
        return 8 / self.scale

    def overlay_cells(self) -> np.ndarray:
        """`overlay_mask` at one value per 8-px cell of the working copy (0/255): a few KB,
        small enough to keep one per shot (a frame-size mask is 1-2 MB)."""
        still = (self.static_votes > OVERLAY_VOTES).astype(np.uint8) * 255
        closed = cv2.morphologyEx(still, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
        return cv2.dilate(closed, np.ones((3, 3), np.uint8))

    def overlay_mask(self, size: tuple[int, int]) -> np.ndarray:
        """Static overlays found so far (scorebug, logos) as a 0/255 mask of ``size`` (w, h).

        Still cells are found where corners are, so a panel comes out in pieces: its lettering,
        not its flat fill, and never a crest or logo inside it (features are not sampled in
        person boxes, and the net may take a striped crest for a player). A closing over up to
        4 cells joins the pieces of one panel; the dilation then grows it by a cell.
        """
        cells = self.overlay_cells()
        full = cv2.resize(
            cells, (cells.shape[1] * 8, cells.shape[0] * 8), interpolation=cv2.INTER_NEAREST
        )
        full = full[: self.size[1], : self.size[0]]
        return cv2.resize(full, size, interpolation=cv2.INTER_NEAREST)

    def _corners(self, gray: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
        """Corners spread over a grid, so that one busy region (lettering) cannot dominate."""
        h, w = gray.shape
        out = []
        for gy in range(4):
            for gx in range(6):
                y0, y1, x0, x1 = gy * h // 4, (gy + 1) * h // 4, gx * w // 6, (gx + 1) * w // 6
                sub = cv2.goodFeaturesToTrack(
                    gray[y0:y1, x0:x1],
                    maxCorners=CORNERS_PER_CELL,
                    qualityLevel=0.02,
                    minDistance=7,
                    mask=mask[y0:y1, x0:x1],
                    blockSize=5,
                )
                if sub is not None:
                    out.append(sub.reshape(-1, 2) + np.array([x0, y0]))
        if not out:
            return None
        return np.concatenate(out).astype(np.float32).reshape(-1, 1, 2)

    def _vote_overlays(self, a: np.ndarray, b: np.ndarray, m: np.ndarray) -> None:
        """Vote for cells whose features stay put while the camera motion says they should move.

        Slow pans are the dangerous case: a scorebug's corners then fall inside the RANSAC
        threshold and drag the estimate toward "no motion", a bias that accumulates.
        """
        # Decay fast enough that stray votes (a tracking failure on flat grass) never add up;
        # a real overlay votes in every panning frame and stays far above the threshold.
        self.static_votes *= 0.99
        # The typical (median) motion, not the fit: a large overlay can bend the fit itself.
        typical = np.median(b - a, axis=0)
        if float(np.linalg.norm(typical)) < 0.3:
            return
        still = np.linalg.norm(b - a, axis=1) < 0.12
        if not still.any():
            return
        cells = (a[still] / 8).astype(int)
        h, w = self.static_votes.shape
        cells = cells[
            (cells[:, 0] >= 0) & (cells[:, 1] >= 0) & (cells[:, 0] < w) & (cells[:, 1] < h)
        ]
        np.add.at(self.static_votes, (cells[:, 1], cells[:, 0]), 1.0)


STILL_RESIDUAL_RATIO = 1.25


def _explains_as_well(a: np.ndarray, b: np.ndarray, fitted: np.ndarray) -> bool:
    """True when "no motion" fits the tracked points about as well as the fitted homography.

    The simpler model wins when its median residual is within 25 % of the fitted one's (an
    8-parameter fit to a few hundred noisy points lowers the residual by ~2 %, a real pan of
    even a fraction of a pixel a frame by far more).
    """
    still = float(np.median(np.linalg.norm(b - a, axis=1)))
    moved = float(np.median(np.linalg.norm(_map(fitted, a) - b, axis=1)))
    return still <= STILL_RESIDUAL_RATIO * moved + 1e-3


def _map(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    q = np.c_[pts, np.ones(len(pts))] @ h.T
    return q[:, :2] / q[:, 2:3]
