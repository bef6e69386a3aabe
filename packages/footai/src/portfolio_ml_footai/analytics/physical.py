"""Physical figures per player: time seen, distance, top speed, sprints, time in speed zones.

Per person (``player_id``: all the tracks the re-identification joined into one player), from
the smoothed pitch positions of each person with the role player or goalkeeper; only a player
seen for at least `MIN_SECONDS` gets figures, and each says how long he was seen. Speeds are
centred differences over `common.SPEED_WINDOW_S` (1 s) within each unbroken stretch of a track;
a speed above `kinematics.MAX_SPEED` is a measurement error (an identity swap, a homography jump),
and so is every speed whose window reaches such a sample: they count towards nothing but the
time seen. Distance is the speed integrated over
time (trapezoids), so it agrees with the speeds and does not add up position jitter the way a
sum of frame-to-frame steps would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kinematics import MAX_SPEED
from ..match import Match
from ..model.spec import CLASSES, GOALKEEPER, PLAYER
from .common import MAX_GAP_S, SPEED_WINDOW_S, gap_limit, segments, velocities

# Below this much mapped time a player is a fragment (someone crossing the frame edge, a track
# nothing joined): his top speed and zones would be a few steps, not a player's figures.
MIN_SECONDS = 5.0
KMH = 3.6  # km/h per m/s
SPRINT_KMH = 25.0  # the usual sprint threshold of tracking providers
SPRINT_MIN_S = 1.0  # a sprint is a run above SPRINT_KMH lasting at least this long
# Speed zones, km/h: (name, from, to).
ZONES: tuple[tuple[str, float, float], ...] = (
    ("walk", 0.0, 7.0),
    ("jog", 7.0, 15.0),
    ("run", 15.0, 20.0),
    ("high_speed", 20.0, 25.0),
    ("sprint", 25.0, float("inf")),
)


@dataclass(frozen=True)
class PlayerPhysical:
    player_id: int
    track_ids: tuple[int, ...]  # the tracks joined into this player, in order of appearance
    team: int
    role: str
    seconds: float  # of mapped positions
    distance_m: float
    top_speed_kmh: float
    sprints: int
    zone_seconds: tuple[float, ...]  # one per ZONES


@dataclass(frozen=True)
class TooShort:
    player_id: int
    track_ids: tuple[int, ...]
    team: int
    role: str
    seconds: float


@dataclass(frozen=True)
class Physical:
    players: tuple[PlayerPhysical, ...]
    too_short: tuple[TooShort, ...]
    min_seconds: float = MIN_SECONDS


def track_physical(
    t: np.ndarray, xy: np.ndarray, fps: float, max_gap_s: float = MAX_GAP_S
) -> tuple[float, float, int, tuple[float, ...]]:
    """Distance (m), top speed (km/h), sprints and seconds per zone of one track's or player's
    mapped samples (sorted times ``t``, seconds; each sample stands for 1/``fps`` s). No speed
    spans a gap longer than ``max_gap_s``: the time a player was out of view counts for nothing."""
    speed = np.linalg.norm(velocities(t, xy, max_gap_s=max_gap_s), axis=1)
    ok = _clean(t, speed)
    distance, sprints = 0.0, 0
    for s in segments(t, max_gap_s):
        v, good, ts = speed[s], ok[s], t[s]
        pair = good[:-1] & good[1:]
        distance += float((((v[:-1] + v[1:]) / 2) * np.diff(ts))[pair].sum())
        fast = np.r_[False, good & (v * KMH > SPRINT_KMH), False].astype(np.int8)
        starts, ends = np.flatnonzero(np.diff(fast) == 1), np.flatnonzero(np.diff(fast) == -1)
        sprints += int(((ends - starts) / fps >= SPRINT_MIN_S - 1e-9).sum())
    kmh = speed[ok] * KMH
    zones = tuple(float(((kmh >= lo) & (kmh < hi)).sum() / fps) for _, lo, hi in ZONES)
    top = float(kmh.max()) if len(kmh) else 0.0
    return distance, top, sprints, zones


def _clean(t: np.ndarray, speed: np.ndarray) -> np.ndarray:
    """Samples whose speed is a measurement: not above MAX_SPEED, and not within half a speed
    window of one that is — a position jump (an identity swap, a homography switch) raises
    every speed whose window spans it, and the ones just under the cap are not a sprint."""
    bad_t = t[speed > MAX_SPEED]
    if not len(bad_t):
        return np.ones(len(t), bool)
    half = SPEED_WINDOW_S / 2
    lo = np.searchsorted(bad_t, t - half - 1e-9, "left")
    hi = np.searchsorted(bad_t, t + half + 1e-9, "right")
    return hi == lo  # no bad sample within ±half a window


def physical(match: Match, min_seconds: float = MIN_SECONDS) -> Physical:
    """Figures per player (`Rows.players`: the re-identified person, or the track before it)."""
    rows = match.rows()
    d = rows.detections
    t_all = rows.frame / match.video_fps
    players: list[PlayerPhysical] = []
    short: list[TooShort] = []
    for pid, idx in sorted(rows.players().items()):
        role, team = int(d.class_id[idx[0]]), int(d.team[idx[0]])
        if role not in (PLAYER, GOALKEEPER):
            continue
        tracks = tuple(int(k) for k in dict.fromkeys(d.track_id[idx].tolist()))
        idx = idx[np.isfinite(d.pitch_xy[idx]).all(axis=1)]
        seconds = len(idx) / match.fps
        if seconds < min_seconds:
            short.append(TooShort(pid, tracks, team, CLASSES[role], seconds))
            continue
        distance, top, sprints, zones = track_physical(
            t_all[idx], d.pitch_xy[idx], match.fps, gap_limit(match)
        )
        players.append(
            PlayerPhysical(pid, tracks, team, CLASSES[role], seconds, distance, top, sprints, zones)
        )
    return Physical(tuple(players), tuple(short), min_seconds)
