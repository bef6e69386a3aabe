"""Team shape per frame (centroid, width, depth, compactness, defensive line height) and a
formation guess over the clip.

Outfield players only (the keeper would stretch every figure towards his goal). A broadcast
camera rarely shows all ten, so a frame counts from `MIN_PLAYERS` mapped outfield players and
its figures are those of the players seen.

The formation: a team's shape is each player's average offset from the team's position with the
team's movement taken out — a two-way fixed-effects fit (position of player i in frame t = his
slot p_i + the team's shift c_t), which, unlike an average of offsets from each frame's centroid,
is not dragged by who happens to be out of view in a frame. The slots, turned so the team attacks
towards +x, are matched to formation templates with the Hungarian algorithm and a fitted depth,
width and offset (a few assignment / least-squares rounds), so missing players leave template
slots empty instead of distorting the fit. Confidence: each template's likelihood with a
Gaussian slot error of `SLOT_SIGMA_M`, normalised over the templates (uniform prior).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import csr_matrix
from scipy.spatial import ConvexHull, QhullError

from .. import pitch
from ..match import Match
from ..model.spec import PLAYER
from .common import TEAMS, attack_directions, mapped

MIN_PLAYERS = 6  # outfield players a frame needs for its shape figures (of 10)
BACK_LINE = 4  # defenders in the back line when no formation was found

# The formations guessed, as mplsoccer names them; their outfield places come from mplsoccer's
# own formation layouts (`Pitch.formations_dataframe`), not from a table of ours.
FORMATIONS: tuple[str, ...] = ("442", "433", "451", "4231", "4141", "352", "343", "532", "541")
# The fit's bounds: back line to front line, and half the team's width, metres.
DEPTH_M = (8.0, 50.0)
HALF_WIDTH_M = (8.0, 34.0)
# Expected distance of a player's average place from his template slot (individual roles,
# a player pulled to the ball): sets how sharply a better fit wins. 3.5 m makes the mean
# confidence match the hit rate on simulated 4-12 s clips (3 m: over-confident, 5 m: under).
SLOT_SIGMA_M = 3.5
MIN_FORMATION_PLAYERS = 7  # slots needed to name a formation
# A track seen in fewer of the team's frames than this is a fragment, not a place in the shape.
MIN_SLOT_SHARE = 0.2
# Two tracks never seen together whose places are this close are one player tracked twice.
MERGE_M = 4.0


@dataclass(frozen=True, eq=False)
class Shapes:
    """Per analysed frame and team (arrays (n_frames, 2)), NaN where not measured."""

    centroid: np.ndarray  # (n_frames, 2, 2) x, y, metres
    width: np.ndarray  # y extent, metres
    depth: np.ndarray  # x extent, metres
    spread: np.ndarray  # compactness: mean distance to the centroid, metres
    hull_area: np.ndarray  # convex hull of the players seen, m²
    line_height: np.ndarray  # back line's mean distance from the team's own goal line, metres
    players: np.ndarray  # (n_frames, 2) outfield players mapped
    attack: tuple[int, int]  # +1: the team attacks towards +x, -1: -x, 0: unknown
    min_players: int = MIN_PLAYERS


@dataclass(frozen=True)
class Formation:
    name: str | None  # None: too few players to tell
    confidence: float  # the best template's share of the likelihood over all templates
    players: int  # slots the guess rests on
    rms_m: float  # root-mean-square distance of the players' places from the template's
    scores: tuple[tuple[str, float], ...] = ()  # every template's share, best first


@dataclass(frozen=True, eq=False)
class TeamShape:
    """A team's average shape over the clip: one place per player, attacking towards +x, relative
    to the team's centre."""

    track_ids: tuple[int, ...]
    places: np.ndarray  # (n, 2) metres
    frames: np.ndarray  # (n,) frames each place rests on


def _label(mplsoccer_name: str) -> str:
    return "-".join(mplsoccer_name)  # "4231" → "4-2-3-1"


@cache
def _layouts() -> dict[str, np.ndarray]:
    """Each formation's ten outfield places, attacking towards +x: x from the deepest line (0)
    to the most advanced (1), y across from -1 to 1 (the fit scales both)."""
    from mplsoccer import Pitch

    table = Pitch(pitch_type="custom", pitch_length=pitch.LENGTH, pitch_width=pitch.WIDTH)
    frame = table.formations_dataframe
    out = {}
    for name in FORMATIONS:
        rows = frame[(frame.formation == name) & (frame.name != "GK")]
        xy = np.c_[rows.x.to_numpy(float), rows.y.to_numpy(float) - pitch.HALF_W]
        x0, x1 = xy[:, 0].min(), xy[:, 0].max()
        out[_label(name)] = np.c_[(xy[:, 0] - x0) / (x1 - x0), xy[:, 1] / np.abs(xy[:, 1]).max()]
    return out


def _template(name: str) -> np.ndarray:
    return _layouts()[name]


def back_line(name: str | None) -> int:
    """Players in the formation's deepest line (4 when there is no formation)."""
    if name not in _layouts():
        return BACK_LINE
    return int((_layouts()[name][:, 0] < 1e-6).sum())


def team_shape(match: Match, team: int, attack: int) -> TeamShape | None:
    """The team's average shape (`TeamShape`), from frames with at least 3 outfield players."""
    t_idx, ids, pts = [], [], []
    for i, dets in enumerate(match.detections):
        m = mapped(dets, team, (PLAYER,))
        if m.sum() >= 3:
            t_idx.append(np.full(int(m.sum()), i))
            ids.append(dets.track_id[m])
            pts.append(dets.pitch_xy[m] * (attack or 1))  # turned: attacking towards +x
    if not t_idx:
        return None
    frame_of, track, xy = np.concatenate(t_idx), np.concatenate(ids), np.concatenate(pts)
    slots, slot = np.unique(track, return_inverse=True)
    frames_u, frame = np.unique(frame_of, return_inverse=True)
    seen = np.bincount(slot, minlength=len(slots))
    keep = seen >= MIN_SLOT_SHARE * len(frames_u)
    # Two-way fixed effects by alternating means (converges in a few dozen rounds).
    shift = np.zeros((len(frames_u), 2))
    place = np.zeros((len(slots), 2))
    for _ in range(100):
        place_new = _group_mean(xy - shift[frame], slot, len(slots))
        shift = _group_mean(xy - place_new[slot], frame, len(frames_u))
        if np.abs(place_new - place).max() < 1e-3:
            place = place_new
            break
        place = place_new
    seen_in = csr_matrix((np.ones(len(slot)), (frame, slot)), (len(frames_u), len(slots)))
    together = (seen_in.T @ seen_in).toarray() > 0  # slots ever in the same frame
    groups = _merge(place, seen, together, keep)
    if not groups:
        return None  # only fragments, none seen long enough to be a place in the team
    merged = np.array([np.average(place[g], axis=0, weights=seen[g]) for g in groups])
    weight = np.array([seen[g].sum() for g in groups])
    order = np.argsort(-weight, kind="stable")[:10]
    merged, weight = merged[order], weight[order]
    centre = np.average(merged, axis=0, weights=weight) if len(merged) else np.zeros(2)
    return TeamShape(
        tuple(int(slots[groups[k][0]]) for k in order), merged - centre, weight.astype(np.int64)
    )


def _group_mean(values: np.ndarray, group: np.ndarray, n: int) -> np.ndarray:
    count = np.maximum(np.bincount(group, minlength=n), 1)
    return np.stack([np.bincount(group, values[:, k], n) / count for k in range(2)], axis=1)


def _merge(
    place: np.ndarray, seen: np.ndarray, together: np.ndarray, keep: np.ndarray
) -> list[np.ndarray]:
    """Slots grouped: a fragment joins the closest slot it never shared a frame with, within
    `MERGE_M`; fragments left alone are dropped."""
    groups: dict[int, list[int]] = {int(k): [int(k)] for k in np.flatnonzero(keep)}
    for k in np.argsort(-seen, kind="stable"):
        if keep[k] or not groups:
            continue
        best, best_d = -1, MERGE_M
        for g, members in groups.items():
            if together[k, members].any():
                continue
            d = float(np.linalg.norm(place[k] - np.average(place[members], axis=0)))
            if d < best_d:
                best, best_d = g, d
        if best >= 0:
            groups[best].append(int(k))
    return [np.array(v) for v in groups.values()]


def _fit(places: np.ndarray, weight: np.ndarray, template: np.ndarray) -> float:
    """Weighted mean squared distance (m²) of ``places`` from ``template`` scaled, shifted and
    assigned one place per slot (Hungarian), the best of a few starting scales."""
    w = weight / weight.sum()
    best = np.inf
    x_range = float(np.ptp(places[:, 0]))
    half_w = float(np.ptp(places[:, 1])) / 2
    for grow in (1.0, 1.25):
        depth = float(np.clip(x_range * grow, *DEPTH_M))
        width = float(np.clip(half_w * grow, *HALF_WIDTH_M))
        ox = float(places[:, 0].min())
        oy = float((places[:, 1].max() + places[:, 1].min()) / 2)
        assigned = None
        for _ in range(20):
            slots = np.c_[ox + depth * template[:, 0], oy + width * template[:, 1]]
            cost = ((places[:, None, :] - slots[None, :, :]) ** 2).sum(axis=2) * w[:, None]
            rows, cols = linear_sum_assignment(cost)
            if assigned is not None and np.array_equal(cols, assigned):
                break
            assigned = cols
            ox, depth = _line_fit(places[rows, 0], template[cols, 0], w[rows], depth, DEPTH_M)
            oy, width = _line_fit(places[rows, 1], template[cols, 1], w[rows], width, HALF_WIDTH_M)
        slots = np.c_[ox + depth * template[:, 0], oy + width * template[:, 1]]
        cost = ((places[:, None, :] - slots[None, :, :]) ** 2).sum(axis=2) * w[:, None]
        rows, cols = linear_sum_assignment(cost)
        best = min(best, float(cost[rows, cols].sum()))
    return best


def _line_fit(
    v: np.ndarray, t: np.ndarray, w: np.ndarray, scale: float, bounds: tuple[float, float]
) -> tuple[float, float]:
    """Weighted least squares v ≈ offset + scale · t, the scale kept within ``bounds`` (and
    unchanged when the assigned slots do not spread along this axis)."""
    tm, vm = float(np.dot(w, t)), float(np.dot(w, v))
    var = float(np.dot(w, (t - tm) ** 2))
    if var > 1e-6:
        scale = float(np.clip(np.dot(w, (t - tm) * (v - vm)) / var, *bounds))
    return vm - scale * tm, scale


def guess_formation(shape: TeamShape | None) -> Formation:
    if shape is None or len(shape.places) < MIN_FORMATION_PLAYERS:
        return Formation(None, 0.0, 0 if shape is None else len(shape.places), float("nan"))
    costs = {
        name: _fit(shape.places, shape.frames.astype(np.float64), _template(name))
        for name in _layouts()
    }
    n = len(shape.places)
    # Gaussian likelihood of n places: exp(-n · mean squared error / (2 σ²)).
    log_l = np.array([-n * c / (2 * SLOT_SIGMA_M**2) for c in costs.values()])
    prob = np.exp(log_l - log_l.max())
    prob /= prob.sum()
    ranked = sorted(zip(costs, prob.tolist(), strict=True), key=lambda kv: -kv[1])
    name = ranked[0][0]
    return Formation(
        name,
        float(ranked[0][1]),
        n,
        float(np.sqrt(costs[name])),
        tuple((k, round(p, 3)) for k, p in ranked),
    )


def shapes(match: Match, guesses: tuple[Formation, Formation] | None = None) -> Shapes:
    """Per-frame figures; the back line has as many players as each team's guessed formation
    puts there (`BACK_LINE` without a guess)."""
    attack = attack_directions(match)
    n = len(match.frames)
    centroid = np.full((n, 2, 2), np.nan)
    width, depth, spread, hull, line = (np.full((n, 2), np.nan) for _ in range(5))
    players = np.zeros((n, 2), np.int64)
    backs = [back_line(f.name) for f in guesses] if guesses else [BACK_LINE, BACK_LINE]
    for i, dets in enumerate(match.detections):
        for team in TEAMS:
            xy = dets.pitch_xy[mapped(dets, team, (PLAYER,))]
            players[i, team] = len(xy)
            if len(xy) < MIN_PLAYERS:
                continue
            c = xy.mean(axis=0)
            centroid[i, team] = c
            depth[i, team], width[i, team] = np.ptp(xy, axis=0)
            spread[i, team] = float(np.linalg.norm(xy - c, axis=1).mean())
            hull[i, team] = _hull_area(xy)
            if attack[team]:
                forward = np.sort(xy[:, 0] * attack[team])  # own goal line at -HALF_L
                line[i, team] = float(forward[: backs[team]].mean()) + pitch.HALF_L
    return Shapes(centroid, width, depth, spread, hull, line, players, attack)


def _hull_area(xy: np.ndarray) -> float:
    try:
        return float(ConvexHull(xy).volume)  # in 2-D, "volume" is the area
    except QhullError:  # all in a line
        return 0.0


def formations(match: Match) -> tuple[Formation, Formation]:
    """Each team's formation guess over the clip."""
    attack = attack_directions(match)
    f0, f1 = (guess_formation(team_shape(match, t, attack[t])) for t in TEAMS)
    return f0, f1
