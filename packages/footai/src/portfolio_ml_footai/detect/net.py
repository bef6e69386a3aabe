"""The shipped net as a `Detector`: people with roles, the ball and the 32 pitch keypoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..detections import Detected, Detections, PitchKeypoints
from ..model.runtime import REPORT_THRESHOLD, FootNet
from ..model.weights import resolve_footai_model


class NetDetector:
    """The net on each frame and, with ``flip`` (the ``net-flip`` detector), on its mirror
    image too for the people and the ball (`runtime.with_mirror`: persons F1 0.908 → 0.920 on
    the real test split, for a second pass of the net: the real clip's whole command 37-45 →
    24-27 frames/s without video, at the 25 a run must keep, so it is not the default)."""

    name = "net"

    def __init__(
        self,
        model: Path | None = None,
        net: FootNet | None = None,
        threads: int | None = None,
        flip: bool = False,
    ) -> None:
        # Resolved by name: --model, $PORTFOLIO_ML_FOOTAI_MODEL, the models folder, the shipped copy.
        self.net = net or FootNet(resolve_footai_model(model), threads=threads)
        self.flip = flip
        self.name = "net-flip" if flip else "net"

    def __call__(self, image: np.ndarray) -> Detected:
        out = self.net(image, flip=self.flip)
        return Detected(
            Detections(out.xyxy, out.class_id, out.score),
            PitchKeypoints(out.keypoint_xy, out.keypoint_confidence),
            REPORT_THRESHOLD,
        )
