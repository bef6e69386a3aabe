"""The standard pitch model (105 × 68 m) in pitch coordinates.

Origin at the centre spot, X along the length (positive to the right as the main camera sees it),
Y across (positive toward the near touchline, the bottom of the image). All line geometry used by
the renderer, the calibration and the tactical map comes from here, so they agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LENGTH = 105.0
WIDTH = 68.0
HALF_L = LENGTH / 2
HALF_W = WIDTH / 2
CIRCLE_R = 9.15
PENALTY_DEPTH = 16.5
PENALTY_HALF_W = 20.16
GOAL_AREA_DEPTH = 5.5
GOAL_AREA_HALF_W = 9.16
PENALTY_SPOT = 11.0
GOAL_HALF_W = 3.66


@dataclass(frozen=True)
class Polyline:
    points: np.ndarray  # (N, 2) metres
    closed: bool = False


def _segment(a: tuple[float, float], b: tuple[float, float]) -> Polyline:
    return Polyline(np.array([a, b], dtype=np.float64))


def _arc(cx: float, cy: float, r: float, t0: float, t1: float, n: int = 48) -> Polyline:
    t = np.linspace(t0, t1, n)
    return Polyline(np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1))


def pitch_lines() -> list[Polyline]:
    """Every painted line of the pitch as polylines (metres)."""
    lines = [
        _segment((-HALF_L, -HALF_W), (HALF_L, -HALF_W)),  # far touchline
        _segment((-HALF_L, HALF_W), (HALF_L, HALF_W)),  # near touchline
        _segment((-HALF_L, -HALF_W), (-HALF_L, HALF_W)),  # left goal line
        _segment((HALF_L, -HALF_W), (HALF_L, HALF_W)),  # right goal line
        _segment((0.0, -HALF_W), (0.0, HALF_W)),  # halfway line
        _arc(0.0, 0.0, CIRCLE_R, 0.0, 2 * math.pi, 96),
    ]
    for side in (-1.0, 1.0):
        gx = side * HALF_L
        for depth, half_w in ((PENALTY_DEPTH, PENALTY_HALF_W), (GOAL_AREA_DEPTH, GOAL_AREA_HALF_W)):
            inner = gx - side * depth
            lines.append(_segment((gx, -half_w), (inner, -half_w)))
            lines.append(_segment((inner, -half_w), (inner, half_w)))
            lines.append(_segment((inner, half_w), (gx, half_w)))
        # Penalty arc: the part of the 9.15 m circle round the spot outside the box.
        spot = gx - side * PENALTY_SPOT
        half_angle = math.acos((PENALTY_DEPTH - PENALTY_SPOT) / CIRCLE_R)
        centre_angle = math.pi if side > 0 else 0.0
        lines.append(
            _arc(spot, 0.0, CIRCLE_R, centre_angle - half_angle, centre_angle + half_angle)
        )
    return lines


def named_points() -> dict[str, tuple[float, float]]:
    """Named marking points that are easy to click (corners, box corners, circle/halfway crossings)."""
    pts: dict[str, tuple[float, float]] = {
        "centre": (0.0, 0.0),
        "halfway_far": (0.0, -HALF_W),
        "halfway_near": (0.0, HALF_W),
        "circle_far": (0.0, -CIRCLE_R),
        "circle_near": (0.0, CIRCLE_R),
        "circle_left": (-CIRCLE_R, 0.0),
        "circle_right": (CIRCLE_R, 0.0),
    }
    for name, side in (("left", -1.0), ("right", 1.0)):
        gx = side * HALF_L
        pts[f"{name}_corner_far"] = (gx, -HALF_W)
        pts[f"{name}_corner_near"] = (gx, HALF_W)
        inner = gx - side * PENALTY_DEPTH
        pts[f"{name}_box_far_goalline"] = (gx, -PENALTY_HALF_W)
        pts[f"{name}_box_near_goalline"] = (gx, PENALTY_HALF_W)
        pts[f"{name}_box_far"] = (inner, -PENALTY_HALF_W)
        pts[f"{name}_box_near"] = (inner, PENALTY_HALF_W)
        ga = gx - side * GOAL_AREA_DEPTH
        pts[f"{name}_goalarea_far"] = (ga, -GOAL_AREA_HALF_W)
        pts[f"{name}_goalarea_near"] = (ga, GOAL_AREA_HALF_W)
        pts[f"{name}_spot"] = (gx - side * PENALTY_SPOT, 0.0)
    return pts


def _keypoints() -> np.ndarray:
    """The 32 keypoints the net finds, in pitch metres (origin at the centre spot, +y toward the
    near touchline).

    Index i is vertex i+1 of roboflow/sports' ``SoccerPitchConfiguration`` (x from the left
    goal line, y from the far touchline, a 120 × 70 layout), mapped to the *marking* it names on
    the 105 × 68 pitch rather than scaled: a penalty-box corner is 16.5 m in, 20.16 m off centre.
    """
    L, W = HALF_L, HALF_W
    pb, pbw = L - PENALTY_DEPTH, PENALTY_HALF_W
    gb, gbw = L - GOAL_AREA_DEPTH, GOAL_AREA_HALF_W
    spot, r = L - PENALTY_SPOT, CIRCLE_R
    ys = (-W, -pbw, -gbw, gbw, pbw, W)  # the goal line's six crossings, far to near
    left = [(-L, y) for y in ys] + [(-gb, -gbw), (-gb, gbw), (-spot, 0.0)]
    left += [(-pb, -pbw), (-pb, -gbw), (-pb, gbw), (-pb, pbw)]
    middle = [(0.0, -W), (0.0, -r), (0.0, r), (0.0, W)]
    right = [(pb, -pbw), (pb, -gbw), (pb, gbw), (pb, pbw), (spot, 0.0), (gb, -gbw), (gb, gbw)]
    right += [(L, y) for y in ys]
    centre = [(-r, 0.0), (r, 0.0)]
    pts = np.array(left + middle + right + centre, dtype=np.float64)
    assert pts.shape == (32, 2)
    return pts


KEYPOINTS = _keypoints()
