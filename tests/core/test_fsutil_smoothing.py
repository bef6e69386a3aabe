from __future__ import annotations

import json

import numpy as np
import pytest
from portfolio_ml_core.fsutil import atomic_path, write_json_atomic
from portfolio_ml_core.smoothing import OneEuroFilter


def test_atomic_path_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "result.json"
    write_json_atomic(target, {"v": np.float32(1.5), "a": np.arange(2)})
    assert json.loads(target.read_text()) == {"v": 1.5, "a": [0, 1]}
    with pytest.raises(ValueError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise ValueError("interrupted")
    assert json.loads(target.read_text())["v"] == 1.5
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_one_euro_removes_jitter_but_follows_motion():
    rng = np.random.default_rng(0)
    f = OneEuroFilter(min_cutoff=1.0, beta=0.05)
    t = np.arange(300) / 30
    still = 100 + rng.normal(0, 2, 300)
    out = np.array([f(v, ti) for v, ti in zip(still, t, strict=True)]).ravel()
    assert out[30:].std() < still[30:].std() / 2
    f.reset()
    ramp = np.concatenate([np.zeros(30), np.linspace(0, 90, 15), np.full(30, 90.0)])
    out = np.array([f(v, i / 30) for i, v in enumerate(ramp)]).ravel()
    assert abs(out[-1] - 90) < 2  # catches up once the motion stops


def test_filters_ignore_missing_samples():
    f = OneEuroFilter()
    f(np.array([1.0, 2.0]), 0.0)
    out = f(np.array([np.nan, 2.0]), 0.1)
    assert out[0] == pytest.approx(1.0)
