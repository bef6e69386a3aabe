"""Labelled frames: the real YOLO exports (boxes; pitch keypoints) and synthetic renders.

Every source becomes the same `LabelledFrame`: a 16:9 BGR image with pixel boxes and/or the 32
pitch keypoints, and flags saying which of the two tasks it labels (each real set labels one).
Roboflow's exporter stretched the broadcast frames square; labels are normalised, so resizing
the image back to 16:9 restores both.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from portfolio_ml_core.errors import InputFileError

from .model.spec import BALL, CLASSES, GOALKEEPER, N_KEYPOINTS, PITCH_KEYPOINTS, PLAYER, REFEREE

FRAME_SIZE = (1280, 720)  # broadcast frames are restored to this 16:9 size
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class LabelledFrame:
    name: str
    image: np.ndarray  # BGR, FRAME_SIZE
    boxes: np.ndarray  # (N, 4) x0 y0 x1 y1 pixels
    classes: np.ndarray  # (N,) ints into CLASSES
    keypoints: np.ndarray  # (32, 2) pixels
    visible: np.ndarray  # (32,) bool
    has_boxes: bool
    has_keypoints: bool


def split_dir(root: Path, split: str) -> Path:
    """``root/split`` of a YOLO export, with a clear error when it is not one."""
    if not root.is_dir():
        raise InputFileError(
            f"{root}: not a folder (expected a YOLO export with {'/'.join(SPLITS)})"
        )
    d = root / split
    if not (d / "images").is_dir():
        found = [s for s in SPLITS if (root / s / "images").is_dir()]
        raise InputFileError(
            f"{root}: no split '{split}' (expected {split}/images and {split}/labels; "
            f"found {', '.join(found) or 'none'})"
        )
    return d


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _read_rows(label: Path) -> list[list[float]]:
    if not label.exists():
        return []
    rows = []
    for n, line in enumerate(label.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append([float(v) for v in line.split()])
        except ValueError:
            raise InputFileError(f"{label}:{n}: not a YOLO label line") from None
    return rows


def _load_image(path: Path, size: tuple[int, int]) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputFileError(f"{path}: not a readable image")
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _labelled_images(root: Path, split: str) -> Iterator[tuple[Path, Path]]:
    """(image, its label file) for every image of a YOLO export's split."""
    d = split_dir(root, split)
    for img in image_files(d / "images"):
        yield img, d / "labels" / f"{img.stem}.txt"


def load_detection_split(
    root: Path, split: str, size: tuple[int, int] = FRAME_SIZE
) -> list[LabelledFrame]:
    """A YOLO detection export (classes ball, goalkeeper, player, referee) as 16:9 frames."""
    out = []
    w, h = size
    for img, label in _labelled_images(root, split):
        rows = [r for r in _read_rows(label) if len(r) == 5]
        arr = np.array(rows, dtype=np.float64).reshape(-1, 5)
        cls = arr[:, 0].astype(int)
        if len(cls) and (cls.min() < 0 or cls.max() >= len(CLASSES)):
            raise InputFileError(f"{label}: class ids must be 0..{len(CLASSES) - 1}")
        cx, cy, bw, bh = arr[:, 1] * w, arr[:, 2] * h, arr[:, 3] * w, arr[:, 4] * h
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        out.append(
            LabelledFrame(
                img.name,
                _load_image(img, size),
                boxes,
                cls,
                np.zeros((N_KEYPOINTS, 2)),
                np.zeros(N_KEYPOINTS, bool),
                has_boxes=True,
                has_keypoints=False,
            )
        )
    return out


def load_pitch_split(
    root: Path, split: str, size: tuple[int, int] = FRAME_SIZE
) -> list[LabelledFrame]:
    """A YOLO-pose export (one object, 32 keypoints, visibility 0 or 2) as 16:9 frames."""
    out = []
    w, h = size
    for img, label in _labelled_images(root, split):
        rows = [r for r in _read_rows(label) if len(r) == 5 + 3 * N_KEYPOINTS]
        kp = np.zeros((N_KEYPOINTS, 2))
        vis = np.zeros(N_KEYPOINTS, bool)
        if rows:
            k = np.array(rows[0][5:]).reshape(N_KEYPOINTS, 3)
            kp = k[:, :2] * [w, h]
            vis = k[:, 2] > 0
        out.append(
            LabelledFrame(
                img.name,
                _load_image(img, size),
                np.zeros((0, 4)),
                np.zeros(0, int),
                kp,
                vis,
                has_boxes=False,
                has_keypoints=True,
            )
        )
    return out


ROLE_CLASS = {"ball": BALL, "goalkeeper": GOALKEEPER, "player": PLAYER, "referee": REFEREE}


def synthetic_frames(
    seeds: range,
    every: int = 25,
    per_seed: int = 6,
    cache: Path | None = None,
    camera: str | None = None,
) -> Iterator[LabelledFrame]:
    """Frames of the project's renderer, exact boxes and keypoints.

    ``camera`` None alternates static and pan cameras by seed; "tactical" gives the high, wide
    camera. Rendering costs seconds per clip; with ``cache`` each seed's frames are kept there
    (PNG + npz labels) and read back by later runs (``--resume``, a retraining).
    """
    prefix = "synth" if camera is None else f"synth_{camera}"
    for seed in seeds:
        stored = cache / f"{prefix}_{seed}_{every}_{per_seed}.npz" if cache is not None else None
        if stored is not None and stored.exists():
            yield from _read_cached(stored)
            continue
        frames = list(_render_seed(seed, every, per_seed, camera))
        if stored is not None:
            _write_cached(stored, frames)
        yield from frames


def _write_cached(path: Path, frames: list[LabelledFrame]) -> None:
    from portfolio_ml_core.fsutil import atomic_path

    data: dict[str, np.ndarray] = {}
    for i, f in enumerate(frames):
        data[f"png{i}"] = np.frombuffer(cv2.imencode(".png", f.image)[1].tobytes(), np.uint8)
        data[f"boxes{i}"], data[f"classes{i}"] = f.boxes, f.classes
        data[f"kp{i}"], data[f"vis{i}"] = f.keypoints, f.visible
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        data["n"] = np.array(len(frames))
        data["names"] = np.array([f.name for f in frames])
        np.savez(tmp, **data)  # type: ignore[arg-type]


def _read_cached(path: Path) -> Iterator[LabelledFrame]:
    with np.load(path) as z:
        for i in range(int(z["n"])):
            yield LabelledFrame(
                str(z["names"][i]),
                np.asarray(cv2.imdecode(z[f"png{i}"], cv2.IMREAD_COLOR)),
                z[f"boxes{i}"],
                z[f"classes{i}"],
                z[f"kp{i}"],
                z[f"vis{i}"],
                has_boxes=True,
                has_keypoints=True,
            )


def _render_seed(
    seed: int, every: int, per_seed: int, camera: str | None = None
) -> Iterator[LabelledFrame]:
    from .synth import SampleConfig, iter_frames

    camera = camera or ("pan" if seed % 2 else "static")
    cfg = SampleConfig(camera=camera, seconds=every * per_seed / 25.0, seed=seed)
    for rendered in iter_frames(cfg):
        if rendered.index % every:
            continue
        rows = [r for r in rendered.rows if float(r[11]) >= 0.3]  # mostly hidden: no label
        boxes = np.array([[r[4], r[5], r[4] + r[6], r[5] + r[7]] for r in rows], float)
        classes = np.array([ROLE_CLASS[r[2]] for r in rows], int)
        h = rendered.camera.homography()
        img_pts = cv2.perspectiveTransform(PITCH_KEYPOINTS.reshape(-1, 1, 2), h).reshape(-1, 2)
        depth = PITCH_KEYPOINTS @ h[2, :2] + h[2, 2]
        inside = (
            (depth > 0)
            & (img_pts[:, 0] >= 0)
            & (img_pts[:, 0] < cfg.width)
            & (img_pts[:, 1] >= 0)
            & (img_pts[:, 1] < cfg.height)
        )
        yield LabelledFrame(
            f"synth_{camera}_{seed}_{rendered.index}",
            rendered.image,
            boxes.reshape(-1, 4),
            classes,
            np.where(inside[:, None], img_pts, 0.0),
            inside,
            has_boxes=True,
            has_keypoints=True,
        )
