"""Pose on a real photograph shipped in a PyPI package (scikit-image's astronaut)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from portfolio_ml_core.errors import ModelNotFoundError
from portfolio_ml_core.geometry import joint_angle
from portfolio_ml_core.pose import NUM_LANDMARKS, PoseEstimator, PoseLandmark

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def astronaut_bgr():
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def test_landmarks_on_astronaut(pose_model_path, astronaut_bgr):
    with PoseEstimator(pose_model_path, mode="image") as pose:
        people = pose.process(astronaut_bgr)
    assert len(people) == 1
    person = people[0]
    assert person.landmarks.shape == (NUM_LANDMARKS, 5)
    assert person.world.shape == (NUM_LANDMARKS, 3)
    assert person.image_size == (512, 512)
    # Positions read off the photo (fraction of width, height), to 0.04.
    expected = {
        PoseLandmark.NOSE: (0.43, 0.26),
        PoseLandmark.LEFT_SHOULDER: (0.60, 0.50),
        PoseLandmark.RIGHT_SHOULDER: (0.22, 0.46),
    }
    for landmark, xy in expected.items():
        assert person.xy(landmark) == pytest.approx(xy, abs=0.04), landmark.name
        assert person.visibility[landmark] > 0.9
    # The subject's left shoulder appears on the image's right (she faces the camera).
    assert person.xy(PoseLandmark.LEFT_SHOULDER)[0] > person.xy(PoseLandmark.NOSE)[0]
    # World landmarks are metres: shoulder width of an adult.
    width = np.linalg.norm(person.world[11] - person.world[12])
    assert 0.25 < width < 0.5


def test_video_mode_tracks_across_frames(pose_model_path, astronaut_bgr):
    with PoseEstimator(pose_model_path, mode="video") as pose:
        results = [pose.process(astronaut_bgr, t) for t in (0, 33, 66)]
    assert all(len(r) == 1 for r in results)
    drift = np.abs(results[2][0].landmarks[:13, :2] - results[0][0].landmarks[:13, :2]).max()
    assert drift < 0.02


def test_no_person_gives_empty_list(pose_model_path):
    blank = np.full((240, 320, 3), 127, np.uint8)
    with PoseEstimator(pose_model_path, mode="image") as pose:
        assert pose.process(blank) == []


def test_missing_and_bad_model(tmp_path):
    with pytest.raises(ModelNotFoundError, match="not found"):
        PoseEstimator(tmp_path / "nope.task")
    bad = tmp_path / "bad.task"
    bad.write_bytes(b"garbage" * 100)
    with pytest.raises(ModelNotFoundError, match="not a usable"):
        PoseEstimator(bad)


def test_joint_angle():
    assert joint_angle(np.array([1, 0]), np.array([0, 0]), np.array([0, 1])) == pytest.approx(90)
    assert joint_angle(np.array([1, 0, 0]), np.zeros(3), np.array([-1, 0, 0])) == pytest.approx(180)
    assert np.isnan(joint_angle(np.zeros(2), np.zeros(2), np.array([1, 0])))


def test_live_mode_delivers_results_asynchronously(pose_model_path, astronaut_bgr):
    import time

    results = []
    with PoseEstimator(pose_model_path, mode="live") as pose:
        deadline = time.time() + 10
        t = 0
        while time.time() < deadline and not results:
            results = pose.process(astronaut_bgr, t)
            t += 33
            time.sleep(0.03)
    assert len(results) == 1
    assert results[0].xy(PoseLandmark.NOSE) == pytest.approx((0.43, 0.26), abs=0.04)


def test_pose_estimator_does_not_import_tensorflow(pose_model_path):
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from portfolio_ml_core.pose import PoseEstimator\n"
        f"with PoseEstimator({str(pose_model_path)!r}, mode='image') as p:\n"
        "    p.process(np.zeros((64, 64, 3), np.uint8))\n"
        "print('tensorflow' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr[-2000:]
