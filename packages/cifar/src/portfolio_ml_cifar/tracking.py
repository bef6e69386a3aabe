"""What ``cifar train`` and ``cifar tune`` record in MLflow, and loading a registered model.

`portfolio_ml_core.tracking` does the recording; this module decides the content:

* parameters: the training config (the preset after the command's overrides);
* per-epoch metrics ``epoch/…`` (step = epoch): losses, accuracies, cumulative training
  seconds, images/s, lr;
* final metrics: test accuracy plain / TTA, training seconds, per-class accuracy;
* artifacts: ``metrics.json``, ``curves.png``, ``confusion_matrix.png`` and ``model/``, an
  MLflow Keras model (``MLmodel`` + ``data/model.keras``) with its signature, registered as a new
  version of a registered model (``cifar10`` by default). ``cifar serve --model
  models:/cifar10/3`` (or ``/latest``, ``@alias``) loads it back.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from portfolio_ml_core.errors import InputFileError
from portfolio_ml_core.tracking import RegisteredVersion, TrackedRun, downloaded_model

from portfolio_ml_cifar.history import EpochRecord
from portfolio_ml_cifar.model import CLASS_NAMES, NUM_CLASSES
from portfolio_ml_cifar.presets import TrainConfig

log = logging.getLogger("portfolio_ml_cifar.tracking")

TRAIN_EXPERIMENT = "cifar-train"
TUNE_EXPERIMENT = "cifar-tune"
REGISTERED_NAME = "cifar10"
MODEL_ARTIFACT = "model"
OUTPUT_ARTIFACTS = ("metrics.json", "curves.png", "confusion_matrix.png")


def config_params(config: TrainConfig) -> dict[str, Any]:
    return config.to_json()


def epoch_metrics(record: EpochRecord, evaluated_on: str = "test") -> dict[str, float]:
    """One epoch's figures, as ``epoch/…`` (the MLflow UI groups them; the run's final figures
    keep the plain names of ``metrics.json``). ``evaluated_on`` names the split scored after
    the epoch: tuning scores held-out training images, so its trials say ``val``."""
    figures = {
        "train_loss": record.train_loss,
        "train_accuracy": record.train_accuracy,
        f"{evaluated_on}_loss": record.test_loss,
        f"{evaluated_on}_accuracy": record.test_accuracy,
        "train_seconds": record.train_seconds,
        "images_per_second": record.images_per_second,
        "lr": record.lr,
    }
    return {f"epoch/{name}": value for name, value in figures.items()}


def final_metrics(metrics: dict[str, Any]) -> dict[str, float | None]:
    """The run's headline figures from ``metrics.json``."""
    figures: dict[str, float | None] = {
        key: metrics.get(key)
        for key in ("test_accuracy", "test_accuracy_plain", "test_accuracy_tta",
                    "train_seconds", "images_per_second")
    }  # fmt: skip
    for name, accuracy in (metrics.get("per_class_accuracy") or {}).items():
        figures[f"class_accuracy.{name}"] = accuracy
    return figures


def log_training_outputs(
    run: TrackedRun, out: Path, registered_name: str | None
) -> RegisteredVersion | None:
    """The output files and the model as artifacts; the model as a new registered version."""
    if run.run_id is None:  # tracking off: skip building the MLflow model too
        return None
    for name in OUTPUT_ARTIFACTS:
        if (out / name).is_file():
            run.log_artifact(out / name)
    with tempfile.TemporaryDirectory(prefix="cifar-mlflow-model-") as tmp:
        folder = Path(tmp) / MODEL_ARTIFACT
        try:
            save_mlflow_model(out / "model.keras", folder)
        except Exception as exc:  # never lose a finished training to its record
            log.warning("the model was not logged to MLflow: %s: %s", type(exc).__name__, exc)
            return None
        run.log_artifacts(folder, MODEL_ARTIFACT)
    return run.register_model(MODEL_ARTIFACT, registered_name) if registered_name else None


def save_mlflow_model(model_file: Path, folder: Path) -> None:
    """``model.keras`` as an MLflow Keras model: ``mlflow models serve`` and
    ``mlflow.pyfunc.load_model`` can use it as well as ``cifar serve``."""
    from importlib.metadata import version

    import mlflow.keras
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    from portfolio_ml_cifar.infer import load_model

    signature = ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, 32, 32, 3), "image")]),
        outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, NUM_CLASSES), "logits")]),
    )
    # Explicit requirements: inferring them would re-import the model in a subprocess.
    requirements = [f"{p}=={version(p)}" for p in ("tensorflow", "keras")]
    mlflow_logger = logging.getLogger("mlflow")
    level = mlflow_logger.level
    mlflow_logger.setLevel(logging.ERROR)  # "failed to resolve installed pip version" (uv venvs)
    try:
        mlflow.keras.save_model(
            load_model(model_file),
            str(folder),
            signature=signature,
            pip_requirements=requirements,
            metadata={"class_names": list(CLASS_NAMES), "input": "RGB pixels 0-255, 32x32"},
        )
    finally:
        mlflow_logger.setLevel(level)


def load_registered_model(
    ref: str, tracking_uri: str | None = None
) -> tuple[Any, RegisteredVersion]:
    """(Keras model, the version it resolved to) for ``models:/NAME/VERSION|latest`` or
    ``models:/NAME@ALIAS``; the download is removed once the model is in memory."""
    import mlflow.keras

    with downloaded_model(ref, tracking_uri) as (version, folder):
        try:
            model = mlflow.keras.load_model(str(folder), load_model_kwargs={"compile": False})
        except Exception as exc:
            raise InputFileError(
                f"{version.uri} is not a Keras model MLflow can load "
                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
            ) from None
    return model, version
