"""Fixtures: tiny synthetic official batches, a small image-folder subset of the real tarball,
and one tiny trained model shared by the eval/predict/export/serve tests."""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
from portfolio_ml_cifar.model import CLASS_NAMES
from portfolio_ml_cifar.presets import TrainConfig, save_preset

# A net small enough that a few epochs on ~1000 images take seconds on 2 cores.
TINY = TrainConfig(widths=(16, 32, 32), epochs=4, batch_size=100, tta=False)


@pytest.fixture(autouse=True)
def _isolated_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("PORTFOLIO_ML_CACHE_DIR", str(base / "cache"))
    monkeypatch.setenv("PORTFOLIO_ML_CIFAR_PRESETS", str(base / "presets"))


def write_official_batches(folder: Path, per_batch: int = 20, seed: int = 0) -> Path:
    """The official python layout, with tiny batches (labels cycle through the 10 classes)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        labels = [i % 10 for i in range(per_batch)]
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        with (folder / name).open("wb") as f:
            pickle.dump({b"data": data, b"labels": labels, b"batch_label": name.encode()}, f)
    with (folder / "batches.meta").open("wb") as f:
        pickle.dump({b"label_names": [c.encode() for c in CLASS_NAMES]}, f)
    return folder


@pytest.fixture(scope="session")
def make_official():  # type: ignore[no-untyped-def]
    return write_official_batches


@pytest.fixture(scope="session")
def official_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_official_batches(tmp_path_factory.mktemp("official") / "cifar-10-batches-py")


@pytest.fixture(scope="session")
def jpeg_subset(cifar_tarball: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``train``: 100 real JPEGs per class, ``test``: 30 per class, as a .tar.gz like the shared one."""
    quota = {"train": 100, "test": 30}
    counts: dict[tuple[str, str], int] = {}
    out = tmp_path_factory.mktemp("jpeg") / "cifar10-small.tar.gz"
    with tarfile.open(cifar_tarball, "r:gz") as src, tarfile.open(out, "w:gz") as dst:
        for member in src:
            parts = Path(member.name).parts
            if not member.isfile() or len(parts) < 3:
                continue
            key = (parts[-3], parts[-2])
            if counts.get(key, 0) >= quota.get(key[0], 0):
                continue
            counts[key] = counts.get(key, 0) + 1
            blob = src.extractfile(member).read()  # type: ignore[union-attr]
            info = tarfile.TarInfo("/".join(parts[-3:]))
            info.size = len(blob)
            dst.addfile(info, io.BytesIO(blob))
            if len(counts) == 20 and all(counts[k] >= quota[k[0]] for k in counts):
                break
    return out


@pytest.fixture(scope="session")
def jpeg_folder(jpeg_subset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("jpegdir")
    with tarfile.open(jpeg_subset) as tar:
        tar.extractall(root, filter="data")
    return root


@pytest.fixture(scope="session")
def tiny_preset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_preset("tiny", TINY, tmp_path_factory.mktemp("preset") / "tiny.json")


@pytest.fixture(scope="session")
def trained(jpeg_subset: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """(model dir, TrainResult) of one tiny run on the real-JPEG subset."""
    from portfolio_ml_cifar.data import load_cifar
    from portfolio_ml_cifar.train import train

    out = tmp_path_factory.mktemp("trained")
    result = train(load_cifar(jpeg_subset, use_cache=False), TINY, out)
    return out, result
