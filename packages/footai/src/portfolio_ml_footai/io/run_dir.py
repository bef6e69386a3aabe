"""A run's folder read back as the `Match` it was written from (tracks.csv, summary.json,
homographies.npz): what `footai export` and `footai report` start from."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from portfolio_ml_core.errors import InputFileError
from portfolio_ml_core.fsutil import write_npz_atomic

from ..calibrate.segments import CalibrationSegment
from ..detections import Detections
from ..match import Match
from ..model.spec import CLASSES
from ..render.annotate import bgr_colour
from .tracks_csv import read_tracks

HOMOGRAPHIES = "homographies.npz"


def write_homographies(path: Path, match: Match) -> None:
    """Every analysed frame's index and homography (NaN where it had none)."""
    stack = np.full((len(match.frames), 3, 3), np.nan)
    for i, h in enumerate(match.homographies):
        if h is not None:
            stack[i] = h
    write_npz_atomic(
        path, compressed=True, frames=np.array(match.frames, np.int64), homographies=stack
    )


def read_match(run_dir: Path) -> Match:
    """The finished match of ``footai run --out RUN_DIR``."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputFileError(f"not a run folder: {run_dir}")
    needed = [run_dir / "summary.json", run_dir / "tracks.csv", run_dir / HOMOGRAPHIES]
    missing = [p.name for p in needed if not p.is_file()]
    if missing:
        raise InputFileError(
            f"{run_dir}: not a `footai run` output folder (missing {', '.join(missing)})"
        )
    try:
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        with np.load(run_dir / HOMOGRAPHIES) as z:
            frames = [int(f) for f in z["frames"]]
            stack = z["homographies"]
        fps, size = float(summary["video_fps"]), tuple(summary["frame_size"])
    except (ValueError, KeyError, OSError) as exc:
        raise InputFileError(f"{run_dir}: unreadable run output ({exc})") from None
    table = read_tracks(run_dir / "tracks.csv")
    class_id = np.array([CLASSES.index(r) for r in table.role], np.int64)
    ball = class_id == CLASSES.index("ball")
    xyxy = np.c_[table.box[:, :2], table.box[:, :2] + table.box[:, 2:]]
    rows = Detections(
        xyxy,
        class_id,
        table.score,
        track_id=np.where(ball, -1, table.track_id),
        team=table.team,
        player_id=np.where(ball, -1, table.player_id),
        pitch_xy=table.pitch,
    )
    order = np.argsort(table.frame, kind="stable")
    lo = np.searchsorted(table.frame[order], frames, "left")
    hi = np.searchsorted(table.frame[order], frames, "right")
    calibration = summary.get("calibration", {})
    return Match(
        fps,
        (int(size[0]), int(size[1])),
        tuple(frames),
        tuple(rows[order[a:b]] for a, b in zip(lo, hi, strict=True)),
        tuple(None if np.isnan(h).any() else h for h in stack),
        detector=str(summary.get("detector", "net")),
        calibration_method=str(calibration.get("method", "none")),
        calibration_detail=str(calibration.get("detail", "")),
        keypoint_fits=sum(int(s["keypoint_fits"]) for s in calibration.get("segments", [])),
        segments=tuple(CalibrationSegment.from_json(s) for s in calibration.get("segments", [])),
        team_colours=tuple(bgr_colour(c) for c in summary.get("team_colours", {}).values()),
        warnings=tuple(summary.get("warnings", [])),
        processing_seconds=float(summary.get("processing_seconds", 0.0)),
    )
