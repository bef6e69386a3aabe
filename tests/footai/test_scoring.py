"""eval-detections / eval-pitch: known answers on small fixtures, and the homography from keypoints."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from portfolio_ml_footai import pitch
from portfolio_ml_footai.calibrate.geometry import apply_h
from portfolio_ml_footai.calibrate.keypoints import HomographyTracker, fit_keypoints, image_to_pitch
from portfolio_ml_footai.detections import Detected, Detections, PitchKeypoints
from portfolio_ml_footai.evaluate.frames import frame_error_m, score_detections, score_pitch
from portfolio_ml_footai.model.data import LabelledFrame, load_detection_split, load_pitch_split
from portfolio_ml_footai.model.spec import BALL, PLAYER, REFEREE
from portfolio_ml_footai.synth.camera import BroadcastCamera

from .conftest import invoke

CAMERA = BroadcastCamera(0.0, 70.0, 18.0, 0.0, 0.0, 1400.0, 1280, 720).looking_at(-20.0, -4.0)


def _frame(boxes, classes) -> LabelledFrame:
    return LabelledFrame(
        "f",
        np.zeros((720, 1280, 3), np.uint8),
        np.array(boxes, float).reshape(-1, 4),
        np.array(classes),
        np.zeros((32, 2)),
        np.zeros(32, bool),
        True,
        False,
    )


def _write_yolo(root, split, frames_rows):
    (root / split / "images").mkdir(parents=True)
    (root / split / "labels").mkdir(parents=True)
    for i, rows in enumerate(frames_rows):
        cv2.imwrite(
            str(root / split / "images" / f"clip{i}_f.jpg"), np.full((64, 64, 3), 60, np.uint8)
        )
        (root / split / "labels" / f"clip{i}_f.txt").write_text("\n".join(rows) + "\n")


def test_detection_scores_known_answers():
    gt = _frame(
        [[100, 100, 120, 150], [300, 100, 320, 150], [500, 100, 520, 150], [700, 300, 706, 306]],
        [PLAYER, PLAYER, REFEREE, BALL],
    )
    # Two players found (one as a referee: a role error), one box on nothing, the ball 5 px off.
    pred = Detections(
        np.array(
            [[101, 101, 121, 151], [300, 100, 320, 150], [900, 100, 920, 150], [705, 305, 711, 311]]
        ),
        np.array([PLAYER, REFEREE, PLAYER, BALL]),
        np.array([0.9, 0.8, 0.7, 0.6]),
    )
    s = score_detections([gt], lambda image: pred)
    assert (s.persons.tp, s.persons.fp, s.persons.fn) == (2, 1, 1)
    assert s.persons.f1 == pytest.approx(2 / 3)
    assert s.role_accuracy == pytest.approx(0.5)
    assert s.ball_recall == 1.0
    assert (s.per_class["player"].tp, s.per_class["player"].fp, s.per_class["player"].fn) == (
        1,
        1,
        1,
    )
    perfect = score_detections([gt], lambda image: Detections(gt.boxes, gt.classes, np.ones(4)))
    assert perfect.persons.f1 == 1.0 and perfect.map50 == pytest.approx(1.0)
    assert perfect.role_accuracy == 1.0


def test_small_persons_recall_counts_only_persons_under_30_px():
    # Two far players (20 px tall), one found; a near player (50 px) found; a small referee missed.
    gt = _frame(
        [[100, 100, 108, 120], [300, 100, 308, 120], [500, 100, 520, 150], [700, 100, 708, 129]],
        [PLAYER, PLAYER, PLAYER, REFEREE],
    )
    pred = Detections(
        np.array([[100, 100, 108, 120], [500, 100, 520, 150]]),
        np.array([PLAYER, PLAYER]),
        np.array([0.9, 0.8]),
    )
    s = score_detections([gt], lambda image: pred)
    assert (s.small_persons.tp, s.small_persons.fn) == (1, 2)
    assert s.to_json()["small_persons"] == {
        "under_px": 30.0,
        "labelled": 3,
        "found": 1,
        "recall": pytest.approx(1 / 3, abs=1e-4),
    }


def test_pitch_scores_known_answers():
    h = CAMERA.homography()
    img = cv2.perspectiveTransform(pitch.KEYPOINTS.reshape(-1, 1, 2), h).reshape(-1, 2)
    inside = (img[:, 0] > 0) & (img[:, 0] < 1280) & (img[:, 1] > 0) & (img[:, 1] < 720)
    assert inside.sum() >= 6
    frame = LabelledFrame(
        "f",
        np.zeros((720, 1280, 3), np.uint8),
        np.zeros((0, 4)),
        np.zeros(0, int),
        img,
        inside,
        False,
        True,
    )

    def seen(xy, confidence):
        return lambda image: Detected(Detections.empty(), PitchKeypoints(xy, confidence))

    exact = score_pitch([frame], seen(img, inside.astype(float)))
    assert exact.keypoint_error_px == pytest.approx(0.0, abs=1e-6)
    assert exact.within_1m == 1.0 and exact.calibrated == 1
    assert frame_error_m(h, frame) == pytest.approx(0.0, abs=1e-6)
    # Every keypoint 40 px to the right: calibrated, but metres off.
    shifted = score_pitch([frame], seen(img + np.array([40.0, 0.0]), inside.astype(float)))
    assert shifted.keypoint_error_px == pytest.approx(40.0)
    assert shifted.within_1m == 0.0
    nothing = score_pitch([frame], seen(img, np.zeros(32)))
    assert nothing.calibrated == 0 and nothing.within_1m == 0.0


def test_fit_keypoints_survives_an_outlier_and_needs_four_points():
    h = CAMERA.homography()
    img = cv2.perspectiveTransform(pitch.KEYPOINTS.reshape(-1, 1, 2), h).reshape(-1, 2)
    inside = (img[:, 0] > 0) & (img[:, 0] < 1280) & (img[:, 1] > 0) & (img[:, 1] < 720)
    conf = inside.astype(float)
    wrong = img.copy()
    first = int(np.nonzero(inside)[0][0])
    wrong[first] += [300, 120]  # one keypoint confused with another marking
    fit = fit_keypoints(PitchKeypoints(wrong, conf), 1280)
    assert fit is not None and not fit.inliers[first]
    grid = np.array([[-30.0, -10.0], [-10.0, 20.0], [-40.0, 25.0]])
    back = image_to_pitch(
        fit.homography, cv2.perspectiveTransform(grid.reshape(-1, 1, 2), h).reshape(-1, 2)
    )
    np.testing.assert_allclose(back, grid, atol=0.05)
    three = np.zeros(32)
    three[np.nonzero(inside)[0][:3]] = 1.0
    assert fit_keypoints(PitchKeypoints(img, three), 1280) is None


def test_fit_keypoints_refuses_three_collinear_keypoints_and_one_more():
    # The synthetic static clip's 15-m error: keypoints 13, 14, 15 lie on the halfway line, so
    # with one other point they fix no homography (the far side folds); a fifth point off the
    # line (30, on the other axis) does.
    h = (
        BroadcastCamera(0.0, 70.0, 18.0, 0.0, 0.0, 1400.0, 1280, 720)
        .looking_at(0.0, 0.0)
        .homography()
    )
    img = cv2.perspectiveTransform(pitch.KEYPOINTS.reshape(-1, 1, 2), h).reshape(-1, 2)
    img += np.random.default_rng(0).normal(0, 1.5, img.shape)  # the net's pixel noise
    conf = np.zeros(32)
    conf[[13, 14, 15, 31]] = 1.0  # without the check these give a fit 29-51 m off at the sides
    assert fit_keypoints(PitchKeypoints(img, conf), 1280) is None
    conf[30] = 1.0
    fit = fit_keypoints(PitchKeypoints(img, conf), 1280)
    assert fit is not None
    grid = np.array([[-25.0, -20.0], [20.0, 25.0]])
    back = image_to_pitch(
        fit.homography, cv2.perspectiveTransform(grid.reshape(-1, 1, 2), h).reshape(-1, 2)
    )
    assert np.linalg.norm(back - grid, axis=1).max() < 3.0


def test_homography_tracker_carries_through_motion_and_gives_up():
    h = CAMERA.homography()
    tracker = HomographyTracker((1280, 720))
    img = cv2.perspectiveTransform(pitch.KEYPOINTS.reshape(-1, 1, 2), h).reshape(-1, 2)
    fit = fit_keypoints(PitchKeypoints(img, np.ones(32)), 1280)
    assert fit is not None
    assert np.allclose(tracker.update(fit, None), fit.homography)
    shift = np.array([[1.0, 0, 5.0], [0, 1.0, 0], [0, 0, 1.0]])  # the picture moves 5 px right
    carried = tracker.update(None, shift)
    assert carried is not None
    np.testing.assert_allclose(carried, shift @ fit.homography / (shift @ fit.homography)[2, 2])
    for _ in range(60):
        last = tracker.update(None, np.eye(3))
    assert last is None  # two seconds without a fit: no pitch rather than a drifting one


def test_eval_commands_on_small_fixtures(tmp_path):
    # Labels no net can match: an empty frame labelled with one player far off.
    _write_yolo(
        tmp_path / "det",
        "test",
        [["2 0.5 0.5 0.02 0.05"], ["2 0.2 0.5 0.02 0.05", "0 0.7 0.7 0.005 0.008"]],
    )
    res = invoke("eval-detections", "--data", tmp_path / "det", "--json", tmp_path / "d.json")
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "d.json").read_text())
    assert data["frames"] == 2 and data["persons"]["fn"] == 2 and data["persons"]["tp"] == 0
    assert data["ball_frames"] == 1
    kp = " ".join(["0.5 0.5 0"] * 32)
    _write_yolo(tmp_path / "pitch", "valid", [[f"0 0.5 0.5 1 1 {kp}"]])
    res = invoke(
        "eval-pitch",
        "--data",
        tmp_path / "pitch",
        "--split",
        "valid",
        "--json",
        tmp_path / "p.json",
    )
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "p.json").read_text())["frames"] == 1
    res = invoke("eval-pitch", "--data", tmp_path / "pitch", "--split", "test")
    assert res.exit_code != 0 and "no split 'test'" in res.output and "found valid" in res.output


@pytest.mark.realdata
def test_eval_commands_on_the_real_test_split(players_data, pitch_data, tmp_path):
    res = invoke("eval-detections", "--data", players_data, "--json", tmp_path / "d.json")
    assert res.exit_code == 0, res.output
    det = json.loads((tmp_path / "d.json").read_text())
    assert det["frames"] == len(load_detection_split(players_data, "test"))
    assert 0.0 <= det["map50"] <= 1.0 and det["persons"]["tp"] > 0
    # The test split's far players (92 labelled under 30 px) are what the recall figure is about.
    assert det["small_persons"]["labelled"] > 50 and det["small_persons"]["found"] > 0
    assert "persons under 30 px tall found" in res.output
    res = invoke("eval-pitch", "--data", pitch_data, "--json", tmp_path / "p.json")
    assert res.exit_code == 0, res.output
    pit = json.loads((tmp_path / "p.json").read_text())
    assert pit["frames"] == len(load_pitch_split(pitch_data, "test")) and pit["calibrated"] > 0


def test_homography_tracker_averages_fits_while_the_camera_stands_still():
    h = CAMERA.homography()
    img = cv2.perspectiveTransform(pitch.KEYPOINTS.reshape(-1, 1, 2), h).reshape(-1, 2)
    rng = np.random.default_rng(0)
    fits = [
        fit_keypoints(PitchKeypoints(img + rng.normal(0, 2.0, img.shape), np.ones(32)), 1280)
        for _ in range(12)
    ]
    assert all(f is not None for f in fits)
    grid = np.array([[x, y] for x in (-30.0, 0.0, 30.0) for y in (-25.0, 0.0, 25.0)])

    def error(hom: np.ndarray) -> float:
        pts = cv2.perspectiveTransform(grid.reshape(-1, 1, 2), h).reshape(-1, 2)
        return float(np.linalg.norm(image_to_pitch(hom, pts) - grid, axis=1).mean())

    still, panning = HomographyTracker((1280, 720)), HomographyTracker((1280, 720))
    for f in fits:
        still.update(f, np.eye(3))
        # A tiny, real motion: the fits are blended half and half, not averaged.
        panning.update(f, np.array([[1.0, 0, 1e-3], [0, 1.0, 0], [0, 0, 1.0]]))
    assert still.variance == pytest.approx(1 / 12) and panning.variance == pytest.approx(0.5)
    single = np.mean([error(f.homography) for f in fits])
    assert error(still.current) < 0.6 * single
    assert error(still.current) < error(panning.current)


def _keypoints_seen_by(h: np.ndarray, indices: list[int]) -> PitchKeypoints:
    img = cv2.perspectiveTransform(pitch.KEYPOINTS.reshape(-1, 1, 2), h).reshape(-1, 2)
    conf = np.zeros(32)
    conf[indices] = 1.0
    return PitchKeypoints(img, conf)


def test_a_fit_that_contradicts_the_carried_homography_needs_a_fifth_point_and_a_second_frame():
    h_true = CAMERA.homography()
    other = BroadcastCamera(0.0, 70.0, 18.0, 0.0, 0.0, 1400.0, 1280, 720).looking_at(-12.0, -4.0)
    h_other = other.homography()
    box = [8, 9, 10, 11, 12, 30]  # penalty box, spot and circle: in view of both cameras
    tracker = HomographyTracker((1280, 720))
    start = fit_keypoints(_keypoints_seen_by(h_true, box), 1280)
    assert start is not None and np.allclose(tracker.update(start, None), start.homography)
    # Four points are fitted exactly whatever their errors: they cannot overrule the carried fit.
    four = fit_keypoints(_keypoints_seen_by(h_other, [8, 9, 10, 30]), 1280)
    assert four is not None and four.n_inliers == 4
    for _ in range(3):
        assert np.allclose(tracker.update(four, np.eye(3)), start.homography)
    # Checked fits that agree with each other take over on the second frame (a missed cut).
    five = fit_keypoints(_keypoints_seen_by(h_other, box), 1280)
    assert five is not None and five.n_inliers >= 5
    assert np.allclose(tracker.update(five, np.eye(3)), start.homography)
    assert np.allclose(tracker.update(five, np.eye(3)), five.homography)


def test_a_users_calibration_is_corrected_by_agreeing_fits_and_kept_against_contradicting_ones():
    h_true = CAMERA.homography()
    # The user's file is a little off (as a carried frame-0 calibration becomes): 6 px right.
    nudge = np.array([[1.0, 0, 6.0], [0, 1.0, 0], [0, 0, 1.0]])
    tracker = HomographyTracker((1280, 720))
    tracker.start_from(nudge @ h_true)
    exact = fit_keypoints(_keypoints_seen_by(h_true, [8, 9, 10, 11, 12, 30]), 1280)
    assert exact is not None
    grid = np.array([[x, y] for x in (-40.0, -20.0) for y in (-20.0, 0.0, 20.0)])

    def error_px(hom: np.ndarray) -> float:
        return float(np.linalg.norm(apply_h(hom, grid) - apply_h(h_true, grid), axis=1).mean())

    before = error_px(tracker.current)
    for _ in range(30):  # the camera pans a little each frame: the fits keep correcting it
        move = np.array([[1.0, 0, 0.5], [0, 1.0, 0], [0, 0, 1.0]])
        h_true = move @ h_true
        exact = fit_keypoints(_keypoints_seen_by(h_true, [8, 9, 10, 11, 12, 30]), 1280)
        tracker.update(exact, move)
    assert before > 5.0 and error_px(tracker.current) < 0.5
    # A confident fit that contradicts it (another part of the pitch) is not taken at once.
    other = BroadcastCamera(0.0, 70.0, 18.0, 0.0, 0.0, 1400.0, 1280, 720).looking_at(-12.0, -4.0)
    wrong = fit_keypoints(_keypoints_seen_by(other.homography(), [8, 9, 10, 11, 12, 30]), 1280)
    assert wrong is not None and wrong.n_inliers >= 5
    kept = tracker.current.copy()
    for _ in range(4):
        assert np.allclose(tracker.update(wrong, np.eye(3)), kept)
    # Five checked fits in a row that agree with each other do take over (it had drifted).
    assert np.allclose(tracker.update(wrong, np.eye(3)), wrong.homography)
    tracker.start_from(kept)
    # With no fits it is carried through its shot (not dropped after 2 s), and a cut ends it.
    for _ in range(80):
        assert tracker.update(None, np.eye(3)) is not None
    tracker.reset()
    assert tracker.update(None, None) is None and not tracker.trusted
