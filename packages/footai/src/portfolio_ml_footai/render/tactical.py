"""The tactical (radar) map video, drawn with OpenCV for speed (1 ms a frame) on `pitch`'s lines;
the still pictures are mplsoccer's (`render.figures`). Drawing only."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .. import pitch
from .annotate import BALL_COLOUR, readable


@dataclass(frozen=True)
class PitchCanvas:
    image: np.ndarray
    ppm: float
    margin: float

    def to_px(self, xy: np.ndarray) -> np.ndarray:
        return (
            np.asarray(xy) + np.array([pitch.HALF_L + self.margin, pitch.HALF_W + self.margin])
        ) * self.ppm


def pitch_canvas(ppm: float = 8.0, margin: float = 4.0) -> PitchCanvas:
    w = int((pitch.LENGTH + 2 * margin) * ppm)
    h = int((pitch.WIDTH + 2 * margin) * ppm)
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = (60, 120, 50)
    stripe = pitch.LENGTH / 18
    for k in range(0, 18, 2):
        x0 = int((margin + k * stripe) * ppm)
        img[int(margin * ppm) : h - int(margin * ppm), x0 : int(x0 + stripe * ppm)] = (66, 132, 56)
    canvas = PitchCanvas(img, ppm, margin)
    for line in pitch.pitch_lines():
        pts = (canvas.to_px(line.points) * 8).round().astype(np.int32)
        cv2.polylines(img, [pts], line.closed, (235, 235, 235), 1, cv2.LINE_AA, shift=3)
    return canvas


def tactical_frame(
    canvas: PitchCanvas,
    dots: list[tuple[float, float, tuple[int, int, int], int]],
    ball: tuple[float, float] | None,
    view: np.ndarray | None = None,
) -> np.ndarray:
    """Radar view: dots (x, y, colour, id) in metres; ``view`` the camera footprint polygon."""
    out = canvas.image.copy()
    if view is not None and len(view) >= 3:
        poly = (canvas.to_px(view) * 8).round().astype(np.int32)
        cv2.polylines(out, [poly], True, (180, 220, 255), 1, cv2.LINE_AA, shift=3)
    r = max(4, int(canvas.ppm * 0.9))
    for x, y, colour, tid in dots:
        c = canvas.to_px(np.array([x, y])).astype(int)
        cv2.circle(out, tuple(c), r, colour, -1, cv2.LINE_AA)
        cv2.circle(out, tuple(c), r, readable(colour), 1, cv2.LINE_AA)
        cv2.putText(
            out,
            str(tid),
            (c[0] - r, c[1] - r - 2),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.3,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
    if ball is not None:
        c = canvas.to_px(np.array(ball)).astype(int)
        cv2.circle(out, tuple(c), max(2, r // 2), BALL_COLOUR, -1, cv2.LINE_AA)
        cv2.circle(out, tuple(c), max(2, r // 2), (0, 0, 0), 1, cv2.LINE_AA)
    return out
