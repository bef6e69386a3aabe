"""Hyper-parameter search with Optuna on a training subset, validated on held-out training images.

The test split is never looked at while tuning: each trial trains on ``subset`` training images and
is scored on ``val_size`` other training images, so the test accuracy of a tuned preset stays honest.
Given the search's MLflow run, each trial is a nested run: its settings, its per-epoch figures
(``epoch/val_*``: scored on the held-out images) and its validation accuracy.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from portfolio_ml_core.errors import PortfolioError
from portfolio_ml_core.tracking import NoRun, TrackedRun

from portfolio_ml_cifar.data import CifarData
from portfolio_ml_cifar.presets import TrainConfig


@dataclass(frozen=True)
class TrialResult:
    number: int
    params: dict[str, Any]
    val_accuracy: float
    train_seconds: float


@dataclass(frozen=True)
class TuneResult:
    best: TrainConfig
    best_accuracy: float
    trials: list[TrialResult]
    best_params: dict[str, Any]  # the searched settings of the best trial
    best_trial: int


def search_space(trial: Any, base: TrainConfig) -> TrainConfig:
    return base.with_overrides(
        lr=trial.suggest_float("lr", 2.0, 40.0, log=True),
        batch_size=trial.suggest_categorical("batch_size", [128, 256, 512]),
        epochs=trial.suggest_int("epochs", max(1, base.epochs - 2), base.epochs + 2),
        label_smoothing=trial.suggest_float("label_smoothing", 0.0, 0.3),
    )


def tune(
    data: CifarData,
    base: TrainConfig,
    *,
    trials: int = 8,
    subset: int = 5000,
    val_size: int = 2000,
    seed: int = 0,
    on_trial: Any = None,
    tracking: TrackedRun | None = None,
) -> TuneResult:
    import optuna

    from portfolio_ml_cifar.tracking import config_params, epoch_metrics
    from portfolio_ml_cifar.train import train

    parent: TrackedRun = tracking if tracking is not None else NoRun()

    if trials < 1:
        raise PortfolioError(f"--trials must be at least 1, got {trials}")
    n = len(data.x_train)
    if n < 20:
        raise PortfolioError(f"tuning needs some training images, the data has {n}")
    order = np.random.default_rng(seed).permutation(n)
    val_n = min(val_size, n // 4)
    val_idx, train_idx = order[:val_n], order[val_n : val_n + subset]
    split = CifarData(
        data.x_train[train_idx],
        data.y_train[train_idx],
        data.x_train[val_idx],
        data.y_train[val_idx],
        data.source,
    )
    base = replace(base, seed=seed, subset=None)
    results: list[TrialResult] = []

    def objective(trial: Any) -> float:
        # TTA off: a trial's score should reflect the training settings only.
        config = search_space(trial, base).with_overrides(tta=False)
        params = {**config_params(config), "train_images": len(split.x_train),
                  "val_images": len(split.x_test)}  # fmt: skip
        with (
            parent.child(f"trial {trial.number}", params) as run,
            tempfile.TemporaryDirectory(prefix="cifar-tune-") as tmp,
        ):
            outcome = train(
                split, config, tmp,
                on_epoch=lambda r: run.log_metrics(epoch_metrics(r, "val"), step=r.epoch),
            )  # fmt: skip
            accuracy = float(outcome.metrics["test_accuracy"])
            run.log_metrics({"val_accuracy": accuracy,
                             "train_seconds": outcome.metrics["train_seconds"]})  # fmt: skip
        result = TrialResult(
            trial.number, dict(trial.params), accuracy, outcome.metrics["train_seconds"]
        )
        results.append(result)
        if on_trial is not None:
            on_trial(result)
        return accuracy

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials)
    best = search_space(optuna.trial.FixedTrial(study.best_params), base)
    return TuneResult(
        replace(best, subset=None),
        float(study.best_value),
        results,
        dict(study.best_params),
        study.best_trial.number,
    )
