"""The MLflow wrapper: where runs go, what a run records, how it ends, bad stores, registry refs.

Every store here is a SQLite file in the test's temporary folder: no server, no network.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest
from portfolio_ml_core.errors import ModelNotFoundError, PortfolioError
from portfolio_ml_core.machine import CpuInfo, cpu_info
from portfolio_ml_core.tracking import (
    NoRun,
    Tracker,
    TrackingError,
    downloaded_model,
    flatten_metrics,
    flatten_params,
    local_artifact_root,
    parse_model_ref,
    resolve_tracking_uri,
)

CPUINFO = """processor\t: 0
model name\t: AMD EPYC 9B45
flags\t\t: fpu sse2 avx avx2 avx512f avx512bw avx512_bf16 sha_ni
"""


def test_the_store_is_the_flag_then_the_environment_then_mlflow_db_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking:5000")
    assert resolve_tracking_uri("sqlite:///x.db") == "sqlite:///x.db"
    assert resolve_tracking_uri(None) == "http://tracking:5000"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.chdir(tmp_path)
    uri = resolve_tracking_uri(None)
    assert uri == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    # artifacts beside the database, in the folder `mlflow ui` serves by default
    assert local_artifact_root(uri) == tmp_path.resolve() / "mlartifacts"
    assert local_artifact_root("http://tracking:5000") is None
    assert Tracker.from_flags("sqlite:///x.db", no_tracking=True).uri is None


def test_cpu_tags_name_the_model_and_the_flags_that_matter() -> None:
    info = cpu_info(CPUINFO)
    assert info == CpuInfo("AMD EPYC 9B45", ("avx2", "avx512f", "avx512_bf16"))
    assert info.tags()["cpu_flags"] == "avx2,avx512f,avx512_bf16"
    assert cpu_info("flags\t: sse2\n").flags == ()
    assert cpu_info().name  # this machine's, whatever it is


def test_params_and_metrics_are_flattened() -> None:
    params = flatten_params(
        {"widths": (16, 32), "opt": {"lr": 0.1}, "subset": None, "p": Path("a")}
    )
    assert params == {"widths": "16,32", "opt.lr": "0.1", "p": "a"}
    report = {"f1": 0.5, "n": 3, "name": "valid", "ok": True, "per": [1, 2], "pitch": {"rmse": 1.5}}
    assert flatten_metrics(report, "valid.") == {"valid.f1": 0.5, "valid.n": 3.0,
                                                 "valid.pitch.rmse": 1.5}  # fmt: skip


def test_model_references() -> None:
    assert parse_model_ref("models:/cifar10/3").version == "3"
    assert parse_model_ref("models:/cifar10/latest").version == "latest"
    ref = parse_model_ref("models:/cifar10@champion")
    assert (ref.name, ref.version, ref.alias) == ("cifar10", None, "champion")
    for bad in ("models:/", "models:/cifar10", "models:/a/b/c", "runs:/x/model", "models:/x'y/1"):
        with pytest.raises(PortfolioError, match="registered model reference"):
            parse_model_ref(bad)


def test_no_tracking_records_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    tracker = Tracker.from_flags(None, no_tracking=True)
    assert not tracker.enabled and tracker.describe() == "tracking off"
    with tracker.start_run("x", "y", params={"a": 1}) as run:
        assert isinstance(run, NoRun) and run.run_id is None
        run.log_metrics({"m": 1.0}, step=1)
        assert run.register_model("model", "m") is None
        with run.child("trial 0") as trial:
            trial.log_params({"b": 2})
    assert list(tmp_path.iterdir()) == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("sqlite:////nonexistent-folder/x/mlflow.db", "does not exist"),
        ("mlruns", "MLflow file store"),
        ("file:///tmp/mlruns", "MLflow file store"),
        (None, "cannot reach tracking server"),  # an http URI with nothing listening
        ("foo://bar", "unsupported URI"),
    ],
)
def test_a_bad_store_is_one_line_before_anything_runs(uri: str | None, message: str) -> None:
    uri = uri or f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(TrackingError, match=message) as caught:
        Tracker(uri).start_run("x", "y")
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 400


def test_a_run_records_params_tags_metrics_artifacts_and_a_model_version(
    mlflow_store: str, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    tracker = Tracker(mlflow_store)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "weights.bin").write_bytes(b"\0" * 10)
    (tmp_path / "report.json").write_text("{}")
    with tracker.start_run("exp", "first", params={"lr": 0.1, "widths": (1, 2)},
                           tags={"out_dir": tmp_path}) as run:  # fmt: skip
        for epoch in (1, 2, 3):
            run.log_metrics({"loss": 1.0 / epoch, "test_accuracy": float("nan")}, step=epoch)
        run.log_artifact(tmp_path / "report.json")
        run.log_artifacts(tmp_path / "model", "model")
        version = run.register_model("model", "demo")
        with run.child("trial 0", {"lr": 0.2}) as trial:
            trial.log_metrics({"val_accuracy": 0.5})
    assert version is not None and version.uri == "models:/demo/1"

    client = MlflowClient(mlflow_store, mlflow_store)
    got = client.get_run(run.run_id)
    assert got.info.status == "FINISHED" and got.info.run_name == "first"
    assert got.data.params == {"lr": "0.1", "widths": "1,2"}
    assert got.data.tags["cpu"] == cpu_info().name and "cpu_flags" in got.data.tags
    assert got.data.tags["out_dir"] == str(tmp_path)
    history = client.get_metric_history(run.run_id, "loss")
    assert [(m.step, round(m.value, 3)) for m in history] == [(1, 1.0), (2, 0.5), (3, 0.333)]
    assert "test_accuracy" not in got.data.metrics  # NaN is left out
    assert {f.path for f in client.list_artifacts(run.run_id)} == {"model", "report.json"}
    # artifacts go beside the database, as `mlflow ui` would keep them
    root = Path(mlflow_store.removeprefix("sqlite:///")).parent / "mlartifacts" / "exp"
    assert (root / run.run_id / "artifacts" / "model" / "weights.bin").is_file()
    assert client.get_model_version("demo", "1").run_id == run.run_id
    trial_run = client.get_run(trial.run_id)
    assert trial_run.data.tags["mlflow.parentRunId"] == run.run_id
    assert trial_run.data.params == {"lr": "0.2"} and trial_run.info.status == "FINISHED"

    # a registered version comes back by number, by "latest" and by alias
    client.set_registered_model_alias("demo", "champion", "1")
    for ref in ("models:/demo/1", "models:/demo/latest", "models:/demo@champion"):
        with downloaded_model(ref, mlflow_store) as (found, folder):
            assert found.version == "1" and (folder / "weights.bin").read_bytes() == b"\0" * 10
    for ref in ("models:/demo/7", "models:/nothing/latest", "models:/demo@gone"):
        with pytest.raises(ModelNotFoundError), downloaded_model(ref, mlflow_store):
            pass


def test_experiments_this_client_cannot_write_to_are_one_line_errors(mlflow_store: str) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_store)
    # made through `mlflow ui`: its files live behind the server
    client.create_experiment("via-server", artifact_location="mlflow-artifacts:/5")
    with pytest.raises(TrackingError, match="behind an MLflow server"):
        Tracker(mlflow_store).start_run("via-server", "r")
    client.delete_experiment(client.create_experiment("gone"))
    with pytest.raises(TrackingError, match="was deleted"):
        Tracker(mlflow_store).start_run("gone", "r")


def test_a_run_ends_failed_on_an_error_and_killed_on_ctrl_c(mlflow_store: str) -> None:
    from mlflow import MlflowClient

    tracker = Tracker(mlflow_store)
    client = MlflowClient(mlflow_store)
    with pytest.raises(PortfolioError), tracker.start_run("exp", "broken") as failed:
        raise PortfolioError("worker 1 lost")
    with pytest.raises(KeyboardInterrupt), tracker.start_run("exp", "stopped") as killed:
        raise KeyboardInterrupt
    assert client.get_run(failed.run_id).info.status == "FAILED"
    assert client.get_run(failed.run_id).data.tags["error"] == "worker 1 lost"
    assert client.get_run(killed.run_id).info.status == "KILLED"


def test_a_store_failing_mid_run_is_one_warning_and_training_goes_on(
    mlflow_store: str, caplog: pytest.LogCaptureFixture
) -> None:
    from mlflow import MlflowClient

    with Tracker(mlflow_store).start_run("exp", "doomed") as run:
        run.log_metrics({"loss": 1.0}, step=1)
        MlflowClient(mlflow_store).delete_run(run.run_id)  # logging to it now fails
        with caplog.at_level(logging.WARNING, logger="portfolio_ml_core.tracking"):
            run.log_metrics({"loss": 0.5}, step=2)
            run.log_params({"late": 1})
            assert run.register_model("model", "demo") is None
    warnings = [r for r in caplog.records if r.name == "portfolio_ml_core.tracking"]
    assert len(warnings) == 1 and "training continues untracked" in warnings[0].getMessage()
