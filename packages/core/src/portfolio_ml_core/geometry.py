"""Small geometry helpers: joint angles and homographies."""

from __future__ import annotations

import numpy as np


def joint_angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    """Angle ABC in degrees (at vertex ``b``), for 2D or 3D points; NaN if a segment is empty."""
    ba = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    bc = np.asarray(c, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    norm = float(np.linalg.norm(ba) * np.linalg.norm(bc))
    if norm < 1e-12:
        return float("nan")
    cos = float(np.dot(ba, bc)) / norm
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def segment_inclination(top: np.ndarray, bottom: np.ndarray) -> float:
    """Angle in degrees between segment bottom→top and the image's upward vertical (2D)."""
    d = np.asarray(top, dtype=np.float64) - np.asarray(bottom, dtype=np.float64)
    if float(np.hypot(d[0], d[1])) < 1e-12:
        return float("nan")
    # Image y grows downward, so "up" is (0, -1).
    return float(np.degrees(np.arctan2(abs(d[0]), -d[1])))


def apply_homography(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map ``(N, 2)`` points through a 3x3 homography.

    A point on the horizon line (w ≈ 0) maps far away rather than to inf/NaN, so callers can
    range-check results without special cases.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    h = np.asarray(h, dtype=np.float64)
    mapped = pts @ h[:, :2].T + h[:, 2]
    w = mapped[:, 2:3]
    w = np.where(np.abs(w) < 1e-12, 1e-12, w)
    return mapped[:, :2] / w
