"""The heads-up display drawn on each frame. Drawing only: nothing here decides anything."""

from __future__ import annotations

import math

import cv2
import numpy as np
from portfolio_ml_core.draw import GREEN, ORANGE, RED, WHITE, draw_skeleton, draw_text
from portfolio_ml_core.pose import PoseResult

from portfolio_ml_squat.counter import CounterUpdate, Phase
from portfolio_ml_squat.features import PoseSample

_PHASE_COLOURS = {
    Phase.READY: WHITE,
    Phase.TOP: GREEN,
    Phase.DESCENDING: ORANGE,
    Phase.BOTTOM: RED,
    Phase.ASCENDING: ORANGE,
    Phase.PAUSED: (160, 160, 160),
}


def _fmt(angle: float) -> str:
    return f"{angle:3.0f}" if math.isfinite(angle) else "  -"


def draw_hud(
    image: np.ndarray,
    pose: PoseResult | None,
    sample: PoseSample,
    update: CounterUpdate,
    *,
    exercise: str,
    joint: str = "joint",
    target_reps: int | None = None,
    fps: float | None = None,
) -> np.ndarray:
    """Skeleton, counts, phase, angles, depth gauge, feedback and FPS, drawn in place."""
    h, w = image.shape[:2]
    s = max(0.45, min(h, w) / 720)  # text scale follows the picture size
    if pose is not None:
        draw_skeleton(image, pose)
    line = round(26 * s)
    x0, y = round(10 * s), round(28 * s)
    count = f"{update.reps}" + (f"/{target_reps}" if target_reps else "")
    draw_text(image, f"{exercise.upper()} {count}", (x0, y), scale=0.9 * s, thickness=2)
    y += round(line * 1.3)
    draw_text(image, f"partial {update.partial_reps}", (x0, y), scale=0.55 * s)
    y += line
    colour = _PHASE_COLOURS.get(update.phase, WHITE)
    draw_text(image, update.phase.value, (x0, y), scale=0.6 * s, color=colour)
    y += line
    a2 = sample.angle_2d
    draw_text(image, f"{joint:6s}L{_fmt(a2[0])} R{_fmt(a2[1])}", (x0, y), scale=0.5 * s)
    y += line
    hp = sample.hip_angle
    draw_text(image, f"{'hip':6s}L{_fmt(hp[0])} R{_fmt(hp[1])}", (x0, y), scale=0.5 * s)
    y += line
    draw_text(image, f"drive {_fmt(update.angle)}", (x0, y), scale=0.5 * s)
    if fps is not None:
        draw_text(image, f"{fps:4.1f} FPS", (w - round(110 * s), round(28 * s)), scale=0.5 * s)
    if target_reps and update.reps >= target_reps:
        draw_text(image, "TARGET REACHED", (x0, h - round(50 * s)), scale=0.7 * s, color=GREEN)
    _gauge(image, update.progress, s)
    for i, message in enumerate(update.messages[:2]):
        draw_text(image, message, (x0, h - round(14 * s) - i * line), scale=0.55 * s, color=ORANGE)
    return image


def _gauge(image: np.ndarray, progress: float, s: float) -> None:
    """A vertical bar on the right: empty at the top position, full at the target depth."""
    h, w = image.shape[:2]
    bw, top, bottom = round(16 * s), round(50 * s), h - round(40 * s)
    x1 = w - round(14 * s)
    x0 = x1 - bw
    cv2.rectangle(image, (x0, top), (x1, bottom), WHITE, 1)
    fill = min(1.0, max(0.0, progress))
    level = round(top + fill * (bottom - top))
    colour = GREEN if progress >= 1.0 else ORANGE
    if fill > 0:
        cv2.rectangle(image, (x0 + 2, top + 2), (x1 - 2, max(top + 2, level)), colour, -1)
    cv2.line(image, (x0 - 4, bottom), (x1 + 4, bottom), GREEN, 2)  # the target depth
