"""The detector registry plugins feed through ``register_detectors``."""

from __future__ import annotations

import pytest
from portfolio_ml_core.detectors import DetectorRegistry, DetectorSpec


def _spec(name: str, task: str) -> DetectorSpec:
    return DetectorSpec(name, task, f"{name} for {task}", lambda **_: None)


def test_for_task_keeps_only_that_task_in_registration_order():
    registry = DetectorRegistry()
    for name, task in [("net", "football"), ("pose", "squat"), ("onnx", "football")]:
        registry.add(_spec(name, task))
    assert [s.name for s in registry.for_task("football")] == ["net", "onnx"]
    assert [s.name for s in registry.for_task("squat")] == ["pose"]
    assert registry.for_task("tennis") == []
    assert len(registry) == 3


def test_names_are_unique_across_tasks():
    registry = DetectorRegistry()
    registry.add(_spec("net", "football"))
    with pytest.raises(ValueError, match="detector 'net' is registered twice"):
        registry.add(_spec("net", "squat"))
    with pytest.raises(LookupError, match="unknown detector 'yolo'"):
        registry.get("yolo")
