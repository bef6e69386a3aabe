"""A user's own YOLOv8/YOLO11 detection model, exported to ONNX, as a `Detector`.

``yolo export model=players.pt format=onnx`` writes one input, ``(1, 3, H, W)`` float RGB in
[0, 1], and one output, ``(1, 4 + nc, N)``: per candidate box its centre, width and height in
input pixels, then ``nc`` class scores (already sigmoid; no objectness, no NMS). This module
letterboxes the frame as ultralytics does, runs the file in onnxruntime (CPU), keeps each box's
best class, drops weak boxes, runs NMS per class and maps the boxes back to frame pixels.

The model's class names (ultralytics writes them into the file's metadata) are mapped to Foot
AI's roles: ball, goalkeeper, player, referee; other classes are dropped. Such a model sees no
pitch keypoints, so by default they still come from the shipped net (built on the first frame).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from portfolio_ml_core.errors import InputFileError

from ..detections import Detected, Detections, PitchKeypoints, box_iou
from ..model.runtime import REPORT_THRESHOLD, default_threads
from ..model.spec import BALL, CLASSES, GOALKEEPER, PLAYER, REFEREE

KeypointSource = Callable[[np.ndarray], PitchKeypoints | None]

DEFAULT_INPUT_SIZE = 640  # ultralytics' imgsz, for an export with symbolic H and W
PAD_GREY = 114  # ultralytics' letterbox fill
# Ultralytics' NMS settings: at most MAX_NMS candidates enter it, MAX_DET boxes leave it, and
# each class is shifted by MAX_WH pixels so that one NMS pass never merges different classes.
MAX_NMS = 30_000
MAX_DET = 300
MAX_WH = 7680

# A class name (lower case, "_" and "-" read as spaces) → Foot AI role.
ROLE_OF_NAME: dict[str, int] = {
    **dict.fromkeys(("ball", "balls", "sports ball", "football", "soccer ball"), BALL),
    **dict.fromkeys(
        ("goalkeeper", "goalkeepers", "goal keeper", "keeper", "goalie", "gk"), GOALKEEPER
    ),
    **dict.fromkeys(("player", "players", "person", "persons"), PLAYER),
    **dict.fromkeys(("referee", "referees", "ref"), REFEREE),
}
# Without class names in the file: 4 classes are taken in the order of Roboflow's
# football-players-detection dataset (Foot AI's own order), 80 as COCO.
FOOTBALL_NAMES: dict[int, str] = dict(enumerate(CLASSES))
COCO_NAMES: dict[int, str] = {0: "person", 32: "sports ball"}  # the rest of COCO: no role


def role_of_name(name: str) -> int | None:
    """The role a class name stands for, or None (the class is dropped)."""
    key = " ".join(name.lower().replace("_", " ").replace("-", " ").split())
    return ROLE_OF_NAME.get(key)


def parse_names(text: str) -> dict[int, str]:
    """Ultralytics' ``names`` metadata (``"{0: 'ball', 1: 'player'}"``, a Python literal) as a
    dict; a list of names is read in order. Raises ValueError if it is neither."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise ValueError(f"unreadable class names {text[:80]!r}") from exc
    if isinstance(value, list | tuple):
        value = dict(enumerate(value))
    if not isinstance(value, dict):
        raise ValueError(f"class names {text[:80]!r} are not a dict")
    try:
        return {int(k): str(v) for k, v in value.items()}
    except (TypeError, ValueError) as exc:
        raise ValueError(f"class names {text[:80]!r} have non-integer ids") from exc


def class_roles(names: Mapping[int, str] | None, nc: int) -> np.ndarray:
    """Per model class, its role (`model.spec` class id), -1 for a class without one.

    Raises ValueError when the classes can't be told apart or none has a role.
    """
    if names is None:
        if nc == len(CLASSES):
            names = FOOTBALL_NAMES
        elif nc == 80:
            names = COCO_NAMES
        else:
            raise ValueError(
                f"{nc} classes and no class names in its metadata: export it with ultralytics "
                "(which writes them), or use a model with names"
            )
    roles = np.full(nc, -1, np.int64)
    for index, name in names.items():
        if not 0 <= index < nc:
            raise ValueError(f"class {index} ({name!r}) is not one of the model's {nc} classes")
        role = role_of_name(name)
        roles[index] = -1 if role is None else role
    if (roles < 0).all():
        shown = ", ".join(sorted(set(names.values()))[:8])
        raise ValueError(f"none of its classes ({shown}) is a ball, goalkeeper, player or referee")
    return roles


def output_layout(shape: Sequence[int], nc_hint: int | None) -> tuple[bool, int]:
    """(channels first?, nc) of a ``(1, 4 + nc, N)`` or ``(1, N, 4 + nc)`` output.

    With the class count known (``nc_hint``, from the names) the 4 + nc axis is found by size;
    without, it is the shorter one (N is thousands of anchors). Raises ValueError otherwise.
    """
    if len(shape) != 3 or shape[0] != 1:
        raise ValueError(f"output shape {tuple(shape)}, expected (1, 4 + classes, boxes)")
    _, a, b = shape
    if nc_hint is not None:
        if a == 4 + nc_hint:
            return True, nc_hint
        if b == 4 + nc_hint:
            return False, nc_hint
        raise ValueError(
            f"output shape {tuple(shape)} has no axis of 4 box values + {nc_hint} class scores "
            "(a YOLOv8/YOLO11 detection export without NMS is expected)"
        )
    channels = min(a, b)
    if channels < 5:
        raise ValueError(f"output shape {tuple(shape)}, expected (1, 4 + classes, boxes)")
    return a <= b, channels - 4


def letterbox(
    image: np.ndarray, size: tuple[int, int]
) -> tuple[np.ndarray, float, tuple[int, int]]:
    """The frame scaled to fit ``size`` (w, h), aspect kept, centred on grey, as ultralytics'
    ``LetterBox(auto=False)`` does (same sizes and rounding, so the model sees what it was
    validated on). Returns the image, the scale and the (left, top) padding."""
    h0, w0 = image.shape[:2]
    w, h = size
    gain = min(h / h0, w / w0)
    new_w, new_h = round(w0 * gain), round(h0 * gain)
    if (new_w, new_h) != (w0, h0):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    dw, dh = (w - new_w) / 2, (h - new_h) / 2
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    padded = cv2.copyMakeBorder(
        image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_GREY,) * 3
    )
    return padded, gain, (left, top)


def nms(xyxy: np.ndarray, score: np.ndarray, class_id: np.ndarray, iou: float) -> np.ndarray:
    """Greedy NMS per class: indices of the kept boxes, best first. A box goes when it overlaps
    a better one of its class by IoU > ``iou``."""
    # Each class moved to its own region of the plane: one pass, and classes never meet.
    shifted = xyxy + (class_id * MAX_WH)[:, None]
    order = np.argsort(-score, kind="stable")
    keep: list[int] = []
    while order.size and len(keep) < MAX_DET:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        order = rest[box_iou(shifted[best], shifted[rest])[0] <= iou]
    return np.asarray(keep, np.int64)


def decode(
    raw: np.ndarray, roles: np.ndarray, channels_first: bool, conf: float, iou: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's output → (xyxy in input pixels, role class ids, scores) after NMS."""
    pred = np.asarray(raw[0], np.float32)
    pred = pred if channels_first else pred.T  # (4 + nc, N)
    scores = pred[4 : 4 + len(roles)]
    best_score = scores.max(axis=0)
    candidates = np.nonzero(best_score >= conf)[0]
    best_class = scores[:, candidates].argmax(axis=0)
    role = roles[best_class]
    # A box whose best class has no role is dropped, not given its second-best class.
    candidates, role = candidates[role >= 0], role[role >= 0]
    score = best_score[candidates].astype(np.float64)
    if len(candidates) > MAX_NMS:
        top = np.argsort(-score, kind="stable")[:MAX_NMS]
        candidates, role, score = candidates[top], role[top], score[top]
    cx, cy, w, h = pred[:4, candidates].astype(np.float64)
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    # Per role, not per model class: two names of one role ("player", "person") are one class.
    keep = nms(xyxy, score, role, iou)
    return xyxy[keep], role[keep], score[keep]


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:200]


def _is_size(value: Any) -> bool:
    return isinstance(value, int) and value > 0


def _input_size(shape: Sequence[Any], meta: Mapping[str, str]) -> tuple[int, int]:
    """(w, h) the model takes: from its input shape, else its ``imgsz`` metadata, else 640."""
    # Symbolic axes (a dynamic export) are strings or None; a fixed one must fit one RGB frame.
    fixed = [v if _is_size(v) else None for v in shape]
    if len(shape) != 4 or fixed[0] not in (1, None) or fixed[1] not in (3, None):
        raise ValueError(f"input shape {tuple(shape)}, expected (1, 3, H, W)")
    h, w = shape[2], shape[3]
    if _is_size(h) and _is_size(w):
        return int(w), int(h)
    size: Any = DEFAULT_INPUT_SIZE
    if "imgsz" in meta:  # ultralytics writes "[640, 640]" (h, w)
        try:
            size = ast.literal_eval(meta["imgsz"])
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            size = DEFAULT_INPUT_SIZE
    if _is_size(size):
        return int(size), int(size)
    if isinstance(size, list | tuple) and len(size) == 2 and all(map(_is_size, size)):
        return int(size[1]), int(size[0])
    return DEFAULT_INPUT_SIZE, DEFAULT_INPUT_SIZE


def _shipped_net_keypoints(threads: int | None = None) -> KeypointSource:
    from .net import NetDetector

    net = NetDetector(threads=threads)

    def keypoints(image: np.ndarray) -> PitchKeypoints | None:
        return net(image).keypoints

    return keypoints


class OnnxDetector:
    """A YOLOv8/YOLO11 ONNX detection export: boxes with roles from its class names; pitch
    keypoints from ``keypoints`` (default: the shipped net, built on the first frame).

    ``classes`` ({class index: name}) overrides the names in the file; names without a role
    are dropped. ``conf`` is the least score kept (candidates for the tracker), ``iou`` the
    NMS overlap, ``report_score`` the least person score shown (`Detected.reported`).
    """

    name = "onnx"

    def __init__(
        self,
        model: Path,
        keypoints: KeypointSource | None = None,
        conf: float = 0.25,
        iou: float = 0.5,
        report_score: float = REPORT_THRESHOLD,
        classes: Mapping[int, str] | None = None,
        threads: int | None = None,
    ) -> None:
        self.model = Path(model)
        self.conf, self.iou, self.report_score = conf, iou, report_score
        self._keypoints = keypoints
        self._threads = threads or default_threads()
        self._session = _open_session(self.model, self._threads)
        try:
            self._read_layout(classes)
        except ValueError as exc:
            raise InputFileError(f"{self.model}: {exc}") from None

    def _read_layout(self, classes: Mapping[int, str] | None) -> None:
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ValueError(
                f"{len(inputs)} inputs and {len(outputs)} outputs, expected one of each "
                "(a YOLOv8/YOLO11 detection export)"
            )
        meta: dict[str, str] = dict(self._session.get_modelmeta().custom_metadata_map)
        task = meta.get("task", "detect")
        if task != "detect":
            raise ValueError(f"a {task!r} model; a detection model is needed")
        tensor_type = inputs[0].type
        if tensor_type not in ("tensor(float)", "tensor(float16)"):
            raise ValueError(f"input of {tensor_type}, expected float")
        self._input_name, self._output_name = inputs[0].name, outputs[0].name
        # A half-precision export (half=True) takes float16.
        self._dtype = np.float16 if tensor_type == "tensor(float16)" else np.float32
        self.input_size = _input_size(list(inputs[0].shape), meta)
        names = parse_names(meta["names"]) if "names" in meta else None
        shape = list(outputs[0].shape)
        if not all(_is_size(v) for v in shape):
            # A dynamic export names its axes: one blank frame gives the real shape.
            w, h = self.input_size
            shape = list(self._run(np.zeros((1, 3, h, w), self._dtype)).shape)
        self._channels_first, nc = output_layout(shape, None if names is None else len(names))
        self.roles = class_roles(classes if classes is not None else names, nc)

    def _run(self, x: np.ndarray) -> np.ndarray:
        try:
            out = self._session.run([self._output_name], {self._input_name: x})[0]
        except Exception as exc:  # onnxruntime's own exception types, not RuntimeError
            raise ValueError(f"does not run on a {x.shape} input ({_one_line(exc)})") from None
        return np.asarray(out)

    def __call__(self, image: np.ndarray) -> Detected:
        frame_h, frame_w = image.shape[:2]
        padded, gain, (left, top) = letterbox(image, self.input_size)
        rgb = cv2.cvtColor(padded, cv2.COLOR_BGR2RGB)
        x = (rgb.transpose(2, 0, 1)[None].astype(np.float32) * (1 / 255)).astype(
            self._dtype, copy=False
        )
        raw = self._session.run([self._output_name], {self._input_name: x})[0]
        xyxy, class_id, score = decode(raw, self.roles, self._channels_first, self.conf, self.iou)
        xyxy = (xyxy - [left, top, left, top]) / gain
        xyxy[:, 0::2] = xyxy[:, 0::2].clip(0, frame_w)
        xyxy[:, 1::2] = xyxy[:, 1::2].clip(0, frame_h)
        return Detected(
            Detections(xyxy, class_id, score), self._pitch_keypoints(image), self.report_score
        )

    def _pitch_keypoints(self, image: np.ndarray) -> PitchKeypoints | None:
        if self._keypoints is None:  # built here, not in __init__: the net loads when needed
            self._keypoints = _shipped_net_keypoints(self._threads)
        return self._keypoints(image)


def _open_session(model: Path, threads: int) -> Any:
    try:
        import onnxruntime as ort
    except ImportError:
        raise InputFileError(
            "--detector onnx needs onnxruntime: pip install 'portfolio-ml-footai[onnx]'"
        ) from None
    if not model.is_file():
        raise InputFileError(f"model file not found: {model}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1  # one frame at a time: parallelism is within each op
    options.log_severity_level = 3  # errors only: exports trigger harmless load warnings
    try:
        return ort.InferenceSession(
            str(model), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own types (InvalidProtobuf, Fail, ...)
        raise InputFileError(f"{model}: not a readable ONNX model ({_one_line(exc)})") from None
