"""Hard cuts between shots: the picture changes all at once.

After a cut nothing carries over: tracks, the ball and the homography belong to the last shot.
"""

from __future__ import annotations

import cv2
import numpy as np

THUMB = (32, 18)  # a thumbnail is enough: a cut changes the whole picture, not a corner of it
CUT_LEVEL = 25.0  # mean absolute grey difference of two thumbnails (0-255) that makes a cut


class CutDetector:
    def __init__(self) -> None:
        self.thumb: np.ndarray | None = None

    def update(self, grey: np.ndarray) -> bool:
        """True when ``grey`` (any size) starts a new shot."""
        thumb = cv2.resize(grey, THUMB, interpolation=cv2.INTER_AREA).astype(np.float32)
        prev, self.thumb = self.thumb, thumb
        return prev is not None and float(np.abs(thumb - prev).mean()) > CUT_LEVEL
