"""`footai detect`: a detector on still images → YOLO txt, one CSV and annotated images."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import cv2
from portfolio_ml_core.errors import InputFileError
from portfolio_ml_core.fsutil import atomic_path, write_image_atomic

from ..detections import Detections
from ..model.data import IMAGE_SUFFIXES, image_files
from ..model.spec import CLASSES
from ..render.annotate import draw_detections
from . import Detector

CSV_COLUMNS = ("image", "class_id", "role", "score", "x0", "y0", "x1", "y1")


@dataclass(frozen=True)
class DetectSummary:
    images: int
    boxes: dict[str, int]


def input_images(path: Path) -> list[Path]:
    if path.is_dir():
        files = image_files(path)
        if not files:
            raise InputFileError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
        return files
    if not path.exists():
        raise InputFileError(f"not found: {path}")
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise InputFileError(f"{path}: not an image ({', '.join(IMAGE_SUFFIXES)})")
    return [path]


def yolo_lines(dets: Detections, width: int, height: int) -> list[str]:
    lines = []
    for (x0, y0, x1, y1), c in zip(dets.xyxy, dets.class_id, strict=True):
        cx, cy = (x0 + x1) / 2 / width, (y0 + y1) / 2 / height
        lines.append(f"{c} {cx:.6f} {cy:.6f} {(x1 - x0) / width:.6f} {(y1 - y0) / height:.6f}")
    return lines


def detect_images(inputs: list[Path], out: Path, detector: Detector) -> DetectSummary:
    """Write ``labels/<stem>.txt`` (YOLO), ``annotated/<name>`` and ``detections.csv`` in ``out``."""
    counts = dict.fromkeys(CLASSES, 0)
    rows = []
    (out / "labels").mkdir(parents=True, exist_ok=True)
    (out / "annotated").mkdir(parents=True, exist_ok=True)
    for path in inputs:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise InputFileError(f"{path}: not a readable image")
        dets = detector(image).reported
        h, w = image.shape[:2]
        with atomic_path(out / "labels" / f"{path.stem}.txt") as tmp:
            tmp.write_text("".join(f"{line}\n" for line in yolo_lines(dets, w, h)))
        write_image_atomic(out / "annotated" / f"{path.stem}.jpg", draw_detections(image, dets))
        for (x0, y0, x1, y1), c, s in zip(dets.xyxy, dets.class_id, dets.score, strict=True):
            counts[CLASSES[c]] += 1
            rows.append(
                (path.name, int(c), CLASSES[c], f"{s:.4f}", *(f"{v:.1f}" for v in (x0, y0, x1, y1)))
            )
    with atomic_path(out / "detections.csv") as tmp, tmp.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(rows)
    return DetectSummary(len(inputs), counts)
