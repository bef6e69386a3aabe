"""A Flask app speaking TF Serving's REST dialect, served by waitress.

Routes
* ``GET  /v1/models/cifar10``               model status (as TF Serving)
* ``GET  /v1/models/cifar10/metadata``      signature metadata (as TF Serving)
* ``POST /v1/models/cifar10:predict``       ``{"instances": [...]}`` or ``{"inputs": ...}``; each
  instance a 32×32×3 array of 0–255 pixels or ``{"b64": "<base64 image file>"}`` (any size) →
  ``{"predictions": [[p_airplane, …, p_truck], …]}`` (softmax probabilities)
* ``POST /predict``                         multipart upload (field ``file``) → top-5 labels
* ``GET  /healthz``

Every client mistake is a 4xx JSON ``{"error": "..."}``: 400 for bad JSON, shapes, values or image
bytes, 404/405 for wrong routes, 413 over the body limit. A 500 only ever means a server bug.
"""

from __future__ import annotations

import base64
import binascii
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from portfolio_ml_cifar.model import CLASS_NAMES

MODEL_NAME = "cifar10"
DEFAULT_MAX_BODY = 8 * 1024 * 1024
MAX_INSTANCES = 1024


class BadRequest(ValueError):
    """The client's request is malformed; the message goes back in the 400 body."""


@dataclass
class Predictor:
    """Thread-safe batched forward pass of a loaded Keras model."""

    model: Any
    version: str = "1"

    def __post_init__(self) -> None:
        import tensorflow as tf

        self._forward = tf.function(
            lambda x: tf.nn.softmax(tf.cast(self.model(x, training=False), tf.float32)),
            input_signature=[tf.TensorSpec([None, 32, 32, 3], tf.float32)],
        )
        self._lock = threading.Lock()
        self.probabilities(np.zeros((1, 32, 32, 3), np.float32))  # trace before the first request

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        # One forward at a time: TF already uses both cores inside an op, and concurrent calls
        # only thrash the caches.
        with self._lock:
            return np.asarray(self._forward(images.astype(np.float32)))


def decode_image(blob: bytes) -> np.ndarray:
    """Image file bytes → (32, 32, 3) float32 RGB, by the one rule of `images.to_net_rgb`."""
    from portfolio_ml_cifar.images import ImageDecodeError, to_net_rgb

    try:
        return to_net_rgb(blob).astype(np.float32)
    except ImageDecodeError as exc:
        raise BadRequest(f"not a decodable image: {exc}") from None


def parse_instances(payload: Any) -> np.ndarray:
    """TF Serving's row (``instances``) or columnar (``inputs``) format → (N, 32, 32, 3)."""
    if not isinstance(payload, dict):
        raise BadRequest('body must be a JSON object with "instances" (or "inputs")')
    if "instances" in payload:
        items = payload["instances"]
    elif "inputs" in payload:
        items = payload["inputs"]
        if isinstance(items, dict):  # named columnar input {"image": [...]}
            items = items.get("image", next(iter(items.values()), None))
    else:
        raise BadRequest('body must contain "instances" (or "inputs")')
    if isinstance(items, dict) and "b64" in items:
        items = [items]
    if not isinstance(items, list) or not items:
        raise BadRequest('"instances" must be a non-empty list')
    if len(items) > MAX_INSTANCES:
        raise BadRequest(f"at most {MAX_INSTANCES} instances per request, got {len(items)}")
    return np.stack([_instance(item, i) for i, item in enumerate(items)])


def _instance(item: Any, index: int) -> np.ndarray:
    if isinstance(item, dict) and "image" in item and len(item) == 1:
        item = item["image"]  # named-input row format {"image": ...}
    if isinstance(item, dict):
        if set(item) != {"b64"} or not isinstance(item["b64"], str):
            raise BadRequest(f'instance {index}: objects must be {{"b64": "<base64 image>"}}')
        try:
            blob = base64.b64decode(item["b64"], validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest(f"instance {index}: b64 is not valid base64") from None
        try:
            return decode_image(blob)
        except BadRequest as exc:
            raise BadRequest(f"instance {index}: {exc}") from None
    try:
        array = np.asarray(item, dtype=np.float32)
    except (ValueError, TypeError):
        raise BadRequest(
            f'instance {index}: must be a 32×32×3 array of numbers or {{"b64": ...}}'
        ) from None
    if array.shape != (32, 32, 3):
        raise BadRequest(f"instance {index}: shape {list(array.shape)}, expected [32, 32, 3]")
    if not np.isfinite(array).all():
        raise BadRequest(f"instance {index}: values must be finite numbers")
    return array


def top_k(probabilities: np.ndarray, k: int = 5) -> list[dict[str, Any]]:
    order = np.argsort(probabilities)[::-1][:k]
    return [
        {"label": CLASS_NAMES[i], "class_index": int(i), "probability": float(probabilities[i])}
        for i in order
    ]


def create_app(
    model_dir: str | Path | None = None,
    *,
    predictor: Predictor | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY,
) -> Any:
    """The Flask app; give a model folder, or a ready `Predictor` (tests, benchmarks)."""
    from flask import Flask, jsonify, request
    from werkzeug.exceptions import HTTPException

    if predictor is None:
        from portfolio_ml_cifar.infer import load_model

        if model_dir is None:
            raise ValueError("create_app needs model_dir or predictor")
        predictor = Predictor(load_model(model_dir))
    pred = predictor

    app = Flask("portfolio_ml_cifar")
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]

    def error(status: int, message: str) -> Any:
        response = jsonify({"error": message})
        response.status_code = status
        return response

    @app.errorhandler(BadRequest)
    def bad_request(exc: BadRequest) -> Any:
        return error(400, str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        if exc.code == 413:
            return error(413, f"request body over the {max_body_bytes} byte limit")
        return error(exc.code or 500, exc.description or exc.name)

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify({"status": "ok", "model": MODEL_NAME})

    @app.get(f"/v1/models/{MODEL_NAME}")
    @app.get(f"/v1/models/{MODEL_NAME}/versions/<version>")
    def status(version: str | None = None) -> Any:
        if version not in (None, pred.version):
            return error(404, f"model {MODEL_NAME} has no version {version}")
        return jsonify(
            {
                "model_version_status": [
                    {
                        "version": pred.version,
                        "state": "AVAILABLE",
                        "status": {"error_code": "OK", "error_message": ""},
                    }
                ]
            }
        )

    @app.get(f"/v1/models/{MODEL_NAME}/metadata")
    def metadata() -> Any:
        def tensor(name: str, dims: list[int]) -> dict[str, Any]:
            return {
                "dtype": "DT_FLOAT",
                "tensor_shape": {"dim": [{"size": str(d), "name": ""} for d in dims]},
                "name": name,
            }

        return jsonify(
            {
                "model_spec": {"name": MODEL_NAME, "signature_name": "", "version": pred.version},
                "metadata": {
                    "signature_def": {
                        "signature_def": {
                            "serving_default": {
                                "inputs": {
                                    "image": tensor("serving_default_image:0", [-1, 32, 32, 3])
                                },
                                "outputs": {
                                    "probabilities": tensor("StatefulPartitionedCall:0", [-1, 10])
                                },
                                "method_name": "tensorflow/serving/predict",
                            }
                        }
                    },
                    "class_names": list(CLASS_NAMES),
                },
            }
        )

    @app.post(f"/v1/models/{MODEL_NAME}:predict")
    @app.post(f"/v1/models/{MODEL_NAME}/versions/<version>:predict")
    def predict_tf_serving(version: str | None = None) -> Any:
        if version not in (None, pred.version):
            return error(404, f"model {MODEL_NAME} has no version {version}")
        payload = request.get_json(force=True, silent=True)
        if payload is None:
            raise BadRequest("body is not valid JSON")
        images = parse_instances(payload)
        return jsonify({"predictions": pred.probabilities(images).round(6).tolist()})

    @app.post("/predict")
    def predict_upload() -> Any:
        upload = request.files.get("file") or request.files.get("image")
        if upload is None:
            raise BadRequest('send the image as multipart/form-data field "file"')
        blob = upload.read()
        if not blob:
            raise BadRequest("the uploaded file is empty")
        probabilities = pred.probabilities(decode_image(blob)[None])[0]
        return jsonify({"predictions": top_k(probabilities, 5)})

    return app


def load_predictor(model: str | Path, tracking_uri: str | None = None) -> Predictor:
    """A `Predictor` for a ``cifar train`` folder, or for a registered MLflow model version
    (``models:/cifar10/3``, ``models:/cifar10/latest``, ``models:/cifar10@ALIAS``), whose
    version number then is the one the REST API reports."""
    from portfolio_ml_core.tracking import is_model_ref

    if is_model_ref(str(model)):
        from portfolio_ml_cifar.tracking import load_registered_model

        net, registered = load_registered_model(str(model), tracking_uri)
        return Predictor(net, version=registered.version)
    from portfolio_ml_cifar.infer import load_model

    return Predictor(load_model(model))


def serve(
    model: str | Path | Predictor,
    host: str = "127.0.0.1",
    port: int = 8501,
    threads: int = 8,
    tracking_uri: str | None = None,
) -> None:
    """Run the app under waitress until interrupted (``model``: see `load_predictor`)."""
    import waitress

    predictor = model if isinstance(model, Predictor) else load_predictor(model, tracking_uri)
    app = create_app(predictor=predictor)
    waitress.serve(
        app,
        host=host,
        port=port,
        threads=threads,
        # A little above Flask's limit so Flask answers 413 with a JSON message first.
        max_request_body_size=DEFAULT_MAX_BODY + 65536,
        ident="portfolio-ml-cifar",
    )
