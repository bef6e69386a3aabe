"""The shipped net as a `Detector`: people with roles, the ball and the 32 pitch keypoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..detections import Detected, Detections, PitchKeypoints
from ..model.runtime import REPORT_THRESHOLD, FootNet
from ..model.weights import resolve_footai_model


class NetDetector:
    name = "net"

    def __init__(
        self, model: Path | None = None, net: FootNet | None = None, threads: int | None = None
    ) -> None:
        # Resolved by name: --model, $PORTFOLIO_ML_FOOTAI_MODEL, the models folder, the shipped copy.
        self.net = net or FootNet(resolve_footai_model(model), threads=threads)

    def __call__(self, image: np.ndarray) -> Detected:
        out = self.net(image)
        return Detected(
            Detections(out.xyxy, out.class_id, out.score),
            PitchKeypoints(out.keypoint_xy, out.keypoint_confidence),
            REPORT_THRESHOLD,
        )
