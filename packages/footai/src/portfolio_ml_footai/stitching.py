"""Offline track clean-up: stitch broken tracks, fill short gaps, drop tracks on overlays.

Stitching joins a track that ends to one that starts nearby soon after.

Online tracking breaks an identity when a player is hidden longer than the tracker coasts, or
is merged into a team-mate's blob; a new id then starts a few frames later a metre or two away.
With the whole run known, such pairs are linked on the pitch (camera motion does not matter
there): same team, a short gap, and a distance a player could cover in it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np

from .pipeline import Analysis, PlayerObs

MAX_GAP_S = 1.6
RUN_SPEED = 7.0  # m/s allowed during the gap
SLACK_M = 1.5


@dataclass(frozen=True)
class _Tracklet:
    key: int
    first: int
    last: int
    start: np.ndarray
    end: np.ndarray
    team: int


def _tracklets(a: Analysis) -> list[_Tracklet]:
    by_key: dict[int, list[PlayerObs]] = {}
    for p in a.players:
        if p.key in a.track_ids and p.pitch is not None and np.isfinite(p.pitch).all():
            by_key.setdefault(p.key, []).append(p)
    out = []
    for key, obs in by_key.items():
        obs.sort(key=lambda o: o.frame)
        votes = a.track_votes.get(key, np.zeros(3))
        team = -1 if votes[2] > votes[:2].sum() else int(np.argmax(votes[:2]))
        pts = np.array([o.pitch for o in obs if o.pitch is not None], dtype=np.float64)
        start, end = pts[:3].mean(axis=0), pts[-3:].mean(axis=0)
        out.append(_Tracklet(key, obs[0].frame, obs[-1].frame, start, end, team))
    return out


def stitch(a: Analysis) -> Analysis:
    """A copy of ``a`` with broken tracks joined under the id of their first piece."""
    if len(a.frames) < 2:
        return a
    step = a.frame_step
    frame_s = step / a.fps
    max_gap = round(MAX_GAP_S / frame_s) * step
    pieces = _tracklets(a)
    pairs = []
    for p in pieces:
        for q in pieces:
            gap = q.first - p.last
            if p.key == q.key or gap <= 0 or gap > max_gap or p.team != q.team:
                continue
            d = float(np.linalg.norm(q.start - p.end))
            if d <= SLACK_M + RUN_SPEED * gap / step * frame_s:
                pairs.append((d + 0.05 * gap, p.key, q.key))
    pairs.sort()
    nxt: dict[int, int] = {}
    prv: dict[int, int] = {}
    for _, pk, qk in pairs:
        if pk not in nxt and qk not in prv:
            nxt[pk], prv[qk] = qk, pk
    if not nxt:
        return a
    root: dict[int, int] = {}
    for p in pieces:
        k = p.key
        while k in prv:
            k = prv[k]
        root[p.key] = k
    players = [replace(o, key=root.get(o.key, o.key)) for o in a.players]
    votes: dict[int, np.ndarray] = {}
    for key, v in a.track_votes.items():
        r = root.get(key, key)
        votes[r] = votes.get(r, np.zeros(3)) + v
    ids = {k: v for k, v in a.track_ids.items() if root.get(k, k) == k}
    return replace(a, players=players, track_votes=votes, track_ids=ids)


MAX_FILL_S = 0.4  # gaps up to this long inside one track are filled by interpolation


def fill_gaps(a: Analysis) -> Analysis:
    """A copy of ``a`` with short gaps inside confirmed tracks filled by linear interpolation.

    The detector misses a player for a few frames when a team-mate passes in front or the
    picture blurs; the track goes on either side, so the box in between is better guessed than
    left out (ByteTrack's offline interpolation). Filled observations carry no kit colour (they
    do not vote for a team) and the lower of the two scores either side.
    """
    if len(a.frames) < 2:
        return a
    step = a.frame_step
    max_gap = max(1, round(MAX_FILL_S * a.fps)) * step
    seen = set(a.frames)
    by_key: dict[int, list[PlayerObs]] = {}
    for p in a.players:
        if p.key in a.track_ids:
            by_key.setdefault(p.key, []).append(p)
    filled: list[PlayerObs] = []
    for obs in by_key.values():
        obs.sort(key=lambda o: o.frame)
        for before, after in pairwise(obs):
            gap = after.frame - before.frame
            if gap <= step or gap > max_gap:
                continue
            for f in range(before.frame + step, after.frame, step):
                if f not in seen:
                    continue
                t = (f - before.frame) / gap
                pitch_xy = None
                if before.pitch is not None and after.pitch is not None:
                    pitch_xy = (1 - t) * before.pitch + t * after.pitch
                filled.append(
                    replace(
                        before,
                        frame=f,
                        box=(1 - t) * before.box + t * after.box,
                        score=min(before.score, after.score),
                        pitch=pitch_xy,
                        colour=None,
                    )
                )
    if not filled:
        return a
    players = sorted(a.players + filled, key=lambda o: o.frame)
    return replace(a, players=players)


OVERLAY_SHARE = 0.5  # a track that spends this share of its frames on a screen overlay is one


def drop_overlay_tracks(a: Analysis, overlay: np.ndarray) -> Analysis:
    """A copy of ``a`` without the tracks whose boxes sit on static screen overlays.

    ``overlay`` (0/255, frame size) is where the picture kept still while the camera panned:
    scorebugs and league logos, learnt by the camera-motion stage over the run. Overlays are
    drawn over the pitch, so no visible player stands inside one; a logo the net takes for a
    person does, frame after frame.
    """
    if not overlay.any():
        return a
    h, w = overlay.shape
    inside: dict[int, list[bool]] = {}
    for p in a.players:
        cx = int(np.clip(p.box[0] + p.box[2] / 2, 0, w - 1))
        cy = int(np.clip(p.box[1] + p.box[3] / 2, 0, h - 1))
        inside.setdefault(p.key, []).append(bool(overlay[cy, cx]))
    drop = {k for k, v in inside.items() if np.mean(v) >= OVERLAY_SHARE}
    if not drop:
        return a
    return replace(
        a,
        players=[p for p in a.players if p.key not in drop],
        track_ids={k: v for k, v in a.track_ids.items() if k not in drop},
        track_votes={k: v for k, v in a.track_votes.items() if k not in drop},
    )
