"""Scores of a detector on labelled still frames: detections (P/R/F1, roles, ball, mAP50) and
pitch calibration from its keypoints (keypoint error in pixels and metres).

Frames are restored to 1280×720 (see `model.data`), so pixel figures are at broadcast 720p.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

import numpy as np

from .. import pitch
from ..calibrate.keypoints import image_to_pitch
from ..calibrate.line_search import calibrate_frame
from ..detections import Detected, Detections, box_iou
from ..model.data import LabelledFrame
from ..model.spec import BALL, CLASSES, PERSON_CLASSES

IOU = 0.5
BALL_RADIUS_PX = 15.0  # a ball found within 15 px at 1280×720 counts
SMALL_PX = 30.0  # persons shorter than this at 1280×720 are "small" (a wide shot's far players)
PITCH_OK_M = 1.0
VIEW_OK_M = 1.5  # the target on warped views (other cameras): the tactical map stays readable
VIEW_WRONG_M = 3.0  # a view calibrated this far off is wrong, not imprecise (players change zones)


def greedy_match(
    gt: np.ndarray, pred: np.ndarray, scores: np.ndarray, threshold: float = IOU
) -> list[tuple[int, int]]:
    """(gt index, pred index) pairs: predictions by falling score take their best free box."""
    if len(gt) == 0 or len(pred) == 0:
        return []
    m = box_iou(gt, pred)
    pairs, used = [], np.zeros(len(gt), bool)
    for j in np.argsort(-scores):
        col = np.where(used, -1.0, m[:, j])
        i = int(np.argmax(col))
        if col[i] >= threshold:
            used[i] = True
            pairs.append((i, int(j)))
    return pairs


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def labelled(self) -> int:
        return self.tp + self.fn

    @property
    def recall(self) -> float:
        return self.tp / self.labelled if self.labelled else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_json(self) -> dict[str, float]:
        return {
            **asdict(self),
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


@dataclass(frozen=True)
class DetectionScores:
    frames: int
    per_class: dict[str, Counts]
    persons: Counts  # any person class against any person box (the role is scored apart)
    small_persons: Counts  # labelled persons under SMALL_PX tall: recall only (tp, fn)
    role_accuracy: float
    ball_recall: float  # within BALL_RADIUS_PX of the labelled centre
    ball_frames: int
    map50: float
    map50_per_class: dict[str, float]

    def to_json(self) -> dict:
        return {
            "frames": self.frames,
            "iou": IOU,
            "persons": self.persons.to_json(),
            "small_persons": {
                "under_px": SMALL_PX,
                "labelled": self.small_persons.labelled,
                "found": self.small_persons.tp,
                "recall": round(self.small_persons.recall, 4),
            },
            "role_accuracy": round(self.role_accuracy, 4),
            "ball_recall_15px": round(self.ball_recall, 4),
            "ball_frames": self.ball_frames,
            "map50": round(self.map50, 4),
            "map50_per_class": {k: round(v, 4) for k, v in self.map50_per_class.items()},
            "per_class": {k: v.to_json() for k, v in self.per_class.items()},
        }


def score_detections(
    frames: Iterable[LabelledFrame], predict: Callable[[np.ndarray], Detections]
) -> DetectionScores:
    per_class = {c: Counts() for c in CLASSES}
    persons, small = Counts(), Counts()
    role_hits = role_total = 0
    coco_gt, coco_dt = [], []
    n = 0
    for n, frame in enumerate(frames, start=1):  # noqa: B007
        dets = predict(frame.image)
        coco_gt.append((frame.boxes, frame.classes))
        coco_dt.append(dets)
        for c, name in enumerate(CLASSES):
            if c == BALL:
                continue
            g, p = frame.boxes[frame.classes == c], dets[dets.class_id == c]
            pairs = greedy_match(g, p.xyxy, p.score)
            per_class[name].tp += len(pairs)
            per_class[name].fp += len(p) - len(pairs)
            per_class[name].fn += len(g) - len(pairs)
        gmask = np.isin(frame.classes, PERSON_CLASSES)
        pp = dets.persons
        pairs = greedy_match(frame.boxes[gmask], pp.xyxy, pp.score)
        persons.tp += len(pairs)
        persons.fp += len(pp) - len(pairs)
        persons.fn += int(gmask.sum()) - len(pairs)
        # A precision for small persons would need a size for each false alarm's true box: the
        # figure is recall, the one the far players of a wide shot lack.
        person_boxes = frame.boxes[gmask]
        is_small = person_boxes[:, 3] - person_boxes[:, 1] < SMALL_PX
        small_found = int(is_small[[i for i, _ in pairs]].sum())
        small.tp += small_found
        small.fn += int(is_small.sum()) - small_found
        g_roles = frame.classes[gmask]
        role_hits += sum(int(g_roles[i] == pp.class_id[j]) for i, j in pairs)
        role_total += len(pairs)
        # Ball: a hit when the most confident candidate is within 15 px of the labelled centre;
        # every other candidate is a false alarm.
        gball = frame.boxes[frame.classes == BALL]
        pb = dets.balls
        ball = per_class["ball"]
        if len(gball):
            gc = (gball[:, :2] + gball[:, 2:]) / 2
            best = pb.centres[int(np.argmax(pb.score))] if len(pb) else None
            hit = best is not None and np.linalg.norm(gc - best, axis=1).min() <= BALL_RADIUS_PX
            ball.tp += int(hit)
            ball.fn += int(not hit)
            ball.fp += len(pb) - int(hit)
        else:
            ball.fp += len(pb)
    map50, per_map = coco_map50(coco_gt, coco_dt)
    return DetectionScores(
        n,
        per_class,
        persons,
        small,
        role_hits / role_total if role_total else 0.0,
        per_class["ball"].recall,
        per_class["ball"].labelled,
        map50,
        per_map,
    )


def coco_map50(
    gts: list[tuple[np.ndarray, np.ndarray]], dts: list[Detections]
) -> tuple[float, dict[str, float]]:
    """COCO mAP at IoU 0.5 (pycocotools), over the classes that have labelled boxes."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images: list[dict] = []
    annotations: list[dict] = []
    results: list[dict] = []
    for img_id, ((boxes, classes), dets) in enumerate(zip(gts, dts, strict=True), start=1):
        images.append({"id": img_id, "width": 1280, "height": 720})
        for b, c in zip(boxes, classes, strict=True):
            w, h = float(b[2] - b[0]), float(b[3] - b[1])
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": img_id,
                    "category_id": int(c) + 1,
                    "bbox": [float(b[0]), float(b[1]), w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
        for b, c, s in zip(dets.xyxy, dets.class_id, dets.score, strict=True):
            results.append(
                {
                    "image_id": img_id,
                    "category_id": int(c) + 1,
                    "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])],
                    "score": float(s),
                }
            )
    if not annotations:
        return 0.0, {}
    gt = COCO()
    gt.dataset = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i + 1, "name": n} for i, n in enumerate(CLASSES)],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        if not results:
            return 0.0, {}
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "bbox")
        ev.params.iouThrs = np.array([IOU])
        ev.params.maxDets = [1, 10, 100]
        ev.evaluate()
        ev.accumulate()
    precision = ev.eval["precision"][
        0, :, :, 0, -1
    ]  # (recall thresholds, classes) all areas, 100 dets
    per_class = {}
    for k, cat in enumerate(ev.params.catIds):
        p = precision[:, k]
        if (p > -1).any():
            per_class[CLASSES[cat - 1]] = float(p[p > -1].mean())
    return float(np.mean(list(per_class.values()))) if per_class else 0.0, per_class


@dataclass(frozen=True)
class PitchScores:
    frames: int
    calibrated: int  # frames with a homography (keypoints, or the painted lines alone)
    keypoint_error_px: float  # median over matched keypoints (predicted and labelled)
    keypoints_found: float  # share of labelled keypoints the net also reports
    median_error_m: list[float]  # per frame (inf when uncalibrated)
    within_1m: float  # share of frames whose median keypoint error ≤ 1 m
    by_lines: int = 0  # of the calibrated frames, those the line search found (no keypoint fit)

    def to_json(self) -> dict:
        finite = [e for e in self.median_error_m if np.isfinite(e)]
        return {
            "frames": self.frames,
            "calibrated": self.calibrated,
            "calibrated_by_lines": self.by_lines,
            "keypoint_error_px_median": round(self.keypoint_error_px, 2),
            "keypoints_found": round(self.keypoints_found, 4),
            "frame_error_m_median": round(float(np.median(finite)), 3) if finite else None,
            "frames_within_1m": round(self.within_1m, 4),
            f"frames_within_{VIEW_OK_M:g}m": round(self.within(VIEW_OK_M), 4),
        }

    def within(self, metres: float) -> float:
        """Share of frames whose median keypoint error is at most ``metres``."""
        if not self.median_error_m:
            return 0.0
        return float(np.mean([e <= metres for e in self.median_error_m]))


def frame_error_m(h: np.ndarray | None, frame: LabelledFrame) -> float:
    """Median distance (m) between where ``h`` puts the labelled image keypoints and their marks."""
    if h is None or not frame.visible.any():
        return float("inf")
    try:
        on_pitch = image_to_pitch(h, frame.keypoints[frame.visible])
    except np.linalg.LinAlgError:
        return float("inf")
    return float(np.median(np.linalg.norm(on_pitch - pitch.KEYPOINTS[frame.visible], axis=1)))


def score_pitch(
    frames: Iterable[LabelledFrame], detect: Callable[[np.ndarray], Detected]
) -> PitchScores:
    """``detect`` sees a frame; it is calibrated as a run calibrates a shot
    (`line_search.calibrate_frame`: a weak keypoint fit must be confirmed by the painted lines,
    the people's boxes masked out; without a fit the lines alone are searched). A detector that
    sees no pitch (keypoints None) counts as nothing found."""
    errors_px: list[float] = []
    found = labelled = calibrated = by_lines = 0
    per_frame: list[float] = []
    for frame in frames:
        seen_here = detect(frame.image)
        kp = seen_here.keypoints
        if kp is None:
            labelled += int(frame.visible.sum())
            per_frame.append(frame_error_m(None, frame))
            continue
        seen = kp.visible()
        both = seen & frame.visible
        errors_px += list(np.linalg.norm(kp.xy[both] - frame.keypoints[both], axis=1))
        found += int(both.sum())
        labelled += int(frame.visible.sum())
        calibration = calibrate_frame(kp, frame.image, seen_here.detections.persons.xyxy)
        calibrated += calibration.homography is not None
        by_lines += calibration.method == "lines"
        per_frame.append(frame_error_m(calibration.homography, frame))
    n = len(per_frame)
    return PitchScores(
        n,
        calibrated,
        float(np.median(errors_px)) if errors_px else float("nan"),
        found / labelled if labelled else 0.0,
        per_frame,
        float(np.mean([e <= PITCH_OK_M for e in per_frame])) if n else 0.0,
        by_lines,
    )
