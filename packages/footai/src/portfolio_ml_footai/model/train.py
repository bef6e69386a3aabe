"""Train the Foot AI net: one story from labelled frames to shipped weights and a report.

1. load the real players set, the real pitch-keypoint set and synthetic renders;
2. build the net (`net.build_net`);
3. fit: random crops, flips and colour changes, and (``--views``) the real keypoint frames
   redrawn as other cameras would see the pitch (`synth/views.py`, passed in); focal loss on the heatmaps, L1 on box size and
   offset plus a GIoU loss on the box they make together; each loss masked to the samples that
   label it (a real set labels one task); AdamW with warm-up and cosine decay; a checkpoint
   every epoch (``--resume`` continues);
4. finish: export the inference model, write curves, history and a report on the valid split.
"""

from __future__ import annotations

import json
import math
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from portfolio_ml_core.errors import PortfolioError
from portfolio_ml_core.fsutil import write_json_atomic

from .data import LabelledFrame, load_detection_split, load_pitch_split
from .spec import (
    HEATMAP_CHANNELS,
    KEYPOINT_CHANNELS,
    NET,
    OFFSET_CHANNELS,
    ROLE_CHANNELS,
    ROLE_WEIGHTS,
    SIZE_CHANNELS,
)
from .targets import Sample, make_sample

SYNTHETIC_SEED0 = 1000  # training renders use seeds from here; benchmarks use small seeds
TACTICAL_SEED0 = 3000  # tactical-camera training renders; the benchmark's tactical clip is seed 33


@dataclass(frozen=True)
class TrainConfig:
    players: Path
    pitch: Path
    out: Path
    epochs: int = 40
    steps_per_epoch: int = 60
    batch: int = 16
    input_size: tuple[int, int] = NET.size  # (w, h) whole frames are resized to at inference
    train_size: tuple[int, int] = (384, 224)  # crops: 0.58× the inference pixels per image
    synthetic: int = 160  # synthetic frames (2 per rendered clip, 6 frames apart)
    tactical: int = 40  # more synthetic frames from the high, wide tactical camera
    # Share of the real keypoint frames drawn as another camera would see them (`views.py`):
    # the labelled frames are all from the main camera, the net must calibrate every camera.
    views: float = 0.0
    # Share of the samples cropped closer than the inference scale (`targets.ZOOM_SHARE`).
    zoom_in: float = 0.0
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    seed: int = 0
    resume: bool = False
    max_minutes: float | None = None


@dataclass
class EpochRecord:
    epoch: int
    loss: float
    person: float
    ball: float
    keypoints: float
    role: float
    size: float
    offset: float
    valid_loss: float
    seconds: float  # cumulative training time
    lr: float
    giou: float = 0.0  # absent from histories written before the GIoU term


@dataclass
class TrainResult:
    out: Path
    history: list[EpochRecord] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)


class TrainingError(PortfolioError):
    pass


# --- 1. data ----------------------------------------------------------------------------------


# Synthetic frames come from the project's renderer, which the model does not import: the
# caller passes it in as (seeds, camera or None for static/pan, cache folder) -> frames.
SyntheticFrames = Callable[[range, str | None, Path], Iterable[LabelledFrame]]
# Another camera's view of a real keypoint frame (`synth.views.virtual_view`), also passed in:
# (frame, random generator) -> the redrawn frame, or None when no such view exists.
OtherCamera = Callable[[LabelledFrame, np.random.Generator], LabelledFrame | None]
# And the report on the exported weights: weights -> figures (`evaluate.report.valid_report`).
Report = Callable[[Path], dict[str, Any]]


def load_training_frames(
    cfg: TrainConfig, log: Callable[[str], None], synthetic: SyntheticFrames | None = None
) -> tuple[list[LabelledFrame], list[LabelledFrame]]:
    train = load_detection_split(cfg.players, "train") + load_pitch_split(cfg.pitch, "train")
    valid = load_detection_split(cfg.players, "valid") + load_pitch_split(cfg.pitch, "valid")
    log(f"real frames: {len(train)} train, {len(valid)} valid")
    # Many short clips rather than a few long ones: kits, cameras and light vary per seed,
    # and the renderer pays for every frame up to the last one kept.
    for count, seed0, camera in (
        (cfg.synthetic, SYNTHETIC_SEED0, None),
        (cfg.tactical, TACTICAL_SEED0, "tactical"),
    ):
        if count <= 0:
            continue
        if synthetic is None:
            raise TrainingError("synthetic frames asked for, but no renderer was given")
        per_seed = 2
        seeds = range(seed0, seed0 + math.ceil(count / per_seed))
        synth = list(synthetic(seeds, camera, cfg.out / "synthetic"))[:count]
        label = "static/pan" if camera is None else camera
        log(f"synthetic {label} frames: {len(synth)} (seeds {seeds.start}–{seeds.stop - 1})")
        train += synth
    if not train:
        raise TrainingError("no training frames found")
    return train, valid


def stack(samples: list[Sample]) -> dict[str, np.ndarray]:
    return {
        "image": np.stack([s.image for s in samples]),
        "heat": np.stack([s.heatmaps for s in samples]),
        "role": np.stack([s.role for s in samples]),
        "size": np.stack([s.size for s in samples]),
        "offset": np.stack([s.offset for s in samples]),
        "box_weight": np.stack([s.box_weight for s in samples]),
        "task": np.stack([s.task_mask for s in samples]),
    }


class BatchFeeder:
    """Augmented batches made on a background thread while TensorFlow trains on the last one."""

    def __init__(
        self,
        frames: list[LabelledFrame],
        cfg: TrainConfig,
        seed: int,
        other_camera: OtherCamera | None = None,
    ) -> None:
        if cfg.views > 0 and other_camera is None:
            raise ValueError("views > 0 needs an other_camera to redraw frames with")
        self.frames, self.cfg, self.other_camera = frames, cfg, other_camera
        self.rng = np.random.default_rng(seed)
        self.queue: queue.Queue[dict[str, np.ndarray]] = queue.Queue(maxsize=3)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._fill, daemon=True)
        self.thread.start()

    def _fill(self) -> None:
        while not self.stop.is_set():
            picks = self.rng.integers(0, len(self.frames), self.cfg.batch)
            batch = stack(
                [
                    make_sample(
                        self._frame(i), self.cfg.train_size, NET.stride, self.rng, self.cfg.zoom_in
                    )
                    for i in picks
                ]
            )
            while not self.stop.is_set():
                try:
                    self.queue.put(batch, timeout=0.5)
                    break
                except queue.Full:
                    continue

    def _frame(self, i: int) -> LabelledFrame:
        """Frame i, or (a real keypoint frame, sometimes) another camera's view of its pitch."""
        frame = self.frames[i]
        if (
            self.other_camera is not None
            and frame.has_keypoints
            and not frame.has_boxes
            and self.rng.random() < self.cfg.views
        ):
            return self.other_camera(frame, self.rng) or frame
        return frame

    def next(self) -> dict[str, np.ndarray]:
        return self.queue.get()

    def close(self) -> None:
        self.stop.set()


# --- 3. losses ----------------------------------------------------------------------------------


def losses(tf: Any, pred: Any, batch: dict[str, Any]) -> dict[str, Any]:
    """CenterNet losses, each masked to the samples whose source labels that task."""
    box_task = batch["task"][:, 0][:, None, None, None]
    kp_task = batch["task"][:, 1][:, None, None, None]
    heat_gt = batch["heat"]
    logits = tf.concat(
        [pred[..., HEATMAP_CHANNELS], pred[..., KEYPOINT_CHANNELS]], axis=-1
    )  # 2 + 32

    def focal(channels: slice, mask: Any) -> Any:
        gt = heat_gt[..., channels]
        lg = logits[..., channels]
        p = tf.clip_by_value(tf.sigmoid(lg), 1e-4, 1 - 1e-4)
        pos = tf.cast(gt >= 1.0, tf.float32) * mask
        neg = (1.0 - tf.cast(gt >= 1.0, tf.float32)) * mask
        pos_loss = -tf.math.log(p) * tf.square(1 - p) * pos
        neg_loss = -tf.math.log(1 - p) * tf.square(p) * tf.pow(1 - gt, 4) * neg
        return (tf.reduce_sum(pos_loss) + tf.reduce_sum(neg_loss)) / tf.maximum(
            tf.reduce_sum(pos), 1.0
        )

    n_heat = HEATMAP_CHANNELS.stop
    # Box regression at each centre and, less weighted, the cells around it (targets.py).
    box_weight = batch["box_weight"][..., None] * box_task
    total_weight = tf.maximum(tf.reduce_sum(box_weight), 1.0)
    size_error = tf.abs(pred[..., SIZE_CHANNELS] - batch["size"])
    size = tf.reduce_sum(size_error * box_weight) / total_weight
    offset_error = tf.abs(pred[..., OFFSET_CHANNELS] - batch["offset"])
    offset = tf.reduce_sum(offset_error * box_weight) / total_weight
    # Role: weighted cross-entropy of the 3 role logits at each person centre.
    role_gt = batch["role"]
    has_role = tf.cast(role_gt >= 0, tf.float32) * batch["task"][:, 0][:, None, None]
    safe = tf.maximum(role_gt, 0)
    weight = tf.gather(tf.constant(ROLE_WEIGHTS, tf.float32), safe) * has_role
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=safe, logits=pred[..., ROLE_CHANNELS]
    )
    role = tf.reduce_sum(ce * weight) / tf.maximum(tf.reduce_sum(weight), 1.0)
    giou = tf.reduce_sum((1.0 - _giou(tf, pred, batch)) * box_weight[..., 0]) / total_weight
    out = {
        "person": focal(slice(1, 2), box_task),
        "ball": focal(slice(0, 1), box_task),
        "keypoints": focal(slice(n_heat, None), kp_task),
        "role": role,
        "size": size,
        "offset": offset,
        "giou": giou,
    }
    out["loss"] = (
        out["person"]
        + out["ball"]
        + out["keypoints"]
        + out["role"]
        + 0.5 * out["size"]
        + out["offset"]
        + out["giou"]
    )
    return out


def _giou(tf: Any, pred: Any, batch: dict[str, Any]) -> Any:
    """GIoU of the predicted and labelled box at every cell (meaningful where boxes have targets).

    The L1 losses treat width, height and centre apart; the metric is IoU, and for a player a
    few pixels wide a small shift costs more IoU than the same shift on a big one. Both boxes
    are placed relative to their cell: centre (offset × stride), size exp(log size).
    """
    stride = float(NET.stride)
    p_c = pred[..., OFFSET_CHANNELS] * stride
    g_c = batch["offset"] * stride
    p_half = tf.exp(tf.clip_by_value(pred[..., SIZE_CHANNELS], -3.0, 8.0)) / 2
    g_half = tf.exp(batch["size"]) / 2
    p0, p1, g0, g1 = p_c - p_half, p_c + p_half, g_c - g_half, g_c + g_half
    inter = tf.reduce_prod(tf.maximum(tf.minimum(p1, g1) - tf.maximum(p0, g0), 0.0), axis=-1)
    union = tf.reduce_prod(p1 - p0, axis=-1) + tf.reduce_prod(g1 - g0, axis=-1) - inter
    hull = tf.reduce_prod(tf.maximum(p1, g1) - tf.minimum(p0, g0), axis=-1)
    return inter / tf.maximum(union, 1e-6) - (hull - union) / tf.maximum(hull, 1e-6)


# --- the story ----------------------------------------------------------------------------------


def train(
    cfg: TrainConfig,
    log: Callable[[str], None] = print,
    progress: Callable[[int, int, dict[str, float]], None] | None = None,
    synthetic: SyntheticFrames | None = None,
    report: Report | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    other_camera: OtherCamera | None = None,
) -> TrainResult:
    """Steps 1-4; ``on_epoch`` gets each finished epoch's record (the CLI's MLflow run)."""
    import keras
    import tensorflow as tf

    from .export import export_model
    from .net import build_net

    cfg.out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(cfg.seed)
    train_frames, valid_frames = load_training_frames(cfg, log, synthetic)
    valid = stack([make_sample(f, cfg.input_size, NET.stride, None) for f in valid_frames])

    model = build_net(None)  # any input size: trained on crops, run on whole frames
    total_steps = cfg.epochs * cfg.steps_per_epoch
    # A short run (a smoke test, a few epochs) warms up for at most a fifth of its steps.
    warmup = min(cfg.warmup_steps, total_steps // 5)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0,
        max(1, total_steps - warmup),
        alpha=0.02,
        warmup_target=cfg.learning_rate,
        warmup_steps=warmup,
    )
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=cfg.weight_decay, clipnorm=5.0)
    optimizer.build(model.trainable_variables)
    epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False)
    ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, epoch=epoch_var)
    manager = tf.train.CheckpointManager(ckpt, str(cfg.out / "checkpoints"), max_to_keep=2)
    history_path = cfg.out / "history.json"
    history: list[EpochRecord] = []
    if cfg.resume:
        if manager.latest_checkpoint is None:
            raise TrainingError(f"--resume: no checkpoint in {cfg.out / 'checkpoints'}")
        ckpt.restore(manager.latest_checkpoint).expect_partial()
        if history_path.exists():
            history = [EpochRecord(**r) for r in json.loads(history_path.read_text())]
        log(f"resumed after epoch {int(epoch_var.numpy())}")

    @tf.function
    def train_step(batch: dict[str, Any]) -> dict[str, Any]:
        with tf.GradientTape() as tape:
            pred = model(batch["image"], training=True)
            parts = losses(tf, pred, batch)
        grads = tape.gradient(parts["loss"], model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return parts

    @tf.function
    def valid_loss(batch: dict[str, Any]) -> Any:
        return losses(tf, model(batch["image"], training=False), batch)["loss"]

    feeder = BatchFeeder(train_frames, cfg, cfg.seed + int(epoch_var.numpy()), other_camera)
    spent = history[-1].seconds if history else 0.0
    try:
        for epoch in range(int(epoch_var.numpy()) + 1, cfg.epochs + 1):
            start = time.perf_counter()
            sums: dict[str, float] = {}
            for step in range(cfg.steps_per_epoch):
                parts = train_step(feeder.next())
                for k, v in parts.items():
                    sums[k] = sums.get(k, 0.0) + float(v)
                if progress is not None:
                    progress(epoch, step + 1, {k: v / (step + 1) for k, v in sums.items()})
            spent += time.perf_counter() - start
            vl = np.mean(
                [
                    float(valid_loss({k: v[i : i + 8] for k, v in valid.items()}))
                    for i in range(0, len(valid["image"]), 8)
                ]
            )
            means = {k: v / cfg.steps_per_epoch for k, v in sums.items()}
            record = EpochRecord(
                epoch,
                valid_loss=float(vl),
                seconds=round(spent, 1),
                lr=float(schedule(optimizer.iterations)),
                **means,
            )
            history.append(record)
            epoch_var.assign(epoch)
            manager.save()
            write_json_atomic(history_path, [asdict(r) for r in history])
            if on_epoch is not None:
                on_epoch(record)
            log(
                f"epoch {epoch}/{cfg.epochs}: loss {record.loss:.3f} (person {record.person:.3f}, ball {record.ball:.3f}, keypoints {record.keypoints:.3f}, role {record.role:.3f}) valid {vl:.3f} · {spent / 60:.1f} min"
            )
            if cfg.max_minutes is not None and spent > cfg.max_minutes * 60:
                log(f"stopping: the {cfg.max_minutes:g}-minute budget is spent")
                break
    finally:
        feeder.close()

    # --- 4. finish ------------------------------------------------------------------------------
    weights = export_model(model, cfg.out, cfg.input_size)
    from .curves import write_curves

    write_curves(history, cfg.out / "curves.png")
    figures = report(weights) if report is not None else {}
    figures["training_minutes"] = round(spent / 60, 1)
    figures["config"] = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()}
    write_json_atomic(cfg.out / "report.json", figures)
    return TrainResult(cfg.out, history, figures)
