"""A person's look, cheap enough for every other frame: the colour of four horizontal stripes.

Team-mates share shirt, shorts and socks, so what tells two of them apart at broadcast size is
what the kit does not cover: skin and hair in the head stripe, skin between shorts and socks,
boots. Each stripe's colour is the median Lab colour of its pixels that are not grass (the
centre 60 % of the box's width, where the body is), one NaN triple where none are left. The
re-identification after the run (`track.reid`) compares tracklets by the median of these rows;
no model, no training: how much a stripe varies within one track says how much to trust it.

Cost on the real clip: about the kit colours' (`teams.shirt_colours`), on the frames those skip.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..detections import APPEARANCE_DIM
from ..grass import GrassModel

# Shares of the box height, top to bottom: head, shirt, shorts, legs and socks.
STRIPES: tuple[tuple[float, float], ...] = ((0.0, 0.17), (0.17, 0.5), (0.5, 0.7), (0.7, 0.97))
assert 3 * len(STRIPES) == APPEARANCE_DIM
MIN_HEIGHT = 16  # px: smaller boxes are a few blurred pixels a stripe
EDGE = 2  # px: a box this close to the frame's edge is cut, its stripes are not the body's
MIN_PIXELS = 3  # non-grass pixels a stripe needs for a colour


def appearance(bgr: np.ndarray, grass: GrassModel, boxes: np.ndarray) -> np.ndarray:
    """(N, APPEARANCE_DIM) stripe colours (Lab) of x, y, w, h ``boxes``; NaN rows for boxes
    that are too small or cut by the frame's edge."""
    out = np.full((len(boxes), APPEARANCE_DIM), np.nan, np.float32)
    fh, fw = bgr.shape[:2]
    for i, (x, y, w, h) in enumerate(boxes):
        if h < MIN_HEIGHT or x < EDGE or y < EDGE or x + w > fw - EDGE or y + h > fh - EDGE:
            continue
        x0, x1 = int(x + 0.2 * w), int(np.ceil(x + 0.8 * w))
        y0, y1 = int(y), int(np.ceil(y + h))
        if x1 - x0 < 2:
            continue
        crop = bgr[y0:y1, x0:x1]
        body = grass.mask(cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)) == 0
        lab = cv2.cvtColor(crop, cv2.COLOR_BGR2LAB)
        rows = len(crop)
        for k, (top, bottom) in enumerate(STRIPES):
            a, b = int(top * rows), max(int(top * rows) + 1, int(bottom * rows))
            pix = lab[a:b][body[a:b]]
            if len(pix) >= MIN_PIXELS:
                out[i, 3 * k : 3 * k + 3] = column_median(pix)
    return out


def column_median(pix: np.ndarray) -> np.ndarray:
    """``np.median(pix, axis=0)`` of an (n, 3) array, exactly, with one partition: np.median's
    own bookkeeping cost 4x the work on these few-dozen-pixel stripes."""
    n = len(pix)
    half = n // 2
    if n % 2:
        return np.partition(pix, half, axis=0)[half].astype(np.float64)
    part = np.partition(pix, (half - 1, half), axis=0)
    return (part[half - 1].astype(np.float64) + part[half]) / 2
