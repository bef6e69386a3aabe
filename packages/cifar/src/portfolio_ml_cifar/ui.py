"""The CIFAR-10 page of ``portfolio-ml ui``: point it at a folder written by ``cifar train``, upload an
image and see the top-5 classes; the model's curves, confusion matrix and per-class accuracy beside.

Inference is the CLI's own (``decode_image`` → ``predict_logits`` → ``softmax``); the loaded model is
cached per folder and file version, predictions per image, model and TTA switch.
Streamlit and TensorFlow are imported inside the functions so the plugin stays light.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

MODEL_ENV = "PORTFOLIO_ML_CIFAR_MODEL"
IMAGE_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif"]


def top5(model_dir: str, image: bytes, tta: bool = False) -> list[dict[str, Any]]:
    """The five most likely classes of ``image`` (file bytes) under the model in ``model_dir``."""
    import numpy as np
    from portfolio_ml_core.errors import InputFileError

    from portfolio_ml_cifar.infer import predict_logits, softmax
    from portfolio_ml_cifar.serve import BadRequest, decode_image, top_k

    try:
        x = decode_image(image)
    except BadRequest as exc:
        raise InputFileError(str(exc)) from None
    probabilities = softmax(predict_logits(cached_model(model_dir), x[np.newaxis], tta=tta))[0]
    return top_k(probabilities, 5)


def cached_model(model_dir: str) -> Any:
    import streamlit as st

    from portfolio_ml_cifar.infer import load_model, model_file

    @st.cache_resource(show_spinner="Loading the model…", max_entries=2)
    def load(path: str, mtime_ns: int) -> Any:
        return load_model(path)

    path = model_file(model_dir)  # raises ModelNotFoundError with a hint when absent
    return load(str(path), path.stat().st_mtime_ns)


def render() -> None:
    import streamlit as st
    from portfolio_ml_core.errors import PortfolioError

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    st.title("CIFAR-10 classifier")
    st.caption(
        "An airbench-shaped ResNet trained by `portfolio-ml cifar train`; the same inference as "
        "`portfolio-ml cifar predict`. See docs/cifar.md."
    )
    model_dir = st.text_input(
        "Model directory (a folder written by `cifar train`)",
        value=os.environ.get(MODEL_ENV, ""),
        placeholder="e.g. models/cifar",
    ).strip()
    if not model_dir:
        st.info(
            "No model yet: train one with `portfolio-ml cifar train --preset quick --out models/cifar` "
            f"and enter its folder here (or start the UI with {MODEL_ENV}=models/cifar)."
        )
        return
    try:
        cached_model(model_dir)
    except PortfolioError as exc:
        st.error(exc.message)
        return

    left, right = st.columns([1, 2])
    with left:
        st.subheader("Classify an image")
        upload = st.file_uploader("Image", type=IMAGE_TYPES)
        image_path = st.text_input("…or the path of an image on this machine").strip()
        tta = st.checkbox("Test-time augmentation (flips and 1-px shifts)")
    with right:
        image: bytes | None = None
        ranked: list[dict[str, Any]] = []
        try:
            if upload is not None:
                image = upload.getvalue()
            elif image_path:
                path = Path(image_path).expanduser()
                if not path.is_file():
                    raise PortfolioError(f"image not found: {path}")
                image = path.read_bytes()
            if image is not None:
                ranked = cached_top5(model_dir, image, tta)
        except PortfolioError as exc:
            st.error(exc.message)
            image = None
        if image is not None:
            show_prediction(image, ranked)
    show_model(Path(model_dir))


def cached_top5(model_dir: str, image: bytes, tta: bool) -> list[dict[str, Any]]:
    import streamlit as st

    from portfolio_ml_cifar.infer import model_file

    @st.cache_data(show_spinner=False, max_entries=64)
    def predict(model_dir: str, mtime_ns: int, image: bytes, tta: bool) -> list[dict[str, Any]]:
        return top5(model_dir, image, tta)

    return predict(model_dir, model_file(model_dir).stat().st_mtime_ns, image, tta)


def show_prediction(image: bytes, ranked: list[dict[str, Any]]) -> None:
    import pandas as pd
    import streamlit as st

    a, b = st.columns([1, 2])
    a.image(image, caption="Input (the net sees a 32×32 centre crop)", width=200)
    best = ranked[0]
    b.metric("Prediction", best["label"], f"{100 * best['probability']:.1f}%", delta_color="off")
    table = pd.DataFrame(
        {"label": [r["label"] for r in ranked], "probability": [r["probability"] for r in ranked]}
    )
    st.bar_chart(
        table, x="label", y="probability", horizontal=True, sort="-probability", height=220
    )
    st.dataframe(
        table.assign(probability=table["probability"].map(lambda p: f"{p:.3f}")),
        hide_index=True,
    )


def show_model(model_dir: Path) -> None:
    import pandas as pd
    import streamlit as st

    from portfolio_ml_cifar.infer import read_metrics

    metrics = read_metrics(model_dir)
    st.subheader("The model")
    if not metrics:
        st.warning(
            f"{model_dir}/metrics.json is missing or unreadable: no training figures to show."
        )
    else:
        cols = st.columns(4)
        cols[0].metric("Test accuracy", f"{100 * metrics.get('test_accuracy', 0):.2f}%")
        cols[1].metric("Epochs", metrics.get("epochs", "—"))
        cols[2].metric("Training images", metrics.get("train_images", "—"))
        seconds = metrics.get("train_seconds")
        cols[3].metric("Training time", f"{seconds:.0f} s" if seconds is not None else "—")
    figures = [
        (model_dir / n, t)
        for n, t in [
            ("curves.png", "Training curves"),
            ("confusion_matrix.png", "Confusion matrix"),
        ]
    ]
    for col, (path, title) in zip(st.columns(2), figures, strict=True):
        if path.is_file():
            col.image(str(path), caption=title)
        else:
            col.caption(f"{title}: {path.name} not found")
    per_class = metrics.get("per_class_accuracy") or {}
    if per_class:
        st.subheader("Per-class accuracy")
        table = pd.DataFrame(
            {
                "class": list(per_class),
                "accuracy": [float("nan") if v is None else float(v) for v in per_class.values()],
            }
        )
        st.bar_chart(table, x="class", y="accuracy", sort=False, height=260)
        st.dataframe(
            table.assign(accuracy=table["accuracy"].map(lambda v: f"{100 * v:.1f}%")),
            hide_index=True,
        )
