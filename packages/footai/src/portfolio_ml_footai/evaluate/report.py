"""The training report: the exported model scored on the valid split of both real sets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..detect.net import NetDetector
from ..model.data import load_detection_split, load_pitch_split
from .frames import score_detections, score_pitch


def valid_report(weights: Path, players: Path, pitch: Path, split: str = "valid") -> dict[str, Any]:
    """What `footai train` reports on the weights it exported (`model.train`'s ``report``)."""
    net = NetDetector(weights)
    return {
        "split": split,
        "detections": score_detections(
            load_detection_split(players, split), lambda img: net(img).reported
        ).to_json(),
        "pitch": score_pitch(load_pitch_split(pitch, split), net).to_json(),
    }
