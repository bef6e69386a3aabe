"""``portfolio-ml cifar …``: train, eval, predict, export, tune, serve."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from portfolio_ml_core.errors import InputFileError, PortfolioError
from portfolio_ml_core.tracking import NoTrackingOption, TrackingUriOption
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
    tracking_uri: TrackingUriOption = None,
    no_tracking: NoTrackingOption = False,
    registered_name: Annotated[
        str,
        typer.Option(
            "--registered-name",
            help="Register the trained model as a version of this MLflow model.",
        ),
    ] = "cifar10",
) -> None:
    """Train; writes model.keras, metrics.json, curves.png, confusion_matrix.png, logs/ and
    records the run in MLflow (parameters, per-epoch metrics, outputs, a registered model)."""
    from portfolio_ml_core.tracking import Tracker

    from portfolio_ml_cifar.cluster import WorkerCluster

    cluster = WorkerCluster.from_flags(workers, worker_index)
    if not registered_name.strip():
        raise PortfolioError("--registered-name must not be empty")
    # Only the chief records the run: the other workers write no outputs either.
    worker = cluster is not None and not cluster.is_chief
    tracker = Tracker.from_flags(tracking_uri, no_tracking or worker)
    _quiet_tensorflow()
    from portfolio_ml_core.tracking import epoch_progress

    from portfolio_ml_cifar.data import load_cifar
    from portfolio_ml_cifar.history import EpochRecord
    from portfolio_ml_cifar.presets import resolve_preset
    from portfolio_ml_cifar.tracking import (
        TRAIN_EXPERIMENT,
        config_params,
        epoch_metrics,
        final_metrics,
        log_training_outputs,
    )
    from portfolio_ml_cifar.train import WorkerLostError
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

    # Opened after the inputs are checked and before training: a bad store fails fast.
    run = tracker.start_run(
        TRAIN_EXPERIMENT,
        run_name=out.resolve().name,
        params={**config_params(config), "preset": preset, "precision_flag": precision.value,
                "jit_flag": "auto" if jit is None else jit, "resume": resume,
                "data_source": dataset.source},
        tags={"out_dir": out.resolve(), "workers": cluster.size if cluster else 1},
    )  # fmt: skip
    if line := tracker.announce(run, TRAIN_EXPERIMENT):
        console.print(line)
    logged_epochs: set[int] = set()
    try:
        with run, epoch_progress(console, transient=True) as progress:
            task = progress.add_task("train", total=None, epoch="0", loss="-")

            def on_step(epoch: int, step: int, steps: int, loss: float) -> None:
                progress.update(
                    task, completed=step, total=steps, epoch=str(epoch), loss=f"{loss:.3f}"
                )

            def on_epoch(r: EpochRecord) -> None:
                # Only the chief evaluates: a worker's test accuracy is NaN and is left out.
                test = (
                    f"test acc {r.test_accuracy:.4f}  "
                    if r.test_accuracy == r.test_accuracy
                    else ""
                )
                progress.console.print(
                    f"epoch {r.epoch:>3}  loss {r.train_loss:.3f}  train acc {r.train_accuracy:.3f}  "
                    f"{test}{r.images_per_second:.0f} img/s  {r.train_seconds:.0f}s"
                )
                run.log_metrics(epoch_metrics(r), step=r.epoch)
                logged_epochs.add(r.epoch)

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
            if not worker:
                m = result.metrics
                for r in result.history:  # a resumed run's earlier epochs, from the checkpoint
                    if r.epoch not in logged_epochs:
                        run.log_metrics(epoch_metrics(r), step=r.epoch)
                run.log_params({"train_images": m["train_images"], "test_images": m["test_images"]})
                run.log_metrics(final_metrics(m))
                compute = m.get("compute") or {}
                run.set_tags({"training_precision": m["training_precision"],
                              "jit_compile": m["jit_compile"],
                              "precision_reason": compute.get("reason", ""),
                              "intra_op_threads": compute.get("intra_op_threads", ""),
                              "inter_op_threads": compute.get("inter_op_threads", "")})  # fmt: skip
                probe = {f"probe_images_per_s.{k}": v
                         for k, v in compute.get("probe_images_per_s", {}).items()}  # fmt: skip
                if m.get("setup_seconds") is not None:
                    probe["setup_seconds"] = m["setup_seconds"]
                run.log_metrics(probe)
                registered = log_training_outputs(run, out, registered_name)
    except WorkerLostError as exc:
        # TensorFlow's collective runtime cannot be used again in this process, and the
        # interpreter's own shutdown trips over its thread pool (a stray traceback after
        # the error): the run is recorded as failed above, so say why and leave now.
        typer.secho(f"Error: {exc.message}", fg="red", err=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(exc.exit_code)

    if worker:
        console.print(f"worker {cluster.index} of {cluster.size} finished; the chief writes {out}")  # type: ignore[union-attr]
        return
    tta = (
        f" (TTA; plain {m['test_accuracy_plain']:.4f})"
        if m["test_accuracy_tta"] is not None
        else ""
    )
    console.print(
        f"[green]test accuracy {m['test_accuracy']:.4f}{tta} after {m['epochs']} epochs, "
        f"{m['train_seconds']:.0f}s of training ({m['training_precision']}) → {out}"
    )
    if m.get("compute"):
        console.print(f"precision {m['compute']['precision']}: {m['compute']['reason']}")
    if registered is not None:
        where = f" --tracking-uri {tracking_uri}" if tracking_uri else ""
        console.print(
            f"registered as {registered.name} version {registered.version}: "
            f"portfolio-ml cifar serve --model {registered.uri}{where}"
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
    tracking_uri: TrackingUriOption = None,
    no_tracking: NoTrackingOption = False,
) -> None:
    """Search lr, batch size, epochs, label smoothing with Optuna; save the best as a preset.
    MLflow: one run for the search, a nested run per trial, the best settings on the first."""
    _quiet_tensorflow()
    from portfolio_ml_core.tracking import Tracker

    from portfolio_ml_cifar.data import load_cifar
    from portfolio_ml_cifar.presets import resolve_preset, save_preset
    from portfolio_ml_cifar.tracking import TUNE_EXPERIMENT, config_params
    from portfolio_ml_cifar.tune import TrialResult
    from portfolio_ml_cifar.tune import tune as run_tune

    if not name.replace("-", "").replace("_", "").isalnum():
        raise PortfolioError(f"--name must be letters, digits, - or _, got {name!r}")
    tracker = Tracker.from_flags(tracking_uri, no_tracking)
    base_config = resolve_preset(base)
    dataset = load_cifar(data)

    def on_trial(r: TrialResult) -> None:
        console.print(f"trial {r.number}: val acc {r.val_accuracy:.4f}  {r.params}")

    run = tracker.start_run(
        TUNE_EXPERIMENT,
        run_name=name,
        params={"base": base, "trials": trials, "subset": subset, "seed": seed, "name": name,
                "data_source": dataset.source, "base_config": config_params(base_config)},
    )  # fmt: skip
    if line := tracker.announce(run, TUNE_EXPERIMENT):
        console.print(line)
    with run:
        result = run_tune(
            dataset, base_config, trials=trials, subset=subset, seed=seed, on_trial=on_trial,
            tracking=run,
        )  # fmt: skip
        path = save_preset(name, result.best)
        run.log_params({f"best.{k}": v for k, v in result.best_params.items()})
        run.log_metrics({"best_val_accuracy": result.best_accuracy})
        run.set_tags({"best_trial": result.best_trial})
        run.log_artifact(path)
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
    console.print(
        f"[green]best settings saved as preset {name!r} ({path}); use `cifar train --preset {name}`"
    )


@app.command()
def serve(
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="Folder written by `cifar train`, or a registered MLflow model version: "
            "models:/cifar10/3, models:/cifar10/latest, models:/cifar10@ALIAS.",
        ),
    ],
    host: Annotated[str, typer.Option(help="Bind address (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535)] = 8501,
    threads: Annotated[int, typer.Option(min=1)] = 8,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Serve the model over HTTP (TF Serving REST API + /predict upload), with waitress."""
    _quiet_tensorflow()
    from portfolio_ml_cifar.serve import load_predictor
    from portfolio_ml_cifar.serve import serve as run_server

    predictor = load_predictor(model, tracking_uri)
    console.print(
        f"serving {model} (version {predictor.version}) on "
        f"http://{host}:{port}/v1/models/cifar10 (Ctrl-C stops)"
    )
    try:
        run_server(predictor, host=host, port=port, threads=threads)
    except OSError as exc:
        raise PortfolioError(f"cannot listen on {host}:{port}: {exc}") from None
