"""The shipped Foot AI net and how a model is found: ``--model`` → ``$PORTFOLIO_ML_FOOTAI_MODEL``
→ ``$PORTFOLIO_ML_MODELS_DIR`` → the user cache → the weights inside this package.

There is no download: the shipped file is always there, and a retrained one (``footai train``)
is picked up by flag, variable or by copying it into the models folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from portfolio_ml_core.errors import ModelNotFoundError
from portfolio_ml_core.fsutil import file_sha256
from portfolio_ml_core.models import IntegrityError, ModelRegistry, ModelSpec, resolve_model

from ..export import WEIGHTS_NAME

SHIPPED = Path(__file__).with_name(WEIGHTS_NAME)
TFLITE_MAGIC = b"TFL3"


def shipped_sha256() -> str:
    """The checksum recorded beside the shipped weights."""
    return (SHIPPED.parent / f"{WEIGHTS_NAME}.sha256").read_text().split()[0]


def validate_flatbuffer(path: Path) -> None:
    with path.open("rb") as fh:
        head = fh.read(8)
    if head[4:8] != TFLITE_MAGIC:
        raise IntegrityError(f"{path} is not a LiteRT/TFLite model (no TFL3 header)")
    if path.resolve() == SHIPPED.resolve() and file_sha256(path) != shipped_sha256():
        raise IntegrityError(
            f"{path}: the shipped weights do not match their checksum (reinstall the package)"
        )


FOOTAI_NET = ModelSpec(
    name="footai_net",
    filename=WEIGHTS_NAME,
    url="",  # never downloaded: shipped in the package, or retrained with `footai train`
    env_var="PORTFOLIO_ML_FOOTAI_MODEL",
    description="Foot AI detector + pitch keypoints (shipped; retrain with `footai train`)",
    min_bytes=100_000,
    max_bytes=10_000_000,
    validate=validate_flatbuffer,
    bundled=SHIPPED,
)


def registry() -> ModelRegistry:
    reg = ModelRegistry()
    reg.add(FOOTAI_NET)
    return reg


def resolve_footai_model(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit is not None and not Path(explicit).exists():
        raise ModelNotFoundError(f"model file not found: {explicit}")
    return resolve_model(FOOTAI_NET.name, explicit, registry=registry(), allow_download=False)
