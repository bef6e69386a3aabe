"""Run the shipped net on a frame and decode its heads: boxes, roles, scores and pitch keypoints.

No TensorFlow here: the flat buffer runs in the LiteRT interpreter (``ai-edge-litert``);
``backend="tensorflow"`` and ``"opencv"`` exist for the runtime comparison benchmark.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from portfolio_ml_core.errors import InputFileError
from portfolio_ml_core.native import quiet_native_stderr

from .spec import (
    BALL,
    BALL_CHANNEL,
    KEYPOINT_CHANNELS,
    NET,
    OFFSET_CHANNELS,
    PERSON_CHANNEL,
    ROLE_CHANNELS,
    ROLE_CLASSES,
    SIZE_CHANNELS,
)

BACKENDS = ("litert", "opencv", "tensorflow")
# Thresholds chosen on the valid split (docs/footai.md): persons above CANDIDATE_THRESHOLD feed
# the tracker (ByteTrack keeps weak ones for its second association stage); `detect` and the
# eval commands report those above REPORT_THRESHOLD, where F1 peaks.
PERSON_THRESHOLD = 0.3
REPORT_THRESHOLD = 0.5
BALL_THRESHOLD = 0.2
MAX_PERSONS = 60


@dataclass(frozen=True, eq=False)
class NetOutput:
    """The decoded heads of one frame, in the frame's pixels (`detect.net` wraps them as
    `Detected`). Persons ≥ PERSON_THRESHOLD, balls ≥ BALL_THRESHOLD; all 32 keypoints."""

    xyxy: np.ndarray  # (N, 4)
    class_id: np.ndarray  # (N,) model.spec class ids
    score: np.ndarray  # (N,)
    keypoint_xy: np.ndarray  # (32, 2)
    keypoint_confidence: np.ndarray  # (32,)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _peaks(heat: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Cells that are the maximum of their 3×3 neighbourhood and above ``threshold``."""
    local_max = cv2.dilate(heat, np.ones((3, 3), np.uint8))
    ys, xs = np.nonzero((heat >= local_max) & (heat >= threshold))
    return ys, xs


def decode(
    raw: np.ndarray, frame_size: tuple[int, int], input_size: tuple[int, int] = NET.size
) -> NetOutput:
    """Heads (h, w, C) → boxes and keypoints in frame pixels.

    ``input_size`` is the (w, h) the frame was resized to; the stride follows from the heads.
    """
    sx, sy = frame_size[0] / input_size[0], frame_size[1] / input_size[1]
    h, w, n = raw.shape
    stride = input_size[0] / w
    # Channel planes, each contiguous: work along one channel of the (h, w, C) tensor strides
    # through memory (a blocked transpose costs 0.2 ms, strided argmaxes cost 2 ms a frame).
    planes = cv2.transpose(np.ascontiguousarray(raw).reshape(h * w, n)).reshape(n, h, w)
    boxes, classes, scores = [], [], []
    for channel, threshold in ((BALL_CHANNEL, BALL_THRESHOLD), (PERSON_CHANNEL, PERSON_THRESHOLD)):
        # Peaks are found on the logits (the sigmoid is monotonic); it is taken at the peaks only.
        logit = planes[channel]
        ys, xs = _peaks(logit, float(np.log(threshold / (1.0 - threshold))))
        if len(ys) == 0:
            continue
        if channel == PERSON_CHANNEL and len(ys) > MAX_PERSONS:
            # A frame never holds more than ~30 people: keep the surest peaks.
            keep = np.argsort(-logit[ys, xs])[:MAX_PERSONS]
            ys, xs = ys[keep], xs[keep]
        cell = raw[ys, xs]
        off = cell[:, OFFSET_CHANNELS]
        size = np.exp(np.clip(cell[:, SIZE_CHANNELS], -2, 6))
        cx = (xs + off[:, 0] + 0.5) * stride
        cy = (ys + off[:, 1] + 0.5) * stride
        boxes.append(
            np.stack(
                [
                    cx - size[:, 0] / 2,
                    cy - size[:, 1] / 2,
                    cx + size[:, 0] / 2,
                    cy + size[:, 1] / 2,
                ],
                axis=1,
            )
        )
        if channel == BALL_CHANNEL:
            classes.append(np.full(len(ys), BALL))
        else:  # the role whose logit is highest at the person's centre
            classes.append(np.asarray(ROLE_CLASSES)[np.argmax(cell[:, ROLE_CHANNELS], axis=1)])
        scores.append(_sigmoid(logit[ys, xs]))
    if boxes:
        xyxy = np.concatenate(boxes) * [sx, sy, sx, sy]
        class_id, score = np.concatenate(classes), np.concatenate(scores)
    else:
        xyxy, class_id, score = np.zeros((0, 4)), np.zeros(0, np.int64), np.zeros(0)
    xy, conf = _keypoints(planes[KEYPOINT_CHANNELS])
    xy = (xy + 0.5) * stride * [sx, sy]
    return NetOutput(xyxy, class_id, score, xy, conf)


# The channels a mirrored frame is asked about (`with_mirror`): people, roles and the ball.
MIRRORED = slice(0, KEYPOINT_CHANNELS.start)


def with_mirror(heads: np.ndarray, mirrored: np.ndarray) -> np.ndarray:
    """The heads (h, w, C) of a frame averaged with those of its mirror image for the people
    and the ball (test-time flip): a second look that disagrees on a box lowers its score, one
    that agrees raises it. On the real test split persons F1 0.908 → 0.920, roles 0.936 →
    0.953, ball 0.556 → 0.611 (valid 0.898 → 0.903, 0.934 → 0.943, 0.526 → 0.553). The pitch
    keypoints stay the frame's own: averaged with their mirrored twins (`spec.FLIP_INDEX`)
    they cost the real test frames' pitch 1.00 → 0.96 within 1 m. ``heads`` must be an array
    of its own (it is written into); the stride divides the input width, so reversing the
    mirror's columns puts each cell back in place."""
    back = mirrored[:, ::-1, MIRRORED]
    x = OFFSET_CHANNELS.start
    # A centre's offset across its cell runs the other way in the mirror.
    offset_x = (heads[..., x] - back[..., x]) / 2
    heads[..., MIRRORED] = (heads[..., MIRRORED] + back) / 2
    heads[..., x] = offset_x
    return heads


def _keypoints(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per channel plane of (32, h, w) logits: the peak cell, refined to the heat-weighted centre
    of its 3×3 (cell units).

    The peak is found on the logits (the sigmoid is monotonic), and the sigmoid is taken on the
    32 small patches only: a whole-map sigmoid cost more than the rest of decoding.
    """
    k, h, w = logits.shape
    iy, ix = np.divmod(logits.reshape(k, -1).argmax(axis=1), w)
    offsets = np.array([-1, 0, 1])
    rows = iy[:, None, None] + offsets[None, :, None]  # (k, 3, 1)
    cols = ix[:, None, None] + offsets[None, None, :]  # (k, 1, 3)
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)  # (k, 3, 3)
    values = logits[np.arange(k)[:, None, None], rows.clip(0, h - 1), cols.clip(0, w - 1)]
    patch = _sigmoid(np.where(inside, values, -30.0))  # beyond the map: nothing there
    conf = patch[:, 1, 1]
    total = patch.sum(axis=(1, 2))
    dy = (patch.sum(axis=2) * offsets).sum(axis=1) / total
    dx = (patch.sum(axis=1) * offsets).sum(axis=1) / total
    return np.stack([ix + dx, iy + dy], axis=1), conf


def preprocess(image_bgr: np.ndarray, size: tuple[int, int] = NET.size) -> np.ndarray:
    # Bilinear, as the training samples were warped; INTER_AREA cost 6 ms a frame more here.
    small = cv2.resize(image_bgr, size, interpolation=cv2.INTER_LINEAR)
    rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
    # numpy's one-pass multiply: 0.35 ms a 640×352 frame, cv2.multiply's float path 3 ms.
    return np.multiply(rgb, np.float32(1.0 / 255.0), dtype=np.float32)[None]


def default_threads() -> int:
    """The cores this process may use: a Ray task's share (Ray sets OMP_NUM_THREADS to the
    task's CPUs, so parallel tasks do not oversubscribe the node), else up to 4."""
    allotted = os.environ.get("OMP_NUM_THREADS", "")
    if allotted.isdigit() and int(allotted) > 0:
        return int(allotted)
    return min(os.cpu_count() or 1, 4)


class FootNet:
    """The learned detector and keypoint model, loaded once, called per frame."""

    def __init__(self, weights: Path, backend: str = "litert", threads: int | None = None) -> None:
        if backend not in BACKENDS:
            raise InputFileError(f"unknown backend {backend!r} (choose {', '.join(BACKENDS)})")
        self.weights, self.backend = Path(weights), backend
        self.input_size: tuple[int, int] = NET.size
        threads = threads or default_threads()
        if backend == "litert":
            from ai_edge_litert.interpreter import Interpreter

            try:
                with quiet_native_stderr():  # "Created TensorFlow Lite XNNPACK delegate"
                    self._interp = Interpreter(model_path=str(weights), num_threads=threads)
                    self._interp.allocate_tensors()
            except (ValueError, RuntimeError) as exc:
                raise InputFileError(f"{weights}: not a Foot AI model ({exc})") from None
            self._in = self._interp.get_input_details()[0]
            self._out = self._interp.get_output_details()[0]
            shape = tuple(int(v) for v in self._in["shape"])
            if len(shape) != 4 or shape[0] != 1 or shape[3] != 3:
                raise InputFileError(f"{weights}: input shape {shape}, expected (1, H, W, 3)")
            # A retrained model may use another input size: it is read from the file.
            self.input_size = (shape[2], shape[1])
        elif backend == "opencv":
            cv2.setNumThreads(threads)
            self._net = cv2.dnn.readNet(str(weights))
        else:
            import keras

            self._keras = keras.models.load_model(
                Path(weights).with_suffix(".keras"), compile=False
            )
            _, h, w, _ = self._keras.input_shape
            self.input_size = (int(w), int(h))

    def raw(self, image_bgr: np.ndarray) -> np.ndarray:
        """The heads (h, w, C) of one frame: an array of its own."""
        return np.array(self._heads(image_bgr))

    def _heads(self, image_bgr: np.ndarray) -> np.ndarray:
        """The heads; for LiteRT a view of the interpreter's output buffer, valid until the
        next call (copying the 2.3-MB tensor cost 2 ms a frame; `decode` copies what it keeps)."""
        return self._run(preprocess(image_bgr, self.input_size))

    def _run(self, x: np.ndarray) -> np.ndarray:
        """`_heads` of a preprocessed input (1, h, w, 3)."""
        if self.backend == "litert":
            self._interp.set_tensor(self._in["index"], x)
            self._interp.invoke()
            return self._interp.tensor(self._out["index"])()[0]
        if self.backend == "opencv":
            self._net.setInput(x)
            w, h = self.input_size
            return self._net.forward().reshape(h // NET.stride, w // NET.stride, -1)
        return np.asarray(self._keras(x, training=False))[0]

    def __call__(self, image_bgr: np.ndarray, flip: bool = False) -> NetOutput:
        """The frame's boxes and keypoints; with ``flip`` the people and the ball are also
        looked for in the mirrored frame (`with_mirror`: a second pass of the net)."""
        h, w = image_bgr.shape[:2]
        if not flip:
            return decode(self._heads(image_bgr), (w, h), self.input_size)
        x = preprocess(image_bgr, self.input_size)
        # A copy: LiteRT refuses to run again while a view of its output buffer is held. The
        # mirror is taken of the small input (of the 1280×720 frame it cost 8 ms).
        own = np.array(self._run(x))
        mirrored = self._run(np.ascontiguousarray(x[:, :, ::-1]))
        return decode(with_mirror(own, mirrored), (w, h), self.input_size)
