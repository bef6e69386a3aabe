"""The pipeline benchmark's logic on a small real subset (speed targets are for `bench`, not here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from portfolio_ml_cifar.bench import bench_pipeline
from portfolio_ml_core.bench import BenchContext


@pytest.mark.slow  # ~4 min on 2 cores: two real training loops, timed
@pytest.mark.realdata
def test_pipeline_benchmark_times_both_loops_over_the_same_stretch(
    jpeg_subset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTFOLIO_ML_CIFAR_DATA", str(jpeg_subset))
    metrics = {m.name: m for m in bench_pipeline(BenchContext(quick=True, work_dir=tmp_path))}
    ours = metrics["pipeline_images_per_s"].value
    plain = metrics["plain_fit_images_per_s"].value
    assert ours > 0 and plain > 0
    assert metrics["speedup"].value == pytest.approx(ours / plain)
    assert metrics["speedup"].target == 1.5
    # One ratio per (ours, plain) pair of epochs: epochs 2.. of the preset's structure.
    paired = metrics["speedup_paired_median"]
    assert paired.value > 0 and paired.note.startswith("median over 9 ")
    assert metrics["pipeline_images_per_s"].note.startswith("compute ")
    # The real `train` ran to the end and wrote its outputs where the benchmark was told to.
    assert (tmp_path / "pipe" / "metrics.json").is_file()
