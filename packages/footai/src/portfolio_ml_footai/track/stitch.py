"""After the run: drop tracks on screen overlays and goal frames, stitch broken tracks, fill
short gaps.

Online tracking breaks an identity when a player is hidden longer than the tracker coasts, or
is merged into a team-mate's blob; a new id then starts a few frames later a metre or two away.
With the whole run known, such pairs are linked on the pitch (camera motion does not matter
there): same kit, a short gap, and a distance a player could cover in it.

Each function takes the match's rows (`match.Rows`) and returns new ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from .. import pitch
from ..match import Rows, same_shot
from ..teams import kit_team

MAX_GAP_S = 1.6
RUN_SPEED = 7.0  # m/s allowed during the gap
SLACK_M = 1.5
MAX_FILL_S = 0.4  # gaps up to this long inside one track are filled by interpolation
MIN_TRACK_S = 0.3  # a shorter track inside the run is a flicker, not a person followed
OVERLAY_SHARE = 0.5  # a track that spends this share of its frames on a screen overlay is one
# Or one that touches an overlay while fixed on the screen (`_screen_fixed`): its box centre
# within SCREEN_STILL_PX for SCREEN_FIXED_ROWS rows or more while its pitch position moves
# PITCH_MOVED_M (the camera panned under it).
SCREEN_STILL_PX = 8.0
SCREEN_FIXED_ROWS = 25
PITCH_MOVED_M = 3.0
# A goal's frame (post and net, which the net takes for a person when the camera is close): a
# track whose rows stay within STILL_M of one place for at least STILL_S, on a goal line within
# POST_M of a post. A player sways more: on the real LaLiga clip the posts stood within 0.3-0.7 m
# for 2-4 s (3.2-4.2 m off the goal's centre), the keepers moved 2.5-5 m. (The net called the
# posts goalkeepers as often as players, so the role cannot spare a keeper who stands as still
# on his line; where he stands can: facing a penalty he is in the goal's middle, 2+ m off a post.)
STILL_M = 0.75
STILL_S = 1.5
STILL_SHARE = 0.8  # of a track's mapped rows
GOAL_LINE_M = (1.0, 2.5)  # in front of, behind the goal line (the net's bottom lies behind it)
POST_M = 1.5  # either side of a post


@dataclass(frozen=True)
class OverlaysByShot:
    """Per shot, its first frame and where the picture kept still while the camera panned
    (0/255): scorebugs and league logos, learnt by the camera-motion stage. A mask may be
    coarser than the frame: one mask pixel covers ``cell_px`` frame pixels."""

    shots: Sequence[tuple[int, np.ndarray]]
    cell_px: float = 1.0

    def of(self, frame: int) -> np.ndarray:
        """The overlay of the shot that holds ``frame``."""
        starts = [first for first, _ in self.shots]
        return self.shots[max(int(np.searchsorted(starts, frame, "right")) - 1, 0)][1]

    def cells(self, points: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(columns, rows) of frame ``points`` (N, 2) in ``mask``, clipped to it."""
        h, w = mask.shape
        cx = np.clip((points[:, 0] / self.cell_px).astype(int), 0, w - 1)
        cy = np.clip((points[:, 1] / self.cell_px).astype(int), 0, h - 1)
        return cx, cy


def drop_overlay_tracks(rows: Rows, overlays: OverlaysByShot) -> Rows:
    """The rows without the tracks whose boxes sit on static screen overlays.

    A track is tested against the overlay of the shot it starts in (tracks end at a shot
    change): a graphic shown in one shot only — the LaLiga clip's big score graphic in its
    first shot — is forgotten by the end of the run, and its crest was a player for 100
    frames. Overlays are drawn over the pitch, so no visible player stands inside one; a logo
    the net takes for a person does, frame after frame.
    """
    if not len(rows) or not any(mask.any() for _, mask in overlays.shots):
        return rows
    centres = rows.detections.centres
    drop = []
    for key, idx in rows.tracks().items():
        overlay = overlays.of(int(rows.frame[idx[0]]))
        cx, cy = overlays.cells(centres[idx], overlay)
        inside = (overlay[cy, cx] > 0).mean() >= OVERLAY_SHARE
        if inside or _screen_fixed(rows, idx, overlay, overlays):
            drop.append(key)
    if not drop:
        return rows
    return rows[~np.isin(rows.track_id, drop) | ~rows.people]


def _screen_fixed(
    rows: Rows, idx: np.ndarray, overlay: np.ndarray, overlays: OverlaysByShot
) -> bool:
    """A track that stays put on the screen while the pitch moves under it, touching an
    overlay: part of a graphic whose middle the overlay mask missed. (The motion stage learns
    an overlay from still corners outside people's boxes, so a crest the net takes for a person
    is a hole in it: on the LaLiga clip the crest's box moved 2 px in 100 frames while its
    pitch position moved 10 m.) A player the camera follows moves tens of pixels."""
    d = rows.detections
    xy = d.pitch_xy[idx]
    xy = xy[np.isfinite(xy).all(axis=1)]
    if len(idx) < SCREEN_FIXED_ROWS or len(xy) < 2:
        return False
    if np.ptp(d.centres[idx], axis=0).max() > SCREEN_STILL_PX:
        return False
    if np.ptp(xy, axis=0).max() < PITCH_MOVED_M:
        return False
    x0, y0 = overlays.cells(d.xyxy[idx, :2], overlay)
    x1, y1 = overlays.cells(d.xyxy[idx, 2:], overlay)
    touched = [
        overlay[a : c + 1, b : e + 1].any() for b, a, e, c in zip(x0, y0, x1, y1, strict=True)
    ]
    return float(np.mean(touched)) >= OVERLAY_SHARE


def drop_goal_frame_tracks(rows: Rows, video_fps: float) -> Rows:
    """The rows without those of a goal's frame (see `STILL_M`): a track's rows within
    `STILL_M` of its median place on a goal line by a post, when they are most of its rows and span
    `STILL_S`. The rest of such a track stays (a tracker that lost the post may have carried
    its id on to a player: the LaLiga clip's post track ended on one for its last 4 rows)."""
    d = rows.detections
    drop = np.zeros(len(rows), bool)
    for idx in rows.tracks().values():
        mapped = idx[np.isfinite(d.pitch_xy[idx]).all(axis=1)]
        if not len(mapped):
            continue
        xy = d.pitch_xy[mapped]
        x, y = np.median(xy, axis=0)
        beyond_line = abs(x) - pitch.HALF_L
        if not (
            -GOAL_LINE_M[0] <= beyond_line <= GOAL_LINE_M[1]
            and abs(abs(y) - pitch.GOAL_HALF_W) <= POST_M
        ):
            continue
        still = mapped[np.linalg.norm(xy - (x, y), axis=1) <= STILL_M]
        if len(still) < STILL_SHARE * len(mapped):
            continue
        first, last = rows.frame[still[0]], rows.frame[still[-1]]
        if (last - first) / video_fps >= STILL_S:
            # Every row of that stretch: a few jittering further would be drawn back in.
            drop[idx[(rows.frame[idx] >= first) & (rows.frame[idx] <= last)]] = True
    if not drop.any():
        return rows
    return rows[~(drop & rows.people)]


def keep_confirmed(rows: Rows, confirmed: dict[int, int]) -> Rows:
    """Only the tracks the tracker confirmed, renumbered 1, 2, … in order of confirmation;
    the ball rows stay."""
    ids = rows.track_id
    keep = ~rows.people | np.isin(ids, list(confirmed))
    rows = rows[keep]
    new = np.array([confirmed.get(int(k), -1) for k in rows.track_id], np.int64)
    return rows.with_(track_id=np.where(rows.people, new, rows.track_id))


@dataclass(frozen=True)
class _Tracklet:
    track_id: int
    first: int
    last: int
    start: np.ndarray
    end: np.ndarray
    team: int


def _tracklets(rows: Rows, votes: dict[int, np.ndarray]) -> list[_Tracklet]:
    xy = rows.detections.pitch_xy
    out = []
    for key, idx in rows.tracks().items():
        idx = idx[np.isfinite(xy[idx]).all(axis=1)]
        if not len(idx):
            continue
        pts = xy[idx]
        team = kit_team(votes.get(key, np.zeros(3)))
        start, end = pts[:3].mean(axis=0), pts[-3:].mean(axis=0)
        out.append(
            _Tracklet(key, int(rows.frame[idx[0]]), int(rows.frame[idx[-1]]), start, end, team)
        )
    return out


def stitch(
    rows: Rows,
    votes: dict[int, np.ndarray],
    fps: float,
    step: int,
    shot_starts: tuple[int, ...] = (),
) -> tuple[Rows, dict[int, np.ndarray]]:
    """Broken tracks joined under the id of their first piece; the votes summed likewise.
    ``fps`` is the analysed frames' rate, ``step`` the video frames between two of them;
    ``shot_starts`` the frames where a new shot begins (nothing is joined across one)."""
    frame_s = step / fps
    max_gap = round(MAX_GAP_S / frame_s) * step
    pieces = _tracklets(rows, votes)
    pairs = []
    for p in pieces:
        for q in pieces:
            gap = q.first - p.last
            if p.track_id == q.track_id or gap <= 0 or gap > max_gap or p.team != q.team:
                continue
            if not same_shot(p.last, q.first, shot_starts):
                continue
            d = float(np.linalg.norm(q.start - p.end))
            if d <= SLACK_M + RUN_SPEED * gap / step * frame_s:
                pairs.append((d + 0.05 * gap, p.track_id, q.track_id))
    pairs.sort()
    nxt: dict[int, int] = {}
    prv: dict[int, int] = {}
    for _, pk, qk in pairs:
        if pk not in nxt and qk not in prv:
            nxt[pk], prv[qk] = qk, pk
    if not nxt:
        return rows, votes
    root: dict[int, int] = {}
    for p in pieces:
        k = p.track_id
        while k in prv:
            k = prv[k]
        root[p.track_id] = k
    ids = np.array([root.get(int(k), int(k)) for k in rows.track_id], np.int64)
    merged: dict[int, np.ndarray] = {}
    for key, v in votes.items():
        r = root.get(key, key)
        merged[r] = merged.get(r, np.zeros(3)) + v
    return rows.with_(track_id=np.where(rows.people, ids, rows.track_id)), merged


def drop_flickers(rows: Rows, frames: tuple[int, ...], fps: float) -> Rows:
    """The rows without the people tracks seen in fewer analysed frames than `MIN_TRACK_S`
    takes (after stitching: a stitched track counts whole), unless they touch the run's first
    or last frame (a short clip, or a player caught at its ends).

    What the tracker confirms in under a third of a second is rarely a person it could follow:
    on the real LaLiga clip they were the superimposed players of the dissolve between its two
    shots (3-4 frames each, cut by the shot change) and boxes flickering in a crowded penalty
    box; dropping them took the first 300 frames from 50 to 45 ids (630 frames: 75 → 66) and
    left the six synthetic bench clips' F1 and IDF1 as they were (±0.001).
    """
    if not len(rows) or not frames:
        return rows
    least = max(1, round(MIN_TRACK_S * fps))
    ends = (min(frames), max(frames))
    keep = np.ones(len(rows), bool)
    for idx in rows.tracks().values():
        if len(idx) >= least:
            continue
        if rows.frame[idx].min() > ends[0] and rows.frame[idx].max() < ends[1]:
            keep[idx] = False
    return rows if keep.all() else rows[keep]


def fill_gaps(rows: Rows, frames: tuple[int, ...], fps: float, step: int) -> Rows:
    """Short gaps inside a track filled by linear interpolation (rows appended at the end).

    The detector misses a player for a few frames when a team-mate passes in front or the
    picture blurs; the track goes on either side, so the box in between is better guessed than
    left out (ByteTrack's offline interpolation). Filled rows carry no kit colour and no
    appearance (they do not vote for a team nor count as a look) and the lower of the two
    scores either side.
    """
    seen = set(frames)  # only analysed frames are filled (--stride skips the others)
    if len(seen) < 2:
        return rows
    max_gap = max(1, round(MAX_FILL_S * fps)) * step
    d = rows.detections
    source: list[int] = []  # the row before each filled one
    after_rows: list[int] = []  # the row after
    filled_at: list[int] = []  # the filled frame
    weights: list[float] = []  # share of the row after
    for idx in rows.tracks().values():
        for i, j in pairwise(idx):
            gap = int(rows.frame[j] - rows.frame[i])
            if gap <= step or gap > max_gap:
                continue
            for f in range(int(rows.frame[i]) + step, int(rows.frame[j]), step):
                if f in seen:
                    source.append(i)
                    after_rows.append(j)
                    filled_at.append(f)
                    weights.append((f - rows.frame[i]) / gap)
    if not source:
        return rows
    before, after = d[np.array(source)], d[np.array(after_rows)]
    t = np.array(weights)[:, None]
    filled = before.with_(
        xyxy=(1 - t) * before.xyxy + t * after.xyxy,
        score=np.minimum(before.score, after.score),
        pitch_xy=(1 - t) * before.pitch_xy + t * after.pitch_xy,  # NaN if either side has none
        kit=np.full((len(source), 3), np.nan, np.float32),
        appearance=np.full_like(before.appearance, np.nan),
    )
    return Rows.concat([rows, Rows(np.array(filled_at, np.int64), filled)])
