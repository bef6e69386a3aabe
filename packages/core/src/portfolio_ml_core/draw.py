"""Overlay drawing shared by the demos. Drawing only: nothing here decides anything."""

from __future__ import annotations

import cv2
import numpy as np

from portfolio_ml_core.pose import POSE_CONNECTIONS, PoseResult

Color = tuple[int, int, int]  # BGR

WHITE: Color = (255, 255, 255)
BLACK: Color = (0, 0, 0)
GREEN: Color = (80, 200, 80)
ORANGE: Color = (0, 160, 255)
RED: Color = (60, 60, 230)


def draw_skeleton(
    image: np.ndarray,
    pose: PoseResult,
    *,
    min_visibility: float = 0.5,
    bone_color: Color = WHITE,
    joint_color: Color = ORANGE,
    thickness: int | None = None,
) -> np.ndarray:
    """Draw bones and joints of ``pose`` on ``image`` in place; returns the image."""
    h, w = image.shape[:2]
    scale = max(h, w) / 640
    t = thickness or max(1, round(2 * scale))
    sx, sy = w / pose.image_size[0], h / pose.image_size[1]
    pts = (pose.pixels() * np.array([sx, sy], dtype=np.float32)).round().astype(np.int32)
    seen = pose.visibility >= min_visibility
    for a, b in POSE_CONNECTIONS:
        if seen[a] and seen[b]:
            cv2.line(image, tuple(pts[a]), tuple(pts[b]), bone_color, t, cv2.LINE_AA)
    for i in np.flatnonzero(seen):
        cv2.circle(image, tuple(pts[i]), t + 1, joint_color, -1, cv2.LINE_AA)
    return image


def draw_text(
    image: np.ndarray,
    text: str,
    origin: tuple[int, int],
    *,
    scale: float = 0.6,
    color: Color = WHITE,
    background: Color | None = BLACK,
    thickness: int = 1,
) -> tuple[int, int]:
    """Text with an optional filled background box; returns the (width, height) drawn."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
    x, y = origin
    if background is not None:
        pad = max(2, round(4 * scale))
        cv2.rectangle(
            image, (x - pad, y - th - pad), (x + tw + pad, y + base + pad), background, -1
        )
    cv2.putText(image, text, (x, y), font, scale, color, thickness, cv2.LINE_AA)
    return tw, th + base
