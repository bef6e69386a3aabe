"""`squat eval`: measure the counter the way the repetition-counting literature does.

Over a set of labelled videos (``labels.csv`` with ``file,reps``, optionally ``exercise``):
exact-count accuracy, MAE as RepCount defines it (mean of |predicted − true| / true) and OBO
(share of videos counted within ±1).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from portfolio_ml_core.errors import InputFileError, PortfolioError


@dataclass(frozen=True)
class LabelledVideo:
    path: Path
    reps: int
    exercise: str | None = None


@dataclass(frozen=True)
class EvalItem:
    file: str
    true_reps: int
    predicted: int | None  # None: the video could not be processed
    partial_reps: int = 0
    error: str = ""


@dataclass(frozen=True)
class EvalReport:
    items: list[EvalItem]
    exact: float
    mae: float
    obo: float
    failed: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "videos": len(self.items),
            "failed": self.failed,
            "exact_accuracy": round(self.exact, 4),
            "mae": round(self.mae, 4),
            "obo": round(self.obo, 4),
            "items": [asdict(i) for i in self.items],
        }


def load_labels(path: str | Path) -> list[LabelledVideo]:
    """Read a folder's ``labels.csv`` (or the CSV itself); video paths are relative to it."""
    p = Path(path)
    csv_path = p / "labels.csv" if p.is_dir() else p
    if not csv_path.is_file():
        raise InputFileError(f"no labels file: {csv_path} (expected a CSV with columns file,reps)")
    try:
        with csv_path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputFileError(f"cannot read {csv_path}: {exc}") from None
    if not rows or not {"file", "reps"} <= set(rows[0]):
        raise InputFileError(f"{csv_path} must have a header with columns file,reps")
    videos = []
    for n, row in enumerate(rows, start=2):
        try:
            reps = int(str(row["reps"]).strip())
        except ValueError:
            raise InputFileError(f"{csv_path} line {n}: reps must be an integer") from None
        if reps < 0:
            raise InputFileError(f"{csv_path} line {n}: reps must not be negative")
        exercise = (row.get("exercise") or "").strip() or None
        videos.append(LabelledVideo(csv_path.parent / row["file"].strip(), reps, exercise))
    return videos


def score(items: list[EvalItem]) -> EvalReport:
    """Exact accuracy, MAE (|pred − true| / true; true = 0 counts as 1) and OBO.

    A video that failed to process counts as predicted 0.
    """
    if not items:
        raise PortfolioError("nothing to evaluate")
    errors = [abs((i.predicted or 0) - i.true_reps) for i in items]
    n = len(items)
    return EvalReport(
        items=items,
        exact=sum(e == 0 for e in errors) / n,
        mae=sum(e / max(i.true_reps, 1) for e, i in zip(errors, items, strict=True)) / n,
        obo=sum(e <= 1 for e in errors) / n,
        failed=sum(i.predicted is None for i in items),
    )


def evaluate(
    videos: list[LabelledVideo],
    count: Callable[[LabelledVideo], tuple[int, int]],
    on_item: Callable[[EvalItem], None] | None = None,
) -> EvalReport:
    """Run ``count`` (video → (reps, partial reps)) on each video and score the results."""
    items = []
    for video in videos:
        try:
            reps, partial = count(video)
            item = EvalItem(video.path.name, video.reps, reps, partial)
        except PortfolioError as exc:  # one bad file must not sink the whole evaluation
            item = EvalItem(video.path.name, video.reps, None, error=exc.message)
        items.append(item)
        if on_item is not None:
            on_item(item)
    return score(items)
