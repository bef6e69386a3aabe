"""`footai eval`: tracking and analysis accuracy against ground truth.

HOTA (with DetA and AssA), IDF1, MOTA, ID switches, precision and recall come from
**TrackEval**'s metric classes (`mot_metrics`), fed the per-frame ids and IoU prepared here.
Team, pitch-position and ball figures are the project's own and are reported only where the
ground truth has teams, pitch positions or a ball (else NaN).

Ground-truth boxes that are mostly hidden (visibility below ``min_visibility``) and the regions
``dont_care`` marks (MOT's distractor classes) are "don't care": missing them is no error, and a
prediction that matches one is no false positive (as TrackEval's MOT Challenge preprocessing).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..detections import box_iou
from ..io.tracks_csv import TrackTable
from .mot_metrics import FrameSequence, score


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
    hota: float
    deta: float
    assa: float
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
    gt: TrackTable,
    pred: TrackTable,
    iou_threshold: float = 0.5,
    min_visibility: float = 0.3,
    dont_care: np.ndarray | None = None,
    frames: np.ndarray | None = None,
) -> EvalResult:
    """Score ``pred`` against ``gt`` (both 0-based frames; ``track_id`` is the identity).

    ``frames``: the frames the prediction analysed (a run over part of the sequence); None
    scores every frame either side has rows in."""
    ignored = np.zeros(len(gt), bool) if dont_care is None else np.asarray(dont_care, bool)
    if frames is not None:
        gt_in = np.isin(gt.frame, frames)
        gt, ignored = gt.subset(gt_in), ignored[gt_in]
        pred = pred.subset(np.isin(pred.frame, frames))
    people = gt.role != "ball"
    gt_people, ignored = gt.subset(people), ignored[people]
    pr_people = pred.subset(pred.role != "ball")
    if frames is None:
        frames = np.union1d(np.unique(gt_people.frame), np.unique(pr_people.frame))
    g_by = {f: np.nonzero(gt_people.frame == f)[0] for f in np.unique(gt_people.frame)}
    p_by = {f: np.nonzero(pr_people.frame == f)[0] for f in np.unique(pr_people.frame)}
    sequence = FrameSequence()
    team_same = team_swap = team_n = 0
    errors: list[float] = []
    for f in np.unique(frames):
        gi = g_by.get(f, np.empty(0, int))
        pi = p_by.get(f, np.empty(0, int))
        gb, pb = gt_people.box[gi], pr_people.box[pi]
        care = (gt_people.visibility[gi] >= min_visibility) & ~ignored[gi]
        # Drop predictions that sit on a don't-care box and on no counted box.
        all_m = _match(gb, pb, iou_threshold)
        drop = {j for i, j, _ in all_m if not care[i]}
        keep_p = np.array([j not in drop for j in range(len(pi))], bool)
        gi, gb = gi[care], gb[care]
        pi, pb = pi[keep_p], pb[keep_p]
        iou = box_iou(_xyxy(gb), _xyxy(pb))
        sequence.add(gt_people.track_id[gi], pr_people.track_id[pi], iou)
        for i, j, _ in _match(gb, pb, iou_threshold):
            g, p = gi[i], pi[j]
            if gt_people.role[g] in ("player", "goalkeeper") and gt_people.team[g] >= 0:
                team_n += 1
                team_same += int(pr_people.team[p] == gt_people.team[g])
                team_swap += int(pr_people.team[p] == 1 - gt_people.team[g])
            if np.isfinite(gt_people.pitch[g]).all() and np.isfinite(pr_people.pitch[p]).all():
                errors.append(float(np.linalg.norm(gt_people.pitch[g] - pr_people.pitch[p])))
    s = score(sequence, iou_threshold)
    p, r = s.precision, s.recall
    f1 = 2 * p * r / (p + r) if p + r > 0 else 0.0
    hit, ball_gt, ball_good, ball_pred = _ball(gt, pred)
    err = np.array(errors)
    # A prediction without team labels (a plain tracker's output) has no team accuracy.
    teams_predicted = bool((pr_people.team >= 0).any())
    return EvalResult(
        frames=len(np.unique(frames)),
        gt_boxes=s.gt_boxes,
        pred_boxes=s.pred_boxes,
        precision=_nan0(p),
        recall=_nan0(r),
        f1=f1,
        mota=s.mota,
        idf1=s.idf1,
        hota=s.hota,
        deta=s.deta,
        assa=s.assa,
        id_switches=s.id_switches,
        team_accuracy=max(team_same, team_swap) / team_n
        if team_n and teams_predicted
        else math.nan,
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
