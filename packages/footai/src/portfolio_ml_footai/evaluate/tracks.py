"""`footai eval`: tracking and analysis accuracy against ground truth.

MOT figures (MOTA, IDF1, ID switches, precision, recall) come from the `motmetrics` library.
Its own ``distances.iou_matrix`` calls ``np.asfarray``, removed in NumPy 2, so the IoU distance
matrix is computed here (`detections.box_iou`, the same definition) and handed to its accumulator; the
rest of motmetrics works unchanged with NumPy 2 / pandas 3.

Ground-truth boxes that are mostly hidden (visibility below ``min_visibility``) are "don't care":
missing them is no error, and a prediction that matches one is no false positive (as MOT16/17).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..detections import box_iou
from ..io.tracks_csv import TrackTable


@dataclass(frozen=True)
class EvalResult:
    frames: int
    gt_boxes: int
    pred_boxes: int
    precision: float
    recall: float
    f1: float
    mota: float
    idf1: float
    id_switches: int
    team_accuracy: float
    position_error_median_m: float
    position_error_p90_m: float
    ball_hit_rate: float
    ball_precision: float

    def to_json(self) -> dict:
        return {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in asdict(self).items()
        }


def _xyxy(xywh: np.ndarray) -> np.ndarray:
    return np.c_[xywh[:, :2], xywh[:, :2] + xywh[:, 2:]]


def _match(gb: np.ndarray, pb: np.ndarray, thr: float) -> list[tuple[int, int, float]]:
    iou = box_iou(_xyxy(gb), _xyxy(pb))
    if iou.size == 0:
        return []
    r, c = linear_sum_assignment(-iou)
    return [(i, j, float(iou[i, j])) for i, j in zip(r, c, strict=True) if iou[i, j] >= thr]


def evaluate(
    gt: TrackTable, pred: TrackTable, iou_threshold: float = 0.5, min_visibility: float = 0.3
) -> EvalResult:
    import motmetrics as mm  # heavy (pandas); only eval needs it

    acc = mm.MOTAccumulator(auto_id=False)
    gt_people = gt.subset(gt.role != "ball")
    pr_people = pred.subset(pred.role != "ball")
    frames = np.union1d(np.unique(gt_people.frame), np.unique(pr_people.frame))
    g_by = {f: np.nonzero(gt_people.frame == f)[0] for f in np.unique(gt_people.frame)}
    p_by = {f: np.nonzero(pr_people.frame == f)[0] for f in np.unique(pr_people.frame)}
    team_same = team_swap = team_n = 0
    errors: list[float] = []
    n_gt = n_pred = 0
    for f in frames:
        gi = g_by.get(f, np.empty(0, int))
        pi = p_by.get(f, np.empty(0, int))
        gb, pb = gt_people.box[gi], pr_people.box[pi]
        care = gt_people.visibility[gi] >= min_visibility
        # Drop predictions that sit on a don't-care box and on no counted box.
        all_m = _match(gb, pb, iou_threshold)
        drop = {j for i, j, _ in all_m if not care[i]}
        keep_p = np.array([j not in drop for j in range(len(pi))], bool)
        gi, gb = gi[care], gb[care]
        pi, pb = pi[keep_p], pb[keep_p]
        n_gt += len(gi)
        n_pred += len(pi)
        iou = box_iou(_xyxy(gb), _xyxy(pb))
        dist = np.where(iou >= iou_threshold, 1.0 - iou, np.nan)
        acc.update(
            gt_people.track_id[gi].tolist(), pr_people.track_id[pi].tolist(), dist, frameid=int(f)
        )
        for i, j, _ in _match(gb, pb, iou_threshold):
            g, p = gi[i], pi[j]
            if gt_people.role[g] in ("player", "goalkeeper") and gt_people.team[g] >= 0:
                team_n += 1
                team_same += int(pr_people.team[p] == gt_people.team[g])
                team_swap += int(pr_people.team[p] == 1 - gt_people.team[g])
            if np.isfinite(gt_people.pitch[g]).all() and np.isfinite(pr_people.pitch[p]).all():
                errors.append(float(np.linalg.norm(gt_people.pitch[g] - pr_people.pitch[p])))
    mh = mm.metrics.create()
    names = ["precision", "recall", "mota", "idf1", "num_switches"]
    if n_gt == 0 and n_pred == 0:
        vals = {
            "precision": math.nan,
            "recall": math.nan,
            "mota": math.nan,
            "idf1": math.nan,
            "num_switches": 0,
        }
    else:
        summary = mh.compute(acc, metrics=names, name="all")
        vals = {k: float(summary[k].iloc[0]) for k in names}
    p, r = vals["precision"], vals["recall"]
    f1 = 2 * p * r / (p + r) if p + r > 0 else 0.0
    hit, ball_gt, ball_good, ball_pred = _ball(gt, pred)
    err = np.array(errors)
    return EvalResult(
        frames=len(frames),
        gt_boxes=n_gt,
        pred_boxes=n_pred,
        precision=_nan0(p),
        recall=_nan0(r),
        f1=f1,
        mota=vals["mota"],
        idf1=vals["idf1"],
        id_switches=int(vals["num_switches"]),
        team_accuracy=max(team_same, team_swap) / team_n if team_n else math.nan,
        position_error_median_m=float(np.median(err)) if len(err) else math.nan,
        position_error_p90_m=float(np.percentile(err, 90)) if len(err) else math.nan,
        ball_hit_rate=hit / ball_gt if ball_gt else math.nan,
        ball_precision=ball_good / ball_pred if ball_pred else math.nan,
    )


def _nan0(v: float) -> float:
    return 0.0 if math.isnan(v) else v


def _ball(gt: TrackTable, pred: TrackTable) -> tuple[int, int, int, int]:
    """Hits (a predicted ball within reach of the true one), visible true balls, good and all predictions."""
    gb = gt.subset((gt.role == "ball") & (gt.visibility >= 0.5))
    pb = pred.subset(pred.role == "ball")
    gc = {
        int(f): (b[:2] + b[2:] / 2, max(b[2], b[3])) for f, b in zip(gb.frame, gb.box, strict=True)
    }
    pc: dict[int, list[np.ndarray]] = {}
    for f, b in zip(pb.frame, pb.box, strict=True):
        pc.setdefault(int(f), []).append(b[:2] + b[2:] / 2)

    def near(f: int, c: np.ndarray) -> bool:
        g = gc.get(f)
        return g is not None and float(np.linalg.norm(g[0] - c)) <= max(8.0, 2.0 * g[1])

    hits = sum(1 for f in gc if any(near(f, c) for c in pc.get(f, [])))
    good = sum(1 for f, cs in pc.items() for c in cs if near(f, c))
    return hits, len(gc), good, sum(len(v) for v in pc.values())
