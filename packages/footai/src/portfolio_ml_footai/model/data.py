"""Labelled frames: the real YOLO exports (boxes; pitch keypoints) the net learns from.

Every source (and `synth.frames`' renders) becomes the same `LabelledFrame`: a 16:9 BGR image with pixel boxes and/or the 32
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

from .spec import CLASSES, N_KEYPOINTS

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
