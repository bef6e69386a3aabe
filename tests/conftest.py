"""Shared fixtures: where the real-data assets live, and a guarantee that tests never download.

``../shared`` (beside the project root) holds the pose model, the CIFAR-10 tarball and two real
clips. Locally a test that needs one of them skips when it is missing; in CI (``CI`` set) it
fails instead, so a missing asset can never turn the real-data tests into silent skips.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PORTFOLIO_ML_SHARED", ROOT.parent / "shared"))


_SHARED_MODEL = SHARED / "models" / "pose_landmarker_full.task"
if _SHARED_MODEL.exists():
    # Point the project's own model resolution at the offline copy (CLI tests need it too).
    os.environ.setdefault("PORTFOLIO_ML_POSE_MODEL", str(_SHARED_MODEL))
if SHARED.is_dir():
    # Only a folder that exists: `bench` refuses an --assets folder that is missing.
    os.environ.setdefault("PORTFOLIO_ML_ASSETS", str(SHARED))


@pytest.fixture(autouse=True, scope="session")
def _never_download() -> None:
    # Model resolution reads this and refuses to touch the network.
    os.environ["PORTFOLIO_ML_OFFLINE"] = "1"
    # Rich wraps tables to the terminal width; a wide fake terminal keeps cells on one line.
    os.environ["COLUMNS"] = "200"


@pytest.fixture(autouse=True)
def _mlflow_store_outside_the_repo(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Training commands record their runs in MLflow, by default in ./mlflow.db — for the tests
    # that would be the repository. One store per session in the temporary folder instead.
    store = tmp_path_factory.getbasetemp() / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")


@pytest.fixture(scope="session")
def _empty_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow database with its schema, made once: creating one takes seconds. (mlflow is
    a locked dependency: a broken install must fail these tests, not skip them.)"""
    from portfolio_ml_core.tracking import Tracker

    path = tmp_path_factory.mktemp("mlflow-empty") / "mlflow.db"
    Tracker(f"sqlite:///{path}").client()
    return path


@pytest.fixture
def mlflow_store(_empty_mlflow_db: Path, tmp_path: Path) -> str:
    """A fresh MLflow store of this test's own: ``sqlite:///<tmp_path>/mlflow.db``."""
    import shutil

    target = tmp_path / "mlflow.db"
    shutil.copyfile(_empty_mlflow_db, target)
    return f"sqlite:///{target}"


def _require(path: Path, what: str) -> Path:
    if path.exists():
        return path
    message = f"{what} not found at {path}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI must have ../shared)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return _require(SHARED, "shared assets folder")


@pytest.fixture(scope="session")
def pose_model_path() -> Path:
    explicit = os.environ.get("PORTFOLIO_ML_POSE_MODEL")
    path = Path(explicit) if explicit else SHARED / "models" / "pose_landmarker_full.task"
    return _require(path, "pose model")


@pytest.fixture(scope="session")
def squat_clip() -> Path:
    return _require(SHARED / "videos" / "squat_side_barbell_2reps.mp4", "squat clip")


@pytest.fixture(scope="session")
def football_clip() -> Path:
    return _require(SHARED / "videos" / "football_broadcast_laliga.mp4", "football clip")


@pytest.fixture(scope="session")
def cifar_tarball() -> Path:
    return _require(SHARED / "datasets" / "cifar10-jpeg.tar.gz", "CIFAR-10 JPEG tarball")


def _extract(tarball: Path, folder: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import tarfile

    out = tmp_path_factory.mktemp(folder)
    with tarfile.open(tarball) as tar:
        tar.extractall(out, filter="data")
    return out / folder


@pytest.fixture(scope="session")
def players_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real labelled broadcast frames (YOLO boxes), extracted once per session."""
    tarball = _require(SHARED / "datasets" / "football-players-detection.tar.gz", "players dataset")
    return _extract(tarball, "football-players-detection", tmp_path_factory)


@pytest.fixture(scope="session")
def pitch_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real broadcast frames with 32 pitch keypoints (YOLO-pose), extracted once."""
    tarball = _require(SHARED / "datasets" / "football-pitch-keypoints.tar.gz", "pitch dataset")
    return _extract(tarball, "football-pitch-keypoints", tmp_path_factory)


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray cluster for the session's batch tests (the CLI reuses an initialised Ray
    instead of starting its own, which saves ~10 s a test)."""
    import logging

    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    yield ray
    ray.shutdown()
