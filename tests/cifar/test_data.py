"""Data loading: every accepted source, the cache, and clear errors for bad data."""

from __future__ import annotations

import io
import pickle
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
from portfolio_ml_cifar import data as data_mod
from portfolio_ml_cifar.data import cache_dir, load_cifar
from portfolio_ml_core.errors import InputFileError, PortfolioError


def test_official_folder_decodes_channel_planar_pixels(official_dir: Path) -> None:
    d = load_cifar(official_dir, use_cache=False)
    assert d.x_train.shape == (100, 32, 32, 3) and d.x_test.shape == (20, 32, 32, 3)
    assert d.x_train.dtype == np.uint8
    with (official_dir / "data_batch_1").open("rb") as f:
        raw = pickle.load(f, encoding="bytes")
    # pixel (row 0, col 1) of image 0: red at offset 1, green at 1024 + 1, blue at 2048 + 1
    assert d.x_train[0, 0, 1].tolist() == [raw[b"data"][0][i] for i in (1, 1025, 2049)]
    assert d.y_train[:12].tolist() == [*range(10), 0, 1]


def test_parent_of_batches_folder_is_accepted(official_dir: Path) -> None:
    assert len(load_cifar(official_dir.parent, use_cache=False).x_train) == 100


def test_official_archive_with_wrong_checksum_is_refused(
    official_dir: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(official_dir, arcname="cifar-10-batches-py")
    with pytest.raises(InputFileError, match="sha256"):
        load_cifar(archive, use_cache=False)


def test_official_archive_members_decode_when_checksum_matches(
    official_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(official_dir, arcname="cifar-10-batches-py")
    import hashlib

    monkeypatch.setattr(
        data_mod, "OFFICIAL_ARCHIVE_SHA256", hashlib.sha256(archive.read_bytes()).hexdigest()
    )
    d = load_cifar(archive, use_cache=False)
    assert d.x_train.shape == (100, 32, 32, 3) and d.y_test.tolist()[:3] == [0, 1, 2]


def test_missing_batch_is_named(official_dir: Path, tmp_path: Path) -> None:
    broken = shutil.copytree(official_dir, tmp_path / "cifar-10-batches-py")
    (broken / "data_batch_3").unlink()
    with pytest.raises(InputFileError, match="missing data_batch_3"):
        load_cifar(broken, use_cache=False)


def test_corrupt_batch_is_named(tmp_path: Path, make_official) -> None:  # type: ignore[no-untyped-def]
    folder = make_official(tmp_path / "b")
    (folder / "test_batch").write_bytes(b"\x80\x04garbage")
    with pytest.raises(InputFileError, match="test_batch is corrupt"):
        load_cifar(folder, use_cache=False)


def test_batch_with_wrong_shape_is_refused(tmp_path: Path, make_official) -> None:  # type: ignore[no-untyped-def]
    folder = make_official(tmp_path / "b")
    with (folder / "data_batch_2").open("wb") as f:
        pickle.dump({b"data": np.zeros((4, 100), np.uint8), b"labels": [0] * 4}, f)
    with pytest.raises(InputFileError, match="data_batch_2 is corrupt"):
        load_cifar(folder, use_cache=False)


def test_pickle_with_code_is_refused(tmp_path: Path, make_official) -> None:  # type: ignore[no-untyped-def]
    folder = make_official(tmp_path / "b")
    (folder / "data_batch_1").write_bytes(pickle.dumps(shutil.rmtree))
    with pytest.raises(InputFileError, match="data_batch_1 is corrupt"):
        load_cifar(folder, use_cache=False)


@pytest.mark.realdata
def test_image_folder_tarball_and_root_agree(jpeg_subset: Path, jpeg_folder: Path) -> None:
    from_tar = load_cifar(jpeg_subset, use_cache=False)
    from_dir = load_cifar(jpeg_folder, use_cache=False)
    assert from_tar.x_train.shape == (1000, 32, 32, 3) and from_tar.x_test.shape == (300, 32, 32, 3)
    assert np.bincount(from_tar.y_train).tolist() == [100] * 10
    # Same images in both, whatever order the archive listed them in.
    assert sorted(from_tar.x_train.reshape(1000, -1).sum(1).tolist()) == sorted(
        from_dir.x_train.reshape(1000, -1).sum(1).tolist()
    )
    assert 60 < from_tar.x_train.mean() < 190  # real photos, not blank decodes


@pytest.mark.realdata
def test_cache_is_written_once_and_reused(
    jpeg_subset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_cifar(jpeg_subset)
    assert list(cache_dir().glob("cifar10-*.npz"))

    def no_decode(path: Path) -> None:
        raise AssertionError("decoded again despite the cache")

    monkeypatch.setattr(data_mod, "_decode", no_decode)
    second = load_cifar(jpeg_subset)
    assert np.array_equal(first.x_train, second.x_train)
    assert np.array_equal(first.y_test, second.y_test)


def test_damaged_cache_is_rebuilt(official_dir: Path) -> None:
    load_cifar(official_dir)
    for f in cache_dir().glob("cifar10-*.npz"):
        f.write_bytes(b"not an npz")
    assert len(load_cifar(official_dir).x_train) == 100


def _image_tar(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, blob in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


def _png(value: int, size: tuple[int, int] = (32, 32)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, (value, value, value)).save(buf, format="PNG")
    return buf.getvalue()


def _full_folder(skip_test: bool = False, size: tuple[int, int] = (32, 32)) -> dict[str, bytes]:
    files = {}
    for i, cls in enumerate(data_mod.CLASS_NAMES):
        files[f"cifar/train/{cls}/0.png"] = _png(i * 20, size)
        if not skip_test:
            files[f"cifar/test/{cls}/0.png"] = _png(i * 20, size)
    return files


def test_image_folder_under_a_top_folder_and_other_sizes(tmp_path: Path) -> None:
    d = load_cifar(_image_tar(tmp_path / "x.tar.gz", _full_folder(size=(50, 40))), use_cache=False)
    assert d.x_train.shape == (10, 32, 32, 3)
    assert sorted(d.x_train[:, 0, 0, 0].tolist()) == [i * 20 for i in range(10)]


def test_missing_test_split_is_reported(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="test split is missing"):
        load_cifar(_image_tar(tmp_path / "x.tar.gz", _full_folder(skip_test=True)), use_cache=False)


def test_missing_class_is_named(tmp_path: Path) -> None:
    files = {k: v for k, v in _full_folder().items() if "/test/frog/" not in k}
    with pytest.raises(InputFileError, match="test split has no images of frog"):
        load_cifar(_image_tar(tmp_path / "x.tar.gz", files), use_cache=False)


def test_unknown_class_is_named(tmp_path: Path) -> None:
    files = {**_full_folder(), "cifar/train/unicorn/0.png": _png(1)}
    with pytest.raises(InputFileError, match="unicorn"):
        load_cifar(_image_tar(tmp_path / "x.tar.gz", files), use_cache=False)


def test_corrupt_image_is_named(tmp_path: Path) -> None:
    files = {**_full_folder(), "cifar/train/cat/bad.jpg": b"\xff\xd8 not really a jpeg"}
    with pytest.raises(InputFileError, match=r"corrupt image cifar/train/cat/bad\.jpg"):
        load_cifar(_image_tar(tmp_path / "x.tar.gz", files), use_cache=False)


def test_truncated_archive_is_reported(tmp_path: Path) -> None:
    whole = _image_tar(tmp_path / "x.tar.gz", _full_folder()).read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputFileError, match="truncated or corrupt"):
        load_cifar(cut, use_cache=False)


def test_unrelated_folder_and_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="not found"):
        load_cifar(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="is not CIFAR-10 data"):
        load_cifar(tmp_path / "empty")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(InputFileError, match="neither a folder nor"):
        load_cifar(tmp_path / "notes.txt")


def test_no_data_offline_refuses_to_download() -> None:
    # tests/conftest.py sets PORTFOLIO_ML_OFFLINE for the whole session.
    with pytest.raises(PortfolioError, match="downloads are disabled"):
        load_cifar(None)


def test_subset_is_deterministic(official_dir: Path) -> None:
    d = load_cifar(official_dir, use_cache=False)
    a, b = d.subset(30, seed=3), d.subset(30, seed=3)
    assert len(a.x_train) == 30 and np.array_equal(a.y_train, b.y_train)
    assert len(a.x_test) == len(d.x_test)
