"""Inference helpers: logits in batches, test-time augmentation, accuracy tables, model loading."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from portfolio_ml_core.errors import InputFileError, ModelNotFoundError

from portfolio_ml_cifar.model import CLASS_NAMES, NUM_CLASSES


def model_file(model_dir: str | Path) -> Path:
    """``DIR/model.keras`` (or the .keras file itself)."""
    path = Path(model_dir)
    candidate = path / "model.keras" if path.is_dir() else path
    if not candidate.is_file():
        raise ModelNotFoundError(
            f"no trained model at {candidate} (run `portfolio-ml cifar train --out {path}` first)"
        )
    return candidate


def load_model(model_dir: str | Path) -> Any:
    import keras

    path = model_file(model_dir)
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:  # truncated zip, wrong file, incompatible Keras
        raise InputFileError(f"could not load model {path}: {type(exc).__name__}: {exc}") from None


def predict_logits(
    model: Any, images: np.ndarray, batch_size: int = 500, tta: bool = False
) -> np.ndarray:
    """Logits for uint8/float (N, 32, 32, 3) images; ``tta`` averages flips and 1-px translations."""
    if tta:
        return predict_logits_with_tta(model, images, batch_size)[1]
    return _in_batches(_forward_fn(model, tta=False), images, batch_size)


def predict_logits_with_tta(
    model: Any, images: np.ndarray, batch_size: int = 500
) -> tuple[np.ndarray, np.ndarray]:
    """(plain, TTA) logits in one pass: the plain forward is one of the six TTA averages, so
    asking for both costs what TTA alone does (a training run reports both)."""
    both = _in_batches(_forward_fn(model, tta=True), images, batch_size, width=2 * NUM_CLASSES)
    return both[:, :NUM_CLASSES], both[:, NUM_CLASSES:]


def _in_batches(
    forward: Any, images: np.ndarray, batch_size: int, width: int = NUM_CLASSES
) -> np.ndarray:
    import tensorflow as tf

    out = [
        forward(tf.convert_to_tensor(images[i : i + batch_size], tf.float32)).numpy()
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(out) if out else np.zeros((0, width), np.float32)


_FORWARD_CACHE: dict[tuple[int, bool], Any] = {}


def _forward_fn(model: Any, tta: bool) -> Any:
    """The compiled forward pass: plain logits, or (with ``tta``) the plain and the TTA logits
    side by side (N, 2 × classes)."""
    import tensorflow as tf

    key = (id(model), tta)
    if key in _FORWARD_CACHE:
        return _FORWARD_CACHE[key]

    def mirror(x: Any, straight: Any = None) -> Any:
        """The mean of the image's logits and its mirror image's (``straight``: the first, if
        already computed)."""
        straight = model(x, training=False) if straight is None else straight
        return 0.5 * straight + 0.5 * model(tf.reverse(x, axis=[2]), training=False)

    @tf.function(reduce_retracing=True)
    def forward(x: Any) -> Any:
        plain = model(x, training=False)
        if not tta:
            return plain
        # airbench's TTA level 2: flip, plus flip of the two diagonal 1-px translations.
        padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], "REFLECT")
        shifted = 0.5 * mirror(padded[:, :32, :32]) + 0.5 * mirror(padded[:, 2:, 2:])
        return tf.concat([plain, 0.5 * mirror(x, plain) + 0.5 * shifted], axis=-1)

    _FORWARD_CACHE.clear()  # one model at a time: don't pin old models in memory
    _FORWARD_CACHE[key] = forward
    return forward


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class Evaluation:
    accuracy: float
    per_class_accuracy: dict[str, float]
    confusion: np.ndarray  # (true, predicted) counts
    count: int


def evaluate_predictions(labels: np.ndarray, predicted: np.ndarray) -> Evaluation:
    confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    per_class = {
        name: float(confusion[i, i] / confusion[i].sum()) if confusion[i].sum() else float("nan")
        for i, name in enumerate(CLASS_NAMES)
    }
    accuracy = float(np.trace(confusion) / max(1, confusion.sum()))
    return Evaluation(accuracy, per_class, confusion, int(confusion.sum()))


def read_metrics(model_dir: str | Path) -> dict[str, Any]:
    path = Path(model_dir) / "metrics.json"
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}
