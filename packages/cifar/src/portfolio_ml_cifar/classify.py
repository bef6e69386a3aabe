"""``cifar classify FOLDER --model DIR --out OUT``: every image of a folder → predictions.csv.

The batch job of the cifar plugin (``portfolio-ml batch cifar FOLDERS... -- --model DIR``) is
this command run on each folder.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from portfolio_ml_core.errors import InputFileError
from portfolio_ml_core.fsutil import write_json_atomic, write_text_atomic

# The formats the CIFAR loader reads, not the video layer's list of stills.
from portfolio_ml_cifar.data import IMAGE_SUFFIXES

CHUNK = 500  # images decoded and classified at a time: memory stays flat on big folders


@dataclass
class Classification:
    folder: Path
    model: Path
    top_k: int
    rows: list[tuple[str, list[tuple[str, float]]]] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        counts = Counter(top[0][0] for _, top in self.rows)
        return {
            "folder": str(self.folder),
            "model": str(self.model),
            "images": len(self.rows),
            "unreadable": len(self.unreadable),
            "unreadable_files": self.unreadable,
            "top_class_counts": dict(counts.most_common()),
            "mean_top_probability": (
                round(float(np.mean([top[0][1] for _, top in self.rows])), 4) if self.rows else None
            ),
        }


def image_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise InputFileError(f"not a folder: {folder}")
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    if not files:
        raise InputFileError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {folder}")
    return files


def classify_folder(folder: Path, model_dir: Path, top_k: int = 3) -> Classification:
    from portfolio_ml_cifar.images import ImageDecodeError, to_net_rgb
    from portfolio_ml_cifar.infer import load_model, predict_logits, softmax
    from portfolio_ml_cifar.serve import top_k as best_classes

    files = image_files(folder)
    net = load_model(model_dir)  # after the folder is checked: a bad folder is reported first
    result = Classification(folder, model_dir, top_k)
    for start in range(0, len(files), CHUNK):
        names, pixels = [], []
        for path in files[start : start + CHUNK]:
            try:
                pixels.append(to_net_rgb(path.read_bytes()).astype(np.float32))
                names.append(str(path.relative_to(folder)))
            except (ImageDecodeError, OSError):
                result.unreadable.append(str(path.relative_to(folder)))
        if not pixels:
            continue
        probabilities = softmax(predict_logits(net, np.stack(pixels)))
        for name, p in zip(names, probabilities, strict=True):
            top = best_classes(p, top_k)
            result.rows.append((name, [(c["label"], c["probability"]) for c in top]))
    if not result.rows:
        raise InputFileError(f"no readable image in {folder}")
    return result


def write_classification(result: Classification, out: Path) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["image"]
    for k in range(1, result.top_k + 1):
        header += [f"class_{k}", f"probability_{k}"]
    writer.writerow(header)
    for name, top in result.rows:
        writer.writerow([name, *[v for c, p in top for v in (c, f"{p:.4f}")]])
    write_text_atomic(out / "predictions.csv", buffer.getvalue())
    write_json_atomic(out / "summary.json", result.summary())


def headline(out_dir: Path) -> dict[str, Any]:
    """``batch cifar``'s figures: how many images, how many unreadable, the commonest class."""
    import json

    summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    counts = summary["top_class_counts"]
    return {
        "images": summary["images"],
        "unreadable": summary["unreadable"],
        "commonest": next(iter(counts), ""),
        "mean_top_probability": summary["mean_top_probability"],
    }
