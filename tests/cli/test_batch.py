"""``portfolio-ml batch`` on a local Ray cluster: several clips and a bad one, results equal to
``run``, resuming after an interrupted batch, and a plugin without a batch job."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
from portfolio_ml_cli.app import create_app
from portfolio_ml_cli.plugins import create_plugin_manager
from portfolio_ml_core.batch import DONE_MARKER, SUMMARY_CSV
from portfolio_ml_core.hookspecs import hookimpl
from portfolio_ml_footai.synth import SampleConfig, render_sample
from typer.testing import CliRunner

runner = CliRunner()
# Timing and where the input was: the only summary fields allowed to differ from `run`'s.
VOLATILE = {"video", "processing_fps", "processing_seconds"}


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three short synthetic broadcast clips (static, pan, tactical) and one that is not a video."""
    folder = tmp_path_factory.mktemp("batch_clips")
    for seed, camera in [(1, "static"), (2, "pan"), (3, "tactical")]:
        made = render_sample(folder / f"render{seed}", SampleConfig(camera, 1.6, seed, 640, 360))
        shutil.move(made.video, folder / f"{camera}.mp4")
        shutil.rmtree(folder / f"render{seed}")
    (folder / "broken.mp4").write_bytes(b"\x00not a video at all" * 50)
    return folder


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with (out / SUMMARY_CSV).open() as fh:
        return {Path(r["input"]).stem: r for r in csv.DictReader(fh)}


def _batch(*args: str | Path):
    return runner.invoke(create_app(), ["batch", *map(str, args)])


@pytest.mark.slow  # 100 s on 2 cores; the matches-`run` test below covers a whole batch
def test_interrupted_batch_resumes_where_it_stopped(clips: Path, tmp_path: Path, request):
    out = tmp_path / "out"
    script = Path(sys.executable).with_name("portfolio-ml")
    # One task at a time (2 CPUs each), so the batch is interrupted between inputs.
    command = [str(script), "batch", "footai", str(clips), "--out", str(out),
               "--cpus-per-task", "2", "--", "--no-video"]  # fmt: skip
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    deadline = time.monotonic() + 180
    while not list(out.glob(f"*/{DONE_MARKER}")) and proc.poll() is None:
        assert time.monotonic() < deadline, "no input finished in 180 s"
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)  # Ctrl-C
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode != 0
    finished = {p.parent.name for p in out.glob(f"*/{DONE_MARKER}")}
    assert 1 <= len(finished) < 4, stderr

    request.getfixturevalue("ray_local")
    result = _batch("footai", clips, "--out", out, "--", "--no-video")
    rows = _rows(out)
    assert result.exit_code == 1  # broken.mp4
    for stem in finished:
        assert rows[stem]["status"] == "skipped"
    for stem in {"static", "pan", "tactical"} - finished:
        assert rows[stem]["status"] == "done"
    assert not list(out.glob(".*.partial"))  # the interrupted task's staging folder is gone


def test_batch_runs_every_clip_reports_the_bad_one_and_matches_run(
    clips: Path, tmp_path: Path, ray_local
):
    out = tmp_path / "out"
    result = _batch("footai", clips / "*.mp4", "--out", out, "--", "--no-video")
    assert result.exit_code == 1, result.output
    assert "1 of 4 inputs failed" in result.output
    rows = _rows(out)
    assert {s: r["status"] for s, r in rows.items()} == {
        "broken": "failed", "pan": "done", "static": "done", "tactical": "done"
    }  # fmt: skip
    assert "not a readable video" in rows["broken"]["error"]
    assert not (out / "broken").exists()
    for stem in ("static", "pan"):
        assert rows[stem]["calibration"] and int(rows[stem]["players_tracked"]) > 0

    # Identical to `footai run` on the same input, file by file.
    for stem in ("static", "tactical"):
        alone = tmp_path / f"run_{stem}"
        ran = runner.invoke(
            create_app(),
            ["footai", "run", str(clips / f"{stem}.mp4"), "--out", str(alone), "--no-video"],
        )
        assert ran.exit_code == 0, ran.output
        assert (alone / "tracks.csv").read_bytes() == (out / stem / "tracks.csv").read_bytes()
        a, b = (json.loads((d / "summary.json").read_text()) for d in (alone, out / stem))
        assert {k: v for k, v in a.items() if k not in VOLATILE} == {
            k: v for k, v in b.items() if k not in VOLATILE
        }
        assert sorted(p.name for p in alone.iterdir()) == sorted(
            p.name for p in (out / stem).iterdir() if p.name != DONE_MARKER
        )

    # A second run finds everything current: nothing is recomputed.
    again = _batch("footai", clips / "*.mp4", "--out", out, "--", "--no-video")
    assert {r["status"] for s, r in _rows(out).items() if s != "broken"} == {"skipped"}
    assert again.exit_code == 1  # the broken clip is still broken


class _CommandsOnly:
    @hookimpl
    def register_commands(self, app: typer.Typer) -> None:
        app.add_typer(typer.Typer(), name="quiet")


def test_a_plugin_without_a_batch_job_is_a_clear_error(clips: Path, tmp_path: Path):
    manager = create_plugin_manager()
    manager.register(_CommandsOnly(), "quiet")
    result = runner.invoke(
        create_app(manager), ["batch", "quiet", str(clips), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 1
    assert (
        "plugin 'quiet' registers no batch job (batch jobs: cifar, footai, squat)" in result.output
    )
    unknown = _batch("nosuch", clips, "--out", tmp_path / "out")
    assert unknown.exit_code == 1 and "no plugin 'nosuch' (installed:" in unknown.output


def test_bad_plugin_options_fail_before_any_task(clips: Path, tmp_path: Path):
    result = _batch("footai", clips, "--out", tmp_path / "out", "--", "--bogus")
    assert result.exit_code == 1
    assert "No such option: --bogus" in result.output
    assert not (tmp_path / "out").exists()
