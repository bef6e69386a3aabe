"""HOTA, identity and CLEAR MOT figures from **TrackEval**'s own metric classes.

TrackEval's dataset classes expect its folder layout on disk; its metrics only need one
sequence's per-frame data (``eval_sequence``): each frame's true and predicted ids (numbered
0..n−1) and their IoU matrix. `FrameSequence` collects exactly that, frame by frame, from
whatever the caller read (the project's CSV or MOT text), after the caller has removed the
don't-care boxes. TrackEval 1.3 (kovalp's packaging) runs on NumPy 2 unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class MotScores:
    hota: float  # mean over TrackEval's 19 localisation thresholds (0.05 … 0.95)
    deta: float
    assa: float
    idf1: float
    mota: float
    precision: float  # CLEAR's, at the IoU threshold
    recall: float
    id_switches: int
    gt_boxes: int
    pred_boxes: int


@dataclass
class FrameSequence:
    """Per-frame true ids, predicted ids and IoU, as TrackEval's metrics read them."""

    gt_ids: list[np.ndarray] = field(default_factory=list)
    pred_ids: list[np.ndarray] = field(default_factory=list)
    similarity: list[np.ndarray] = field(default_factory=list)

    def add(self, gt_ids: np.ndarray, pred_ids: np.ndarray, iou: np.ndarray) -> None:
        self.gt_ids.append(np.asarray(gt_ids, np.int64))
        self.pred_ids.append(np.asarray(pred_ids, np.int64))
        self.similarity.append(np.asarray(iou, np.float64).reshape(len(gt_ids), len(pred_ids)))

    def data(self) -> dict[str, Any]:
        """The ``eval_sequence`` dict: ids renumbered 0..n−1 (TrackEval indexes arrays by them)."""
        gt_ids, num_gt = _renumber(self.gt_ids)
        pred_ids, num_pred = _renumber(self.pred_ids)
        return {
            "num_timesteps": len(self.gt_ids),
            "num_gt_ids": num_gt,
            "num_tracker_ids": num_pred,
            "num_gt_dets": sum(len(g) for g in gt_ids),
            "num_tracker_dets": sum(len(p) for p in pred_ids),
            "gt_ids": gt_ids,
            "tracker_ids": pred_ids,
            "similarity_scores": self.similarity,
        }


def _renumber(per_frame: list[np.ndarray]) -> tuple[list[np.ndarray], int]:
    everything = np.concatenate(per_frame) if per_frame else np.empty(0, np.int64)
    unique = np.unique(everything)
    return [np.searchsorted(unique, ids) for ids in per_frame], len(unique)


def score(sequence: FrameSequence, iou_threshold: float = 0.5) -> MotScores:
    """HOTA/DetA/AssA (``HOTA``), IDF1 (``Identity``), MOTA, precision, recall and ID switches
    (``CLEAR``); identity and CLEAR match at ``iou_threshold``. NaN when neither side has a box."""
    from trackeval.metrics import CLEAR, HOTA, Identity  # heavy; only eval needs it

    data = sequence.data()
    if data["num_gt_dets"] == 0 and data["num_tracker_dets"] == 0:
        nan = math.nan
        return MotScores(nan, nan, nan, nan, nan, nan, nan, 0, 0, 0)
    config = {"THRESHOLD": iou_threshold, "PRINT_CONFIG": False}
    hota = HOTA().eval_sequence(data)
    identity = Identity(config).eval_sequence(data)
    clear = CLEAR(config).eval_sequence(data)
    n_gt, n_pred = data["num_gt_dets"], data["num_tracker_dets"]
    # TrackEval returns early, without its final fields, when one side is empty; MOTA has no
    # meaning without true boxes.
    if n_gt == 0 or n_pred == 0:
        mota = 0.0 if n_pred == 0 else math.nan
        return MotScores(0.0, 0.0, 0.0, 0.0, mota, 0.0, 0.0, 0, n_gt, n_pred)
    return MotScores(
        hota=float(np.mean(hota["HOTA"])),
        deta=float(np.mean(hota["DetA"])),
        assa=float(np.mean(hota["AssA"])),
        idf1=float(identity["IDF1"]),
        mota=float(clear["MOTA"]),
        precision=float(clear["CLR_Pr"]),
        recall=float(clear["CLR_Re"]),
        id_switches=int(clear["IDSW"]),
        gt_boxes=n_gt,
        pred_boxes=n_pred,
    )
