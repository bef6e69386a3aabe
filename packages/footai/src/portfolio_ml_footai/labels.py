"""Team and role of each track, decided once after the run; every output reads them.

tracks.csv, annotated.mp4, the tactical map and summary.json all take a track's label from
`label_tracks`, so they cannot disagree about who is a goalkeeper or which team a player is on.
With the learned detector, the role is the net's (a score-weighted vote over the track) and the
team comes from the kit votes; goalkeepers join the team that defends their goal. The two
evidences are crossed once: a track the net calls referee or goalkeeper but which wears one of
the two team kits is a player (measured on a synthetic clip, where the net took a dark-kitted
player for a referee for a whole track). The other way round — a "player" in a kit nobody else
wears — is left to the net: on the real clip, small players' kits read as outliers often enough
that the reverse rule turned a score of them into keepers. With the
classic detector, roles are guessed from kit colour and where the track plays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import pitch
from .model.spec import CLASSES, GOALKEEPER, PLAYER, REFEREE
from .pipeline import Analysis

KEEPER_X = pitch.HALF_L - 22.0  # a track living beyond this |x| with an odd kit is a keeper


@dataclass(frozen=True)
class TrackLabel:
    track_id: int
    role: str
    team: int


def _pitch_points(a: Analysis) -> dict[int, list[np.ndarray]]:
    by_key: dict[int, list[np.ndarray]] = {}
    for p in a.players:
        if p.pitch is not None:
            by_key.setdefault(p.key, []).append(p.pitch)
    return by_key


def _left_team(a: Analysis, by_key: dict[int, list[np.ndarray]]) -> int:
    """Which team defends the left goal: the one whose players stand further left on average."""
    xs: dict[int, list[float]] = {0: [], 1: []}
    for key, votes in a.track_votes.items():
        if key in a.track_ids and votes[:2].sum() > votes[2] and key in by_key:
            xs[int(np.argmax(votes[:2]))].append(float(np.median(np.array(by_key[key])[:, 0])))
    return 0 if (np.mean(xs[0]) if xs[0] else 0) <= (np.mean(xs[1]) if xs[1] else 0) else 1


def _keeper_team(points: list[np.ndarray], left_team: int) -> int:
    if not points:
        return -1
    med_x = float(np.median(np.array(points)[:, 0]))
    return left_team if med_x < 0 else 1 - left_team


def _nearest_kit(a: Analysis, key: int) -> int:
    """The team whose kit is nearest the track's median kit colour: for a track the net calls a
    player whose kit reads as neither (small, shadowed, half hidden): a player has a team."""
    if a.team_model is None:
        return -1
    cs = np.array([p.colour for p in a.players if p.key == key and p.colour is not None])
    cs = cs[np.isfinite(cs).all(axis=1)] if len(cs) else cs
    if not len(cs):
        return -1
    feat = np.median(cs, axis=0) * np.array([0.5, 1.0, 1.0])  # teams._feature's space
    return int(np.argmin(np.linalg.norm(a.team_model.centres - feat, axis=1)))


def _net_roles(a: Analysis) -> dict[int, int]:
    """Score-weighted majority of the net's role per track."""
    weights: dict[int, np.ndarray] = {}
    for p in a.players:
        if p.role >= 0:
            weights.setdefault(p.key, np.zeros(len(CLASSES)))[p.role] += p.score
    return {k: int(np.argmax(w)) for k, w in weights.items()}


def label_tracks(a: Analysis) -> dict[int, TrackLabel]:
    """Team and role for each confirmed track."""
    by_key = _pitch_points(a)
    left_team = _left_team(a, by_key)
    roles = _net_roles(a)
    labels = {}
    for key, tid in a.track_ids.items():
        votes = a.track_votes.get(key, np.zeros(3))
        role = roles.get(key)
        if role is not None:
            outlier_kit = votes[2] > votes[:2].sum()
            if role in (REFEREE, GOALKEEPER) and not outlier_kit and votes[:2].sum() > 0:
                # Wears one of the two team kits (chosen over the whole run, worn by two people at
                # once): referees and keepers never do, so the net's role was wrong here.
                labels[key] = TrackLabel(tid, CLASSES[PLAYER], int(np.argmax(votes[:2])))
                continue
            if role == REFEREE:
                labels[key] = TrackLabel(tid, "referee", -1)
                continue
            elif role == GOALKEEPER:
                team = _keeper_team(by_key.get(key, []), left_team)
                labels[key] = TrackLabel(tid, "goalkeeper", team)
                continue
            else:
                team = int(np.argmax(votes[:2])) if votes[:2].sum() > 0 else _nearest_kit(a, key)
                labels[key] = TrackLabel(tid, CLASSES[PLAYER], team)
                continue
        if votes[2] > votes[:2].sum():
            pts = by_key.get(key, [])
            med_x = float(np.median(np.array(pts)[:, 0])) if pts else 0.0
            if pts and abs(med_x) > KEEPER_X:
                labels[key] = TrackLabel(tid, "goalkeeper", _keeper_team(pts, left_team))
            else:
                labels[key] = TrackLabel(tid, "referee", -1)
        else:
            labels[key] = TrackLabel(tid, "player", int(np.argmax(votes[:2])))
    return labels
