"""Player candidates: non-grass blobs on the field, checked and split with size priors.

The prior is the expected standing height in pixels at each ground point. With a homography it is
1.75 m times the local pixels-per-metre (a vertical person of ~1.85 m seen from a broadcast
elevation); without one it is learnt from the blobs themselves (height grows linearly down the
image in a broadcast view).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

HeightPrior = Callable[[np.ndarray], np.ndarray]  # foot points (N, 2) px → expected heights (N,)


@dataclass(frozen=True)
class Candidate:
    box: tuple[float, float, float, float]  # x, y, w, h in frame pixels
    score: float

    @property
    def foot(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return (x + w / 2, y + h)


@dataclass
class LearnedPrior:
    """Expected height ≈ a + b·v from isolated blobs, with a robust running fit."""

    samples: list[tuple[float, float]]
    a: float = 0.0
    b: float = 0.0
    ready: bool = False

    def add(self, v: np.ndarray, h: np.ndarray) -> None:
        self.samples.extend(zip(v.tolist(), h.tolist(), strict=True))
        self.samples = self.samples[-600:]
        if len(self.samples) >= 30:
            arr = np.array(self.samples)
            # Median height per image band, then a line through the band medians.
            bands = np.quantile(arr[:, 0], np.linspace(0, 1, 6))
            pts = []
            for lo, hi in zip(bands[:-1], bands[1:], strict=True):
                sel = arr[(arr[:, 0] >= lo) & (arr[:, 0] <= hi)]
                if len(sel) >= 4:
                    pts.append((np.median(sel[:, 0]), np.median(sel[:, 1])))
            if len(pts) >= 2:
                p = np.array(pts)
                b, a = np.polyfit(p[:, 0], p[:, 1], 1)
                self.a, self.b, self.ready = float(a), float(max(b, 0.0)), True

    def __call__(self, feet: np.ndarray) -> np.ndarray:
        return np.maximum(self.a + self.b * feet[:, 1], 8.0)


def foreground(grass: np.ndarray, field: np.ndarray) -> np.ndarray:
    fg = cv2.bitwise_and(cv2.bitwise_not(grass), field)
    # A 2×2 opening removes speckle and the thinnest (distant) lines; a small vertical closing
    # re-joins legs and boots to the body.
    fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    return cv2.morphologyEx(fg, cv2.MORPH_CLOSE, np.ones((3, 1), np.uint8))


def _split_columns(mask: np.ndarray, n: int) -> list[tuple[int, int]]:
    """Split a blob into ``n`` column ranges at the lowest points of its column profile."""
    prof = (mask > 0).sum(axis=0).astype(float)
    w = len(prof)
    cuts = []
    for k in range(1, n):
        centre = round(k * w / n)
        lo, hi = max(1, centre - w // (2 * n)), min(w - 1, centre + w // (2 * n))
        cuts.append(lo + int(np.argmin(prof[lo:hi])) if hi > lo else centre)
    edges = [0, *cuts, w]
    return [(edges[i], edges[i + 1]) for i in range(n)]


def detect_players(
    fg: np.ndarray, scale: float, prior: HeightPrior | None, frame_h: int
) -> list[Candidate]:
    """Candidates in frame pixels from a working-resolution foreground mask.

    ``scale`` = working / frame size. ``prior`` maps frame-pixel foot points to heights.
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    if n <= 1:
        return []
    st = stats[1:].astype(float)
    x, y, w, h, area = (st[:, i] for i in range(5))
    # Cheap rejections before the prior: specks and giant regions.
    min_h = max(4.0, 0.012 * frame_h * scale)
    keep = (h >= min_h) & (area >= 6) & (h < 0.6 * fg.shape[0])
    idx = np.nonzero(keep)[0]
    if len(idx) == 0:
        return []
    feet = np.stack([(x[idx] + w[idx] / 2), y[idx] + h[idx]], axis=1) / scale
    expected = prior(feet) * scale if prior is not None else np.full(len(idx), np.nan)
    out: list[Candidate] = []
    for k, i in enumerate(idx):
        bx, by, bw, bh, ba = x[i], y[i], w[i], h[i], area[i]
        he = expected[k]
        if not np.isfinite(he):
            # No prior: accept person-like shapes only.
            if bh >= 1.1 * bw * 0.8 and ba / (bw * bh) < 0.85:
                out.append(Candidate((bx / scale, by / scale, bw / scale, bh / scale), 0.5))
            continue
        if bh < 0.45 * he or bh > 2.6 * he or bw > 4.0 * he:
            continue
        fill = ba / (bw * bh)
        if fill > 0.9 and bw > 0.8 * he:  # solid rectangles: overlays, boards
            continue
        sub = labels[int(by) : int(by + bh), int(bx) : int(bx + bw)] == i + 1
        pieces: list[tuple[float, float, float, float]] = []
        n_cols = int(round(bw / (0.62 * he))) if bw > 1.0 * he else 1
        for c0, c1 in _split_columns(sub, max(1, min(n_cols, 4))):
            part = sub[:, c0:c1]
            rows = np.nonzero(part.any(axis=1))[0]
            cols = np.nonzero(part.any(axis=0))[0]
            if len(rows) == 0:
                continue
            px, py = bx + c0 + cols[0], by + rows[0]
            pw, ph = cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1
            if ph > 1.55 * he:  # one player behind another: split top / bottom
                top_h = min(ph - 0.5 * he, 0.95 * he)
                pieces.append((px, py, pw, top_h))
                pieces.append((px, py + ph - he, pw, he))
            else:
                pieces.append((px, py, pw, ph))
        for px, py, pw, ph in pieces:
            if ph < 0.45 * he:
                continue
            ratio = ph / he
            score = float(np.clip(1.0 - abs(np.log(ratio)) * 1.2, 0.05, 1.0))
            if pw > 1.2 * ph:
                score *= 0.3
            out.append(Candidate((px / scale, py / scale, pw / scale, ph / scale), score))
    return out
