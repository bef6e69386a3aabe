"""Detectors from the command line: `footai detectors`, `--detector NAME`, a user's ONNX model,
and a detector that another plugin adds through the ``register_detectors`` hook."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from portfolio_ml_cli.app import create_app
from portfolio_ml_cli.plugins import create_plugin_manager
from portfolio_ml_core.detectors import DetectorRegistry, DetectorSpec
from portfolio_ml_core.hookspecs import hookimpl
from portfolio_ml_footai.detections import Detected, Detections
from portfolio_ml_footai.io.tracks_csv import read_tracks
from portfolio_ml_footai.model.spec import PLAYER
from typer.testing import CliRunner

from .conftest import invoke

# Three players standing still, in frame pixels of the 960×540 test clips.
STILL_PLAYERS = [(100, 300, 130, 380), (400, 200, 425, 270), (700, 350, 735, 440)]


def test_detectors_lists_the_built_in_ones():
    res = invoke("detectors")
    assert res.exit_code == 0, res.output
    assert "net (default)" in res.output and "onnx" in res.output and "net-flip" in res.output


def test_an_unknown_detector_is_a_one_line_error(static_clip, tmp_path):
    res = invoke("run", static_clip.video, "--out", tmp_path / "o", "--detector", "yolo99")
    assert res.exit_code != 0
    assert "unknown detector 'yolo99'" in res.output and "net" in res.output
    assert "Traceback" not in res.output


def test_onnx_without_a_model_is_a_one_line_error(static_clip, tmp_path):
    res = invoke("run", static_clip.video, "--out", tmp_path / "o", "--detector", "onnx")
    assert res.exit_code != 0 and "--model" in res.output and "Traceback" not in res.output


def _still_players_model(path: Path) -> Path:
    """A YOLOv8-layout ONNX model (64×64 input) that always finds STILL_PLAYERS."""
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from .test_onnx_detector import write_model

    gain, top = 64 / 960, (64 - 540 * 64 / 960) / 2  # the letterbox of a 960×540 frame
    rows = []
    for x0, y0, x1, y1 in STILL_PLAYERS:
        a = np.array([x0, y0, x1, y1]) * gain + [0, top, 0, top]
        rows.append([(a[0] + a[2]) / 2, (a[1] + a[3]) / 2, a[2] - a[0], a[3] - a[1], 0.9])
    rows += [[0.0] * 5] * 5
    return write_model(path, np.array(rows, np.float32).T, names="{0: 'player'}")


def test_run_with_a_users_onnx_model(static_clip, tmp_path):
    """The whole run on a user's detector: its boxes are tracked and mapped with the homography
    from the shipped net's keypoints."""
    model = _still_players_model(tmp_path / "players.onnx")
    out = tmp_path / "run"
    res = invoke(
        "run", static_clip.video, "--out", out, "--no-video", "--max-frames", "10",
        "--detector", "onnx", "--model", model,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["detector"] == "onnx" and summary["calibration"]["method"] == "keypoints"
    tracks = read_tracks(out / "tracks.csv")
    people = tracks.role != "ball"
    assert len(np.unique(tracks.track_id[people])) == len(STILL_PLAYERS)
    assert np.isfinite(tracks.pitch[people]).all()  # mapped through the shipped net's keypoints
    boxes = {tuple(np.round(b).astype(int)) for b in tracks.box[people]}
    assert boxes == {(x0, y0, x1 - x0, y1 - y0) for x0, y0, x1, y1 in STILL_PLAYERS}


def test_detect_stills_with_a_users_onnx_model(static_clip, tmp_path):
    import cv2

    model = _still_players_model(tmp_path / "players.onnx")
    image = tmp_path / "frame.jpg"
    cv2.imwrite(str(image), np.full((540, 960, 3), 90, np.uint8))
    res = invoke("detect", image, "--out", tmp_path / "d", "--detector", "onnx", "--model", model)
    assert res.exit_code == 0, res.output
    lines = (tmp_path / "d" / "labels" / "frame.txt").read_text().splitlines()
    assert len(lines) == len(STILL_PLAYERS) and all(line.startswith("2 ") for line in lines)


class _CentreSpot:
    """Another package's detector: one player in the middle of every frame, no pitch."""

    def __call__(self, image: np.ndarray) -> Detected:
        h, w = image.shape[:2]
        box = np.array([[w / 2 - 15, h / 2 - 40, w / 2 + 15, h / 2 + 40]])
        return Detected(Detections(box, np.array([PLAYER]), np.array([0.95])), None)


class _DetectorPlugin:
    @hookimpl
    def register_detectors(self, registry: DetectorRegistry) -> None:
        registry.add(DetectorSpec("centre-spot", "football", "a test detector", _create))


def _create(**_options) -> _CentreSpot:
    return _CentreSpot()


def test_a_plugin_adds_a_detector(static_clip, tmp_path):
    manager = create_plugin_manager()
    manager.register(_DetectorPlugin(), "centre-spot-plugin")
    app = create_app(manager)
    runner = CliRunner()
    listed = runner.invoke(app, ["footai", "detectors"])
    assert "centre-spot" in listed.output and "net (default)" in listed.output
    out = tmp_path / "run"
    res = runner.invoke(
        app,
        ["footai", "run", str(static_clip.video), "--out", str(out), "--no-video",
         "--max-frames", "8", "--detector", "centre-spot"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["detector"] == "centre-spot" and summary["tracks"] == 1
    # It sees no pitch keypoints: every frame is reported without a homography.
    assert any("no pitch homography" in w for w in summary["warnings"])
