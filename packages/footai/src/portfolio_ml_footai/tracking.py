"""Multi-object tracking in the ByteTrack style.

Each track is a constant-velocity Kalman filter on its foot point and box size. Every frame the
predictions are first carried through the camera motion (so a pan does not look like everyone
running), then matched to detections in two stages with the Hungarian algorithm
(`scipy.optimize.linear_sum_assignment`): confident detections first, then the weak ones (half-hidden
players) against the tracks still unmatched. The shirt colour adds a cost, so two crossing players
of different teams do not swap identities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from .calibration import apply_h

_F = np.eye(8)
_F[:4, 4:] = np.eye(4)
_H = np.eye(4, 8)


@dataclass(frozen=True)
class Detection:
    box: np.ndarray  # x, y, w, h
    score: float
    team: int  # 0, 1, or -1 (outlier colour)
    team_conf: float
    colour: np.ndarray | None = None  # Lab shirt colour, kept for the after-run team vote


@dataclass
class Track:
    key: int  # internal; track_id is given only once the track is confirmed
    mean: np.ndarray  # cx, foot_y, w, h, and their velocities
    cov: np.ndarray
    hits: int = 1
    misses: int = 0
    confirmed: bool = False
    votes: np.ndarray = field(default_factory=lambda: np.zeros(3))  # team0, team1, outlier
    last_box: np.ndarray = field(default_factory=lambda: np.zeros(4))
    track_id: int = 0

    def box(self) -> np.ndarray:
        cx, fy, w, h = self.mean[:4]
        return np.array([cx - w / 2, fy - h, w, h])

    def team_guess(self) -> int:
        if self.votes.sum() < 1e-6:
            return -2
        k = int(np.argmax(self.votes))
        return -1 if k == 2 else k


def _measure(box: np.ndarray) -> np.ndarray:
    x, y, w, h = box
    return np.array([x + w / 2, y + h, w, h])


def _std(h: Any) -> tuple[np.ndarray, np.ndarray]:
    """Process noise (position, velocity) for a box ``h`` pixels high (a float or an array)."""
    pos = 0.05 * h
    return (
        np.array([pos, pos, 0.1 * h, 0.05 * h]),
        np.array([0.02 * h, 0.02 * h, 0.01 * h, 0.005 * h]),
    )


def iou_matrix(a: np.ndarray, b: np.ndarray, expand: float = 0.0) -> np.ndarray:
    """IoU between (N, 4) and (M, 4) x,y,w,h boxes; ``expand`` grows both (buffered IoU)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))

    def corners(x: np.ndarray) -> np.ndarray:
        dx, dy = x[:, 2] * expand, x[:, 3] * expand
        return np.stack(
            [x[:, 0] - dx, x[:, 1] - dy, x[:, 0] + x[:, 2] + dx, x[:, 1] + x[:, 3] + dy], 1
        )

    ca, cb = corners(a), corners(b)
    ix = np.clip(
        np.minimum(ca[:, None, 2], cb[None, :, 2]) - np.maximum(ca[:, None, 0], cb[None, :, 0]),
        0,
        None,
    )
    iy = np.clip(
        np.minimum(ca[:, None, 3], cb[None, :, 3]) - np.maximum(ca[:, None, 1], cb[None, :, 1]),
        0,
        None,
    )
    inter = ix * iy
    area_a = (ca[:, 2] - ca[:, 0]) * (ca[:, 3] - ca[:, 1])
    area_b = (cb[:, 2] - cb[:, 0]) * (cb[:, 3] - cb[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None] - inter, 1e-9)


@dataclass(frozen=True)
class TrackerConfig:
    high: float = 0.5
    new_track: float = 0.6
    match_cost: float = 0.8
    low_match_cost: float = 0.6
    max_misses: int = 40
    confirm_hits: int = 3
    team_penalty: float = 0.5


class ByteTracker:
    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.cfg = config or TrackerConfig()
        self.tracks: list[Track] = []
        self._next_id = 1
        self._next_key = 1

    def _predict(self, motion: np.ndarray | None) -> None:
        """Kalman predict for every track at once (one stacked product, not a loop of 8×8s)."""
        if not self.tracks:
            return
        means = np.array([t.mean for t in self.tracks])
        covs = np.array([t.cov for t in self.tracks])
        heights = means[:, 3]
        noise = np.concatenate(_std(heights)).T ** 2  # (N, 8) process variances
        means = means @ _F.T
        means[:, 3] = np.maximum(means[:, 3], 2)
        covs = _F @ covs @ _F.T
        covs[:, np.arange(8), np.arange(8)] += noise
        if motion is not None:
            cx, fy, w, h = means[:, 0], means[:, 1], means[:, 2], means[:, 3]
            corners = np.stack([np.c_[cx, fy], np.c_[cx, fy - h], np.c_[cx + w, fy]], axis=1)
            pts = apply_h(motion, corners.reshape(-1, 2)).reshape(-1, 3, 2)
            means[:, 0:2] = pts[:, 0]
            means[:, 3] = np.maximum(2.0, np.linalg.norm(pts[:, 1] - pts[:, 0], axis=1))
            means[:, 2] = np.maximum(1.0, np.linalg.norm(pts[:, 2] - pts[:, 0], axis=1))
        for t, mean, cov in zip(self.tracks, means, covs, strict=True):
            t.mean, t.cov = mean, cov

    def _cost(self, tracks: list[Track], dets: list[Detection], expand: float) -> np.ndarray:
        tb = np.array([t.box() for t in tracks]).reshape(-1, 4)
        db = np.array([d.box for d in dets]).reshape(-1, 4)
        cost = 1.0 - iou_matrix(tb, db, expand)
        # Normalised foot distance helps small, fast players whose boxes barely overlap.
        if len(tracks) and len(dets):
            tf = np.array([t.mean[:2] for t in tracks])
            df = np.array([[d.box[0] + d.box[2] / 2, d.box[1] + d.box[3]] for d in dets])
            hh = np.array([t.mean[3] for t in tracks])[:, None]
            dist = np.linalg.norm(tf[:, None] - df[None], axis=2) / np.maximum(hh, 1.0)
            cost = np.minimum(cost, 0.35 + dist)
            guess = np.array([t.team_guess() if t.votes.sum() >= 3 else -2 for t in tracks])
            dteam = np.array([d.team if d.team_conf > 0.2 else -2 for d in dets])
            clash = (guess[:, None] >= -1) & (dteam[None] >= -1) & (guess[:, None] != dteam[None])
            cost = cost + self.cfg.team_penalty * clash
        return cost

    def _assign(self, cost: np.ndarray, limit: float) -> list[tuple[int, int]]:
        if cost.size == 0:
            return []
        r, c = linear_sum_assignment(cost)
        return [(i, j) for i, j in zip(r, c, strict=True) if cost[i, j] <= limit]

    def _update(self, matched: list[tuple[Track, Detection]]) -> None:
        """Kalman update of every matched track at once (stacked 4×4 solves, not a loop)."""
        if not matched:
            return
        means = np.array([t.mean for t, _ in matched])
        covs = np.array([t.cov for t, _ in matched])
        z = np.array([_measure(d.box) for _, d in matched])
        scores = np.array([d.score for _, d in matched])
        q_pos, _ = _std(means[:, 3])  # (4, N)
        s = covs[:, :4, :4].copy()  # H P Hᵀ: the measured block (H = [I 0])
        s[:, np.arange(4), np.arange(4)] += (q_pos * (1.5 - scores)).T ** 2
        # K = P Hᵀ S⁻¹, written as a solve: S is symmetric, so K = (S⁻¹ H P)ᵀ.
        gain = np.linalg.solve(s, covs[:, :4, :]).transpose(0, 2, 1)
        means = means + np.einsum("nij,nj->ni", gain, z - means[:, :4])
        covs = covs - gain @ covs[:, :4, :]
        for (t, d), mean, cov in zip(matched, means, covs, strict=True):
            t.mean, t.cov = mean, cov
            self._count_hit(t, d)

    def _count_hit(self, t: Track, d: Detection) -> None:
        t.hits += 1
        t.misses = 0
        t.last_box = d.box.copy()
        if t.hits >= self.cfg.confirm_hits and not t.confirmed:
            t.confirmed = True
            t.track_id = self._next_id
            self._next_id += 1
        self._vote(t, d)

    @staticmethod
    def _vote(t: Track, d: Detection) -> None:
        # Weak detections are often two players merged or half hidden: their colour is unreliable.
        if d.score < 0.5:
            return
        slot = 2 if d.team < 0 else d.team
        t.votes[slot] += d.score * (0.3 + d.team_conf)

    def update(
        self, dets: list[Detection], motion: np.ndarray | None = None
    ) -> list[tuple[Track, Detection]]:
        """Advance one frame; returns the (track, detection) pairs of this frame.

        Tentative tracks are included (their ``track_id`` is 0): a caller that keeps history can
        back-fill a track's first frames once it is confirmed.
        """
        self._predict(motion)
        high = [d for d in dets if d.score >= self.cfg.high]
        low = [d for d in dets if d.score < self.cfg.high]
        # Stage 1: every track against the confident detections (buffered IoU).
        pool = list(self.tracks)
        cost = self._cost(pool, high, 0.3)
        m1 = self._assign(cost, self.cfg.match_cost)
        matched_t = {i for i, _ in m1}
        matched_d = {j for _, j in m1}
        strong = [(pool[i], high[j]) for i, j in m1]
        self._update(strong)
        # Stage 2: tracks seen last frame, still unmatched, against the weak detections.
        rest = [pool[i] for i in range(len(pool)) if i not in matched_t and pool[i].misses == 0]
        cost2 = self._cost(rest, low, 0.0)
        m2 = self._assign(cost2, self.cfg.low_match_cost)
        weak = [(rest[i], low[j]) for i, j in m2]
        self._update(weak)
        pairs = strong + weak
        hit_ids = {id(p[0]) for p in pairs}
        for t in self.tracks:
            if id(t) not in hit_ids:
                t.misses += 1
        # Unconfirmed tracks that miss once are noise; confirmed ones live through occlusions.
        self.tracks = [
            t
            for t in self.tracks
            if (t.confirmed and t.misses <= self.cfg.max_misses)
            or (not t.confirmed and t.misses == 0)
        ]
        for j, d in enumerate(high):
            if j in matched_d or d.score < self.cfg.new_track:
                continue
            mean = np.r_[_measure(d.box), np.zeros(4)]
            q_pos, q_vel = _std(mean[3])
            cov = np.diag(np.r_[2 * q_pos, 10 * q_vel] ** 2)
            t = Track(self._next_key, mean, cov, last_box=d.box.copy())
            self._vote(t, d)
            self._next_key += 1
            self.tracks.append(t)
            pairs.append((t, d))
        return pairs
