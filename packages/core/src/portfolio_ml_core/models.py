"""Model files: find them locally, or download them once with a progress bar and a check.

Resolution order for a model name (first hit wins):
1. an explicit path (a ``--model`` flag);
2. the model's own environment variable (e.g. ``PORTFOLIO_ML_POSE_MODEL``);
3. ``$PORTFOLIO_ML_MODELS_DIR/<file name>``;
4. the user cache (``~/.cache/portfolio-ml/models/<file name>`` on Linux);
5. the copy shipped inside a plugin's package, for models that ship one (``bundled``);
6. a download from the official URL into the cache — unless ``PORTFOLIO_ML_OFFLINE=1`` or the
   model has no URL;
otherwise a `ModelNotFoundError` that says how to supply the file offline.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_cache_dir

from portfolio_ml_core.errors import ModelNotFoundError
from portfolio_ml_core.registry import Registry

MODELS_DIR_ENV = "PORTFOLIO_ML_MODELS_DIR"
OFFLINE_ENV = "PORTFOLIO_ML_OFFLINE"
CACHE_DIR_ENV = "PORTFOLIO_ML_CACHE_DIR"


def cache_dir() -> Path:
    """Where downloads and decoded datasets are kept (``PORTFOLIO_ML_CACHE_DIR`` overrides)."""
    override = os.environ.get(CACHE_DIR_ENV)
    return Path(override) if override else Path(user_cache_dir("portfolio-ml"))


class IntegrityError(ModelNotFoundError):
    """A model file exists but is not what it should be."""


@dataclass(frozen=True)
class ModelSpec:
    """A model file the project can use.

    ``validate`` checks a candidate file's content (raising `IntegrityError`); it checks the
    format rather than one hash, because equivalent builds of a model differ byte for byte.
    """

    name: str
    filename: str
    url: str
    env_var: str
    description: str
    min_bytes: int
    max_bytes: int
    validate: Callable[[Path], None] | None = None
    known_sha256: frozenset[str] = frozenset()
    bundled: Path | None = None  # a copy shipped in a package: the last local fallback


def validate_task_bundle(path: Path) -> None:
    """A MediaPipe ``.task`` file is a zip holding ``.tflite`` models."""
    try:
        with zipfile.ZipFile(path) as bundle:
            names = bundle.namelist()
            bad = bundle.testzip()
    except (zipfile.BadZipFile, OSError) as exc:
        raise IntegrityError(f"{path} is not a MediaPipe .task bundle ({exc})") from None
    if bad is not None:
        raise IntegrityError(f"{path} is corrupt (bad member {bad})")
    if not any(n.endswith(".tflite") for n in names):
        raise IntegrityError(f"{path} holds no .tflite model; not a MediaPipe .task bundle")


_MP_BASE = "https://storage.googleapis.com/mediapipe-models/pose_landmarker"

BUILTIN_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="pose_landmarker_full",
        filename="pose_landmarker_full.task",
        url=f"{_MP_BASE}/pose_landmarker_full/float16/latest/pose_landmarker_full.task",
        env_var="PORTFOLIO_ML_POSE_MODEL",
        description="MediaPipe PoseLandmarker (full): 33 body landmarks; squat counting",
        min_bytes=4_000_000,
        max_bytes=40_000_000,
        validate=validate_task_bundle,
    ),
)


class ModelRegistry(Registry[ModelSpec]):
    kind = "model"

    def unknown(self, name: str) -> Exception:
        known = ", ".join(sorted(self.items)) or "none"
        return ModelNotFoundError(f"unknown model {name!r} (known: {known})")


_ACTIVE: list[ModelRegistry] = []


def use_registry(registry: ModelRegistry) -> None:
    """Make ``registry`` (built by the CLI from every plugin's ``register_models``) the one
    `resolve_model` reads when a caller passes none."""
    _ACTIVE[:] = [registry]


def default_registry() -> ModelRegistry:
    """The registry the plugins fed (`use_registry`), else core's own models (library use)."""
    if _ACTIVE:
        return _ACTIVE[0]
    registry = ModelRegistry()
    for spec in BUILTIN_MODELS:
        registry.add(spec)
    return registry


def check_file(spec: ModelSpec, path: Path) -> Path:
    """Size sanity and format validation; returns ``path`` or raises `IntegrityError`."""
    if not path.is_file():
        raise ModelNotFoundError(f"model file not found: {path}")
    size = path.stat().st_size
    if not spec.min_bytes <= size <= spec.max_bytes:
        raise IntegrityError(
            f"{path} has {size:,} bytes; a {spec.name} model has "
            f"{spec.min_bytes:,}–{spec.max_bytes:,} (truncated or wrong file?)"
        )
    if spec.validate is not None:
        spec.validate(path)
    return path


@dataclass(frozen=True)
class Resolution:
    """Where a model was found, and how (for ``models path`` and error messages)."""

    path: Path | None
    source: str


def locate(spec: ModelSpec, explicit: str | os.PathLike[str] | None = None) -> Resolution:
    """Find a model locally without downloading; ``path`` is None if nowhere."""
    if explicit:
        return Resolution(Path(explicit), "--model")
    if os.environ.get(spec.env_var):
        return Resolution(Path(os.environ[spec.env_var]), f"${spec.env_var}")
    models_dir = os.environ.get(MODELS_DIR_ENV)
    if models_dir and (Path(models_dir) / spec.filename).is_file():
        return Resolution(Path(models_dir) / spec.filename, f"${MODELS_DIR_ENV}")
    cached = cache_dir() / "models" / spec.filename
    if cached.is_file():
        return Resolution(cached, "cache")
    if spec.bundled is not None and spec.bundled.is_file():
        return Resolution(spec.bundled, "shipped")
    return Resolution(None, "missing")


def resolve_model(
    name: str,
    explicit: str | os.PathLike[str] | None = None,
    *,
    registry: ModelRegistry | None = None,
    allow_download: bool = True,
) -> Path:
    """Return a checked local path for model ``name``, downloading it if allowed."""
    spec = (registry or default_registry()).get(name)
    found = locate(spec, explicit)
    if found.path is not None:
        if not found.path.is_file():
            raise ModelNotFoundError(f"model file not found: {found.path} (from {found.source})")
        return check_file(spec, found.path)
    if allow_download and spec.url and not os.environ.get(OFFLINE_ENV):
        return download(spec)
    raise ModelNotFoundError(offline_hint(spec))


# A model file, or a way to find one that runs only when the model is needed: commands pass a
# resolver so that a bad input file is reported before a missing model.
ModelSource = str | os.PathLike[str] | Callable[[], Path]


def model_file(source: ModelSource) -> Path:
    return source() if callable(source) else Path(source)


def offline_hint(spec: ModelSpec) -> str:
    if not spec.url:
        return (
            f"model {spec.name} not found; pass --model PATH, set {spec.env_var}=PATH, "
            f"or put {spec.filename} in ${MODELS_DIR_ENV}"
        )
    return (
        f"model {spec.name} not found; pass --model PATH, set {spec.env_var}=PATH, "
        f"or put {spec.filename} in ${MODELS_DIR_ENV} (download it from {spec.url})"
    )


def download(spec: ModelSpec, destination: Path | None = None) -> Path:
    """Fetch ``spec.url`` into the cache with a progress bar; check it before keeping it."""
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    if not spec.url:
        raise ModelNotFoundError(f"{spec.name} is not downloadable: it ships with its plugin")
    if os.environ.get(OFFLINE_ENV):
        raise ModelNotFoundError(
            f"downloads are disabled ({OFFLINE_ENV} is set, offline mode). {offline_hint(spec)}"
        )
    target = destination or cache_dir() / "models" / spec.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".download")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(spec.url, timeout=30) as response, partial.open("wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with Progress(
                *Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn()
            ) as progress:
                task = progress.add_task(f"downloading {spec.filename}", total=total)
                while chunk := response.read(1 << 16):
                    if out.tell() + len(chunk) > spec.max_bytes:
                        raise IntegrityError(f"{spec.url} is larger than a {spec.name} model")
                    out.write(chunk)
                    digest.update(chunk)
                    progress.update(task, advance=len(chunk))
        check_file(spec, partial)
        if spec.known_sha256 and digest.hexdigest() not in spec.known_sha256:
            raise IntegrityError(f"{spec.url} has an unexpected checksum {digest.hexdigest()}")
        os.replace(partial, target)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise ModelNotFoundError(
            f"cannot download {spec.name}: {exc}. {offline_hint(spec)}"
        ) from None
    finally:
        partial.unlink(missing_ok=True)
    return target
