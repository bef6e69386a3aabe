"""Export a trained model as a TF SavedModel or a TFLite flatbuffer, checked against Keras."""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from portfolio_ml_core.errors import PortfolioError
from portfolio_ml_core.fsutil import atomic_path

from portfolio_ml_cifar.infer import load_model

FORMATS = ("savedmodel", "tflite")


@dataclass(frozen=True)
class ExportResult:
    path: Path
    format: str
    max_abs_diff: float  # largest |exported − Keras| logit on the check images
    top1_agreement: float  # fraction of check images with the same argmax
    size_bytes: int


def export_model(
    model_dir: str | Path,
    fmt: str,
    out: str | Path | None = None,
    check_images: np.ndarray | None = None,
    tolerance: float = 1e-3,
) -> ExportResult:
    if fmt not in FORMATS:
        raise PortfolioError(f"unknown export format {fmt!r} (choose {' or '.join(FORMATS)})")
    model = load_model(model_dir)
    base = Path(model_dir) if Path(model_dir).is_dir() else Path(model_dir).parent
    target = Path(out) if out else base / ("savedmodel" if fmt == "savedmodel" else "model.tflite")
    if check_images is None:
        check_images = np.random.default_rng(0).integers(0, 256, (16, 32, 32, 3)).astype(np.float32)
    x = check_images.astype(np.float32)
    expected = np.asarray(model(x, training=False))

    with tempfile.TemporaryDirectory(prefix=".cifar-export-", dir=target.parent) as tmp:
        saved = Path(tmp) / "savedmodel"
        model.export(str(saved), format="tf_saved_model", verbose=False)
        if fmt == "savedmodel":
            got = _run_savedmodel(saved, x)
            _replace_dir(saved, target)
        else:
            blob = _to_tflite(saved)
            got = _run_tflite(blob, x)
            with atomic_path(target) as part:
                part.write_bytes(blob)

    diff = float(np.max(np.abs(got - expected)))
    agreement = float(np.mean(np.argmax(got, -1) == np.argmax(expected, -1)))
    if diff > tolerance or agreement < 1.0:
        raise PortfolioError(
            f"exported {fmt} disagrees with the Keras model (max |Δlogit| {diff:.2e}, "
            f"top-1 agreement {agreement:.1%})"
        )
    size = (
        sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
        if target.is_dir()
        else target.stat().st_size
    )
    return ExportResult(target, fmt, diff, agreement, size)


def _run_savedmodel(path: Path, x: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    out = loaded.signatures["serving_default"](tf.constant(x))
    return np.asarray(next(iter(out.values())))


def _to_tflite(saved: Path) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    return bytes(converter.convert())


def _run_tflite(blob: bytes, x: np.ndarray) -> np.ndarray:
    interpreter = tflite_interpreter(model_content=blob)
    inp = interpreter.get_input_details()[0]
    outp = interpreter.get_output_details()[0]
    interpreter.resize_tensor_input(inp["index"], list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    return np.asarray(interpreter.get_tensor(outp["index"]))


def tflite_interpreter(**kwargs: Any) -> Any:
    """LiteRT's interpreter when installed, else TensorFlow's (deprecated, still shipped in 2.21)."""
    try:
        from ai_edge_litert.interpreter import Interpreter  # type: ignore[import-not-found]
    except ImportError:
        import tensorflow as tf

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return tf.lite.Interpreter(**kwargs)
    return Interpreter(**kwargs)


def _replace_dir(source: Path, target: Path) -> None:
    """Move a finished folder into place; an old export is removed only after the move."""
    target.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(source, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
