"""Foot AI when the net's pitch keypoints come rarely: how many frames keep a homography, how far off.

A high tactical camera, a zoomed or behind-the-goal view: the net fits the pitch in few frames.
This replays a synthetic clip (as `portfolio-ml bench footai.accuracy_*` renders it, with its
ground truth) with the keypoints blanked in every frame but some — the first N (`firstN`), every
N-th (`everyN`), or all from frame N on (`fromN`); `first0`: none at all, the painted lines
alone (`calibrate/line_search.py`) — and scores the run as `footai eval` does. The figures are in
docs/footai.md (pipeline, step 4). Not part of the product: it swaps the detector for a wrapper.

    uv run python docs/experiments/footai_sparse_keypoints.py CLIP_DIR first25
    uv run python docs/experiments/footai_sparse_keypoints.py CLIP_DIR every100 --no-lines

CLIP_DIR holds sample.mp4 and gt.csv (`bench footai.accuracy_pan --work-dir W` leaves
W/footai/clip-pan-32-10s). ``--no-lines`` answers as if the painted lines never agreed (the
behaviour before they could keep a carried homography).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import portfolio_ml_footai.calibrate.lines as lines
import portfolio_ml_footai.pipeline as pipeline
from portfolio_ml_footai.detections import Detected
from portfolio_ml_footai.evaluate.inputs import load_prediction
from portfolio_ml_footai.evaluate.tracks import evaluate
from portfolio_ml_footai.io.tracks_csv import read_tracks
from portfolio_ml_footai.runner import run_video


def main(clip: Path, scenario: str, use_lines: bool) -> dict[str, object]:
    every = int(scenario.removeprefix("every")) if scenario.startswith("every") else None
    first = int(scenario.removeprefix("first")) if scenario.startswith("first") else None
    after = int(scenario.removeprefix("from")) if scenario.startswith("from") else None
    make = pipeline.create_detector

    def sparse(name: str, model: Path | None, **options: object) -> pipeline.Detector:
        net, count = make(name, model, **options), [0]  # type: ignore[arg-type]

        def detect(image: np.ndarray) -> Detected:
            found, i = net(image), count[0]
            count[0] += 1  # frames come in order (detect_ahead submits them one by one)
            keep = (
                (first is not None and i < first)
                or (every is not None and i % every == 0)
                or (after is not None and i >= after)
            )
            return found if keep else Detected(found.detections, None, found.report_score)

        return detect  # type: ignore[return-value]

    pipeline.create_detector = sparse  # type: ignore[assignment]
    if not use_lines:
        lines.FrameLines.agree = lambda self, h: False  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as tmp:
        summary = run_video(
            clip / "sample.mp4", Path(tmp), pipeline.RunOptions(), write_video=False
        )
        pred = load_prediction(Path(tmp))
    scores = evaluate(read_tracks(clip / "gt.csv"), pred.table, frames=pred.frames)
    return {
        "clip": clip.name,
        "keypoints": scenario,
        "lines": use_lines,
        "frames": summary["frames"],
        "calibrated": sum(s["calibrated"] for s in summary["calibration"]["segments"]),
        "position_median_m": round(scores.position_error_median_m, 3),
        "position_p90_m": round(scores.position_error_p90_m, 3),
        "idf1": round(scores.idf1, 3),
    }


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), sys.argv[2], "--no-lines" not in sys.argv)))
