"""Match figures an analyst reads, from a finished `Match`: possession, pitch control, team
shape and formation, physical figures per player.

Every figure is of what the camera showed: players out of view are missing from the shape and
the pitch control of their frames, and a player's distance covers only his time in view.
`match_figures` computes them all once; `MatchFigures.to_json` is summary.json's "match"
section, `MatchFigures.frame_rows` match_stats.csv's rows (`FRAME_COLUMNS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..match import Match
from .common import TEAMS, attack_directions
from .physical import ZONES, Physical, physical
from .pitch_control import PitchControl, pitch_control
from .possession import Possession, possession
from .shape import Formation, Shapes, formations, shapes

_TEAM_FIGURES = ("centroid_x", "centroid_y", "width", "depth", "compactness", "hull_area",
                 "line_height", "players")  # fmt: skip
FRAME_COLUMNS: tuple[str, ...] = (
    "frame",
    "time_s",
    "ball_owner",
    "possession_team",
    "control_team0",
    "control_team1",
    *(f"team{t}_{name}" for t in TEAMS for name in _TEAM_FIGURES),
)
Cell = int | float | None


@dataclass(frozen=True, eq=False)
class MatchFigures:
    frames: tuple[int, ...]  # video frame index of each analysed frame
    times: np.ndarray  # (n_frames,) seconds into the video
    possession: Possession
    control: PitchControl
    shapes: Shapes
    formations: tuple[Formation, Formation]
    physical: Physical

    def frame_rows(self) -> list[list[Cell]]:
        """One row per analysed frame, in `FRAME_COLUMNS` order; None where not measurable."""
        p, c, s = self.possession, self.control, self.shapes
        out: list[list[Cell]] = []
        for i, frame in enumerate(self.frames):
            row: list[Cell] = [
                frame,
                _num(self.times[i], 3),
                _id(p.owner_player[i]),
                _id(p.team[i]),
                _num(c.share[i, 0], 4),
                _num(c.share[i, 1], 4),
            ]
            for t in TEAMS:
                row += [
                    _num(s.centroid[i, t, 0], 2),
                    _num(s.centroid[i, t, 1], 2),
                    _num(s.width[i, t], 2),
                    _num(s.depth[i, t], 2),
                    _num(s.spread[i, t], 2),
                    _num(s.hull_area[i, t], 1),
                    _num(s.line_height[i, t], 2),
                    int(s.players[i, t]),
                ]
            out.append(row)
        return out

    def to_json(self) -> dict[str, Any]:
        """The figures over the clip, JSON-ready (None where not measurable)."""
        p, c, s, ph = self.possession, self.control, self.shapes, self.physical
        teams = [f"team{t}" for t in TEAMS]
        return {
            "possession": {
                **{k: _num(v, 3) for k, v in zip(teams, p.share, strict=True)},
                "frames_counted": p.frames_counted,
                "frames_with_owner": int((p.owner_team >= 0).sum()),
                "radius_m": p.radius_m,
                "max_carry_s": p.max_carry_s,
            },
            "pitch_control": {
                "model": c.model,
                **{k: _num(v, 3) for k, v in zip(teams, c.mean, strict=True)},
                "frames_counted": c.frames_counted,
                "min_players_per_team": c.min_players,
            },
            "teams": {
                k: {
                    "attacks": {1: "+x", -1: "-x"}.get(s.attack[t]),
                    "formation": self.formations[t].name,
                    "formation_confidence": round(self.formations[t].confidence, 3),
                    "formation_players": self.formations[t].players,
                    "formation_rms_m": _num(self.formations[t].rms_m, 2),
                    "alternatives": dict(self.formations[t].scores[1:4]),
                    "shape_frames": int((s.players[:, t] >= s.min_players).sum()),
                    **{
                        f"mean_{name}": _mean(values[:, t], 2)
                        for name, values in (
                            ("centroid_x", s.centroid[:, :, 0]),
                            ("centroid_y", s.centroid[:, :, 1]),
                            ("width_m", s.width),
                            ("depth_m", s.depth),
                            ("compactness_m", s.spread),
                            ("hull_area_m2", s.hull_area),
                            ("line_height_m", s.line_height),
                        )
                    },
                }
                for t, k in zip(TEAMS, teams, strict=True)
            },
            "physical": {
                "min_seconds": ph.min_seconds,
                "zones_kmh": {name: [lo, None if math.isinf(hi) else hi] for name, lo, hi in ZONES},
                "players": [
                    {
                        "player_id": q.player_id,
                        "track_ids": list(q.track_ids),
                        "team": q.team,
                        "role": q.role,
                        "seconds": round(q.seconds, 2),
                        "distance_m": round(q.distance_m, 1),
                        "top_speed_kmh": round(q.top_speed_kmh, 1),
                        "sprints": q.sprints,
                        "zone_seconds": {
                            name: round(v, 2)
                            for (name, _, _), v in zip(ZONES, q.zone_seconds, strict=True)
                        },
                    }
                    for q in ph.players
                ],
                "too_short": [
                    {
                        "player_id": q.player_id,
                        "track_ids": list(q.track_ids),
                        "team": q.team,
                        "role": q.role,
                        "seconds": round(q.seconds, 2),
                    }
                    for q in ph.too_short
                ],
            },
        }


def match_figures(match: Match) -> MatchFigures:
    guesses = formations(match)
    return MatchFigures(
        tuple(match.frames),
        match.times,
        possession(match),
        pitch_control(match),
        shapes(match, guesses),
        guesses,
        physical(match),
    )


def _num(value: float, digits: int) -> float | None:
    return None if not np.isfinite(value) else round(float(value), digits)


def _id(value: int) -> int | None:
    return int(value) if value >= 0 else None


def _mean(values: np.ndarray, digits: int) -> float | None:
    ok = np.isfinite(values)
    return _num(float(values[ok].mean()), digits) if ok.any() else None


__all__ = [
    "FRAME_COLUMNS",
    "Formation",
    "MatchFigures",
    "Physical",
    "PitchControl",
    "Possession",
    "Shapes",
    "attack_directions",
    "match_figures",
]
