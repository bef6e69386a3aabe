"""The batch planner, resume markers and atomic per-input outputs (no Ray needed here)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from portfolio_ml_core.batch import (
    DONE_MARKER,
    SUMMARY_CSV,
    SUMMARY_JSON,
    BatchJob,
    BatchRow,
    completed_row,
    expand_inputs,
    plan,
    run_one,
    write_summary,
)
from portfolio_ml_core.errors import InputFileError, PortfolioError


def _write_result(source: Path, out: Path, options) -> dict:
    if source.read_text() == "bad":
        raise InputFileError(f"{source} is not a video")
    (out / "result.txt").write_text(f"{source.read_text()} {' '.join(options)}")
    return {"length": len(source.read_text())}


JOB = BatchJob("fake", "test job", _write_result, suffixes=(".mp4",))


@pytest.fixture
def clips(tmp_path: Path) -> Path:
    folder = tmp_path / "clips"
    (folder / "more").mkdir(parents=True)
    for name, text in [("a.mp4", "aa"), ("b.MP4", "bbb"), ("more/c.mp4", "c"), ("notes.txt", "x")]:
        (folder / name).write_text(text)
    return folder


def test_folders_globs_and_files_expand_sorted_and_once(clips: Path):
    found = expand_inputs([str(clips), str(clips / "a.mp4"), str(clips / "*.mp4")], JOB)
    assert [p.name for p in found] == ["a.mp4", "b.MP4", "c.mp4"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [("missing.mp4", "input not found"), ("nothing-*.mp4", "match"), ("empty", "no .mp4 files")],
)
def test_inputs_that_match_nothing_are_errors(tmp_path: Path, spec: str, message: str):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match=message):
        expand_inputs([str(tmp_path / spec)], JOB)


def test_outputs_inside_an_input_folder_are_not_inputs(clips: Path):
    (clips / "runs" / "a").mkdir(parents=True)
    (clips / "runs" / "a" / "annotated.mp4").write_text("an output")
    found = expand_inputs([str(clips)], JOB, outputs=clips / "runs")
    assert [p.name for p in found] == ["a.mp4", "b.MP4", "c.mp4"]


def test_two_inputs_with_one_stem_are_refused(clips: Path, tmp_path: Path):
    (clips / "more" / "a.mp4").write_text("other")
    with pytest.raises(InputFileError, match="would both write to"):
        plan(expand_inputs([str(clips)], JOB), tmp_path / "out")


def test_run_one_writes_outputs_and_marker_and_resume_sees_them(clips: Path, tmp_path: Path):
    [item] = plan([clips / "a.mp4"], tmp_path / "out")
    row = run_one(JOB, item, ["--x"])
    assert row.status == "done" and row.figures == {"length": 2}
    assert (item.out_dir / "result.txt").read_text() == "aa --x"
    assert json.loads((item.out_dir / DONE_MARKER).read_text())["options"] == ["--x"]
    assert not list(item.out_dir.parent.glob(".*partial"))

    assert completed_row(item, JOB, ["--x"]).status == "skipped"
    assert completed_row(item, JOB, ["--y"]) is None  # other options: not current
    stat = item.input.stat()
    os.utime(item.input, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert completed_row(item, JOB, ["--x"]) is None  # the input changed: run it again


def test_a_failing_input_leaves_no_output_and_keeps_the_old_one(clips: Path, tmp_path: Path):
    [item] = plan([clips / "a.mp4"], tmp_path / "out")
    assert run_one(JOB, item, []).status == "done"
    item.input.write_text("bad")
    row = run_one(JOB, item, [])
    assert row.status == "failed" and row.error.endswith("is not a video")
    assert (item.out_dir / "result.txt").read_text() == "aa "  # the complete older output
    assert not list(item.out_dir.parent.glob(".*partial"))


def test_a_crashing_job_is_one_line_not_a_traceback(clips: Path, tmp_path: Path):
    def crash(source, out, options):
        (out / "half.txt").write_text("half")
        raise ZeroDivisionError("boom\nsecond line")

    [item] = plan([clips / "a.mp4"], tmp_path / "out")
    row = run_one(BatchJob("crash", "", crash), item, [])
    assert row.status == "failed" and row.error == "unexpected ZeroDivisionError: boom"
    assert not item.out_dir.exists()


def test_summary_has_one_row_per_input_and_the_figures_as_columns(tmp_path: Path):
    rows = [
        BatchRow("a.mp4", "out/a", "done", 1.5, figures={"reps": 3}),
        BatchRow("b.mp4", "out/b", "failed", 0.1, error="not a video"),
    ]
    write_summary(tmp_path, rows, {"job": "fake"})
    lines = (tmp_path / SUMMARY_CSV).read_text().splitlines()
    assert lines == [
        "input,output,status,seconds,error,reps",
        "a.mp4,out/a,done,1.500,,3",
        "b.mp4,out/b,failed,0.100,not a video,",
    ]
    data = json.loads((tmp_path / SUMMARY_JSON).read_text())
    assert (data["done"], data["failed"], data["job"]) == (1, 1, "fake")


def test_plugin_options_are_checked_against_the_run_command():
    from portfolio_ml_footai.batch_job import batch_job

    job = batch_job()
    job.check_options(["--no-video", "--stride", "2"])
    with pytest.raises(PortfolioError, match="No such option"):
        job.check_options(["--bogus"])
    with pytest.raises(PortfolioError, match="set by batch"):
        job.check_options(["--out", "elsewhere"])
