from __future__ import annotations

import pytest
from portfolio_ml_core.bench import (
    BenchContext,
    Benchmark,
    Metric,
    Timing,
    compare,
    measure,
    run_benchmarks,
)
from portfolio_ml_core.errors import InputFileError


def test_timing_statistics():
    t = Timing((1.0, 2.0, 3.0, 4.0, 100.0))
    assert t.median == 3.0
    assert t.spread == 2.0  # IQR ignores the outlier
    assert t.percentile(100) == 100.0


def test_measure_warms_up_then_repeats():
    calls = []
    timing = measure(lambda: calls.append(1), warmup=2, repeats=3)
    assert len(calls) == 5 and len(timing.samples) == 3


def test_metric_pass_and_miss():
    assert Metric("fps", 30, target=25).passed is True
    assert Metric("latency", 30, target=25, higher_is_better=False).passed is False
    assert Metric("info", 1).passed is None


def test_failing_benchmark_is_recorded_not_fatal():
    def boom(ctx):
        raise RuntimeError("no data")

    report = run_benchmarks(
        [Benchmark("a.bad", "a", "", boom), Benchmark("a.ok", "a", "", lambda c: [Metric("x", 1)])],
        BenchContext(quick=True),
    )
    assert report.results[0].error == "RuntimeError: no data"
    assert report.results[1].metrics[0].value == 1
    assert report.environment["python"]


def test_compare_respects_direction_and_tolerance():
    def rep(fps, lat):
        return {
            "results": [
                {
                    "name": "b",
                    "metrics": [
                        {"name": "fps", "value": fps, "higher_is_better": True},
                        {"name": "lat", "value": lat, "higher_is_better": False},
                    ],
                }
            ]
        }

    assert compare(rep(95, 10.5), rep(100, 10), 0.1) == []
    found = {r.metric for r in compare(rep(80, 12), rep(100, 10), 0.1)}
    assert found == {"fps", "lat"}


def test_asset_lookup(tmp_path):
    with pytest.raises(InputFileError, match="--assets"):
        BenchContext().asset("videos/x.mp4")
    with pytest.raises(InputFileError, match="not found"):
        BenchContext(assets_dir=tmp_path).asset("videos/x.mp4")
