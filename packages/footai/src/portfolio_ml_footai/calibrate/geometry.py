"""Calibration files and homography helpers.

A calibration file maps image points of one frame to pitch points (metres, origin at the centre
spot): ``{"frame": 0, "image_points": [[u, v], ...], "pitch_points": [[X, Y], ...]}``.
Everything a user can get wrong in it (missing keys, fewer than 4 points, collinear points, points
off the pitch, a fit that folds the pitch) is reported as one `CalibrationError` line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from portfolio_ml_core.errors import InputFileError
from portfolio_ml_core.geometry import apply_homography as apply_h

from .. import pitch


class CalibrationError(InputFileError):
    """A calibration file that cannot give a usable homography."""


@dataclass(frozen=True)
class Calibration:
    frame: int
    image_points: np.ndarray  # (N, 2) pixels
    pitch_points: np.ndarray  # (N, 2) metres

    def to_json(self) -> dict[str, Any]:
        return {
            "frame": self.frame,
            "image_points": np.round(self.image_points, 2).tolist(),
            "pitch_points": np.round(self.pitch_points, 3).tolist(),
        }


def load_calibration(path: str | Path) -> Calibration:
    p = Path(path)
    if not p.exists():
        raise CalibrationError(f"calibration file not found: {p}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CalibrationError(f"calibration {p} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CalibrationError(f"calibration {p} must be a JSON object")
    try:
        image = np.asarray(data["image_points"], dtype=np.float64)
        world = np.asarray(data["pitch_points"], dtype=np.float64)
        frame = int(data.get("frame", 0))
    except KeyError as exc:
        raise CalibrationError(f"calibration {p} has no {exc.args[0]!r} list") from None
    except (TypeError, ValueError):
        raise CalibrationError(f"calibration {p}: points must be lists of [x, y] numbers") from None
    if frame < 0:
        raise CalibrationError(f"calibration {p}: frame must be >= 0")
    if image.ndim != 2 or image.shape[1:] != (2,) or world.shape != image.shape:
        raise CalibrationError(
            f"calibration {p}: image_points and pitch_points must be equally long lists of [x, y]"
        )
    if not (np.isfinite(image).all() and np.isfinite(world).all()):
        raise CalibrationError(f"calibration {p}: points must be finite numbers")
    cal = Calibration(frame, image, world)
    homography_from_calibration(cal, source=str(p))  # validate now, fail early
    return cal


def _spread_ok(points: np.ndarray, min_extent: float) -> bool:
    """At least 4 points, not (nearly) collinear, covering more than ``min_extent``."""
    if len(points) < 4:
        return False
    centred = points - points.mean(axis=0)
    sv = np.linalg.svd(centred, compute_uv=False)
    return bool(sv[-1] / max(len(points), 1) ** 0.5 > min_extent and sv[0] > 0)


def general_position(points: np.ndarray) -> bool:
    """At least two points off every line through two others (a homography needs 4 points,
    no 3 of them collinear; clicks along one line give a fit that folds the rest).

    All pairs at once: this runs on every keypoint fit, in the per-frame loop.
    """
    points = np.asarray(points, dtype=np.float64)
    n = len(points)
    if n < 4:
        return False
    extent = float(np.ptp(points, axis=0).max()) or 1.0
    tol = 0.01 * extent
    i, j = np.triu_indices(n, k=1)
    d = points[j] - points[i]
    norm = np.hypot(d[:, 0], d[:, 1])
    lines = norm >= tol  # two (nearly) coincident points define no line
    normal = np.stack([-d[lines, 1], d[lines, 0]], axis=1) / norm[lines, None]
    offsets = points[None, :, :] - points[i[lines]][:, None, :]  # (lines, n, 2)
    on_line = np.abs(np.einsum("lnk,lk->ln", offsets, normal)) < tol
    return not bool((on_line.sum(axis=1) > n - 2).any())


def homography_from_calibration(cal: Calibration, source: str = "calibration") -> np.ndarray:
    """Pitch → image homography; raises CalibrationError when the points cannot define one."""
    n = len(cal.image_points)
    if n < 4:
        raise CalibrationError(f"{source}: needs at least 4 point pairs, got {n}")
    margin = 10.0
    if (np.abs(cal.pitch_points[:, 0]) > pitch.HALF_L + margin).any() or (
        np.abs(cal.pitch_points[:, 1]) > pitch.HALF_W + margin
    ).any():
        raise CalibrationError(
            f"{source}: pitch_points must be metres from the centre spot "
            f"(|X| ≤ {pitch.HALF_L:g}, |Y| ≤ {pitch.HALF_W:g})"
        )
    if (
        not _spread_ok(cal.pitch_points, 1.0)
        or not _spread_ok(cal.image_points, 5.0)
        or not general_position(cal.pitch_points)
    ):
        raise CalibrationError(
            f"{source}: the points are (nearly) collinear or bunched; give 4+ well-spread points, "
            "no three of them on one line"
        )
    h, _ = cv2.findHomography(cal.pitch_points, cal.image_points, 0)
    if h is None or not np.isfinite(h).all() or abs(np.linalg.det(h)) < 1e-12:
        raise CalibrationError(f"{source}: the points do not define a homography")
    h = h / h[2, 2]
    back = apply_h(h, cal.pitch_points)
    errs = np.linalg.norm(back - cal.image_points, axis=1)
    diag = float(np.linalg.norm(np.ptp(cal.image_points, axis=0)))
    if errs.max() > max(8.0, 0.03 * diag):
        worst = int(np.argmax(errs))
        raise CalibrationError(
            f"{source}: the point pairs disagree (pair {worst + 1} is {errs[worst]:.0f} px off the "
            "fit of the others); check that each image point matches its pitch point"
        )
    if not homography_is_plausible(h, cal.pitch_points):
        raise CalibrationError(f"{source}: the homography folds or mirrors the pitch")
    return h


def homography_is_plausible(h: np.ndarray, near_points: np.ndarray | None = None) -> bool:
    """The ground must stay in front of the camera and keep its handedness near the points."""
    pts = near_points if near_points is not None else np.array([[0.0, 0.0]])
    w = pts @ h[2, :2] + h[2, 2]
    if (w <= 0).any() and (w >= 0).any():
        return False
    # Local Jacobian sign: X to the right and Y downward in the image means det > 0.
    c = pts.mean(axis=0)
    d = apply_h(h, np.array([c, c + np.array([1.0, 0.0]), c + np.array([0.0, 1.0])]))
    jx, jy = d[1] - d[0], d[2] - d[0]
    return bool(jx[0] * jy[1] - jx[1] * jy[0] > 0)


def rescaled(motion: np.ndarray, scale: float) -> np.ndarray:
    """A pixel-to-pixel motion between two frames, in the pixels of copies ``scale`` times
    their size (S M S⁻¹, normalised): the camera motion, the shot-change test and the frames
    each work at a size of their own."""
    out = np.diag([scale, scale, 1.0]) @ motion @ np.diag([1.0 / scale, 1.0 / scale, 1.0])
    return out / out[2, 2]


def view_footprint(
    h: np.ndarray, size: tuple[int, int], top: float = 0.05, margin_m: float = 4.0
) -> np.ndarray | None:
    """The part of the pitch (plus ``margin_m`` around it) that frame ``size`` (w, h) shows
    through homography ``h`` (pitch metres → pixels), below the top ``top`` share of the
    frame: a convex polygon in metres, None when the camera sees none of it.

    Projecting the frame's corners does not give it: a corner above the horizon lands behind
    the camera or kilometres away, and clamping those points to the pitch drew a wedge across
    the tactical map. Each frame edge is a half-plane of the pitch instead (u ≥ 0 is
    row₀(h)·X ≥ 0 for X in front of the camera, where row₂(h)·X > 0), and the pitch rectangle
    is clipped by the five of them (Sutherland–Hodgman).
    """
    w, ht = size
    # The sign that makes the third coordinate the depth (> 0 in front): a camera above the
    # pitch that does not mirror it has a positive determinant then, wherever it stands.
    det = float(np.linalg.det(h))
    if not np.isfinite(det) or det == 0.0:
        return None
    r0, r1, r2 = np.asarray(h, float) * np.sign(det)
    planes = [r2, r0, w * r2 - r0, r1 - top * ht * r2, ht * r2 - r1]
    x, y = pitch.HALF_L + margin_m, pitch.HALF_W + margin_m
    poly = np.array([[-x, -y], [x, -y], [x, y], [-x, y]], float)
    for plane in planes:
        poly = _clip(poly, plane)
        if len(poly) < 3:
            return None
    return poly


def _clip(poly: np.ndarray, plane: np.ndarray) -> np.ndarray:
    """The part of convex polygon ``poly`` (N, 2) where plane · (x, y, 1) ≥ 0."""
    side = poly @ plane[:2] + plane[2]
    out = []
    for i in range(len(poly)):
        j = (i + 1) % len(poly)
        if side[i] >= 0:
            out.append(poly[i])
        if (side[i] >= 0) != (side[j] >= 0):
            t = side[i] / (side[i] - side[j])
            out.append(poly[i] + t * (poly[j] - poly[i]))
    return np.array(out, float).reshape(-1, 2)
