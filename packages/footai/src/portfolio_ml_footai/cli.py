"""The ``portfolio-ml footai`` commands: demo, run, export, report, detectors, sample, eval,
calibrate, detect, eval-detections, eval-pitch, train, quantize."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from portfolio_ml_core.errors import InputFileError, PortfolioError
from portfolio_ml_core.tracking import NoTrackingOption, TrackingUriOption
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from portfolio_ml_core.tracking import TrackedRun

    from portfolio_ml_footai.detect import Detector
    from portfolio_ml_footai.evaluate.tracks import EvalResult

app = typer.Typer(
    help="Football broadcast analysis: players, teams, tracks, pitch positions, tactical map. "
    "Offline, CPU only, no downloaded weights.",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)

ModelOption = Annotated[
    Path | None,
    typer.Option(
        "--model",
        "-m",
        help="The detector's weights: for `net`, a retrained .tflite (`footai train`; default "
        "$PORTFOLIO_ML_FOOTAI_MODEL, the models folder, then the shipped weights); for `onnx`, "
        "your YOLOv8/YOLO11 .onnx export.",
    ),
]
DetectorOption = Annotated[
    str,
    typer.Option("--detector", "-d", help="Which detector (`footai detectors` lists them)."),
]
SplitOption = Annotated[str, typer.Option("--split", help="Which split: train, valid or test.")]
JsonOption = Annotated[Path | None, typer.Option("--json", help="Also write the figures as JSON.")]


def _detector(name: str, model: Path | None) -> Detector:
    from portfolio_ml_footai.detect import create_detector

    return create_detector(name, model)


def _write_report(json_out: Path | None, data: dict) -> None:
    if json_out is not None:
        from portfolio_ml_core.fsutil import write_json_atomic

        write_json_atomic(json_out, data)


@app.command()
def run(
    video: Annotated[Path, typer.Argument(help="Broadcast video file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    calibration: Annotated[
        Path | None,
        typer.Option("--calibration", "-c", help="Calibration JSON (default: fit the markings)."),
    ] = None,
    start: Annotated[float, typer.Option("--start", help="Start time in seconds.")] = 0.0,
    max_frames: Annotated[
        int | None, typer.Option("--max-frames", help="Process at most N frames.")
    ] = None,
    stride: Annotated[int, typer.Option("--stride", help="Process every K-th frame.")] = 1,
    no_video: Annotated[
        bool, typer.Option("--no-video", help="Skip annotated.mp4 and tactical_map.mp4.")
    ] = False,
    detector: DetectorOption = "net",
    model: ModelOption = None,
    export: Annotated[
        list[str] | None,
        typer.Option(
            "--export",
            metavar="FORMAT",
            help="Also write the tracking data as FORMAT into OUT/export/ (repeatable: "
            "secondspectrum, cdf; see `footai export`).",
        ),
    ] = None,
) -> None:
    """Detect, track and map the players of VIDEO; write tracks.csv, videos, maps, summary.json."""
    from portfolio_ml_footai.io.export import check_format
    from portfolio_ml_footai.pipeline import RunOptions
    from portfolio_ml_footai.runner import run_video

    if calibration is not None and not calibration.exists():
        raise InputFileError(f"calibration file not found: {calibration}")
    formats = list(dict.fromkeys(check_format(f) for f in export or []))
    opts = RunOptions(
        detector=detector,
        model=model,
        calibration=calibration,
        start_s=start,
        max_frames=max_frames,
        stride=stride,
    )
    summary = run_video(video, out, opts, write_video=not no_video)
    for w in summary["warnings"]:
        err.print(f"[yellow]warning:[/yellow] {w}")
    cal = summary["calibration"]
    console.print(
        f"{summary['frames']} frames at {summary['processing_fps']} fps · calibration: {cal['method']} · "
        f"{summary['players_per_team']['team0']} + {summary['players_per_team']['team1']} players tracked · "
        f"ball in {summary['ball_frames']} frames"
    )
    console.print(f"outputs in {out}/")
    if formats:
        _export(out, formats, out / "export")


def _export(run_dir: Path, formats: list[str], out: Path) -> None:
    from portfolio_ml_footai.io.export import export_match
    from portfolio_ml_footai.io.run_dir import read_match

    match = read_match(run_dir)
    for fmt in formats:
        paths = export_match(match, fmt, out, match_id=run_dir.resolve().name)
        console.print(f"{fmt}: {', '.join(str(p) for p in paths)}")


@app.command("export")
def export_run(
    run_dir: Annotated[Path, typer.Argument(help="A `footai run` output folder.")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="secondspectrum (Second Spectrum feed: kloppy's `secondspectrum.load`) or cdf "
            "(Common Data Format: meta JSON + tracking JSONL).",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the files into.")],
) -> None:
    """Tracking data of a run in a format the football analytics tools read (kloppy, the CDF)."""
    from portfolio_ml_footai.io.export import check_format

    fmt = check_format(fmt)
    if not run_dir.exists():
        raise InputFileError(f"run folder not found: {run_dir}")
    _export(run_dir, [fmt], out)


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A `footai run` output folder.")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="The HTML file to write (one self-contained page).")
    ],
) -> None:
    """A match report of RUN_DIR: maps, heatmaps, possession, pitch control, team shape, players."""
    from portfolio_ml_footai.io.report import write_report

    console.print(f"report → {write_report(run_dir, out)}")


@app.command()
def detectors() -> None:
    """The detectors `--detector` can name (installed plugins may add more)."""
    from portfolio_ml_footai.detect import DEFAULT_DETECTOR, TASK, detector_registry

    table = Table(title="footai detectors")
    for col in ("name", "needs --model", "what it is"):
        table.add_column(col)
    for spec in detector_registry().for_task(TASK):
        name = f"{spec.name} (default)" if spec.name == DEFAULT_DETECTOR else spec.name
        table.add_row(name, "yes" if spec.needs_model else "no", spec.summary)
    console.print(table)


@app.command()
def sample(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    camera: Annotated[
        str, typer.Option("--camera", help="static, pan or tactical (high, wide).")
    ] = "static",
    seconds: Annotated[float, typer.Option("--seconds", help="Clip length.")] = 8.0,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (kits, camera, play).")] = 0,
    size: Annotated[str, typer.Option("--size", help="Frame size WxH.")] = "1280x720",
    fps: Annotated[float, typer.Option("--fps", help="Frame rate.")] = 25.0,
) -> None:
    """Render a synthetic broadcast clip with exact ground truth (gt.csv, calibration.json)."""
    from portfolio_ml_footai.synth import CAMERAS, SampleConfig, render_sample

    if camera not in CAMERAS:
        raise PortfolioError(f"--camera must be one of {', '.join(CAMERAS)}, not {camera!r}")
    if not 0 < seconds <= 600:
        raise PortfolioError("--seconds must be in (0, 600]")
    try:
        w, h = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise PortfolioError(f"--size must look like 1280x720, not {size!r}") from None
    if not (160 <= w <= 3840 and 120 <= h <= 2160):
        raise PortfolioError("--size must be between 160x120 and 3840x2160")
    if not 1 <= fps <= 120:
        raise PortfolioError("--fps must be in [1, 120]")
    res = render_sample(out, SampleConfig(camera, seconds, seed, w, h, fps))
    console.print(f"{res.frames} frames → {res.video}, {res.gt}, {res.calibration}")


@app.command("eval")
def evaluate(
    gt: Annotated[
        Path,
        typer.Option(
            "--gt",
            help="Ground truth: gt.csv from `footai sample` (or its folder), a MOT gt.txt, or a "
            "MOT sequence folder holding gt/gt.txt (SoccerNet-Tracking, SportsMOT).",
        ),
    ],
    pred: Annotated[
        Path,
        typer.Option(
            "--pred",
            help="Predictions: tracks.csv, a `footai run` output folder, or a tracker's MOT txt.",
        ),
    ],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the figures as JSON.")
    ] = None,
    iou: Annotated[float, typer.Option("--iou", help="IoU needed for a match.")] = 0.5,
    min_visibility: Annotated[
        float,
        typer.Option(
            "--min-visibility",
            help="True boxes less visible than this are don't-care (0: score every box, as "
            "the MOT Challenge does).",
        ),
    ] = 0.3,
) -> None:
    """HOTA, DetA, AssA, IDF1, MOTA (TrackEval), ID switches, P/R/F1; team accuracy, position
    error and ball hit rate where the ground truth has them."""
    from portfolio_ml_core.fsutil import write_json_atomic

    from portfolio_ml_footai.evaluate.inputs import load_ground_truth, load_prediction
    from portfolio_ml_footai.evaluate.tracks import evaluate as run_eval

    if not 0 < iou < 1:
        raise PortfolioError("--iou must be in (0, 1)")
    if not 0 <= min_visibility <= 1:
        raise PortfolioError("--min-visibility must be in [0, 1]")
    truth = load_ground_truth(gt)
    found = load_prediction(pred, truth)
    result = run_eval(
        truth.table,
        found.table,
        iou_threshold=iou,
        min_visibility=min_visibility,
        dont_care=truth.dont_care,
        frames=found.frames,
    )
    seq = f", sequence {truth.info.name}" if truth.info is not None else ""
    console.print(f"ground truth: {truth.source}{seq}; identity: {found.identity}")
    _print_eval(result)
    if json_out is not None:
        write_json_atomic(json_out, result.to_json())


def _print_eval(result: EvalResult) -> None:
    table = Table(title=f"footai eval ({result.frames} frames, {result.gt_boxes} true boxes)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in result.to_json().items():
        table.add_row(k, "—" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v)))
    console.print(table)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out/footai"),
    camera: Annotated[str, typer.Option("--camera", help="static or pan.")] = "pan",
    seconds: Annotated[float, typer.Option("--seconds", help="Clip length.")] = 8.0,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    exact_calibration: Annotated[
        bool,
        typer.Option(
            "--exact-calibration",
            help="Use the renderer's exact calibration instead of the net's pitch keypoints.",
        ),
    ] = False,
) -> None:
    """The embedded default: render a synthetic clip, run the pipeline on it, score the result."""
    from portfolio_ml_core.fsutil import write_json_atomic

    from portfolio_ml_footai.evaluate.inputs import load_prediction
    from portfolio_ml_footai.evaluate.tracks import evaluate as run_eval
    from portfolio_ml_footai.io.tracks_csv import read_tracks
    from portfolio_ml_footai.pipeline import RunOptions
    from portfolio_ml_footai.runner import run_video
    from portfolio_ml_footai.synth import CAMERAS, SampleConfig, render_sample

    if camera not in CAMERAS:
        raise PortfolioError(f"--camera must be one of {', '.join(CAMERAS)}, not {camera!r}")
    if not 0 < seconds <= 600:
        raise PortfolioError("--seconds must be in (0, 600]")
    console.print(f"rendering a {seconds:g} s synthetic broadcast clip ({camera} camera) …")
    sample_res = render_sample(out / "sample", SampleConfig(camera, seconds, seed))
    console.print("running the pipeline …")
    opts = RunOptions(calibration=sample_res.calibration if exact_calibration else None)
    summary = run_video(sample_res.video, out / "run", opts, write_video=True)
    for w in summary["warnings"]:
        err.print(f"[yellow]warning:[/yellow] {w}")
    pred = load_prediction(out / "run")  # the player ids, as `footai eval` scores them
    result = run_eval(read_tracks(sample_res.gt), pred.table, frames=pred.frames)
    _print_eval(result)
    write_json_atomic(out / "eval.json", result.to_json())
    console.print(
        f"{summary['frames']} frames at {summary['processing_fps']} fps · outputs in {out}/run/, "
        f"scores in {out}/eval.json"
    )


@app.command()
def calibrate(
    video: Annotated[Path, typer.Argument(help="Broadcast video file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Calibration JSON to write.")],
    frame: Annotated[int, typer.Option("--frame", help="Frame to calibrate on.")] = 0,
    auto: Annotated[
        bool,
        typer.Option(
            "--auto",
            help="No window: the net's pitch keypoints, or the painted lines where they fail.",
        ),
    ] = False,
    model: ModelOption = None,
) -> None:
    """Point pairs image ↔ pitch for VIDEO: by clicking (OpenCV window) or --auto."""
    from portfolio_ml_footai.calibrate.manual import (
        auto_calibration,
        interactive_calibration,
        write_calibration,
    )

    if frame < 0:
        raise PortfolioError("--frame must be >= 0")
    data = auto_calibration(video, frame, model) if auto else interactive_calibration(video, frame)
    write_calibration(out, data)
    console.print(f"{len(data['image_points'])} point pairs → {out}")


@app.command()
def detect(
    source: Annotated[Path, typer.Argument(help="An image or a folder of images.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    detector: DetectorOption = "net",
    model: ModelOption = None,
) -> None:
    """Boxes and roles on still images: YOLO txt per image, detections.csv, annotated images."""
    from portfolio_ml_footai.detect.images import detect_images, input_images

    inputs = input_images(source)
    result = detect_images(inputs, out, _detector(detector, model))
    counts = ", ".join(f"{n} {role}" for role, n in result.boxes.items())
    console.print(f"{result.images} images: {counts} → {out}/")


@app.command("eval-detections")
def eval_detections(
    data: Annotated[
        Path, typer.Option("--data", help="A YOLO export: SPLIT/images, SPLIT/labels.")
    ],
    split: SplitOption = "test",
    detector: DetectorOption = "net",
    model: ModelOption = None,
    json_out: JsonOption = None,
) -> None:
    """Precision, recall, F1 at IoU 0.5 per class, role accuracy, ball recall, mAP50 (pycocotools)."""
    from portfolio_ml_footai.evaluate.frames import SMALL_PX, score_detections
    from portfolio_ml_footai.model.data import load_detection_split

    frames = load_detection_split(data, split)
    found = _detector(detector, model)
    scores = score_detections(frames, lambda image: found(image).reported)
    table = Table(title=f"footai eval-detections · {data.name}/{split} · {scores.frames} frames")
    for col in ("class", "precision", "recall", "F1", "AP50"):
        table.add_column(col, justify="right" if col != "class" else "left")
    for name, c in [*scores.per_class.items(), ("persons", scores.persons)]:
        ap = scores.map50_per_class.get(name)
        table.add_row(
            name,
            f"{c.precision:.3f}",
            f"{c.recall:.3f}",
            f"{c.f1:.3f}",
            "—" if ap is None else f"{ap:.3f}",
        )
    console.print(table)
    console.print(
        f"mAP50 {scores.map50:.3f} · role accuracy on matched persons {scores.role_accuracy:.3f} · "
        f"ball within 15 px in {scores.ball_recall:.0%} of {scores.ball_frames} frames · "
        f"persons under {SMALL_PX:g} px tall found {scores.small_persons.tp} of "
        f"{scores.small_persons.labelled} ({scores.small_persons.recall:.3f})"
    )
    _write_report(json_out, scores.to_json())


@app.command("eval-pitch")
def eval_pitch(
    data: Annotated[
        Path, typer.Option("--data", help="A YOLO-pose export with the 32 pitch keypoints.")
    ],
    split: SplitOption = "test",
    detector: DetectorOption = "net",
    model: ModelOption = None,
    json_out: JsonOption = None,
    views: Annotated[
        int,
        typer.Option(
            "--views",
            min=0,
            max=10,
            help="Score this many redrawn views of each frame per other camera (tactical, high, "
            "wide, zoomed, corner) instead of the frames themselves.",
        ),
    ] = 0,
) -> None:
    """Keypoint error in pixels and metres; share of frames calibrated to within 1 m (and 1.5 m)."""
    from portfolio_ml_footai.evaluate.frames import score_pitch
    from portfolio_ml_footai.model.data import load_pitch_split
    from portfolio_ml_footai.synth.views import warped_views

    frames = load_pitch_split(data, split)
    what = "frames"
    if views:
        frames, what = warped_views(frames, per_kind=views), "views of other cameras"
    found = _detector(detector, model)
    scores = score_pitch(frames, found)
    report = scores.to_json()
    table = Table(title=f"footai eval-pitch · {data.name}/{split} · {scores.frames} {what}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in report.items():
        table.add_row(k.replace("_", " "), "—" if v is None else str(v))
    console.print(table)
    _write_report(json_out, report)


@app.command()
def train(
    players: Annotated[
        Path,
        typer.Option(
            "--players", help="YOLO detection export (ball, goalkeeper, player, referee)."
        ),
    ],
    pitch_data: Annotated[
        Path, typer.Option("--pitch", help="YOLO-pose export with the 32 pitch keypoints.")
    ],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Output folder: weights, checkpoints, curves, report."),
    ],
    # The defaults are the shipped net's recipe (model/weights/PROVENANCE.md).
    epochs: Annotated[int, typer.Option("--epochs", help="Epochs (each --steps batches).")] = 34,
    steps: Annotated[int, typer.Option("--steps", help="Batches per epoch.")] = 60,
    batch: Annotated[int, typer.Option("--batch", help="Images per batch.")] = 16,
    synthetic: Annotated[
        int, typer.Option("--synthetic", help="Synthetic frames mixed in (0: none).")
    ] = 160,
    tactical: Annotated[
        int,
        typer.Option("--tactical", help="Synthetic frames from a high, wide tactical camera."),
    ] = 40,
    views: Annotated[
        float,
        typer.Option(
            "--views",
            min=0.0,
            max=1.0,
            help="Share of the real keypoint frames redrawn as another camera (tactical, high, "
            "wide, zoomed, corner) would see the pitch (0.5 measured: better on those cameras, "
            "a little worse on the main one; the shipped net uses 0).",
        ),
    ] = 0.0,
    zoom_in: Annotated[
        float,
        typer.Option(
            "--zoom-in",
            min=0.0,
            max=1.0,
            help="Share of the samples cropped to 30-55 % of the frame width (players larger "
            "than at the inference scale, as in closer shots).",
        ),
    ] = 0.0,
    lr: Annotated[float, typer.Option("--lr", help="Peak learning rate (AdamW).")] = 2e-3,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    size: Annotated[
        str,
        typer.Option("--size", help="Inference input WxH (multiples of 32); crops are 3/4 of it."),
    ] = "640x352",
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from the last checkpoint in --out.")
    ] = False,
    max_minutes: Annotated[
        float | None, typer.Option("--max-minutes", help="Stop after this much training time.")
    ] = None,
    tracking_uri: TrackingUriOption = None,
    no_tracking: NoTrackingOption = False,
) -> None:
    """Train the detector + pitch-keypoint net on real labelled frames and synthetic renders;
    the run is recorded in MLflow (parameters, per-epoch losses, report, weights)."""
    from dataclasses import asdict

    from portfolio_ml_core.tracking import Tracker, epoch_progress

    from portfolio_ml_footai.evaluate.report import valid_report
    from portfolio_ml_footai.model.data import split_dir
    from portfolio_ml_footai.model.train import TrainConfig
    from portfolio_ml_footai.model.train import train as run_training
    from portfolio_ml_footai.synth.frames import training_frames
    from portfolio_ml_footai.synth.views import virtual_view

    for name, value in (("--epochs", epochs), ("--steps", steps), ("--batch", batch)):
        if value < 1:
            raise PortfolioError(f"{name} must be at least 1")
    if synthetic < 0 or tactical < 0:
        raise PortfolioError("--synthetic and --tactical must be >= 0")
    if not 0 < lr < 1:
        raise PortfolioError("--lr must be in (0, 1)")
    for root in (players, pitch_data):
        split_dir(root, "train")
        split_dir(root, "valid")
    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise PortfolioError(f"--size must look like 512x288, not {size!r}") from None
    if width % 32 or height % 32 or not (128 <= width <= 1920 and 96 <= height <= 1088):
        raise PortfolioError(
            "--size: width and height must be multiples of 32, 128x96 to 1920x1088"
        )
    # Training crops: 3/4 of the input size, rounded to multiples of 32.
    crop = (round(width * 0.75 / 32) * 32, round(height * 0.75 / 32) * 32)
    cfg = TrainConfig(
        players,
        pitch_data,
        out,
        epochs=epochs,
        steps_per_epoch=steps,
        batch=batch,
        synthetic=synthetic,
        tactical=tactical,
        views=views,
        zoom_in=zoom_in,
        learning_rate=lr,
        input_size=(width, height),
        train_size=crop,
        seed=seed,
        resume=resume,
        max_minutes=max_minutes,
    )
    # Opened once the inputs are checked, before training: a bad store fails fast.
    tracker = Tracker.from_flags(tracking_uri, no_tracking)
    run = tracker.start_run(
        TRAIN_EXPERIMENT, run_name=out.resolve().name, params=asdict(cfg),
        tags={"out_dir": out.resolve()},
    )  # fmt: skip
    if line := tracker.announce(run, TRAIN_EXPERIMENT):
        console.print(line)
    with run, epoch_progress(console) as bar:
        task = bar.add_task("train", total=steps, epoch="-", loss="-")

        def progress(epoch: int, step: int, means: dict[str, float]) -> None:
            bar.update(task, completed=step, epoch=f"{epoch}/{epochs}", loss=f"{means['loss']:.3f}")

        result = run_training(
            cfg,
            log=bar.console.print,
            progress=progress,
            synthetic=training_frames,
            other_camera=lambda frame, rng: virtual_view(frame, rng, paint_missing=True),
            report=lambda weights: valid_report(weights, players, pitch_data),
            on_epoch=lambda r: run.log_metrics(
                {f"epoch/{k}": v for k, v in asdict(r).items() if k != "epoch"}, step=r.epoch
            ),
        )
        _track_training_outputs(run, out, result.report)
    det, pit = result.report["detections"], result.report["pitch"]
    console.print(
        f"valid: persons F1 {det['persons']['f1']:.3f}, role accuracy {det['role_accuracy']:.3f}, "
        f"ball {det['ball_recall_15px']:.0%}, mAP50 {det['map50']:.3f}; pitch within 1 m "
        f"{pit['frames_within_1m']:.0%} of frames"
    )
    console.print(
        f"weights → {out}/footai_net.tflite (use with --model, or copy into $PORTFOLIO_ML_MODELS_DIR)"
    )


@app.command()
def quantize(
    model: Annotated[Path, typer.Argument(help="A float32 footai_net.tflite (an older export).")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output folder for footai_net.tflite + .sha256.")
    ],
) -> None:
    """Rewrite a float32 Foot AI net with int8 weights: ~2.5x faster on a CPU, same detections
    (`footai train` already exports this way)."""
    from portfolio_ml_footai.model.export import WEIGHTS_NAME, quantize_flat_buffer

    if not model.is_file():
        raise InputFileError(f"{model}: no such file")
    target = out / WEIGHTS_NAME
    if target.resolve() == model.resolve():
        raise InputFileError(
            f"{target}: would overwrite the model being read (choose another --out)"
        )
    done = quantize_flat_buffer(model, target)
    console.print(
        f"{done.path}: int8 weights, {done.quantized_bytes / 1e6:.2f} MB (float32 "
        f"{done.float_bytes / 1e6:.2f} MB); largest head difference on a probe image "
        f"{done.max_difference:.3f}"
    )


TRAIN_EXPERIMENT = "footai-train"
TRAIN_ARTIFACTS = ("report.json", "history.json", "curves.png", "footai_net.tflite",
                   "footai_net.tflite.sha256", "footai_net.keras")  # fmt: skip


def _track_training_outputs(run: TrackedRun, out: Path, report: dict) -> None:
    """The valid-split report's figures as final metrics; the outputs as artifacts."""
    import keras
    from portfolio_ml_core.tracking import flatten_metrics

    run.log_metrics(flatten_metrics(report, "valid."))
    # footai trains in Keras' global policy (float32 unless a user changed it).
    run.set_tags({"training_precision": keras.config.dtype_policy().name})
    for name in TRAIN_ARTIFACTS:
        if (out / name).is_file():
            run.log_artifact(out / name)
