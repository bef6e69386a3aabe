"""The ``portfolio-ml cifar`` commands end to end, through the real app and plugin loading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from portfolio_ml_cli.app import create_app
from typer.testing import CliRunner

runner = CliRunner()


def run(*args: str) -> Any:
    return runner.invoke(create_app(), ["cifar", *args], catch_exceptions=False)


def _image_file(path: Path, size: tuple[int, int], color: tuple[int, int, int]) -> Path:
    from PIL import Image

    Image.new("RGB", size, color).save(path)
    return path


@pytest.mark.realdata
def test_train_with_preset_file_then_eval_predict(
    jpeg_subset: Path, tiny_preset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    train = ["train", "--data", str(jpeg_subset), "--out", str(out), "--preset", str(tiny_preset),
             "--epochs", "2", "--subset", "500"]  # fmt: skip
    result = run(*train)
    assert result.exit_code == 0, result.output
    assert "test accuracy" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and metrics["train_images"] == 500
    assert metrics["config"]["widths"] == [16, 32, 32]

    # eval finds the training data through metrics.json when --data is omitted
    result = run("eval", "--model", str(out), "--tta")
    assert result.exit_code == 0, result.output
    assert "truck" in result.output and "all" in result.output

    big = _image_file(tmp_path / "big.png", (97, 55), (200, 30, 30))
    small = _image_file(tmp_path / "small.jpg", (16, 16), (30, 30, 200))
    result = run("predict", "--model", str(out), "--top-k", "2", str(big), str(small))
    assert result.exit_code == 0, result.output
    assert "big.png" in result.output and "small.jpg" in result.output

    # --resume on a finished run re-finalises without training again
    result = run(*train, "--resume")
    assert result.exit_code == 0, result.output
    assert "epoch   1" not in result.output


@pytest.mark.realdata
@pytest.mark.parametrize("fmt", ["savedmodel", "tflite"])
def test_export_round_trip(trained: tuple[Path, Any], fmt: str, tmp_path: Path) -> None:
    model_dir, _ = trained
    target = tmp_path / ("sm" if fmt == "savedmodel" else "m.tflite")
    result = run("export", "--model", str(model_dir), "--format", fmt, "--out", str(target))
    assert result.exit_code == 0, result.output
    assert "top-1 agreement 100%" in result.output

    import keras
    import tensorflow as tf

    x = np.random.default_rng(5).integers(0, 256, (3, 32, 32, 3)).astype(np.float32)
    expected = np.asarray(keras.saving.load_model(model_dir / "model.keras")(x))
    if fmt == "savedmodel":
        fn = tf.saved_model.load(str(target)).signatures["serving_default"]
        got = np.asarray(next(iter(fn(tf.constant(x)).values())))
    else:
        from portfolio_ml_cifar.export import tflite_interpreter

        interp = tflite_interpreter(model_path=str(target))
        inp, outp = interp.get_input_details()[0], interp.get_output_details()[0]
        interp.resize_tensor_input(inp["index"], [3, 32, 32, 3])
        interp.allocate_tensors()
        interp.set_tensor(inp["index"], x)
        interp.invoke()
        got = interp.get_tensor(outp["index"])
    np.testing.assert_allclose(got, expected, atol=1e-3)


@pytest.mark.realdata
def test_tune_writes_a_preset_train_can_use(jpeg_subset: Path, tmp_path: Path) -> None:
    from portfolio_ml_cifar.presets import TrainConfig, save_preset

    small = TrainConfig(widths=(8, 16, 16), epochs=1, tta=False)
    base = save_preset("b", small, tmp_path / "b.json")
    result = run(
        "tune",
        "--data",
        str(jpeg_subset),
        "--trials",
        "2",
        "--subset",
        "200",
        "--base",
        str(base),
        "--name",
        "mine",
    )
    assert result.exit_code == 0, result.output
    assert "val acc" in result.output and "preset 'mine'" in result.output
    from portfolio_ml_cifar.presets import resolve_preset

    tuned = resolve_preset("mine")
    assert tuned.widths == (8, 16, 16) and tuned.subset is None
    assert 2.0 <= tuned.lr <= 40.0 and tuned.batch_size in (128, 256, 512)
    result = run(
        "train",
        "--data",
        str(jpeg_subset),
        "--out",
        str(tmp_path / "t"),
        "--preset",
        "mine",
        "--epochs",
        "1",
        "--subset",
        "100",
    )
    assert result.exit_code == 0, result.output


def test_user_mistakes_are_one_line_errors(tmp_path: Path, official_dir: Path) -> None:
    cases = [
        (("train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "o")), "not found"),
        (
            (
                "train",
                "--data",
                str(official_dir),
                "--out",
                str(tmp_path / "o"),
                "--preset",
                "turbo",
            ),
            "unknown preset",
        ),
        (
            ("train", "--data", str(official_dir), "--out", str(tmp_path / "o2"), "--resume"),
            "no checkpoint",
        ),
        (("eval", "--model", str(tmp_path)), "no trained model"),
        (("predict", "--model", str(tmp_path), str(tmp_path / "x.png")), "image not found"),
        (("export", "--model", str(tmp_path), "--format", "onnx"), "unknown export format"),
        (("tune", "--data", str(official_dir), "--name", "../evil"), "--name must be"),
    ]
    for args, message in cases:
        result = run(*args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output
    (tmp_path / "model.keras").write_bytes(b"not a zip")
    result = run("eval", "--model", str(tmp_path), "--data", str(official_dir))
    assert result.exit_code == 1 and "could not load model" in result.output, result.output


@pytest.mark.realdata
def test_predict_rejects_non_images(trained: tuple[Path, Any], tmp_path: Path) -> None:
    bogus = tmp_path / "notes.png"
    bogus.write_text("hello")
    result = run("predict", "--model", str(trained[0]), str(bogus))
    assert result.exit_code == 1 and "not a decodable image" in result.output


def test_help_lists_every_command() -> None:
    result = run("--help")
    for command in ("train", "eval", "predict", "export", "tune", "serve"):
        assert command in result.output
