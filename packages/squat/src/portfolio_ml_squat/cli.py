"""The ``portfolio-ml squat`` commands: live, run, eval."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from portfolio_ml_core.errors import PortfolioError
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="Rep counter for squats (and push-ups, lunges) from MediaPipe Pose.",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)
ExerciseOpt = Annotated[
    str, typer.Option("--exercise", "-e", help="Exercise rule: squat, pushup or lunge.")
]
PresetOpt = Annotated[
    str | None, typer.Option("--preset", help="Threshold preset: beginner or pro.")
]
ModelOpt = Annotated[
    Path | None,
    typer.Option("--model", help="PoseLandmarker .task file (default: resolved like `models`)."),
]


def _model(explicit: Path | None) -> Path:
    from portfolio_ml_core.models import resolve_model

    return resolve_model("pose_landmarker_full", explicit=explicit)


def _check_exercise(exercise: str, preset: str | None) -> None:
    from portfolio_ml_squat.exercises import get_exercise

    get_exercise(exercise).thresholds(preset)  # raises a one-line error for bad names


def _rep_table(result: object) -> Table:
    from portfolio_ml_squat.session import RunResult

    assert isinstance(result, RunResult)
    table = Table(title=f"{result.exercise}: {result.reps} reps, {result.partial_reps} partial")
    for col in ("#", "kind", "start s", "end s", "min angle", "faults / reason"):
        table.add_column(col)
    for e in result.events:
        table.add_row(
            str(e.index or "-"),
            e.kind.value,
            f"{e.start_s:.2f}",
            f"{e.end_s:.2f}",
            f"{e.min_angle:.0f}",
            e.reason or ", ".join(e.faults),
        )
    return table


@app.command()
def run(
    video: Annotated[Path, typer.Argument(help="Video file to analyse.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    max_frames: Annotated[
        int | None, typer.Option("--max-frames", min=1, help="Stop after N frames.")
    ] = None,
    no_video: Annotated[
        bool, typer.Option("--no-video", help="Skip annotated.mp4 (faster).")
    ] = False,
    model: ModelOpt = None,
    exercise: ExerciseOpt = "squat",
    preset: PresetOpt = None,
    pose_size: Annotated[
        int, typer.Option("--pose-size", help="Long side of the pose input in pixels (0: full).")
    ] = 640,
    num_poses: Annotated[
        int,
        typer.Option(
            "--num-poses",
            min=1,
            max=5,
            help="People to detect per frame; >1 helps follow one lifter in a crowd (slower).",
        ),
    ] = 1,
) -> None:
    """Count reps in VIDEO as fast as possible; write summary.json, frames.csv, annotated.mp4
    and angles.png to OUT."""
    from portfolio_ml_squat.pipeline import RunConfig, analyze_video

    _check_exercise(exercise, preset)
    if not video.exists():
        raise PortfolioError(f"no such file: {video}")
    config = RunConfig(
        exercise=exercise,
        preset=preset,
        max_frames=max_frames,
        write_video=not no_video,
        pose_size=pose_size,
        num_poses=num_poses,
    )
    # The model is resolved once the video has opened: a bad file is reported first.
    result = analyze_video(video, out, lambda: _model(model), config)
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/] {warning}")
    console.print(_rep_table(result))
    console.print(
        f"reps [bold]{result.reps}[/], partial {result.partial_reps}, "
        f"{result.frames} frames at {result.fps_processed:.1f} FPS → {out}"
    )


@app.command()
def live(
    camera: Annotated[int, typer.Option("--camera", help="Camera index.")] = 0,
    source: Annotated[
        Path | None, typer.Option("--source", help="Play a video file in real time instead.")
    ] = None,
    model: ModelOpt = None,
    exercise: ExerciseOpt = "squat",
    preset: PresetOpt = None,
    target_reps: Annotated[
        int | None, typer.Option("--target-reps", min=1, help="Goal shown on screen.")
    ] = None,
    no_display: Annotated[
        bool, typer.Option("--no-display", help="Run headless (no window).")
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write summary/frames/video here.")
    ] = None,
    max_frames: Annotated[int | None, typer.Option("--max-frames", min=1, hidden=True)] = None,
    fast: Annotated[
        bool, typer.Option("--fast", hidden=True, help="Files: do not pace to real time.")
    ] = False,
) -> None:
    """Live counter on a webcam (or a file played in real time). Keys: q quit, r reset,
    space pause."""
    from portfolio_ml_squat.live import LiveConfig, run_live

    _check_exercise(exercise, preset)
    if source is not None and not source.exists():
        raise PortfolioError(f"no such file: {source}")
    config = LiveConfig(
        exercise=exercise,
        preset=preset,
        target_reps=target_reps,
        display=not no_display,
        realtime=not fast,
        max_frames=max_frames,
    )
    result, stats = run_live(
        source if source is not None else camera,
        lambda: _model(model),  # after the camera or file has opened
        config,
        out_dir=out,
        log=lambda m: err.print(f"[yellow]{m}[/]"),
    )
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/] {warning}")
    s = stats.to_dict()
    console.print(
        f"reps [bold]{result.reps}[/], partial {result.partial_reps} — "
        f"{s['frames_shown']} frames shown, {s['frames_dropped']} dropped, "
        f"latency p50 {s['latency_p50_ms']} ms, p95 {s['latency_p95_ms']} ms"
    )


@app.command("eval")
def eval_cmd(
    data: Annotated[
        Path, typer.Argument(help="Folder with labels.csv (file,reps), or the CSV itself.")
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Where to write the JSON report.")
    ] = Path("squat_eval.json"),
    model: ModelOpt = None,
    exercise: ExerciseOpt = "squat",
    preset: PresetOpt = None,
    max_frames: Annotated[int | None, typer.Option("--max-frames", min=1)] = None,
) -> None:
    """Exact accuracy, MAE (RepCount style) and OBO of the counter over labelled videos."""
    from portfolio_ml_core.fsutil import write_json_atomic

    from portfolio_ml_squat.evaluate import EvalItem, LabelledVideo, evaluate, load_labels
    from portfolio_ml_squat.pipeline import RunConfig, analyze_video

    if not data.exists():
        raise PortfolioError(f"no such file or folder: {data}")
    _check_exercise(exercise, preset)
    videos = load_labels(data)
    model_path = _model(model)

    def count(video: LabelledVideo) -> tuple[int, int]:
        config = RunConfig(
            exercise=video.exercise or exercise, preset=preset, max_frames=max_frames
        )
        result = analyze_video(video.path, None, model_path, config)
        return result.reps, result.partial_reps

    table = Table(title=f"squat eval: {data}")
    for col in ("file", "true", "predicted", "partial", "error"):
        table.add_column(col)

    def show(item: EvalItem) -> None:
        pred = "failed" if item.predicted is None else str(item.predicted)
        table.add_row(item.file, str(item.true_reps), pred, str(item.partial_reps), item.error)
        err.print(f"{item.file}: true {item.true_reps}, predicted {pred}")

    report = evaluate(videos, count, on_item=show)
    console.print(table)
    console.print(
        f"exact {report.exact:.1%}  MAE {report.mae:.3f}  OBO {report.obo:.1%}  "
        f"({len(report.items)} videos, {report.failed} failed) → {out}"
    )
    write_json_atomic(out, report.to_dict())
