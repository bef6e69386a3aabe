"""`Detections`: the one columnar value that flows detect → roles/teams → track → pitch → outputs.

In the manner of supervision's ``Detections``: parallel NumPy columns, cheap to filter with a
boolean mask, with no drawing and no I/O. Stages fill the columns they own (``team``,
``track_id``, ``pitch_xy``) by returning a new value; nothing is mutated in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .model.spec import BALL, CLASSES, PERSON_CLASSES

_EMPTY = np.empty(0)  # sentinel: "column not filled yet"


def _ints(n: int, value: int = -1) -> np.ndarray:
    return np.full(n, value, dtype=np.int64)


@dataclass(frozen=True)
class Detections:
    xyxy: np.ndarray  # (N, 4) float pixels of the original frame
    class_id: np.ndarray  # (N,) index into CLASSES: ball, goalkeeper, player, referee
    score: np.ndarray  # (N,)
    # Filled by later stages; left empty they default to "unknown" (-1, -1, NaN).
    team: np.ndarray = field(default_factory=lambda: _EMPTY)  # (N,) 0/1, -1 unknown
    track_id: np.ndarray = field(default_factory=lambda: _EMPTY)  # (N,) -1 untracked
    pitch_xy: np.ndarray = field(default_factory=lambda: _EMPTY)  # (N, 2) metres, NaN unknown

    def __post_init__(self) -> None:
        n = len(self.xyxy)
        object.__setattr__(self, "xyxy", np.asarray(self.xyxy, np.float64).reshape(-1, 4))
        object.__setattr__(self, "class_id", np.asarray(self.class_id, np.int64).reshape(-1))
        object.__setattr__(self, "score", np.asarray(self.score, np.float64).reshape(-1))
        if self.team is _EMPTY:
            object.__setattr__(self, "team", _ints(n))
        if self.track_id is _EMPTY:
            object.__setattr__(self, "track_id", _ints(n))
        if self.pitch_xy is _EMPTY:
            object.__setattr__(self, "pitch_xy", np.full((n, 2), np.nan))
        object.__setattr__(self, "pitch_xy", np.asarray(self.pitch_xy, np.float64).reshape(-1, 2))
        for name in ("class_id", "score", "team", "track_id", "pitch_xy"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Detections.{name} has {len(getattr(self, name))} rows, xyxy {n}")

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4)), np.zeros(0, np.int64), np.zeros(0))

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: np.ndarray | slice) -> Detections:
        return Detections(
            self.xyxy[index],
            self.class_id[index],
            self.score[index],
            self.team[index],
            self.track_id[index],
            self.pitch_xy[index],
        )

    def with_(self, **columns: np.ndarray) -> Detections:
        return replace(self, **columns)

    @property
    def persons(self) -> Detections:
        return self[np.isin(self.class_id, PERSON_CLASSES)]

    @property
    def balls(self) -> Detections:
        return self[self.class_id == BALL]

    @property
    def roles(self) -> list[str]:
        return [CLASSES[c] for c in self.class_id]

    @property
    def foot_points(self) -> np.ndarray:
        """Bottom centre of each box: where a person stands on the pitch."""
        return np.stack([(self.xyxy[:, 0] + self.xyxy[:, 2]) / 2, self.xyxy[:, 3]], axis=1)

    @property
    def centres(self) -> np.ndarray:
        return (self.xyxy[:, :2] + self.xyxy[:, 2:]) / 2

    @classmethod
    def concat(cls, parts: list[Detections]) -> Detections:
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.xyxy for p in parts]),
            np.concatenate([p.class_id for p in parts]),
            np.concatenate([p.score for p in parts]),
            np.concatenate([p.team for p in parts]),
            np.concatenate([p.track_id for p in parts]),
            np.concatenate([p.pitch_xy for p in parts]),
        )
