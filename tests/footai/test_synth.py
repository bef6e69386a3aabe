"""The synthetic clip renderer: ground truth that is exact and self-consistent."""

from __future__ import annotations

import csv

import numpy as np
from portfolio_ml_core.video import VideoSource
from portfolio_ml_footai.calibrate.geometry import (
    apply_h,
    homography_from_calibration,
    load_calibration,
)
from portfolio_ml_footai.io.tracks_csv import GT_COLUMNS, read_tracks
from portfolio_ml_footai.synth import SampleConfig, render_sample


def test_gt_schema_and_content(static_clip):
    with static_clip.gt.open() as fh:
        header = next(csv.reader(fh))
    assert tuple(header) == GT_COLUMNS
    gt = read_tracks(static_clip.gt)
    assert set(gt.role) >= {"player", "referee", "ball"}
    players = gt.subset(gt.role == "player")
    assert set(players.team) == {0, 1}
    assert (gt.subset(gt.role == "referee").team == -1).all()
    assert (gt.subset(gt.role == "ball").track_id == 0).all()
    assert gt.frame.min() == 0 and gt.frame.max() == static_clip.frames - 1
    assert ((gt.visibility > 0) & (gt.visibility <= 1)).all()
    # One row per object and frame.
    keys = gt.frame * 1000 + gt.track_id
    assert len(np.unique(keys)) == len(keys)
    # Occlusions happen: some players are partly hidden.
    assert (players.visibility < 0.9).any()
    with VideoSource(static_clip.video) as v:
        assert v.size == (960, 540)
        assert sum(1 for _ in v.frames()) == static_clip.frames


def test_calibration_maps_ground_truth_feet(static_clip):
    """The calibration must put each fully visible player's ground point under its box."""
    h = homography_from_calibration(load_calibration(static_clip.calibration))
    gt = read_tracks(static_clip.gt)
    sel = gt.subset((gt.frame == 0) & (gt.role == "player") & (gt.visibility > 0.95))
    feet = apply_h(h, sel.pitch)
    bottom = np.stack([sel.box[:, 0] + sel.box[:, 2] / 2, sel.box[:, 1] + sel.box[:, 3]], axis=1)
    err = np.linalg.norm(feet - bottom, axis=1)
    assert np.median(err) < 3.0


def test_seed_makes_it_reproducible(tmp_path):
    cfg = SampleConfig("pan", seconds=0.3, seed=3, width=320, height=180)
    a = render_sample(tmp_path / "a", cfg)
    b = render_sample(tmp_path / "b", cfg)
    c = render_sample(
        tmp_path / "c", SampleConfig("pan", seconds=0.3, seed=4, width=320, height=180)
    )
    assert a.gt.read_text() == b.gt.read_text()
    assert a.gt.read_text() != c.gt.read_text()


def _calibration_error_at(clip, frame: int) -> float:
    h = homography_from_calibration(load_calibration(clip.calibration))
    gt = read_tracks(clip.gt)
    sel = gt.subset((gt.frame == frame) & (gt.role == "player") & (gt.visibility > 0.95))
    feet = apply_h(h, sel.pitch)
    bottom = np.stack([sel.box[:, 0] + sel.box[:, 2] / 2, sel.box[:, 1] + sel.box[:, 3]], axis=1)
    return float(np.median(np.linalg.norm(feet - bottom, axis=1)))


def test_static_camera_stays_and_pan_camera_turns(static_clip, pan_clip):
    """Frame 0's calibration still fits the last frame of the static clip, not of the pan."""
    assert _calibration_error_at(static_clip, static_clip.frames - 1) < 3.0
    assert _calibration_error_at(pan_clip, 0) < 3.0
    assert _calibration_error_at(pan_clip, pan_clip.frames - 1) > 8.0
