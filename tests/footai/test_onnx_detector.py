"""`--detector onnx`: a YOLOv8/YOLO11-layout ONNX file, built here with fixed candidate boxes."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the ONNX detector tests build models with `onnx`")
pytest.importorskip("onnxruntime", reason="needs the onnx extra: portfolio-ml-footai[onnx]")

from onnx import TensorProto, helper  # noqa: E402
from portfolio_ml_core.errors import InputFileError  # noqa: E402
from portfolio_ml_footai.detect import create_detector  # noqa: E402
from portfolio_ml_footai.detect.onnx import OnnxDetector, letterbox  # noqa: E402
from portfolio_ml_footai.detections import Detected, PitchKeypoints  # noqa: E402
from portfolio_ml_footai.model.spec import BALL, GOALKEEPER, PLAYER, REFEREE  # noqa: E402

FRAME_W, FRAME_H = 320, 180
INPUT = 64
# A 320×180 frame in a 64×64 input: scale 0.2, 14 grey rows above and below, none beside.
GAIN, TOP = 0.2, 14
NAMES = "{0: 'Player', 1: 'referee', 2: 'sports_ball', 3: 'GK', 4: 'coach'}"


def frame_box(x0: float, y0: float, x1: float, y1: float) -> list[float]:
    """A frame-pixel box as the model's (cx, cy, w, h) in input pixels."""
    a = np.array([x0, y0, x1, y1]) * GAIN + [0, TOP, 0, TOP]
    return [(a[0] + a[2]) / 2, (a[1] + a[3]) / 2, a[2] - a[0], a[3] - a[1]]


def row(box: list[float], nc: int, cls: int, score: float) -> list[float]:
    scores = [0.0] * nc
    scores[cls] = score
    return [*box, *scores]


PLAYER_BOX = (100, 50, 140, 130)
# (box, class, score) in NAMES' classes; what each one tests is beside it.
CANDIDATES = [
    (PLAYER_BOX, 0, 0.9),  # a player
    ((101, 51, 141, 131), 0, 0.8),  # the same player again: removed by NMS
    ((102, 50, 142, 130), 1, 0.85),  # a referee over him: NMS is per class, kept
    ((200, 100, 210, 110), 2, 0.6),  # the ball
    ((20, 40, 50, 120), 3, 0.55),  # the goalkeeper
    ((250, 40, 280, 120), 4, 0.95),  # a coach: no role, dropped
    ((150, 40, 180, 120), 0, 0.1),  # a weak player: below conf, dropped
]


def candidate_rows(nc: int, candidates=CANDIDATES, n: int = 16) -> np.ndarray:
    """(4 + nc, n): the candidates as columns, padded with empty boxes."""
    rows = [row(frame_box(*box), nc, cls, score) for box, cls, score in candidates]
    rows += [[0.0] * (4 + nc)] * (n - len(rows))
    return np.array(rows, np.float32).T


def write_model(
    path: Path,
    out: np.ndarray,
    names: str | None = NAMES,
    transposed: bool = False,
    input_shape: list[int | str] | None = None,
    extra_meta: dict[str, str] | None = None,
    half: bool = False,
) -> Path:
    """An ONNX graph with YOLOv8's interface that ignores its image: output =
    mean(image) × 0 + the constant candidates (the input is still wired in)."""
    out = out.T if transposed else out
    value = out[None].astype(np.float32)
    in_type = TensorProto.FLOAT16 if half else TensorProto.FLOAT
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean_raw"], keepdims=0),
        helper.make_node("Cast", ["mean_raw"], ["mean"], to=TensorProto.FLOAT),
        helper.make_node(
            "Constant", [], ["zero"], value=helper.make_tensor("z", TensorProto.FLOAT, [], [0.0])
        ),
        helper.make_node(
            "Constant",
            [],
            ["boxes"],
            value=helper.make_tensor("c", TensorProto.FLOAT, value.shape, value.ravel()),
        ),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["boxes", "nothing"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "yolo_like",
        [helper.make_tensor_value_info("images", in_type, input_shape or [1, 3, INPUT, INPUT])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(value.shape))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # any onnxruntime ≥ 1.17 reads it
    meta = {**({"names": names} if names is not None else {}), **(extra_meta or {})}
    helper.set_model_props(model, meta)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def no_keypoints(image: np.ndarray) -> None:
    return None


def frame() -> np.ndarray:
    return np.full((FRAME_H, FRAME_W, 3), 90, np.uint8)


def by_class(detected: Detected) -> dict[int, list[tuple[list[float], float]]]:
    d = detected.detections
    found: dict[int, list[tuple[list[float], float]]] = {}
    for box, c, s in zip(d.xyxy, d.class_id, d.score, strict=True):
        found.setdefault(int(c), []).append((box.round(3).tolist(), round(float(s), 3)))
    return found


EXPECTED = {
    PLAYER: [([100, 50, 140, 130], 0.9)],
    REFEREE: [([102, 50, 142, 130], 0.85)],
    BALL: [([200, 100, 210, 110], 0.6)],
    GOALKEEPER: [([20, 40, 50, 120], 0.55)],
}


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return write_model(tmp_path / "players.onnx", candidate_rows(5))


def test_boxes_roles_thresholds_and_nms(model: Path) -> None:
    detector = OnnxDetector(model, keypoints=no_keypoints)
    assert detector.input_size == (INPUT, INPUT)
    detected = detector(frame())
    assert detected.keypoints is None
    assert by_class(detected) == EXPECTED
    # Persons under report_score (0.5) are candidates, not reported; the ball always is.
    low = OnnxDetector(model, keypoints=no_keypoints, conf=0.05)
    weak = low(frame())
    assert 0.1 in weak.detections.score.round(3)
    assert 0.1 not in weak.reported.score.round(3)


def test_transposed_output(tmp_path: Path) -> None:
    path = write_model(tmp_path / "t.onnx", candidate_rows(5), transposed=True)
    assert by_class(OnnxDetector(path, keypoints=no_keypoints)(frame())) == EXPECTED


def test_without_names_four_classes_are_the_football_order(tmp_path: Path) -> None:
    # Classes 0..3 = ball, goalkeeper, player, referee (Roboflow's football-players-detection).
    cands = [((10, 10, 20, 20), 0, 0.7), ((30, 30, 60, 90), 1, 0.7), ((100, 30, 130, 90), 2, 0.7)]
    cands += [((200, 30, 230, 90), 3, 0.7)]
    path = write_model(tmp_path / "n.onnx", candidate_rows(4, cands), names=None)
    found = OnnxDetector(path, keypoints=no_keypoints)(frame()).detections
    assert found.class_id.tolist() == [BALL, GOALKEEPER, PLAYER, REFEREE]


def test_without_names_eighty_classes_are_coco(tmp_path: Path) -> None:
    cands = [((10, 10, 20, 20), 32, 0.7), ((30, 30, 60, 90), 0, 0.8), ((100, 30, 130, 90), 2, 0.9)]
    path = write_model(tmp_path / "coco.onnx", candidate_rows(80, cands, n=100), names=None)
    found = OnnxDetector(path, keypoints=no_keypoints)(frame()).detections
    assert sorted(found.class_id.tolist()) == [BALL, PLAYER]  # class 2 (car): no role


def test_class_override(model: Path) -> None:
    classes = {0: "player", 4: "referee"}  # the coach is a referee; the rest have no role
    found = OnnxDetector(model, keypoints=no_keypoints, classes=classes)(frame()).detections
    assert sorted(found.class_id.tolist()) == [PLAYER, REFEREE]
    assert found.score.round(3).tolist() == [0.95, 0.9]


def test_dynamic_input_takes_imgsz_from_metadata(tmp_path: Path) -> None:
    path = write_model(
        tmp_path / "d.onnx",
        candidate_rows(5),
        input_shape=[1, 3, "height", "width"],
        extra_meta={"imgsz": "[64, 64]", "task": "detect"},
    )
    detector = OnnxDetector(path, keypoints=no_keypoints)
    assert detector.input_size == (INPUT, INPUT)
    assert by_class(detector(frame())) == EXPECTED


def test_half_precision_input(tmp_path: Path) -> None:
    path = write_model(tmp_path / "h.onnx", candidate_rows(5), half=True)
    assert by_class(OnnxDetector(path, keypoints=no_keypoints)(frame())) == EXPECTED


def test_letterbox_matches_ultralytics() -> None:
    image = np.zeros((FRAME_H, FRAME_W, 3), np.uint8)
    padded, gain, (left, top) = letterbox(image, (INPUT, INPUT))
    assert padded.shape == (INPUT, INPUT, 3)
    assert (gain, left, top) == (GAIN, 0, TOP)
    assert (padded[:TOP] == 114).all() and (padded[-TOP:] == 114).all()
    assert (padded[TOP:-TOP] == 0).all()
    # An odd margin: ultralytics puts the extra row below (round(dh ∓ 0.1)).
    padded, _, (_, top) = letterbox(np.zeros((100, 200, 3), np.uint8), (64, 37))
    assert padded.shape == (37, 64, 3) and top == 2 and (padded[-3:] == 114).all()


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("garbage", "not a readable ONNX model"),
        ("nms_end2end", "no axis of 4 box values + 5 class scores"),
        ("no_roles", "is a ball, goalkeeper, player or referee"),
        ("unnamed_3_classes", "no class names"),
        ("segment", "'segment' model"),
        ("nhwc", "expected (1, 3, H, W)"),
    ],
)
def test_bad_models_are_one_line_errors(tmp_path: Path, kind: str, message: str) -> None:
    path = tmp_path / f"{kind}.onnx"
    if kind == "garbage":
        path.write_bytes(b"this is not a protobuf \x00\xff" * 10)
    elif kind == "nms_end2end":  # (1, 300, 6): boxes after NMS, as `nms=True` exports
        write_model(path, np.zeros((6, 300), np.float32), transposed=True)
    elif kind == "no_roles":
        write_model(path, candidate_rows(2, []), names="{0: 'car', 1: 'truck'}")
    elif kind == "unnamed_3_classes":
        write_model(path, candidate_rows(3, []), names=None)
    elif kind == "segment":
        write_model(path, candidate_rows(5), extra_meta={"task": "segment"})
    else:
        write_model(path, candidate_rows(5), input_shape=[1, INPUT, INPUT, 3])
    with pytest.raises(InputFileError) as error:
        OnnxDetector(path, keypoints=no_keypoints)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_missing_onnxruntime_names_the_extra(model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(InputFileError, match=r"portfolio-ml-footai\[onnx\]"):
        OnnxDetector(model)


def test_create_detector_builds_it_and_the_shipped_net_only_on_first_frame(
    model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import portfolio_ml_footai.detect.net as net_module

    built: list[str] = []
    keypoints = PitchKeypoints(np.zeros((32, 2)), np.ones(32))

    class FakeNet:
        def __init__(self, model: Path | None = None, threads: int | None = None) -> None:
            built.append(f"net on {threads} threads")

        def __call__(self, image: np.ndarray) -> Detected:
            from portfolio_ml_footai.detections import Detections

            return Detected(Detections.empty(), keypoints)

    monkeypatch.setattr(net_module, "NetDetector", FakeNet)
    detector = create_detector("onnx", model=model, threads=1)
    assert isinstance(detector, OnnxDetector) and detector.name == "onnx"
    assert built == []  # constructing it does not load the shipped net
    detected = detector(frame())
    assert detected.keypoints is keypoints and built == ["net on 1 threads"]
    assert by_class(detected) == EXPECTED
    detector(frame())
    assert built == ["net on 1 threads"]  # built once, on the cores it was given
