"""``footai train`` records its run in MLflow: parameters, per-epoch losses, the valid-split
report's figures, the report and the exported weights as artifacts; ``--no-tracking`` and a bad
store. Tiny YOLO exports written here (two frames per split) keep the training to seconds; the
store is a SQLite file in the test's folder: no server, no network."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from .conftest import invoke

pytest.importorskip("tensorflow")


def _yolo_export(root: Path, pitch: bool) -> Path:
    """Two labelled 16:9 frames per split: boxes (players, a ball) or the 32 pitch keypoints."""
    rng = np.random.default_rng(3)
    for split in ("train", "valid"):
        (root / split / "images").mkdir(parents=True)
        (root / split / "labels").mkdir(parents=True)
        for i in range(2):
            image = np.full((360, 640, 3), (40, 140, 40), np.uint8)
            cv2.rectangle(image, (300, 150), (320, 210), (250, 250, 250), -1)
            cv2.imwrite(str(root / split / "images" / f"f{i}.jpg"), image)
            if pitch:
                xy = rng.uniform(0.1, 0.9, (32, 2))
                line = "0 0.5 0.5 1 1 " + " ".join(f"{x:.3f} {y:.3f} 2" for x, y in xy)
            else:
                line = "2 0.48 0.5 0.03 0.17\n0 0.7 0.6 0.01 0.02"
            (root / split / "labels" / f"f{i}.txt").write_text(line + "\n")
    return root


@pytest.fixture(scope="module")
def tiny_sets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("yolo")
    return _yolo_export(base / "players", False), _yolo_export(base / "pitch", True)


def _train(sets: tuple[Path, Path], out: Path, *extra: str) -> object:
    players, pitch = sets
    return invoke("train", "--players", players, "--pitch", pitch, "--out", out,
                  "--epochs", "2", "--steps", "1", "--batch", "1", "--synthetic", "0",
                  "--tactical", "0", "--size", "128x96", *extra)  # fmt: skip


@pytest.mark.slow
def test_train_is_tracked(tiny_sets: tuple[Path, Path], mlflow_store: str, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    res = _train(tiny_sets, tmp_path / "t", "--tracking-uri", mlflow_store)
    assert res.exit_code == 0, res.output
    client = MlflowClient(mlflow_store)
    exp = client.get_experiment_by_name("footai-train")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.status == "FINISHED" and f"MLflow run {run.info.run_id}" in res.output
    params = run.data.params
    assert params["epochs"] == "2" and params["input_size"] == "128,96"
    assert params["synthetic"] == "0" and params["players"] == str(tiny_sets[0])
    assert run.data.tags["cpu"] and run.data.tags["training_precision"] == "float32"
    for name in ("loss", "valid_loss", "person", "keypoints", "lr", "seconds"):
        steps = [m.step for m in client.get_metric_history(run.info.run_id, f"epoch/{name}")]
        assert steps == [1, 2], name
    metrics = run.data.metrics
    assert "valid.detections.persons.f1" in metrics and "valid.detections.map50" in metrics
    assert "valid.pitch.frames_within_1m" in metrics
    artifacts = {f.path for f in client.list_artifacts(run.info.run_id)}
    assert {"report.json", "history.json", "curves.png", "footai_net.tflite",
            "footai_net.keras"} <= artifacts  # fmt: skip


def test_a_bad_store_stops_the_command_before_training(
    tiny_sets: tuple[Path, Path], tmp_path: Path
) -> None:
    res = _train(tiny_sets, tmp_path / "t", "--tracking-uri", f"sqlite:///{tmp_path}/no/mlflow.db")
    assert res.exit_code == 1 and "does not exist" in res.output, res.output
    assert "Traceback" not in res.output and not (tmp_path / "t").exists()


@pytest.mark.slow
def test_no_tracking_leaves_no_store(
    tiny_sets: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    res = _train(tiny_sets, tmp_path / "t", "--no-tracking")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "t" / "footai_net.tflite").is_file() and "MLflow" not in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t"]  # no mlflow.db, no mlartifacts
