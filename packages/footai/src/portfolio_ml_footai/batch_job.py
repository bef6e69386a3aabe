"""``portfolio-ml batch footai``: `footai run` on every video, one Ray task each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from portfolio_ml_core.batch import BatchJob, command_job
from portfolio_ml_core.video import VIDEO_SUFFIXES


def headline(out_dir: Path) -> dict[str, Any]:
    """The figures an analyst scans a season by: players tracked and how the pitch was found."""
    summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    teams = summary["players_per_team"]
    return {
        "frames": summary["frames"],
        "players_tracked": teams["team0"] + teams["team1"],
        "calibration": summary["calibration"]["method"],
        "ball_frames": summary["ball_frames"],
        "fps": summary["processing_fps"],
    }


def batch_job() -> BatchJob:
    return command_job(
        "footai",
        "`footai run` on each video: tracks.csv, maps, summary.json in OUT/<stem>/",
        "portfolio_ml_footai.cli:app",
        headline,
        VIDEO_SUFFIXES,
    )
