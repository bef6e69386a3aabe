"""The pose model in a child process (`PoseProcess`): the same answers as in this process,
in submission order, the same one-line errors, and nothing left behind."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
from portfolio_ml_core.errors import ModelNotFoundError
from portfolio_ml_core.pose import PoseEstimator
from portfolio_ml_core.pose_process import PoseProcess

pytestmark = pytest.mark.skipif(not PoseProcess.supported(), reason="POSIX only")


def _frames() -> list[np.ndarray]:
    """The astronaut, shifted a little each frame, and a blank frame among them."""
    from skimage import data

    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    out = []
    for i in range(7):
        m = np.float32([[1, 0, 3 * i], [0, 1, -2 * i]])
        out.append(cv2.warpAffine(photo, m, (512, 512), borderMode=cv2.BORDER_REFLECT))
    out[4] = np.full_like(photo, 127)  # nobody: an empty answer in its place
    return out


@pytest.mark.realdata
def test_same_people_as_in_process_in_submission_order(pose_model_path):
    frames = _frames()
    with PoseEstimator(pose_model_path, mode="video") as pose:
        expected = [pose.process(f, 33 * i) for i, f in enumerate(frames)]
    got = []
    with PoseProcess(pose_model_path, (512, 512, 3), depth=3) as pose:
        for i, f in enumerate(frames):
            if pose.in_flight == pose.depth:
                got.append(pose.result())
            pose.submit(f, 33 * i)
        while pose.in_flight:
            got.append(pose.result())
        assert pose.cpu_seconds() > 0  # the child's own CPU time, for the caller's reports
    assert [len(people) for people in got] == [len(people) for people in expected]
    assert [len(people) for people in got] == [1, 1, 1, 1, 0, 1, 1]
    for mine, theirs in zip(got, expected, strict=True):
        for a, b in zip(mine, theirs, strict=True):
            assert a.image_size == b.image_size == (512, 512)
            np.testing.assert_allclose(a.landmarks, b.landmarks, atol=1e-5)
            np.testing.assert_allclose(a.world, b.world, atol=1e-5)


def test_missing_and_bad_model_are_one_line_errors_and_leave_nothing(tmp_path):
    with pytest.raises(ModelNotFoundError, match="not found"):
        PoseProcess(tmp_path / "nope.task", (64, 64, 3))
    bad = tmp_path / "bad.task"
    bad.write_bytes(b"garbage" * 100)
    before = set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()
    pose = PoseProcess(bad, (64, 64, 3))
    with pytest.raises(ModelNotFoundError, match="not a usable") as info:
        pose.wait_ready()
    assert "\n" not in str(info.value)
    assert pose._proc.poll() is not None  # the child is gone
    if before:
        assert set(os.listdir("/dev/shm")) <= before  # its shared memory too


@pytest.mark.realdata
def test_frames_larger_than_the_slots_and_too_many_in_flight_are_refused(pose_model_path):
    with PoseProcess(pose_model_path, (64, 64, 3), depth=1) as pose:
        with pytest.raises(ValueError, match="larger"):
            pose.submit(np.zeros((65, 64, 3), np.uint8), 0)
        pose.submit(np.zeros((64, 64, 3), np.uint8), 1)
        with pytest.raises(RuntimeError, match="collect a result"):
            pose.submit(np.zeros((64, 64, 3), np.uint8), 2)
        assert pose.result() == []


def test_frames_too_big_for_a_small_dev_shm_stay_in_process():
    assert PoseProcess.supported((360, 640, 3))
    assert not PoseProcess.supported((2160, 3840, 3))  # 3 slots of 4K: 75 MB
