"""``portfolio-ml batch squat``: `squat run` on every video, one Ray task each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from portfolio_ml_core.batch import BatchJob, command_job
from portfolio_ml_core.video import VIDEO_SUFFIXES


def headline(out_dir: Path) -> dict[str, Any]:
    summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    return {
        "exercise": summary["exercise"],
        "reps": summary["reps"],
        "partial_reps": summary["partial_reps"],
        "last_rep_cut_short": summary["last_rep_cut_short"],
        "frames": summary["frames"],
    }


def batch_job() -> BatchJob:
    return command_job(
        "squat",
        "`squat run` on each video: summary.json, frames.csv, annotated.mp4 in OUT/<stem>/",
        "portfolio_ml_squat.cli:app",
        headline,
        VIDEO_SUFFIXES,
    )
