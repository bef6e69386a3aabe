"""After the run: one ``player_id`` per person, joining the tracklets of one person.

Online tracking and the short-gap stitching (`track.stitch`) keep an id through occlusions of
about a second. A panning broadcast camera loses players for much longer: a full-back leaves the
picture when play switches wing and comes back seconds later; he is the same person, and only
the whole run can say so. The finished tracks (tracklets) are joined here, once, after their
teams and roles are decided, under hard constraints:

- never two tracklets that overlap in time (a person is in one place at a time);
- never across a shot change (a cut or a dissolve: the next shot is another moment);
- never across teams or roles;
- a run a player can make: the distance over the gap within `SLACK_M` + `RUN_SPEED` × gap;
- not when, for more than `ABSENT_S` of the gap, the camera watched every place he could have
  been and saw nobody there (he would have been seen: "where the camera was looking");

and a cost for the rest: how far the later tracklet starts from where the earlier one would be
had he kept his heading for a moment and then moved with his team (`TeamDrift`: players keep
their place in the team's shape), in units that grow with the gap; how different the two look
(`track.appearance`, each number weighed by how well it tells team-mates apart in this very
clip: `LookScale`, learnt from the run, no training); and the gap itself. One global assignment (the Hungarian algorithm, `scipy.optimize.linear_sum_assignment`) gives each
tracklet at most one successor and one predecessor; a join is kept only when it costs less than
`MAX_COST` and every assignment without it costs at least `MIN_MARGIN` more. A wrong join
corrupts a player's figures, a missed one only splits them, so doubtful joins are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..analytics.common import velocities
from ..match import Rows, same_shot
from ..model.spec import GOALKEEPER, PLAYER, REFEREE

RUN_SPEED = 7.5  # m/s a player can keep up, on average, over a gap of seconds
SLACK_M = 3.0  # position error at both ends (homography, box bottoms), metres
ABSENT_S = 1.0  # seconds unseen in plain view a gap may hold (missed detections, blur)
MAX_GAP_S = 30.0  # longer gaps are not joined: too many people could have been anywhere
SAMPLE_S = 0.2  # the gap's views are checked this often
VIEW_MARGIN = (0.03, 0.10, 0.03, 0.03)  # left, top, right, bottom share of the frame: half in view
OCCLUDER_M = 1.0  # someone this close to where he could be may have hidden him
# Cost model (see `link_cost`): motion error in units of SIGMA_M + SIGMA_RATE × gap, appearance
# in units of its within-track spread; each enters as z²/2, the gap at GAP_COST per second.
SIGMA_M = 1.5
SIGMA_RATE = 1.0  # m/s: how fast the uncertainty of an unseen player's place grows
HEADING_S = 1.0  # a player keeps his last heading this long, at most
GAP_COST = 0.1
# A join must cost less than MAX_COST and beat the best assignment without it by MIN_MARGIN.
# Chosen on five 20-s synthetic clips (pan seeds 80-82, static 84, tactical 86; exact truth):
# 5 joins, all right. Looser: MAX_COST 2.5 made 6, all right, but 1 wrong when the looks were
# taken every 2nd frame; 3.0 made 7, 1 wrong. On the 10-s bench clips (seeds 31, 32): 1 join.
MAX_COST = 2.0
MIN_MARGIN = 1.0
MIN_LOOKS = 3  # appearance rows a tracklet needs before its look is compared
MIN_SCALE_TRACKS = 4  # long tracks (and pairs of team-mates) needed to learn the look scale
LOOK_FLOOR = 2.0  # Lab units: no appearance number is steadier than this (video coding)
MAX_LOOK_WEIGHT = 10.0  # no single number decides alone
MIN_DRIFT_PLAYERS = 3  # players in view needed to measure how their team moves
FORBIDDEN = 1e6
JOINABLE_ROLES = (PLAYER, GOALKEEPER, REFEREE)


@dataclass(frozen=True, eq=False)
class Tracklet:
    """One finished track as the re-identification sees it."""

    track_id: int
    role: int
    team: int
    first: float  # seconds: first and last row
    last: float
    start: np.ndarray  # (2,) first mapped pitch position, metres (NaN: never mapped)
    end: np.ndarray  # (2,) last mapped pitch position
    start_velocity: np.ndarray  # (2,) m/s over its first HEADING_S
    end_velocity: np.ndarray  # (2,) m/s over its last HEADING_S
    look: np.ndarray  # (APPEARANCE_DIM,) median appearance; NaN unseen
    looks: int  # rows with an appearance

    @property
    def mapped(self) -> bool:
        return bool(np.isfinite(self.start).all())


@dataclass(frozen=True)
class Join:
    """Two tracklets found to be one person: ``earlier`` ends, ``later`` starts after it."""

    earlier: int  # track ids
    later: int
    gap_s: float
    distance_m: float
    cost: float
    margin: float  # how much more the best assignment without this join costs


@dataclass(frozen=True)
class Identities:
    player_of: dict[int, int]  # track id → player id (the id of the person's first tracklet)
    joins: tuple[Join, ...]

    def tracks_of(self, player_id: int) -> list[int]:
        return sorted(k for k, p in self.player_of.items() if p == player_id)


@dataclass(frozen=True, eq=False)
class Views:
    """Where the camera looked: each analysed frame's time and homography (pitch → pixels)."""

    times: np.ndarray  # (F,) seconds
    homographies: tuple[np.ndarray | None, ...]
    size: tuple[int, int]  # frame width, height
    shot_starts: tuple[float, ...] = ()  # seconds: where each shot after the first begins

    def sees(self, index: int, points: np.ndarray) -> bool:
        """Whether every pitch point is well inside frame ``index`` (False without a homography)."""
        h = self.homographies[index]
        if h is None:
            return False
        p = np.c_[points, np.ones(len(points))] @ h.T
        if (p[:, 2] <= 1e-9).any():  # behind the camera
            return False
        u, v = p[:, 0] / p[:, 2], p[:, 1] / p[:, 2]
        w, hh = self.size
        left, top, right, bottom = VIEW_MARGIN
        return bool(
            (
                (u >= left * w)
                & (u <= (1 - right) * w)
                & (v >= top * hh)
                & (v <= (1 - bottom) * hh)
            ).all()
        )


def tracklets(rows: Rows, video_fps: float) -> list[Tracklet]:
    """The tracklets of the people rows that a re-identification may join."""
    d = rows.detections
    t_all = rows.frame / video_fps
    out = []
    for key, idx in rows.tracks().items():
        role = int(d.class_id[idx[0]])
        if role not in JOINABLE_ROLES:
            continue
        t = t_all[idx]
        xy = d.pitch_xy[idx]
        ok = np.isfinite(xy).all(axis=1)
        start = end = np.full(2, np.nan)
        v0 = v1 = np.zeros(2)
        if ok.any():
            tm, pm = t[ok], xy[ok]
            start, end = pm[0], pm[-1]
            v0, v1 = _heading(tm, pm), _heading(tm[::-1], pm[::-1])
        looks = d.appearance[idx]
        seen = np.isfinite(looks).all(axis=1)
        look = np.nanmedian(looks[seen], axis=0) if seen.any() else np.full(looks.shape[1], np.nan)
        out.append(
            Tracklet(
                key,
                role,
                int(d.team[idx[0]]),
                float(t[0]),
                float(t[-1]),
                start,
                end,
                v0,
                v1,
                look.astype(np.float64),
                int(seen.sum()),
            )
        )
    return out


def _heading(t: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Velocity (m/s) from the first sample to the one HEADING_S later (or the last), in the
    direction of ``t``'s order (a reversed series gives the velocity at its end)."""
    far = np.abs(t - t[0]) <= HEADING_S
    k = int(np.nonzero(far)[0][-1])
    dt = t[k] - t[0]
    if abs(dt) < 0.3:  # too short a stretch for a direction
        return np.zeros(2)
    return (xy[k] - xy[0]) / dt


@dataclass(frozen=True, eq=False)
class LookScale:
    """How to compare two looks in this clip, learnt from the clip itself (no training): each
    appearance number's spread within one person (``within``: a long track's first third
    against its last third) and its weight (``weight``: Fisher's ratio of the spread between
    team-mates to the spread within one, less one — numbers that every team-mate shares, the
    shirt and shorts, weigh nothing)."""

    within: np.ndarray  # (APPEARANCE_DIM,) Lab units
    weight: np.ndarray  # (APPEARANCE_DIM,) >= 0

    @property
    def usable(self) -> bool:
        return bool(np.isfinite(self.within).all() and self.weight.sum() > 0)


def look_scale(pieces: list[Tracklet], rows: Rows) -> LookScale:
    """The clip's `LookScale` (unusable, all NaN, when too few long tracks are seen)."""
    d = rows.detections
    dim = d.appearance.shape[1]
    tracks = rows.tracks()
    same, medians = [], []
    for p in pieces:
        looks = d.appearance[tracks[p.track_id]]
        looks = looks[np.isfinite(looks).all(axis=1)]
        if len(looks) < 4 * MIN_LOOKS:
            continue
        third = len(looks) // 3
        same.append(np.abs(np.median(looks[:third], axis=0) - np.median(looks[-third:], axis=0)))
        medians.append((p.team, p.role, np.median(looks, axis=0)))
    between = [
        np.abs(ma - mb)
        for i, (ta, ra, ma) in enumerate(medians)
        for tb, rb, mb in medians[i + 1 :]
        if ta == tb and ra == rb
    ]
    if len(same) < MIN_SCALE_TRACKS or len(between) < MIN_SCALE_TRACKS:
        return LookScale(np.full(dim, np.nan), np.zeros(dim))
    # Median absolute differences; a floor for the numbers that never change (synthetic kits).
    within = np.maximum(np.median(same, axis=0), LOOK_FLOOR)
    spread = np.median(between, axis=0)
    return LookScale(within, np.clip((spread / within) ** 2 - 1.0, 0.0, MAX_LOOK_WEIGHT))


def look_distance(a: Tracklet, b: Tracklet, scale: LookScale) -> float:
    """The two looks' difference in units of one person's spread, weighted by how much each
    number tells team-mates apart (an RMS: about 1 for one person seen twice); NaN when either
    has too few looks."""
    if a.looks < MIN_LOOKS or b.looks < MIN_LOOKS or not scale.usable:
        return float("nan")
    both = np.isfinite(a.look) & np.isfinite(b.look)
    w = scale.weight * both
    if w.sum() <= 0:
        return float("nan")
    z = np.where(both, (a.look - b.look) / scale.within, 0.0)
    return float(np.sqrt((w * z**2).sum() / w.sum()))


@dataclass(frozen=True, eq=False)
class TeamDrift:
    """Where each team as a whole moved: the running sum of the median velocity of its
    players in view, per analysed frame. Players keep their place in the team's shape, so
    an unseen player is expected to have moved with his team, not to have stood still."""

    times: np.ndarray  # (F,) seconds
    paths: dict[int, np.ndarray]  # team → (F, 2) metres travelled since the first frame

    def shift(self, team: int, t0: float, t1: float) -> np.ndarray:
        path = self.paths.get(team)
        if path is None or not len(self.times):
            return np.zeros(2)
        i0, i1 = np.searchsorted(self.times, [t0 - 1e-9, t1 - 1e-9])
        i0, i1 = min(int(i0), len(path) - 1), min(int(i1), len(path) - 1)
        return path[i1] - path[i0]


def team_drift(rows: Rows, times: np.ndarray, video_fps: float) -> TeamDrift:
    d = rows.detections
    per_team: dict[int, list[list[np.ndarray]]] = {}
    for idx in rows.tracks().values():
        team, role = int(d.team[idx[0]]), int(d.class_id[idx[0]])
        if team < 0 or role != PLAYER:
            continue
        xy = d.pitch_xy[idx]
        ok = np.isfinite(xy).all(axis=1)
        if ok.sum() < 2:
            continue
        t = rows.frame[idx][ok] / video_fps
        at = np.minimum(np.searchsorted(times, t - 1e-9), len(times) - 1)
        slots = per_team.setdefault(team, [[] for _ in times])
        for i, v in zip(at, velocities(t, xy[ok]), strict=True):
            slots[i].append(v)
    dt = np.diff(times, prepend=times[:1])
    paths = {}
    for team, slots in per_team.items():
        v = np.array(
            [np.median(s, axis=0) if len(s) >= MIN_DRIFT_PLAYERS else (0.0, 0.0) for s in slots]
        )
        paths[team] = np.cumsum(v * dt[:, None], axis=0)
    return TeamDrift(times, paths)


def reachable(a: Tracklet, b: Tracklet) -> bool:
    """The hard constraints that need no camera: order, team, role, gap and a possible run."""
    gap = b.first - a.last
    if gap <= 0 or gap > MAX_GAP_S or a.team != b.team or a.role != b.role:
        return False
    if not (a.mapped and b.mapped):
        return False
    return float(np.linalg.norm(b.start - a.end)) <= SLACK_M + RUN_SPEED * gap


def _lens(p: np.ndarray, r1: float, q: np.ndarray, r2: float, n: int = 24) -> np.ndarray:
    """Points on the boundary of the places within ``r1`` of ``p`` and ``r2`` of ``q`` (empty when
    there is none): the region is convex, so it is in view when these points are."""
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    ring = np.c_[np.cos(angles), np.sin(angles)]
    on_p, on_q = p + r1 * ring, q + r2 * ring
    keep_p = np.linalg.norm(on_p - q, axis=1) <= r2
    keep_q = np.linalg.norm(on_q - p, axis=1) <= r1
    return np.concatenate([on_p[keep_p], on_q[keep_q]])


def absent_seconds(a: Tracklet, b: Tracklet, views: Views, people: dict[int, np.ndarray]) -> float:
    """Seconds of the gap between ``a`` and ``b`` during which the camera saw every place the
    player could have been (`_lens`: within reach of where ``a`` ended and of where ``b``
    starts) and nobody stood there who could have hidden him. ``people`` maps a view index to
    its people's pitch positions."""
    lo = int(np.searchsorted(views.times, a.last, "right"))
    hi = int(np.searchsorted(views.times, b.first, "left"))
    if hi <= lo:
        return 0.0
    frame_s = float(np.median(np.diff(views.times))) if len(views.times) > 1 else 1.0
    every = max(1, round(SAMPLE_S / frame_s))
    absent = 0.0
    for i in range(lo, hi, every):
        t = float(views.times[i])
        r1, r2 = SLACK_M + RUN_SPEED * (t - a.last), SLACK_M + RUN_SPEED * (b.first - t)
        region = _lens(a.end, r1, b.start, r2)
        if not len(region) or not views.sees(i, region):
            continue
        others = people.get(i)
        if others is not None and len(others):
            near = (np.linalg.norm(others - a.end, axis=1) <= r1 + OCCLUDER_M) & (
                np.linalg.norm(others - b.start, axis=1) <= r2 + OCCLUDER_M
            )
            if near.any():
                continue
        absent += every * frame_s
    return absent


@dataclass(frozen=True, eq=False)
class Evidence:
    """What the whole run tells about every gap: where the camera looked, who was where, how
    each team moved, and how looks compare in this clip."""

    views: Views
    people: dict[int, np.ndarray]  # view index → that frame's people's pitch positions
    drift: TeamDrift
    scale: LookScale


def gather(rows: Rows, views: Views, video_fps: float, pieces: list[Tracklet]) -> Evidence:
    d = rows.detections
    mask = rows.people & np.isfinite(d.pitch_xy).all(axis=1)
    at = np.searchsorted(views.times, rows.frame[mask] / video_fps - 1e-9)
    order = np.argsort(at, kind="stable")
    at, xy = at[order], d.pitch_xy[mask][order]
    keys, starts = np.unique(at, return_index=True)
    parts = np.split(xy, starts[1:]) if len(keys) else []
    people = {int(k): part for k, part in zip(keys, parts, strict=True)}
    return Evidence(
        views, people, team_drift(rows, views.times, video_fps), look_scale(pieces, rows)
    )


def link_cost(a: Tracklet, b: Tracklet, evidence: Evidence) -> tuple[float, float, float]:
    """(cost, motion z, appearance z) of ``b`` continuing ``a`` (both `reachable`).

    Motion: ``a`` keeps its heading for up to HEADING_S, then moves with its team
    (`TeamDrift`); the miss to where ``b`` starts is measured in SIGMA_M + SIGMA_RATE × gap.
    """
    gap = b.first - a.last
    ahead = min(gap / 2, HEADING_S)  # each end's own heading covers up to half the gap
    moved = evidence.drift.shift(a.team, a.last + ahead, b.first - ahead)
    expected = a.end + a.end_velocity * ahead + moved
    came_from = b.start - b.start_velocity * ahead
    z_motion = float(np.linalg.norm(came_from - expected)) / (SIGMA_M + SIGMA_RATE * gap)
    z_look = look_distance(a, b, evidence.scale)
    look_cost = 0.5 * z_look**2
    if not np.isfinite(z_look):
        # Without a look to compare, only a gap that motion alone decides can be joined.
        look_cost = 0.0 if gap <= HEADING_S else np.inf
    return 0.5 * z_motion**2 + look_cost + GAP_COST * gap, z_motion, z_look


def reidentify(rows: Rows, views: Views, video_fps: float) -> tuple[Rows, Identities]:
    """``rows`` with ``player_id`` filled (-1 for the ball), and the joins made."""
    pieces = tracklets(rows, video_fps)
    evidence = gather(rows, views, video_fps, pieces)
    n = len(pieces)
    cost = np.full((n, n), FORBIDDEN)
    for i, a in enumerate(pieces):
        for j, b in enumerate(pieces):
            if i == j or not reachable(a, b) or not same_shot(a.last, b.first, views.shot_starts):
                continue
            c = link_cost(a, b, evidence)[0]
            if c >= MAX_COST or absent_seconds(a, b, evidence.views, evidence.people) > ABSENT_S:
                continue
            cost[i, j] = c
    joins = _assign(pieces, cost)
    earlier = {j.later: j.earlier for j in joins}
    player_of: dict[int, int] = {}
    for key in rows.tracks():
        head = key
        while head in earlier:
            head = earlier[head]
        player_of[key] = head
    ids = np.array([player_of.get(int(k), -1) for k in rows.track_id], np.int64)
    return rows.with_(player_id=np.where(rows.people, ids, -1)), Identities(player_of, tuple(joins))


def _solve(cost: np.ndarray) -> tuple[float, list[tuple[int, int]]]:
    """Min-cost partial assignment: a pair costs its entry, leaving a row or column free costs
    MAX_COST / 2 (so a pair is worth taking when it costs less than MAX_COST)."""
    n = len(cost)
    big = np.full((n, n), FORBIDDEN)
    np.fill_diagonal(big, MAX_COST / 2)
    full = np.block([[cost, big], [big, np.zeros((n, n))]])
    r, c = linear_sum_assignment(full)
    pairs = [(int(i), int(j)) for i, j in zip(r, c, strict=True) if i < n and j < n]
    pairs = [(i, j) for i, j in pairs if cost[i, j] < FORBIDDEN]
    return float(full[r, c].sum()), pairs


def _assign(pieces: list[Tracklet], cost: np.ndarray) -> list[Join]:
    """The joins of the best assignment that beat every assignment without them by MIN_MARGIN,
    solved per group of tracklets that could be linked to one another."""
    group = _components(cost < FORBIDDEN)
    joins = []
    for members in group:
        if len(members) < 2:
            continue
        sub = cost[np.ix_(members, members)]
        total, pairs = _solve(sub)
        for i, j in pairs:
            without = sub.copy()
            without[i, j] = FORBIDDEN
            margin = _solve(without)[0] - total
            if margin < MIN_MARGIN:
                continue
            a, b = pieces[members[i]], pieces[members[j]]
            joins.append(
                Join(
                    a.track_id,
                    b.track_id,
                    round(b.first - a.last, 3),
                    round(float(np.linalg.norm(b.start - a.end)), 2),
                    round(float(sub[i, j]), 3),
                    round(margin, 3),
                )
            )
    return sorted(joins, key=lambda j: (j.earlier, j.later))


def _components(edges: np.ndarray) -> list[list[int]]:
    """Groups of indices connected by ``edges`` (either direction)."""
    n = len(edges)
    parent = list(range(n))

    def find(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for i, j in zip(*np.nonzero(edges), strict=True):
        parent[find(int(i))] = find(int(j))
    groups: dict[int, list[int]] = {}
    for k in range(n):
        groups.setdefault(find(k), []).append(k)
    return list(groups.values())
