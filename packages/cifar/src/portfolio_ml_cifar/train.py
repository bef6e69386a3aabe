"""Train the airbench-shaped net: one story from data to ``model.keras`` and ``metrics.json``.

`train` reads as build → fit → finalize:

1. `build`: pick the device strategy (several machines → MultiWorkerMirroredStrategy, several
   GPUs → MirroredStrategy; mixed precision only where it pays off);
2. the net with whitening filters computed from the training images;
3. SGD + Nesterov, triangular learning rate, label smoothing, larger learning rate for biases,
   weight decay as in airbench; lookahead every 5 steps toward slow weights;
4. `fit`: each epoch trains, evaluates on the test split and calls the epoch-end callbacks —
   `TensorBoardScalars` and `Checkpointer` (one atomic ``.npz`` holding weights, optimizer
   slots, lookahead weights and history), then the caller's;
5. `finalize`: evaluate (with TTA), write the model, metrics, curves and confusion matrix.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from portfolio_ml_core.errors import PortfolioError
from portfolio_ml_core.fsutil import atomic_path, write_json_atomic

from portfolio_ml_cifar.cluster import WorkerCluster
from portfolio_ml_cifar.compute import ComputeChoice, choose_compute
from portfolio_ml_cifar.data import CifarData
from portfolio_ml_cifar.history import EpochRecord
from portfolio_ml_cifar.infer import (
    evaluate_predictions,
    predict_logits,
    predict_logits_with_tta,
)
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


def pick_strategy(cluster: WorkerCluster | None = None) -> tuple[Any, bool]:
    """(strategy, on_gpu): several machines → MultiWorkerMirroredStrategy; several GPUs →
    MirroredStrategy; else the default. Must run before any other TensorFlow op."""
    import tensorflow as tf

    if cluster is not None and cluster.size > 1:
        cluster.export()  # the strategy reads TF_CONFIG
        comm = tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.RING
        )
        strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=comm)
        return strategy, bool(tf.config.list_logical_devices("GPU"))
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy(), True
    return tf.distribute.get_strategy(), bool(gpus)


@dataclass
class TrainingRun:
    """Everything built before the first step: devices, the net, the optimizer, the steps."""

    config: TrainConfig
    strategy: Any
    cluster: WorkerCluster | None
    model: Any
    net_config: NetConfig
    compute: ComputeChoice
    jit: bool
    lr: float
    batch_size: int  # the global batch, over every replica of every worker
    steps_per_epoch: int
    total_steps: int
    steps: tuple[Callable[[Any, Any], tuple[Any, Any]], Callable[[Any, Any], tuple[Any, Any]]]
    lookahead: Callable[[Any], None]
    lookahead_every: int
    state_vars: list[Any]  # what a checkpoint holds: weights, optimizer slots, lookahead weights

    @property
    def policy(self) -> str:
        return self.compute.policy

    @property
    def replicas(self) -> int:
        return int(self.strategy.num_replicas_in_sync)

    def train_step(self, epoch: int) -> Callable[[Any, Any], tuple[Any, Any]]:
        # airbench trains the whitening layer's bias for the first epochs only, then freezes
        # it: once the net has adapted to it, moving the first layer only disturbs the others.
        return self.steps[0] if epoch < self.config.whiten_bias_epochs else self.steps[1]

    def batches(self, data: CifarData, epoch: int) -> Any:
        """One epoch of batches, split over the replicas when there are several."""
        c = self.config
        if self.cluster is not None and self.cluster.size > 1:
            # Each worker builds the same global batches (same seed) and keeps its own share.
            def per_worker(ctx: Any) -> Any:
                return train_dataset(
                    data.x_train, data.y_train, self.batch_size, c.seed, epoch,
                    translate=c.translate,
                    shard=(ctx.input_pipeline_id, ctx.num_input_pipelines),
                )  # fmt: skip

            return self.strategy.distribute_datasets_from_function(per_worker)
        ds = train_dataset(
            data.x_train, data.y_train, self.batch_size, c.seed, epoch, translate=c.translate
        )
        return self.strategy.experimental_distribute_dataset(ds) if self.replicas > 1 else ds

    def float32_model(self) -> Any:
        """The variables are float32 whatever the training precision: a float32 copy is what
        is evaluated and saved (eval, serve and TFLite run in float32)."""
        if self.policy == "float32":
            return self.model
        model = build_model(self.net_config)
        model.set_weights(self.model.get_weights())  # every variable, whitening filters included
        return model


def build(
    data: CifarData,
    config: TrainConfig,
    *,
    jit: bool | None = None,
    precision: Precision | str = Precision.auto,
    cluster: WorkerCluster | None = None,
) -> TrainingRun:
    """Steps 1-3: devices, the whitened net, the optimizer and the compiled training steps."""
    import keras
    import tensorflow as tf

    # 1. Devices. XLA is slower than oneDNN for these convolutions on the 2-core CPUs measured
    # (0.6-0.8×), so jit defaults on only for GPUs. Precision: float16 on a GPU; on a CPU with
    # bf16 units bf16 if a short probe measures it faster here (`compute`), else float32.
    strategy, on_gpu = pick_strategy(cluster)
    jit = on_gpu if jit is None else jit
    net_config = NetConfig(widths=config.widths)
    several = cluster is not None and cluster.size > 1
    compute = choose_compute(precision, on_gpu, net_config, config.batch_size, measure=not several)
    policy = compute.policy
    keras.utils.set_random_seed(config.seed)  # after the probe, which draws its own numbers
    loss_scaling = policy == "mixed_float16"
    replicas = strategy.num_replicas_in_sync
    batch_size = min(config.batch_size, len(data.x_train))
    if batch_size % replicas:
        raise PortfolioError(
            f"the batch of {batch_size} images does not split evenly over {replicas} replicas"
        )
    steps_per_epoch = len(data.x_train) // batch_size
    total_steps = steps_per_epoch * config.epochs
    lr, weight_decay = scaled_hyperparameters(config)
    lr *= batch_size / config.batch_size  # a subset smaller than one batch keeps lr per example

    # 2. The net, whitened from the training images.
    with strategy.scope():
        model = build_model(net_config, whitening_filters(data.x_train), dtype=policy)
        schedule = _Triangular(lr, total_steps, config)
        optimizer: Any = keras.optimizers.SGD(schedule, momentum=config.momentum, nesterov=True)
        if loss_scaling:
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(model.trainable_variables)
        slow = [tf.Variable(v, trainable=False) for v in model.variables]

    smoothing = config.label_smoothing

    # 3. One optimisation step: gradients of the mean loss, bias lr × bias_scaler, L2 decay.
    # The optimizer sums the replicas' gradients, so each replica divides by the global batch
    # and adds its 1/replicas share of the decay.
    def make_train_step(trainable: list[Any]) -> Callable[[Any, Any], tuple[Any, Any]]:
        grad_scales = [config.bias_scaler if is_bias(v) else 1.0 for v in trainable]

        @tf.function(jit_compile=jit)
        def replica_step(x: Any, y: Any) -> tuple[Any, Any]:
            with tf.GradientTape() as tape:
                logits = model(x, training=True)
                losses = per_example_loss(y, logits, smoothing)
                loss = tf.reduce_sum(losses) / batch_size
                if loss_scaling:
                    loss = optimizer.scale_loss(loss)
            grads = tape.gradient(loss, trainable)
            grads = [
                s * g + (weight_decay / replicas) * v
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

    whiten_bias = model.get_layer("whiten").bias
    steps = (
        make_train_step(model.trainable_variables),
        make_train_step([v for v in model.trainable_variables if v is not whiten_bias]),
    )
    if replicas == 1:
        # Trace both steps before the clock starts, as Keras' fit does: the frozen-bias step
        # would otherwise be traced inside the first frozen epoch (seconds, a short epoch's third).
        spec = (tf.TensorSpec((batch_size, 32, 32, 3), tf.float32),
                tf.TensorSpec((batch_size,), tf.int32))  # fmt: skip
        for step in steps:
            step.get_concrete_function(*spec)  # type: ignore[attr-defined]

    @tf.function
    def lookahead(decay: Any) -> None:
        # airbench's lookahead: slow ← lerp(slow, fast, 1 - decay); fast ← slow.
        for s, v in zip(slow, model.variables, strict=True):
            s.assign(decay * s + (1 - decay) * tf.cast(v, s.dtype))
            v.assign(tf.cast(s, v.dtype))

    # Lookahead ends on the slow weights; a run shorter than one lookahead period never
    # updates them, so ending on them would throw the whole run away.
    lookahead_every = config.lookahead_every if total_steps >= config.lookahead_every else 0
    return TrainingRun(
        config, strategy, cluster, model, net_config, compute, jit, lr, batch_size,
        steps_per_epoch, total_steps, steps, lookahead, lookahead_every,
        [*model.variables, *optimizer.variables, *slow],
    )  # fmt: skip


def per_example_loss(labels: Any, logits: Any, smoothing: float) -> Any:
    import tensorflow as tf

    logits = tf.cast(logits, tf.float32)
    target = tf.one_hot(labels, NUM_CLASSES) * (1 - smoothing) + smoothing / NUM_CLASSES
    return -tf.reduce_sum(target * tf.nn.log_softmax(logits), axis=-1)


# --- epoch-end callbacks: each gets the history so far (the last record is the new epoch) ------

EpochEnd = Callable[[list[EpochRecord]], None]


class TensorBoardScalars:
    """Every figure of the epoch's record as a TensorBoard scalar (the chief only)."""

    def __init__(self, log_dir: Path) -> None:
        import tensorflow as tf

        self.writer = tf.summary.create_file_writer(str(log_dir))

    def __call__(self, history: list[EpochRecord]) -> None:
        record = history[-1]
        with self.writer.as_default(step=record.epoch):
            for name, value in asdict(record).items():
                if name != "epoch":
                    _scalar(name, value)
        self.writer.flush()


class Checkpointer:
    """One atomic ``.npz`` per epoch with the whole training state (see `_save`).

    With several workers the previous epoch's file is kept too (``checkpoint.prev.npz``): a
    worker lost mid-epoch is one epoch behind the others, and a resume needs an epoch that
    every worker has.
    """

    def __init__(self, path: Path, run: TrainingRun, keep_previous: bool = False) -> None:
        self.path, self.run, self.keep_previous = path, run, keep_previous

    def __call__(self, history: list[EpochRecord]) -> None:
        record = history[-1]
        if self.keep_previous and self.path.exists():
            os.replace(self.path, previous_checkpoint(self.path))
        _save(self.path, self.run.state_vars, self.run.config, record.epoch,
              record.train_seconds, history)  # fmt: skip


def previous_checkpoint(path: Path) -> Path:
    return path.with_name(path.stem + ".prev" + path.suffix)


def _saved_epoch(path: Path) -> int | None:
    try:
        with np.load(path) as z:
            return int(json.loads(bytes(z["meta"]).decode())["epoch"])
    except (OSError, ValueError, KeyError):
        return None


def common_checkpoint(run: TrainingRun, path: Path) -> Path:
    """The newest checkpoint file whose epoch every worker has (one collective op: each
    worker adds a one-hot vector of the epochs it holds)."""
    import tensorflow as tf

    mine = {e: p for p in (path, previous_checkpoint(path)) if (e := _saved_epoch(p)) is not None}
    held = np.zeros(run.config.epochs + 1, np.float32)
    held[[e for e in mine if e <= run.config.epochs]] = 1.0
    total = run.strategy.reduce(
        "SUM", run.strategy.run(lambda: tf.constant(held)), axis=None
    ).numpy()
    common = [e for e in range(len(total)) if total[e] >= run.replicas - 0.5]
    if not common:
        raise PortfolioError(
            f"--resume: the workers hold no checkpoint of the same epoch (this one: "
            f"{sorted(mine) or 'none'}); start again without --resume"
        )
    return mine[max(common)]


def fit(
    run: TrainingRun,
    data: CifarData,
    history: list[EpochRecord],
    callbacks: list[EpochEnd],
    on_step: StepCallback | None = None,
    evaluate: bool = True,
) -> list[EpochRecord]:
    """Step 4: the epochs after those already in ``history`` (a resumed run), each ending
    with an evaluation on the test split (when ``evaluate``) and the callbacks."""
    import tensorflow as tf

    config = run.config
    train_seconds = history[-1].train_seconds if history else 0.0
    for epoch in range(len(history), config.epochs):
        train_step = run.train_step(epoch)
        loss_sum = correct_sum = seen = 0.0
        epoch_start = time.perf_counter()
        for i, (x, y) in enumerate(run.batches(data, epoch)):
            loss, correct = train_step(x, y)
            step = epoch * run.steps_per_epoch + i + 1
            if run.lookahead_every and step % run.lookahead_every == 0:
                run.lookahead(tf.constant(0.95**5 * (step / run.total_steps) ** 3, tf.float32))
            loss_sum += float(loss)
            correct_sum += float(correct)
            seen += run.batch_size
            if on_step is not None:
                on_step(epoch + 1, i + 1, run.steps_per_epoch, loss_sum / seen)
        epoch_seconds = time.perf_counter() - epoch_start
        train_seconds += epoch_seconds
        if epoch + 1 == config.epochs and run.lookahead_every:
            run.lookahead(tf.constant(1.0))  # finish on the slow weights

        test_loss = test_acc = float("nan")
        if evaluate:
            logits = predict_logits(run.model, data.x_test)
            labels = data.y_test.astype(np.int32)
            test_loss = float(np.mean(per_example_loss(labels, logits, config.label_smoothing)))
            test_acc = float(np.mean(np.argmax(logits, -1) == data.y_test))
        history.append(
            EpochRecord(
                epoch=epoch + 1,
                train_loss=loss_sum / max(1.0, seen),
                train_accuracy=correct_sum / max(1.0, seen),
                test_loss=test_loss,
                test_accuracy=test_acc,
                train_seconds=train_seconds,
                images_per_second=seen / epoch_seconds if epoch_seconds else 0.0,
                lr=float(
                    run.lr * lr_factor((epoch + 1) * run.steps_per_epoch, run.total_steps, config)
                ),
            )
        )
        for callback in callbacks:
            callback(history)
    return history


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
    cluster: WorkerCluster | None = None,
) -> TrainResult:
    """Build → fit → finalize. With a ``cluster`` of several workers every worker runs this
    same function; only the chief (worker 0) evaluates, logs and writes the outputs."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = data.subset(config.subset, seed=config.seed)
    chief = cluster is None or cluster.is_chief
    setup_start = time.perf_counter()
    run = build(data, config, jit=jit, precision=precision, cluster=cluster)
    setup_seconds = time.perf_counter() - setup_start

    # Each worker checkpoints its own (identical) state, so a worker on another machine can
    # resume without a shared disk.
    checkpoint = out / CHECKPOINT if chief else out / f".worker-{cluster.index}" / CHECKPOINT  # type: ignore[union-attr]
    several = cluster is not None and cluster.size > 1
    history: list[EpochRecord] = []
    if resume:
        source = common_checkpoint(run, checkpoint) if several else checkpoint
        history = _restore(source, run.state_vars, config)
    callbacks: list[EpochEnd] = [Checkpointer(checkpoint, run, keep_previous=several)]
    if chief:
        callbacks.insert(0, TensorBoardScalars(out / "logs"))
    if on_epoch is not None:
        callbacks.append(lambda h: on_epoch(h[-1]))
    try:
        history = fit(run, data, history, callbacks, on_step, evaluate=chief)
    except Exception as exc:
        _raise_if_worker_lost(exc, cluster)
        raise

    # 5. Final evaluation and outputs.
    train_seconds = history[-1].train_seconds if history else 0.0
    if not chief:
        return TrainResult(out, {"worker_index": cluster.index, "epochs": len(history)}, history)  # type: ignore[union-attr]
    metrics = finalize(
        run.float32_model(), data, config, out, history, train_seconds,
        jit=run.jit, compute=run.compute, setup_seconds=setup_seconds,
    )  # fmt: skip
    return TrainResult(out, metrics, history)


class WorkerLostError(PortfolioError):
    """A peer of a multi-worker run stopped answering; TensorFlow's collective runtime cannot
    go on in this process ("restart your program to reset")."""


def _raise_if_worker_lost(exc: Exception, cluster: WorkerCluster | None) -> None:
    """A collective op aborted because a peer is gone: one clear line instead of a hang."""
    import tensorflow as tf

    lost = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.CancelledError,
            tf.errors.AbortedError, tf.errors.InternalError)  # fmt: skip
    if cluster is None or cluster.size < 2 or not isinstance(exc, lost):
        return
    # TensorFlow names the task that stopped sending heartbeats ("/job:worker/task:1").
    others = sorted({int(i) for i in re.findall(r"task:(\d+)", str(exc))} - {cluster.index})
    who = f"worker {', '.join(map(str, others))}" if others else "another worker"
    raise WorkerLostError(
        f"worker {cluster.index}: lost contact with {who} ({type(exc).__name__}); training "
        "stopped: restart every worker with --resume to continue from the last epoch"
    ) from None


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
    compute: ComputeChoice | None = None,
    setup_seconds: float | None = None,
) -> dict[str, Any]:
    from portfolio_ml_cifar.plots import plot_confusion, plot_curves

    if config.tta:
        plain_logits, tta_logits = predict_logits_with_tta(model, data.x_test)
        tta = evaluate_predictions(data.y_test, np.argmax(tta_logits, -1))
    else:
        plain_logits, tta = predict_logits(model, data.x_test), None
    plain = evaluate_predictions(data.y_test, np.argmax(plain_logits, -1))
    best = tta or plain
    metrics: dict[str, Any] = {
        "test_accuracy": best.accuracy,
        "test_accuracy_plain": plain.accuracy,
        "test_accuracy_tta": tta.accuracy if tta else None,
        "train_seconds": train_seconds,
        "setup_seconds": setup_seconds,  # devices, precision probe, net, tracing: not training
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
        "training_precision": compute.policy if compute else "float32",
        "compute": compute.to_json() if compute else None,
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


def _restore(path: Path, variables: list[Any], config: TrainConfig) -> list[EpochRecord]:
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
    if len(history) != int(meta["epoch"]):
        raise PortfolioError(f"--resume: checkpoint {path} is inconsistent (history length)")
    return history
