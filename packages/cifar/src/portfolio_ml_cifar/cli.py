"""``portfolio-ml cifar …``: train, eval, predict, export, tune, serve."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from portfolio_ml_core.errors import InputFileError, PortfolioError
from rich.console import Console
from rich.table import Table

from portfolio_ml_cifar.presets import Precision

app = typer.Typer(
    help="CIFAR-10: train an airbench-style net on CPU, evaluate, export and serve it.",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)


@app.callback()
def _import_tensorflow_quietly() -> None:
    # Every cifar command needs TensorFlow. Importing it here, with native stderr silenced,
    # keeps its start-up chatter (oneDNN notice, CUDA probe) off the user's terminal; the GPU
    # query runs the (cached) CUDA probe now rather than mid-command.
    from portfolio_ml_core.native import quiet_native_stderr

    with quiet_native_stderr():
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")


DataOpt = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="cifar-10-batches-py/ folder, cifar-10-python.tar.gz, or an image-folder root/.tar.gz "
        "(train/<class>/*, test/<class>/*). Omitted: Keras download (connected machines only).",
    ),
]

ModelOpt = Annotated[Path, typer.Option("--model", help="Folder written by `cifar train`.")]


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@app.command()
def train(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    data: DataOpt = None,
    preset: Annotated[
        str, typer.Option(help="quick | cpu | full, a tuned preset name or .json.")
    ] = "cpu",
    epochs: Annotated[int | None, typer.Option(min=1)] = None,
    batch_size: Annotated[int | None, typer.Option(min=1)] = None,
    subset: Annotated[int | None, typer.Option(min=1, help="Train on N random images.")] = None,
    seed: Annotated[int | None, typer.Option()] = None,
    resume: Annotated[bool, typer.Option(help="Continue from DIR/checkpoint.npz.")] = False,
    jit: Annotated[
        bool | None, typer.Option("--jit/--no-jit", help="XLA (default: on GPU only).")
    ] = None,
    precision: Annotated[
        Precision,
        typer.Option(
            help="Compute precision (auto: float16 on a GPU, bfloat16 on a CPU with bf16 "
            "units, else float32). Weights and the saved model are float32 either way."
        ),
    ] = Precision.auto,
    workers: Annotated[
        str | None,
        typer.Option(
            "--workers",
            help="Train on several machines: HOST:PORT of every worker, the same list on each "
            "(MultiWorkerMirroredStrategy; default: $TF_CONFIG if set, else this process alone).",
        ),
    ] = None,
    worker_index: Annotated[
        int | None,
        typer.Option("--worker-index", min=0, help="This worker's place in --workers (0: chief)."),
    ] = None,
) -> None:
    """Train; writes model.keras, metrics.json, curves.png, confusion_matrix.png, logs/."""
    from portfolio_ml_cifar.cluster import WorkerCluster

    cluster = WorkerCluster.from_flags(workers, worker_index)
    _quiet_tensorflow()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from portfolio_ml_cifar.data import load_cifar
    from portfolio_ml_cifar.history import EpochRecord
    from portfolio_ml_cifar.presets import resolve_preset
    from portfolio_ml_cifar.train import train as run_training

    config = resolve_preset(preset).with_overrides(
        epochs=epochs, batch_size=batch_size, subset=subset, seed=seed
    )
    with console.status("loading data…"):
        dataset = load_cifar(data)
    console.print(
        f"data: {len(dataset.x_train)} train / {len(dataset.x_test)} test images from {dataset.source}"
    )
    console.print(
        f"preset {preset}: widths {config.widths}, {config.epochs} epochs, batch {config.batch_size}"
    )
    if cluster is not None:
        role = "chief" if cluster.is_chief else "worker"
        console.print(
            f"{role} {cluster.index} of {cluster.size} workers: {', '.join(cluster.workers)}"
        )

    with Progress(
        TextColumn("[bold]epoch {task.fields[epoch]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.3f}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("train", total=None, epoch=0, loss=float("nan"))

        def on_step(epoch: int, step: int, steps: int, loss: float) -> None:
            progress.update(task, completed=step, total=steps, epoch=epoch, loss=loss)

        def on_epoch(r: EpochRecord) -> None:
            # Only the chief evaluates: a worker's test accuracy is NaN and is left out.
            test = f"test acc {r.test_accuracy:.4f}  " if r.test_accuracy == r.test_accuracy else ""
            progress.console.print(
                f"epoch {r.epoch:>3}  loss {r.train_loss:.3f}  train acc {r.train_accuracy:.3f}  "
                f"{test}{r.images_per_second:.0f} img/s  {r.train_seconds:.0f}s"
            )

        result = run_training(
            dataset,
            config,
            out,
            resume=resume,
            jit=jit,
            precision=precision,
            on_step=on_step,
            on_epoch=on_epoch,
            cluster=cluster,
        )

    if cluster is not None and not cluster.is_chief:
        console.print(f"worker {cluster.index} of {cluster.size} finished; the chief writes {out}")
        return
    m = result.metrics
    tta = (
        f" (TTA; plain {m['test_accuracy_plain']:.4f})"
        if m["test_accuracy_tta"] is not None
        else ""
    )
    console.print(
        f"[green]test accuracy {m['test_accuracy']:.4f}{tta} after {m['epochs']} epochs, "
        f"{m['train_seconds']:.0f}s of training ({m['training_precision']}) → {out}"
    )


@app.command("eval")
def evaluate(
    model: ModelOpt,
    data: DataOpt = None,
    tta: Annotated[
        bool, typer.Option("--tta/--no-tta", help="Flip + translate averaging.")
    ] = False,
) -> None:
    """Accuracy and per-class accuracy on the test split."""
    _quiet_tensorflow()
    import numpy as np

    from portfolio_ml_cifar.data import load_cifar
    from portfolio_ml_cifar.infer import (
        evaluate_predictions,
        load_model,
        predict_logits,
        read_metrics,
    )

    if data is None:  # default to the data the model was trained on, when it is a local path
        source = read_metrics(model).get("data_source")
        if source and Path(source).exists():
            data = Path(source)
    net = load_model(model)
    dataset = load_cifar(data)
    result = evaluate_predictions(
        dataset.y_test, np.argmax(predict_logits(net, dataset.x_test, tta=tta), -1)
    )
    table = Table(title=f"{model} on {result.count} test images{' (TTA)' if tta else ''}")
    table.add_column("class")
    table.add_column("accuracy", justify="right")
    for name, acc in result.per_class_accuracy.items():
        table.add_row(name, f"{acc:.4f}")
    table.add_row("[bold]all", f"[bold]{result.accuracy:.4f}")
    console.print(table)


@app.command()
def predict(
    model: ModelOpt,
    images: Annotated[list[Path], typer.Argument(help="Image files, any size.")],
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=10)] = 3,
) -> None:
    """Top-k classes for each image."""
    _quiet_tensorflow()
    import numpy as np

    from portfolio_ml_cifar.infer import load_model, predict_logits, softmax
    from portfolio_ml_cifar.serve import BadRequest, decode_image
    from portfolio_ml_cifar.serve import top_k as best_classes

    batch = []
    for path in images:
        if not path.is_file():
            raise InputFileError(f"image not found: {path}")
        try:
            batch.append(decode_image(path.read_bytes()))
        except BadRequest as exc:
            raise InputFileError(f"{path}: {exc}") from None
    net = load_model(model)
    probabilities = softmax(predict_logits(net, np.stack(batch)))
    table = Table()
    table.add_column("image")
    for k in range(top_k):
        table.add_column(f"#{k + 1}")
    for path, p in zip(images, probabilities, strict=True):
        top = best_classes(p, top_k)
        table.add_row(str(path), *[f"{c['label']} {c['probability']:.2f}" for c in top])
    console.print(table)


@app.command()
def classify(
    folder: Annotated[Path, typer.Argument(help="A folder of images (searched recursively).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    model: ModelOpt,
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=10)] = 3,
) -> None:
    """Every image of FOLDER: predictions.csv (top-k classes) and summary.json (class counts)."""
    _quiet_tensorflow()
    from portfolio_ml_cifar.classify import classify_folder, write_classification

    result = classify_folder(folder, model, top_k)
    write_classification(result, out)
    if result.unreadable:
        err.print(f"[yellow]warning:[/] {len(result.unreadable)} unreadable image(s) skipped")
    console.print(f"{len(result.rows)} images → {out}/predictions.csv")


@app.command()
def export(
    model: ModelOpt,
    format: Annotated[str, typer.Option("--format", help="savedmodel | tflite")] = "savedmodel",
    out: Annotated[
        Path | None, typer.Option(help="Default: DIR/savedmodel or DIR/model.tflite")
    ] = None,
) -> None:
    """Export and check the exported model's outputs against Keras."""
    _quiet_tensorflow()
    from portfolio_ml_cifar.export import export_model

    result = export_model(model, format, out)
    console.print(
        f"[green]{result.format} → {result.path} ({result.size_bytes / 1e6:.1f} MB); "
        f"max |Δlogit| vs Keras {result.max_abs_diff:.1e}, top-1 agreement {result.top1_agreement:.0%}"
    )


@app.command()
def tune(
    data: DataOpt = None,
    trials: Annotated[int, typer.Option(min=1)] = 8,
    subset: Annotated[int, typer.Option(min=10, help="Training images per trial.")] = 5000,
    base: Annotated[
        str, typer.Option(help="Preset whose net and schedule shape to start from.")
    ] = "cpu",
    name: Annotated[str, typer.Option(help="Preset name to write the best settings as.")] = "tuned",
    seed: int = 0,
) -> None:
    """Search lr, batch size, epochs, label smoothing with Optuna; save the best as a preset."""
    _quiet_tensorflow()
    from portfolio_ml_cifar.data import load_cifar
    from portfolio_ml_cifar.presets import resolve_preset, save_preset
    from portfolio_ml_cifar.tune import TrialResult
    from portfolio_ml_cifar.tune import tune as run_tune

    if not name.replace("-", "").replace("_", "").isalnum():
        raise PortfolioError(f"--name must be letters, digits, - or _, got {name!r}")
    dataset = load_cifar(data)

    def on_trial(r: TrialResult) -> None:
        console.print(f"trial {r.number}: val acc {r.val_accuracy:.4f}  {r.params}")

    result = run_tune(
        dataset, resolve_preset(base), trials=trials, subset=subset, seed=seed, on_trial=on_trial
    )
    table = Table(title=f"Optuna: {trials} trials on {subset} images (validation: held-out train)")
    for column in ("trial", "lr", "batch", "epochs", "smoothing", "val acc", "seconds"):
        table.add_column(column, justify="right")
    for r in sorted(result.trials, key=lambda r: -r.val_accuracy):
        p = r.params
        table.add_row(
            str(r.number),
            f"{p['lr']:.2f}",
            str(p["batch_size"]),
            str(p["epochs"]),
            f"{p['label_smoothing']:.2f}",
            f"{r.val_accuracy:.4f}",
            f"{r.train_seconds:.0f}",
        )
    console.print(table)
    path = save_preset(name, result.best)
    console.print(
        f"[green]best settings saved as preset {name!r} ({path}); use `cifar train --preset {name}`"
    )


@app.command()
def serve(
    model: ModelOpt,
    host: Annotated[str, typer.Option(help="Bind address (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535)] = 8501,
    threads: Annotated[int, typer.Option(min=1)] = 8,
) -> None:
    """Serve the model over HTTP (TF Serving REST API + /predict upload), with waitress."""
    _quiet_tensorflow()
    from portfolio_ml_cifar.serve import serve as run_server

    console.print(f"serving {model} on http://{host}:{port}/v1/models/cifar10 (Ctrl-C stops)")
    try:
        run_server(model, host=host, port=port, threads=threads)
    except OSError as exc:
        raise PortfolioError(f"cannot listen on {host}:{port}: {exc}") from None
