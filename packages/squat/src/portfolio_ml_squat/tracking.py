"""Follow one person: pick the same body from frame to frame, and notice when it changes."""

from __future__ import annotations

import math

from portfolio_ml_core.pose import PoseLandmark as LM
from portfolio_ml_core.pose import PoseResult


def _centre_and_size(pose: PoseResult) -> tuple[float, float, float]:
    """Hip centre (x, y in image-height units) and body height (same units)."""
    w, h = pose.image_size
    lm = pose.landmarks
    aspect = w / h
    cx = float(lm[LM.LEFT_HIP, 0] + lm[LM.RIGHT_HIP, 0]) / 2 * aspect
    cy = float(lm[LM.LEFT_HIP, 1] + lm[LM.RIGHT_HIP, 1]) / 2
    box = pose.bbox(0.3)
    size = (box[3] - box[1]) if box else 0.0
    return cx, cy, max(size, 0.05)


class PersonSelector:
    """Chooses the followed person among the poses of a frame.

    The first time, the biggest body (nearest the camera) wins; afterwards the body whose hips
    are nearest the last position. A jump of more than ``max_jump`` body heights between two
    frames means the landmarker has switched to someone else: `select` reports it, so the
    counter can drop the rep in progress instead of splicing two people together.
    """

    def __init__(self, max_jump: float = 0.5) -> None:
        self.max_jump = max_jump
        self._last: tuple[float, float, float] | None = None

    def reset(self) -> None:
        self._last = None

    def select(self, people: list[PoseResult]) -> tuple[PoseResult | None, bool]:
        """Return (the followed pose or None, whether the followed person just changed)."""
        if not people:
            return None, False
        found = [(_centre_and_size(p), p) for p in people]
        if self._last is None:
            (c, pose) = max(found, key=lambda item: item[0][2])
            self._last = c
            return pose, False
        lx, ly, ls = self._last
        c, pose = min(found, key=lambda item: math.hypot(item[0][0] - lx, item[0][1] - ly))
        switched = math.hypot(c[0] - lx, c[1] - ly) > self.max_jump * max(ls, c[2])
        self._last = c
        return pose, switched
