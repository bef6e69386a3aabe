"""Experiment tracking with MLflow: the one thin wrapper every training command uses.

A command opens a `Tracker` from its ``--tracking-uri`` / ``--no-tracking`` flags and, once its
inputs are checked and before the first training step, a run::

    tracker = Tracker.from_flags(tracking_uri, no_tracking)
    with tracker.start_run("cifar-train", run_name="cpu", params=..., tags=...) as run:
        run.log_metrics({"train_loss": 0.9}, step=1)
        run.log_artifact(out / "curves.png")
        run.register_model("model", "cifar10")

* The store: ``--tracking-uri``, else ``$MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db`` in
  the working folder with artifacts in ``./mlartifacts`` — what ``mlflow ui`` (3.x) opens when
  started in the same folder with no flags. A SQLite store rather than MLflow's ``./mlruns``
  file store: the file store is deprecated and has no model registry.
* Opening the run is the check: a malformed or unreachable store is a one-line
  `TrackingError` before any training. Once training runs, a store that fails is a warning
  and the run goes on untracked — the training outputs matter more than their record.
* The run ends FINISHED, FAILED (any exception; its message is tagged) or KILLED (Ctrl-C).
* MLflow is imported only when a run opens (it costs seconds); core does not depend on it —
  the plugins that train do. Its telemetry is switched off before the import: nothing leaves
  the machine unless ``--tracking-uri`` names a server.
* ``--no-tracking`` gives `NoRun`, which does nothing and imports nothing.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Annotated, Any, Protocol

import typer

from portfolio_ml_core.errors import ModelNotFoundError, PortfolioError
from portfolio_ml_core.machine import cpu_info

log = logging.getLogger("portfolio_ml_core.tracking")

DEFAULT_STORE = "mlflow.db"
DEFAULT_ARTIFACTS = "mlartifacts"  # `mlflow ui`'s default --artifacts-destination
_MAX_PARAM_CHARS = 6000  # MLflow 3's limit on a parameter's value

TrackingUriOption = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        help="MLflow tracking store: sqlite:///FILE.db, http://HOST:PORT, … "
        "(default: $MLFLOW_TRACKING_URI, else ./mlflow.db with artifacts in ./mlartifacts — "
        "run `mlflow ui` in the same folder to browse the runs).",
    ),
]
NoTrackingOption = Annotated[
    bool, typer.Option("--no-tracking", help="Do not record this run in MLflow.")
]


class TrackingError(PortfolioError):
    """The tracking store cannot be used (bad URI, unreachable server, MLflow missing)."""


# --- where the runs go ------------------------------------------------------------------------


def resolve_tracking_uri(explicit: str | None = None, cwd: Path | None = None) -> str:
    """The flag, else ``$MLFLOW_TRACKING_URI``, else ``sqlite:///<cwd>/mlflow.db``."""
    if explicit:
        return explicit
    from_env = os.environ.get("MLFLOW_TRACKING_URI")
    if from_env:
        return from_env
    # Absolute, so the runs' records do not depend on where a later command starts.
    return f"sqlite:///{(cwd or Path.cwd()).resolve() / DEFAULT_STORE}"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (None for any other store)."""
    if not uri.startswith("sqlite:///") or uri.endswith(":memory:"):
        return None
    return Path(uri.removeprefix("sqlite:///").split("?", 1)[0])


def local_artifact_root(uri: str) -> Path | None:
    """Where a local SQLite store's artifacts go: ``mlartifacts/`` beside the database, the
    folder ``mlflow ui`` started there serves. Servers and other databases choose their own."""
    db = sqlite_path(uri)
    return None if db is None else db.resolve().parent / DEFAULT_ARTIFACTS


# --- MLflow, imported late --------------------------------------------------------------------


def import_mlflow() -> Any:
    """``mlflow``, with its telemetry and progress bars off and its INFO chatter hidden."""
    # Telemetry would post usage events to mlflow-telemetry.io; these commands work offline.
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    os.environ["DO_NOT_TRACK"] = "true"
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # MLflow retries an unreachable server 7 times with growing waits (minutes); a wrong
    # --tracking-uri should fail in seconds. A user's own settings win.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    try:
        import mlflow
    except ImportError:
        raise TrackingError(
            "MLflow is not installed (it comes with the cifar plugin and footai's [train] "
            "extra); pass --no-tracking to train without it"
        ) from None
    # "Creating initial MLflow database tables…" and alembic's migration lines.
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return mlflow


def _one_line(exc: BaseException) -> str:
    """An exception as one short line: MLflow's messages run to paragraphs."""
    text = str(getattr(exc, "message", None) or exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if len(first) > 200 and ". " in first:
        first = first.split(". ", 1)[0] + "."
    return first if len(first) <= 300 else first[:297] + "…"


def _error_code(exc: BaseException) -> str | None:
    return getattr(exc, "error_code", None)


# --- runs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisteredVersion:
    name: str
    version: str
    source: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


class TrackedRun(Protocol):
    """What a training command records; `MlflowRun` and the disabled `NoRun` both do it."""

    @property
    def run_id(self) -> str | None: ...

    def log_params(self, params: Mapping[str, Any]) -> None: ...

    def set_tags(self, tags: Mapping[str, Any]) -> None: ...

    def log_metrics(self, metrics: Mapping[str, float | None], step: int | None = None) -> None: ...

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None: ...

    def log_artifacts(self, folder: Path, artifact_path: str | None = None) -> None: ...

    def register_model(self, artifact_path: str, name: str) -> RegisteredVersion | None: ...

    def child(self, run_name: str, params: Mapping[str, Any] | None = None) -> TrackedRun: ...

    def __enter__(self) -> TrackedRun: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class NoRun:
    """``--no-tracking``: every call does nothing."""

    run_id: str | None = None

    def log_params(self, params: Mapping[str, Any]) -> None:
        pass

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        pass

    def log_metrics(self, metrics: Mapping[str, float | None], step: int | None = None) -> None:
        pass

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        pass

    def log_artifacts(self, folder: Path, artifact_path: str | None = None) -> None:
        pass

    def register_model(self, artifact_path: str, name: str) -> RegisteredVersion | None:
        return None

    def child(self, run_name: str, params: Mapping[str, Any] | None = None) -> NoRun:
        return self

    def __enter__(self) -> NoRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pass


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested mappings as ``a.b`` keys; values as text (None left out), within MLflow's limit."""
    out: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_params(value, f"{name}."))
        elif value is not None:
            text = ",".join(map(str, value)) if isinstance(value, tuple | list) else str(value)
            out[name] = text[:_MAX_PARAM_CHARS]
    return out


def flatten_metrics(figures: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """The numbers of a nested report (``{"detections": {"f1": 0.9}}`` → ``detections.f1``);
    text, lists and booleans are left out."""
    out: dict[str, float] = {}
    for key, value in figures.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_metrics(value, f"{name}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[name] = float(value)
    return out


class MlflowRun:
    """One MLflow run, written through `MlflowClient` (no global "active run" state, so nested
    runs and threads need no care)."""

    def __init__(self, client: Any, run_id: str, experiment_id: str, uri: str) -> None:
        self.client, self._run_id, self.experiment_id, self.uri = client, run_id, experiment_id, uri
        self._broken = False

    @property
    def run_id(self) -> str | None:
        return self._run_id

    def _guard(self, what: str, action: Callable[[], Any]) -> Any:
        """Run one MLflow call; the first failure becomes a warning and ends this run's
        tracking (training goes on, its files are written as usual)."""
        if self._broken:
            return None
        try:
            return action()
        except Exception as exc:
            self._broken = True
            log.warning(
                "MLflow tracking stopped (%s failed: %s); training continues untracked",
                what, _one_line(exc),
            )  # fmt: skip
            return None

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        flat = [Param(k, v) for k, v in flatten_params(params).items()]

        def log_all() -> None:
            for i in range(0, len(flat), 100):  # MLflow takes at most 100 params per batch
                self.client.log_batch(self._run_id, params=flat[i : i + 100])

        self._guard("logging parameters", log_all)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        batch = [RunTag(k, str(v)[:_MAX_PARAM_CHARS]) for k, v in tags.items() if v is not None]
        self._guard("setting tags", lambda: self.client.log_batch(self._run_id, tags=batch))

    def log_metrics(self, metrics: Mapping[str, float | None], step: int | None = None) -> None:
        import math

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        # NaN (an unevaluated epoch) is left out: no point beats a NaN point in the charts.
        batch = [Metric(k, float(v), now, step or 0) for k, v in metrics.items()
                 if v is not None and math.isfinite(float(v))]  # fmt: skip
        if batch:
            self._guard(
                "logging metrics", lambda: self.client.log_batch(self._run_id, metrics=batch)
            )

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        self._guard(f"uploading {Path(path).name}",
                    lambda: self.client.log_artifact(self._run_id, str(path), artifact_path))  # fmt: skip

    def log_artifacts(self, folder: Path, artifact_path: str | None = None) -> None:
        self._guard(f"uploading {Path(folder).name}/",
                    lambda: self.client.log_artifacts(self._run_id, str(folder), artifact_path))  # fmt: skip

    def register_model(self, artifact_path: str, name: str) -> RegisteredVersion | None:
        """A new version of registered model ``name`` from this run's ``artifact_path``."""

        def register() -> RegisteredVersion:
            from mlflow.exceptions import MlflowException

            try:
                self.client.get_registered_model(name)
            except MlflowException as exc:
                if _error_code(exc) != "RESOURCE_DOES_NOT_EXIST":
                    raise
                self.client.create_registered_model(name)
            source = f"runs:/{self._run_id}/{artifact_path}"
            mv = self.client.create_model_version(name, source, run_id=self._run_id)
            return RegisteredVersion(name, str(mv.version), source)

        result: RegisteredVersion | None = self._guard(f"registering model {name}", register)
        return result

    def child(self, run_name: str, params: Mapping[str, Any] | None = None) -> MlflowRun | NoRun:
        """A nested run (the MLflow UI shows it under this one)."""
        if self._broken:
            return NoRun()
        created = self._guard(
            f"starting nested run {run_name}",
            lambda: self.client.create_run(
                self.experiment_id,
                run_name=run_name,
                tags={"mlflow.parentRunId": self._run_id, **_source_tags()},
            ),
        )
        if created is None:
            return NoRun()
        run = MlflowRun(self.client, created.info.run_id, self.experiment_id, self.uri)
        if params:
            run.log_params(params)
        return run

    def __enter__(self) -> MlflowRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            status = "FINISHED"
        elif issubclass(exc_type, KeyboardInterrupt):
            status = "KILLED"
        else:
            status = "FAILED"
            if exc is not None:
                self.set_tags({"error": _one_line(exc)})
        if not self._broken:
            self._guard("ending the run", lambda: self.client.set_terminated(self._run_id, status))
            return
        # Logging failed earlier (already warned): still try to close the run, quietly.
        with suppress(Exception):
            self.client.set_terminated(self._run_id, status)


def _source_tags() -> dict[str, str]:
    # What MLflow's fluent API would record; the client API leaves it to the caller.
    return {
        "mlflow.source.name": " ".join(
            [Path(sys.argv[0]).name, *sys.argv[1:3]] if sys.argv else []
        ),
        "mlflow.source.type": "LOCAL",
        "mlflow.user": os.environ.get("USER") or os.environ.get("USERNAME") or "unknown",
    }


@dataclass(frozen=True)
class Tracker:
    """Where runs are recorded; ``uri`` None means tracking is off."""

    uri: str | None

    @classmethod
    def from_flags(cls, tracking_uri: str | None, no_tracking: bool) -> Tracker:
        if no_tracking:
            return cls(None)
        return cls(resolve_tracking_uri(tracking_uri))

    @property
    def enabled(self) -> bool:
        return self.uri is not None

    def describe(self) -> str:
        """The store, as a user would point ``mlflow ui`` at it."""
        if self.uri is None:
            return "tracking off"
        db = sqlite_path(self.uri)
        if db is not None and db.resolve().parent == Path.cwd().resolve():
            return f"{db.name} (run `mlflow ui` here to browse)"
        return self.uri

    def announce(self, run: MlflowRun | NoRun, experiment: str) -> str | None:
        """The line a training command prints when its run opens (None when tracking is off)."""
        if self.uri is None or run.run_id is None:
            return None
        return f"MLflow run {run.run_id} in experiment {experiment}: {self.describe()}"

    def client(self) -> Any:
        """An `MlflowClient` on this store, checked with one request: any problem with the
        URI is a one-line `TrackingError`."""
        if self.uri is None:
            raise TrackingError("tracking is off")
        self._check_reachable()  # before the import: a typo should not cost seconds
        mlflow = import_mlflow()
        try:
            client = mlflow.MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
            client.search_experiments(max_results=1)
        except Exception as exc:
            raise TrackingError(
                f"tracking store {self.uri} is unusable: {_one_line(exc)} "
                "(fix --tracking-uri / $MLFLOW_TRACKING_URI, or pass --no-tracking)"
            ) from None
        return client

    def _check_reachable(self) -> None:
        """The mistakes MLflow reports least clearly, caught first."""
        from urllib.parse import urlparse

        uri = self.uri or ""
        scheme = urlparse(uri).scheme
        db = sqlite_path(uri)
        if db is not None and not db.resolve().parent.is_dir():
            raise TrackingError(
                f"tracking store {uri}: folder {db.resolve().parent} does not exist"
            )
        if (
            scheme in ("", "file")
            and os.environ.get("MLFLOW_ALLOW_FILE_STORE", "").lower() != "true"
        ):
            raise TrackingError(
                f"tracking store {uri!r} is a folder (MLflow file store), which MLflow 3 no "
                "longer writes: use a database file (sqlite:///mlflow.db) or a server "
                "(http://HOST:PORT)"
            )
        if scheme in ("http", "https"):
            import requests

            try:  # any HTTP answer will do here; MLflow's own request checks the rest
                requests.get(uri, timeout=10)
            except requests.Timeout:
                raise TrackingError(f"tracking server {uri} did not answer within 10 s") from None
            except requests.RequestException as exc:
                raise TrackingError(
                    f"cannot reach tracking server {uri} ({type(exc).__name__}); is `mlflow "
                    "server` running there? (or pass --no-tracking)"
                ) from None

    def start_run(
        self,
        experiment: str,
        run_name: str,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> MlflowRun | NoRun:
        """Open a run (creating the experiment the first time), with the machine's CPU tags."""
        if self.uri is None:
            return NoRun()
        client = self.client()
        try:
            experiment_id = self._experiment_id(client, experiment)
            created = client.create_run(
                experiment_id,
                run_name=run_name,
                tags={**_source_tags(), **cpu_info().tags(),
                      **{k: str(v) for k, v in (tags or {}).items() if v is not None}},
            )  # fmt: skip
        except TrackingError:
            raise
        except Exception as exc:
            raise TrackingError(
                f"tracking store {self.uri}: cannot start a run in experiment {experiment!r}: "
                f"{_one_line(exc)}"
            ) from None
        run = MlflowRun(client, created.info.run_id, experiment_id, self.uri)
        if params:
            run.log_params(params)
        return run

    def _experiment_id(self, client: Any, name: str) -> str:
        experiment = client.get_experiment_by_name(name)
        root = local_artifact_root(self.uri or "")
        if experiment is None:
            location = (root / name).as_uri() if root is not None else None
            return str(client.create_experiment(name, artifact_location=location))
        if experiment.lifecycle_stage == "deleted":
            raise TrackingError(
                f"experiment {name!r} was deleted in {self.uri}; restore it "
                f"(mlflow experiments restore --experiment-id {experiment.experiment_id}) "
                "or remove it for good (mlflow gc)"
            )
        if experiment.artifact_location.startswith("mlflow-artifacts:") and not (
            self.uri or ""
        ).startswith(("http://", "https://")):
            # Created through `mlflow ui`/`mlflow server`: only the server can store its files.
            raise TrackingError(
                f"experiment {name!r} keeps its artifacts behind an MLflow server "
                f"({experiment.artifact_location}); pass that server as --tracking-uri "
                "http://HOST:PORT"
            )
        return str(experiment.experiment_id)


# --- registered models ------------------------------------------------------------------------

_MODEL_REF = re.compile(r"^models:/(?P<name>[A-Za-z0-9_.\- ]+)(?:/(?P<version>\d+|latest)|@(?P<alias>[A-Za-z0-9_\-]+))$")  # fmt: skip


@dataclass(frozen=True)
class ModelRef:
    """``models:/NAME/VERSION``, ``models:/NAME/latest`` or ``models:/NAME@ALIAS``."""

    name: str
    version: str | None = None  # a number, or "latest"
    alias: str | None = None


def is_model_ref(text: str) -> bool:
    return text.startswith("models:/")


def parse_model_ref(text: str) -> ModelRef:
    match = _MODEL_REF.match(text)
    if match is None:
        raise PortfolioError(
            f"{text!r} is not a registered model reference: use models:/NAME/VERSION, "
            "models:/NAME/latest or models:/NAME@ALIAS"
        )
    return ModelRef(match["name"], match["version"], match["alias"])


@contextmanager
def downloaded_model(
    ref: str, tracking_uri: str | None = None
) -> Iterator[tuple[RegisteredVersion, Path]]:
    """Download a registered model version to a temporary folder (removed afterwards):
    (the version it resolved to, the folder)."""
    import tempfile

    parsed = parse_model_ref(ref)
    tracker = Tracker(resolve_tracking_uri(tracking_uri))
    db = sqlite_path(tracker.uri or "")
    if db is not None and not db.is_file():
        # Opening a SQLite store creates it: reading from one must not leave an empty one.
        raise TrackingError(
            f"{ref}: no tracking store at {db} (train with tracking on first, or point "
            "--tracking-uri / $MLFLOW_TRACKING_URI at the store that holds the model)"
        )
    client = tracker.client()
    from mlflow.exceptions import MlflowException

    try:
        if parsed.alias is not None:
            mv = client.get_model_version_by_alias(parsed.name, parsed.alias)
        elif parsed.version == "latest":
            versions = client.search_model_versions(f"name = '{parsed.name}'")
            if not versions:
                raise ModelNotFoundError(
                    f"registered model {parsed.name!r} has no versions in {tracker.uri}"
                )
            mv = max(versions, key=lambda v: int(v.version))
        else:
            mv = client.get_model_version(parsed.name, parsed.version)
    except MlflowException as exc:
        raise ModelNotFoundError(f"{ref} not found in {tracker.uri}: {_one_line(exc)}") from None
    version = RegisteredVersion(parsed.name, str(mv.version), str(mv.source))
    with tempfile.TemporaryDirectory(prefix="portfolio-ml-model-") as tmp:
        try:
            path = _download_version(client, tracker.uri, mv, tmp)
        except Exception as exc:
            raise ModelNotFoundError(
                f"could not download {version.uri} from {tracker.uri}: {_one_line(exc)}"
            ) from None
        yield version, Path(path)


def _download_version(client: Any, uri: str | None, mv: Any, dst: str) -> str:
    # Through the client bound to this store: mlflow.artifacts.download_artifacts would resolve
    # models:/ and runs:/ URIs against the process-wide tracking URI instead.
    source = client.get_model_version_download_uri(mv.name, mv.version)
    prefix = f"runs:/{mv.run_id}"
    if mv.run_id and source.startswith(prefix):
        return str(
            client.download_artifacts(mv.run_id, source.removeprefix(prefix).strip("/"), dst)
        )
    return str(
        import_mlflow().artifacts.download_artifacts(
            artifact_uri=source, dst_path=dst, tracking_uri=uri, registry_uri=uri
        )
    )


def epoch_progress(console: Any, transient: bool = False) -> Any:
    """The Rich bar every training command shows: epoch, steps done, loss, time.

    Its task takes string fields ``epoch`` and ``loss`` (``progress.add_task("train",
    epoch="-", loss="-")``), so each command formats them its own way.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]epoch {task.fields[epoch]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TimeElapsedColumn(),
        console=console,
        transient=transient,
    )
