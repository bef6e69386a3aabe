"""``cifar train --workers … --worker-index …``: two worker processes on loopback ports of this
machine train one model with MultiWorkerMirroredStrategy; losing one is an error, not a hang."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from portfolio_ml_cifar.cluster import WorkerCluster
from portfolio_ml_core.errors import PortfolioError

SCRIPT = Path(sys.executable).with_name("portfolio-ml")
RECIPE = {"widths": [16, 32, 32], "epochs": 2, "batch_size": 100, "tta": False, "seed": 0}


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _train(data: Path, out: Path, preset: Path, *extra: str) -> subprocess.Popen:
    command = [str(SCRIPT), "cifar", "train", "--data", str(data), "--out", str(out),
               "--preset", str(preset), *extra]  # fmt: skip
    env = {**os.environ, "TF_CONFIG": ""}
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


@pytest.fixture
def preset(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(RECIPE))
    return path


def test_worker_flags_are_checked(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert WorkerCluster.from_flags(None, None) is None  # one process
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["h:1", "h:2"]}, "task": {"index": 0}}')
    assert WorkerCluster.from_flags(None, None) == WorkerCluster(("h:1", "h:2"), 0)
    monkeypatch.setenv("TF_CONFIG", "nonsense")
    with pytest.raises(PortfolioError, match="not a worker cluster spec"):
        WorkerCluster.from_flags(None, None)
    cluster = WorkerCluster.from_flags("10.0.0.1:2222, 10.0.0.2:2222", 1)
    assert cluster is not None and cluster.size == 2 and not cluster.is_chief
    spec = json.loads(cluster.tf_config())
    assert spec == {"cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]},
                    "task": {"type": "worker", "index": 1}}  # fmt: skip
    for workers, index, message in [
        ("10.0.0.1:2222", None, "needs --worker-index"),
        ("10.0.0.1:2222,10.0.0.2:2222", 2, "must be in 0..1"),
        ("10.0.0.1", 0, "not HOST:PORT"),
        ("a:1,a:1", 0, "listed twice"),
        (None, 0, "needs --workers"),
    ]:
        with pytest.raises(PortfolioError, match=message):
            WorkerCluster.from_flags(workers, index)


@pytest.mark.realdata
def test_two_workers_train_like_one_process(jpeg_subset: Path, preset: Path, tmp_path: Path):
    workers = ",".join(f"127.0.0.1:{p}" for p in _free_ports(2))
    out = tmp_path / "multi"
    procs = [_train(jpeg_subset, out, preset, "--workers", workers, "--worker-index", str(i))
             for i in (1, 0)]  # fmt: skip
    single = _train(jpeg_subset, tmp_path / "single", preset)
    results = [p.communicate(timeout=400) for p in [*procs, single]]
    for p, (_, err) in zip([*procs, single], results, strict=True):
        assert p.returncode == 0, err[-2000:]
    assert "worker 1 of 2 finished" in results[0][0]

    # Only the chief writes the model and the reports; the worker keeps its own checkpoint.
    assert (out / "model.keras").is_file() and (out / "metrics.json").is_file()
    assert (out / ".worker-1" / "checkpoint.npz").is_file()
    multi = json.loads((out / "metrics.json").read_text())["test_accuracy"]
    alone = json.loads((tmp_path / "single" / "metrics.json").read_text())["test_accuracy"]
    # 300 real test images after 2 epochs on 1000: chance is 0.10, one process ≈ 0.2.
    assert multi > 0.13 and alone > 0.13
    assert abs(multi - alone) < 0.1, (multi, alone)


@pytest.mark.realdata
@pytest.mark.slow  # 160 s on 2 cores; two workers training like one process stays in the suite
def test_losing_a_worker_is_a_clear_error_and_both_resume(
    jpeg_subset: Path, preset: Path, tmp_path: Path
):
    workers = ",".join(f"127.0.0.1:{p}" for p in _free_ports(2))
    out = tmp_path / "multi"
    flags = ("--epochs", "8", "--workers", workers)
    worker = _train(jpeg_subset, out, preset, *flags, "--worker-index", "1")
    chief = _train(jpeg_subset, out, preset, *flags, "--worker-index", "0")
    deadline = time.monotonic() + 300
    # Training is under way once both have checkpointed an epoch (the worker writes its own a
    # moment after the chief: killed before then, it would leave nothing to resume from).
    own = out / ".worker-1" / "checkpoint.npz"
    while not ((out / "checkpoint.npz").exists() and own.exists()):
        assert chief.poll() is None and time.monotonic() < deadline, chief.stderr
        time.sleep(0.2)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    _, err = chief.communicate(timeout=180)  # TensorFlow's heartbeat notices within ~1 min
    assert chief.returncode == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith("Error: worker 0: lost contact with worker 1"), last
    assert "--resume" in last
    assert not (out / "model.keras").exists()

    # Both start again with --resume: they agree on an epoch both checkpointed (the lost worker
    # may be one behind) and finish the run.
    procs = [_train(jpeg_subset, out, preset, *flags, "--worker-index", str(i), "--resume")
             for i in (1, 0)]  # fmt: skip
    try:
        for p in procs:
            _, err = p.communicate(timeout=400)
            assert p.returncode == 0, err[-2000:]
    finally:  # a failed worker must not leave its partner running after the test
        for p in procs:
            if p.poll() is None:
                p.kill()
    history = json.loads((out / "metrics.json").read_text())["history"]
    assert [h["epoch"] for h in history] == list(range(1, 9))
