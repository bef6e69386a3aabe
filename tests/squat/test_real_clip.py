"""The whole pipeline with MediaPipe on real footage: the side-view barbell clip, clips the
tests derive from it (faster, mirrored, reversed, letter-boxed with graphics, the overhead lift
alone), the same motion re-projected to other views, and clips made from real photos."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from portfolio_ml_core.affinity import free_core
from portfolio_ml_core.pose import PoseLandmark as LM
from portfolio_ml_core.pose import PoseResult
from portfolio_ml_squat.counter import RepCounter
from portfolio_ml_squat.exercises import get_exercise
from portfolio_ml_squat.features import PoseSample, extract
from portfolio_ml_squat.pipeline import RunConfig, analyze_video
from portfolio_ml_squat.session import FRAME_COLUMNS, RunResult

pytestmark = pytest.mark.realdata

TRUE_BOTTOMS_S = (10.3, 17.2)


@pytest.fixture(scope="module")
def clip_run(squat_clip: Path, pose_model_path: Path, tmp_path_factory) -> tuple[RunResult, Path]:
    out = tmp_path_factory.mktemp("squat_run")
    result = analyze_video(squat_clip, out, pose_model_path, RunConfig(keep_poses=True))
    return result, out


def test_real_clip_counts_exactly_two_squats_at_the_right_times(clip_run) -> None:
    result, _ = clip_run
    assert result.reps == 2
    assert result.partial_reps == 0
    reps = [e for e in result.events if e.kind.value == "rep"]
    for event, bottom in zip(reps, TRUE_BOTTOMS_S, strict=True):
        assert abs(event.bottom_s - bottom) < 0.6
        assert event.start_s < event.bottom_s < event.end_s
        assert 1.0 < event.duration_s < 5.0
        assert event.min_angle < 90  # deep barbell squats
    assert all(e.end_s < 18.6 for e in result.events)  # nothing from the overhead lift
    assert result.frames == 614 and result.frames_with_person > 600
    assert not result.warnings


def test_real_clip_outputs(clip_run) -> None:
    _, out = clip_run
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reps"] == 2 and summary["partial_reps"] == 0
    assert summary["frames"] == 614 and summary["fps_processed"] > 0
    # The pose model's core, when it had one to itself (Linux, two usable cores or more).
    assert summary["pose_model_core"] == free_core()
    for rep in summary["rep_details"]:
        assert {"start_s", "end_s", "min_angle", "depth", "duration_s", "faults"} <= set(rep)
        assert rep["depth_reached"] is True
    with (out / "frames.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == FRAME_COLUMNS and len(rows) == 614
    phases = {r["phase"] for r in rows}
    assert {"top", "descending", "bottom", "ascending"} <= phases
    assert max(int(r["reps"]) for r in rows) == 2
    # The rep index marks the frames of each rep, the deepest frames included.
    deep = [r for r in rows if r["angle"] and float(r["angle"]) < 80]
    assert deep and {r["rep_index"] for r in deep} <= {"1", "2"}
    plot = cv2.imread(str(out / "angles.png"))
    assert plot is not None and plot.shape[1] > 600 and plot.std() > 10
    video = cv2.VideoCapture(str(out / "annotated.mp4"))
    n = int(video.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, first = video.read()
    video.release()
    assert ok and abs(n - 614) <= 2
    assert max(first.shape[:2]) == 640  # drawn at the pose input size
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert leftovers == []  # atomic writes leave no temporary files


def _reprojected(poses: list[PoseResult | None], yaw: float) -> list[PoseResult | None]:
    """The clip's 3D world landmarks filmed from another side, feet kept on the ground."""
    a = math.radians(yaw)
    rot = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    out: list[PoseResult | None] = []
    for pose in poses:
        if pose is None:
            out.append(None)
            continue
        world = pose.world.astype(np.float64) @ rot.T
        feet = (world[LM.LEFT_ANKLE] + world[LM.RIGHT_ANKLE]) / 2
        lm = np.zeros((33, 5), np.float32)
        lm[:, 0] = 0.5 + (world[:, 0] - feet[0]) * 0.35
        lm[:, 1] = 0.9 + (world[:, 1] - feet[1]) * 0.45
        lm[:, 3] = pose.landmarks[:, 3]
        lm[:, 4] = 1.0
        out.append(PoseResult(lm, world.astype(np.float32), (640, 480)))
    return out


@pytest.mark.parametrize("yaw", [45, 90])
def test_same_real_motion_seen_from_the_front_counts_two(clip_run, yaw: float) -> None:
    result, _ = clip_run
    rule = get_exercise("squat")
    counter = RepCounter(rule)
    times = [r.time_s for r in result.rows]
    knee_2d = []
    for t, pose in zip(times, _reprojected(result.poses, yaw), strict=True):
        sample = extract(pose, t, rule)
        knee_2d.append(min(sample.angle_2d))
        counter.update(sample)
    counter.update(PoseSample.missing(times[-1] + 1))
    assert counter.reps == 2
    if yaw == 90:
        assert np.nanmin(knee_2d) > 80  # the front-view 2D angle alone understates the depth


def _count(path: Path, model: Path, **kwargs) -> RunResult:
    return analyze_video(path, None, model, RunConfig(**kwargs))


def test_faster_mirrored_clip_counts_two(clip_factory, pose_model_path) -> None:
    result = _count(clip_factory("fast_mirrored"), pose_model_path)
    assert result.reps == 2 and result.partial_reps == 0


def test_small_person_with_screen_graphics_counts_two(clip_factory, pose_model_path) -> None:
    result = _count(clip_factory("landscape_overlay"), pose_model_path)
    assert result.reps == 2


@pytest.mark.slow
def test_reversed_clip_counts_two(clip_factory, pose_model_path) -> None:
    result = _count(clip_factory("reversed"), pose_model_path)
    assert result.reps == 2


def test_overhead_lift_alone_is_not_a_squat(clip_factory, pose_model_path) -> None:
    result = _count(clip_factory("lift_only"), pose_model_path)
    assert result.frames_with_person > 0.9 * result.frames
    assert result.reps == 0 and result.partial_reps == 0


def test_max_frames_stops_early(squat_clip, pose_model_path) -> None:
    result = _count(squat_clip, pose_model_path, max_frames=30)
    assert result.frames == 30 and result.reps == 0


@pytest.mark.parametrize("name", ["still", "pan_zoom"])
def test_clips_of_a_real_photo_count_nothing(photo_clips, pose_model_path, name) -> None:
    result = _count(photo_clips[name], pose_model_path)
    assert result.frames_with_person > 0.8 * result.frames  # the astronaut is found...
    assert result.reps == 0 and result.partial_reps == 0  # ...but never squats


def test_video_without_a_person_warns_and_counts_nothing(photo_clips, pose_model_path) -> None:
    result = _count(photo_clips["no_person"], pose_model_path)
    assert result.reps == 0 and result.frames_with_person == 0
    assert any("no person" in w for w in result.warnings)


def test_pose_in_its_own_process_gives_the_same_run(squat_clip, pose_model_path) -> None:
    """`squat run` keeps the pose model in a child process (it holds the GIL through each
    inference); the rows, the counts and the followed poses are those of the in-process model,
    and its CPU time is counted in the loop's."""
    config = RunConfig(max_frames=120, write_video=False, write_plot=False, keep_poses=True)
    child = analyze_video(squat_clip, None, pose_model_path, config)
    here = analyze_video(squat_clip, None, pose_model_path, replace(config, pose_process=False))
    assert [r.values() for r in child.rows] == [r.values() for r in here.rows]
    assert child.reps == here.reps and child.frames == here.frames == 120
    for a, b in zip(child.poses, here.poses, strict=True):
        assert (a is None) == (b is None)
        if a is not None and b is not None:
            np.testing.assert_allclose(a.landmarks, b.landmarks, atol=1e-5)
    # The model's CPU time moved to the child; a loop that did not count it would claim ~1 ms
    # of CPU a frame.
    assert child.loop_cpu_s / child.frames > 0.5 * here.loop_cpu_s / here.frames
