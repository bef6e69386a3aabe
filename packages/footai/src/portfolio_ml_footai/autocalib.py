"""Homographies from the painted lines: automatic calibration and drift correction.

`auto_calibrate` searches the pose of a broadcast main camera (beside the halfway line; distance,
height, pan, tilt, zoom) for the view whose projected pitch model best explains the white lines
seen on the grass (a two-sided chamfer distance), then refines the homography by ICP on the
line pixels. `LineRefiner` runs the same ICP every few frames during a run, which removes the
slow drift of chained frame-to-frame camera motion.
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.optimize import minimize

from . import pitch
from .calibration import apply_h, homography_is_plausible
from .camera import BroadcastCamera
from .segmentation import PitchMasks

MODEL_POINTS = pitch.sample_line_points(0.5)
MODEL_LINES = pitch.pitch_lines()
LINE_POINTS = np.concatenate([line.points for line in MODEL_LINES])
LINE_SPLITS = np.cumsum([0] + [len(line.points) for line in MODEL_LINES])


@dataclass(frozen=True)
class AutoFit:
    homography: np.ndarray
    detail: str
    cost: float
    position: tuple[float, float]  # camera distance behind the near touchline, height (m)


GOOD_FIT = 0.75  # two-sided chamfer cost (τ = 5 px at 320 px width) of an acceptable new fit
LOST_FIT = 1.2  # a running homography is only declared lost well above that: overlays, faint
# far lines and players on the markings all raise the cost of a correct homography


def _quarter(
    image: np.ndarray,
    masks: PitchMasks,
    boxes: np.ndarray | None,
    overlay: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    fh, fw = image.shape[:2]
    qw = 320
    qs = qw / fw
    qh = round(fh * qs)
    field = cv2.resize(masks.field, (qw, qh), interpolation=cv2.INTER_NEAREST)
    wk = masks.field.shape[1] / fw
    lines_work = line_pixels(image, masks.field, boxes, wk, overlay)
    lines = (cv2.resize(lines_work, (qw, qh), interpolation=cv2.INTER_AREA) > 40).astype(
        np.uint8
    ) * 255
    return lines_work, lines, field, qs, wk


def fit_cost(
    image: np.ndarray,
    masks: PitchMasks,
    h: np.ndarray,
    boxes: np.ndarray | None = None,
    overlay: np.ndarray | None = None,
) -> float:
    """How badly the homography's projected lines miss the visible ones (lower is better)."""
    _, lines, field, qs, _ = _quarter(image, masks, boxes, overlay)
    if np.count_nonzero(lines) < 60:
        return float("inf")
    return _Scorer(lines, field, tau=5.0).cost(np.diag([qs, qs, 1.0]) @ h)


def camera_position(h: np.ndarray, size: tuple[int, int]) -> tuple[float, float] | None:
    """(distance behind the near touchline, height) of the camera a homography implies."""
    from .calibration import camera_from_homography

    cam = camera_from_homography(h, size)
    if cam is None:
        return None
    centre = -cam.r.T @ cam.t
    dist, height = float(centre[1] - pitch.HALF_W), float(abs(centre[2]))
    if not (2 < dist < 150 and 2 < height < 80):
        return None
    return dist, height


def line_pixels(
    image: np.ndarray,
    field: np.ndarray,
    boxes: np.ndarray | None,
    scale: float,
    overlay: np.ndarray | None = None,
) -> np.ndarray:
    """White line pixels at the resolution of ``field`` (players' boxes blanked out)."""
    h, w = field.shape
    gray = cv2.cvtColor(cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
    k = max(5, round(h / 45)) | 1
    tophat = cv2.morphologyEx(
        gray, cv2.MORPH_TOPHAT, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    )
    # Painted lines: brighter than the grass around them by a clear margin (top 3 % of the
    # field's local contrast, at least 18 grey levels).
    thr = max(18.0, float(np.percentile(tophat[field > 0], 97)) if np.any(field) else 18.0)
    lines = ((tophat > thr) & (field > 0)).astype(np.uint8) * 255
    # The field edge itself (grass meeting boards) is not a line: keep off it.
    lines[cv2.erode(field, np.ones((5, 5), np.uint8)) == 0] = 0
    if boxes is not None:
        for x, y, bw, bh in boxes:
            cv2.rectangle(
                lines,
                (int(x * scale) - 2, int(y * scale) - 2),
                (int((x + bw) * scale) + 2, int((y + bh) * scale) + 2),
                0,
                -1,
            )
    if overlay is not None:
        lines[overlay > 0] = 0  # scorebug underlines and logos are not pitch markings
    # Lines are long; players, the ball and lettering are compact blobs.
    n, labels, stats, _ = cv2.connectedComponentsWithStats(lines, connectivity=8)
    if n > 1:
        extent = np.maximum(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT])
        fill = stats[1:, cv2.CC_STAT_AREA] / np.maximum(
            stats[1:, cv2.CC_STAT_WIDTH] * stats[1:, cv2.CC_STAT_HEIGHT], 1
        )
        keep = (extent >= max(12, w // 25)) & ((fill < 0.35) | (extent >= w // 8))
        lines = np.where(np.isin(labels, np.nonzero(keep)[0] + 1), lines, 0).astype(np.uint8)
    return lines


def _nearest(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Distance to, and coordinates of, the nearest line pixel for every pixel."""
    zero = np.argwhere(lines > 0)
    if len(zero) < 20:
        return None
    dist, labels = cv2.distanceTransformWithLabels(
        cv2.bitwise_not(lines), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    return dist, zero[:, ::-1].astype(np.float64)[labels - 1]  # (h, w, 2) x, y of nearest


def icp_refine(
    h_work: np.ndarray, lines: np.ndarray, iters: int = 4, max_dist: float = 8.0
) -> tuple[np.ndarray, int, float] | None:
    """Refine a pitch → working-image homography onto line pixels. Returns (H, inliers, mean dist)."""
    near = _nearest(lines)
    if near is None:
        return None
    dist, coords = near
    hh, ww = lines.shape
    cur = h_work.copy()
    n_in, mean_d = 0, float("inf")
    for it in range(iters):
        uv = apply_h(cur, MODEL_POINTS)
        ok = (uv[:, 0] >= 0) & (uv[:, 0] < ww - 1) & (uv[:, 1] >= 0) & (uv[:, 1] < hh - 1)
        ok &= (MODEL_POINTS @ cur[2, :2] + cur[2, 2]) > 0
        if ok.sum() < 20:
            return None
        px = uv[ok].round().astype(int)
        d = dist[px[:, 1], px[:, 0]]
        lim = max_dist * (1.0 - 0.5 * it / max(1, iters - 1))
        close = d < lim
        if close.sum() < 20:
            return None
        world = MODEL_POINTS[ok][close]
        # Spread check: points on a single line cannot pin down a homography.
        if np.ptp(world[:, 0]) < 8 or np.ptp(world[:, 1]) < 8:
            return None
        target = coords[px[close, 1], px[close, 0]]
        new, mask = cv2.findHomography(world, target, cv2.RANSAC, 2.0)
        if new is None:
            return None
        cur = new / new[2, 2]
        n_in, mean_d = int(mask.sum()), float(d[close].mean())
    return cur, n_in, mean_d


class LineRefiner:
    """Periodic drift correction of the chained homography by ICP on the visible lines."""

    def __init__(self, size: tuple[int, int], every: int = 3, work_width: int = 640) -> None:
        self.size = size
        self.every = every
        self.scale = min(1.0, work_width / size[0])
        self.n = 0
        self.corrections = 0

    def update(
        self, image: np.ndarray, masks: PitchMasks, h: np.ndarray, boxes: np.ndarray, scale: float
    ) -> np.ndarray:
        self.n += 1
        if self.n % self.every or os.environ.get("FOOTAI_NO_REFINE"):
            return h
        s = np.diag([scale, scale, 1.0])
        lines = line_pixels(image, masks.field, boxes, scale)
        res = icp_refine(s @ h, lines, iters=2, max_dist=6.0)
        if res is None:
            return h
        new_work, inliers, _ = res
        new = np.linalg.inv(s) @ new_work
        new /= new[2, 2]
        # Accept only small, well-supported corrections: a jump means a wrong match.
        probe = MODEL_POINTS[::7]
        a, b = apply_h(h, probe), apply_h(new, probe)
        inside = (a[:, 0] > 0) & (a[:, 0] < self.size[0]) & (a[:, 1] > 0) & (a[:, 1] < self.size[1])
        if inliers < 40 or not inside.any():
            return h
        shift = float(np.median(np.linalg.norm(a[inside] - b[inside], axis=1)))
        if shift > 0.02 * self.size[0] or not homography_is_plausible(new):
            return h
        self.corrections += 1
        # Blend: the chained motion is smooth, line fits are noisier; move part of the way.
        blended = 0.5 * (h / np.linalg.norm(h)) + 0.5 * (new / np.linalg.norm(new))
        return blended / blended[2, 2]


# -- global search ------------------------------------------------------------------------
class _Scorer:
    def __init__(self, lines: np.ndarray, field: np.ndarray, tau: float) -> None:
        self.lines, self.field, self.tau = lines, field, tau
        self.dist = cv2.distanceTransform(cv2.bitwise_not(lines), cv2.DIST_L2, 3)
        ys, xs = np.nonzero(lines)
        step = max(1, len(xs) // 1500)
        self.line_px = np.stack([xs[::step], ys[::step]], axis=1)
        self.h, self.w = lines.shape

    def cost(self, hm: np.ndarray, tau: float | None = None, coarse: bool = False) -> float:
        """Two-sided chamfer cost; ``coarse`` = the cheap one-sided part plus a penalty for
        showing few markings (for ranking thousands of random poses)."""
        tau = tau or self.tau
        uv = apply_h(hm, MODEL_POINTS)
        front = (MODEL_POINTS @ hm[2, :2] + hm[2, 2]) > 0
        ok = front & (uv[:, 0] >= 0) & (uv[:, 0] < self.w) & (uv[:, 1] >= 0) & (uv[:, 1] < self.h)
        if ok.sum() < 25:
            return 2.0
        px = uv[ok].astype(int)
        on_field = self.field[px[:, 1], px[:, 0]] > 0
        if on_field.sum() < 20:
            return 2.0
        a = float(np.minimum(self.dist[px[on_field, 1], px[on_field, 0]], tau).mean()) / tau
        if coarse:
            return a + 0.5 * max(0.0, 1.0 - on_field.sum() / 150.0)
        canvas = np.zeros_like(self.lines)
        q_all = apply_h(hm, LINE_POINTS)
        w_all = LINE_POINTS @ hm[2, :2] + hm[2, 2]
        polys = []
        for s0, s1 in itertools.pairwise(LINE_SPLITS):
            q = q_all[s0:s1]
            if (w_all[s0:s1] > 0).all() and np.abs(q).max() < 1e5:
                polys.append((q * 4).round().astype(np.int32))
        if polys:
            cv2.polylines(canvas, polys, False, 255, 1, shift=2)
        dm = cv2.distanceTransform(cv2.bitwise_not(canvas), cv2.DIST_L2, 3)
        b = float(np.minimum(dm[self.line_px[:, 1], self.line_px[:, 0]], tau).mean()) / tau
        return a + b


def _camera(p: np.ndarray, w: int, h: int) -> BroadcastCamera:
    dist, height, pan, tilt, logf = p
    return BroadcastCamera(0.0, pitch.HALF_W + dist, height, pan, tilt, math.exp(logf) * w, w, h)


def auto_calibrate(
    image: np.ndarray,
    masks: PitchMasks,
    boxes: np.ndarray | None = None,
    seed: int = 0,
    position: tuple[float, float] | None = None,
    overlay: np.ndarray | None = None,
    thorough: bool = True,
) -> AutoFit | None:
    """Fit the pitch → image homography of ``image`` from its markings, or None.

    ``position``: the camera's (distance, height) when already known (after a cut in the same
    broadcast), which makes the search smaller and faster.
    """
    fh, fw = image.shape[:2]
    lines_work, lines, field, qs, wk = _quarter(image, masks, boxes, overlay)
    qw, qh = lines.shape[1], lines.shape[0]
    if np.count_nonzero(lines) < 60:
        return None
    scorer = _Scorer(lines, field, tau=5.0)
    rng = np.random.default_rng(seed)
    # The far touchline is usually the top edge of the grass: it fixes the tilt for a given pose.
    col = field[:, qw // 2]
    top = int(np.argmax(col > 0)) if col.any() else 0
    best_cost, best_p = float("inf"), np.zeros(5)
    # A correct fit costs ~0.1-0.3 on clean footage (~0.5 with overlays); a search that ends
    # above 0.4 may sit in a wrong basin (a circle fitted to the wrong arc), so search again.
    for attempt in range(3 if thorough else 1):
        samples = []
        n_samples = (1200 if position is None else 400) if attempt == 0 else 1500
        for _ in range(n_samples):
            if position is None or attempt == 2:
                dist, height = rng.uniform(8, 60), rng.uniform(6, 40)
            else:
                dist, height = (
                    position[0] * rng.uniform(0.9, 1.1),
                    position[1] * rng.uniform(0.9, 1.1),
                )
            pan, logf = rng.uniform(-1.0, 1.0), rng.uniform(math.log(0.4), math.log(5.0))
            f = math.exp(logf) * qw
            if top > 0.03 * qh and rng.random() < 0.85:
                reach = (dist + pitch.WIDTH) / max(math.cos(pan), 0.2)
                tilt = math.atan2(height, reach) - math.atan2(top - qh / 2, f)
            else:
                tilt = rng.uniform(0.05, 0.7)
            p = np.array([dist, height, pan, tilt, logf])
            hm = _camera(p, qw, qh).homography()
            samples.append((scorer.cost(hm, 30.0), p))
        samples.sort(key=lambda s: s[0])
        # Coarse to fine: a wide distance cap gives wide basins, then tighten it.
        for _, p0 in samples[: 6 if position is None else 3]:
            p = p0
            for tau, fev in ((30.0, 150), (12.0, 150), (5.0, 150)):
                res = minimize(
                    lambda q, t=tau: scorer.cost(_camera(q, qw, qh).homography(), t),
                    p,
                    method="Nelder-Mead",
                    options={"maxfev": fev, "xatol": 1e-4, "fatol": 1e-5},
                )
                p = res.x
            c = scorer.cost(_camera(p, qw, qh).homography(), 5.0)
            if c < best_cost:
                best_cost, best_p = c, p
        if best_cost <= 0.4:
            break
    h_q = _camera(best_p, qw, qh).homography()
    # Free 8-parameter refinement at working resolution.
    s_qw = np.diag([wk / qs, wk / qs, 1.0])
    refined = icp_refine(s_qw @ h_q, lines_work, iters=5, max_dist=10.0)
    sw = np.diag([wk, wk, 1.0])
    s_q = np.diag([qs, qs, 1.0])
    options = [s_qw @ h_q] + ([refined[0]] if refined is not None else [])
    scored = []
    for h_work in options:
        h_full = np.linalg.inv(sw) @ h_work
        h_full /= h_full[2, 2]
        scored.append((scorer.cost(s_q @ h_full), h_full))
    final_cost, h_full = min(scored, key=lambda t: t[0])
    if os.environ.get("FOOTAI_DEBUG"):
        print("autocalib", best_cost, final_cost, best_p, refined is not None)
    if final_cost > GOOD_FIT or not homography_is_plausible(h_full):
        return None
    cam = _camera(best_p, fw, fh)
    detail = (
        f"line-fit cost {final_cost:.2f}; camera ≈ {cam.y - pitch.HALF_W:.0f} m behind the near "
        f"touchline, {cam.z:.0f} m high, pan {math.degrees(cam.pan):.0f}°"
    )
    return AutoFit(
        h_full,
        detail,
        final_cost,
        camera_position(h_full, (fw, fh)) or (cam.y - pitch.HALF_W, cam.z),
    )


def local_refit(
    image: np.ndarray,
    masks: PitchMasks,
    h: np.ndarray,
    boxes: np.ndarray | None = None,
    overlay: np.ndarray | None = None,
) -> AutoFit | None:
    """Re-fit a drifted homography: search the camera pose near the one it implies."""
    from .calibration import camera_from_homography

    fh, fw = image.shape[:2]
    lines_work, lines, field, qs, wk = _quarter(image, masks, boxes, overlay)
    qw, qh = lines.shape[1], lines.shape[0]
    if np.count_nonzero(lines) < 60:
        return None
    cam = camera_from_homography(h, (fw, fh))
    if cam is None:
        return None
    centre = -cam.r.T @ cam.t
    fwd = cam.r[2, :]
    up = 1.0 if centre[2] > 0 else -1.0
    cx = float(centre[0])
    p0 = np.array(
        [
            centre[1] - pitch.HALF_W,
            abs(centre[2]),
            math.atan2(fwd[0], -fwd[1]),
            math.asin(float(np.clip(-up * fwd[2], -1, 1))),
            math.log(cam.k[0, 0] / fw),
        ]
    )

    def camera(p: np.ndarray) -> np.ndarray:
        dist, height, pan, tilt, logf = p
        c = BroadcastCamera(cx, pitch.HALF_W + dist, height, pan, tilt, math.exp(logf) * qw, qw, qh)
        return c.homography()

    scorer = _Scorer(lines, field, tau=5.0)
    p = p0
    for tau in (20.0, 8.0, 5.0):
        res = minimize(
            lambda q, t=tau: scorer.cost(camera(q), t),
            p,
            method="Nelder-Mead",
            options={"maxfev": 120, "xatol": 1e-4, "fatol": 1e-5},
        )
        p = res.x
    h_q = camera(p)
    s_qw = np.diag([wk / qs, wk / qs, 1.0])
    refined = icp_refine(s_qw @ h_q, lines_work, iters=4, max_dist=8.0)
    sw = np.diag([wk, wk, 1.0])
    s_q = np.diag([qs, qs, 1.0])
    best: tuple[float, np.ndarray] | None = None
    for h_work in [s_qw @ h_q] + ([refined[0]] if refined is not None else []):
        h_full = np.linalg.inv(sw) @ h_work
        h_full /= h_full[2, 2]
        c = scorer.cost(s_q @ h_full)
        if best is None or c < best[0]:
            best = (c, h_full)
    assert best is not None
    if best[0] > GOOD_FIT or not homography_is_plausible(best[1]):
        return None
    return AutoFit(
        best[1], f"local re-fit, cost {best[0]:.2f}", best[0], (float(p[0]), float(p[1]))
    )
