"""The pitch from its painted lines alone, where no keypoint fit holds (`search_lines`).

The net's keypoints fix the main camera. From a gantry, a zoomed-in or a tactical camera they
are often too few or in the wrong places (on the real test frames redrawn as other cameras the
net finds 42–59 % of the labelled ones, and on *high* views most of what it finds lies where
no keypoint is). The painted lines are there in every view. So:

1. a dictionary of broadcast camera poses — anywhere on the near side, 6–45 m up, 12–80° wide,
   aimed at any point of the pitch — is drawn once per process as coarse line maps;
2. the frame's painted-line pixels are matched against every pose by chamfer distance (both
   ways, truncated); the closest few poses are moved to the frame's line map in the camera's
   six parameters (`refine_pose`: the dictionary is sparse in six dimensions), then onto the
   lines themselves (`lines.onto_lines`, from a wide capture radius down to a few pixels);
3. a result is kept only when the lines agree with it both ways — most of the model's lines in
   view lie on painted lines (support) and most painted lines lie on the model's (coverage) —
   and no other result nearly as good puts the pitch elsewhere (3 m or more away), and the
   lines it matches run more than one way in the picture (`crossing_m`: one straight line fits
   a pitch seen edge-on perfectly). A wrong homography is worse than none (players drawn
   metres away).

Measured (shipped net, `bench footai.views_pitch`, docs/footai.md), with weak keypoint fits
(4–7 inliers) giving way to the search where the lines clearly prefer it: on the 206 views
redrawn from the real test frames, views within 1.5 m 0.413 → 0.583 (high 0.24 → 0.73, wide
0.67 → 0.80, zoomed 0.04 → 0.33), more than 3 m off 0.087 → 0.068; on the 266 redrawn from the
valid frames (the bars were not chosen on them) 0.410 → 0.571 and 0.079 → 0.060 (since session
19, a 4–5-keypoint start needing line support 0.3, and rivals ambiguous only 3+ m apart: within
1.5 m 0.587 and 0.575, more than 3 m off 0.019 and 0.019). Synthetic 10-s
clips with every keypoint hidden: all 250 frames calibrated, median position error 0.38–0.44 m
(static, pan, two tactical seeds). On real main-camera frames, lines alone, it calibrates 10 of
23 test frames (9 within 0.8 m, one 25 m off: only the halfway line and the circle in view) and
18 of 29 valid ones (one 4.6 m off): there the keypoints come first.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from portfolio_ml_core.fsutil import write_npz_atomic
from portfolio_ml_core.models import cache_dir

from .. import pitch
from ..detections import PitchKeypoints
from .geometry import apply_h, homography_is_plausible
from .keypoints import CHECK_BELOW_INLIERS, KeypointFit
from .lines import (
    NEAR_LINE_PX,
    PREFER_MARGIN,
    FrameLines,
    LineMap,
    fit_frame,
    in_view,
    line_map,
    line_samples,
    onto_lines,
    pitch_shift_m,
)

MAP_SIZE = (80, 45)  # the dictionary's line maps (w, h): coarse, so neighbours overlap
POSES = 20_000
POSE_SEED = 0
TRUNCATE_PX = 8.0  # chamfer distances are truncated here (map pixels): one stray line counts once
DISTANCE_SCALE = 16  # map distances stored as uint8 sixteenths of a pixel
MIN_MAP_PIXELS = 30  # a pose showing fewer line pixels than this is no view of the pitch
CANDIDATES = 6  # closest poses refined (10 found the same views, at twice the time)
# Capture radii (work-copy pixels, 640 wide): a dictionary pose is a few metres off, so the first
# match reaches far; the last ones are the refinement's own.
CAPTURES = (24.0, 16.0, 10.0, 6.0, 4.0, 3.0)
MIN_LINE_PIXELS = 50  # fewer painted-line pixels in the work copy: nothing to search with
# Both ways (`_agreement`). Right results measured support 0.4-0.95 and coverage 0.7-1.0; below
# either bar wrong ones (3+ m off) were as common as right ones.
MIN_FOUND_SUPPORT = 0.4
MIN_COVERAGE = 0.7
# Two results that both pass, nearly as good (F1 of support and coverage within this much) and
# more than AMBIGUOUS_M apart on the pitch (`lines.pitch_shift_m`): the lines fit two places (a
# zoomed view of a box's corner), so neither is kept. Rivals closer than that are one place
# found twice: on the redrawn views such pairs were 0.2-1.6 m off the truth, and the old test
# (4 % of the frame width apart, the tracker's `homographies_disagree`) refused them.
AMBIGUOUS_SCORE = 0.1
AMBIGUOUS_M = 3.0
# Metres of matched model line across the main direction the matched lines take in the picture
# (`crossing_m`): one straight line gives 0.5-0.9, right results on the test views 4 and more.
MIN_CROSSING_M = 2.0
COVER_PX = 3  # a painted-line pixel this close to the model's projected lines is explained
SAMPLE_STEP_M = 0.25  # model line samples for the dictionary and for coverage
# `refine_pose`: first steps (metres for position and aim, degrees for the field of view) and
# its budget of cost evaluations (~0.4 ms each).
POSE_STEPS = (3.0, 3.0, 3.0, 3.0, 3.0, 3.0)
POSE_EVALUATIONS = 150
SAME_POSE = 0.5  # refined poses within this (each parameter) are one camera
# A result the lines agree with this well (F1 of support and coverage) ends the search. It saves
# time, and on the redrawn views the rivals later candidates found to such a result only ever
# threw out a right one (one zoomed view: 0.549 → 0.553 within 1.5 m, none more wrong).
CONVINCING = 0.9
NEAR_M = 1.0  # model points closer to the camera plane than this are not drawn


@dataclass(frozen=True)
class LineSearch:
    """What the search kept: the homography (pitch metres → frame pixels) and how the lines
    agree with it."""

    homography: np.ndarray
    support: float  # share of the model's line samples in view on painted lines
    coverage: float  # share of painted-line pixels on the model's lines


DENSE_SAMPLES, DENSE_DIRECTIONS = line_samples(SAMPLE_STEP_M)
DENSE_WORLD_T = np.c_[DENSE_SAMPLES, np.ones(len(DENSE_SAMPLES))].T  # (3, samples)


# Where the dictionary's cameras are: anywhere along the near side (a little beyond the goal
# lines), 5-50 m back from the touchline, 6-45 m up, 12-80° wide (log-uniform), aimed anywhere
# on the pitch. `refine_pose` may leave these ranges a little, not the near side.
POSE_X = (-65.0, 65.0)
POSE_BACK = (5.0, 50.0)
POSE_Z = (6.0, 45.0)
POSE_FOV = (12.0, 80.0)
# A refined pose outside these is no broadcast camera: a field of view near 0 or past 180°
# breaks the projection, and a negative one turns the camera upside down (the far side).
FOV_LIMITS = (5.0, 120.0)
MIN_HEIGHT_M = 1.0


def pose_homography(pose: np.ndarray, size: tuple[int, int] = MAP_SIZE) -> np.ndarray:
    """Pitch metres → pixels of a ``size`` picture for a pose (camera x, y, z, aimed-at x, y,
    field of view in degrees; no roll): `synth.camera.BroadcastCamera` written out with floats
    (it runs ~1000 times a search), scaled so that the third coordinate is the depth in metres."""
    x, y, z, tx, ty, fov = (float(v) for v in pose)
    w, h = size
    dx, dy = tx - x, y - ty
    pan, tilt = math.atan2(dx, dy), math.atan2(z, math.hypot(dx, dy))
    cp, sp, ct, st = math.cos(pan), math.sin(pan), math.cos(tilt), math.sin(tilt)
    # Rows right, down (= right × forward), forward; columns: the world's x, y, then t.
    right = (cp, sp, 0.0)
    forward = (sp * ct, -cp * ct, -st)
    down = (-sp * st, cp * st, -ct)
    r = np.array([right, down, forward])
    t = -r @ np.array([x, y, z])
    focal = w / 2 / math.tan(math.radians(fov) / 2)
    k = np.array([[focal, 0.0, w / 2], [0.0, focal, h / 2], [0.0, 0.0, 1.0]])
    return np.asarray(k @ np.c_[r[:, :2], t])


def _random_poses(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 6) poses, as `pose_homography` reads them."""
    position = np.stack(
        [
            rng.uniform(*POSE_X, n),
            pitch.HALF_W + rng.uniform(*POSE_BACK, n),
            rng.uniform(*POSE_Z, n),
        ],
        axis=1,
    )
    target = np.stack(
        [rng.uniform(-pitch.HALF_L, pitch.HALF_L, n), rng.uniform(-pitch.HALF_W, pitch.HALF_W, n)],
        axis=1,
    )
    fov = np.exp(rng.uniform(math.log(POSE_FOV[0]), math.log(POSE_FOV[1]), n))
    return np.c_[position, target, fov]


def _truncated_distance(binary: np.ndarray) -> np.ndarray:
    """Distance (map pixels) to the nearest set pixel, truncated at `TRUNCATE_PX`."""
    dist = cv2.distanceTransform(np.where(binary, 0, 255).astype(np.uint8), cv2.DIST_L2, 3)
    return np.minimum(dist, TRUNCATE_PX)


@dataclass(frozen=True)
class PoseDictionary:
    poses: np.ndarray  # (n, 6): camera x, y, z, aimed-at x, y (metres), field of view (degrees)
    distance: np.ndarray  # (n, map pixels) uint8: distance to the pose's lines, sixteenths
    lines: Any  # scipy CSR (n, map pixels): 1 where the pose's lines are

    @property
    def line_pixels(self) -> np.ndarray:
        """Line pixels per pose."""
        return np.diff(self.lines.indptr)

    @staticmethod
    def build(n: int = POSES, seed: int = POSE_SEED, chunk: int = 1000) -> PoseDictionary:
        from scipy import sparse

        w, h = MAP_SIZE
        rng = np.random.default_rng(seed)
        kept_p, kept_maps = [], []
        count = 0
        while count < n:
            chunk_poses = _random_poses(chunk, rng)
            hs = np.array([pose_homography(p) for p in chunk_poses])
            q = hs @ DENSE_WORLD_T  # (chunk, 3, samples)
            front = q[:, 2] > NEAR_M
            depth = np.where(front, q[:, 2], 1.0)
            u, v = q[:, 0] / depth, q[:, 1] / depth
            inside = front & (u >= 0) & (u < w) & (v >= 0) & (v < h)
            maps = np.zeros((chunk, h * w), bool)
            rows, cols = np.nonzero(inside)
            maps[rows, v[rows, cols].astype(int) * w + u[rows, cols].astype(int)] = True
            keep = np.nonzero(maps.sum(axis=1) >= MIN_MAP_PIXELS)[0][: n - count]
            kept_p.append(chunk_poses[keep])
            kept_maps.append(maps[keep])
            count += len(keep)
        lit = np.concatenate(kept_maps)
        distance = np.empty(lit.shape, np.uint8)
        for i, one in enumerate(lit):
            dist = _truncated_distance(one.reshape(h, w))
            distance[i] = np.round(dist.ravel() * DISTANCE_SCALE)
        rows, cols = np.nonzero(lit)
        lines = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=lit.shape)
        return PoseDictionary(np.concatenate(kept_p), distance, lines)

    def closest(self, query: np.ndarray, k: int = CANDIDATES) -> np.ndarray:
        """Indices of the ``k`` poses nearest a binary line map of `MAP_SIZE` (chamfer)."""
        flat = query.ravel()
        on = np.nonzero(flat)[0]
        to_pose = self.distance[:, on].mean(axis=1, dtype=np.float32) / DISTANCE_SCALE
        q_dist = _truncated_distance(query).ravel().astype(np.float32)
        to_query = (self.lines @ q_dist) / np.maximum(self.line_pixels, 1)
        score = to_pose + np.asarray(to_query).ravel()
        k = min(k, len(score))
        best = np.argpartition(score, k - 1)[:k]
        return best[np.argsort(score[best])]

    def save(self, path: Path) -> None:
        write_npz_atomic(
            path,
            poses=self.poses,
            distance=self.distance,
            indices=self.lines.indices,
            indptr=self.lines.indptr,
        )

    @staticmethod
    def load(path: Path) -> PoseDictionary:
        """Raises ValueError when the file's arrays do not fit together (a damaged file)."""
        from scipy import sparse

        with np.load(path) as z:
            poses, distance, indices, indptr = z["poses"], z["distance"], z["indices"], z["indptr"]
        n = len(poses)
        if (
            poses.shape != (n, 6)
            or distance.shape != (n, MAP_SIZE[0] * MAP_SIZE[1])
            or indptr.shape != (n + 1,)
            or indptr[-1] != len(indices)
        ):
            raise ValueError(f"{path}: the pose dictionary's arrays do not fit together")
        data = np.ones(len(indices), np.float32)  # every stored pixel is a line pixel
        lines = sparse.csr_matrix((data, indices, indptr), shape=distance.shape)
        return PoseDictionary(poses, distance, lines)


def _dictionary_file() -> Path:
    """The cache file for this dictionary: named by everything that shapes it."""
    shape = (POSES, POSE_SEED, MAP_SIZE, TRUNCATE_PX, DISTANCE_SCALE, MIN_MAP_PIXELS, NEAR_M)
    cameras = (POSE_X, POSE_BACK, POSE_Z, POSE_FOV)
    samples = (SAMPLE_STEP_M, DENSE_SAMPLES.shape, round(float(DENSE_SAMPLES.sum()), 6))
    recipe = repr((*shape, *cameras, *samples, 2))  # 2: the file's layout and drawing code
    key = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    return cache_dir() / "footai" / f"line-poses-{key}.npz"


@functools.cache
def pose_dictionary() -> PoseDictionary:
    """Built on a machine's first use (~4 s) and kept in the cache folder (91 MB, loaded in
    ~0.1 s; `PORTFOLIO_ML_CACHE_DIR` moves it), then kept for the process."""
    path = _dictionary_file()
    try:
        return PoseDictionary.load(path)
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile):
        pass  # not built yet, or a damaged file: build it again
    poses = PoseDictionary.build()
    with contextlib.suppress(OSError):  # a read-only cache folder: build again next time
        poses.save(path)
        for stale in path.parent.glob("line-poses-*.npz"):  # an older recipe's: ~90 MB each
            if stale != path:
                stale.unlink()
    return poses


def _pose_cost(pose: np.ndarray, query_distance: np.ndarray, query_on: np.ndarray) -> float:
    """Chamfer distance both ways between a pose's line map and the frame's (map pixels)."""
    w, h = MAP_SIZE
    if not FOV_LIMITS[0] <= pose[5] <= FOV_LIMITS[1] or pose[2] < MIN_HEIGHT_M:
        return 2 * TRUNCATE_PX
    q = pose_homography(pose) @ DENSE_WORLD_T
    front = q[2] > NEAR_M
    u, v = q[0, front] / q[2, front], q[1, front] / q[2, front]
    inside = (u >= 0) & (u < w) & (v >= 0) & (v < h)
    if inside.sum() < MIN_MAP_PIXELS:
        return 2 * TRUNCATE_PX  # no view of the pitch: as bad as can be
    ui, vi = u[inside].astype(int), v[inside].astype(int)
    drawn = np.zeros((h, w), bool)
    drawn[vi, ui] = True
    to_query = float(query_distance[vi, ui].mean())
    return to_query + float(_truncated_distance(drawn)[query_on].mean())


def refine_pose(pose: np.ndarray, query: np.ndarray) -> np.ndarray:
    """A dictionary pose moved to the frame's line map (Nelder–Mead on the camera's six
    parameters). The dictionary is sparse in six dimensions, so its nearest pose may be metres
    off, beyond what matching line pixels (ICP) can pull back; the coarse chamfer distance has
    a much wider basin (on a synthetic tactical frame 6 of the 10 nearest poses reached the
    true camera this way, none without)."""
    from scipy.optimize import minimize

    query_distance = _truncated_distance(query)
    simplex = np.vstack([pose, pose + np.diag(POSE_STEPS)])
    solved = minimize(
        _pose_cost,
        pose,
        args=(query_distance, query),
        method="Nelder-Mead",
        options={"maxfev": POSE_EVALUATIONS, "initial_simplex": simplex, "fatol": 0.01},
    )
    return np.asarray(solved.x)


def _agreement(h_work: np.ndarray, found: LineMap) -> tuple[float, float] | None:
    """(support, coverage) of a work-copy homography; None when too little of it is in view,
    or when the lines it explains run one way only (`crossing_m`)."""
    hh, ww = found.lines.shape
    seen, px = in_view(h_work, found.lines.shape, DENSE_SAMPLES)
    if len(px) < 40:
        return None
    on_lines = found.distance[px[:, 1], px[:, 0]] < NEAR_LINE_PX
    matched = np.flatnonzero(seen)[on_lines]
    if crossing_m(h_work, DENSE_SAMPLES[matched], DENSE_DIRECTIONS[matched]) < MIN_CROSSING_M:
        return None
    support = float(np.mean(on_lines))
    drawn = np.zeros((hh, ww), np.uint8)
    drawn[px[:, 1], px[:, 0]] = 255
    near_model = cv2.dilate(drawn, np.ones((2 * COVER_PX + 1, 2 * COVER_PX + 1), np.uint8)) > 0
    coverage = float(np.mean(near_model[found.lines > 0]))
    return support, coverage


def crossing_m(h_work: np.ndarray, points: np.ndarray, directions: np.ndarray) -> float:
    """Metres of matched model line (``points`` on the pitch, their unit ``directions``) that
    run across the main direction they take in the picture: the smaller eigenvalue of their
    picture directions' orientation tensor, times the samples' spacing. Painted lines that all
    run one way in the picture (one straight line, or a pitch seen edge-on so that all its
    lines fall on one) leave a homography free along them, however well it fits them."""
    if len(points) == 0:
        return 0.0
    step = apply_h(h_work, points + 0.05 * directions) - apply_h(h_work, points)
    unit = step / np.maximum(np.linalg.norm(step, axis=1, keepdims=True), 1e-9)
    tensor = unit.T @ unit  # sums of d·dᵀ: a direction's sign does not count
    return float(np.linalg.eigvalsh(tensor)[0]) * SAMPLE_STEP_M


def search_lines(frame_lines: FrameLines) -> LineSearch | None:
    """The pitch found from the frame's painted lines alone (see the module's docstring), or
    None when none of the candidates agrees with them well enough."""
    lines = frame_lines.painted_pixels()
    if np.count_nonzero(lines) < MIN_LINE_PIXELS:
        return None
    hh, ww = lines.shape
    query = cv2.resize(lines, MAP_SIZE, interpolation=cv2.INTER_AREA) > 20
    if query.sum() < 5:
        return None
    poses = pose_dictionary()
    to_work_from_map = np.diag([ww / MAP_SIZE[0], hh / MAP_SIZE[1], 1.0])
    scale = frame_lines.scale
    found = line_map(lines)
    kept: list[tuple[float, np.ndarray, float, float]] = []
    refined: list[np.ndarray] = []
    for i in poses.closest(query):
        pose = refine_pose(poses.poses[i], query)
        # Nearby poses often converge on one camera: move it onto the lines once.
        if any(np.abs(pose - other).max() < SAME_POSE for other in refined):
            continue
        refined.append(pose)
        moved = onto_lines(to_work_from_map @ pose_homography(pose), found, CAPTURES)
        if moved is None or not homography_is_plausible(moved):
            continue
        agreement = _agreement(moved, found)
        if agreement is None:
            continue
        support, coverage = agreement
        if support >= MIN_FOUND_SUPPORT and coverage >= MIN_COVERAGE:
            h = np.diag([1 / scale, 1 / scale, 1.0]) @ moved
            score = 2 * support * coverage / (support + coverage)
            kept.append((score, h / h[2, 2], support, coverage))
            if score >= CONVINCING:
                break
    return one_place(kept, frame_lines.image.shape)


def one_place(
    kept: list[tuple[float, np.ndarray, float, float]], shape: tuple[int, ...]
) -> LineSearch | None:
    """The best of the results that passed (score, homography, support, coverage), unless
    another nearly as good puts the pitch more than `AMBIGUOUS_M` away in a ``shape`` frame."""
    if not kept:
        return None
    score, best, support, coverage = max(kept, key=lambda k: k[0])
    for other_score, other, _, _ in kept:
        close = other is not best and other_score >= score - AMBIGUOUS_SCORE
        if close and pitch_shift_m(best, other, shape) > AMBIGUOUS_M:
            return None
    return LineSearch(best, support, coverage)


@dataclass(frozen=True)
class FrameFit:
    """How one frame on its own is calibrated (`calibrate_frame`)."""

    fit: KeypointFit | None  # the keypoint fit that stands
    found: LineSearch | None  # or what the line search found instead
    rejected: bool  # a weak keypoint fit the painted lines contradicted

    @property
    def homography(self) -> np.ndarray | None:
        if self.found is not None:
            return self.found.homography
        return self.fit.homography if self.fit is not None else None

    @property
    def method(self) -> str:
        return "lines" if self.found else "keypoints" if self.fit else "none"


def calibrate_frame(
    keypoints: PitchKeypoints, image: np.ndarray, people_xyxy: np.ndarray | None = None
) -> FrameFit:
    """One frame on its own (eval-pitch, the views bench, `calibrate --auto`), calibrated as a
    run calibrates a shot's start: a keypoint fit on `CHECK_BELOW_INLIERS` or more stands; a
    weaker one (4 keypoints fix a homography whatever their identities, 5–7 check it little)
    must be confirmed by the lines, and gives way to what the line search finds when the lines
    clearly like that better (`better_pitch`: on the real test frames the one weak fit whose search result was
    25 m off had the same support)."""
    lines = FrameLines(image, people_xyxy)
    fit, rejected = fit_frame(keypoints, image, lines=lines)
    if fit is not None and fit.n_inliers >= CHECK_BELOW_INLIERS:
        return FrameFit(fit, None, False)
    found = better_pitch(lines, None if fit is None else fit.homography)
    if found is not None:
        return FrameFit(None, found, rejected)
    return FrameFit(fit, None, rejected)


class SearchableFrameLines(FrameLines):
    """A frame's painted lines that can also find the pitch on their own: what a run's
    `keypoints.HomographyTracker` is given (`FrameLinesLike.search`)."""

    def search(self, current: np.ndarray | None) -> np.ndarray | None:
        """The pitch the lines alone find, when it should stand instead of ``current`` (None:
        there is no homography); see `better_pitch`."""
        found = better_pitch(self, current)
        return None if found is None else found.homography


def better_pitch(lines: FrameLines, current: np.ndarray | None) -> LineSearch | None:
    """What the line search finds, when it should stand instead of ``current`` (a weak keypoint
    fit's homography, or one the lines reject; None: there is none): the lines must clearly like
    it better (support higher by `PREFER_MARGIN`)."""
    found = search_lines(lines)
    if found is None or current is None:
        return found
    mine, theirs = lines.support(found.homography), lines.support(current)
    better = mine is not None and (theirs is None or mine > theirs + PREFER_MARGIN)
    return found if better else None
