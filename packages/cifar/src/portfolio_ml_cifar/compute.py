"""How to compute on this machine: the precision (and threads) chosen at start-up, with a reason.

bf16 compute pays off only where the CPU multiplies bf16 in hardware (AVX512-BF16, AMX). Even
there it is not a given: with AMX the convolutions become so cheap that the float32 BatchNorm,
GELU and the casts around them can dominate, and a VM's scheduler may not give the AMX tiles
their speed. So on a CPU with bf16 units ``auto`` *measures*: a few training steps of this
very net at the run's batch size in each precision, interleaved so that other load hits both,
and keeps bf16 only when it is clearly faster. Elsewhere it decides from the CPU's features
(bf16 would be emulated; a GPU gets float16) and says so.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

import numpy as np
from portfolio_ml_core.errors import PortfolioError
from portfolio_ml_core.machine import CpuInfo, cpu_info, usable_cores

from portfolio_ml_cifar.model import NetConfig, build_model, whitening_filters
from portfolio_ml_cifar.presets import Precision

BF16_MIN_GAIN = 1.05  # bf16 must beat float32 by this much: below it, noise decides
PROBE_BATCH = 128  # large enough to load the cores as training does, small enough to be quick


@dataclass(frozen=True)
class ComputeChoice:
    """The precision training runs in, why, and what the probe measured (if it ran)."""

    policy: str  # the Keras dtype policy: float32, mixed_bfloat16, mixed_float16
    reason: str
    cpu: str
    cores: int
    cpu_flags: tuple[str, ...]
    intra_op_threads: int
    inter_op_threads: int
    probe_images_per_s: dict[str, float] = field(default_factory=dict)
    probe_seconds: float = 0.0

    @property
    def precision(self) -> str:
        return self.policy.removeprefix("mixed_")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["cpu_flags"] = list(self.cpu_flags)
        data["precision"] = self.precision
        return data


def choose_compute(
    precision: Precision | str,
    on_gpu: bool,
    net: NetConfig,
    batch_size: int,
    cpu: CpuInfo | None = None,
    measure: bool = True,
) -> ComputeChoice:
    """The dtype policy for ``--precision`` on this machine (see the module's docstring).
    ``measure=False`` decides by the CPU's features alone: workers of one cluster must agree,
    and a probe's noise could split them."""
    import tensorflow as tf

    try:
        asked = Precision(precision)
    except ValueError:
        known = ", ".join(p.value for p in Precision)
        raise PortfolioError(f"unknown precision {precision!r} (choose from {known})") from None
    cpu = cpu or cpu_info()
    threads = (
        tf.config.threading.get_intra_op_parallelism_threads() or usable_cores(),
        tf.config.threading.get_inter_op_parallelism_threads() or usable_cores(),
    )

    def choice(policy: str, reason: str, probe: dict[str, float] | None = None,
               seconds: float = 0.0) -> ComputeChoice:  # fmt: skip
        return ComputeChoice(policy, reason, cpu.name, usable_cores(), cpu.flags, *threads,
                             probe or {}, seconds)  # fmt: skip

    if asked is not Precision.auto:
        return choice(_policy(asked), f"--precision {asked.value}")
    if on_gpu:
        return choice("mixed_float16", "GPU: float16 with loss scaling")
    if not cpu.has_bf16_units:
        return choice("float32", "CPU without AVX512-BF16/AMX: bf16 would be emulated, slower")
    if not measure:
        return choice("mixed_bfloat16", "CPU with bf16 units (not measured: several workers)")
    probe, seconds = probe_speeds(net, min(batch_size, PROBE_BATCH))
    gain = probe["mixed_bfloat16"] / probe["float32"]
    figures = f"{probe['mixed_bfloat16']:.0f} vs {probe['float32']:.0f} img/s"
    if gain >= BF16_MIN_GAIN:
        return choice("mixed_bfloat16", f"measured: bf16 {gain:.2f}× float32 ({figures})",
                      probe, seconds)  # fmt: skip
    return choice("float32", f"measured: bf16 only {gain:.2f}× float32 ({figures})",
                  probe, seconds)  # fmt: skip


def _policy(precision: Precision) -> str:
    return "float32" if precision is Precision.float32 else f"mixed_{precision.value}"


@cache  # once per process and net shape: tests and `cifar tune` train many times
def probe_speeds(net: NetConfig, batch_size: int) -> tuple[dict[str, float], float]:
    """Training images/s of this net in float32 and in bf16 (best of 3 interleaved rounds of
    2 steps each, after a warm-up step), and the seconds the probe took."""
    import keras
    import tensorflow as tf

    start = time.perf_counter()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (batch_size, 32, 32, 3)).astype(np.uint8)
    x = tf.constant(images.astype(np.float32))
    y = tf.constant(rng.integers(0, 10, batch_size).astype(np.int32))
    filters = whitening_filters(images)
    steps = {}
    for policy in ("float32", "mixed_bfloat16"):
        model = build_model(net, filters, dtype=policy)
        optimizer = keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True)
        optimizer.build(model.trainable_variables)
        steps[policy] = _step(model, optimizer)
        steps[policy](x, y)  # trace and warm up
    best = dict.fromkeys(steps, 0.0)
    for _ in range(3):
        for policy, step in steps.items():
            t = time.perf_counter()
            for _ in range(2):
                loss = step(x, y)
            float(loss)
            best[policy] = max(best[policy], 2 * batch_size / (time.perf_counter() - t))
    return best, time.perf_counter() - start


def _step(model: Any, optimizer: Any) -> Any:
    import tensorflow as tf

    @tf.function
    def step(x: Any, y: Any) -> Any:
        with tf.GradientTape() as tape:
            logits = tf.cast(model(x, training=True), tf.float32)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return loss

    return step
