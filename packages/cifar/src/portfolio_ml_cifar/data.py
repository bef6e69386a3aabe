"""Load CIFAR-10 from whatever the user has, decode it once, cache the arrays.

Accepted sources (``--data``):

* the official ``cifar-10-batches-py/`` folder (or its parent);
* the official ``cifar-10-python.tar.gz`` (its sha256 is verified);
* an image-folder root ``train/<class>/*``, ``test/<class>/*`` or a ``.tar.gz``/``.tgz``/``.tar`` of one
  (a single top-level folder inside the archive is allowed);
* nothing: ``keras.datasets.cifar10`` downloads it, on a connected machine only.

Decoded arrays are cached as ``.npz`` in ``$PORTFOLIO_ML_CACHE_DIR`` or the user cache folder, keyed
by the source's path, size and modification time, so the 60 000 JPEGs are decoded once.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pickle
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import ClassVar

import numpy as np
from portfolio_ml_core.errors import InputFileError, PortfolioError
from portfolio_ml_core.fsutil import write_npz_atomic

from portfolio_ml_cifar.model import CLASS_NAMES

OFFICIAL_ARCHIVE_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
OFFICIAL_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
OFFICIAL_TEST_BATCH = "test_batch"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".ppm"}
CACHE_VERSION = 1


@dataclass(frozen=True)
class CifarData:
    """Decoded CIFAR-10: uint8 (N, 32, 32, 3) RGB images and int labels in ``CLASS_NAMES`` order."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str

    def subset(self, n_train: int | None, seed: int = 0) -> CifarData:
        """A class-balanced-in-expectation random subset of the training split (test kept whole)."""
        if n_train is None or n_train >= len(self.x_train):
            return self
        if n_train < 1:
            raise PortfolioError(f"--subset must be at least 1, got {n_train}")
        idx = np.random.default_rng(seed).permutation(len(self.x_train))[:n_train]
        return CifarData(
            self.x_train[idx], self.y_train[idx], self.x_test, self.y_test, self.source
        )

    def test_subset(self, n_test: int | None, seed: int = 0) -> CifarData:
        if n_test is None or n_test >= len(self.x_test):
            return self
        idx = np.random.default_rng(seed + 1).permutation(len(self.x_test))[:n_test]
        return CifarData(
            self.x_train, self.y_train, self.x_test[idx], self.y_test[idx], self.source
        )


def cache_dir() -> Path:
    """Decoded datasets: ``cifar/`` under the one cache root core owns."""
    from portfolio_ml_core.models import cache_dir as core_cache_dir

    return core_cache_dir() / "cifar"


def load_cifar(source: str | os.PathLike[str] | None, *, use_cache: bool = True) -> CifarData:
    """Decode ``source`` (see module doc) into arrays, from the cache when it is fresh."""
    if source is None:
        return _load_keras()
    path = Path(source).expanduser()
    if not path.exists():
        raise InputFileError(f"CIFAR data not found: {path}")
    cache_file = cache_dir() / f"cifar10-{_cache_key(path)}.npz" if use_cache else None
    if cache_file is not None and cache_file.exists():
        try:
            return _read_cache(cache_file, str(path))
        except (OSError, ValueError, KeyError):
            cache_file.unlink(missing_ok=True)  # a damaged cache is rebuilt, not fatal
    data = _decode(path)
    if cache_file is not None:
        _write_cache(cache_file, data)
    return data


def _decode(path: Path) -> CifarData:
    if path.is_dir():
        batches = _find_batches_dir(path)
        if batches is not None:
            return _from_official_members(_dir_members(batches, OFFICIAL_NAMES), str(path))
        return _from_image_folder(_dir_image_members(path), str(path))
    if path.suffix not in {".gz", ".tgz", ".tar"}:
        raise InputFileError(
            f"{path} is neither a folder nor a .tar.gz/.tgz/.tar archive of CIFAR-10"
        )
    try:
        with tarfile.open(path, "r:*") as tar:
            names = [m.name for m in tar.getmembers() if m.isfile()]
            if any(PurePosixPath(n).name == "data_batch_1" for n in names):
                verify_official_archive(path)
                return _from_official_members(_tar_members(tar, names), str(path))
            return _from_image_folder(_tar_image_members(tar, names), str(path))
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise InputFileError(
            f"{path} is not a readable archive (truncated or corrupt?): {exc}"
        ) from None


# --- official python batches -------------------------------------------------------------------

OFFICIAL_NAMES = (*OFFICIAL_TRAIN_BATCHES, OFFICIAL_TEST_BATCH)


def verify_official_archive(path: Path) -> None:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != OFFICIAL_ARCHIVE_SHA256:
        raise InputFileError(
            f"{path} looks like the official CIFAR-10 archive but its sha256 is "
            f"{digest.hexdigest()[:16]}…, expected {OFFICIAL_ARCHIVE_SHA256[:16]}… "
            "(corrupt or incomplete download; extract it and pass the folder to skip the check)"
        )


def _find_batches_dir(path: Path) -> Path | None:
    for candidate in (path, path / "cifar-10-batches-py"):
        if any((candidate / n).exists() for n in OFFICIAL_NAMES):
            return candidate
    return None


def _dir_members(folder: Path, names: Iterable[str]) -> dict[str, bytes | None]:
    return {n: (folder / n).read_bytes() if (folder / n).is_file() else None for n in names}


def _tar_members(tar: tarfile.TarFile, names: list[str]) -> dict[str, bytes | None]:
    by_base = {PurePosixPath(n).name: n for n in names}
    out: dict[str, bytes | None] = {}
    for wanted in OFFICIAL_NAMES:
        member = by_base.get(wanted)
        f = tar.extractfile(member) if member else None
        out[wanted] = f.read() if f else None
    return out


def _from_official_members(members: dict[str, bytes | None], source: str) -> CifarData:
    missing = [n for n, blob in members.items() if blob is None]
    if missing:
        raise InputFileError(
            f"CIFAR-10 batches in {source} are incomplete: missing {', '.join(missing)}"
        )
    train = [_decode_batch(n, members[n]) for n in OFFICIAL_TRAIN_BATCHES]
    x_test, y_test = _decode_batch(OFFICIAL_TEST_BATCH, members[OFFICIAL_TEST_BATCH])
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return CifarData(x_train, y_train, x_test, y_test, source)


def _decode_batch(name: str, blob: bytes | None) -> tuple[np.ndarray, np.ndarray]:
    assert blob is not None
    try:
        # The official batches are trusted pickles of plain dicts; refuse anything else.
        batch = _SafeUnpickler(io.BytesIO(blob), encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except Exception as exc:
        raise InputFileError(
            f"CIFAR-10 batch {name} is corrupt: {type(exc).__name__}: {exc}"
        ) from None
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise InputFileError(
            f"CIFAR-10 batch {name} is corrupt: data shape {data.shape}, {len(labels)} labels "
            "(expected (N, 3072) and N labels)"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= len(CLASS_NAMES)):
        raise InputFileError(f"CIFAR-10 batch {name} has labels outside 0..9")
    # channel-planar (N, 3, 32, 32) → (N, 32, 32, 3)
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy(), labels


class _SafeUnpickler(pickle.Unpickler):
    _ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
    }

    def find_class(self, module: str, name: str) -> type:
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)  # type: ignore[no-any-return]
        raise pickle.UnpicklingError(f"unexpected object {module}.{name} in a CIFAR batch")


# --- image folders -------------------------------------------------------------------------------

# (split, class name, display name, bytes loader)
ImageMember = tuple[str, str, str, "bytes"]


def _split_and_class(parts: tuple[str, ...]) -> tuple[str, str] | None:
    """``(…, train|test, <class>, file)`` → (split, class); None for anything else."""
    if len(parts) < 3:
        return None
    split, cls = parts[-3], parts[-2]
    if split not in ("train", "test"):
        return None
    return split, cls


def _dir_image_members(root: Path) -> Iterator[ImageMember]:
    if not (root / "train").is_dir() and not (root / "test").is_dir():
        raise InputFileError(
            f"{root} is not CIFAR-10 data: expected cifar-10-batches-py files or "
            "train/<class>/ and test/<class>/ image folders"
        )
    for file in sorted(root.glob("*/*/*")):
        if file.suffix.lower() in IMAGE_SUFFIXES and file.is_file():
            key = _split_and_class(file.relative_to(root).parts)
            if key:
                yield key[0], key[1], str(file), file.read_bytes()


def _tar_image_members(tar: tarfile.TarFile, names: list[str]) -> Iterator[ImageMember]:
    for name in names:
        parts = PurePosixPath(name).parts
        if PurePosixPath(name).suffix.lower() not in IMAGE_SUFFIXES:
            continue
        key = _split_and_class(parts)
        if key is None or len(parts) > 4:
            continue
        f = tar.extractfile(name)
        if f is not None:
            yield key[0], key[1], name, f.read()


def _from_image_folder(members: Iterable[ImageMember], source: str) -> CifarData:
    from portfolio_ml_cifar.images import ImageDecodeError, to_net_rgb

    images: dict[str, list[np.ndarray]] = {"train": [], "test": []}
    labels: dict[str, list[int]] = {"train": [], "test": []}
    index = {name: i for i, name in enumerate(CLASS_NAMES)}
    unknown: set[str] = set()
    for split, cls, display, blob in members:
        if cls not in index:
            unknown.add(cls)
            continue
        try:
            images[split].append(to_net_rgb(blob))
        except ImageDecodeError as exc:
            raise InputFileError(f"corrupt image {display} in {source}: {exc}") from None
        labels[split].append(index[cls])
    if unknown:
        raise InputFileError(
            f"{source} has class folders that are not CIFAR-10 classes: {', '.join(sorted(unknown))}"
        )
    for split in ("train", "test"):
        if not images[split]:
            raise InputFileError(
                f"{source} has no {split}/<class>/ images: the {split} split is missing"
            )
        present = set(labels[split])
        if len(present) != len(CLASS_NAMES):
            missing = [CLASS_NAMES[i] for i in range(len(CLASS_NAMES)) if i not in present]
            raise InputFileError(f"{source}: {split} split has no images of {', '.join(missing)}")
    return CifarData(
        np.stack(images["train"]),
        np.asarray(labels["train"], dtype=np.int64),
        np.stack(images["test"]),
        np.asarray(labels["test"], dtype=np.int64),
        source,
    )


# --- keras download & cache ----------------------------------------------------------------------


def _load_keras() -> CifarData:
    if os.environ.get("PORTFOLIO_ML_OFFLINE"):
        raise PortfolioError(
            "no --data given and downloads are disabled (PORTFOLIO_ML_OFFLINE): pass --data PATH "
            "(cifar-10-batches-py/, cifar-10-python.tar.gz or an image-folder tarball)"
        )
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    except Exception as exc:  # no network, proxy, half-written download
        raise PortfolioError(
            f"could not download CIFAR-10 with Keras ({exc}); pass --data PATH"
        ) from None
    return CifarData(
        x_train, y_train.reshape(-1), x_test, y_test.reshape(-1), "keras.datasets.cifar10"
    )


def _cache_key(path: Path) -> str:
    resolved = path.resolve()
    parts = [str(CACHE_VERSION), str(resolved)]
    stamp_paths = [resolved]
    if resolved.is_dir():
        stamp_paths += sorted(resolved.glob("*")) + sorted(resolved.glob("*/*"))
    for p in stamp_paths:
        st = p.stat()
        parts.append(f"{p.name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _write_cache(cache_file: Path, data: CifarData) -> None:
    with contextlib.suppress(OSError):  # an unwritable cache only costs time
        write_npz_atomic(
            cache_file,
            x_train=data.x_train,
            y_train=data.y_train,
            x_test=data.x_test,
            y_test=data.y_test,
        )


def _read_cache(cache_file: Path, source: str) -> CifarData:
    with np.load(cache_file) as z:
        return CifarData(z["x_train"], z["y_train"], z["x_test"], z["y_test"], source)
