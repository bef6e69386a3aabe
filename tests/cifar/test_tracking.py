"""``cifar train`` / ``tune`` / ``serve`` with MLflow: the run, its metrics and artifacts, the
registered model served by name, ``--no-tracking`` and bad stores.

Stores are SQLite files in temporary folders (copies of one empty database): no server, no
network. The data is the tiny synthetic official-format set, so a training run takes seconds.
"""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from portfolio_ml_cli.app import create_app
from typer.testing import CliRunner

runner = CliRunner()


def run(*args: str | Path) -> Any:
    return runner.invoke(create_app(), ["cifar", *map(str, args)], catch_exceptions=False)


@dataclass(frozen=True)
class Tracked:
    folder: Path  # the working folder the command ran in
    uri: str
    output: str

    def client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(self.uri, self.uri)


@pytest.fixture(scope="module")
def tracked(
    official_dir: Path,
    tiny_preset: Path,
    _empty_mlflow_db: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Tracked:
    """One 2-epoch `cifar train` with no tracking flag and no $MLFLOW_TRACKING_URI: the run
    goes to ./mlflow.db of the folder it runs in."""
    folder = tmp_path_factory.mktemp("tracked")
    shutil.copyfile(_empty_mlflow_db, folder / "mlflow.db")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.setenv("PORTFOLIO_ML_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
        result = run("train", "--data", official_dir, "--out", "run", "--preset", tiny_preset,
                     "--epochs", "2", "--precision", "float32")  # fmt: skip
    assert result.exit_code == 0, result.output
    return Tracked(folder, f"sqlite:///{folder.resolve() / 'mlflow.db'}", result.output)


def _only_run(tracked: Tracked, experiment: str) -> Any:
    client = tracked.client()
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1
    return runs[0]


def test_the_run_has_the_config_per_epoch_metrics_cpu_and_precision(tracked: Tracked) -> None:
    from portfolio_ml_core.machine import cpu_info

    r = _only_run(tracked, "cifar-train")
    assert r.info.status == "FINISHED" and r.info.run_name == "run"
    assert f"MLflow run {r.info.run_id}" in tracked.output
    params = r.data.params
    assert params["widths"] == "16,32,32" and params["epochs"] == "2"
    assert params["batch_size"] == "100" and params["precision_flag"] == "float32"
    assert params["train_images"] == "100" and params["test_images"] == "20"
    assert r.data.tags["cpu"] == cpu_info().name
    assert r.data.tags["training_precision"] == "float32"
    client = tracked.client()
    for name in ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "train_seconds",
                 "images_per_second", "lr"):  # fmt: skip
        history = client.get_metric_history(r.info.run_id, f"epoch/{name}")
        assert [m.step for m in history] == [1, 2], name
    seconds = [m.value for m in client.get_metric_history(r.info.run_id, "epoch/train_seconds")]
    assert 0 < seconds[0] < seconds[1]  # cumulative training time
    metrics = r.data.metrics
    assert 0 <= metrics["test_accuracy_plain"] <= 1 and metrics["train_seconds"] > 0
    assert "test_accuracy_tta" not in metrics  # the tiny preset has no TTA
    assert "class_accuracy.truck" in metrics


def test_outputs_and_the_model_are_artifacts_and_the_model_is_registered(
    tracked: Tracked,
) -> None:
    r = _only_run(tracked, "cifar-train")
    client = tracked.client()
    names = {f.path for f in client.list_artifacts(r.info.run_id)}
    assert names == {"metrics.json", "curves.png", "confusion_matrix.png", "model"}
    model_files = {f.path for f in client.list_artifacts(r.info.run_id, "model")}
    assert {"model/MLmodel", "model/data", "model/requirements.txt"} <= model_files
    # in ./mlartifacts, where `mlflow ui` started in the same folder looks
    stored = tracked.folder / "mlartifacts" / "cifar-train" / r.info.run_id / "artifacts"
    assert (stored / "model" / "data" / "model.keras").is_file()
    version = client.get_model_version("cifar10", "1")
    assert version.run_id == r.info.run_id
    assert "serve --model models:/cifar10/1" in tracked.output


@pytest.fixture
def registered_server(tracked: Tracked) -> Iterator[str]:
    import waitress
    from portfolio_ml_cifar.serve import create_app as create_server_app
    from portfolio_ml_cifar.serve import load_predictor

    tracked.client().set_registered_model_alias("cifar10", "champion", "1")
    predictor = load_predictor("models:/cifar10@champion", tracked.uri)
    assert predictor.version == "1"
    srv = waitress.create_server(create_server_app(predictor=predictor), host="127.0.0.1", port=0)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.effective_port}"
    srv.close()


def test_a_registered_version_is_served_by_name(tracked: Tracked, registered_server: str) -> None:
    import keras
    from portfolio_ml_cifar.infer import softmax

    x = np.random.default_rng(1).integers(0, 256, (2, 32, 32, 3))
    r = requests.post(f"{registered_server}/v1/models/cifar10/versions/1:predict",
                      json={"instances": x.tolist()})  # fmt: skip
    assert r.status_code == 200, r.text
    local = keras.saving.load_model(tracked.folder / "run" / "model.keras")
    expected = softmax(np.asarray(local(x.astype("float32"))))
    np.testing.assert_allclose(np.array(r.json()["predictions"]), expected, atol=1e-4)
    # the REST API reports the registry's version number
    status = requests.get(f"{registered_server}/v1/models/cifar10").json()
    assert status["model_version_status"][0]["version"] == "1"
    missing = requests.post(f"{registered_server}/v1/models/cifar10/versions/2:predict",
                            json={"instances": x.tolist()})  # fmt: skip
    assert missing.status_code == 404


def test_serving_an_unknown_version_is_a_one_line_error(tracked: Tracked) -> None:
    for ref, message in [("models:/cifar10/9", "not found"), ("models:/nope/latest", "no versions"),
                         ("models:/cifar10", "not a registered model reference")]:  # fmt: skip
        result = run("serve", "--model", ref, "--tracking-uri", tracked.uri, "--port", "0")
        assert result.exit_code == 1, (ref, result.output)
        assert message in result.output and "Traceback" not in result.output


def test_no_tracking_leaves_no_store(
    official_dir: Path, tiny_preset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    result = run("train", "--data", official_dir, "--out", "run", "--preset", tiny_preset,
                 "--epochs", "1", "--no-tracking")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "model.keras").is_file() and "MLflow" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_bad_store_stops_the_command_before_training(official_dir: Path, tmp_path: Path) -> None:
    for uri, message in [
        (f"sqlite:///{tmp_path}/missing/mlflow.db", "does not exist"),
        (f"http://127.0.0.1:{_closed_port()}", "cannot reach tracking server"),
        ("mlruns", "file store"),
    ]:
        out = tmp_path / "run"
        result = run("train", "--data", official_dir, "--out", out, "--preset", "quick",
                     "--tracking-uri", uri)  # fmt: skip
        assert result.exit_code == 1, (uri, result.output)
        last = result.output.strip().splitlines()[-1]
        assert last.startswith("Error: ") and message in last, result.output
        assert "Traceback" not in result.output
        assert not out.exists()  # stopped before training wrote anything


@pytest.mark.slow
def test_tune_is_one_run_with_a_nested_run_per_trial(
    official_dir: Path, mlflow_store: str, tmp_path: Path
) -> None:
    from mlflow import MlflowClient
    from portfolio_ml_cifar.presets import TrainConfig, save_preset

    base = save_preset(
        "b", TrainConfig(widths=(8, 16, 16), epochs=1, tta=False), tmp_path / "b.json"
    )
    result = run("tune", "--data", official_dir, "--trials", "2", "--subset", "50", "--base", base,
                 "--name", "tracked", "--tracking-uri", mlflow_store)  # fmt: skip
    assert result.exit_code == 0, result.output
    client = MlflowClient(mlflow_store)
    exp = client.get_experiment_by_name("cifar-tune")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    trials = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(trials) == 2
    parent = parents[0]
    assert parent.info.status == "FINISHED" and parent.data.params["trials"] == "2"
    assert {"best.lr", "best.batch_size", "best.epochs", "best.label_smoothing"} <= set(
        parent.data.params
    )
    best = max(t.data.metrics["val_accuracy"] for t in trials)
    assert parent.data.metrics["best_val_accuracy"] == pytest.approx(best)
    assert [f.path for f in client.list_artifacts(parent.info.run_id)] == ["tracked.json"]
    for trial in trials:
        assert trial.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert trial.info.status == "FINISHED" and trial.data.params["train_images"] == "50"
        history = client.get_metric_history(trial.info.run_id, "epoch/val_accuracy")
        steps = [m.step for m in history]
        assert steps == list(range(1, int(trial.data.params["epochs"]) + 1))  # step = epoch
        assert not [k for k in trial.data.metrics if "test" in k]  # tuning never sees test


def test_serving_from_a_store_that_does_not_exist_creates_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")  # the default: ./mlflow.db
    result = run("serve", "--model", "models:/cifar10/latest", "--port", "0")
    assert result.exit_code == 1 and "no tracking store at" in result.output
    assert "Traceback" not in result.output and list(tmp_path.iterdir()) == []
