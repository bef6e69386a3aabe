"""The pitch from its painted lines alone (`calibrate.line_search`), where no keypoint fit holds."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from portfolio_ml_footai import pitch
from portfolio_ml_footai.calibrate.keypoints import (
    SEARCH_AFTER,
    homographies_disagree,
    image_to_pitch,
)
from portfolio_ml_footai.calibrate.line_search import (
    AMBIGUOUS_SCORE,
    MAP_SIZE,
    MIN_CROSSING_M,
    calibrate_frame,
    crossing_m,
    one_place,
    pose_dictionary,
    pose_homography,
    search_lines,
)
from portfolio_ml_footai.calibrate.lines import FrameLines
from portfolio_ml_footai.calibrate.segments import FrameCalibration, segments
from portfolio_ml_footai.detections import Detected, Detections, PitchKeypoints
from portfolio_ml_footai.pipeline import FrameAnalyser
from portfolio_ml_footai.synth.camera import BroadcastCamera
from portfolio_ml_footai.synth.views import plane_homography

SIZE = (1280, 720)


def _camera(x: float, y: float, z: float, fov: float, tx: float, ty: float) -> BroadcastCamera:
    focal = SIZE[0] / 2 / np.tan(np.radians(fov) / 2)
    return BroadcastCamera(x, y, z, 0.0, 0.0, focal, *SIZE).looking_at(tx, ty)


# Cameras the dictionary holds no pose of (its poses are random): a high tactical camera by the
# halfway line, a gantry above the main camera, and a zoomed-in one on a penalty box.
TACTICAL = _camera(-5.0, 70.0, 32.0, 62.0, -22.0, 2.0)
GANTRY = _camera(10.0, 62.0, 28.0, 38.0, 30.0, -5.0)
ZOOMED = _camera(30.0, 52.0, 14.0, 24.0, 40.0, 6.0)


def _pitch_frame(h: np.ndarray, grass=(40, 125, 45)) -> np.ndarray:
    """Mown grass with the pitch's white lines where the homography puts them."""
    image = np.full((SIZE[1], SIZE[0], 3), grass, np.uint8)
    image[::40] = np.clip(np.array(grass) + 12, 0, 255)  # mowing stripes: not lines
    for line in pitch.pitch_lines():
        dense = np.concatenate(
            [np.linspace(a, b, 60) for a, b in zip(line.points[:-1], line.points[1:], strict=True)]
        )
        depth = np.c_[dense, np.ones(len(dense))] @ h[2]
        dense = dense[depth > 0]
        if len(dense) < 2:
            continue
        uv = cv2.perspectiveTransform(dense.reshape(-1, 1, 2), h)
        cv2.polylines(image, [np.round(uv).astype(np.int32)], False, (235, 235, 235), 3)
    return image


def _error_m(found: np.ndarray, truth: np.ndarray) -> float:
    """Median distance (m) between where two homographies put the frame's pitch pixels."""
    us, vs = np.meshgrid(np.linspace(80, SIZE[0] - 80, 9), np.linspace(200, SIZE[1] - 40, 6))
    grid = np.c_[us.ravel(), vs.ravel()]
    a, b = image_to_pitch(truth, grid), image_to_pitch(found, grid)
    on_pitch = (np.abs(a[:, 0]) <= pitch.HALF_L) & (np.abs(a[:, 1]) <= pitch.HALF_W)
    return float(np.median(np.linalg.norm(a - b, axis=1)[on_pitch]))


def test_the_dictionary_draws_its_poses_as_the_camera_model_does():
    """`pose_homography` is `BroadcastCamera` written out: same pose, same pitch → pixels."""
    for cam in (TACTICAL, GANTRY, ZOOMED):
        target = (cam.x + np.tan(cam.pan) * 10, cam.y - 10.0)  # a point along its heading
        fov = np.degrees(2 * np.arctan(SIZE[0] / 2 / cam.focal))
        h = pose_homography(np.array([cam.x, cam.y, cam.z, *target, fov]), SIZE)
        np.testing.assert_allclose(h / h[2, 2], cam.looking_at(*target).homography(), atol=1e-9)
    poses = pose_dictionary()
    assert poses.distance.shape == (len(poses.poses), MAP_SIZE[0] * MAP_SIZE[1])
    assert (poses.line_pixels >= 30).all()


def test_the_lines_alone_find_cameras_the_keypoints_miss():
    for cam in (TACTICAL, GANTRY, ZOOMED):
        truth = plane_homography(cam)
        found = search_lines(FrameLines(_pitch_frame(truth)))
        assert found is not None, cam
        assert _error_m(found.homography, truth) < 0.5
        assert found.support >= 0.4 and found.coverage >= 0.7


def test_no_pitch_lines_no_homography():
    grass = np.full((SIZE[1], SIZE[0], 3), (40, 125, 45), np.uint8)
    assert search_lines(FrameLines(grass)) is None
    # White lines that are no pitch's: a grid of squares (a training ground, a graphic).
    grid = grass.copy()
    for x in range(60, SIZE[0], 150):
        cv2.line(grid, (x, 0), (x, SIZE[1]), (235, 235, 235), 3)
    for y in range(40, SIZE[1], 150):
        cv2.line(grid, (0, y), (SIZE[0], y), (235, 235, 235), 3)
    assert search_lines(FrameLines(grid)) is None


def test_one_painted_line_fixes_no_pitch():
    """A single straight line fits perfectly a pitch seen edge-on (all its lines fall on it):
    support and coverage 1.0, once found before the matched lines had to cross."""
    for ends in (((0, 400), (1280, 360)), ((200, 720), (800, 0))):
        grass = np.full((SIZE[1], SIZE[0], 3), (40, 125, 45), np.uint8)
        cv2.line(grass, *ends, (235, 235, 235), 5)
        assert search_lines(FrameLines(grass)) is None, ends


def test_matched_lines_must_run_more_than_one_way_in_the_picture():
    h = plane_homography(GANTRY)
    halfway = np.c_[np.zeros(41), np.linspace(-pitch.HALF_W, pitch.HALF_W, 41)]
    along_y = np.tile([0.0, 1.0], (41, 1))
    assert crossing_m(h, halfway, along_y) < 0.1  # one straight line
    touchline = np.c_[np.linspace(0, 10, 41), np.full(41, pitch.HALF_W)]
    corner = np.vstack([halfway, touchline])
    directions = np.vstack([along_y, np.tile([1.0, 0.0], (41, 1))])
    assert crossing_m(h, corner, directions) > MIN_CROSSING_M  # two that meet
    # The sign of a direction does not count.
    assert crossing_m(h, halfway, -along_y) < 0.1


def test_rivals_nearly_as_good_are_ambiguous_only_when_they_put_the_pitch_elsewhere():
    """A zoomed view: a rival 1.5 m away is the same place found twice (the best stands), one
    12 m away is another place the lines fit as well (nothing stands), unless it scores
    clearly lower."""
    best = plane_homography(ZOOMED)
    near = plane_homography(_camera(30.0, 52.0, 14.0, 24.0, 41.5, 6.0))
    far = plane_homography(_camera(30.0, 52.0, 14.0, 24.0, 28.0, 6.0))
    # 1.5 m is more than 4 % of the frame's width here: the tracker's test would part them.
    assert homographies_disagree(best, near, SIZE)
    shape = (SIZE[1], SIZE[0], 3)
    found = one_place([(0.8, best, 0.7, 0.9), (0.79, near, 0.7, 0.88)], shape)
    assert found is not None and found.homography is best
    assert one_place([(0.8, best, 0.7, 0.9), (0.79, far, 0.7, 0.88)], shape) is None
    clearly_lower = 0.8 - 2 * AMBIGUOUS_SCORE
    found = one_place([(clearly_lower, far, 0.5, 0.7), (0.8, best, 0.7, 0.9)], shape)
    assert found is not None and found.homography is best
    assert one_place([], shape) is None


def test_a_lone_frame_falls_back_on_the_lines_when_no_keypoint_fits():
    truth = plane_homography(TACTICAL)
    image = _pitch_frame(truth)
    nothing = PitchKeypoints(np.zeros((32, 2)), np.zeros(32))
    calibration = calibrate_frame(nothing, image)
    h = calibration.homography
    assert calibration.method == "lines" and h is not None and _error_m(h, truth) < 0.5
    grass = np.full_like(image, (40, 125, 45))
    nothing_found = calibrate_frame(nothing, grass)
    assert nothing_found.homography is None and nothing_found.method == "none"


def test_a_shot_whose_keypoints_never_fit_is_calibrated_from_its_lines():
    """A run on a camera the net does not cover: the search starts the homography, and the
    shot's record says so."""
    truth = plane_homography(TACTICAL)
    image = _pitch_frame(truth)
    nothing = Detected(Detections.empty(), PitchKeypoints(np.zeros((32, 2)), np.zeros(32)))
    analyser = FrameAnalyser(SIZE, None, None)
    results = [analyser.step(image, nothing, i) for i in range(SEARCH_AFTER + 3)]
    # Searched on the shot's SEARCH_AFTER-th frame without a homography, then carried.
    assert all(r.homography is None for r in results[: SEARCH_AFTER - 1])
    assert all(r.homography is not None for r in results[SEARCH_AFTER - 1 :])
    assert _error_m(results[-1].homography, truth) < 0.5
    (shot,) = segments([r.calibration for r in results])
    assert shot.method == "lines" and shot.found_by_lines == 1 and shot.keypoint_fits == 0


def test_a_shot_says_when_its_lines_helped_its_keypoints():
    frames = [
        FrameCalibration(0, True, False, True, False, by_lines=True),
        FrameCalibration(1, False, True, True, False),
    ]
    (shot,) = segments(frames)
    assert shot.method == "keypoints+lines" and shot.found_by_lines == 1


@pytest.mark.realdata
def test_on_real_broadcast_frames_the_lines_alone_are_right_or_silent(pitch_data):
    """The real test split without its keypoints: broadcast pictures hold many white pixels that
    are no marking, so the search leaves many frames uncalibrated, and what it keeps is mostly
    right (measured: 10 of 23 frames, 9 within 0.8 m, one 25 m off: only the halfway line and
    the circle in view, the far touchline unseen)."""
    from portfolio_ml_footai.detect.net import NetDetector
    from portfolio_ml_footai.evaluate.frames import frame_error_m
    from portfolio_ml_footai.model.data import load_pitch_split

    net = NetDetector()
    errors = []
    for frame in load_pitch_split(pitch_data, "test"):
        people = net(frame.image).detections.persons.xyxy
        found = search_lines(FrameLines(frame.image, people))
        if found is not None:
            errors.append(frame_error_m(found.homography, frame))
    assert len(errors) >= 8 and np.mean(np.array(errors) <= 1.5) >= 0.8, errors


def test_the_pose_dictionary_is_kept_on_disk_and_rebuilt_when_damaged(tmp_path, monkeypatch):
    from portfolio_ml_footai.calibrate import line_search

    small = line_search.PoseDictionary.build(n=300)
    small.save(tmp_path / "poses.npz")
    back = line_search.PoseDictionary.load(tmp_path / "poses.npz")
    for name in ("poses", "distance", "line_pixels"):
        np.testing.assert_array_equal(getattr(back, name), getattr(small, name))
    query = np.zeros(MAP_SIZE[::-1], bool)
    query[30, 5:75] = True
    query[10:45, 40] = True
    np.testing.assert_array_equal(back.closest(query), small.closest(query))
    # A damaged cache file is built again (and replaced), never a crash.
    monkeypatch.setenv("PORTFOLIO_ML_CACHE_DIR", str(tmp_path))
    cached = line_search._dictionary_file()
    cached.parent.mkdir(parents=True)
    older = cached.parent / "line-poses-an-older-recipe.npz"  # removed when it is rebuilt
    older.write_bytes(b"old")
    monkeypatch.setattr(line_search.PoseDictionary, "build", staticmethod(lambda: small))
    small.save(tmp_path / "whole.npz")
    whole = (tmp_path / "whole.npz").read_bytes()
    try:
        for damaged in (b"half a file", b"", whole[: len(whole) // 2]):
            cached.write_bytes(damaged)
            line_search.pose_dictionary.cache_clear()
            assert line_search.pose_dictionary() is small
            np.testing.assert_array_equal(
                line_search.PoseDictionary.load(cached).poses, small.poses
            )
        assert not older.exists()
    finally:
        line_search.pose_dictionary.cache_clear()


def test_calibrate_auto_falls_back_on_the_lines(tmp_path, monkeypatch):
    """`footai calibrate --auto` on a camera whose keypoints the net does not find: the file
    comes from the painted lines, and it places the pitch where it is."""
    import json

    from portfolio_ml_core.video import VideoSink
    from portfolio_ml_footai.calibrate.geometry import (
        homography_from_calibration,
        load_calibration,
    )
    from portfolio_ml_footai.detect.net import NetDetector

    from .conftest import invoke

    truth = plane_homography(TACTICAL)
    video = tmp_path / "tactical.mp4"
    with VideoSink(video, 25.0, SIZE) as sink:
        for _ in range(3):
            sink.write(_pitch_frame(truth))
    seen = NetDetector.__call__

    def blind(self, image):  # the net's boxes, but no keypoint: a view it does not cover
        found = seen(self, image)
        return Detected(found.detections, PitchKeypoints(np.zeros((32, 2)), np.zeros(32)))

    monkeypatch.setattr(NetDetector, "__call__", blind)
    out = tmp_path / "cal.json"
    res = invoke("calibrate", video, "--out", out, "--auto")
    assert res.exit_code == 0, res.output
    assert "painted lines" in json.loads(out.read_text())["note"]
    h = homography_from_calibration(load_calibration(out))
    assert _error_m(h, truth) < 0.5


def test_the_search_schedule_restarts_with_each_shot():
    """Each shot is searched on its SEARCH_AFTER-th frame without a homography, the first and
    the ones after a cut alike."""
    nothing = Detected(Detections.empty(), PitchKeypoints(np.zeros((32, 2)), np.zeros(32)))
    shots = [
        _pitch_frame(plane_homography(TACTICAL)),
        _pitch_frame(plane_homography(GANTRY), grass=(70, 190, 90)),  # brighter grass: a cut
    ]
    analyser = FrameAnalyser(SIZE, None, None)
    results = [analyser.step(shots[i // 10], nothing, i) for i in range(20)]
    assert [i for i, r in enumerate(results) if r.calibration.cut] == [10]
    found = [r.homography is not None for r in results]
    first = SEARCH_AFTER - 1
    assert found == [i % 10 >= first for i in range(20)]
    assert [r.calibration.by_lines for r in results].count(True) == 2


def test_a_weak_fit_gives_way_to_what_the_lines_find():
    """4 keypoints fix a homography whatever their identities and a fifth checks it once: a
    shot that would start from such a weak fit, which the lines only half like, starts from
    the search's result, and the frame is not counted as a keypoint fit."""
    truth = plane_homography(TACTICAL)
    image = _pitch_frame(truth)
    off = plane_homography(_camera(-5.0, 70.0, 32.0, 62.0, -20.0, 3.0))  # 2 m off
    xy = cv2.perspectiveTransform(pitch.KEYPOINTS.reshape(-1, 1, 2), off).reshape(-1, 2)
    inside = (xy[:, 0] > 50) & (xy[:, 0] < SIZE[0] - 50) & (xy[:, 1] > 250) & (xy[:, 1] < 700)
    five = np.nonzero(inside)[0][:5]
    confidence = np.zeros(32)
    confidence[five] = 0.9
    weak = Detected(Detections.empty(), PitchKeypoints(xy, confidence))
    result = FrameAnalyser(SIZE, None, None).step(image, weak, 0)
    assert result.calibration.by_lines and not result.calibration.fitted
    assert not result.keypoint_fit and _error_m(result.homography, truth) < 0.5
    (shot,) = segments([result.calibration])
    assert shot.method == "lines" and shot.keypoint_fits == 0


def test_a_homography_the_lines_reject_is_replaced_by_what_they_find():
    """Fits that agree with one another can hold a wrong homography; every SUPPORT_CHECK-th
    frame its line support is checked, and under the carry bar the lines search for a better
    one."""
    from portfolio_ml_footai.calibrate.keypoints import SUPPORT_CHECK

    truth = plane_homography(TACTICAL)
    image = _pitch_frame(truth)
    wrong = plane_homography(_camera(-5.0, 70.0, 32.0, 62.0, -12.0, 8.0))  # 10 m off
    nothing = Detected(Detections.empty(), PitchKeypoints(np.zeros((32, 2)), np.zeros(32)))
    analyser = FrameAnalyser(SIZE, None, None)
    analyser.step(image, nothing, 0)
    analyser.pitch.found_by_lines(wrong)  # as if wrong fits had put it there
    results = [analyser.step(image, nothing, i) for i in range(1, SUPPORT_CHECK + 1)]
    assert all(_error_m(r.homography, truth) > 5 for r in results[:-1])
    assert results[-1].calibration.by_lines and _error_m(results[-1].homography, truth) < 0.5
