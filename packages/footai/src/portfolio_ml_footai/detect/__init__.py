"""Detectors: a frame in, `Detected` out (boxes with roles and scores, and the pitch keypoints).

Any object with ``__call__(image) -> Detected`` is a `Detector`. Detectors are offered by name
through the ``register_detectors`` hook (core's `DetectorRegistry`, task ``"football"``), so
another package can add one; ``--detector NAME`` picks it and ``footai detectors`` lists them.
Foot AI offers three itself: the shipped net (the default), ``net-flip`` (the same net, also
run on each frame's mirror image: more accurate, slower) and ``onnx``, a user's own
YOLOv8/YOLO11-style export.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from portfolio_ml_core.detectors import DetectorRegistry, DetectorSpec, active_detector_registry
from portfolio_ml_core.errors import InputFileError

from ..detections import Detected

TASK = "football"
DEFAULT_DETECTOR = "net"


@runtime_checkable
class Detector(Protocol):
    """Boxes (xyxy pixels of the frame, class ids of `model.spec.CLASSES`, scores) and, if it
    sees them, the 32 pitch keypoints. Called from one worker thread, one frame at a time."""

    def __call__(self, image: np.ndarray) -> Detected: ...


def _shipped_net(model: Path | None = None, threads: int | None = None, **_: Any) -> Detector:
    from .net import NetDetector

    return NetDetector(model, threads=threads)


def _shipped_net_flipped(
    model: Path | None = None, threads: int | None = None, **_: Any
) -> Detector:
    from .net import NetDetector

    return NetDetector(model, threads=threads, flip=True)


def _onnx(model: Path | None = None, threads: int | None = None, **_: Any) -> Detector:
    from .onnx import OnnxDetector

    if model is None:
        raise InputFileError("--detector onnx needs --model FILE.onnx (a YOLOv8/YOLO11 export)")
    return OnnxDetector(model, threads=threads)


BUILTIN_DETECTORS = (
    DetectorSpec(
        DEFAULT_DETECTOR,
        TASK,
        "the shipped Foot AI net (LiteRT): people with roles, the ball and 32 pitch keypoints",
        _shipped_net,
    ),
    DetectorSpec(
        "net-flip",
        TASK,
        "the shipped net, also run on each frame's mirror image for the people and the ball: "
        "more accurate (real test split: persons F1 0.920 vs 0.908, ball 0.61 vs 0.56), "
        "about 1.6x the time per frame",
        _shipped_net_flipped,
    ),
    DetectorSpec(
        "onnx",
        TASK,
        "your own YOLOv8/YOLO11 ONNX export (--model FILE.onnx, onnxruntime); class names "
        "mapped to roles, pitch keypoints from the shipped net",
        _onnx,
        needs_model=True,
    ),
)


def detector_registry() -> DetectorRegistry:
    """The detectors every installed plugin offers (set by the CLI), else Foot AI's own."""
    active = active_detector_registry()
    if active is not None and active.for_task(TASK):
        return active
    registry = DetectorRegistry()
    for spec in BUILTIN_DETECTORS:
        registry.add(spec)
    return registry


def detector_names() -> list[str]:
    return [spec.name for spec in detector_registry().for_task(TASK)]


def check_detector_name(name: str) -> DetectorSpec:
    specs = {spec.name: spec for spec in detector_registry().for_task(TASK)}
    if name not in specs:
        raise InputFileError(f"unknown detector {name!r} (known: {', '.join(sorted(specs))})")
    return specs[name]


def create_detector(
    name: str = DEFAULT_DETECTOR, model: Path | None = None, threads: int | None = None
) -> Detector:
    """The detector called ``name``, built with the user's ``model`` file if it takes one;
    ``threads``: the cores it may use (None: its own choice)."""
    spec = check_detector_name(name)
    if model is not None and not Path(model).is_file():
        raise InputFileError(f"model file not found: {model}")
    detector = spec.create(model=model, threads=threads)
    if not isinstance(detector, Detector):
        raise InputFileError(f"detector {name!r} built {type(detector).__name__}, not a detector")
    return detector
