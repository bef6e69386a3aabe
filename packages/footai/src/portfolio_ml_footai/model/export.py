"""Write the trained net in the form inference reads: a LiteRT (TFLite) flat buffer with int8
weights and float activations (dynamic-range quantization).

LiteRT was the fastest of the runtimes measured on 2 CPU cores (docs/footai.md), and its
interpreter (``ai-edge-litert``) runs without TensorFlow, so ``footai run`` never imports it.
Int8 weights run the net 2.6× faster than float32 on one core of the Xeon this was measured on
(14 against 36 ms a 640×352 frame) and 2.4× on two, for no measurable loss on the real test
frames (persons F1 0.914 → 0.910, roles 0.934 → 0.938, pitch 23/23 within 1 m either way).
Full int8 (activations too, calibrated on training frames) ran faster still (9.7 ms) but lost
0.02 persons F1, so the activations stay float. The Keras model is kept beside it for further
training and for the TensorFlow comparison.

`net_from_flat_buffer` reads a float32 flat buffer of this net back into Keras, so that a
net exported before quantization (or a float export) can be quantized by ``footai quantize``.
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from portfolio_ml_core.errors import InputFileError
from portfolio_ml_core.fsutil import atomic_path, file_sha256, write_text_atomic
from portfolio_ml_core.native import quiet_native_stderr

WEIGHTS_NAME = "footai_net.tflite"
KERAS_NAME = "footai_net.keras"


def export_model(
    model: Any, out_dir: Path, input_size: tuple[int, int] | None = None, quantize: bool = True
) -> Path:
    """Save ``model`` as ``footai_net.keras`` and ``footai_net.tflite`` (+ ``.sha256``) in out_dir;
    ``quantize=False`` writes float32 weights."""
    from .net import build_net
    from .spec import NET, NetSpec

    w, h = input_size or NET.size
    fixed = build_net(NetSpec(w, h))  # a fixed input size: the flat buffer has static shapes
    fixed.set_weights(model.get_weights())
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / KERAS_NAME) as tmp:
        fixed.save(tmp)  # the temporary name keeps the .keras suffix Keras needs
    return write_flat_buffer(fixed, out_dir / WEIGHTS_NAME, quantize)


def write_flat_buffer(model: Any, target: Path, quantize: bool = True) -> Path:
    """``model`` (fixed input size) as a flat buffer at ``target``, with ``target.sha256``."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantize:  # no representative data: weights only, activations stay float
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    # The converter prints every captured tensor (Python stdout) and C++ INFO lines (stderr).
    with quiet_native_stderr(), contextlib.redirect_stdout(io.StringIO()):
        flat = converter.convert()
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        tmp.write_bytes(flat)
    write_text_atomic(
        target.with_name(f"{target.name}.sha256"), f"{file_sha256(target)}  {target.name}\n"
    )
    return target


# A flat buffer names each convolution's filter after its Keras layer ("…/s1b0_conv_1/convolution").
_CONV_NAME = re.compile(r"/(\w+?)(?:_\d+)?/convolution$")


def net_from_flat_buffer(path: Path) -> Any:
    """The Keras net whose float32 flat buffer is ``path``, for re-export (``footai quantize``).

    The converter folded each batch norm into its convolution's filter and bias, so the
    rebuilt net gets the folded filter, and an identity batch norm that adds the bias.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from .net import build_net
    from .spec import NetSpec

    try:
        with quiet_native_stderr():  # no delegate: it would take the constant tensors away
            interp = Interpreter(
                model_path=str(path),
                experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
            )
            interp.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise InputFileError(f"{path}: not a LiteRT model ({exc})") from None
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    shape = interp.get_input_details()[0]["shape"]
    if len(shape) != 4 or shape[3] != 3:
        raise InputFileError(f"{path}: input shape {tuple(shape)}, expected (1, H, W, 3)")
    net = build_net(NetSpec(int(shape[2]), int(shape[1])))
    names = {layer.name for layer in net.layers}
    filled: set[str] = set()
    for op in interp._get_ops_details():
        if op["op_name"] != "CONV_2D":
            continue
        filter_index, bias_index = op["inputs"][1], op["inputs"][2]
        if tensors[filter_index]["dtype"] != np.float32:
            raise InputFileError(f"{path}: its weights are already quantized")
        found = _CONV_NAME.search(tensors[filter_index]["name"])
        if found is None or found.group(1) not in names:
            raise InputFileError(f"{path}: not a Foot AI net (a convolution Foot AI does not have)")
        name = found.group(1)
        kernel = interp.get_tensor(filter_index).transpose(1, 2, 3, 0)  # OHWI → HWIO
        bias = interp.get_tensor(bias_index)
        layer = net.get_layer(name)
        try:
            if layer.use_bias:
                layer.set_weights([kernel, bias])
            else:
                layer.set_weights([kernel])
                norm = net.get_layer(name.removesuffix("_conv") + "_bn")
                n = len(bias)
                # (x - 0) / sqrt(1 - eps + eps) * 1 + bias: exactly "add the folded bias".
                norm.set_weights([np.ones(n), bias, np.zeros(n), np.full(n, 1.0 - norm.epsilon)])
                filled.add(norm.name)
        except ValueError as exc:
            raise InputFileError(f"{path}: not this Foot AI net ({name}: {exc})") from None
        filled.add(name)
    missing = [layer.name for layer in net.layers if layer.weights and layer.name not in filled]
    if missing:
        raise InputFileError(f"{path}: not a Foot AI net (no weights for {', '.join(missing[:3])})")
    return net


@dataclass(frozen=True)
class Quantized:
    path: Path
    float_bytes: int
    quantized_bytes: int
    max_difference: float  # largest head difference (logits) on a probe image, float vs int8


def quantize_flat_buffer(source: Path, target: Path) -> Quantized:
    """The float32 Foot AI net at ``source`` with int8 weights, at ``target`` (+ ``.sha256``)."""
    with quiet_native_stderr():  # TensorFlow's start-up lines (no GPU here, CPU features)
        import keras  # noqa: F401

    from .runtime import FootNet, preprocess

    net = net_from_flat_buffer(source)
    # The rebuilt net must give the flat buffer's own answers before it is quantized.
    rng = np.random.default_rng(0)
    w, h = net.input_shape[2], net.input_shape[1]
    probe = rng.integers(0, 256, (h, w, 3), np.uint8)
    reference = FootNet(source).raw(probe)
    rebuilt = np.asarray(net(preprocess(probe, (w, h))))[0]  # what FootNet feeds its file
    if np.abs(rebuilt - reference).max() > 1e-3:
        raise InputFileError(f"{source}: not a Foot AI net (its rebuilt copy answers differently)")
    write_flat_buffer(net, target, quantize=True)
    difference = float(np.abs(FootNet(target).raw(probe) - reference).max())
    return Quantized(target, source.stat().st_size, target.stat().st_size, difference)
