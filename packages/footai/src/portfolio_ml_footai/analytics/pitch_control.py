"""Pitch control: the share of the pitch each team would reach first, frame by frame.

Two models on the same grid of 1 m cells over the 105 × 68 m pitch:

- ``voronoi``: each cell belongs to the nearest player (the discrete Voronoi split);
- ``tti`` (the default): Spearman's (2018) time to intercept, with every player given the same
  reaction time and top speed: a player keeps running with his current velocity for the reaction
  time, then runs straight to the cell at top speed. With shared constants a team's earliest
  arrival is by its player nearest to the cell from those projected positions, so it costs what
  the Voronoi split costs (~2 ms a frame on one core). The arrival times' uncertainty (a logistic
  of scale σ, Spearman's 0.45 s) makes control a probability:
  1 / (1 + exp(-π / (√3 σ) · (T_other - T_own))).

What this leaves out of Spearman's full model — the ball's flight time to each cell and the
integration over every player of a team reaching it — costs a time loop over every cell and
player (measured: 175 ms a frame in NumPy on one core, ~100× this one: 6 h for a 90-minute match
at 25 fps instead of 4 min) and needs the ball in every frame; the simplified one keeps what the
picture shows: the space a team reaches first, momentum included. Players out of the camera's
view are missing from both: the cells they would own go to whoever is mapped, so the figure is
of the players seen.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from scipy.spatial.distance import cdist
from scipy.special import expit

from .. import pitch
from ..match import Match
from ..model.spec import GOALKEEPER, PLAYER
from .common import TEAMS, gap_limit, mapped, velocities

Model = Literal["tti", "voronoi"]
DEFAULT_MODEL: Model = "tti"
CELL_M = 1.0  # 0.25 m cells moved shares by < 0.2 point (Voronoi; TTI < 0.01) at 16× the cost
# A frame counts when both teams show at least this many mapped players (keeper included): with
# fewer, the few seen "control" the half of the pitch the camera does not show.
MIN_PLAYERS = 6
# Spearman (2018), "Beyond expected goals": reaction time, top running speed, and the spread of
# arrival times.
REACTION_S = 0.7
MAX_RUN_MS = 5.0
TTI_SIGMA_S = 0.45


@dataclass(frozen=True, eq=False)
class ControlGrid:
    """One frame's control: ``team0[j, i]`` is team 0's control of the cell centred at
    (``x[i]``, ``y[j]``) (0 or 1 for Voronoi, a probability for TTI); team 1 has the rest."""

    x: np.ndarray  # (nx,) cell centres along the length, metres
    y: np.ndarray  # (ny,) cell centres across, metres
    team0: np.ndarray  # (ny, nx) in [0, 1]
    model: str

    @property
    def share(self) -> tuple[float, float]:
        s = float(self.team0.mean())
        return s, 1.0 - s


@dataclass(frozen=True, eq=False)
class PitchControl:
    share: np.ndarray  # (n_frames, 2) share of the pitch of team 0 and 1; NaN: frame not counted
    mean: tuple[float, float]  # over the frames counted (NaN when none)
    frames_counted: int
    model: str
    min_players: int


@lru_cache(maxsize=4)
def cell_centres(cell_m: float = CELL_M) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the grid's cells along the length (x) and across (y), metres."""
    nx, ny = round(pitch.LENGTH / cell_m), round(pitch.WIDTH / cell_m)
    x = -pitch.HALF_L + cell_m * (np.arange(nx) + 0.5)
    y = -pitch.HALF_W + cell_m * (np.arange(ny) + 0.5)
    x.flags.writeable = y.flags.writeable = False
    return x, y


@lru_cache(maxsize=4)
def _cells(cell_m: float) -> np.ndarray:
    x, y = cell_centres(cell_m)
    gx, gy = np.meshgrid(x, y)
    cells = np.c_[gx.ravel(), gy.ravel()]
    cells.flags.writeable = False
    return cells


def control_grid(
    xy: tuple[np.ndarray, np.ndarray],
    velocity: tuple[np.ndarray, np.ndarray] | None = None,
    model: Model = DEFAULT_MODEL,
    cell_m: float = CELL_M,
) -> ControlGrid:
    """Control of every cell from each team's (n, 2) positions (and velocities, m/s, for TTI;
    none: standing still). A team with nobody controls nothing; with nobody at all, NaN."""
    if model not in ("tti", "voronoi"):
        raise ValueError(f"unknown pitch control model {model!r}")
    cells = _cells(cell_m)
    nearest = []
    for team in TEAMS:
        p = np.asarray(xy[team], np.float64).reshape(-1, 2)
        if model == "tti" and velocity is not None:
            p = p + REACTION_S * np.asarray(velocity[team], np.float64).reshape(-1, 2)
        # All cell-player distances at once: ~0.7 ms for 11 players, half a k-d tree's query.
        nearest.append(
            np.sqrt(cdist(cells, p, "sqeuclidean").min(axis=1))
            if len(p)
            else np.full(len(cells), np.inf)
        )
    d0, d1 = nearest
    if model == "voronoi":
        own = np.where(d0 < d1, 1.0, np.where(d0 > d1, 0.0, 0.5))  # a tie is shared
    else:
        # Same reaction time and speed for everyone: the times differ by the distances / speed.
        with np.errstate(invalid="ignore"):
            own = expit(np.pi / (np.sqrt(3.0) * TTI_SIGMA_S) * (d1 - d0) / MAX_RUN_MS)
    own = np.where(np.isinf(d0) & np.isinf(d1), np.nan, own)
    x, y = cell_centres(cell_m)
    return ControlGrid(x, y, own.reshape(len(y), len(x)), model)


def _frame_velocities(match: Match, only: int | None = None) -> list[np.ndarray]:
    """Each frame's (n, 2) velocity per detection row (zero where unknown); with ``only``, just
    that frame's, from the tracks in it (a picture needs no other track's speeds)."""
    rows = match.rows()
    xy = rows.detections.pitch_xy
    t = rows.frame / match.video_fps
    v = np.zeros_like(xy)
    tracks = rows.tracks()
    if only is not None:
        tracks = {k: tracks[k] for k in match.detections[only].track_id.tolist() if k in tracks}
    for idx in tracks.values():
        idx = idx[np.isfinite(xy[idx]).all(axis=1)]
        v[idx] = velocities(t[idx], xy[idx], max_gap_s=gap_limit(match))
    bounds = np.cumsum([0, *(len(d) for d in match.detections)])
    frames = [v[a:b] for a, b in itertools.pairwise(bounds)]
    return frames if only is None else [frames[only]]


def _team_inputs(
    match: Match, index: int, vel: np.ndarray, min_players: int
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | None:
    dets = match.detections[index]
    masks = [mapped(dets, team, (PLAYER, GOALKEEPER)) for team in TEAMS]
    if min(int(m.sum()) for m in masks) < min_players:
        return None
    return (dets.pitch_xy[masks[0]], dets.pitch_xy[masks[1]]), (vel[masks[0]], vel[masks[1]])


def pitch_control(
    match: Match, model: Model = DEFAULT_MODEL, min_players: int = MIN_PLAYERS
) -> PitchControl:
    n = len(match.frames)
    share = np.full((n, 2), np.nan)
    vel = (
        _frame_velocities(match)
        if model == "tti"
        else [np.zeros((len(d), 2)) for d in match.detections]
    )
    for i in range(n):
        inputs = _team_inputs(match, i, vel[i], min_players)
        if inputs is not None:
            share[i] = control_grid(inputs[0], inputs[1], model).share
    counted = np.isfinite(share[:, 0])
    mean = share[counted].mean(axis=0) if counted.any() else np.full(2, np.nan)
    return PitchControl(
        share, (float(mean[0]), float(mean[1])), int(counted.sum()), model, min_players
    )


def frame_control(
    match: Match, index: int, model: Model = DEFAULT_MODEL, min_players: int = 0
) -> ControlGrid | None:
    """The control grid of analysed frame ``index`` (for a picture), or None when a team has
    fewer than ``min_players`` mapped players or nobody is mapped."""
    vel = (
        _frame_velocities(match, only=index)[0]
        if model == "tti"
        else np.zeros((len(match.detections[index]), 2))
    )
    inputs = _team_inputs(match, index, vel, min_players)
    if inputs is None or not (len(inputs[0][0]) or len(inputs[0][1])):
        return None
    return control_grid(inputs[0], inputs[1], model)
