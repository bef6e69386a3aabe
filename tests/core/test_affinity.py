"""A core of its own for the pose model's process (`affinity`, `PoseProcess(own_core=True)`):
which core, the caller's threads off it and back, the child on it, and batches left alone."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from portfolio_ml_core import affinity
from portfolio_ml_core.affinity import OWN_CORE_ENV, CoreClaim, free_core
from portfolio_ml_core.batch import BatchItem, BatchJob
from portfolio_ml_core.errors import ModelNotFoundError
from portfolio_ml_core.pose_process import PoseProcess

CAN_PIN = hasattr(os, "sched_setaffinity") and os.path.isdir("/proc/self/task")
needs_two_cores = pytest.mark.skipif(
    not CAN_PIN or len(os.sched_getaffinity(0)) < 2, reason="needs Linux and two usable cores"
)


@pytest.mark.skipif(not CAN_PIN, reason="Linux only")
def test_the_last_usable_core_unless_turned_off_or_alone(monkeypatch):
    monkeypatch.delenv(OWN_CORE_ENV, raising=False)
    monkeypatch.setattr(affinity.os, "sched_getaffinity", lambda pid: {0, 3, 5})
    assert free_core() == 5
    monkeypatch.setenv(OWN_CORE_ENV, "0")
    assert free_core() is None
    monkeypatch.setenv(OWN_CORE_ENV, "1")
    monkeypatch.setattr(affinity.os, "sched_getaffinity", lambda pid: {2})
    assert free_core() is None  # the caller would have no core left


def _record_id_and_wait(
    tid_box: list[int], started: threading.Event, stop: threading.Event
) -> None:
    tid_box.append(threading.get_native_id())
    started.set()
    stop.wait(10)


def _start_thread() -> tuple[int, threading.Event, threading.Thread]:
    box: list[int] = []
    started, stop = threading.Event(), threading.Event()
    thread = threading.Thread(target=_record_id_and_wait, args=(box, started, stop))
    thread.start()
    started.wait(10)
    return box[0], stop, thread


@needs_two_cores
def test_every_thread_leaves_the_core_and_gets_its_own_set_back(monkeypatch):
    monkeypatch.delenv(OWN_CORE_ENV, raising=False)
    original = os.sched_getaffinity(0)
    before, stop_before, thread_before = _start_thread()
    claim = CoreClaim.take()
    assert claim is not None and claim.cpu == max(original)
    try:
        assert CoreClaim.take() is None  # one model per process has a core
        during, stop_during, thread_during = _start_thread()  # inherits the narrower set
        for tid in (threading.get_native_id(), before, during):
            assert os.sched_getaffinity(tid) == original - {claim.cpu}
        claim.release()
        for tid in (threading.get_native_id(), before, during):
            assert os.sched_getaffinity(tid) == original
        claim.release()  # twice is harmless
        assert os.sched_getaffinity(0) == original
    finally:
        claim.release()
        for stop, thread in ((stop_before, thread_before), (stop_during, thread_during)):
            stop.set()
            thread.join()


@needs_two_cores
def test_a_model_that_will_not_load_gives_the_cores_back(tmp_path: Path, monkeypatch):
    monkeypatch.delenv(OWN_CORE_ENV, raising=False)
    original = os.sched_getaffinity(0)
    bad = tmp_path / "bad.task"
    bad.write_bytes(b"garbage" * 100)
    pose = PoseProcess(bad, (64, 64, 3), own_core=True)
    assert pose.model_cpu == max(original)
    assert os.sched_getaffinity(0) == original - {pose.model_cpu}
    with pytest.raises(ModelNotFoundError):
        pose.wait_ready()
    assert os.sched_getaffinity(0) == original


@needs_two_cores
def test_a_second_model_at_once_shares_and_the_first_to_close_restores(tmp_path, monkeypatch):
    monkeypatch.delenv(OWN_CORE_ENV, raising=False)
    original = os.sched_getaffinity(0)
    bad = tmp_path / "bad.task"
    bad.write_bytes(b"garbage" * 100)
    first = PoseProcess(bad, (64, 64, 3), own_core=True)
    second = PoseProcess(bad, (64, 64, 3), own_core=True)
    assert first.model_cpu is not None and second.model_cpu is None
    second.close()
    assert os.sched_getaffinity(0) == original - {first.model_cpu}
    first.close()
    assert os.sched_getaffinity(0) == original


@needs_two_cores
@pytest.mark.realdata
def test_the_model_runs_on_its_core_and_the_caller_beside_it(pose_model_path, monkeypatch):
    monkeypatch.delenv(OWN_CORE_ENV, raising=False)
    original = os.sched_getaffinity(0)
    with PoseProcess(pose_model_path, (64, 64, 3), own_core=True) as pose:
        pose.wait_ready()
        assert pose.model_cpu is not None
        assert os.sched_getaffinity(pose._proc.pid) == {pose.model_cpu}
        assert os.sched_getaffinity(0) == original - {pose.model_cpu}
    assert os.sched_getaffinity(0) == original
    with PoseProcess(pose_model_path, (64, 64, 3)) as pose:  # not asked: nothing pinned
        pose.wait_ready()
        assert pose.model_cpu is None
        assert os.sched_getaffinity(pose._proc.pid) == original


def test_batch_tasks_share_the_cores(tmp_path: Path, monkeypatch):
    from portfolio_ml_core.batch_ray import _run_task

    monkeypatch.delenv(OWN_CORE_ENV, raising=False)
    seen: list[str | None] = []

    def job(source: Path, out: Path, options) -> dict:
        seen.append(os.environ.get(OWN_CORE_ENV))
        return {}

    source = tmp_path / "a.mp4"
    source.write_text("x")
    row = _run_task(BatchJob("fake", "", job, (".mp4",)), BatchItem(source, tmp_path / "a"), [])
    assert row.status == "done"
    assert seen == ["0"]
