"""One epoch of a training run, as logged, checkpointed and plotted."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float
    train_seconds: float  # cumulative, training steps only (evaluation excluded)
    images_per_second: float
    lr: float
