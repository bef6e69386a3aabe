"""The ``portfolio-ml footai`` commands: demo, run, sample, eval, calibrate."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from portfolio_ml_core.errors import InputFileError, PortfolioError
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from portfolio_ml_footai.evaluate import EvalResult

app = typer.Typer(
    help="Football broadcast analysis: players, teams, tracks, pitch positions, tactical map. "
    "Offline, CPU only, no downloaded weights.",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)


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
) -> None:
    """Detect, track and map the players of VIDEO; write tracks.csv, videos, maps, summary.json."""
    from portfolio_ml_footai.pipeline import RunOptions
    from portfolio_ml_footai.runner import run_video

    if calibration is not None and not calibration.exists():
        raise InputFileError(f"calibration file not found: {calibration}")
    opts = RunOptions(calibration=calibration, start_s=start, max_frames=max_frames, stride=stride)
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


@app.command()
def sample(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    camera: Annotated[str, typer.Option("--camera", help="static or pan.")] = "static",
    seconds: Annotated[float, typer.Option("--seconds", help="Clip length.")] = 8.0,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (kits, camera, play).")] = 0,
    size: Annotated[str, typer.Option("--size", help="Frame size WxH.")] = "1280x720",
    fps: Annotated[float, typer.Option("--fps", help="Frame rate.")] = 25.0,
) -> None:
    """Render a synthetic broadcast clip with exact ground truth (gt.csv, calibration.json)."""
    from portfolio_ml_footai.synth import SampleConfig, render_sample

    if camera not in ("static", "pan"):
        raise PortfolioError(f"--camera must be static or pan, not {camera!r}")
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
    gt: Annotated[Path, typer.Option("--gt", help="Ground truth CSV (from `footai sample`).")],
    pred: Annotated[Path, typer.Option("--pred", help="Predicted tracks.csv (from `footai run`).")],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the figures as JSON.")
    ] = None,
    iou: Annotated[float, typer.Option("--iou", help="IoU needed for a match.")] = 0.5,
) -> None:
    """Detection P/R/F1, MOTA, IDF1, ID switches, team accuracy, position error, ball hit rate."""
    from portfolio_ml_core.fsutil import write_json_atomic

    from portfolio_ml_footai.evaluate import evaluate as run_eval
    from portfolio_ml_footai.tracks_io import read_tracks

    if not 0 < iou < 1:
        raise PortfolioError("--iou must be in (0, 1)")
    result = run_eval(read_tracks(gt), read_tracks(pred), iou_threshold=iou)
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
    auto_calibration: Annotated[
        bool,
        typer.Option(
            "--auto-calibration", help="Fit the markings instead of using the sample's calibration."
        ),
    ] = False,
) -> None:
    """The embedded default: render a synthetic clip, run the pipeline on it, score the result."""
    from portfolio_ml_core.fsutil import write_json_atomic

    from portfolio_ml_footai.evaluate import evaluate as run_eval
    from portfolio_ml_footai.pipeline import RunOptions
    from portfolio_ml_footai.runner import run_video
    from portfolio_ml_footai.synth import SampleConfig, render_sample
    from portfolio_ml_footai.tracks_io import read_tracks

    if camera not in ("static", "pan"):
        raise PortfolioError(f"--camera must be static or pan, not {camera!r}")
    if not 0 < seconds <= 600:
        raise PortfolioError("--seconds must be in (0, 600]")
    console.print(f"rendering a {seconds:g} s synthetic broadcast clip ({camera} camera) …")
    sample_res = render_sample(out / "sample", SampleConfig(camera, seconds, seed))
    console.print("running the pipeline …")
    opts = RunOptions(calibration=None if auto_calibration else sample_res.calibration)
    summary = run_video(sample_res.video, out / "run", opts, write_video=True)
    for w in summary["warnings"]:
        err.print(f"[yellow]warning:[/yellow] {w}")
    result = run_eval(read_tracks(sample_res.gt), read_tracks(out / "run" / "tracks.csv"))
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
        bool, typer.Option("--auto", help="Fit the markings automatically, no window.")
    ] = False,
) -> None:
    """Point pairs image ↔ pitch for VIDEO: by clicking (OpenCV window) or --auto."""
    from portfolio_ml_footai.calibrate_ui import (
        auto_calibration,
        interactive_calibration,
        write_calibration,
    )

    if frame < 0:
        raise PortfolioError("--frame must be >= 0")
    data = auto_calibration(video, frame) if auto else interactive_calibration(video, frame)
    write_calibration(out, data)
    console.print(f"{len(data['image_points'])} point pairs → {out}")
