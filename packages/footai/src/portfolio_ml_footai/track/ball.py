"""The ball: one ball in play, followed over frames from the detector's ball candidates.

A light tracker with a constant-velocity prediction (carried by the camera motion) picks the
candidate closest to where the ball should be; a new ball needs consistent frames first, which
removes most single-frame false alarms (boot highlights, line crossings).
"""

from __future__ import annotations

import numpy as np

from ..detections import Detections
from ..model.spec import BALL

BALL_GATE_PX = 40.0  # how far the ball may move between frames at 1280×720 (scaled)


class BallTracker:
    def __init__(self, frame_width: int, confirm: int = 2, max_gap: int = 12) -> None:
        self.gate = BALL_GATE_PX * frame_width / 1280
        self.confirm, self.max_gap = confirm, max_gap
        self.pos: np.ndarray | None = None
        self.vel = np.zeros(2)
        self.streak = 0
        self.gap = 0
        self.pending: list[np.ndarray] = []

    def update(self, balls: Detections, motion: np.ndarray | None) -> Detections:
        """This frame's ball (one row, or none) from the candidates ``balls``; ``motion`` maps
        last frame's pixels to this frame's. Its score is how long it has been followed."""
        gate = self.gate
        pts = balls.centres
        free = balls.score > 0  # every candidate of the net may start a ball
        if self.pos is not None and motion is not None:
            p = motion @ np.r_[self.pos, 1.0]
            self.pos = p[:2] / p[2]
        if self.pos is not None:
            pred = self.pos + self.vel
            radius = gate * (1 + 0.5 * self.gap)
            if len(pts):
                d = np.linalg.norm(pts - pred, axis=1)
                k = int(np.argmin(d))
                if d[k] < radius:
                    new = pts[k]
                    self.vel = (
                        0.6 * self.vel + 0.4 * (new - self.pos) if self.streak else new - self.pos
                    )
                    self.pos = new
                    self.streak += 1
                    self.gap = 0
                    if self.streak >= self.confirm:
                        return _ball_row(balls, k, min(1.0, self.streak / 10))
                    return Detections.empty()
            self.gap += 1
            self.pos = pred
            self.vel *= 0.9
            if self.gap > self.max_gap or self.streak < self.confirm:
                self.pos, self.streak = None, 0
            return Detections.empty()
        # No ball yet: start from the candidate that continues one from the previous frame.
        best = None
        for prev in self.pending:
            if free.any():
                d = np.where(free, np.linalg.norm(pts - prev, axis=1), np.inf)
                k = int(np.argmin(d))
                if d[k] < gate and (best is None or d[k] < best[0]):
                    best = (d[k], k, prev)
        self.pending = list(pts[free][:30])
        if best is not None:
            _, k, prev = best
            self.pos, self.vel, self.streak, self.gap = pts[k].copy(), pts[k] - prev, 2, 0
        return Detections.empty()


def _ball_row(balls: Detections, k: int, score: float) -> Detections:
    """Candidate ``k`` as the ball: a square box of its radius (at least 2 px) around its centre."""
    (cx, cy), (x0, _, x1, _) = balls.centres[k], balls.xyxy[k]
    r = max(2.0, (x1 - x0) / 2)
    return Detections(
        np.array([[cx - r, cy - r, cx + r, cy + r]]), np.array([BALL]), np.array([score])
    )
