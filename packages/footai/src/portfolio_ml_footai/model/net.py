"""The Foot AI net: one small fully convolutional backbone, CenterNet-style heads.

A small residual encoder down to stride 32, a global-context vector
(which half of the pitch, how zoomed: a penalty box left and right look alike up close), then a
light feature pyramid back up to stride 4, where one 1×1 conv gives every head at once:
class-centre heatmaps (ball, goalkeeper, player, referee), box size, centre offset and 32
pitch-keypoint heatmaps. One tensor out keeps export and inference simple.
"""

from __future__ import annotations

import keras
from keras import layers

from .spec import N_KEYPOINTS, NET, OUT_CHANNELS, NetSpec

# Channels per stride (4, 8, 16, 32) and blocks per stage: sized so that one 512×288 frame
# runs in about 20 ms on two CPU cores, leaving time for the rest of the pipeline.
WIDTHS = (24, 40, 64, 96)
DEPTHS = (1, 2, 3, 2)
NECK = 48
PRIOR_PROBABILITY = 0.01  # CenterNet's heatmap bias start: log-odds of a rare centre


def _conv_bn(x, filters: int, kernel: int = 3, stride: int = 1, name: str = ""):
    x = layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=f"{name}_conv")(
        x
    )
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _block(x, filters: int, stride: int, name: str):
    """A plain 3×3 conv, residual when the shape allows.

    Plain convs, not depthwise-separable ones: measured on 2 CPU cores, TensorFlow trains
    them 1.4× faster per image and runs them faster too, for more parameters.
    """
    shortcut = x
    y = layers.Conv2D(filters, 3, stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
    y = layers.BatchNormalization(name=f"{name}_bn")(y)
    if stride == 1 and shortcut.shape[-1] == filters:
        return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([y, shortcut]))
    return layers.ReLU(name=f"{name}_out")(y)


def build_net(spec: NetSpec | None = NET) -> keras.Model:
    """The net at ``spec``'s input size; ``None`` accepts any size (training on crops)."""
    shape = (None, None, 3) if spec is None else (spec.height, spec.width, 3)
    inputs = keras.Input(shape, name="image")  # RGB, 0..1
    x = _conv_bn(inputs, 16, stride=2, name="stem")
    features = []
    for stage, (width, depth) in enumerate(zip(WIDTHS, DEPTHS, strict=True)):
        for i in range(depth):
            x = _block(x, width, 2 if i == 0 else 1, name=f"s{stage}b{i}")
        features.append(x)
    # Global context: a pooled vector broadcast back onto the coarsest map.
    context = layers.GlobalAveragePooling2D(keepdims=True, name="context_pool")(x)
    context = layers.Conv2D(WIDTHS[-1], 1, activation="relu", name="context_fc")(context)
    x = layers.Add(name="context_add")([x, context])
    y = _conv_bn(x, NECK, 1, name="lat3")
    for level in (2, 1, 0):
        # Bilinear, not nearest: Keras writes nearest as a Repeat that OpenCV DNN cannot read.
        y = layers.UpSampling2D(2, interpolation="bilinear", name=f"up{level}")(y)
        lateral = _conv_bn(features[level], NECK, 1, name=f"lat{level}")
        y = layers.Add(name=f"merge{level}")([y, lateral])
        y = _block(y, NECK, 1, name=f"fuse{level}")
    y = _conv_bn(y, NECK, 3, name="head")
    # Heatmaps start near "nothing here"; box sizes near 20 px (log 3), offsets at the centre.
    bias = [-4.6, -4.6] + [0.0, 0.0, 0.0] + [3.0, 3.0, 0.0, 0.0] + [-4.6] * N_KEYPOINTS
    assert len(bias) == OUT_CHANNELS
    out = layers.Conv2D(
        OUT_CHANNELS,
        1,
        name="heads",
        bias_initializer=keras.initializers.Constant(bias),
    )(y)
    return keras.Model(inputs, out, name="footai_centernet")
