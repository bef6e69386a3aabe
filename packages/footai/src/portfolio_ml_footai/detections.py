"""The values that travel through Foot AI: `Detections` per frame, and what a detector returns.

In the manner of supervision's ``Detections``: parallel NumPy columns, cheap to filter with a
boolean mask, with no drawing and no I/O. A detector fills ``xyxy``, ``class_id`` and
``score``; each later stage fills the column it owns by returning a new value (``kit`` and
``team`` the kit colours, ``appearance`` the colour layout re-identification compares,
``track_id`` the tracker, ``pitch_xy`` the calibration, ``player_id`` the re-identification
after the run). Nothing is changed in place: the value is frozen, and its arrays are read-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .model.spec import BALL, KEYPOINT_THRESHOLD, PERSON_CLASSES

_UNSET = np.empty(0)  # sentinel: "column not filled yet"
# Numbers in a row's appearance: a Lab colour for each of `track.appearance.STRIPES`.
APPEARANCE_DIM = 12

# Per column: its trailing shape and the value of an unfilled row.
_DEFAULTS: dict[str, tuple[tuple[int, ...], float, type]] = {
    "xyxy": ((4,), np.nan, np.float64),
    "class_id": ((), -1, np.int64),
    "score": ((), 0.0, np.float64),
    "track_id": ((), -1, np.int64),
    "team": ((), -1, np.int64),
    "team_confidence": ((), 0.0, np.float64),
    "kit": ((3,), np.nan, np.float32),
    "pitch_xy": ((2,), np.nan, np.float64),
    "appearance": ((APPEARANCE_DIM,), np.nan, np.float32),
    "player_id": ((), -1, np.int64),
}
_COLUMNS = tuple(_DEFAULTS)  # the dataclass's fields, in order (`fields()` is slow per frame)


@dataclass(frozen=True, eq=False)
class Detections:
    """Boxes of one frame: people and the ball (rows of class ``BALL``), with what is known of each."""

    xyxy: np.ndarray  # (N, 4) pixels of the original frame
    class_id: np.ndarray  # (N,) index into CLASSES: ball, goalkeeper, player, referee
    score: np.ndarray  # (N,) the detector's confidence
    track_id: np.ndarray = field(default_factory=lambda: _UNSET)  # (N,) -1: not tracked
    team: np.ndarray = field(default_factory=lambda: _UNSET)  # (N,) 0/1; -1 neither kit
    team_confidence: np.ndarray = field(default_factory=lambda: _UNSET)  # (N,) in [0, 1]
    kit: np.ndarray = field(default_factory=lambda: _UNSET)  # (N, 3) Lab shirt colour; NaN unseen
    pitch_xy: np.ndarray = field(default_factory=lambda: _UNSET)  # (N, 2) metres; NaN unknown
    # (N, APPEARANCE_DIM) Lab colours of head, shirt, shorts and legs; NaN unmeasured
    appearance: np.ndarray = field(default_factory=lambda: _UNSET)
    player_id: np.ndarray = field(default_factory=lambda: _UNSET)  # (N,) the person; -1 unknown

    def __post_init__(self) -> None:
        n = len(np.asarray(self.xyxy).reshape(-1, 4))
        for name in _COLUMNS:
            shape, fill, dtype = _DEFAULTS[name]
            value = getattr(self, name)
            column: np.ndarray
            if value is _UNSET:
                column = np.full((n, *shape), fill, dtype)
            elif (
                isinstance(value, np.ndarray)
                and not value.flags.writeable
                and value.dtype == dtype
                and value.shape[1:] == shape
            ):
                # Another Detections' column, or a slice of one: frozen already, so shared
                # (`with_` and the stages' filters copied every column of every frame).
                column = value
            else:
                column = np.array(value, dtype, copy=True).reshape(-1, *shape)
            if len(column) != n:
                raise ValueError(f"Detections.{name} has {len(column)} rows, xyxy {n}")
            column.flags.writeable = False
            object.__setattr__(self, name, column)

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4)), np.zeros(0, np.int64), np.zeros(0))

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: np.ndarray | slice | list[int]) -> Detections:
        return Detections(**{name: getattr(self, name)[index] for name in _COLUMNS})

    def with_(self, **columns: np.ndarray) -> Detections:
        """A copy with some columns replaced (a stage's result)."""
        unknown = set(columns) - set(_COLUMNS)
        if unknown:
            raise TypeError(f"Detections has no column {', '.join(sorted(unknown))}")
        return Detections(**{name: columns.get(name, getattr(self, name)) for name in _COLUMNS})

    @classmethod
    def concat(cls, parts: list[Detections]) -> Detections:
        if not parts:
            return cls.empty()
        return cls(**{name: np.concatenate([getattr(p, name) for p in parts]) for name in _COLUMNS})

    @property
    def persons(self) -> Detections:
        return self[np.isin(self.class_id, PERSON_CLASSES)]

    @property
    def balls(self) -> Detections:
        return self[self.class_id == BALL]

    @property
    def centres(self) -> np.ndarray:
        return (self.xyxy[:, :2] + self.xyxy[:, 2:]) / 2

    @property
    def xywh(self) -> np.ndarray:
        return np.c_[self.xyxy[:, :2], self.xyxy[:, 2:] - self.xyxy[:, :2]]

    def foot_points(self, lift: float = 0.0) -> np.ndarray:
        """Where each person stands: the box's bottom centre, raised by ``lift`` × its height
        (boxes are drawn with a margin below the feet)."""
        x0, y0, x1, y1 = self.xyxy.T
        return np.stack([(x0 + x1) / 2, y1 - lift * (y1 - y0)], axis=1)


def box_iou(a: np.ndarray, b: np.ndarray, expand: float = 0.0) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) xyxy boxes; ``expand`` grows every box by that share
    of its width and height on each side (ByteTrack's buffered IoU, for fast small players)."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    if expand:
        a, b = _grow(a, expand), _grow(b, expand)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def _grow(boxes: np.ndarray, share: float) -> np.ndarray:
    dx = (boxes[:, 2] - boxes[:, 0]) * share
    dy = (boxes[:, 3] - boxes[:, 1]) * share
    return np.stack([boxes[:, 0] - dx, boxes[:, 1] - dy, boxes[:, 2] + dx, boxes[:, 3] + dy], 1)


@dataclass(frozen=True, eq=False)
class PitchKeypoints:
    """The 32 pitch keypoints (`pitch.KEYPOINTS`) as seen in one frame: pixel xy and
    confidence (0 when unseen)."""

    xy: np.ndarray  # (32, 2) pixels of the original frame
    confidence: np.ndarray  # (32,)

    def visible(self, threshold: float | None = None) -> np.ndarray:
        return self.confidence >= (KEYPOINT_THRESHOLD if threshold is None else threshold)


@dataclass(frozen=True, eq=False)
class Detected:
    """What a detector sees in one frame: every candidate box, and the pitch keypoints.

    ``detections`` holds the candidates a tracker wants (weak ones too: ByteTrack's second
    stage); ``reported`` the ones a user is shown (`footai detect`, the eval commands).
    """

    detections: Detections
    keypoints: PitchKeypoints | None  # None: this detector does not see the pitch
    report_score: float = 0.5  # persons at or above this score are reported

    @property
    def reported(self) -> Detections:
        d = self.detections
        return d[(d.class_id == BALL) | (d.score >= self.report_score)]
