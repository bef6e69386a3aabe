"""Filters that steady noisy per-frame signals (landmarks, angles) without adding much lag."""

from __future__ import annotations

import math

import numpy as np


class OneEuroFilter:
    """The One-Euro filter (Casiez et al., CHI 2012) over scalars or numpy arrays.

    A low-pass filter whose cut-off rises with speed: steady when the signal holds still
    (jitter removed), responsive when it moves (little lag). ``min_cutoff`` (Hz) sets the
    smoothing at rest; ``beta`` how fast the cut-off grows with speed. NaN samples (a landmark
    not seen) pass through without disturbing the state.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0) -> None:
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    @staticmethod
    def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray:
        tau = 1.0 / (2 * math.pi * np.asarray(cutoff, dtype=np.float64))
        return 1.0 / (1.0 + tau / dt)

    def reset(self) -> None:
        self._x = self._dx = None
        self._t = None

    def __call__(self, value: np.ndarray | float, t: float) -> np.ndarray:
        x = np.asarray(value, dtype=np.float64)
        if self._x is None or self._t is None or self._dx is None:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dt = t - self._t
        if dt <= 0:
            return self._x.copy()
        self._t = t
        valid = np.isfinite(x)
        prev = np.where(np.isfinite(self._x), self._x, x)
        dx = (x - prev) / dt
        a_d = self._alpha(self.d_cutoff, dt)
        dx_hat = np.where(valid, a_d * dx + (1 - a_d) * self._dx, self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(dx_hat)
        a = self._alpha(cutoff, dt)
        x_hat = np.where(valid, a * x + (1 - a) * prev, self._x)
        self._x, self._dx = x_hat, np.nan_to_num(dx_hat)
        return x_hat.copy()
