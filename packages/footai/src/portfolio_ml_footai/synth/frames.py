"""The renderer's frames as training data: exact boxes and pitch keypoints per frame."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from .. import pitch
from ..model.data import LabelledFrame
from ..model.spec import BALL, GOALKEEPER, PLAYER, REFEREE
from .render import SampleConfig, iter_frames

ROLE_CLASS = {"ball": BALL, "goalkeeper": GOALKEEPER, "player": PLAYER, "referee": REFEREE}


def synthetic_frames(
    seeds: range,
    every: int = 25,
    per_seed: int = 6,
    cache: Path | None = None,
    camera: str | None = None,
) -> Iterator[LabelledFrame]:
    """Frames of the project's renderer, exact boxes and keypoints.

    ``camera`` None alternates static and pan cameras by seed; "tactical" gives the high, wide
    camera. Rendering costs seconds per clip; with ``cache`` each seed's frames are kept there
    (PNG + npz labels) and read back by later runs (``--resume``, a retraining).
    """
    prefix = "synth" if camera is None else f"synth_{camera}"
    for seed in seeds:
        stored = cache / f"{prefix}_{seed}_{every}_{per_seed}.npz" if cache is not None else None
        if stored is not None and stored.exists():
            yield from _read_cached(stored)
            continue
        frames = list(_render_seed(seed, every, per_seed, camera))
        if stored is not None:
            _write_cached(stored, frames)
        yield from frames


def _write_cached(path: Path, frames: list[LabelledFrame]) -> None:
    from portfolio_ml_core.fsutil import atomic_path

    data: dict[str, np.ndarray] = {}
    for i, f in enumerate(frames):
        data[f"png{i}"] = np.frombuffer(cv2.imencode(".png", f.image)[1].tobytes(), np.uint8)
        data[f"boxes{i}"], data[f"classes{i}"] = f.boxes, f.classes
        data[f"kp{i}"], data[f"vis{i}"] = f.keypoints, f.visible
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        data["n"] = np.array(len(frames))
        data["names"] = np.array([f.name for f in frames])
        np.savez(tmp, **data)  # type: ignore[arg-type]


def _read_cached(path: Path) -> Iterator[LabelledFrame]:
    with np.load(path) as z:
        for i in range(int(z["n"])):
            yield LabelledFrame(
                str(z["names"][i]),
                np.asarray(cv2.imdecode(z[f"png{i}"], cv2.IMREAD_COLOR)),
                z[f"boxes{i}"],
                z[f"classes{i}"],
                z[f"kp{i}"],
                z[f"vis{i}"],
                has_boxes=True,
                has_keypoints=True,
            )


def _render_seed(
    seed: int, every: int, per_seed: int, camera: str | None = None
) -> Iterator[LabelledFrame]:
    camera = camera or ("pan" if seed % 2 else "static")
    cfg = SampleConfig(camera=camera, seconds=every * per_seed / 25.0, seed=seed)
    for rendered in iter_frames(cfg):
        if rendered.index % every:
            continue
        rows = [r for r in rendered.rows if float(r[11]) >= 0.3]  # mostly hidden: no label
        boxes = np.array([[r[4], r[5], r[4] + r[6], r[5] + r[7]] for r in rows], float)
        classes = np.array([ROLE_CLASS[r[2]] for r in rows], int)
        h = rendered.camera.homography()
        img_pts = cv2.perspectiveTransform(pitch.KEYPOINTS.reshape(-1, 1, 2), h).reshape(-1, 2)
        depth = pitch.KEYPOINTS @ h[2, :2] + h[2, 2]
        inside = (
            (depth > 0)
            & (img_pts[:, 0] >= 0)
            & (img_pts[:, 0] < cfg.width)
            & (img_pts[:, 1] >= 0)
            & (img_pts[:, 1] < cfg.height)
        )
        yield LabelledFrame(
            f"synth_{camera}_{seed}_{rendered.index}",
            rendered.image,
            boxes.reshape(-1, 4),
            classes,
            np.where(inside[:, None], img_pts, 0.0),
            inside,
            has_boxes=True,
            has_keypoints=True,
        )


def training_frames(seeds: range, camera: str | None, cache: Path) -> Iterator[LabelledFrame]:
    """What `model.train` asks for: 2 frames per seed, 6 frames apart, cached in ``cache``."""
    return synthetic_frames(seeds, every=6, per_seed=2, cache=cache, camera=camera)
