"""Pitch positions over time: each track's positions smoothed after the run.

Raw ground points jitter by a few decimetres (box bottoms move with running legs), which would
inflate distance covered and make the radar view shake. Positions are smoothed with a centred
window over each track (the whole run is known by then); speeds and distances are computed from
the smoothed path (`analytics.physical`), and speeds above `MAX_SPEED` are measurement errors.
"""

from __future__ import annotations

import numpy as np

from . import pitch
from .match import Rows

MAX_SPEED = 10.5  # m/s, a little above the fastest measured sprints (~10.2 m/s)


def smooth_track(frames: np.ndarray, xy: np.ndarray, window: int) -> np.ndarray:
    """Local linear fit over a centred window (frame gaps respected), NaNs ignored.

    In the middle of a track this is the window's mean; at its ends, where the window is
    one-sided, a mean would lag a running player by half a window (~0.5 m at 4 m/s), the
    straight-line fit does not. The window sums are convolutions over the track's frame span,
    with time measured from each window's centre (no loop per point, no large-number
    cancellation on long tracks).
    """
    if len(frames) == 0 or window <= 1:
        return xy.copy()
    half = window // 2
    valid = np.isfinite(xy).all(axis=1)
    out = np.full_like(xy, np.nan)
    if not valid.any():
        return out
    first = int(frames.min())
    at = (frames - first).astype(np.intp)
    weight = np.zeros(int(at.max()) + 1)
    value = np.zeros((len(weight), xy.shape[1]))
    np.add.at(weight, at[valid], 1.0)
    np.add.at(value, at[valid], xy[valid])
    tau = np.arange(-half, half + 1, dtype=np.float64)  # frame offset from the window's centre

    def window_sum(series: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        # sum over |offset| <= half of series[i + offset] * kernel(offset)
        # (zero-padded so that a track shorter than the window keeps its own length)
        return np.convolve(np.pad(series, half), kernel[::-1], mode="valid")[at]

    ones = np.ones_like(tau)
    n = window_sum(weight, ones)
    s_t, s_tt = window_sum(weight, tau), window_sum(weight, tau**2)
    s_p = np.stack([window_sum(value[:, k], ones) for k in range(xy.shape[1])], axis=1)
    s_tp = np.stack([window_sum(value[:, k], tau) for k in range(xy.shape[1])], axis=1)
    seen = n > 0.5
    count = np.maximum(n, 1.0)
    t_mean, p_mean = s_t / count, s_p / count[:, None]
    spread = s_tt - s_t * t_mean
    line = seen & (n > 2.5) & (spread > 1e-9)
    slope = (
        np.where(line[:, None], (s_tp - s_t[:, None] * p_mean), 0.0)
        / np.where(line, spread, 1.0)[:, None]
    )
    out[seen] = (p_mean - slope * t_mean[:, None])[seen]  # the fitted line at this frame
    return out


OFF_PITCH_M = 6.0  # positions further outside the lines are dropped as homography errors


def smooth_positions(rows: Rows, fps: float, step: int, window_s: float = 0.5) -> Rows:
    """Each track's pitch positions smoothed over ``window_s`` (`smooth_track`); rows without a
    position stay without one. ``fps`` is the analysed frames' rate, ``step`` the video frames
    between two of them."""
    window = max(1, round(window_s * fps)) * step
    xy = rows.detections.pitch_xy.copy()
    seen = np.isfinite(xy).all(axis=1)
    for idx in rows.tracks().values():
        idx = idx[seen[idx]]
        pts = xy[idx].copy()
        # Nobody stands beyond the advertising boards: such a point is a homography error.
        off = (np.abs(pts[:, 0]) > pitch.HALF_L + OFF_PITCH_M) | (
            np.abs(pts[:, 1]) > pitch.HALF_W + OFF_PITCH_M
        )
        pts[off] = np.nan
        xy[idx] = smooth_track(rows.frame[idx], pts, window)
    return rows.with_(pitch_xy=xy)
