"""Core's own plugin: the pose model and the core benchmarks (video decode, raw pose)."""

from __future__ import annotations

import time

from portfolio_ml_core.bench import BenchContext, Benchmark, BenchmarkRegistry, Metric
from portfolio_ml_core.hookspecs import hookimpl
from portfolio_ml_core.models import BUILTIN_MODELS, ModelRegistry

BENCH_CLIP = "videos/squat_side_barbell_2reps.mp4"
POSE_SIZE = (640, 360)


@hookimpl
def register_models(registry: ModelRegistry) -> None:
    for spec in BUILTIN_MODELS:
        registry.add(spec)


def bench_video_decode(context: BenchContext) -> list[Metric]:
    from portfolio_ml_core.video import VideoSource

    clip = context.asset(BENCH_CLIP)
    limit = 150 if context.quick else None
    rates = []
    for _ in range(1 if context.quick else 3):
        with VideoSource(clip) as video:
            start, n = time.perf_counter(), 0
            for _frame in video.frames(max_frames=limit):
                n += 1
            rates.append(n / (time.perf_counter() - start))
    rates.sort()
    with VideoSource(clip) as video:
        w, h = video.size
    return [
        Metric("decode_fps", rates[len(rates) // 2], "frames/s", note=f"{w}x{h} {clip.name}"),
        Metric("decode_fps_spread", rates[-1] - rates[0], "frames/s", note="max - min of runs"),
    ]


def bench_pose_raw(context: BenchContext) -> list[Metric]:
    """Raw PoseLandmarker (video mode) on pre-decoded 640x360 frames: the ceiling for squat."""
    from portfolio_ml_core.models import resolve_model
    from portfolio_ml_core.pose import PoseEstimator
    from portfolio_ml_core.video import VideoSource, letterbox

    clip = context.asset(BENCH_CLIP)
    limit = 120 if context.quick else 400
    with VideoSource(clip) as video:
        frames = [letterbox(f.image, POSE_SIZE) for f in video.frames(max_frames=limit)]
    model = resolve_model("pose_landmarker_full")
    latencies = []
    with PoseEstimator(model, mode="video") as pose:
        for i, image in enumerate(frames[:10]):  # warm-up
            pose.process(image, i * 33)
    with PoseEstimator(model, mode="video") as pose:
        start = time.perf_counter()
        for i, image in enumerate(frames):
            t0 = time.perf_counter()
            pose.process(image, i * 33)
            latencies.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - start
    latencies.sort()
    return [
        Metric("pose_fps", len(frames) / elapsed, "frames/s", note=f"{len(frames)} frames 640x360"),
        Metric(
            "pose_latency_p50", 1000 * latencies[len(latencies) // 2], "ms", higher_is_better=False
        ),
        Metric(
            "pose_latency_p95",
            1000 * latencies[int(0.95 * (len(latencies) - 1))],
            "ms",
            higher_is_better=False,
        ),
    ]


@hookimpl
def register_benchmarks(registry: BenchmarkRegistry) -> None:
    registry.add(
        Benchmark("core.video_decode", "core", "decode FPS of a real clip", bench_video_decode)
    )
    registry.add(
        Benchmark("core.pose_raw", "core", "raw PoseLandmarker FPS at 640x360", bench_pose_raw)
    )
