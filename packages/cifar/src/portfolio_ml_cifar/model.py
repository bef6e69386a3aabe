"""An airbench-shaped ResNet for CIFAR-10 in Keras 3.

The recipe follows Keller Jordan's airbench94 (94 % in ~10 epochs):

* a fixed 2×2 *patch-whitening* convolution as the first layer (its filters are the eigenvectors of
  the training set's 2×2 patch covariance, so the net starts from decorrelated inputs);
* three conv groups ``conv → maxpool → BN → GELU → conv → BN → GELU`` (no residual adds: at this
  depth the max-pools carry the signal well enough and skip the extra memory traffic);
* BatchNorm with a fast momentum, no learned scale (only the bias: halves BN's parameters and
  makes the net scale invariant, which lets weight decay act as a learning-rate control);
* a bias-free linear head scaled by 1/9 so logits start small.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

CLASS_NAMES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
NUM_CLASSES = len(CLASS_NAMES)
IMAGE_SHAPE = (32, 32, 3)

# Per-channel statistics of the CIFAR-10 training set, on [0, 255] pixels.
MEAN = np.array([125.307, 122.950, 113.865], dtype=np.float32)
STD = np.array([62.993, 62.089, 66.705], dtype=np.float32)


@dataclass(frozen=True)
class NetConfig:
    widths: tuple[int, int, int] = (64, 256, 256)
    bn_momentum: float = 0.6  # Keras convention (PyTorch 0.4): running stats adapt quickly
    scaling_factor: float = 1 / 9
    whiten_width: int = 24  # 2 × 12 eigen-filters of a 2×2×3 patch


def whitening_filters(images: np.ndarray, eps: float = 5e-4) -> np.ndarray:
    """2×2×3 patch-whitening filters from uint8 (N, 32, 32, 3) images, shape (2, 2, 3, 24).

    Each eigenvector of the patch covariance, divided by sqrt(eigenvalue), decorrelates one
    direction; it is used with both signs so a following GELU keeps both halves.
    """
    x = normalize_np(images[:5000])
    patches = np.lib.stride_tricks.sliding_window_view(x, (2, 2), axis=(1, 2))
    # (N, 31, 31, 3, 2, 2) → (M, 2, 2, 3) in the kernel's (h, w, c) order
    patches = patches.transpose(0, 1, 2, 4, 5, 3).reshape(-1, 12).astype(np.float64)
    patches -= patches.mean(axis=0)
    cov = patches.T @ patches / len(patches)
    eigenvalues, eigenvectors = np.linalg.eigh(cov)
    eigenvalues, eigenvectors = eigenvalues[::-1], eigenvectors[:, ::-1]
    filters = eigenvectors / np.sqrt(eigenvalues + eps)  # (12, 12), column k = filter k
    filters = np.concatenate([filters, -filters], axis=1)  # (12, 24)
    return filters.reshape(2, 2, 3, 24).astype(np.float32)


def normalize_np(images: np.ndarray) -> np.ndarray:
    return (images.astype(np.float32) - MEAN) / STD


def build_model(
    config: NetConfig | None = None,
    whiten: np.ndarray | None = None,
    dtype: str = "float32",
) -> Any:
    """The network, taking uint8-range float images (N, 32, 32, 3) and returning float32 logits.

    ``dtype`` is a Keras dtype policy for the body (e.g. ``"mixed_bfloat16"`` for training on a
    CPU with bf16 units); variables stay float32 either way, BatchNorm computes in float32, and
    the head runs in float32 so the logits keep full precision.
    """
    import keras
    from keras import layers

    config = config or NetConfig()

    def conv_group(x: Any, width: int, name: str) -> Any:
        x = layers.Conv2D(
            width, 3, padding="same", use_bias=False, name=f"{name}_conv1", dtype=dtype
        )(x)
        x = layers.MaxPooling2D(2, name=f"{name}_pool", dtype=dtype)(x)
        x = batch_norm(f"{name}_bn1")(x)
        x = layers.Activation("gelu", name=f"{name}_act1", dtype=dtype)(x)
        x = layers.Conv2D(
            width, 3, padding="same", use_bias=False, name=f"{name}_conv2", dtype=dtype
        )(x)
        x = batch_norm(f"{name}_bn2")(x)
        return layers.Activation("gelu", name=f"{name}_act2", dtype=dtype)(x)

    def batch_norm(name: str) -> Any:
        return layers.BatchNormalization(
            momentum=config.bn_momentum, epsilon=1e-12, scale=False, name=name, dtype=dtype
        )

    inputs = keras.Input(IMAGE_SHAPE, name="image")
    # Normalisation lives in the model so every consumer (eval, serve, TFLite) feeds raw pixels.
    x = layers.Rescaling(1.0 / STD, offset=-MEAN / STD, name="normalize", dtype=dtype)(inputs)
    whiten_layer = layers.Conv2D(
        config.whiten_width, 2, padding="valid", use_bias=True, name="whiten", dtype=dtype
    )
    x = whiten_layer(x)
    x = layers.Activation("gelu", name="whiten_act", dtype=dtype)(x)
    for i, width in enumerate(config.widths, start=1):
        x = conv_group(x, width, f"block{i}")
    x = layers.GlobalMaxPooling2D(name="pool", dtype=dtype)(x)
    x = layers.Dense(NUM_CLASSES, use_bias=False, name="head", dtype="float32")(x)
    outputs = layers.Rescaling(config.scaling_factor, name="logits", dtype="float32")(x)
    model = keras.Model(inputs, outputs, name="cifar_airbench")
    # airbench's initialisation (set as arrays, not as custom Keras initialisers, so model.keras
    # loads without any custom objects).
    for layer in model.layers:
        if layer.name.startswith("block") and "_conv" in layer.name:
            layer.kernel.assign(dirac_uniform(tuple(layer.kernel.shape)))
    head = model.get_layer("head")
    head.kernel.assign(fan_in_uniform(tuple(head.kernel.shape)))
    if whiten is not None:
        kernel, bias = whiten_layer.get_weights()
        whiten_layer.set_weights([whiten.astype(kernel.dtype), np.zeros_like(bias)])
    # The whitening filters are statistics, not parameters: only its bias trains.
    whiten_layer.kernel.trainable = False
    return model


def fan_in_uniform(shape: tuple[int, ...]) -> np.ndarray:
    """PyTorch's default init, U(±1/sqrt(fan_in)), smaller than Keras' Glorot for these layers.
    BatchNorm makes the convs scale invariant, so the weight norm sets the effective learning
    rate: airbench's hyper-parameters were tuned at this scale. (numpy's global generator,
    seeded by ``keras.utils.set_random_seed``.)"""
    bound = 1 / math.sqrt(int(np.prod(shape[:-1])))
    return np.random.uniform(-bound, bound, shape).astype(np.float32)


def dirac_uniform(shape: tuple[int, ...]) -> np.ndarray:
    """airbench's conv init: fan-in uniform, with the first ``in_channels`` filters replaced by
    the identity (a delta at the centre tap): an implicit residual path through the plain
    stack at the start of training."""
    kh, kw, cin, cout = shape
    n = min(cin, cout)
    kernel = fan_in_uniform(shape)
    kernel[..., :n] = 0.0
    kernel[kh // 2, kw // 2, np.arange(n), np.arange(n)] = 1.0
    return kernel


def is_bias(variable: Any) -> bool:
    """BatchNorm offsets get a larger learning rate (airbench's bias_scaler); the whitening
    layer's bias does not (airbench trains it at the base rate)."""
    path = getattr(variable, "path", variable.name)
    return bool(path.endswith("beta"))
