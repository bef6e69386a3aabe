"""Train the airbench-shaped net: one story from data to ``model.keras`` and ``metrics.json``.

1. pick the device strategy (several GPUs → MirroredStrategy; mixed precision only on a GPU);
2. build the net with whitening filters computed from the training images;
3. SGD + Nesterov, triangular learning rate, label smoothing, larger learning rate for biases,
   weight decay as in airbench; lookahead every 5 steps toward slow weights;
4. each epoch: train, evaluate on the test split, write TensorBoard scalars and a checkpoint
   (one atomic ``.npz`` holding weights, optimizer slots, lookahead weights and history);
5. at the end: evaluate (with TTA), write the model, metrics, curves and confusion matrix.
"""

from __future__ import annotations

import io
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from portfolio_ml_core.errors import PortfolioError
from portfolio_ml_core.fsutil import atomic_path, write_json_atomic

from portfolio_ml_cifar.data import CifarData
from portfolio_ml_cifar.history import EpochRecord
from portfolio_ml_cifar.infer import evaluate_predictions, predict_logits
from portfolio_ml_cifar.model import (
    CLASS_NAMES,
    NUM_CLASSES,
    NetConfig,
    build_model,
    is_bias,
    whitening_filters,
)
from portfolio_ml_cifar.pipeline import train_dataset
from portfolio_ml_cifar.presets import Precision, TrainConfig

CHECKPOINT = "checkpoint.npz"


@dataclass
class TrainResult:
    out_dir: Path
    metrics: dict[str, Any]
    history: list[EpochRecord] = field(default_factory=list)


StepCallback = Callable[[int, int, int, float], None]  # epoch, step, steps, loss
EpochCallback = Callable[[EpochRecord], None]


def scaled_hyperparameters(config: TrainConfig) -> tuple[float, float]:
    """(learning rate, weight decay) for a *mean* loss, from airbench's per-1024 summed units."""
    kilostep = 1024 * (1 + 1 / (1 - config.momentum))
    lr = config.lr * config.batch_size / kilostep
    # airbench passes weight_decay / lr to SGD, so each step decays weights by a fixed
    # weight_decay * batch_size / kilostep, whatever the learning rate: as a term added to the
    # mean-loss gradient (then multiplied by lr) that is weight_decay / config.lr.
    return lr, config.weight_decay / config.lr


def lr_factor(step: Any, total_steps: int, config: TrainConfig) -> Any:
    """Triangular schedule: lr_start → 1 at lr_peak_at of training → lr_end (works on tensors)."""
    peak = max(1.0, config.lr_peak_at * total_steps)
    t = step * 1.0
    rising = config.lr_start + (1 - config.lr_start) * t / peak
    falling = 1 + (config.lr_end - 1) * (t - peak) / max(1.0, total_steps - peak)
    if isinstance(step, int | float):
        return rising if t < peak else falling
    import tensorflow as tf

    return tf.where(t < peak, rising, falling)


def pick_strategy() -> tuple[Any, bool]:
    """(strategy, on_gpu)."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy(), True
    return tf.distribute.get_strategy(), bool(gpus)


def train(
    data: CifarData,
    config: TrainConfig,
    out_dir: str | Path,
    *,
    resume: bool = False,
    jit: bool | None = None,
    precision: Precision | str = Precision.auto,
    on_step: StepCallback | None = None,
    on_epoch: EpochCallback | None = None,
) -> TrainResult:
    import keras
    import tensorflow as tf

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = data.subset(config.subset, seed=config.seed)
    keras.utils.set_random_seed(config.seed)

    # 1. Devices. XLA is slower than oneDNN for these convolutions on the 2-core CPUs measured
    # (0.6-0.8×), so jit defaults on only for GPUs. Precision: float16 on a GPU, bfloat16 on a
    # CPU with bf16 dot-product units (1.25-1.3× the float32 speed measured), else float32.
    strategy, on_gpu = pick_strategy()
    jit = on_gpu if jit is None else jit
    policy = dtype_policy(precision, on_gpu)
    loss_scaling = policy == "mixed_float16"
    replicas = strategy.num_replicas_in_sync
    batch_size = min(config.batch_size, len(data.x_train))
    steps_per_epoch = len(data.x_train) // batch_size
    total_steps = steps_per_epoch * config.epochs
    lr, weight_decay = scaled_hyperparameters(config)
    lr *= batch_size / config.batch_size  # a subset smaller than one batch keeps lr per example

    # 2. The net, whitened from the training images.
    with strategy.scope():
        net_config = NetConfig(widths=config.widths)
        model = build_model(net_config, whitening_filters(data.x_train), dtype=policy)
        schedule = _Triangular(lr, total_steps, config)
        optimizer: Any = keras.optimizers.SGD(schedule, momentum=config.momentum, nesterov=True)
        if loss_scaling:
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(model.trainable_variables)
        slow = [tf.Variable(v, trainable=False) for v in model.variables]

    smoothing = config.label_smoothing

    def per_example_loss(labels: Any, logits: Any) -> Any:
        logits = tf.cast(logits, tf.float32)
        target = tf.one_hot(labels, NUM_CLASSES) * (1 - smoothing) + smoothing / NUM_CLASSES
        return -tf.reduce_sum(target * tf.nn.log_softmax(logits), axis=-1)

    # 3. One optimisation step: gradients of the mean loss, bias lr × bias_scaler, L2 decay.
    def make_train_step(trainable: list[Any]) -> Callable[[Any, Any], tuple[Any, Any]]:
        grad_scales = [config.bias_scaler if is_bias(v) else 1.0 for v in trainable]

        @tf.function(jit_compile=jit)
        def replica_step(x: Any, y: Any) -> tuple[Any, Any]:
            with tf.GradientTape() as tape:
                logits = model(x, training=True)
                losses = per_example_loss(y, logits)
                loss = tf.reduce_sum(losses) / (batch_size * replicas)
                if loss_scaling:
                    loss = optimizer.scale_loss(loss)
            grads = tape.gradient(loss, trainable)
            grads = [
                s * g + weight_decay * v
                for s, g, v in zip(grad_scales, grads, trainable, strict=True)
            ]
            optimizer.apply(grads, trainable)
            correct = tf.reduce_sum(
                tf.cast(tf.argmax(logits, -1, output_type=tf.int32) == y, tf.float32)
            )
            return tf.reduce_sum(losses), correct

        @tf.function
        def train_step(x: Any, y: Any) -> tuple[Any, Any]:
            loss, correct = strategy.run(replica_step, args=(x, y))
            return (
                strategy.reduce("SUM", loss, axis=None),
                strategy.reduce("SUM", correct, axis=None),
            )

        return train_step

    # airbench trains the whitening layer's bias for the first epochs only, then freezes it:
    # once the net has adapted to it, moving the very first layer only disturbs every later one.
    whiten_bias = model.get_layer("whiten").bias
    step_with_whiten_bias = make_train_step(model.trainable_variables)
    step_frozen_whiten = make_train_step(
        [v for v in model.trainable_variables if v is not whiten_bias]
    )

    @tf.function
    def lookahead(decay: Any) -> None:
        # airbench's lookahead: slow ← lerp(slow, fast, 1 - decay); fast ← slow.
        for s, v in zip(slow, model.variables, strict=True):
            s.assign(decay * s + (1 - decay) * tf.cast(v, s.dtype))
            v.assign(tf.cast(s, v.dtype))

    state_vars = [*model.variables, *optimizer.variables, *slow]
    history: list[EpochRecord] = []
    start_epoch, train_seconds = 0, 0.0
    if resume:
        start_epoch, train_seconds, history = _restore(out / CHECKPOINT, state_vars, config)

    # Lookahead ends on the slow weights; a run shorter than one lookahead period never
    # updates them, so ending on them would throw the whole run away.
    lookahead_every = config.lookahead_every if total_steps >= config.lookahead_every else 0
    writer = tf.summary.create_file_writer(str(out / "logs"))
    eval_every = 1
    for epoch in range(start_epoch, config.epochs):
        ds = train_dataset(
            data.x_train, data.y_train, batch_size, config.seed, epoch, translate=config.translate
        )
        if replicas > 1:
            ds = strategy.experimental_distribute_dataset(ds)
        train_step = (
            step_with_whiten_bias if epoch < config.whiten_bias_epochs else step_frozen_whiten
        )
        loss_sum = correct_sum = seen = 0.0
        epoch_start = time.perf_counter()
        for i, (x, y) in enumerate(ds):
            loss, correct = train_step(x, y)
            step = epoch * steps_per_epoch + i + 1
            if lookahead_every and step % lookahead_every == 0:
                lookahead(tf.constant(0.95**5 * (step / total_steps) ** 3, tf.float32))
            loss_sum += float(loss)
            correct_sum += float(correct)
            seen += batch_size
            if on_step is not None:
                on_step(epoch + 1, i + 1, steps_per_epoch, loss_sum / seen)
        epoch_seconds = time.perf_counter() - epoch_start
        train_seconds += epoch_seconds
        if epoch + 1 == config.epochs and lookahead_every:
            lookahead(tf.constant(1.0))  # finish on the slow weights

        # 4. Evaluate, log, checkpoint.
        test_loss, test_acc = float("nan"), float("nan")
        if (epoch + 1) % eval_every == 0 or epoch + 1 == config.epochs:
            logits = predict_logits(model, data.x_test)
            test_loss = float(np.mean(per_example_loss(data.y_test.astype(np.int32), logits)))
            test_acc = float(np.mean(np.argmax(logits, -1) == data.y_test))
        record = EpochRecord(
            epoch=epoch + 1,
            train_loss=loss_sum / max(1.0, seen),
            train_accuracy=correct_sum / max(1.0, seen),
            test_loss=test_loss,
            test_accuracy=test_acc,
            train_seconds=train_seconds,
            images_per_second=seen / epoch_seconds if epoch_seconds else 0.0,
            lr=float(lr * lr_factor((epoch + 1) * steps_per_epoch, total_steps, config)),
        )
        history.append(record)
        with writer.as_default(step=epoch + 1):
            for name, value in asdict(record).items():
                if name != "epoch":
                    _scalar(name, value)
        writer.flush()
        _save(out / CHECKPOINT, state_vars, config, epoch + 1, train_seconds, history)
        if on_epoch is not None:
            on_epoch(record)

    # 5. Final evaluation and outputs, from a float32 copy: the variables are float32 whatever
    # the training precision, so the saved model (and eval, serve, TFLite) runs in float32.
    if policy != "float32":
        trained = model
        model = build_model(net_config)
        model.set_weights(trained.get_weights())  # every variable, whitening filters included
    metrics = finalize(model, data, config, out, history, train_seconds, jit=jit, precision=policy)
    return TrainResult(out, metrics, history)


def cpu_has_bf16() -> bool:
    """Whether this CPU has bfloat16 dot-product units (AVX512-BF16 or AMX): only then does
    bf16 compute pay off; elsewhere oneDNN would emulate it, slower than float32."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    flags = next((line for line in cpuinfo.splitlines() if line.startswith("flags")), "")
    return bool({"avx512_bf16", "amx_bf16"} & set(flags.split()))


def dtype_policy(precision: Precision | str, on_gpu: bool) -> str:
    """The Keras dtype policy for ``--precision`` (auto: float16 on a GPU, bfloat16 on a CPU
    that has bf16 units, else float32)."""
    try:
        chosen = Precision(precision)
    except ValueError:
        known = ", ".join(p.value for p in Precision)
        raise PortfolioError(f"unknown precision {precision!r} (choose from {known})") from None
    if chosen is Precision.auto:
        chosen = (
            Precision.float16
            if on_gpu
            else (Precision.bfloat16 if cpu_has_bf16() else Precision.float32)
        )
    return "float32" if chosen is Precision.float32 else f"mixed_{chosen.value}"


def _scalar(name: str, value: float) -> None:
    """A TensorBoard scalar without needing the tensorboard package (only to view the logs)."""
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2

    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
        data_class=summary_pb2.DATA_CLASS_SCALAR,
    )
    tf.summary.write(name, tf.constant(value, tf.float32), metadata=metadata)


class _Triangular:
    """Keras LearningRateSchedule (duck-typed so keras is imported lazily)."""

    def __new__(cls, base_lr: float, total_steps: int, config: TrainConfig) -> Any:
        import keras

        class Triangular(keras.optimizers.schedules.LearningRateSchedule):
            def __call__(self, step: Any) -> Any:
                return base_lr * lr_factor(step, total_steps, config)

            def get_config(self) -> dict[str, Any]:
                return {"base_lr": base_lr, "total_steps": total_steps}

        return Triangular()


def finalize(
    model: Any,
    data: CifarData,
    config: TrainConfig,
    out: Path,
    history: list[EpochRecord],
    train_seconds: float,
    *,
    jit: bool = False,
    precision: str = "float32",
) -> dict[str, Any]:
    from portfolio_ml_cifar.plots import plot_confusion, plot_curves

    plain = evaluate_predictions(data.y_test, np.argmax(predict_logits(model, data.x_test), -1))
    tta = (
        evaluate_predictions(
            data.y_test, np.argmax(predict_logits(model, data.x_test, tta=True), -1)
        )
        if config.tta
        else None
    )
    best = tta or plain
    metrics: dict[str, Any] = {
        "test_accuracy": best.accuracy,
        "test_accuracy_plain": plain.accuracy,
        "test_accuracy_tta": tta.accuracy if tta else None,
        "train_seconds": train_seconds,
        "epochs": len(history),
        "train_images": len(data.x_train),
        "test_images": len(data.x_test),
        "per_class_accuracy": best.per_class_accuracy,
        "confusion_matrix": best.confusion.tolist(),
        "class_names": list(CLASS_NAMES),
        "time_to_accuracy_s": time_to_accuracy(history, (0.90, 0.93, 0.94)),
        "images_per_second": (
            float(np.median([r.images_per_second for r in history])) if history else None
        ),
        "jit_compile": jit,
        "training_precision": precision,
        "data_source": data.source,
        "config": config.to_json(),
        "history": [asdict(r) for r in history],
    }
    with atomic_path(out / "model.keras") as tmp:
        model.save(tmp)
    write_json_atomic(out / "metrics.json", _finite(metrics))
    plot_curves(history, out / "curves.png")
    plot_confusion(best.confusion, CLASS_NAMES, out / "confusion_matrix.png")
    return metrics


def time_to_accuracy(
    history: list[EpochRecord], targets: tuple[float, ...]
) -> dict[str, float | None]:
    """Training seconds at the first epoch whose (plain) test accuracy reached each target."""
    out: dict[str, float | None] = {}
    for target in targets:
        hit = next((r.train_seconds for r in history if r.test_accuracy >= target), None)
        out[f"{target:.2f}"] = hit
    return out


def _finite(value: Any) -> Any:
    """NaN is not JSON: write null instead."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


# --- checkpoints -----------------------------------------------------------------------------


def _save(
    path: Path,
    variables: list[Any],
    config: TrainConfig,
    epoch: int,
    train_seconds: float,
    history: list[EpochRecord],
) -> None:
    meta = {
        "epoch": epoch,
        "train_seconds": train_seconds,
        "config": config.to_json(),
        "history": [asdict(r) for r in history],
    }
    arrays: dict[str, Any] = {f"v{i}": np.asarray(v.numpy()) for i, v in enumerate(variables)}
    arrays["meta"] = np.frombuffer(json.dumps(_finite(meta)).encode(), np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def _nan_for_null(record: dict[str, Any]) -> dict[str, Any]:
    return {k: (float("nan") if v is None else v) for k, v in record.items()}


def _restore(
    path: Path, variables: list[Any], config: TrainConfig
) -> tuple[int, float, list[EpochRecord]]:
    if not path.is_file():
        raise PortfolioError(f"--resume: no checkpoint at {path} (start without --resume)")
    try:
        with np.load(path) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            arrays = [z[f"v{i}"] for i in range(len(variables))]
    except (OSError, ValueError, KeyError) as exc:
        raise PortfolioError(f"--resume: checkpoint {path} is unreadable ({exc})") from None
    saved = TrainConfig.from_json(meta["config"])
    if saved != config:
        diff = {
            k: (v, getattr(config, k))
            for k, v in saved.to_json().items()
            if getattr(config, k) != v
        }
        raise PortfolioError(
            f"--resume: the checkpoint was made with different settings {diff} (saved, now); "
            "resume with the same preset and options"
        )
    for variable, array in zip(variables, arrays, strict=True):
        if tuple(variable.shape) != array.shape:
            raise PortfolioError(f"--resume: checkpoint {path} does not match the model")
        variable.assign(array)
    records: list[dict[str, Any]] = meta["history"]
    history = [EpochRecord(**_nan_for_null(r)) for r in records]
    return int(meta["epoch"]), float(meta["train_seconds"]), history
