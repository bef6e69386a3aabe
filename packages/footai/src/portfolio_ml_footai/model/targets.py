"""Training samples: augment a labelled frame, then draw its CenterNet targets (NumPy only).

Augmentation imitates what broadcasts vary: zoom and framing (a random crop rescaled to the
training size), left/right (a flip that also swaps mirrored keypoints), light and colour.

Coordinates are continuous (pixel i spans [i, i + 1], as in YOLO labels and ``cv2.resize``);
the image warp is shifted by half a pixel to match, so labels and pixels move together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .data import LabelledFrame
from .spec import BALL, BALL_CHANNEL, FLIP_INDEX, N_KEYPOINTS, PERSON_CHANNEL, ROLE_CLASSES


@dataclass(frozen=True)
class Sample:
    image: np.ndarray  # (H, W, 3) float32 RGB 0..1
    heatmaps: np.ndarray  # (h, w, 2 + 32) float32 Gaussian targets: ball, person, keypoints
    role: np.ndarray  # (h, w) int32 role index (into ROLE_CLASSES) at person centres, else -1
    size: np.ndarray  # (h, w, 2) log box size in input pixels
    offset: np.ndarray  # (h, w, 2) from the cell to its box centre, in cells
    box_weight: np.ndarray  # (h, w) 1 at a box centre, less on the cells around it, else 0
    task_mask: np.ndarray  # (2,) [labels boxes, labels keypoints]


def gaussian(grid: np.ndarray, cx: float, cy: float, sigma: float) -> None:
    """Draw a Gaussian centred at (cx, cy) (cell units, cell i centred at i) into ``grid``.

    The nearest cell is set to exactly 1: it is the positive of the focal loss, while the
    fractional centre shapes its neighbours, which is what sub-cell decoding reads back.
    """
    h, w = grid.shape
    ix, iy = round(cx), round(cy)
    if not (0 <= ix < w and 0 <= iy < h):
        return
    r = int(3 * sigma) + 1
    x0, x1 = max(0, int(cx) - r), min(w, int(cx) + r + 1)
    y0, y1 = max(0, int(cy) - r), min(h, int(cy) + r + 1)
    if x0 >= x1 or y0 >= y1:
        return
    xs = np.arange(x0, x1) - cx
    ys = np.arange(y0, y1)[:, None] - cy
    g = np.exp(-(xs**2 + ys**2) / (2 * sigma**2))
    np.maximum(grid[y0:y1, x0:x1], g, out=grid[y0:y1, x0:x1])
    grid[iy, ix] = 1.0


# Crops cover this share of the frame's width (uniform): zoom variety around the inference scale.
CROP_SHARE = (0.55, 1.0)
# The zoomed-in crops a share of samples get instead (`make_sample`'s ``zoom_in``): a broadcast's
# closer shots show players up to ~90 px tall at 720p, and a net that never saw them that large
# boxed their upper and lower halves as two people (the LaLiga clip's last 2 s).
ZOOM_SHARE = (0.3, 0.55)


def make_sample(
    frame: LabelledFrame,
    size: tuple[int, int],
    stride: int,
    rng: np.random.Generator | None,
    zoom_in: float = 0.0,
) -> Sample:
    """One training (or, with ``rng=None``, un-augmented) sample at ``size`` (w, h); a share
    ``zoom_in`` of the augmented ones is cropped closer (`ZOOM_SHARE`)."""
    width, height = size
    fh, fw = frame.image.shape[:2]
    if rng is None:
        scale = width / fw
        crop_w, x0, y0 = fw, 0.0, 0.0
    else:
        # (no draw without zoom_in: the recipe before it gets the same random stream)
        lo, hi = ZOOM_SHARE if zoom_in > 0 and rng.random() < zoom_in else CROP_SHARE
        crop_w = fw * rng.uniform(lo, hi)
        x0 = rng.uniform(0, fw - crop_w)
        crop_h = crop_w * height / width
        y0 = rng.uniform(min(0.0, fh - crop_h), max(0.0, fh - crop_h))
        scale = width / crop_w
    flip = rng is not None and rng.random() < 0.5
    m = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]])
    if flip:
        m = np.array([[-1, 0, width], [0, 1, 0]]) @ np.vstack([m, [0, 0, 1]])
    image = cv2.warpAffine(
        frame.image, pixel_index_warp(m), (width, height), flags=cv2.INTER_LINEAR
    )
    image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    if rng is not None:
        image = _photometric(image, rng)

    def warp(points: np.ndarray) -> np.ndarray:
        return points @ m[:, :2].T + m[:, 2]

    gw, gh = width // stride, height // stride
    heat = np.zeros((2 + N_KEYPOINTS, gh, gw), np.float32)
    role = np.full((gh, gw), -1, np.int32)
    box_size = np.zeros((gh, gw, 2), np.float32)
    offset = np.zeros((gh, gw, 2), np.float32)
    weight = np.zeros((gh, gw), np.float32)
    if frame.has_boxes and len(frame.boxes):
        corners = warp(frame.boxes.reshape(-1, 2)).reshape(-1, 4)
        bx0 = np.minimum(corners[:, 0], corners[:, 2]).clip(0, width)
        bx1 = np.maximum(corners[:, 0], corners[:, 2]).clip(0, width)
        by0, by1 = corners[:, 1].clip(0, height), corners[:, 3].clip(0, height)
        boxes = []
        for c, a, b, cc, d in zip(frame.classes, bx0, by0, bx1, by1, strict=True):
            bw, bh = cc - a, d - b
            if bw < 1 or bh < 1:
                continue
            gx, gy = (a + cc) / 2 / stride - 0.5, (b + d) / 2 / stride - 0.5
            sigma = 0.8 if c == BALL else max(0.8, 0.3 * bw / stride)
            gaussian(heat[BALL_CHANNEL if c == BALL else PERSON_CHANNEL], gx, gy, sigma)
            boxes.append((int(c), gx, gy, bw, bh))
        _box_targets(boxes, stride, role, box_size, offset, weight)
    if frame.has_keypoints:
        pts = warp(frame.keypoints)
        order = FLIP_INDEX if flip else np.arange(N_KEYPOINTS)
        for k in range(N_KEYPOINTS):
            src = order[k]
            if not frame.visible[src]:
                continue
            x, y = pts[src]
            if 0 <= x < width and 0 <= y < height:
                gaussian(heat[2 + k], x / stride - 0.5, y / stride - 0.5, 1.2)
    return Sample(
        image,
        heat.transpose(1, 2, 0),
        role,
        box_size,
        offset,
        weight,
        np.array([frame.has_boxes, frame.has_keypoints], np.float32),
    )


def pixel_index_warp(m: np.ndarray) -> np.ndarray:
    """The affine map ``m`` of continuous coordinates, written for ``cv2.warpAffine``.

    warpAffine maps pixel *indices* (pixel i centred at i); labels use pixel i's centre at
    i + 0.5. Without this, a downscale shifts the image by half a pixel against its labels and a
    flip by a whole one, and the net learns boxes ~1 frame pixel up and left of the players.
    """
    a, t = m[:, :2], m[:, 2]
    return np.hstack([a, (t + 0.5 * a.sum(axis=1) - 0.5)[:, None]])


# Box size and offset are learnt on the cells around a centre too (TTFNet's idea): a player
# ~4 cells tall then gives ~3 regression samples instead of one. Cells within this fraction of
# the half box of the centre take part, weighted by a Gaussian of sigma = this fraction too.
REGRESSION_REACH = 0.5


def _box_targets(
    boxes: list[tuple[int, float, float, float, float]],
    stride: int,
    role: np.ndarray,
    box_size: np.ndarray,
    offset: np.ndarray,
    weight: np.ndarray,
) -> None:
    """Size, offset and role targets of (class, centre x, centre y in cells, w, h in pixels).

    Larger boxes are drawn first so that a smaller one, which has few cells to give, wins a
    shared cell; every box's own centre cell is written last so that none loses it.
    """
    gh, gw = weight.shape
    order = sorted(range(len(boxes)), key=lambda i: -boxes[i][3] * boxes[i][4])
    for i in order:
        _, gx, gy, bw, bh = boxes[i]
        rx, ry = REGRESSION_REACH * bw / 2 / stride, REGRESSION_REACH * bh / 2 / stride
        x0, x1 = max(0, math.ceil(gx - rx)), min(gw - 1, math.floor(gx + rx))
        y0, y1 = max(0, math.ceil(gy - ry)), min(gh - 1, math.floor(gy + ry))
        for iy in range(y0, y1 + 1):
            for ix in range(x0, x1 + 1):
                dx, dy = (ix - gx) / max(rx, 1e-6), (iy - gy) / max(ry, 1e-6)
                w = math.exp(-0.5 * (dx * dx + dy * dy))
                box_size[iy, ix] = np.log([bw, bh])
                offset[iy, ix] = (gx - ix, gy - iy)
                weight[iy, ix] = w
                role[iy, ix] = -1
    for c, gx, gy, bw, bh in (boxes[i] for i in order):
        ix, iy = min(max(round(gx), 0), gw - 1), min(max(round(gy), 0), gh - 1)
        box_size[iy, ix] = np.log([bw, bh])
        offset[iy, ix] = (gx - ix, gy - iy)
        weight[iy, ix] = 1.0
        role[iy, ix] = -1 if c == BALL else ROLE_CLASSES.index(c)


def _photometric(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Brightness, contrast, saturation and a slight colour cast; sometimes blur (motion, focus).

    Each change is affine in colour, so they are composed into one 3×4 matrix and applied in a
    single pass (half the batch-making time went to applying them one by one).
    """
    gain, shift = rng.uniform(0.7, 1.3), rng.uniform(-0.08, 0.08)
    contrast, saturation = rng.uniform(0.7, 1.3), rng.uniform(0.6, 1.4)
    cast = rng.uniform(0.92, 1.08, size=3)
    mean = gain * float(image.mean()) + shift  # the mean after brightness
    desaturate = (1 - saturation) / 3 * np.ones((3, 3)) + saturation * np.eye(3)
    colour = cast[:, None] * desaturate
    bias = colour @ np.full(3, contrast * shift + (1 - contrast) * mean)
    matrix = np.hstack([colour * contrast * gain, bias[:, None]])
    image = cv2.transform(image, matrix.astype(np.float32))
    if rng.random() < 0.25:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.5, 1.2))
    return np.clip(image, 0.0, 1.0).astype(np.float32)
