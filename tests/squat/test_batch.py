"""``portfolio-ml batch squat`` on a local Ray cluster: clips derived from the real squat video
(the pose model resolved in every task from the driver's environment) and one bad file."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from portfolio_ml_cli.app import create_app
from typer.testing import CliRunner


@pytest.mark.realdata
def test_batch_counts_reps_in_every_clip_and_reports_the_bad_one(
    clip_factory, pose_model_path, tmp_path: Path, ray_local
):
    # The session's Ray workers inherit the variable set by conftest (the shared pose model).
    assert Path(pose_model_path).exists()
    clips = tmp_path / "sessions"
    clips.mkdir()
    shutil.copy(clip_factory("fast_mirrored"), clips / "monday.mp4")
    shutil.copy(clip_factory("lift_only"), clips / "tuesday.mp4")
    (clips / "wednesday.mp4").write_text("not a video")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        create_app(), ["batch", "squat", str(clips), "--out", str(out), "--", "--no-video"]
    )
    assert result.exit_code == 1, result.output
    with (out / "batch_summary.csv").open() as fh:
        rows = {Path(r["input"]).stem: r for r in csv.DictReader(fh)}
    assert (rows["monday"]["status"], rows["monday"]["reps"]) == ("done", "2")
    assert (rows["tuesday"]["status"], rows["tuesday"]["reps"]) == ("done", "0")
    assert rows["wednesday"]["status"] == "failed" and rows["wednesday"]["error"]
    assert (out / "monday" / "frames.csv").is_file()
