"""Player candidates: non-grass blobs on the field, checked and split with size priors.

The prior is the expected standing height in pixels at each ground point. With a homography it is
1.75 m times the local pixels-per-metre (a vertical person of ~1.85 m seen from a broadcast
elevation); without one it is learnt from the blobs themselves (height grows linearly down the
image in a broadcast view).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

HeightPrior = Callable[[np.ndarray], np.ndarray]  # foot points (N, 2) px → expected heights (N,)


def foot_point(
    box: tuple[float, float, float, float] | np.ndarray, lift: float = 0.02
) -> tuple[float, float]:
    """The ground point under a player: bottom centre, raised by ``lift`` of the box height.

    The lowest pixel is the sole of the foot nearer the camera, a little in front of the player.
    The default suits the classic detector's blobs; the learned path passes its own
    (`stages.FOOT_LIFT`), measured for boxes drawn like the annotators'.
    """
    x, y, w, h = box
    return (float(x + w / 2), float(y + (1 - lift) * h))


@dataclass(frozen=True)
class Candidate:
    box: tuple[float, float, float, float]  # x, y, w, h in frame pixels
    score: float

    @property
    def foot(self) -> tuple[float, float]:
        return foot_point(self.box)


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
            for lo, hi in itertools.pairwise(bands):
                sel = arr[(arr[:, 0] >= lo) & (arr[:, 0] <= hi)]
                if len(sel) >= 4:
                    pts.append((np.median(sel[:, 0]), np.median(sel[:, 1])))
            if len(pts) >= 2:
                p = np.array(pts)
                b, a = np.polyfit(p[:, 0], p[:, 1], 1)
                self.a, self.b, self.ready = float(a), float(max(b, 0.0)), True

    def __call__(self, feet: np.ndarray) -> np.ndarray:
        return np.maximum(self.a + self.b * feet[:, 1], 8.0)


def known_lines(h: np.ndarray, work_size: tuple[int, int], scale: float) -> np.ndarray:
    """Where the painted lines are, projected with the homography (working resolution)."""
    from .calibration import apply_h, pixels_per_metre

    w, hh = work_size
    mask = np.zeros((hh, w), np.uint8)
    pts = LINE_SEGMENTS
    uv = apply_h(h, pts) * scale
    front = (pts @ h[2, :2] + h[2, 2]) > 0
    mid = 0.5 * (pts[0::2] + pts[1::2])
    ppm = pixels_per_metre(h, mid) * scale
    q = (uv * 4).round()
    ok = front[0::2] & front[1::2] & (np.abs(q).max(axis=1).reshape(-1, 2).max(axis=1) < 1e6)
    for k in np.nonzero(ok)[0]:
        a, b = q[2 * k], q[2 * k + 1]
        if (
            max(a[0], b[0]) < 0
            or min(a[0], b[0]) > 4 * w
            or max(a[1], b[1]) < 0
            or min(a[1], b[1]) > 4 * hh
        ):
            continue
        t = int(np.clip(round(0.12 * ppm[k] + 3), 3, 30))
        cv2.line(mask, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), 255, t, cv2.LINE_8, shift=2)
    return mask


def off_lines(boxes: np.ndarray, lines: np.ndarray, scale: float) -> np.ndarray:
    """Which candidate boxes (full-resolution x, y, w, h) are not pieces of a painted line.

    The projected lines (``lines``, working resolution) are masked out of the foreground, but a
    homography a few pixels off during a pan leaves a sliver of the line beside the mask, cut
    into player-high pieces. Such a piece is far thinner than a person (width under a quarter
    of the height) and lies inside a slightly widened line mask; a person on a line is wider.
    """
    keep = np.ones(len(boxes), bool)
    if not len(boxes):
        return keep
    near = cv2.dilate(lines, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9)))
    for i, (x, y, w, h) in enumerate(np.asarray(boxes, np.float64) * scale):
        if w < 0.25 * h:
            area = near[max(0, int(y)) : int(y + h) + 1, max(0, int(x)) : int(x + w) + 1]
            keep[i] = not (area.size and np.count_nonzero(area) >= 0.6 * area.size)
    return keep


def _line_segments() -> np.ndarray:
    from . import pitch

    out = []
    for line in pitch.pitch_lines():
        pts = line.points
        for a, b in itertools.pairwise(pts):
            n = max(1, int(np.ceil(float(np.linalg.norm(b - a)) / 2.0)))
            t = np.linspace(0.0, 1.0, n + 1)[:, None]
            p = a + (b - a) * t
            out.append(np.stack([p[:-1], p[1:]], axis=1).reshape(-1, 2))
    return np.concatenate(out)


LINE_SEGMENTS = _line_segments()


def foreground(
    hsv: np.ndarray,
    grass: np.ndarray,
    field: np.ndarray,
    grass_value: int,
    heights: np.ndarray | None = None,
    lines: np.ndarray | None = None,
) -> np.ndarray:
    """Non-grass pixels on the field with the painted lines removed.

    ``heights``: expected player height (working px) at the centre row of each of the horizontal
    bands the image is cut into (None: one generic size). Lines are told from white shirts by
    width: an opening with a kernel wider than a line (~0.07 of a player's height) but narrower
    than a torso (~0.24) keeps shirts and drops lines.
    """
    fg = cv2.bitwise_and(cv2.bitwise_not(grass), field)
    white = cv2.inRange(hsv, (0, 0, min(245, grass_value + 35)), (180, 80, 255))
    white = cv2.bitwise_and(white, field)
    if lines is not None:
        # Known line positions: drop the white pixels on them, keep coloured kit pixels.
        fg = cv2.subtract(fg, cv2.bitwise_and(white, lines))
    h = fg.shape[0]
    bands = heights if heights is not None and len(heights) else np.array([h / 8.0])
    n = len(bands)
    out = np.zeros_like(fg)
    for b, he in enumerate(bands):
        y0, y1 = b * h // n, (b + 1) * h // n
        pad = 8
        a0, a1 = max(0, y0 - pad), min(h, y1 + pad)
        k = int(np.clip(round(0.14 * he), 2, 15))
        part = fg[a0:a1]
        if lines is None:
            wb = white[a0:a1]
            thin = cv2.subtract(wb, cv2.morphologyEx(wb, cv2.MORPH_OPEN, np.ones((k, k), np.uint8)))
            part = cv2.subtract(part, thin)
        part = _open2(part)
        # Re-join a body cut by a removed line (white shorts on a line) or by thin socks.
        kv = int(np.clip(round(0.12 * he), 3 if lines is None else 5, 25))
        part = cv2.morphologyEx(part, cv2.MORPH_CLOSE, np.ones((kv, 1), np.uint8))
        out[y0:y1] = part[y0 - a0 : y0 - a0 + (y1 - y0)]
    # Long horizontal runs are boards at the far edge or line remnants, never people: cut them
    # out so that players in front of the boards come apart from them.
    long_run = cv2.morphologyEx(
        out, cv2.MORPH_OPEN, np.ones((1, max(15, out.shape[1] // 12)), np.uint8)
    )
    return cv2.subtract(out, long_run)


def _open2(mask: np.ndarray) -> np.ndarray:
    """2×2 opening without the one-pixel shift OpenCV's even-sized kernels introduce."""
    k = np.ones((2, 2), np.uint8)
    return cv2.dilate(cv2.erode(mask, k, anchor=(1, 1)), k, anchor=(0, 0))


def band_heights(
    prior: HeightPrior | None, frame_size: tuple[int, int], scale: float, n: int = 4
) -> np.ndarray | None:
    """Expected player height (working px) at the centre of ``n`` horizontal bands."""
    if prior is None:
        return None
    w, h = frame_size
    v = (np.arange(n) + 0.5) * h / n
    feet = np.stack([np.full(n, w / 2), v], axis=1)
    he = prior(feet) * scale
    return np.where(np.isfinite(he) & (he > 0), he, np.nan)


def _split_columns(mask: np.ndarray, he: float) -> list[tuple[int, int]]:
    """Column ranges of the players in a blob, cut at valleys of the upper-body profile.

    Two players side by side usually overlap at the legs but not at the heads and shoulders, so
    the column profile of the top half of the blob shows one hump per player.
    """
    w = mask.shape[1]
    if w < 0.7 * he:
        return [(0, w)]
    top = mask[: max(1, int(0.55 * mask.shape[0]))]
    prof = top.sum(axis=0).astype(float)
    k = max(1, int(0.08 * he)) | 1
    prof = np.convolve(prof, np.ones(k) / k, mode="same")
    min_w = max(2, int(0.22 * he))
    cuts = []
    lo = 0
    while True:
        best = None
        for c in range(lo + min_w, w - min_w):
            left, right = prof[lo:c].max(), prof[c:].max()
            depth = prof[c] / max(1e-6, min(left, right))
            if depth < 0.45 and (best is None or depth < best[1]):
                best = (c, depth)
        if best is None:
            break
        cuts.append(best[0])
        lo = best[0]
        if len(cuts) >= 3:
            break
    edges = [0, *cuts, w]
    return [(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]


def _kmeans_split(sub: np.ndarray, n: int) -> list[tuple[int, int, int, int]]:
    """Split a blob's pixels into ``n`` people by k-means on their coordinates.

    x counts more than y: one person's pixels spread vertically, people stand side by side.
    """
    ys, xs = np.nonzero(sub)
    pts = np.stack([xs, ys * 0.45], axis=1).astype(np.float32)
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    cv2.setRNGSeed(n)
    _, labels, _ = cv2.kmeans(pts, n, None, crit, 3, cv2.KMEANS_PP_CENTERS)
    labels = labels.ravel()
    out = []
    for k in range(n):
        sel = labels == k
        if sel.sum() < 4:
            continue
        x0, x1, y0, y1 = xs[sel].min(), xs[sel].max(), ys[sel].min(), ys[sel].max()
        out.append((int(x0), int(y0), int(x1 - x0 + 1), int(y1 - y0 + 1)))
    return out


class PlayerDetector:
    """Blobs → player candidates; learns how much foreground one player makes (area / height²)."""

    def __init__(self) -> None:
        self.ratios: list[float] = []
        self.area_ratio = 0.17

    def _learn(self, ratio: float) -> None:
        self.ratios.append(ratio)
        if len(self.ratios) > 300:
            self.ratios = self.ratios[-300:]
        if len(self.ratios) >= 20:
            self.area_ratio = float(np.clip(np.median(self.ratios), 0.08, 0.35))

    def split(self, sub: np.ndarray, he: float) -> list[tuple[int, int, int, int]]:
        bh, bw = sub.shape
        area = float(np.count_nonzero(sub))
        if bh <= 1.25 * he and bw <= 0.7 * he:
            if bh >= 0.85 * he and bw <= 0.6 * he:
                self._learn(area / (he * he))
            return [(0, 0, bw, bh)]
        n = int(np.clip(round(area / (self.area_ratio * he * he)), 1, 5))
        if n >= 2:
            return _kmeans_split(sub, n)
        pieces = []
        for c0, c1 in _split_columns(sub, he):
            part = sub[:, c0:c1]
            rows = np.nonzero(part.any(axis=1))[0]
            cols = np.nonzero(part.any(axis=0))[0]
            if len(rows) == 0:
                continue
            px, py = c0 + cols[0], rows[0]
            pw, ph = cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1
            if ph > 1.55 * he:  # one player behind another: split top / bottom
                top_h = min(ph - 0.5 * he, 0.95 * he)
                pieces.append((px, py, pw, int(top_h)))
                pieces.append((px, int(py + ph - he), pw, int(he)))
            else:
                pieces.append((px, py, pw, ph))
        return pieces

    def detect(
        self,
        fg: np.ndarray,
        scale: float,
        prior: HeightPrior | None,
        frame_h: int,
        field_top: np.ndarray | None = None,
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
            for px, py, pw, ph in self.split(sub, he):
                if field_top is not None and ph < 0.92 * he:
                    # Cut by the far edge of the grass (head against the boards): the size
                    # prior says how tall the player is, so complete the box upward.
                    c0, c1 = int(bx + px), int(bx + px + pw)
                    edge = field_top[c0:c1]
                    if len(edge) and by + py <= edge.max() + 2:
                        py, ph = py + ph - he, he
                if ph < 0.45 * he or pw < 0.15 * he:  # too thin: a line remnant, a post
                    continue
                ratio = ph / he
                score = float(np.clip(1.0 - abs(np.log(ratio)) * 1.2, 0.05, 1.0))
                if pw > 1.2 * ph:
                    score *= 0.3
                out.append(
                    Candidate(((bx + px) / scale, (by + py) / scale, pw / scale, ph / scale), score)
                )
        return out
