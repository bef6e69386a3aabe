"""Ball possession: each frame the ball belongs to the nearest player close enough to play it,
and a team keeps possession between two of its own touches.

Owner: the nearest mapped player or goalkeeper of team 0/1 within `POSSESSION_RADIUS_M` of the
ball. Frames with no mapped ball (none detected, or no homography) or nobody within reach have
no owner. Possession: a stretch of frames without an owner (a pass in flight, the ball hidden by
legs) between two frames owned by the same team, at most `MAX_CARRY_S` apart, is that team's — an
analyst counts a completed pass as possession, and a broadcast ball detector loses the ball
exactly when it is at a player's feet. A stretch that ends with the other team is contested and
counts for nobody, as do frames without a homography. The shares are of the frames counted.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ..match import Match
from ..model.spec import BALL, GOALKEEPER, PLAYER
from .common import TEAMS, mapped

# A player controls a ball about a stride away; dribbling touches reach ~1-2 m ahead, and
# broadcast pitch positions (the box's bottom, smoothed) carry ~0.5 m of error on top. 2.5 m
# keeps the dribbler and rules out the marker a couple of metres behind.
POSSESSION_RADIUS_M = 2.5
# A long pass flies ~2-3 s; a longer gap between two touches of the same team is not one move.
MAX_CARRY_S = 3.0
NONE = -1


@dataclass(frozen=True, eq=False)
class Possession:
    share: tuple[float, float]  # of the frames counted, team 0 and team 1 (NaN: none counted)
    frames_counted: int  # frames in a team's possession
    owner_player: np.ndarray  # (n_frames,) the ball owner's player id (the person), -1: none
    owner_team: np.ndarray  # (n_frames,) the ball owner's team, -1: none
    team: np.ndarray  # (n_frames,) the team in possession, -1: none (not counted)
    radius_m: float = POSSESSION_RADIUS_M
    max_carry_s: float = MAX_CARRY_S


def ball_owners(
    match: Match, radius_m: float = POSSESSION_RADIUS_M
) -> tuple[np.ndarray, np.ndarray]:
    """Per analysed frame, the owner's player id and team (-1 where nobody owns the ball)."""
    n = len(match.frames)
    player, team = np.full(n, NONE, np.int64), np.full(n, NONE, np.int64)
    for i, dets in enumerate(match.detections):
        # Without a homography a frame's pitch positions are NaN, so it drops out here too.
        balls = (dets.class_id == BALL) & np.isfinite(dets.pitch_xy).all(axis=1)
        people = np.flatnonzero(
            mapped(dets, 0, (PLAYER, GOALKEEPER)) | mapped(dets, 1, (PLAYER, GOALKEEPER))
        )
        if not balls.any() or not len(people):
            continue
        ball = dets.pitch_xy[np.flatnonzero(balls)[np.argmax(dets.score[balls])]]
        d = np.linalg.norm(dets.pitch_xy[people] - ball, axis=1)
        k = int(np.argmin(d))
        if d[k] <= radius_m:
            j = people[k]
            # The person, not the track fragment (a track nothing re-identified is its own).
            player[i] = dets.player_id[j] if dets.player_id[j] >= 0 else dets.track_id[j]
            team[i] = dets.team[j]
    return player, team


def possession(
    match: Match, radius_m: float = POSSESSION_RADIUS_M, max_carry_s: float = MAX_CARRY_S
) -> Possession:
    owner_player, owner_team = ball_owners(match, radius_m)
    team = owner_team.copy()
    t = match.times
    mapped_frame = np.array([h is not None for h in match.homographies], bool)
    owned = np.flatnonzero(owner_team >= 0)
    for a, b in itertools.pairwise(owned):
        if b > a + 1 and owner_team[a] == owner_team[b] and t[b] - t[a] <= max_carry_s:
            gap = np.arange(a + 1, b)
            team[gap[mapped_frame[gap]]] = owner_team[a]
    counted = int((team >= 0).sum())
    share = [float((team == k).sum() / counted) if counted else float("nan") for k in TEAMS]
    return Possession(
        (share[0], share[1]), counted, owner_player, owner_team, team, radius_m, max_carry_s
    )
