"""The REST API over real HTTP on loopback (waitress), including every kind of bad request."""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests

pytestmark = pytest.mark.realdata

LIMIT = 256 * 1024


@pytest.fixture(scope="module")
def server(trained: tuple[Path, Any]) -> Iterator[str]:
    import waitress
    from portfolio_ml_cifar.serve import create_app

    app = create_app(trained[0], max_body_bytes=LIMIT)
    srv = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.effective_port}"
    srv.close()


def _png(size: tuple[int, int] = (32, 32), color: tuple[int, int, int] = (10, 200, 30)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def _error(response: requests.Response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    message = response.json()["error"]
    assert isinstance(message, str) and message
    return message


def test_health_status_and_metadata(server: str) -> None:
    assert requests.get(f"{server}/healthz").json()["status"] == "ok"
    status = requests.get(f"{server}/v1/models/cifar10").json()
    assert status["model_version_status"][0]["state"] == "AVAILABLE"
    meta = requests.get(f"{server}/v1/models/cifar10/metadata").json()
    sig = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
    dims = [d["size"] for d in sig["inputs"]["image"]["tensor_shape"]["dim"]]
    assert dims == ["-1", "32", "32", "3"]


def test_predict_arrays_match_the_model(server: str, trained: tuple[Path, Any]) -> None:
    import keras
    from portfolio_ml_cifar.infer import softmax

    x = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3))
    r = requests.post(f"{server}/v1/models/cifar10:predict", json={"instances": x.tolist()})
    assert r.status_code == 200, r.text
    got = np.array(r.json()["predictions"])
    expected = softmax(
        np.asarray(keras.saving.load_model(trained[0] / "model.keras")(x.astype("float32")))
    )
    np.testing.assert_allclose(got, expected, atol=1e-4)
    # columnar "inputs" and the versioned URL give the same answer
    r2 = requests.post(
        f"{server}/v1/models/cifar10/versions/1:predict", json={"inputs": x.tolist()}
    )
    np.testing.assert_allclose(np.array(r2.json()["predictions"]), got, atol=1e-6)


def test_predict_b64_images_of_any_size(server: str) -> None:
    instances = [
        {"b64": base64.b64encode(_png(s)).decode()} for s in [(32, 32), (300, 120), (7, 9)]
    ]
    r = requests.post(f"{server}/v1/models/cifar10:predict", json={"instances": instances})
    assert r.status_code == 200, r.text
    predictions = r.json()["predictions"]
    assert len(predictions) == 3 and all(abs(sum(p) - 1) < 1e-4 for p in predictions)


def test_upload_returns_top5(server: str) -> None:
    r = requests.post(f"{server}/predict", files={"file": ("x.png", _png((64, 48)), "image/png")})
    assert r.status_code == 200, r.text
    top = r.json()["predictions"]
    assert len(top) == 5
    assert [t["probability"] for t in top] == sorted((t["probability"] for t in top), reverse=True)
    assert {"label", "class_index", "probability"} <= set(top[0])


GOOD_ROW = np.zeros((32, 32, 3), int).tolist()
BAD_JSON_BODIES: list[tuple[str, Any, str]] = [
    ("not json", b"{instances: nope", "not valid JSON"),
    ("a list", [1, 2, 3], "JSON object"),
    ("no instances", {"foo": 1}, '"instances"'),
    ("empty", {"instances": []}, "non-empty"),
    ("instances not a list", {"instances": 5}, "non-empty list"),
    ("wrong shape", {"instances": [np.zeros((32, 32), int).tolist()]}, "expected [32, 32, 3]"),
    ("ragged", {"instances": [[[1, 2], [3]]]}, "instance 0"),
    ("strings", {"instances": [[["a"] * 3] * 32] * 1}, "instance 0"),
    ("mixed good and bad", {"instances": [GOOD_ROW, [1, 2, 3]]}, "instance 1"),
    ("bad base64", {"instances": [{"b64": "%%%not base64"}]}, "not valid base64"),
    (
        "b64 not image",
        {"instances": [{"b64": base64.b64encode(b"hello").decode()}]},
        "not a decodable",
    ),
    ("b64 not a string", {"instances": [{"b64": 12}]}, "b64"),
    ("extra keys", {"instances": [{"b64": "", "x": 1}]}, "b64"),
    ("too many", {"instances": [{"b64": "AA=="}] * 1025}, "at most 1024"),
]


@pytest.mark.parametrize(
    ("case", "body", "message"), BAD_JSON_BODIES, ids=[c[0] for c in BAD_JSON_BODIES]
)
def test_bad_predict_requests_are_400(server: str, case: str, body: Any, message: str) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = requests.post(
        f"{server}/v1/models/cifar10:predict",
        data=data,
        headers={"Content-Type": "application/json"},
    )
    assert message in _error(r, 400)


def test_nan_values_are_400(server: str) -> None:
    row = np.zeros((32, 32, 3)).tolist()
    row[0][0][0] = float("nan")
    r = requests.post(
        f"{server}/v1/models/cifar10:predict",
        data=json.dumps({"instances": [row]}),
        headers={"Content-Type": "application/json"},
    )
    assert "finite" in _error(r, 400)


def test_bad_uploads_are_400(server: str) -> None:
    assert "field" in _error(requests.post(f"{server}/predict"), 400)
    assert "field" in _error(requests.post(f"{server}/predict", files={"other": ("a", b"x")}), 400)
    assert "empty" in _error(
        requests.post(f"{server}/predict", files={"file": ("a.png", b"")}), 400
    )
    r = requests.post(f"{server}/predict", files={"file": ("a.png", b"GIF89a broken")})
    assert "not a decodable image" in _error(r, 400)


def test_oversized_bodies_are_413(server: str) -> None:
    big = b"x" * (LIMIT + 10)
    r = requests.post(
        f"{server}/v1/models/cifar10:predict",
        data=big,
        headers={"Content-Type": "application/json"},
    )
    assert "limit" in _error(r, 413)
    r = requests.post(f"{server}/predict", files={"file": ("big.png", big)})
    _error(r, 413)


def test_wrong_routes_methods_versions(server: str) -> None:
    _error(requests.get(f"{server}/nope"), 404)
    _error(requests.get(f"{server}/v1/models/cifar10:predict"), 405)
    _error(requests.get(f"{server}/v1/models/cifar10/versions/7"), 404)
    _error(
        requests.post(
            f"{server}/v1/models/cifar10/versions/7:predict", json={"instances": [GOOD_ROW]}
        ),
        404,
    )
    # the server is still healthy after all that
    assert requests.get(f"{server}/healthz").status_code == 200
