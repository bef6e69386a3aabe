"""The CIFAR-10 Streamlit page (AppTest): model folder → figures; image → the model's own top 5."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from portfolio_ml_cifar import plugin
from portfolio_ml_cifar.model import CLASS_NAMES
from portfolio_ml_core.ui import UIPageRegistry

testing = pytest.importorskip("streamlit.testing.v1")

SCRIPT = "from portfolio_ml_cifar.ui import render\nrender()\n"


def train_tiny_model(out: Path) -> Path:
    """One epoch of the package's own training on 200 synthetic images: a real model.keras,
    metrics.json, curves.png and confusion_matrix.png in a few seconds."""
    from portfolio_ml_cifar.data import CifarData
    from portfolio_ml_cifar.presets import TrainConfig
    from portfolio_ml_cifar.train import train

    rng = np.random.default_rng(0)
    # Each class a colour, so the images are not pure noise.
    colours = rng.integers(0, 256, (10, 3))
    y = np.arange(200) % 10
    x = np.clip(colours[y][:, None, None, :] + rng.normal(0, 30, (200, 32, 32, 3)), 0, 255)
    data = CifarData(
        x[:150].astype(np.uint8), y[:150], x[150:].astype(np.uint8), y[150:], "synthetic"
    )
    train(data, TrainConfig(widths=(8, 16, 16), epochs=1, batch_size=50, tta=False), out)
    return out


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tiny_model(tmp_path_factory.mktemp("tiny-cifar"))


def png_bytes(seed: int = 1) -> bytes:
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def _app():  # type: ignore[no-untyped-def]
    app = testing.AppTest.from_string(SCRIPT, default_timeout=90)
    return app.run()


def test_page_is_registered() -> None:
    registry = UIPageRegistry()
    plugin.register_ui_pages(registry)
    page = registry.get("cifar")
    assert (page.title, page.order) == ("CIFAR-10", 30)


def test_no_model_gives_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORTFOLIO_ML_CIFAR_MODEL", raising=False)
    app = _app()
    assert not app.exception
    assert app.text_input[0].value == ""
    assert "cifar train" in app.info[0].value
    assert not app.error


def test_missing_model_folder_is_an_error_in_the_page(tmp_path: Path) -> None:
    app = _app()
    app.text_input[0].input(str(tmp_path / "nowhere")).run()
    assert not app.exception
    assert len(app.error) == 1 and "nowhere" in app.error[0].value


def test_model_figures_and_top5_match_the_cli_inference(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portfolio_ml_cifar.infer import load_model, predict_logits, softmax
    from portfolio_ml_cifar.serve import decode_image

    monkeypatch.setenv("PORTFOLIO_ML_CIFAR_MODEL", str(tiny_model))
    app = _app()
    assert not app.exception
    assert app.text_input[0].value == str(tiny_model)  # default from the environment
    metrics = json.loads((tiny_model / "metrics.json").read_text())
    shown = {m.label: m.value for m in app.metric}
    assert shown["Test accuracy"] == f"{100 * metrics['test_accuracy']:.2f}%"
    assert shown["Epochs"] == "1"
    per_class = app.dataframe[-1].value
    assert list(per_class["class"]) == list(CLASS_NAMES)

    image = tmp_path / "photo.png"
    image.write_bytes(png_bytes())
    app.text_input[1].input(str(image)).run()
    assert not app.exception and not app.error
    top = app.dataframe[0].value
    assert len(top) == 5 and set(top["label"]) <= set(CLASS_NAMES)
    # The page's numbers are the package's inference, not a second implementation.
    p = softmax(predict_logits(load_model(tiny_model), decode_image(png_bytes())[None]))[0]
    order = np.argsort(p)[::-1][:5]
    assert list(top["label"]) == [CLASS_NAMES[i] for i in order]
    assert [float(v) for v in top["probability"]] == pytest.approx(p[order], abs=1e-3)
    assert next(m for m in app.metric if m.label == "Prediction").value == CLASS_NAMES[order[0]]


def test_non_image_is_an_error_in_the_page(tiny_model: Path, tmp_path: Path) -> None:
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    app = _app()
    app.text_input[0].input(str(tiny_model)).run()
    app.text_input[1].input(str(bad)).run()
    assert not app.exception
    assert len(app.error) == 1 and "not a decodable image" in app.error[0].value
