"""Other cameras from one labelled frame (`synth.views`): the picture and the labels move together."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from portfolio_ml_footai import pitch
from portfolio_ml_footai.calibrate.segments import (
    NO_KEYPOINTS,
    CalibrationSegment,
    FrameCalibration,
    run_method,
    segment_warnings,
    segments,
)
from portfolio_ml_footai.model.data import FRAME_SIZE, LabelledFrame
from portfolio_ml_footai.model.train import BatchFeeder, TrainConfig
from portfolio_ml_footai.synth.camera import BroadcastCamera
from portfolio_ml_footai.synth.views import VIEW_KINDS, frame_homography, virtual_view, warped_views

MAIN = BroadcastCamera(0.0, 70.0, 18.0, 0.0, 0.0, 1100.0, *FRAME_SIZE).looking_at(-25.0, 0.0)
COLOURS = np.array([[(37 * i) % 256, (91 * i + 60) % 256, (53 * i + 120) % 256] for i in range(32)])


def _labelled_frame(camera: BroadcastCamera = MAIN) -> LabelledFrame:
    """A main-camera frame: grass, each keypoint a disc of its own colour, labels exact."""
    w, h = FRAME_SIZE
    image = np.full((h, w, 3), (40, 130, 50), np.uint8)
    hom = camera.homography()
    xy = cv2.perspectiveTransform(pitch.KEYPOINTS.reshape(-1, 1, 2), hom).reshape(-1, 2)
    _, depth = camera.project(np.hstack([pitch.KEYPOINTS, np.zeros((32, 1))]))
    visible = (depth > 0) & (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    for i in np.nonzero(visible)[0]:
        cv2.circle(image, (int(xy[i, 0]), int(xy[i, 1])), 9, COLOURS[i].tolist(), -1)
    return LabelledFrame(
        "main.jpg", image, np.zeros((0, 4)), np.zeros(0, int), np.where(visible[:, None], xy, 0),
        visible, has_boxes=False, has_keypoints=True,
    )  # fmt: skip


def test_the_labelled_keypoints_fix_the_frames_homography():
    frame = _labelled_frame()
    assert frame.visible.sum() >= 6
    h = frame_homography(frame)
    assert h is not None
    back = cv2.perspectiveTransform(pitch.KEYPOINTS[frame.visible].reshape(-1, 1, 2), h)
    assert np.abs(back.reshape(-1, 2) - frame.keypoints[frame.visible]).max() < 1e-3
    few = LabelledFrame(
        "few", frame.image, frame.boxes, frame.classes, frame.keypoints,
        frame.visible & (np.cumsum(frame.visible) <= 3), False, True,
    )  # fmt: skip
    assert frame_homography(few) is None


@pytest.mark.parametrize("kind", VIEW_KINDS)
def test_each_view_moves_the_picture_with_its_labels(kind):
    frame = _labelled_frame()
    views = [virtual_view(frame, np.random.default_rng(seed), kind) for seed in range(6)]
    views = [v for v in views if v is not None]
    assert views, f"no {kind} view of a frame with {frame.visible.sum()} keypoints"
    for view in views:
        assert view.image.shape == frame.image.shape and view.has_keypoints and not view.has_boxes
        assert view.visible.sum() >= 4 and not (view.visible & ~frame.visible).any()
        for i in np.nonzero(view.visible)[0]:
            x, y = view.keypoints[i]
            # The disc drawn at keypoint i in the frame is where the view says keypoint i is.
            assert np.abs(view.image[int(y), int(x)].astype(int) - COLOURS[i]).max() <= 12, (
                kind,
                i,
            )
        # And the view is a different camera: the keypoints are not where they were.
        moved = np.linalg.norm(view.keypoints[view.visible] - frame.keypoints[view.visible], axis=1)
        assert np.median(moved) > 20


def test_warped_views_are_a_fixed_test_set():
    frames = [_labelled_frame(), _labelled_frame(MAIN.looking_at(20.0, 5.0))]
    a, b = warped_views(frames, per_kind=1, seed=3), warped_views(frames, per_kind=1, seed=3)
    assert [v.name for v in a] == [v.name for v in b] and len(a) >= 6
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b, strict=True))
    assert {v.name.split("@")[1] for v in a} <= set(VIEW_KINDS)


def test_training_draws_some_keypoint_frames_as_other_cameras(tmp_path):
    frame = _labelled_frame()
    boxes = LabelledFrame(
        "boxes.jpg", frame.image, np.array([[10.0, 10, 30, 60]]), np.array([2]),
        frame.keypoints, frame.visible, has_boxes=True, has_keypoints=True,
    )  # fmt: skip

    def redraw(f, rng):
        return virtual_view(f, rng, paint_missing=True)

    for share, expect_views in ((1.0, True), (0.0, False)):
        cfg = TrainConfig(tmp_path, tmp_path, tmp_path, views=share)
        feeder = BatchFeeder([frame, boxes], cfg, seed=0, other_camera=redraw)
        feeder.close()
        names = {feeder._frame(0).name for _ in range(8)}
        assert any("@" in n for n in names) == expect_views
        # Frames with boxes are never redrawn: their players would lean with the plane.
        assert feeder._frame(1) is boxes
    # The model does not import the renderer: a share of views without a way to draw them is a bug.
    with pytest.raises(ValueError, match="other_camera"):
        BatchFeeder([frame], TrainConfig(tmp_path, tmp_path, tmp_path, views=0.5), seed=0)


def _calibration(cuts, fitted, calibrated, from_file=()):
    return [
        FrameCalibration(i, i in cuts, i in fitted, i in calibrated, i in from_file)
        for i in range(10)
    ]


def test_each_shot_says_how_it_was_calibrated_and_why_not():
    frames = _calibration(
        cuts={4, 7},
        fitted={1, 2, 8},
        calibrated={0, 1, 2, 3, 8, 9},
        from_file={0, 1, 2, 3},
    )
    first, second, third = segments(frames)
    assert (first.first_frame, first.last_frame, first.frames) == (0, 3, 4)
    assert first.method == "file+keypoints" and first.calibrated == 4 and first.reason == ""
    assert second.method == "none" and second.calibrated == 0 and second.reason == NO_KEYPOINTS
    assert third.method == "keypoints" and third.calibrated == 2 and third.keypoint_fits == 1
    warnings = segment_warnings((first, second, third))
    assert len(warnings) == 1 and warnings[0].startswith("frames 4–6 (3 analysed")
    assert segments([]) == ()
    # A clip of nothing but cuts: every frame its own shot, a few warnings and a count.
    only_cuts = segments([FrameCalibration(i, True, False, False, False) for i in range(40)])
    assert len(only_cuts) == 40 and all(s.method == "none" for s in only_cuts)
    lines = segment_warnings(only_cuts)
    assert len(lines) == 6 and lines[-1].startswith("35 more shots (35 frames)")


def test_the_runs_method_is_what_its_shots_used():
    def shot(method: str, calibrated: int = 5) -> CalibrationSegment:
        return CalibrationSegment(0, 9, 10, calibrated, 0, method)

    # A run where no frame got a homography says so (it used to say "keypoints").
    assert run_method((shot("none", 0), shot("none", 0)), from_file=False) == "none"
    assert run_method((shot("keypoints"), shot("none", 0)), from_file=False) == "keypoints"
    assert run_method((shot("lines"), shot("keypoints")), from_file=False) == "keypoints+lines"
    assert run_method((shot("keypoints+lines"),), from_file=False) == "keypoints+lines"
    assert run_method((shot("lines"),), from_file=False) == "lines"
    assert run_method((), from_file=False) == "none"
    assert run_method((shot("file+keypoints"), shot("keypoints")), from_file=True) == "file"


def test_training_views_paint_the_pitch_the_frame_did_not_show_and_label_it():
    frame = _labelled_frame()
    for seed in range(8):
        plain = virtual_view(frame, np.random.default_rng(seed), "tactical")
        painted = virtual_view(frame, np.random.default_rng(seed), "tactical", paint_missing=True)
        assert plain is not None and painted is not None
        # Same camera (same draws), more labels: every painted keypoint lies on a marking.
        assert not (plain.visible & ~painted.visible).any()
        added = painted.visible & ~plain.visible
        grass = np.median(painted.image.reshape(-1, 3), axis=0)
        for i in np.nonzero(added)[0]:
            x, y = painted.keypoints[i].astype(int)
            patch = painted.image[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2].astype(int)
            assert patch.sum(axis=2).max() > grass.sum() + 60, (seed, i)
        if added.any():
            return
    raise AssertionError("no tactical view showed pitch beyond the frame")
