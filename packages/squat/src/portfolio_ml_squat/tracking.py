"""Follow one person: pick the same body from frame to frame, and notice when it changes."""

from __future__ import annotations

import math

from portfolio_ml_core.pose import PoseLandmark as LM
from portfolio_ml_core.pose import PoseResult

Track = tuple[float, float, float]  # hip centre x, y (image-height units), body height


def _centre_and_size(pose: PoseResult) -> Track:
    """Hip centre (x, y in image-height units) and body height (same units)."""
    w, h = pose.image_size
    lm = pose.landmarks
    cx = float(lm[LM.LEFT_HIP, 0] + lm[LM.RIGHT_HIP, 0]) / 2 * (w / h)
    cy = float(lm[LM.LEFT_HIP, 1] + lm[LM.RIGHT_HIP, 1]) / 2
    box = pose.bbox(0.3)
    size = (box[3] - box[1]) if box else 0.0
    return cx, cy, max(size, 0.05)


class PersonSelector:
    """Chooses the followed person among the poses of a frame.

    The first time, the biggest body (nearest the camera) wins; afterwards the body whose hips
    are nearest the last position, if it is plausibly the same body (moved less than
    ``max_jump`` body heights, size within ``max_size_change``). A pose that is not — a
    reflection in a gym mirror, someone walking past, a one-frame glitch of the landmarker — is
    ignored (the frame counts as unseen) unless it persists for ``switch_after_s`` or the
    followed person has been gone for ``lost_after_s``; then it is adopted and `select`
    reports the switch, so the counter drops the rep in progress instead of splicing two
    people together.
    """

    def __init__(
        self,
        max_jump: float = 0.5,
        max_size_change: float = 1.5,
        switch_after_s: float = 0.5,
        lost_after_s: float = 1.0,
    ) -> None:
        self.max_jump = max_jump
        self.max_size_change = max_size_change
        self.switch_after_s = switch_after_s
        self.lost_after_s = lost_after_s
        self.reset()

    def reset(self) -> None:
        self._track: Track | None = None
        self._seen_at = -math.inf
        self._candidate: Track | None = None
        self._candidate_since = math.inf

    def _same(self, a: Track, b: Track) -> bool:
        jump = math.hypot(a[0] - b[0], a[1] - b[1])
        ratio = max(a[2], b[2]) / min(a[2], b[2])
        return jump <= self.max_jump * max(a[2], b[2]) and ratio <= self.max_size_change

    def select(self, people: list[PoseResult], t: float = 0.0) -> tuple[PoseResult | None, bool]:
        """Return (the followed pose or None, whether the followed person just changed)."""
        if not people:
            return None, False
        found = [(_centre_and_size(p), p) for p in people]
        if self._track is None:
            track, pose = max(found, key=lambda item: item[0][2])
            self._track, self._seen_at = track, t
            return pose, False
        last = self._track
        track, pose = min(found, key=lambda item: math.hypot(item[0][0] - last[0],
                                                             item[0][1] - last[1]))  # fmt: skip
        if self._same(track, last):
            self._track, self._seen_at, self._candidate = track, t, None
            return pose, False
        # Someone else: adopt them only once they persist, or once ours is clearly gone.
        if self._candidate is None or not self._same(track, self._candidate):
            self._candidate_since = t
        self._candidate = track
        persisted = t - self._candidate_since >= self.switch_after_s
        if persisted or t - self._seen_at >= self.lost_after_s:
            self._track, self._seen_at, self._candidate = track, t, None
            return pose, True
        return None, False
