"""`footai detect`: the net on still images → YOLO txt, one CSV and annotated images."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from portfolio_ml_core.errors import InputFileError
from portfolio_ml_core.fsutil import atomic_path, write_image_atomic

from . import render
from .datasets import IMAGE_SUFFIXES, image_files
from .detections import Detections
from .model.runtime import FootNet
from .model.spec import BALL, CLASSES

CSV_COLUMNS = ("image", "class_id", "role", "score", "x0", "y0", "x1", "y1")
ROLE_COLOURS = {  # BGR
    "ball": render.BALL_COLOUR,
    "goalkeeper": (0, 165, 255),
    "player": (255, 200, 0),
    "referee": (30, 30, 30),
}


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


def draw(image: np.ndarray, dets: Detections) -> np.ndarray:
    out = image.copy()
    for (x0, y0, x1, y1), c, s in zip(
        dets.xyxy.astype(int), dets.class_id, dets.score, strict=True
    ):
        colour = ROLE_COLOURS[CLASSES[c]]
        if c == BALL:
            cv2.circle(
                out, ((x0 + x1) // 2, (y0 + y1) // 2), max(6, (x1 - x0)), colour, 2, cv2.LINE_AA
            )
            continue
        cv2.rectangle(out, (x0, y0), (x1, y1), colour, 2)
        cv2.putText(
            out,
            f"{CLASSES[c][0].upper()} {s:.2f}",
            (x0, max(10, y0 - 3)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            colour,
            1,
            cv2.LINE_AA,
        )
    return out


def detect_images(inputs: list[Path], out: Path, net: FootNet) -> DetectSummary:
    """Write ``labels/<stem>.txt`` (YOLO), ``annotated/<name>`` and ``detections.csv`` in ``out``."""
    counts = dict.fromkeys(CLASSES, 0)
    rows = []
    (out / "labels").mkdir(parents=True, exist_ok=True)
    (out / "annotated").mkdir(parents=True, exist_ok=True)
    for path in inputs:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise InputFileError(f"{path}: not a readable image")
        dets = net(image).reported
        h, w = image.shape[:2]
        with atomic_path(out / "labels" / f"{path.stem}.txt") as tmp:
            tmp.write_text("".join(f"{line}\n" for line in yolo_lines(dets, w, h)))
        write_image_atomic(out / "annotated" / f"{path.stem}.jpg", draw(image, dets))
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
