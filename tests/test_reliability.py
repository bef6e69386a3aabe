"""Reliability sweep through the real ``portfolio-ml`` executable.

The per-plugin suites check every bad input in-process (tests/*/test_*bad*, test_cli.py). This
module checks what only a real process shows: the installed entry point never prints a
traceback, the last line is one ``Error:`` line, and a run interrupted with Ctrl+C (SIGINT) or
killed leaves no half-written output behind. docs/reliability.md summarises both.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from portfolio_ml_core.video import VideoSink

EXE = shutil.which("portfolio-ml") or str(Path(sys.executable).parent / "portfolio-ml")


def run_cli(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXE, *map(str, args)], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    everything = proc.stdout + proc.stderr
    assert proc.returncode == 1, everything
    assert "Traceback" not in everything
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], everything
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


def no_outputs(folder: Path) -> bool:
    return not folder.exists() or not any(p.is_file() for p in folder.rglob("*"))


def gray_clip(path: Path, frames: int = 30, size: tuple[int, int] = (320, 180)) -> Path:
    rng = np.random.default_rng(0)
    with VideoSink(path, 25, size, codec="h264" if shutil.which("ffmpeg") else "auto") as sink:
        for _ in range(frames):
            noise = rng.normal(0, 3, (size[1], size[0], 3))
            sink.write(np.clip(128 + noise, 0, 255).astype(np.uint8))
    return path


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    (d / "empty.mp4").write_bytes(b"")
    (d / "text.mp4").write_text("not a video\n" * 100)
    whole = gray_clip(d / "whole.mp4", frames=60)
    (d / "truncated.mp4").write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])
    (d / "photo.jpg").write_bytes(
        __import__("cv2").imencode(".jpg", np.zeros((20, 20, 3), np.uint8))[1].tobytes()
    )
    (d / "garbage.task").write_bytes(os.urandom(5_000_000))
    (d / "calib.json").write_text(
        '{"frame": 0, "image_points": [[0, 0]], "pitch_points": [[0, 0]]}'
    )
    line = [[100 * i, 50 * i] for i in range(5)]
    (d / "collinear.json").write_text(
        json.dumps(
            {"frame": 0, "image_points": line, "pitch_points": [[10 * i, 0] for i in range(5)]}
        )
    )
    files = {p.stem: p for p in d.iterdir()}
    made = run_cli("footai", "sample", "--out", d / "sample", "--seconds", "6", "--size", "640x360")
    assert made.returncode == 0, made.stderr
    files["pitch"] = next((d / "sample").glob("*.mp4"))
    files["pitch_calibration"] = d / "sample" / "calibration.json"
    return files


CASES = [
    ("squat run: missing file", ["squat", "run", "{missing}", "--out", "{out}"], ["no such file"]),
    ("squat run: empty file", ["squat", "run", "{empty}", "--out", "{out}"], ["empty"]),
    ("squat run: not a video", ["squat", "run", "{text}", "--out", "{out}"], ["not a readable"]),
    ("squat run: image", ["squat", "run", "{photo}", "--out", "{out}"], ["image, not a video"]),
    ("squat run: corrupt model", ["squat", "run", "{whole}", "--out", "{out}", "--model", "{garbage}"], []),
    ("squat live: no camera", ["squat", "live", "--camera", "97", "--no-display"], ["--source"]),
    ("footai run: too few points", ["footai", "run", "{pitch}", "--out", "{out}", "--calibration", "{calib}"], []),
    ("footai run: collinear points", ["footai", "run", "{pitch}", "--out", "{out}", "--calibration", "{collinear}"], []),
    ("footai run: no pitch", ["footai", "run", "{whole}", "--out", "{out}"], ["pitch"]),
    ("models: unknown", ["models", "path", "nope"], ["unknown model"]),
    ("bench: unknown", ["bench", "nope"], ["no benchmark"]),
]  # fmt: skip


@pytest.mark.parametrize(("label", "argv", "words"), CASES, ids=[c[0] for c in CASES])
def test_real_executable_reports_one_line(label, argv, words, bad_files, tmp_path):
    out = tmp_path / "out"
    names = {**{k: str(v) for k, v in bad_files.items()}, "missing": str(tmp_path / "nope.mp4"),
             "out": str(out)}  # fmt: skip
    proc = run_cli(*[a.format(**names) for a in argv])
    assert_one_line_error(proc, *words)
    assert no_outputs(out), list(out.rglob("*"))


def test_no_person_is_a_warning_not_an_error(bad_files, tmp_path, pose_model_path):
    proc = run_cli("squat", "run", bad_files["whole"], "--out", tmp_path / "o", "--no-video")
    assert proc.returncode == 0, proc.stderr
    assert "no person" in (proc.stdout + proc.stderr).lower()
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["reps"] == 0


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg's H.264 clip")
def test_truncated_video_is_processed_up_to_the_damage_with_a_warning(
    bad_files, tmp_path, pose_model_path
):
    # The clip is H.264 with its index up front, so the cut file decodes up to the damage.
    proc = run_cli("squat", "run", bad_files["truncated"], "--out", tmp_path / "o", "--no-video")
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text
    assert "Traceback" not in text
    assert "truncated or damaged" in proc.stderr
    assert "[h264" not in text  # FFmpeg's own decoder chatter is silenced


def interrupt_after(argv: list[str], wait_for: Path, sig: int, timeout: float = 120):
    """Start the CLI, wait until ``wait_for`` exists (work is under way), then send ``sig``."""
    # A child inherits an ignored SIGINT, and Python then never turns Ctrl-C into an interrupt:
    # start it with the default disposition, as a shell would.
    proc = subprocess.Popen(
        [EXE, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + timeout
    while not wait_for.exists():
        if proc.poll() is not None or time.time() > deadline:
            out, err = proc.communicate()
            pytest.fail(f"never started work (rc={proc.returncode}):\n{out}\n{err}")
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out + err


@pytest.mark.realdata
def test_ctrl_c_during_squat_run_leaves_no_partial_outputs(squat_clip, tmp_path):
    out = tmp_path / "run"
    # The annotated video's temporary file appears once frames are flowing.
    rc, text = interrupt_after(
        ["squat", "run", str(squat_clip), "--out", str(out)], out, signal.SIGINT
    )
    assert rc != 0, (signal.getsignal(signal.SIGINT), text[-1500:])
    assert "Traceback" not in text
    leftovers = [p.name for p in out.rglob("*") if p.is_file()]
    assert leftovers == [], leftovers


def test_ctrl_c_during_footai_run_leaves_no_partial_outputs(bad_files, tmp_path):
    out = tmp_path / "run"
    rc, text = interrupt_after(["footai", "run", str(bad_files["pitch"]), "--out", str(out),
                                "--calibration", str(bad_files["pitch_calibration"])], out,
                               signal.SIGINT)  # fmt: skip
    assert rc != 0, (signal.getsignal(signal.SIGINT), text[-1500:])
    assert "Traceback" not in text
    leftovers = [p.name for p in out.rglob("*") if p.is_file()]
    assert leftovers == [], leftovers
