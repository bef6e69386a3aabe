"""`portfolio-ml squat ...` through the real CLI: outputs, live headless, eval, bad inputs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from portfolio_ml_cli.app import create_app
from typer.testing import CliRunner

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(create_app(), ["squat", *args])


def one_line_error(result, *needles: str) -> None:
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    for needle in needles:
        assert needle in errors[0]


def test_help_lists_the_commands() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("live", "run", "eval"):
        assert command in result.output


@pytest.mark.realdata
def test_run_writes_all_outputs(clip_factory, pose_model_path, tmp_path) -> None:
    out = tmp_path / "out"
    result = invoke("run", str(clip_factory("fast_mirrored")), "--out", str(out),
                    "--model", str(pose_model_path))  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reps"] == 2
    assert "reps 2" in result.output
    for name in ("frames.csv", "annotated.mp4", "angles.png"):
        assert (out / name).stat().st_size > 0


@pytest.mark.realdata
def test_run_no_video_and_max_frames(squat_clip, pose_model_path, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PORTFOLIO_ML_POSE_MODEL", str(pose_model_path))
    out = tmp_path / "out"
    result = invoke("run", str(squat_clip), "--out", str(out), "--no-video", "--max-frames", "20")
    assert result.exit_code == 0, result.output
    assert not (out / "annotated.mp4").exists()
    assert json.loads((out / "summary.json").read_text())["frames"] == 20


@pytest.mark.realdata
def test_run_without_a_person_warns(photo_clips, pose_model_path, tmp_path) -> None:
    out = tmp_path / "out"
    result = invoke("run", str(photo_clips["no_person"]), "--out", str(out), "--no-video",
                    "--model", str(pose_model_path))  # fmt: skip
    assert result.exit_code == 0
    assert "warning" in result.output and "no person" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reps"] == 0 and summary["warnings"]


def test_run_missing_file(tmp_path, pose_model_path) -> None:
    result = invoke("run", str(tmp_path / "nope.mp4"), "--out", str(tmp_path / "o"),
                    "--model", str(pose_model_path))  # fmt: skip
    one_line_error(result, "nope.mp4")


def test_run_corrupt_file(tmp_path, pose_model_path) -> None:
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(os.urandom(4096))
    result = invoke("run", str(bad), "--out", str(tmp_path / "o"), "--model", str(pose_model_path))
    one_line_error(result, "corrupt.mp4")
    assert not (tmp_path / "o" / "summary.json").exists()


def test_run_missing_model(tmp_path, squat_clip) -> None:
    result = invoke("run", str(squat_clip), "--out", str(tmp_path / "o"),
                    "--model", str(tmp_path / "missing.task"))  # fmt: skip
    one_line_error(result, "missing.task")


def test_run_no_model_anywhere_offline(tmp_path, squat_clip, monkeypatch) -> None:
    monkeypatch.delenv("PORTFOLIO_ML_POSE_MODEL", raising=False)
    monkeypatch.setenv("PORTFOLIO_ML_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("PORTFOLIO_ML_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PORTFOLIO_ML_OFFLINE", "1")
    result = invoke("run", str(squat_clip), "--out", str(tmp_path / "o"))
    one_line_error(result, "--model")


@pytest.mark.parametrize(
    ("flag", "value", "needle"),
    [("--exercise", "burpee", "burpee"), ("--preset", "elite", "elite")],
)
def test_unknown_exercise_or_preset(tmp_path, squat_clip, flag, value, needle) -> None:
    result = invoke("run", str(squat_clip), "--out", str(tmp_path / "o"), flag, value)
    one_line_error(result, needle)


@pytest.mark.realdata
def test_live_headless_from_a_file(clip_factory, pose_model_path, tmp_path) -> None:
    out = tmp_path / "live"
    result = invoke("live", "--source", str(clip_factory("lift_only")), "--no-display",
                    "--model", str(pose_model_path), "--out", str(out), "--max-frames", "40",
                    "--target-reps", "5")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "latency p50" in result.output
    summary = json.loads((out / "summary.json").read_text())
    live = summary["live"]
    assert live["frames_shown"] + live["frames_dropped"] == 40
    assert 0 < live["latency_p50_ms"] <= live["latency_p95_ms"]
    assert summary["reps"] == 0


@pytest.mark.skipif(Path("/dev/video0").exists(), reason="this machine has a camera")
def test_live_without_camera_suggests_source(pose_model_path) -> None:
    result = invoke("live", "--camera", "0", "--no-display", "--model", str(pose_model_path))
    one_line_error(result, "--source")


@pytest.mark.realdata
def test_eval_reports_accuracy_mae_obo(clip_factory, photo_clips, pose_model_path, tmp_path):
    data = tmp_path / "set"
    data.mkdir()
    (data / "a.mp4").symlink_to(clip_factory("lift_only"))
    (data / "b.mp4").symlink_to(photo_clips["still"])
    (data / "labels.csv").write_text("file,reps\na.mp4,0\nb.mp4,1\n")
    report_path = tmp_path / "report.json"
    result = invoke("eval", str(data), "--out", str(report_path), "--model", str(pose_model_path))
    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    assert report["videos"] == 2
    assert report["exact_accuracy"] == 0.5  # a.mp4 right (0), b.mp4 wrong (0 for 1)
    assert report["mae"] == pytest.approx(0.5)  # (0/0→0 + |0−1|/1) / 2
    assert report["obo"] == 1.0
    assert "MAE" in result.output


def test_eval_bad_labels(tmp_path) -> None:
    (tmp_path / "labels.csv").write_text("video,count\nx.mp4,3\n")
    one_line_error(invoke("eval", str(tmp_path)), "file,reps")
    one_line_error(invoke("eval", str(tmp_path / "missing")), "missing")
