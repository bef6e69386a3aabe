"""The ball: a small bright blob on the field, kept only when it moves consistently.

Candidates are compact bright, unsaturated blobs of about the expected ball size (from the
homography when there is one). A light tracker with a constant-velocity prediction picks the
candidate closest to where the ball should be; a new ball needs several consistent frames first,
which removes most single-frame false alarms (boot highlights, line crossings).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class BallObservation:
    centre: tuple[float, float]
    radius: float
    score: float


def ball_candidates(
    gray: np.ndarray,
    sat: np.ndarray,
    field: np.ndarray,
    grass: np.ndarray,
    field_scale: float,
    expected_radius: float | None,
    players: np.ndarray,
) -> list[tuple[float, float, float, float]]:
    """(u, v, radius, free) of bright compact blobs at full resolution; ``players`` are (N, 4) boxes.

    ``sat`` is the saturation at the field's (working) resolution. Only the rows the field
    covers are searched: the crowd is full of bright specks and costs time for nothing.
    """
    rows = np.nonzero(field.any(axis=1))[0]
    if len(rows) == 0:
        return []
    y0 = int(rows[0] / field_scale)
    y1 = min(gray.shape[0], int((rows[-1] + 1) / field_scale))
    bright = cv2.threshold(gray[y0:y1], 170, 255, cv2.THRESH_BINARY)[1]
    keep = cv2.bitwise_and(field, np.where(sat <= 90, 255, 0).astype(np.uint8))
    keep = cv2.resize(keep, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_NEAREST)[y0:y1]
    bright = cv2.bitwise_and(bright, keep)
    n, _, stats, cents = cv2.connectedComponentsWithStats(bright, connectivity=8)
    if n <= 1:
        return []
    cents = cents + np.array([0.0, float(y0)])
    st = stats[1:]
    r_max = 3.5 * expected_radius if expected_radius else 12.0
    w, h, area = st[:, 2], st[:, 3], st[:, 4]
    ok = (
        (area >= 2)
        & (w <= 2 * r_max + 1)
        & (h <= 2 * r_max + 1)
        & (np.maximum(w, h) <= 2.5 * np.minimum(w, h) + 1)
    )
    ok &= area >= 0.4 * w * h
    out = []
    fh, fw = field.shape
    for i in np.nonzero(ok)[0]:
        u, v = cents[i + 1]
        fx, fy = min(int(u * field_scale), fw - 1), min(int(v * field_scale), fh - 1)
        if field[fy, fx] == 0:
            continue
        # A ball lies on grass: most of a ring around it must be grass (not boards, crowd, text).
        rr = max(2, int((max(w[i], h[i]) * 1.5 + 2) * field_scale))
        ring = grass[max(0, fy - rr) : fy + rr + 1, max(0, fx - rr) : fx + rr + 1]
        if ring.size == 0 or np.count_nonzero(ring) < 0.5 * ring.size:
            continue
        if len(players):
            x, y, bw, bh = players.T
            body = (u > x) & (u < x + bw) & (v > y) & (v < y + 0.75 * bh)
            if body.any():
                continue
            # At a player's feet it may be the ball or a white sock: usable to follow a ball
            # already tracked, never to start one.
            feet = (u > x - 1) & (u < x + bw + 1) & (v >= y + 0.75 * bh) & (v < y + bh + 1)
            out.append((float(u), float(v), float(max(w[i], h[i]) / 2), 0.0 if feet.any() else 1.0))
            continue
        out.append((float(u), float(v), float(max(w[i], h[i]) / 2), 1.0))
    return out


class BallTracker:
    def __init__(self, confirm: int = 3, max_gap: int = 10) -> None:
        self.confirm, self.max_gap = confirm, max_gap
        self.pos: np.ndarray | None = None
        self.vel = np.zeros(2)
        self.streak = 0
        self.gap = 0
        self.pending: list[np.ndarray] = []

    def update(
        self, cands: list[tuple[float, float, float, float]], motion: np.ndarray | None, gate: float
    ) -> BallObservation | None:
        pts = np.array([c[:2] for c in cands]).reshape(-1, 2)
        free = np.array([c[3] > 0 for c in cands], bool)
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
                        c = cands[k]
                        return BallObservation((c[0], c[1]), c[2], min(1.0, self.streak / 10))
                    return None
            self.gap += 1
            self.pos = pred
            self.vel *= 0.9
            if self.gap > self.max_gap or self.streak < self.confirm:
                self.pos, self.streak = None, 0
            return None
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
        return None
