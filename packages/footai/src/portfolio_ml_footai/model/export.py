"""Write the trained net in the form inference reads: a float32 LiteRT (TFLite) flat buffer.

LiteRT was the fastest of the runtimes measured on 2 CPU cores (docs/footai.md), and its
interpreter (``ai-edge-litert``) runs without TensorFlow, so ``footai run`` never imports it.
The Keras model is kept beside it for further training and for the TensorFlow comparison.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

from portfolio_ml_core.fsutil import atomic_path, file_sha256
from portfolio_ml_core.native import quiet_native_stderr

WEIGHTS_NAME = "footai_net.tflite"
KERAS_NAME = "footai_net.keras"


def export_model(model: Any, out_dir: Path, input_size: tuple[int, int] | None = None) -> Path:
    """Save ``model`` as ``footai_net.keras`` and ``footai_net.tflite`` (+ ``.sha256``) in out_dir."""
    import tensorflow as tf

    from .net import build_net
    from .spec import NET, NetSpec

    w, h = input_size or NET.size
    fixed = build_net(NetSpec(w, h))  # a fixed input size: the flat buffer has static shapes
    fixed.set_weights(model.get_weights())
    model = fixed
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / KERAS_NAME) as tmp:
        model.save(tmp)  # the temporary name keeps the .keras suffix Keras needs
    # The converter prints every captured tensor (Python stdout) and C++ INFO lines (stderr).
    with quiet_native_stderr(), contextlib.redirect_stdout(io.StringIO()):
        flat = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    target = out_dir / WEIGHTS_NAME
    with atomic_path(target) as tmp:
        tmp.write_bytes(flat)
    (out_dir / f"{WEIGHTS_NAME}.sha256").write_text(f"{file_sha256(target)}  {WEIGHTS_NAME}\n")
    return target
