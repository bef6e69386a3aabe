"""A broadcast main camera: fixed position, pan / tilt / zoom, no roll.

Used by the synthetic renderer: exact 3-D projection of players, boards and crowd.
World frame: pitch X (right), Y (toward the camera side), Z up, metres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class BroadcastCamera:
    x: float  # position, metres
    y: float  # beyond the near touchline: y > 34
    z: float  # height
    pan: float  # radians; 0 looks straight across the pitch, positive turns right (+X)
    tilt: float  # radians below the horizon
    focal: float  # pixels
    width: int
    height: int

    def rotation(self) -> np.ndarray:
        cp, sp, ct, st = (
            math.cos(self.pan),
            math.sin(self.pan),
            math.cos(self.tilt),
            math.sin(self.tilt),
        )
        forward = np.array([sp * ct, -cp * ct, -st])
        right = np.array([cp, sp, 0.0])
        down = np.cross(right, forward)
        return np.stack([right, down, forward])

    def intrinsics(self) -> np.ndarray:
        return np.array(
            [[self.focal, 0.0, self.width / 2], [0.0, self.focal, self.height / 2], [0.0, 0.0, 1.0]]
        )

    def homography(self) -> np.ndarray:
        """Ground plane (X, Y) → image (u, v)."""
        r = self.rotation()
        t = -r @ np.array([self.x, self.y, self.z])
        h = self.intrinsics() @ np.stack([r[:, 0], r[:, 1], t], axis=1)
        return h / h[2, 2]

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World (N, 3) → image (N, 2) and depth (N,) (negative depth: behind the camera)."""
        r = self.rotation()
        cam = (np.asarray(points, dtype=np.float64) - [self.x, self.y, self.z]) @ r.T
        depth = cam[:, 2]
        safe = np.where(np.abs(depth) < 1e-6, 1e-6, depth)
        uv = cam[:, :2] / safe[:, None] * self.focal + [self.width / 2, self.height / 2]
        return uv, depth

    def looking_at(self, target_x: float, target_y: float) -> BroadcastCamera:
        """The same camera turned to centre the ground point (target_x, target_y)."""
        dx, dy = target_x - self.x, self.y - target_y
        pan = math.atan2(dx, dy)
        tilt = math.atan2(self.z, math.hypot(dx, dy))
        return replace(self, pan=pan, tilt=tilt)
