"""Training: a short real run learns; an interrupted run resumes where it stopped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from portfolio_ml_cifar.compute import choose_compute
from portfolio_ml_cifar.data import load_cifar
from portfolio_ml_cifar.model import CLASS_NAMES, NetConfig, build_model
from portfolio_ml_cifar.pipeline import augment_batch, epoch_permutation, train_dataset
from portfolio_ml_cifar.presets import TrainConfig
from portfolio_ml_cifar.train import CHECKPOINT, lr_factor, train
from portfolio_ml_core.errors import PortfolioError
from portfolio_ml_core.machine import CpuInfo, cpu_info

SMALL = TrainConfig(widths=(8, 16, 16), epochs=3, batch_size=50, tta=False)


@pytest.mark.realdata
def test_short_run_learns_and_writes_every_output(trained: tuple[Path, Any]) -> None:
    out, result = trained
    losses = [r.train_loss for r in result.history]
    assert losses[-1] < losses[0] - 0.1, losses
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.2  # chance is 0.1; 1000 real images, 4 epochs
    assert metrics["epochs"] == 4 and metrics["train_seconds"] > 0
    assert set(metrics["per_class_accuracy"]) == set(CLASS_NAMES)
    assert sum(map(sum, metrics["confusion_matrix"])) == 300
    for name in ("model.keras", "curves.png", "confusion_matrix.png"):
        assert (out / name).stat().st_size > 1000, name
    assert any((out / "logs").rglob("events.out.tfevents.*"))
    assert not list(out.glob(".*part*"))  # atomic writes left no temporary files


class Interrupt(Exception):
    pass


def _checkpoint_history(folder: Path) -> list[dict[str, Any]]:
    with np.load(folder / CHECKPOINT) as z:
        return list(json.loads(bytes(z["meta"]).decode())["history"])


def test_resume_after_interruption_matches_an_uninterrupted_run(
    official_dir: Path, tmp_path: Path
) -> None:
    import keras

    data = load_cifar(official_dir, use_cache=False)
    whole = train(data, SMALL, tmp_path / "whole")

    def crash_after_2(record: Any) -> None:
        if record.epoch == 2:
            raise Interrupt

    split = tmp_path / "split"
    with pytest.raises(Interrupt):
        train(data, SMALL, split, on_epoch=crash_after_2)
    assert (split / CHECKPOINT).exists() and not (split / "model.keras").exists()
    first_two = _checkpoint_history(split)

    # Other settings, or no checkpoint at all, are refused rather than silently mixed.
    with pytest.raises(PortfolioError, match="different settings"):
        train(data, SMALL.with_overrides(batch_size=20), split, resume=True)
    with pytest.raises(PortfolioError, match="no checkpoint"):
        train(data, SMALL, tmp_path / "fresh", resume=True)

    seen: list[int] = []
    resumed = train(data, SMALL, split, resume=True, on_epoch=lambda r: seen.append(r.epoch))
    assert seen == [3]  # nothing before the crash is redone
    assert [r.epoch for r in resumed.history] == [1, 2, 3]
    assert [r.train_loss for r in resumed.history[:2]] == [r["train_loss"] for r in first_two]
    assert resumed.metrics["train_seconds"] >= first_two[-1]["train_seconds"]
    # Weights, optimizer slots, lookahead state and the data order all came back exactly.
    a = keras.saving.load_model(tmp_path / "whole" / "model.keras")
    b = keras.saving.load_model(split / "model.keras")
    for va, vb in zip(a.weights, b.weights, strict=True):
        np.testing.assert_allclose(va.numpy(), vb.numpy(), rtol=1e-3, atol=1e-4)
    assert resumed.history[2].train_loss == pytest.approx(whole.history[2].train_loss, rel=1e-3)


def test_triangular_schedule_shape() -> None:
    config = TrainConfig()
    assert lr_factor(0, 100, config) == pytest.approx(0.2)
    assert lr_factor(23, 100, config) == pytest.approx(1.0)
    assert lr_factor(100, 100, config) == pytest.approx(0.07)
    assert lr_factor(10, 100, config) < lr_factor(20, 100, config)


def test_augmentation_translates_and_flips_deterministically() -> None:
    import tensorflow as tf

    images = np.arange(4 * 32 * 32 * 3, dtype=np.float32).reshape(4, 32, 32, 3)
    seed = tf.constant([1, 2], tf.int64)
    a = augment_batch(tf.constant(images), seed).numpy()
    b = augment_batch(tf.constant(images), seed).numpy()
    assert np.array_equal(a, b) and a.shape == images.shape
    assert not np.array_equal(a, images)
    # Each output is the input shifted by ≤ 2 px and maybe mirrored: its centre pixels exist in it.
    for out, src in zip(a, images, strict=True):
        assert np.isin(out[10:22, 10:22, 0], src[:, :, 0]).all()
    perm = epoch_permutation(103, 10, seed=0, epoch=1)
    assert perm.shape == (10, 10) and len(set(perm.ravel())) == 100
    assert np.array_equal(perm, epoch_permutation(103, 10, seed=0, epoch=1))
    assert not np.array_equal(perm, epoch_permutation(103, 10, seed=0, epoch=2))


def test_flips_alternate_between_epochs() -> None:
    # airbench's scheme: an image shown as-is in one epoch is shown mirrored in the next.
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8)
    y = np.arange(40)
    seen: list[dict[int, bool]] = []
    for epoch in (0, 1, 2):
        mirrored = {}
        for batch, labels in train_dataset(x, y, 8, seed=0, epoch=epoch, translate=0):
            for image, label in zip(batch.numpy(), labels.numpy(), strict=True):
                src = x[label].astype(np.float32)
                assert np.array_equal(image, src) or np.array_equal(image, src[:, ::-1])
                mirrored[int(label)] = not np.array_equal(image, src)
        seen.append(mirrored)
    assert all(seen[0][i] != seen[1][i] for i in range(40))
    assert seen[0] == seen[2]
    assert 5 < sum(seen[0].values()) < 35  # a random orientation per image, not all the same


def test_convs_start_as_identity_like_airbench() -> None:
    model = build_model()
    kernel = model.get_layer("block2_conv2").kernel.numpy()  # 256 → 256: all identity
    assert np.array_equal(kernel[1, 1], np.eye(256, dtype=np.float32))
    assert not kernel[0].any() and not kernel[2].any()
    kernel = model.get_layer("block2_conv1").kernel.numpy()  # 64 → 256: 64 identity filters
    assert np.array_equal(kernel[1, 1, :, :64], np.eye(64, dtype=np.float32))
    rest = kernel[..., 64:]
    assert 0 < np.abs(rest).max() <= 1 / np.sqrt(9 * 64) and rest.std() > 0.01
    head = model.get_layer("head").kernel.numpy()
    assert np.abs(head).max() <= 1 / 16


AMX = CpuInfo("test CPU with AMX", ("avx2", "avx512f", "avx512_bf16", "amx_bf16"))
AVX2 = CpuInfo("test CPU with AVX2", ("avx2",))
TINY = NetConfig(widths=(8, 16, 16))


def test_precision_follows_the_hardware_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    import portfolio_ml_cifar.compute as compute

    def choose(precision: str, on_gpu: bool = False, cpu: CpuInfo = AMX) -> str:
        return choose_compute(precision, on_gpu, TINY, 64, cpu).policy

    assert choose("auto", on_gpu=True) == "mixed_float16"
    assert choose("auto", cpu=AVX2) == "float32"  # bf16 would be emulated: no probe
    assert choose("bfloat16", cpu=AVX2) == "mixed_bfloat16"
    assert choose("float32", on_gpu=True) == "float32"
    with pytest.raises(PortfolioError, match="unknown precision"):
        choose("int8")
    # With bf16 units, the probe decides: bf16 only when clearly faster.
    speeds = {"float32": 100.0, "mixed_bfloat16": 140.0}
    monkeypatch.setattr(compute, "probe_speeds", lambda net, batch: (speeds, 1.5))
    picked = choose_compute("auto", False, TINY, 64, AMX)
    assert picked.policy == "mixed_bfloat16" and "1.40×" in picked.reason
    assert picked.to_json()["probe_images_per_s"] == speeds
    speeds["mixed_bfloat16"] = 102.0  # within noise of float32: keep float32
    assert choose("auto") == "float32"


def test_the_probe_measures_both_precisions() -> None:
    from portfolio_ml_cifar.compute import probe_speeds

    speeds, seconds = probe_speeds(TINY, 16)
    assert set(speeds) == {"float32", "mixed_bfloat16"}
    assert all(v > 0 for v in speeds.values()) and seconds > 0


def test_cpu_info_reads_the_name_and_the_flags_that_matter() -> None:
    cpu = cpu_info("model name\t: Some CPU\nflags\t\t: fpu avx2 avx512f amx_bf16 sse\n")
    assert cpu.name == "Some CPU" and cpu.flags == ("avx2", "avx512f", "amx_bf16")
    assert cpu.has_bf16_units
    assert not cpu_info("flags\t: sse2 avx2\n").has_bf16_units


def test_bf16_training_saves_a_float32_model_and_freezes_the_whitening_bias(
    official_dir: Path, tmp_path: Path
) -> None:
    import keras

    data = load_cifar(official_dir, use_cache=False)
    config = SMALL.with_overrides(epochs=2, batch_size=20)  # 10 steps: two lookahead periods

    def whiten_bias(folder: Path) -> np.ndarray:
        model = keras.saving.load_model(folder / "model.keras")
        # Trained in bf16, saved in float32: eval, serve and TFLite all run full precision.
        assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}
        return np.asarray(model.get_layer("whiten").bias.numpy())

    trained = train(data, config, tmp_path / "trained", precision="bfloat16")
    assert trained.metrics["training_precision"] == "mixed_bfloat16"
    assert trained.metrics["compute"]["reason"] == "--precision bfloat16"
    assert trained.metrics["setup_seconds"] > 0
    # whiten_bias_epochs (3) covers both epochs: the bias trained.
    assert np.abs(whiten_bias(tmp_path / "trained")).max() > 0
    train(
        data, config.with_overrides(whiten_bias_epochs=0), tmp_path / "frozen", precision="bfloat16"
    )
    assert not whiten_bias(tmp_path / "frozen").any()  # never moved: no gradient, no decay


def test_a_run_shorter_than_one_lookahead_period_keeps_its_training(
    official_dir: Path, tmp_path: Path
) -> None:
    import keras

    data = load_cifar(official_dir, use_cache=False)
    train(data, SMALL.with_overrides(epochs=1), tmp_path / "short")  # 2 steps < 5
    model = keras.saving.load_model(tmp_path / "short" / "model.keras")
    assert np.abs(model.get_layer("whiten").bias.numpy()).max() > 0  # not reset to its init


def test_tta_averages_flips_and_shifts_and_reports_the_plain_pass_too() -> None:
    """One pass gives both accuracies: the plain logits are exactly `predict_logits`', and the
    TTA logits the mean of the six forwards (flip, and flips of the two 1-px diagonal shifts
    with reflect padding), computed here by hand."""
    from portfolio_ml_cifar.infer import predict_logits, predict_logits_with_tta

    model = build_model(NetConfig(widths=(8, 16, 16)))
    images = np.random.default_rng(0).integers(0, 256, (7, 32, 32, 3)).astype(np.float32)
    plain, tta = predict_logits_with_tta(model, images, batch_size=4)

    def forward(x: np.ndarray) -> np.ndarray:
        return np.asarray(model(x, training=False))

    def mirror(x: np.ndarray) -> np.ndarray:
        return 0.5 * forward(x) + 0.5 * forward(x[:, :, ::-1].copy())

    padded = np.pad(images, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="reflect")
    shifted = 0.5 * mirror(padded[:, :32, :32].copy()) + 0.5 * mirror(padded[:, 2:, 2:].copy())
    np.testing.assert_allclose(plain, forward(images), atol=1e-4)
    np.testing.assert_allclose(plain, predict_logits(model, images), atol=1e-5)
    np.testing.assert_allclose(tta, 0.5 * mirror(images) + 0.5 * shifted, atol=1e-4)
    np.testing.assert_allclose(tta, predict_logits(model, images, tta=True), atol=1e-5)
    assert not np.allclose(tta, plain, atol=1e-3)  # the augmentations do change the answer
