"""Multi-object tracking in the ByteTrack style.

Each track is a constant-velocity Kalman filter on its foot point and box size. Every frame the
predictions are first carried through the camera motion (so a pan does not look like everyone
running), then matched to detections in stages with the Hungarian algorithm
(`scipy.optimize.linear_sum_assignment`): confident detections to confirmed tracks first, the
confident ones left to tentative tracks next (as ByteTrack's unconfirmed tracks), then the weak
ones (half-hidden players) against the confirmed tracks still unmatched. A confident box that
mostly covers one matched this frame starts no track: the net boxed one player twice. The shirt
colour adds a cost, so two crossing players of different teams do not swap identities, and
the heading adds one, so two crossing team-mates do not either (OC-SORT's observation-centric
momentum: the direction a track's own last observations moved in, against the direction to
each box).

`ByteTracker.update(detections, camera_motion) -> detections`, as supervision's
``update_with_detections``: the rows that belong to a track this frame, with ``track_id``
filled. A track's id is final from its first frame; the tracker confirms it after a few hits
(`confirmed`), and only confirmed tracks reach the outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..calibrate.geometry import apply_h
from ..detections import Detections, box_iou
from ..teams import kit_vote

DUPLICATE_IOU = 0.5  # a confident box overlapping a matched one this much starts no track
MIN_MOVE_PX = 2.0  # a shorter move (over the heading's span, or to a box) has no direction

_F = np.eye(8)
_F[:4, 4:] = np.eye(4)


@dataclass
class Track:
    track_id: int
    mean: np.ndarray  # cx, foot_y, w, h, and their velocities
    cov: np.ndarray
    hits: int = 1
    misses: int = 0
    confirmed: bool = False
    votes: np.ndarray = field(default_factory=lambda: np.zeros(3))  # team0, team1, outlier
    # The foot points of its last observations (not the Kalman estimates), oldest first, in
    # this frame's pixels: carried by the camera motion like the prediction.
    seen: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))

    def __post_init__(self) -> None:
        if not len(self.seen):  # a new track: its first observation is its mean
            self.seen = self.mean[None, :2].copy()

    def xyxy(self) -> np.ndarray:
        cx, fy, w, h = self.mean[:4]
        return np.array([cx - w / 2, fy - h, cx + w / 2, fy])

    def team_guess(self) -> int:
        if self.votes.sum() < 1e-6:
            return -2
        k = int(np.argmax(self.votes))
        return -1 if k == 2 else k


def _measure(xywh: np.ndarray) -> np.ndarray:
    """Kalman measurements (cx, foot y, w, h) of (N, 4) x, y, w, h boxes."""
    x, y, w, h = xywh.T
    return np.stack([x + w / 2, y + h, w, h], axis=1)


def _std(h: Any) -> tuple[np.ndarray, np.ndarray]:
    """Process noise (position, velocity) for a box ``h`` pixels high (a float or an array)."""
    pos = 0.05 * h
    return (
        np.array([pos, pos, 0.1 * h, 0.05 * h]),
        np.array([0.02 * h, 0.02 * h, 0.01 * h, 0.005 * h]),
    )


@dataclass(frozen=True)
class TrackerConfig:
    high: float = 0.5
    new_track: float = 0.6
    match_cost: float = 0.8
    low_match_cost: float = 0.6
    max_misses: int = 40
    confirm_hits: int = 3
    team_penalty: float = 0.5
    # The heading's cost (OC-SORT's inertia weight 0.2) and the observations it spans: 5, not
    # OC-SORT's 3, measured on the six 10-s synthetic clips (same detections): IDF1 mean
    # 0.886 without the term, 0.899 with a span of 3, 0.916 with 4, 5 or 8 (0.906 with 6).
    # On four seeds not used to choose it: static 70, pan 71, pan 72 up (+0.018, +0.011,
    # +0.005), tactical 73 down (−0.029: a few pixels of jitter turn a 20-px player's heading).
    heading_weight: float = 0.2
    heading_span: int = 5


class ByteTracker:
    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.cfg = config or TrackerConfig()
        self.tracks: list[Track] = []
        self.confirmed: dict[int, int] = {}  # track id → order of confirmation (1, 2, …)
        self._next_id = 1

    def reset(self) -> None:
        """A new shot: forget every track (ids keep counting, so none is reused)."""
        self.tracks = []

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
        if motion is not None:  # the observed foot points too, all in one product
            counts = np.cumsum([len(t.seen) for t in self.tracks])[:-1]
            carried = apply_h(motion, np.concatenate([t.seen for t in self.tracks]))
            for t, seen in zip(self.tracks, np.split(carried, counts), strict=True):
                t.seen = seen

    def _cost(self, tracks: list[Track], dets: Detections, expand: float) -> np.ndarray:
        tb = np.array([t.xyxy() for t in tracks]).reshape(-1, 4)
        # Buffered IoU, the kit and the heading. Not the foot points' distance (0.35 +
        # distance / height, for small fast players whose boxes barely overlap): it made swaps
        # in crowds of one team; without it, same detections: IDF1 pan 51 0.877 → 0.919, pan
        # 32 0.884 → 0.888, pan 53 0.874 → 0.875, static 31 / 50 and tactical 33 unchanged,
        # the real clip's ids unchanged (predictions carried by the camera motion overlap).
        cost = 1.0 - box_iou(tb, dets.xyxy, expand)
        if len(tracks) and len(dets):
            # Kit colours as appearance: a track that has worn one kit does not take a
            # detection wearing the other (two crossing opponents keep their ids).
            guess = np.array([t.team_guess() if t.votes.sum() >= 3 else -2 for t in tracks])
            dteam = np.where(dets.team_confidence > 0.2, dets.team, -2)
            clash = (guess[:, None] >= -1) & (dteam[None] >= -1) & (guess[:, None] != dteam[None])
            cost = cost + self.cfg.team_penalty * clash
            cost = cost + self.cfg.heading_weight * heading_cost(tracks, dets)
        return cost

    def _assign(self, cost: np.ndarray, limit: float) -> list[tuple[int, int]]:
        if cost.size == 0:
            return []
        r, c = linear_sum_assignment(cost)
        return [(i, j) for i, j in zip(r, c, strict=True) if cost[i, j] <= limit]

    def _update(self, tracks: list[Track], dets: Detections) -> None:
        """Kalman update of every matched track at once (stacked 4×4 solves, not a loop)."""
        if not tracks:
            return
        means = np.array([t.mean for t in tracks])
        covs = np.array([t.cov for t in tracks])
        z = _measure(dets.xywh)
        q_pos, _ = _std(means[:, 3])  # (4, N)
        s = covs[:, :4, :4].copy()  # H P Hᵀ: the measured block (H = [I 0])
        s[:, np.arange(4), np.arange(4)] += (q_pos * (1.5 - dets.score)).T ** 2
        # K = P Hᵀ S⁻¹, written as a solve: S is symmetric, so K = (S⁻¹ H P)ᵀ.
        gain = np.linalg.solve(s, covs[:, :4, :]).transpose(0, 2, 1)
        means = means + np.einsum("nij,nj->ni", gain, z - means[:, :4])
        covs = covs - gain @ covs[:, :4, :]
        for i, (t, mean, cov) in enumerate(zip(tracks, means, covs, strict=True)):
            t.mean, t.cov = mean, cov
            t.hits += 1
            t.misses = 0
            if t.hits >= self.cfg.confirm_hits and not t.confirmed:
                t.confirmed = True
                self.confirmed[t.track_id] = len(self.confirmed) + 1
            _vote(t, dets[i : i + 1])
            t.seen = np.vstack([t.seen, z[i, :2]])[-(self.cfg.heading_span + 1) :]

    def update(self, dets: Detections, motion: np.ndarray | None = None) -> Detections:
        """Advance one frame: the rows of ``dets`` (people, with kit columns) that belong to a
        track, with ``track_id`` filled; ``motion`` maps last frame's pixels to this frame's.

        Tentative tracks' rows are included: a caller that keeps history has a track's first
        frames once it is confirmed.
        """
        self._predict(motion)
        high_idx = np.nonzero(dets.score >= self.cfg.high)[0]
        low_idx = np.nonzero(dets.score < self.cfg.high)[0]
        high, low = dets[high_idx], dets[low_idx]
        # Stage 1: every confirmed track against the confident detections (buffered IoU).
        # Tentative tracks wait for stage 2: a duplicate box the net gave for one player
        # starts one, and in the next frame it must not take that player from his track.
        pool = [t for t in self.tracks if t.confirmed]
        m1 = self._assign(self._cost(pool, high, 0.3), self.cfg.match_cost)
        matched_d = {j for _, j in m1}
        # Stage 2: tentative tracks against the confident detections left.
        tentative = [t for t in self.tracks if not t.confirmed]
        left = [j for j in range(len(high)) if j not in matched_d]
        m2 = self._assign(self._cost(tentative, high[left], 0.3), self.cfg.match_cost)
        m2 = [(i, left[j]) for i, j in m2]
        matched_d |= {j for _, j in m2}
        strong = [pool[i] for i, _ in m1] + [tentative[i] for i, _ in m2]
        strong_rows = high_idx[[j for _, j in m1] + [j for _, j in m2]].astype(int)
        self._update(strong, dets[strong_rows])
        # Stage 3: confirmed tracks seen last frame, still unmatched, against the weak
        # detections (a tentative track needs confident ones: on the real clip, weak boxes
        # confirmed 5 more short tracks in 630 frames).
        taken = {id(t) for t in strong}
        rest = [t for t in pool if id(t) not in taken and t.misses == 0]
        m3 = self._assign(self._cost(rest, low, 0.0), self.cfg.low_match_cost)
        weak_rows = low_idx[[j for _, j in m3]].astype(int)
        weak = [rest[i] for i, _ in m3]
        self._update(weak, dets[weak_rows])
        hit = strong + weak
        hit_ids = {id(t) for t in hit}
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
        new_rows = []
        # A box that mostly covers one already matched this frame is the net seeing one
        # player twice (or half of him again), not a new player.
        taken = dets.xyxy[np.r_[strong_rows, weak_rows].astype(int)]
        overlap = box_iou(dets.xyxy[high_idx], taken, 0.0) if len(taken) else None
        for j, row in enumerate(high_idx):
            if j in matched_d or dets.score[row] < self.cfg.new_track:
                continue
            if overlap is not None and overlap[j].max() > DUPLICATE_IOU:
                continue
            mean = np.r_[_measure(dets.xywh[row : row + 1])[0], np.zeros(4)]
            q_pos, q_vel = _std(mean[3])
            cov = np.diag(np.r_[2 * q_pos, 10 * q_vel] ** 2)
            t = Track(self._next_id, mean, cov)
            self._next_id += 1
            _vote(t, dets[row : row + 1])
            self.tracks.append(t)
            hit.append(t)
            new_rows.append(row)
        rows = np.r_[strong_rows, weak_rows, np.array(new_rows, int)].astype(int)
        return dets[rows].with_(track_id=np.array([t.track_id for t in hit], np.int64))


def heading_cost(tracks: list[Track], dets: Detections) -> np.ndarray:
    """(tracks, detections): the angle between each track's heading (its first to its last
    kept observation) and the way from its last observation to each box's foot point, as a
    share of 180°, times the box's score (OC-SORT); 0 where either move is too short to have
    a direction.

    Two team-mates who cross look alike and their boxes overlap, so IoU and the kit cannot
    tell them apart; their headings can. The Kalman velocity cannot: the frames where one
    hides the other pull both filters onto the same box.
    """
    feet = dets.foot_points()  # the point `_measure` observes: the box's bottom centre
    last = np.array([t.seen[-1] for t in tracks])
    heading = last - np.array([t.seen[0] for t in tracks])
    way = feet[None] - last[:, None]  # (tracks, dets, 2)
    h_len = np.linalg.norm(heading, axis=1)[:, None]
    w_len = np.linalg.norm(way, axis=2)
    cos = np.einsum("tk,tdk->td", heading, way) / np.maximum(h_len * w_len, 1e-9)
    angle = np.arccos(np.clip(cos, -1.0, 1.0)) / np.pi
    moved = (h_len >= MIN_MOVE_PX) & (w_len >= MIN_MOVE_PX)
    return np.where(moved, angle, 0.0) * dets.score[None]


def _vote(t: Track, row: Detections) -> None:
    """Add one observation's kit to the track's memory (the appearance its cost compares)."""
    slot, weight = kit_vote(float(row.score[0]), int(row.team[0]), float(row.team_confidence[0]))
    t.votes[slot] += weight
