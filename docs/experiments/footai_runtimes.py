"""Time the Foot AI net in four runtimes in one process: LiteRT, ONNX Runtime, TensorFlow, OpenCV DNN.

ONNX Runtime and tf2onnx are not project dependencies (tf2onnx pins old protobuf releases), so
this runs in a scratch environment:

    python -m venv /tmp/rt && /tmp/rt/bin/pip install ai-edge-litert onnxruntime tf2onnx \
        tensorflow-cpu opencv-python-headless
    /tmp/rt/bin/python -m tf2onnx.convert --tflite footai_net.tflite --output /tmp/footai_net.onnx
    /tmp/rt/bin/python docs/experiments/footai_runtimes.py WEIGHTS_DIR /tmp/footai_net.onnx

WEIGHTS_DIR holds footai_net.tflite and footai_net.keras (the output of `footai train`).
The in-project benchmark `portfolio-ml bench footai.runtimes` times the runtimes the project
installs (LiteRT, OpenCV DNN, TensorFlow).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

THREADS = 2
RUNS = 60


def timed(fn) -> float:
    for _ in range(5):
        fn()
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times))


def main(weights_dir: Path, onnx_path: Path) -> None:
    x = np.random.default_rng(0).random((1, 352, 640, 3), dtype=np.float32)  # the shipped size
    results: dict[str, float] = {}
    outputs: dict[str, np.ndarray] = {}

    from ai_edge_litert.interpreter import Interpreter

    lite = Interpreter(model_path=str(weights_dir / "footai_net.tflite"), num_threads=THREADS)
    lite.allocate_tensors()
    i, o = lite.get_input_details()[0]["index"], lite.get_output_details()[0]["index"]

    def run_lite():
        lite.set_tensor(i, x)
        lite.invoke()
        return lite.get_tensor(o)

    results["litert"], outputs["litert"] = timed(run_lite), run_lite()

    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = THREADS
    sess = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    results["onnxruntime"] = timed(lambda: sess.run(None, {name: x}))
    outputs["onnxruntime"] = sess.run(None, {name: x})[0]

    import cv2

    cv2.setNumThreads(THREADS)
    try:
        net = cv2.dnn.readNet(str(weights_dir / "footai_net.tflite"))

        def run_cv():
            net.setInput(x)
            return net.forward()

        results["opencv_dnn"] = timed(run_cv)
        outputs["opencv_dnn"] = run_cv().reshape(outputs["litert"].shape)
    except cv2.error as exc:
        print("opencv_dnn: cannot read the model:", str(exc).splitlines()[0])

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(THREADS)
    import keras

    model = keras.models.load_model(weights_dir / "footai_net.keras", compile=False)
    fn = tf.function(lambda t: model(t, training=False))
    results["tensorflow"] = timed(lambda: fn(x).numpy())
    outputs["tensorflow"] = fn(x).numpy()

    base = results["litert"]
    for k, ms in sorted(results.items(), key=lambda kv: kv[1]):
        diff = float(np.abs(outputs[k] - outputs["litert"]).max())
        print(f"{k:12s} {ms:7.2f} ms/frame  {ms / base:5.2f}× litert  max|Δ| {diff:.1e}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
