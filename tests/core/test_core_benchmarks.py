"""Core's benchmarks run on the real clip and produce plausible figures (no speed assertions)."""

from __future__ import annotations

import pytest
from portfolio_ml_core.bench import BenchContext
from portfolio_ml_core.plugin import bench_pose_raw, bench_video_decode

pytestmark = pytest.mark.realdata


def test_core_benchmarks_quick(shared_dir, squat_clip, pose_model_path):
    context = BenchContext(quick=True, assets_dir=shared_dir)
    decode = {m.name: m for m in bench_video_decode(context)}
    assert decode["decode_fps"].value > 0
    assert "608x1080" in decode["decode_fps"].note
    pose = {m.name: m for m in bench_pose_raw(context)}
    assert pose["pose_fps"].value > 0
    assert 0 < pose["pose_latency_p50"].value <= pose["pose_latency_p95"].value
