"""``footai.*`` benchmarks: speed at 1280×720 and accuracy on synthetic clips with exact truth."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from portfolio_ml_core.bench import BenchContext, Benchmark, Metric

from .evaluate import evaluate
from .pipeline import RunOptions
from .runner import run_video
from .synth import SampleConfig, render_sample
from .tracks_io import read_tracks

FPS_TARGET = 25.0


_SCRATCH: list[Path] = []


def _work_dir(ctx: BenchContext) -> Path:
    """``--work-dir``, else one scratch folder shared by all footai benchmarks of the process."""
    if ctx.work_dir is not None:
        base = ctx.work_dir / "footai"
    else:
        if not _SCRATCH:
            _SCRATCH.append(Path(tempfile.mkdtemp(prefix="footai-bench-")))
        base = _SCRATCH[0]
    base.mkdir(parents=True, exist_ok=True)
    return base


def _clip(ctx: BenchContext, camera: str, seed: int) -> tuple[Path, Path, Path]:
    seconds = 2.0 if ctx.quick else 10.0
    out = _work_dir(ctx) / f"clip-{camera}-{seed}-{seconds:g}s"
    if not (out / "gt.csv").exists():
        render_sample(out, SampleConfig(camera, seconds=seconds, seed=seed))
    return out / "sample.mp4", out / "gt.csv", out / "calibration.json"


def _fps_metrics(
    ctx: BenchContext, video: Path, opts: RunOptions, tag: str, note: str
) -> list[Metric]:
    """Whole-command and per-frame-loop FPS of ``footai run``, without and with video writing."""
    metrics = []
    for write_video in (False, True):
        out = _work_dir(ctx) / f"speed-{tag}-{'video' if write_video else 'novideo'}"
        start = time.perf_counter()
        summary = run_video(video, out, opts, write_video=write_video)
        wall = time.perf_counter() - start
        label = "with video writing" if write_video else "without video"
        metrics += [
            Metric(f"fps end-to-end {label}", summary["frames"] / wall, "frames/s", FPS_TARGET,
                   note=f"{note}, whole command"),
            Metric(f"fps per-frame loop {label}", summary["processing_fps"], "frames/s",
                   FPS_TARGET, note="detect+track+map loop, without start-up and output files"),
        ]  # fmt: skip
    return metrics


def _speed(ctx: BenchContext) -> list[Metric]:
    video, _, cal = _clip(ctx, "pan", 21)
    return _fps_metrics(
        ctx, video, RunOptions(calibration=cal), "synthetic", "1280×720 synthetic pan clip"
    )


REAL_CLIP = "football_broadcast_laliga.mp4"


def _speed_real(ctx: BenchContext) -> list[Metric]:
    """The real broadcast clip (``$PORTFOLIO_ML_FOOTAI_BENCH_VIDEO`` or the assets folder)."""
    explicit = os.environ.get("PORTFOLIO_ML_FOOTAI_BENCH_VIDEO")
    real = Path(explicit) if explicit else ctx.asset(f"videos/{REAL_CLIP}")
    opts = RunOptions(max_frames=150 if ctx.quick else None)
    return _fps_metrics(ctx, real, opts, "real", f"{real.name}, automatic calibration included")


def _accuracy(ctx: BenchContext, camera: str, seed: int, auto: bool) -> list[Metric]:
    video, gt, cal = _clip(ctx, camera, seed)
    out = _work_dir(ctx) / f"acc-{camera}-{seed}-{'auto' if auto else 'file'}"
    run_video(video, out, RunOptions(calibration=None if auto else cal), write_video=False)
    r = evaluate(read_tracks(gt), read_tracks(out / "tracks.csv"))
    how = "automatic calibration" if auto else "calibration file"
    return [
        Metric("F1 (IoU≥0.5)", r.f1, "", 0.95, note=how),
        Metric("IDF1", r.idf1, "", 0.85),
        Metric("MOTA", r.mota, ""),
        Metric("ID switches", r.id_switches, "", higher_is_better=False),
        Metric("team accuracy", r.team_accuracy, "", 0.98),
        Metric(
            "position error median", r.position_error_median_m, "m", 0.5, higher_is_better=False
        ),
        Metric("position error p90", r.position_error_p90_m, "m", higher_is_better=False),
        Metric("ball hit rate", r.ball_hit_rate, ""),
    ]


def benchmarks() -> list[Benchmark]:
    return [
        Benchmark(
            "footai.speed",
            "footai",
            "frames/s at 1280×720 for detect + track + map, with and without video writing",
            _speed,
        ),
        Benchmark(
            "footai.speed_real",
            "footai",
            "frames/s on the real 1280×720 LaLiga broadcast clip (needs --assets)",
            _speed_real,
        ),
        Benchmark(
            "footai.accuracy_static",
            "footai",
            "synthetic static-camera clip: detection, tracking, teams, pitch positions",
            lambda ctx: _accuracy(ctx, "static", 31, auto=False),
        ),
        Benchmark(
            "footai.accuracy_pan",
            "footai",
            "synthetic panning clip: detection, tracking, teams, pitch positions",
            lambda ctx: _accuracy(ctx, "pan", 32, auto=False),
        ),
        Benchmark(
            "footai.accuracy_pan_auto",
            "footai",
            "synthetic panning clip without calibration file (homography from the markings)",
            lambda ctx: _accuracy(ctx, "pan", 32, auto=True),
        ),
    ]
