"""Training presets: named `TrainConfig`s, plus the ones ``cifar tune`` writes.

* ``quick``: a narrow net for a couple of epochs — smoke tests and demos (a minute on 2 cores).
* ``cpu``: airbench94 (widths 64/256/256) for 10 epochs — ≥ 90 % within 15 minutes on 2 CPU cores
  (measured on the shared JPEG copy; airbench94 reaches 94 % on the official pixels).
* ``full``: airbench95 (widths 128/384/384, learning rate × 0.87) for 15 epochs — the most
  accurate recipe that fits 60 minutes on 2 CPU cores (airbench95 reaches 95 % on the official
  pixels).

Hyper-parameters are in airbench's units: ``lr`` and ``weight_decay`` per 1024 examples of a summed
loss, so they stay meaningful when the batch size changes (see `train.scaled_hyperparameters`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from portfolio_ml_core.errors import InputFileError, PortfolioError
from portfolio_ml_core.fsutil import write_json_atomic


class Precision(StrEnum):
    """Compute precision of training (a device choice, so not part of a preset): ``auto`` is
    float16 on a GPU, bfloat16 on a CPU with bf16 units, else float32."""

    auto = "auto"
    float32 = "float32"
    bfloat16 = "bfloat16"
    float16 = "float16"


@dataclass(frozen=True)
class TrainConfig:
    widths: tuple[int, int, int] = (64, 256, 256)
    epochs: int = 10
    batch_size: int = 512
    lr: float = 11.5
    momentum: float = 0.85
    weight_decay: float = 0.0153
    bias_scaler: float = 64.0
    label_smoothing: float = 0.2
    lr_start: float = 0.2  # triangular schedule: start, peak (at 1.0), end, as fractions of lr
    lr_peak_at: float = 0.23
    lr_end: float = 0.07
    lookahead_every: int = 5
    whiten_bias_epochs: int = 3  # train the whitening layer's bias this many epochs, then freeze
    translate: int = 2
    seed: int = 0
    subset: int | None = None
    tta: bool = True

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "widths" in values:
            values["widths"] = tuple(int(w) for w in values["widths"])
        return cls(**values)

    def with_overrides(self, **overrides: Any) -> TrainConfig:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


BUILTIN_PRESETS: dict[str, TrainConfig] = {
    "quick": TrainConfig(widths=(32, 64, 64), epochs=3, batch_size=256, tta=False),
    "cpu": TrainConfig(epochs=10),
    "full": TrainConfig(widths=(128, 384, 384), epochs=15, lr=10.0),
}


def presets_dir() -> Path:
    from portfolio_ml_core.models import cache_dir

    explicit = os.environ.get("PORTFOLIO_ML_CIFAR_PRESETS")
    return Path(explicit) if explicit else cache_dir() / "cifar-presets"


def resolve_preset(name_or_path: str) -> TrainConfig:
    """A built-in name, a name written by ``cifar tune``, or the path of a preset JSON file."""
    if name_or_path in BUILTIN_PRESETS:
        return BUILTIN_PRESETS[name_or_path]
    candidates = [Path(name_or_path), presets_dir() / f"{name_or_path}.json"]
    for path in candidates:
        if path.is_file():
            try:
                return TrainConfig.from_json(json.loads(path.read_text(encoding="utf-8")))
            except (ValueError, TypeError) as exc:
                raise InputFileError(
                    f"preset {path} is not a valid training preset: {exc}"
                ) from None
    known = ", ".join([*BUILTIN_PRESETS, *sorted(p.stem for p in presets_dir().glob("*.json"))])
    raise PortfolioError(
        f"unknown preset {name_or_path!r} (known: {known}, or a preset .json path)"
    )


def save_preset(name: str, config: TrainConfig, path: Path | None = None) -> Path:
    target = path or presets_dir() / f"{name}.json"
    write_json_atomic(target, config.to_json())
    return target
