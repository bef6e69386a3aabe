"""The learned net: shipped weights, a training step, decoding, detection on real frames."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from portfolio_ml_core.errors import ModelNotFoundError
from portfolio_ml_core.fsutil import file_sha256
from portfolio_ml_core.models import IntegrityError
from portfolio_ml_footai import pitch
from portfolio_ml_footai.detect.net import NetDetector
from portfolio_ml_footai.evaluate.frames import greedy_match
from portfolio_ml_footai.model.data import load_detection_split
from portfolio_ml_footai.model.runtime import FootNet, decode, preprocess, with_mirror
from portfolio_ml_footai.model.spec import (
    CLASSES,
    FLIP_INDEX,
    KEYPOINT_CHANNELS,
    KEYPOINT_THRESHOLD,
    NET,
    OFFSET_CHANNELS,
    OUT_CHANNELS,
    PERSON_CHANNEL,
    PLAYER,
    ROLE_CHANNELS,
    SIZE_CHANNELS,
)
from portfolio_ml_footai.model.weights import SHIPPED, resolve_footai_model, shipped_sha256
from portfolio_ml_footai.synth.frames import synthetic_frames

from .conftest import invoke


def test_shipped_weights_load_and_match_their_checksum():
    assert SHIPPED.stat().st_size <= 10_000_000
    assert file_sha256(SHIPPED) == shipped_sha256()
    assert resolve_footai_model() == SHIPPED
    result = NetDetector(net=FootNet(SHIPPED))(np.zeros((720, 1280, 3), np.uint8))
    assert len(result.detections) == 0  # a black frame holds nobody
    assert result.keypoints is not None and result.keypoints.xy.shape == (32, 2)
    provenance = (SHIPPED.parent / "PROVENANCE.md").read_text()
    assert "CC BY 4.0" in provenance and "footai train" in provenance


def test_model_resolution_prefers_a_retrained_model(tmp_path, monkeypatch):
    retrained = tmp_path / "mine.tflite"
    shutil.copy(SHIPPED, retrained)
    assert resolve_footai_model(retrained) == retrained
    monkeypatch.setenv("PORTFOLIO_ML_FOOTAI_MODEL", str(retrained))
    assert resolve_footai_model() == retrained
    with pytest.raises(ModelNotFoundError, match="not found"):
        resolve_footai_model(tmp_path / "missing.tflite")
    fake = tmp_path / "fake.tflite"
    fake.write_bytes(b"\0" * 200_000)
    with pytest.raises(IntegrityError, match="TFL3"):
        resolve_footai_model(fake)


def test_run_with_a_model_that_is_not_one(static_clip, tmp_path):
    fake = tmp_path / "fake.tflite"
    fake.write_bytes(b"\0" * 200_000)
    res = invoke("run", static_clip.video, "--out", tmp_path / "o", "--model", fake)
    assert res.exit_code != 0
    assert "TFL3" in res.output and "Traceback" not in res.output


def test_keypoint_layout_matches_the_pitch():
    pts = pitch.KEYPOINTS
    assert pts.shape == (32, 2)
    assert np.abs(pts[:, 0]).max() == 52.5 and np.abs(pts[:, 1]).max() == 34.0
    # The flip index mirrors each keypoint across the halfway line.
    mirrored = pts[FLIP_INDEX] * [-1, 1]
    np.testing.assert_allclose(mirrored, pts, atol=1e-9)
    assert (FLIP_INDEX[FLIP_INDEX] == np.arange(32)).all()
    # Penalty-box corner (vertex 10) is 16.5 m in from the goal line and 20.16 m off centre.
    np.testing.assert_allclose(pts[9], [-36.0, -20.16])


def test_decode_finds_a_planted_box_and_keypoint():
    w, h = NET.out_size
    raw = np.full((h, w, OUT_CHANNELS), -10.0, np.float32)
    raw[20, 30, PERSON_CHANNEL] = 5.0  # a person centred in cell (30, 20)…
    raw[20, 30, ROLE_CHANNELS] = [0.0, 3.0, 1.0]  # …whose likeliest role is "player"
    raw[20, 30, SIZE_CHANNELS] = np.log([10.0, 24.0])  # 10 × 24 input pixels
    raw[20, 30, OFFSET_CHANNELS] = 0.0
    raw[10, 40, KEYPOINT_CHANNELS.start + 13] = 5.0  # keypoint 14 (halfway line, far touchline)
    out = decode(raw, (NET.width * 2, NET.height * 2))
    assert len(out.xyxy) == 1 and CLASSES[out.class_id[0]] == "player"
    cx, cy = (out.xyxy[0, :2] + out.xyxy[0, 2:]) / 2
    assert cx == pytest.approx((30 + 0.5) * NET.stride * 2) and cy == pytest.approx(
        (20 + 0.5) * NET.stride * 2
    )
    # 10 input pixels × 2 (frame / input)
    assert out.xyxy[0, 2] - out.xyxy[0, 0] == pytest.approx(20.0, rel=1e-3)
    seen = out.keypoint_confidence >= KEYPOINT_THRESHOLD
    assert seen.sum() == 1 and seen[13]
    np.testing.assert_allclose(out.keypoint_xy[13], [(40 + 0.5) * 8, (10 + 0.5) * 8], atol=1e-6)


def test_a_few_training_steps_lower_the_loss():
    import keras
    import tensorflow as tf
    from portfolio_ml_footai.model.net import build_net
    from portfolio_ml_footai.model.targets import make_sample
    from portfolio_ml_footai.model.train import losses, stack

    keras.utils.set_random_seed(0)
    frames = list(synthetic_frames(range(1000, 1001), every=3, per_seed=2))
    batch = {
        k: tf.constant(v)
        for k, v in stack([make_sample(f, (192, 128), NET.stride, None) for f in frames]).items()
    }
    model = build_net(None)
    opt = keras.optimizers.Adam(2e-3)

    def step() -> float:
        with tf.GradientTape() as tape:
            loss = losses(tf, model(batch["image"], training=True), batch)["loss"]
        opt.apply_gradients(
            zip(
                tape.gradient(loss, model.trainable_variables),
                model.trainable_variables,
                strict=True,
            )
        )
        return float(loss)

    first = step()
    for _ in range(12):
        last = step()
    assert last < 0.7 * first


@pytest.mark.realdata
def test_detect_finds_the_labelled_players_on_real_frames(players_data, tmp_path):
    frames = load_detection_split(players_data, "test")[:3]
    images = tmp_path / "in"
    images.mkdir()
    src = sorted((players_data / "test" / "images").iterdir())[:3]
    for p in src:
        shutil.copy(p, images / p.name)
    res = invoke("detect", images, "--out", tmp_path / "out")
    assert res.exit_code == 0, res.output
    found = matched = 0
    for frame, path in zip(frames, src, strict=True):
        txt = (tmp_path / "out" / "labels" / f"{path.stem}.txt").read_text().split("\n")
        rows = np.array([[float(v) for v in line.split()] for line in txt if line.strip()]).reshape(
            -1, 5
        )
        # YOLO rows are normalised: scale them to the 16:9 frame the labels were loaded at.
        xy = rows[:, 1:] * [1280, 720, 1280, 720]
        pred = np.c_[xy[:, :2] - xy[:, 2:] / 2, xy[:, :2] + xy[:, 2:] / 2]
        gt = frame.boxes[frame.classes == PLAYER]
        found += len(gt)
        matched += len(
            greedy_match(gt, pred[rows[:, 0] != 0], np.ones(int((rows[:, 0] != 0).sum())))
        )
        assert (tmp_path / "out" / "annotated" / f"{path.stem}.jpg").exists()
    assert matched >= 0.8 * found
    assert (tmp_path / "out" / "detections.csv").read_text().startswith("image,class_id,role")


def test_the_mirror_pass_puts_every_cell_back_in_place():
    """What the net would answer for the mirror image, put back: the frame's own heads (the
    x offset runs the other way in the mirror), and the keypoints are never the mirror's."""
    rng = np.random.default_rng(0)
    heads = rng.normal(size=(88, 160, OUT_CHANNELS)).astype(np.float32)
    mirrored = heads[:, ::-1].copy()
    mirrored[..., OFFSET_CHANNELS.start] *= -1
    mirrored[..., KEYPOINT_CHANNELS] = rng.normal(size=(88, 160, 32))
    np.testing.assert_allclose(with_mirror(heads.copy(), mirrored), heads, atol=1e-6)
    # A box the mirror does not see is kept at half the evidence (logits averaged).
    unseen = mirrored.copy()
    unseen[:, :, PERSON_CHANNEL] = -10.0
    merged = with_mirror(heads.copy(), unseen)
    np.testing.assert_allclose(merged[..., PERSON_CHANNEL], (heads[..., PERSON_CHANNEL] - 10) / 2)


@pytest.mark.realdata
def test_the_mirror_pass_finds_the_same_players_and_keeps_the_keypoints(players_data):
    """What the mirror adds in accuracy is `bench footai.real_detections`' to say; here: the
    same boxes in the same places, and the frame's own keypoints."""
    frames = load_detection_split(players_data, "test")[:4]
    one, two = NetDetector(), NetDetector(flip=True)
    found = both = 0
    for frame in frames:
        single, mirrored = one(frame.image), two(frame.image)
        a, b = single.reported, mirrored.reported
        gt = frame.boxes[frame.classes != 0]
        found += len(greedy_match(gt, b.persons.xyxy, b.persons.score))
        both += len(greedy_match(a.persons.xyxy, b.persons.xyxy, b.persons.score))
        assert single.keypoints is not None and mirrored.keypoints is not None
        np.testing.assert_array_equal(single.keypoints.xy, mirrored.keypoints.xy)
    assert both >= 0.9 * found  # the same boxes, in the same places (IoU ≥ 0.5)
    assert found >= 0.8 * sum(int((f.classes != 0).sum()) for f in frames)


def test_detect_bad_inputs(tmp_path):
    res = invoke("detect", tmp_path / "nope.jpg", "--out", tmp_path / "o")
    assert res.exit_code != 0 and "not found" in res.output
    empty = tmp_path / "empty"
    empty.mkdir()
    res = invoke("detect", empty, "--out", tmp_path / "o")
    assert res.exit_code != 0 and "no images" in res.output
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    res = invoke("detect", bad, "--out", tmp_path / "o")
    assert res.exit_code != 0 and "not a readable image" in res.output
    assert "Traceback" not in res.output


def test_train_bad_inputs(tmp_path):
    res = invoke(
        "train",
        "--players",
        tmp_path / "none",
        "--pitch",
        tmp_path / "none",
        "--out",
        tmp_path / "o",
    )
    assert res.exit_code != 0 and "not a folder" in res.output
    (tmp_path / "p" / "train" / "images").mkdir(parents=True)
    res = invoke(
        "train", "--players", tmp_path / "p", "--pitch", tmp_path / "p", "--out", tmp_path / "o"
    )
    assert res.exit_code != 0 and "no split 'valid'" in res.output
    res = invoke(
        "train",
        "--players",
        tmp_path / "p",
        "--pitch",
        tmp_path / "p",
        "--out",
        tmp_path / "o",
        "--epochs",
        "0",
    )
    assert res.exit_code != 0 and "--epochs" in res.output


@pytest.mark.slow
@pytest.mark.realdata
def test_train_command_runs_end_to_end_and_resumes(players_data, pitch_data, tmp_path):
    args = [
        "train",
        "--players",
        players_data,
        "--pitch",
        pitch_data,
        "--out",
        tmp_path / "t",
        "--steps",
        "2",
        "--batch",
        "2",
        "--synthetic",
        "2",
    ]
    res = invoke(*args, "--epochs", "1")
    assert res.exit_code == 0, res.output
    for name in (
        "footai_net.tflite",
        "footai_net.keras",
        "curves.png",
        "history.json",
        "report.json",
    ):
        assert (tmp_path / "t" / name).exists(), name
    res = invoke(*args, "--epochs", "2", "--resume")
    assert res.exit_code == 0, res.output
    assert "resumed after epoch 1" in res.output
    assert Path(tmp_path / "t" / "footai_net.tflite").stat().st_size < 10_000_000


def test_giou_is_one_for_the_same_box_and_penalises_a_shift_and_a_gap():
    import tensorflow as tf
    from portfolio_ml_footai.model.spec import OFFSET_CHANNELS, OUT_CHANNELS, SIZE_CHANNELS
    from portfolio_ml_footai.model.train import _giou

    def giou(pred_offset: float, size: tuple[float, float] = (10.0, 20.0)) -> float:
        pred = np.zeros((1, 1, 1, OUT_CHANNELS), np.float32)
        pred[..., SIZE_CHANNELS] = np.log(size)
        pred[..., OFFSET_CHANNELS] = (pred_offset, 0.0)
        label = {
            "offset": np.zeros((1, 1, 1, 2), np.float32),
            "size": np.log(np.full((1, 1, 1, 2), (10.0, 20.0), np.float32)),
        }
        return float(_giou(tf, tf.constant(pred), label)[0, 0, 0])

    assert giou(0.0) == pytest.approx(1.0)
    # Half a box width to the side (5 px = 1.25 cells of stride 4): IoU 100 / 300.
    assert giou(5.0 / NET.stride) == pytest.approx(1 / 3, rel=1e-5)
    # Apart by a box width: IoU 0, and GIoU goes on falling with the distance.
    assert giou(20.0 / NET.stride) < giou(12.0 / NET.stride) < 0.0


@pytest.mark.parametrize("flip", [False, True])
def test_the_training_warp_moves_pixels_and_labels_together(flip):
    """A crop-and-scale (and a flip) puts a labelled block's pixels where its label goes."""
    import cv2
    from portfolio_ml_footai.model.targets import pixel_index_warp

    image = np.zeros((96, 128, 3), np.uint8)
    image[20:24, 40:44] = 255  # continuous [40, 44] × [20, 24], centre (42, 22)
    m = np.array([[0.5, 0.0, -3.0], [0.0, 0.5, -2.0]])
    if flip:
        m = np.array([[-1.0, 0.0, 64.0], [0.0, 1.0, 0.0]]) @ np.vstack([m, [0, 0, 1]])
    out = cv2.warpAffine(image, pixel_index_warp(m), (64, 48), flags=cv2.INTER_LINEAR)
    weight = out[..., 0].astype(float)
    ys, xs = np.mgrid[:48, :64] + 0.5  # pixel centres, continuous
    centroid = [(weight * xs).sum() / weight.sum(), (weight * ys).sum() / weight.sum()]
    np.testing.assert_allclose(centroid, m[:, :2] @ [42.0, 22.0] + m[:, 2], atol=1e-6)


def test_zoom_in_crops_show_the_players_larger_and_zero_keeps_the_old_random_stream():
    from portfolio_ml_footai.model.data import LabelledFrame
    from portfolio_ml_footai.model.targets import make_sample

    image = np.full((720, 1280, 3), 90, np.uint8)
    box = np.array([[620.0, 330.0, 660.0, 390.0]])  # one 60-px player in the middle
    frame = LabelledFrame(
        "one", image, box, np.array([PLAYER]), np.zeros((32, 2)), np.zeros(32, bool), True, False
    )

    def box_heights(zoom_in: float, seed: int = 3, n: int = 40) -> np.ndarray:
        rng = np.random.default_rng(seed)
        heights = []
        for _ in range(n):
            sample = make_sample(frame, (384, 224), NET.stride, rng, zoom_in)
            centre = np.unravel_index(np.argmax(sample.box_weight), sample.box_weight.shape)
            heights.append(float(np.exp(sample.size[centre][1])) if sample.box_weight.max() else 0)
        return np.array(heights)

    plain, zoomed = box_heights(0.0), box_heights(1.0)
    # Crops of 55-100 % of the width at 384 px: 0.30-0.55 of the frame's scale; zoomed 0.55-1.0
    # (a crop can cut the player, which only makes him shorter).
    seen_plain, seen_zoomed = plain[plain > 0], zoomed[zoomed > 0]
    assert len(seen_plain) > 20 and len(seen_zoomed) > 10
    assert seen_plain.max() <= 60 * 384 / (0.55 * 1280) + 0.5 < seen_zoomed.max()
    assert np.median(seen_zoomed) > 1.4 * np.median(seen_plain)
    # zoom_in 0 draws nothing more: as before the option, the first draw is the crop's width.
    checked = 0
    for seed in range(20):
        crop_w = 1280 * np.random.default_rng(seed).uniform(0.55, 1.0)
        s = make_sample(frame, (384, 224), NET.stride, np.random.default_rng(seed), 0.0)
        if s.box_weight.max() == 1.0:
            centre = np.unravel_index(np.argmax(s.box_weight), s.box_weight.shape)
            height = float(np.exp(s.size[centre][1]))
            if height > 0.9 * 60 * 384 / crop_w:  # the player not cut by the crop
                assert height == pytest.approx(60 * 384 / crop_w, rel=1e-3)
                checked += 1
    assert checked >= 5


def test_box_targets_reach_the_cells_around_each_centre_and_keep_every_centre():
    from portfolio_ml_footai.model.spec import ROLE_CLASSES
    from portfolio_ml_footai.model.targets import _box_targets

    gh, gw, stride = 20, 20, 4
    role = np.full((gh, gw), -1, np.int32)
    size, offset = np.zeros((gh, gw, 2), np.float32), np.zeros((gh, gw, 2), np.float32)
    weight = np.zeros((gh, gw), np.float32)
    # A tall player (8 × 32 px, 8 cells tall) and, one cell below its centre, a small referee.
    big, small = (PLAYER, 5.0, 8.0, 8.0, 32.0), (ROLE_CLASSES[2], 5.0, 9.0, 6.0, 12.0)
    _box_targets([big, small], stride, role, size, offset, weight)

    assert weight[8, 5] == 1.0 and role[8, 5] == ROLE_CLASSES.index(PLAYER)
    assert weight[9, 5] == 1.0 and role[9, 5] == 2  # the small box keeps its own centre
    np.testing.assert_allclose(size[9, 5], np.log([6.0, 12.0]))
    # Above the big centre: a lighter sample of the same box, its offset pointing back.
    assert 0.0 < weight[7, 5] < 1.0 and role[7, 5] == -1
    np.testing.assert_allclose(size[7, 5], np.log([8.0, 32.0]))
    np.testing.assert_allclose(offset[7, 5], [0.0, 1.0])
    assert weight[8, 7] == 0.0  # a 2-cell-wide box reaches no further than its centre column


def test_the_composed_colour_change_equals_the_changes_one_by_one():
    from portfolio_ml_footai.model.targets import _photometric

    image = np.random.default_rng(1).random((24, 32, 3)).astype(np.float32)
    for seed in range(10):
        rng = np.random.default_rng(seed)
        # The same draws, applied step by step.
        gain, shift = rng.uniform(0.7, 1.3), rng.uniform(-0.08, 0.08)
        x = image * gain + shift
        mean = x.mean()
        x = (x - mean) * rng.uniform(0.7, 1.3) + mean
        grey = x.mean(axis=2, keepdims=True)
        x = grey + (x - grey) * rng.uniform(0.6, 1.4)
        x = x * rng.uniform(0.92, 1.08, size=3)
        if rng.random() >= 0.25:  # no blur drawn: the composed change must match exactly
            expected = np.clip(x, 0, 1)
            got = _photometric(image, np.random.default_rng(seed))
            np.testing.assert_allclose(got, expected, atol=1e-5)


def test_quantize_rewrites_a_float_net_with_int8_weights_and_the_same_answers(tmp_path):
    """A float32 export (as `footai train` wrote before) → `footai quantize` → int8 weights;
    the rebuilt float net gives the flat buffer's own answers, the int8 one nearly them."""
    pytest.importorskip("tensorflow")
    import keras
    from portfolio_ml_footai.model.export import net_from_flat_buffer, write_flat_buffer
    from portfolio_ml_footai.model.net import build_net
    from portfolio_ml_footai.model.spec import NetSpec

    keras.utils.set_random_seed(3)
    net = build_net(NetSpec(128, 96))
    # Non-trivial batch norms, so that folding them into the filters is really checked.
    for layer in net.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            rng = np.random.default_rng(len(layer.name))
            layer.set_weights(
                [rng.uniform(0.5, 1.5, n), rng.normal(0, 0.1, n), rng.normal(0, 0.1, n),
                 rng.uniform(0.5, 2, n)]
            )  # fmt: skip
    source = write_flat_buffer(net, tmp_path / "float" / "footai_net.tflite", quantize=False)
    image = np.random.default_rng(0).integers(0, 256, (96, 128, 3), np.uint8)
    reference = FootNet(source).raw(image)
    rebuilt = net_from_flat_buffer(source)
    again = np.asarray(rebuilt(preprocess(image, (128, 96))))[0]
    np.testing.assert_allclose(again, reference, atol=1e-4)

    res = invoke("quantize", source, "--out", tmp_path / "q")
    assert res.exit_code == 0, res.output
    target = tmp_path / "q" / "footai_net.tflite"
    assert "int8 weights" in res.output
    assert target.stat().st_size < 0.5 * source.stat().st_size
    assert file_sha256(target) in (tmp_path / "q" / "footai_net.tflite.sha256").read_text()
    quantized = FootNet(target).raw(image)
    assert np.abs(quantized - reference).max() < 0.1 * np.abs(reference).max()

    # A quantized net, a file that is not a net, a missing file: one-line errors.
    for bad, message in (
        (target, "already quantized"),
        (SHIPPED, "already quantized"),
        (tmp_path / "missing.tflite", "no such file"),
    ):
        res = invoke("quantize", bad, "--out", tmp_path / "x")
        assert res.exit_code != 0 and message in res.output, res.output
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"\0" * 1000)
    res = invoke("quantize", junk, "--out", tmp_path / "x")
    assert res.exit_code != 0 and "not a LiteRT model" in res.output, res.output
    assert not (tmp_path / "x" / "footai_net.tflite").exists()
