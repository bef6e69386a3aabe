"""What every match figure needs from a `Match`: who is mapped where in a frame, each analysed
frame's time, and which way each team attacks."""

from __future__ import annotations

import itertools

import numpy as np

from ..detections import Detections
from ..match import Match
from ..model.spec import GOALKEEPER, PLAYER

TEAMS = (0, 1)
# Fewer keeper positions than this and the keeper's side is not trusted (one mislabelled
# outfield player near the halfway line would decide it).
MIN_KEEPER_ROWS = 5


def mapped(dets: Detections, team: int, roles: tuple[int, ...]) -> np.ndarray:
    """Mask of the rows of ``team`` with one of ``roles``, a track and a pitch position."""
    return (
        np.isin(dets.class_id, roles)
        & (dets.team == team)
        & (dets.track_id >= 0)
        & np.isfinite(dets.pitch_xy).all(axis=1)
    )


def attack_directions(match: Match) -> tuple[int, int]:
    """+1 when a team attacks towards +x, -1 towards -x, 0 when nothing says (per clip: a clip
    over half time would need splitting).

    Its goalkeeper stands in front of its own goal, which is the most direct sign; without a
    keeper in view, the team whose outfield players stand further towards -x defends the -x goal
    (teams keep their shape either side of the ball, so the comparison holds wherever the ball
    is, where the sign of one team's own mean x would flip when it pushes over halfway)."""
    rows = match.rows().detections
    xy = rows.pitch_xy
    seen = np.isfinite(xy).all(axis=1) & (rows.track_id >= 0)
    out: list[int] = []
    mean_x: list[float] = []
    for team in TEAMS:
        outfield = seen & (rows.team == team) & (rows.class_id == PLAYER)
        mean_x.append(float(xy[outfield, 0].mean()) if outfield.any() else float("nan"))
    for team in TEAMS:
        keeper = seen & (rows.team == team) & (rows.class_id == GOALKEEPER)
        if keeper.sum() >= MIN_KEEPER_ROWS and abs(float(np.median(xy[keeper, 0]))) > 1.0:
            out.append(-int(np.sign(np.median(xy[keeper, 0]))))
            continue
        own, other = mean_x[team], mean_x[1 - team]
        if np.isfinite(own) and np.isfinite(other) and own != other:
            out.append(1 if own < other else -1)
        elif np.isfinite(own) and own != 0:
            out.append(-int(np.sign(own)))
        else:
            out.append(0)
    return out[0], out[1]


# Speeds are centred differences over this window: shorter ones are dominated by the residual
# jitter of broadcast positions (box bottoms move with running legs), longer ones flatten a sprint.
SPEED_WINDOW_S = 1.0
# Samples further apart than this are separate stretches of a track (no speed across the gap);
# with a large --stride, two analysed frames apart (`gap_limit`).
MAX_GAP_S = 0.5


def gap_limit(match: Match) -> float:
    return max(MAX_GAP_S, 2.0 / match.fps) if match.fps > 0 else MAX_GAP_S


def segments(t: np.ndarray, max_gap_s: float = MAX_GAP_S) -> list[slice]:
    """Contiguous stretches of sorted sample times ``t``."""
    cuts = np.flatnonzero(np.diff(t) > max_gap_s) + 1
    bounds = [0, *cuts.tolist(), len(t)]
    return [slice(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def velocities(
    t: np.ndarray,
    xy: np.ndarray,
    window_s: float = SPEED_WINDOW_S,
    max_gap_s: float = MAX_GAP_S,
) -> np.ndarray:
    """(n, 2) m/s at each sample of one track (sorted times, finite positions): the displacement
    over a centred ``window_s`` (one-sided where a stretch starts or ends) over its duration."""
    out = np.zeros_like(xy, dtype=np.float64)
    half = window_s / 2
    for s in segments(t, max_gap_s):
        ts, ps = t[s], xy[s]
        if len(ts) < 2:
            continue
        lo, hi = np.maximum(ts - half, ts[0]), np.minimum(ts + half, ts[-1])
        dt = hi - lo
        a = np.stack([np.interp(lo, ts, ps[:, k]) for k in range(2)], axis=1)
        b = np.stack([np.interp(hi, ts, ps[:, k]) for k in range(2)], axis=1)
        ok = dt > 0
        stretch = out[s]  # a view: filling it fills ``out``
        stretch[ok] = (b[ok] - a[ok]) / dt[ok, None]
    return out
