"""Pitch positions over time: smoothing, speed and distance with physical caps.

Raw ground points jitter by a few decimetres (box bottoms move with running legs), which would
inflate distance covered and make the radar view shake. Positions are smoothed with a centred
window over each track (the whole run is known when outputs are written), speeds come from the
smoothed path, and steps faster than a human sprint are treated as measurement errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_SPEED = 10.5  # m/s, a little above the fastest measured sprints (~10.2 m/s)


def smooth_track(frames: np.ndarray, xy: np.ndarray, window: int) -> np.ndarray:
    """Local linear fit over a centred window (frame gaps respected), NaNs ignored.

    In the middle of a track this is the window's mean; at its ends, where the window is
    one-sided, a mean would lag a running player by half a window (~0.5 m at 4 m/s), the
    straight-line fit does not.
    """
    if len(frames) == 0 or window <= 1:
        return xy.copy()
    out = np.full_like(xy, np.nan)
    half = window // 2
    valid = np.isfinite(xy).all(axis=1)
    for i, f in enumerate(frames):
        sel = valid & (np.abs(frames - f) <= half)
        if not sel.any():
            continue
        pts = xy[sel]
        t = (frames[sel] - f).astype(np.float64)
        t_mean, p_mean = t.mean(), pts.mean(axis=0)
        spread = float(((t - t_mean) ** 2).sum())
        if len(t) < 3 or spread == 0.0:
            out[i] = p_mean
            continue
        slope = ((t - t_mean)[:, None] * (pts - p_mean)).sum(axis=0) / spread
        out[i] = p_mean - slope * t_mean  # the fitted line at t = 0 (this frame)
    return out


@dataclass(frozen=True)
class Motion:
    distance_m: float
    top_speed_ms: float
    seconds: float


def motion_stats(frames: np.ndarray, xy: np.ndarray, fps: float) -> Motion:
    """Distance covered and top speed from a track's pitch positions (any smoothing applied)."""
    ok = np.isfinite(xy).all(axis=1)
    frames, xy = frames[ok], xy[ok]
    if len(frames) < 2:
        return Motion(0.0, 0.0, 0.0)
    # Speed over ~1 s steps: short steps are dominated by residual jitter.
    step = max(1, round(fps / 2))
    sub_f, sub_xy = frames[::step], xy[::step]
    dt = np.diff(sub_f) / fps
    d = np.linalg.norm(np.diff(sub_xy, axis=0), axis=1)
    contiguous = dt <= 2.0 * step / fps
    speed = np.where(dt > 0, d / np.maximum(dt, 1e-9), 0.0)
    plausible = contiguous & (speed <= MAX_SPEED)
    distance = float(d[plausible].sum())
    top = float(speed[plausible].max()) if plausible.any() else 0.0
    return Motion(distance, min(top, MAX_SPEED), float((frames[-1] - frames[0]) / fps))
