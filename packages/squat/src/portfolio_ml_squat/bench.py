"""``portfolio-ml bench squat``: throughput of `squat run` against the raw pose model, and
the latency of `squat live`.

All figures come from one 640×360 clip made from the real side-view squat clip (pillar-boxed),
found through ``$PORTFOLIO_ML_SQUAT_BENCH_VIDEO`` or ``$PORTFOLIO_ML_ASSETS`` /
``$PORTFOLIO_ML_SHARED`` (``videos/squat_side_barbell_2reps.mp4``). Raw and end-to-end runs
alternate so that other load on the machine hits both alike; the medians are reported.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
from portfolio_ml_core.bench import BenchContext, Benchmark, Metric
from portfolio_ml_core.video import letterbox as core_letterbox

BENCH_SIZE = (640, 360)
CLIP_NAME = "squat_side_barbell_2reps.mp4"
CLIP_TRUE_REPS = 2


def _source_clip(ctx: BenchContext) -> Path:
    """The real clip: ``$PORTFOLIO_ML_SQUAT_BENCH_VIDEO``, else ``videos/<clip>`` in the assets."""
    explicit = os.environ.get("PORTFOLIO_ML_SQUAT_BENCH_VIDEO")
    if explicit:
        return Path(explicit)
    return ctx.asset(f"videos/{CLIP_NAME}")


def letterbox(image: np.ndarray, size: tuple[int, int] = BENCH_SIZE) -> np.ndarray:
    """Fit ``image`` into the benchmark size keeping its aspect ratio (core's `letterbox`)."""
    return core_letterbox(image, size)


def make_bench_clip(ctx: BenchContext, work_dir: Path, max_frames: int | None) -> Path:
    """The 640×360 benchmark clip (made once per work folder and length)."""
    from portfolio_ml_core.video import VideoSink, VideoSource

    tag = "all" if max_frames is None else str(max_frames)
    path = work_dir / f"squat_bench_{BENCH_SIZE[0]}x{BENCH_SIZE[1]}_{tag}.mp4"
    if path.is_file():
        return path
    with VideoSource(_source_clip(ctx)) as video, VideoSink(path, video.fps, BENCH_SIZE) as sink:
        for frame in video.frames(max_frames=max_frames):
            sink.write(letterbox(frame.image))
    return path


def raw_pose_fps(clip: Path, model: Path) -> tuple[float, float]:
    """Frames/s of MediaPipe's PoseLandmarker alone (VIDEO mode) on the decoded frames, and
    its CPU seconds per frame."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision
    from portfolio_ml_core.pose import quiet_native_stderr
    from portfolio_ml_core.video import VideoSource

    with VideoSource(clip) as video:
        frames = [f for f in video.frames()]
    options = vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model)),
        running_mode=vision.RunningMode.VIDEO,
        num_poses=1,
    )
    with quiet_native_stderr():
        landmarker = vision.PoseLandmarker.create_from_options(options)
    try:
        start, cpu = time.perf_counter(), time.process_time()
        for f in frames:
            rgb = cv2.cvtColor(f.image, cv2.COLOR_BGR2RGB)
            landmarker.detect_for_video(
                mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), f.timestamp_ms
            )
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        with quiet_native_stderr():
            landmarker.close()
    return len(frames) / elapsed, cpu / len(frames)


def _work_dir(ctx: BenchContext) -> Path:
    import tempfile

    path = ctx.work_dir or Path(tempfile.gettempdir()) / "portfolio-ml-bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _model() -> Path:
    from portfolio_ml_core.models import resolve_model

    return resolve_model("pose_landmarker_full", allow_download=False)


def _core_note(core: int | None) -> str:
    return f"alone on CPU {core}" if core is not None else "beside the other threads"


def bench_end_to_end(ctx: BenchContext) -> list[Metric]:
    from portfolio_ml_squat.pipeline import RunConfig, analyze_video

    work = _work_dir(ctx)
    model = _model()
    clip = make_bench_clip(ctx, work, 150 if ctx.quick else None)
    rounds = 2 if ctx.quick else 3
    raw, e2e, bare, ratio, bare_ratio, cpu_ratio, reps = [], [], [], [], [], [], []
    for _ in range(rounds):  # paired rounds: load from elsewhere hits raw and run alike
        raw_fps, raw_cpu = raw_pose_fps(clip, model)
        run = analyze_video(clip, work / "squat_run", model, RunConfig(write_plot=False))
        nov = analyze_video(clip, None, model, RunConfig(write_video=False))
        raw.append(raw_fps)
        e2e.append(run.fps_processed)
        bare.append(nov.fps_processed)
        ratio.append(run.fps_processed / raw_fps)
        bare_ratio.append(nov.fps_processed / raw_fps)
        cpu_ratio.append(raw_cpu / (run.loop_cpu_s / run.frames))
        reps.append(run.reps)
    med = statistics.median
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    frames = run.frames
    metrics = [
        Metric("raw_pose_fps", med(raw), "frames/s",
               note=f"PoseLandmarker alone, {frames} frames in memory; load avg {load}"),
        Metric("run_fps", med(e2e), "frames/s", target=40.0,
               note="squat run: decode+pose+count+overlay+annotated.mp4; pose model "
                    + _core_note(run.extra.get("pose_model_core"))),
        Metric("run_to_raw_ratio", med(ratio), "×", target=0.9,
               note=f"median of {rounds} paired rounds"),
        Metric("run_fps_no_video", med(bare), "frames/s", note="squat run --no-video"),
        Metric("run_no_video_to_raw_ratio", med(bare_ratio), "×"),
        Metric("cpu_raw_to_run_ratio", med(cpu_ratio), "×",
               note="CPU s/frame of raw over run (all threads); insensitive to other load"),
    ]  # fmt: skip
    if not ctx.quick:
        metrics.append(
            Metric("clip_count_error", abs(reps[-1] - CLIP_TRUE_REPS), "reps", target=0,
                   higher_is_better=False, note=f"real side-view clip, truth {CLIP_TRUE_REPS}")
        )  # fmt: skip
    return metrics


def bench_live_latency(ctx: BenchContext) -> list[Metric]:
    from portfolio_ml_squat.live import LiveConfig, run_live

    work = _work_dir(ctx)
    model = _model()
    clip = make_bench_clip(ctx, work, 150 if ctx.quick else None)
    config = LiveConfig(display=False, realtime=True, max_frames=150 if ctx.quick else 300)
    _, stats = run_live(clip, model, config, out_dir=None, log=lambda _m: None)
    shown = stats.shown + stats.dropped
    return [
        Metric(
            "live_latency_p50",
            stats.percentile(50),
            "ms",
            target=33.0,
            higher_is_better=False,
            note="file played in real time, 640×360",
        ),
        Metric("live_latency_p95", stats.percentile(95), "ms", target=50.0, higher_is_better=False),
        Metric(
            "live_dropped_share",
            stats.dropped / max(shown, 1),
            "",
            target=0.02,
            higher_is_better=False,
        ),
    ]


def benchmarks() -> list[Benchmark]:
    return [
        Benchmark(
            "squat.end_to_end",
            "squat",
            "squat run frames/s at 640×360 vs raw PoseLandmarker on the same frames",
            bench_end_to_end,
        ),
        Benchmark(
            "squat.live_latency",
            "squat",
            "squat live per-frame latency p50/p95 (file played in real time, headless)",
            bench_live_latency,
        ),
    ]
