"""Teams and roles: every decision about who plays for whom, and who is keeper or referee.

During the run (`KitStage`) each person's shirt colour is measured — the median Lab colour of
the non-grass pixels of the upper body — and compared with the two kits seen so far (k-means
with outlier trimming). That per-detection kit is evidence, not a decision: the tracker uses it
as appearance, so two crossing opponents keep their ids.

After the run, once per track (`vote_kits`, then `decide`): each track's median kit over its
whole life is one sample; the teams are the two kits worn by two people at once; a track that
changes kit for good is cut in two; the role is the net's, crossed once with the kit (a
"referee" in a team's kit is a player); goalkeepers join the team that defends their goal.
Every output reads the result from the `Detections` columns ``team`` and ``class_id``.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import cv2
import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from . import pitch
from .detections import Detections
from .grass import DEFAULT_GRASS, GrassModel
from .match import Rows
from .model.spec import CLASSES, GOALKEEPER, PLAYER, REFEREE

OUTLIER = -1
# Feature-space distance that keeps two kits' per-track medians apart: distinct kits differ by
# 40+ (chroma), while one kit's medians over whole tracks differ by shade only (under 10).
KIT_GAP = 20.0
# A person cut by the frame's bottom edge: a box ending within CUT_EDGE of the frame height
# from it (the net's box stops a few pixels short of the edge) and less than CUT_ASPECT times as
# tall as wide (a whole standing player is 2-3 times). Its shirt lies below its top 40 % (head).
CUT_EDGE = 0.03
CUT_ASPECT = 1.6
CUT_SHIRT_TOP = 0.4
# A shirt's pixels are split into two colour groups only from this many: a far player's number
# is not legible, and his few pixels split into shirt and shorts as often as into shirt and
# number (synthetic tactical seed 75: team accuracy 0.986 from 30 pixels, 0.980 from 8).
MIN_GROUP_PIXELS = 30


def shirt_colours(bgr: np.ndarray, grass_model: GrassModel, boxes: np.ndarray) -> np.ndarray:
    """Median Lab shirt colour per x, y, w, h box (N, 3); NaN rows where only grass is seen.

    Grass is masked at full resolution and the kit mask is eroded by a pixel: on small players
    the pixels at the kit's edge are half grass, which turns red shirts brown.
    """
    out = np.full((len(boxes), 3), np.nan, np.float32)
    fh, fw = bgr.shape[:2]
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    grass_lab = grass_model.lab
    for i, (x, y, w, h) in enumerate(boxes):
        x0, x1 = int(x + 0.2 * w), int(np.ceil(x + 0.8 * w))
        if y + h >= (1 - CUT_EDGE) * fh and h < CUT_ASPECT * w:
            # Cut by the frame's bottom edge (near it, and too squat for a whole body): only
            # head and shirt are in view, and the usual band (15–50 % of a body) is mostly head.
            y0, y1 = int(y + CUT_SHIRT_TOP * h), int(np.ceil(y + h))
        else:
            y0, y1 = int(y + 0.15 * h), int(np.ceil(y + 0.5 * h))
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, fw), min(y1, fh)
        if x1 <= x0 or y1 <= y0:
            continue
        crop = bgr[y0:y1, x0:x1]
        kit = cv2.bitwise_not(grass_model.mask(cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)))
        core = cv2.erode(kit, cross)
        pix = crop[core > 0]
        if len(pix) < 4:
            pix = crop[kit > 0]
        if len(pix) < 3:
            continue
        lab = (
            cv2.cvtColor(pix.reshape(-1, 1, 3), cv2.COLOR_BGR2LAB).reshape(-1, 3).astype(np.float32)
        )
        # Chroma is blurred by video coding: a quarter of the pixels, those whose chroma is
        # most like the grass's, are kit edges half grass (a partition, not a sort). Of the
        # rest, the larger colour group is the shirt (`_dominant`), not its number.
        d = np.linalg.norm(lab[:, 1:] - grass_lab[1:], axis=1)
        cut = len(d) // 4
        out[i] = np.median(_dominant(lab[np.argpartition(d, cut)[cut:]]), axis=0)
    return out


def _dominant(lab: np.ndarray) -> np.ndarray:
    """The pixels of the larger of two colour groups (k-means): on a back, the shirt and not
    its white number. The number is the pixel least like grass: when the half of the pixels
    least like grass made the colour, a red back with a white "23" read as the white team
    (the real LaLiga clip)."""
    if len(lab) < MIN_GROUP_PIXELS:
        return lab
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
    cv2.setRNGSeed(7)
    _, label, _ = cv2.kmeans(_feature(lab), 2, None, crit, 1, cv2.KMEANS_PP_CENTERS)
    label = label.ravel()
    major = int(np.bincount(label, minlength=2).argmax())
    return lab[label == major]


def _feature(lab: np.ndarray) -> np.ndarray:
    # Lightness matters less than chroma: shade and floodlights change L across the pitch.
    return lab * np.array([0.5, 1.0, 1.0], np.float32)


@dataclass
class TeamModel:
    centres: np.ndarray  # (2, 3) feature space
    radius: np.ndarray  # (2,) outlier distance per team

    @classmethod
    def fit(cls, colours: np.ndarray) -> TeamModel | None:
        """Fit from many shirt colours (Lab); None if there are too few."""
        feats = _feature(colours[np.isfinite(colours).all(axis=1)])
        if len(feats) < 10:
            return None
        crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 0.1)
        cv2.setRNGSeed(12345)  # k-means++ seeding: same kits, same answer, run after run
        keep = np.ones(len(feats), bool)
        centres = np.zeros((2, 3), np.float32)
        for _ in range(3):  # trim the outliers (keepers, referee, bad crops) and refit
            _, _, found = cv2.kmeans(feats[keep], 2, None, crit, 5, cv2.KMEANS_PP_CENTERS)
            centres = np.asarray(found, dtype=np.float32)
            d = np.linalg.norm(feats[:, None, :] - centres[None], axis=2)
            nearest = d.min(axis=1)
            thr = np.percentile(nearest[keep], 85) * 1.5 + 4
            keep = nearest < thr
            if keep.sum() < 10:
                return None
        d = np.linalg.norm(feats[:, None, :] - centres[None], axis=2)
        lab = d.argmin(axis=1)
        radius = np.zeros(2)
        for t in (0, 1):
            sel = d[(lab == t) & keep, t]
            radius[t] = (np.percentile(sel, 90) if len(sel) else 10.0) * 1.8 + 6.0
        # Order teams so that team 0 is the darker kit: deterministic labels between runs.
        order = np.argsort(centres[:, 0])
        return cls(centres[order], radius[order])

    def classify(self, colours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Team (0, 1 or OUTLIER) and a confidence in [0, 1] per colour row."""
        feats = _feature(colours)
        d = np.linalg.norm(feats[:, None, :] - self.centres[None], axis=2)
        team = np.nan_to_num(d, nan=np.inf).argmin(axis=1)
        best = d[np.arange(len(d)), team]
        other = d[np.arange(len(d)), 1 - team]
        conf = np.clip((other - best) / (other + best + 1e-6), 0.0, 1.0)
        out = np.where(best <= self.radius[team], team, OUTLIER)
        out[~np.isfinite(best)] = OUTLIER
        conf[~np.isfinite(best)] = 0.0
        return out, conf

    def bgr(self) -> list[tuple[int, int, int]]:
        lab = self.centres / np.array([0.5, 1.0, 1.0], np.float32)
        px = cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8)[None], cv2.COLOR_LAB2BGR)[0]
        return [(int(p[0]), int(p[1]), int(p[2])) for p in px]


TEAM_POOL = 150  # player kit colours gathered before the two kits are first fitted


class KitStage:
    """During the run: each person's shirt colour, and which of the two kits it is nearest
    (``team`` 0/1, -1 neither) with a confidence, once enough colours are seen to fit them."""

    def __init__(self, grass: GrassModel | None) -> None:
        self.grass = grass or DEFAULT_GRASS
        self.model: TeamModel | None = None
        self.pool: list[np.ndarray] = []

    def __call__(self, image: np.ndarray, people: Detections, measure: bool = True) -> Detections:
        if measure and len(people):
            colours = shirt_colours(image, self.grass, people.xywh)
        else:  # unmeasured: NaN colours; the track's kit comes from its other frames
            colours = np.full((len(people), 3), np.nan, np.float32)
        if self.model is None:
            players = colours[(people.class_id == PLAYER) & np.isfinite(colours).all(axis=1)]
            self.pool.extend(players)
            if len(self.pool) >= TEAM_POOL:
                self.model = TeamModel.fit(np.array(self.pool))
                if self.model is None:
                    self.pool = self.pool[-TEAM_POOL:]
        if self.model is None or not len(people):
            return people.with_(kit=colours)
        team, conf = self.model.classify(colours)
        return people.with_(kit=colours, team=team, team_confidence=conf)


def kit_vote(score: float, team: int, confidence: float) -> tuple[int, float]:
    """One observation's vote for its track's kit: (slot team0/team1/other, weight)."""
    # Weak detections are often two players merged or half hidden: their colour is unreliable.
    if score < 0.5:
        return 2, 0.0
    return (2 if team < 0 else team), score * (0.3 + confidence)


def kit_team(votes: np.ndarray) -> int:
    """A track's kit from its votes: 0 or 1, or -1 when it mostly wears neither."""
    return -1 if votes[2] > votes[:2].sum() else int(np.argmax(votes[:2]))


def track_votes(
    colours: dict[int, np.ndarray], frames: dict[int, np.ndarray], min_obs: int = 3
) -> tuple[dict[int, np.ndarray], TeamModel | None]:
    """Team votes per track from the kits of whole tracks, after the run.

    ``colours[key]`` holds a track's Lab shirt colour per observation, ``frames[key]`` the frame
    of each. The online model is fitted on the first frames only, where a panning camera may
    show one team barely and line fragments often (white, tight, easily a "team"). Here each
    track's median colour over its whole life is one sample: tracks are grouped by kit, and the
    teams are the two heaviest groups (by observations) that dress two people at once — the
    referee and each goalkeeper are alone in their kit, however long they are in view. The
    votes (team0, team1, outlier) put a track's whole weight on one label, so no track changes
    team within its life.
    """
    keys, meds, counts, seen = [], [], [], []
    for key, cs in colours.items():
        arr = np.asarray(cs, np.float32).reshape(-1, 3)
        ok = np.isfinite(arr).all(axis=1)
        if ok.any():
            keys.append(key)
            meds.append(np.median(arr[ok], axis=0))
            counts.append(int(ok.sum()))
            seen.append(np.asarray(frames[key])[ok])
    n = np.array(counts, int)
    big = np.nonzero(n >= min_obs)[0]  # a glimpse is classified but does not shape the groups
    if len(big) < 4:
        return {}, None
    lab = np.array(meds, np.float32)
    feats = _feature(lab)
    group = np.zeros(len(keys), int) - 1
    group[big] = fcluster(linkage(feats[big], "average"), KIT_GAP, "distance")
    teams: list[tuple[int, int]] = []  # (weight, group)
    for g in np.unique(group[big]):
        members = np.nonzero(group == g)[0]
        _, per_frame = np.unique(np.concatenate([seen[i] for i in members]), return_counts=True)
        if per_frame.max() >= 2:
            teams.append((int(n[members].sum()), int(g)))
    if len(teams) < 2:
        return {}, None
    chosen = [g for _, g in sorted(teams, reverse=True)[:2]]
    centres = np.zeros((2, 3), np.float32)
    radius = np.zeros(2)
    for t, g in enumerate(chosen):
        m = group == g
        centres[t] = np.average(feats[m], axis=0, weights=n[m])
        d = np.linalg.norm(feats[m] - centres[t], axis=1)
        # A glimpse's median is noisier than a whole track's: half the gap between kits.
        radius[t] = float(d.max()) * 1.5 + KIT_GAP / 2
    order = np.argsort(centres[:, 0])  # team 0 is the darker kit, as in `TeamModel.fit`
    model = TeamModel(centres[order], radius[order])
    label = {g: int(np.nonzero(order == t)[0][0]) for t, g in enumerate(chosen)}
    glimpse, _ = model.classify(lab)
    votes = {}
    for i, key in enumerate(keys):
        t = label.get(int(group[i]), OUTLIER) if group[i] >= 0 else int(glimpse[i])
        v = np.zeros(3)
        v[2 if t < 0 else t] = float(n[i])
        votes[key] = v
    return votes, model


def kit_changes(model: TeamModel, colours: np.ndarray, min_run: int = 6) -> list[int]:
    """Indices where a track's kit changes for good: where to cut it in two.

    When two players of different teams cross, the tracker sometimes follows the wrong one out
    of the crossing; the track then wears the other kit from there on. Each observation is
    given the nearest team kit (or "other" when far from both); runs shorter than ``min_run``
    are noise (a crop half covered by an opponent) and are ignored.
    """
    feats = _feature(np.asarray(colours, np.float32).reshape(-1, 3))
    d = np.linalg.norm(feats[:, None, :] - model.centres[None], axis=2)
    ok = np.isfinite(d).all(axis=1)
    near = np.where(ok[:, None], d, np.inf).argmin(axis=1)
    kit = np.where(d[np.arange(len(d)), near] <= 2 * model.radius[near], near, 2)
    idx = np.nonzero(ok)[0]
    if len(idx) < 2 * min_run:
        return []
    # Run-length encode the kits of the observations that have one.
    seq = kit[idx]
    starts = np.r_[0, np.nonzero(np.diff(seq))[0] + 1]
    lengths = np.diff(np.r_[starts, len(seq)])
    runs = [(int(seq[s]), int(s), int(n)) for s, n in zip(starts, lengths, strict=True)]
    # Only a change between the two team kits cuts: a run far from both is more often a crop
    # spoilt by someone else (the referee in front) than a new person.
    long = [r for r in runs if r[2] >= min_run and r[0] < 2]
    return [int(idx[cur[1]]) for prev, cur in pairwise(long) if cur[0] != prev[0]]


def _running_votes(rows: Rows, tracks: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """Each track's kit votes as the tracker summed them (the fallback when too few tracks are
    seen for `track_votes`)."""
    d = rows.detections
    out = {}
    for key, idx in tracks.items():
        v = np.zeros(3)
        for i in idx:
            slot, weight = kit_vote(float(d.score[i]), int(d.team[i]), float(d.team_confidence[i]))
            v[slot] += weight
        out[key] = v
    return out


def vote_kits(rows: Rows) -> tuple[Rows, dict[int, np.ndarray], TeamModel | None]:
    """After the run: kit votes per track from whole-track kit colours (see `track_votes`).

    Tracks that change kit for good mid-life (an identity swapped between opponents) are cut
    in two first, so that each piece gets its own team. Returns the rows (with the new ids of
    cut pieces), the votes per track id, and the two kits (None when too little was seen).
    """
    kit = rows.detections.kit

    def vote(tracks: dict[int, np.ndarray]) -> tuple[dict[int, np.ndarray], TeamModel | None]:
        return track_votes(
            {k: kit[idx] for k, idx in tracks.items()},
            {k: rows.frame[idx] for k, idx in tracks.items()},
        )

    tracks = rows.tracks()
    votes = _running_votes(rows, tracks)
    after, model = vote(tracks)
    if model is None:
        return rows, votes, None  # too little seen: keep the running votes
    ids = rows.track_id.copy()
    next_id = max(tracks, default=0) + 1
    for idx in tracks.values():
        for cut in kit_changes(model, kit[idx]):
            ids[idx[cut:]] = next_id
            next_id += 1
    if not np.array_equal(ids, rows.track_id):
        rows = rows.with_(track_id=ids)
        tracks = rows.tracks()
        votes = _running_votes(rows, tracks)
        after, model = vote(tracks)
        if model is None:
            return rows, votes, None
    votes.update(after)
    return rows, votes, model


# A "player" track in a kit of its own is the referee when the net called it one in at least this
# share of its score, over at least REFEREE_MIN_ROWS frames. Measured: the synthetic referee gets
# 0.3-0.4 of the net's votes while it calls him a player; with the rule he is found in 17 of 18
# clips (10 without), and no player becomes a referee. On the real LaLiga clip the one track it
# changed without the length condition was a 0.4-s fragment on a player's leg.
REFEREE_SHARE = 0.25
REFEREE_MIN_ROWS = 25
# A "player" track whose kit is beyond both team kits' radius (not only an outlier by vote) is
# no player: the goalkeeper when he stands in a goal's zone (the penalty area's depth), else the
# referee. On the real LaLiga clip the net called the referee a player in every frame (344 rows
# in the live shot), and he ran for the white team in its figures; the two other such tracks
# were the keeper, both 40+ m from the centre line.
KEEPER_ZONE_X = pitch.HALF_L - pitch.PENALTY_DEPTH
# Only for people seen this tall (median box height, pixels): a far player's few kit pixels can
# read beyond both kits (synthetic tactical seeds 75 / 77 without it: team accuracy 0.986 /
# 0.997 -> 0.977 / 0.982).
LEGIBLE_KIT_PX = 30.0


@dataclass(frozen=True)
class TrackLabel:
    role: int  # class id: GOALKEEPER, PLAYER or REFEREE
    team: int  # 0, 1, or -1 (referees)


def _left_team(votes: dict[int, np.ndarray], pitch_x: dict[int, float]) -> int:
    """Which team defends the left goal: the one whose players stand further left on average."""
    xs: dict[int, list[float]] = {0: [], 1: []}
    for key, v in votes.items():
        if v[:2].sum() > v[2] and key in pitch_x:
            xs[int(np.argmax(v[:2]))].append(pitch_x[key])
    return 0 if (np.mean(xs[0]) if xs[0] else 0) <= (np.mean(xs[1]) if xs[1] else 0) else 1


def _kit_distances(model: TeamModel | None, colours: np.ndarray) -> np.ndarray | None:
    """The track's median kit colour's distance to each team's kit (None: nothing to compare)."""
    colours = colours[np.isfinite(colours).all(axis=1)]
    if model is None or not len(colours):
        return None
    return np.linalg.norm(model.centres - _feature(np.median(colours, axis=0)), axis=1)


def _nearest_kit(model: TeamModel | None, colours: np.ndarray) -> int:
    """The team whose kit is nearest the track's median kit colour: for a track the net calls a
    player whose kit reads as neither (small, shadowed, half hidden): a player has a team."""
    dist = _kit_distances(model, colours)
    return -1 if dist is None else int(np.argmin(dist))


def _beyond_kits(model: TeamModel | None, colours: np.ndarray) -> bool:
    """Whether the track's median kit colour is outside both teams' kit radius."""
    dist = _kit_distances(model, colours)
    return dist is not None and model is not None and bool((dist > model.radius).all())


def label_tracks(
    rows: Rows, votes: dict[int, np.ndarray], model: TeamModel | None
) -> dict[int, TrackLabel]:
    """Team and role for each track, decided once.

    The role is the net's (a score-weighted vote over the track) and the team comes from the
    kit votes; goalkeepers join the team that defends their goal. The two evidences are crossed
    once: a track the net calls referee or goalkeeper but which wears one of the two team kits
    is a player (measured on a synthetic clip, where the net took a dark-kitted player for a
    referee for a whole track). The other way round — a "player" in a kit nobody else wears —
    is left to the net, unless the net itself called it a referee often (`REFEREE_SHARE`): on
    the real clip, small players' kits read as outliers often enough that a rule on the kit
    alone turned a score of them into keepers.
    """
    d = rows.detections
    tracks = rows.tracks()
    pitch_x: dict[int, float] = {}
    for key, idx in tracks.items():
        xy = d.pitch_xy[idx]
        xy = xy[np.isfinite(xy).all(axis=1)]
        if len(xy):
            pitch_x[key] = float(np.median(xy[:, 0]))
    left_team = _left_team({k: votes.get(k, np.zeros(3)) for k in tracks}, pitch_x)
    labels = {}
    for key, idx in tracks.items():
        v = votes.get(key, np.zeros(3))
        weights = np.bincount(d.class_id[idx], weights=d.score[idx], minlength=len(CLASSES))
        role = int(np.argmax(weights))
        outlier_kit = v[2] > v[:2].sum()
        referee_votes = weights[REFEREE] >= REFEREE_SHARE * weights.sum()
        long_enough = len(idx) >= REFEREE_MIN_ROWS
        if role == PLAYER and outlier_kit and referee_votes and long_enough:
            # A kit nobody else wears and a net that often says "referee": the referee (the
            # net's per-frame vote is split on him when he stands among players).
            role = REFEREE
        elif (
            role == PLAYER
            and outlier_kit
            and long_enough
            and np.median(d.xyxy[idx, 3] - d.xyxy[idx, 1]) >= LEGIBLE_KIT_PX
            and _beyond_kits(model, d.kit[idx])
        ):
            x = pitch_x.get(key)
            if x is not None:
                role = GOALKEEPER if abs(x) >= KEEPER_ZONE_X else REFEREE
        if role in (REFEREE, GOALKEEPER) and not outlier_kit and v[:2].sum() > 0:
            # Wears one of the two team kits (chosen over the whole run, worn by two people at
            # once): referees and keepers never do, so the net's role was wrong here.
            labels[key] = TrackLabel(PLAYER, int(np.argmax(v[:2])))
        elif role == REFEREE:
            labels[key] = TrackLabel(REFEREE, -1)
        elif role == GOALKEEPER:
            x = pitch_x.get(key)
            team = -1 if x is None else (left_team if x < 0 else 1 - left_team)
            labels[key] = TrackLabel(GOALKEEPER, team)
        else:
            team = int(np.argmax(v[:2])) if v[:2].sum() > 0 else _nearest_kit(model, d.kit[idx])
            labels[key] = TrackLabel(PLAYER, team)
    return labels


def decide(rows: Rows, votes: dict[int, np.ndarray], model: TeamModel | None) -> Rows:
    """Every person row gets its track's decided role (``class_id``) and team (``team``)."""
    labels = label_tracks(rows, votes, model)
    role, team = rows.detections.class_id.copy(), rows.detections.team.copy()
    for key, idx in rows.tracks().items():
        role[idx], team[idx] = labels[key].role, labels[key].team
    return rows.with_(class_id=role, team=team)
