"""The CIFAR-10 page in a real browser: point it at a tiny trained model, upload an image."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from .conftest import screenshot, wait_idle

pytestmark = pytest.mark.ui


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """One epoch of the package's own training on 200 synthetic images (a few seconds)."""
    from portfolio_ml_cifar.data import CifarData
    from portfolio_ml_cifar.presets import TrainConfig
    from portfolio_ml_cifar.train import train

    rng = np.random.default_rng(0)
    colours = rng.integers(0, 256, (10, 3))
    y = np.arange(200) % 10
    x = np.clip(colours[y][:, None, None, :] + rng.normal(0, 30, (200, 32, 32, 3)), 0, 255)
    x = x.astype(np.uint8)
    out = tmp_path_factory.mktemp("tiny-cifar")
    data = CifarData(x[:150], y[:150], x[150:], y[150:], "synthetic")
    train(data, TrainConfig(widths=(8, 16, 16), epochs=1, batch_size=50, tta=False), out)
    return out


def test_cifar_model_figures_and_top5(ui_url, page, tiny_model, tmp_path):
    from PIL import Image
    from portfolio_ml_cifar.infer import load_model, predict_logits, softmax
    from portfolio_ml_cifar.model import CLASS_NAMES
    from portfolio_ml_cifar.serve import decode_image

    image = tmp_path / "photo.png"
    pixels = np.random.default_rng(3).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    image.write_bytes(buf.getvalue())

    page.goto(f"{ui_url}/cifar")
    box = page.get_by_label("Model directory (a folder written by `cifar train`)")
    box.fill(str(tiny_model))
    box.press("Enter")
    page.get_by_role("heading", name="Per-class accuracy").wait_for(timeout=120_000)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(image))
    prediction = page.locator('[data-testid="stMetric"]').filter(has_text="Prediction")
    prediction.wait_for(timeout=120_000)
    page.locator('[data-testid="stVegaLiteChart"]').nth(1).wait_for()
    wait_idle(page)

    p = softmax(predict_logits(load_model(tiny_model), decode_image(image.read_bytes())[None]))[0]
    best = int(np.argmax(p))
    value = prediction.locator('[data-testid="stMetricValue"]').inner_text().strip()
    delta = prediction.locator('[data-testid="stMetricDelta"]').inner_text().strip()
    # An untrained-ish net scores classes nearly alike: a near-tie may break either way
    # between two processes, so the shown class must be the best up to rounding.
    assert p[CLASS_NAMES.index(value)] >= p[best] - 1e-4
    assert float(delta.split()[-1].rstrip("%")) == pytest.approx(100 * p[best], abs=0.051)
    metrics = json.loads((tiny_model / "metrics.json").read_text())
    accuracy = page.locator('[data-testid="stMetric"]').filter(has_text="Test accuracy")
    shown = accuracy.locator('[data-testid="stMetricValue"]').inner_text().strip()
    assert shown == f"{100 * metrics['test_accuracy']:.2f}%"
    # The upload, the curves and the confusion matrix are decoded images.
    widths = page.locator('[data-testid="stImage"] img').evaluate_all(
        "imgs => imgs.map(i => i.naturalWidth)"
    )
    assert len(widths) == 3 and min(widths) > 30
    assert not page.locator('[data-testid="stException"]').count()
    assert not page.locator('[data-testid="stAlertContentError"]').count()
    shot = screenshot(page, "cifar")
    assert shot.stat().st_size > 30_000
