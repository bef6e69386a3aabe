"""`footai run`: the pipeline plus its outputs, every file written atomically."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from portfolio_ml_core.video import VideoSink

from . import render
from .outputs import write_outputs
from .pipeline import Analysis, FrameOutput, RunOptions, analyse


def run_video(
    video: str | Path,
    out_dir: str | Path,
    opts: RunOptions,
    write_video: bool = True,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """``progress`` (optional, for the UI) is called with the number of frames processed so far."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sink: VideoSink | None = None

    def on_frame(fo: FrameOutput, a: Analysis) -> None:
        nonlocal sink
        if progress is not None:
            progress(len(a.frames))
        if not write_video:
            return
        if sink is None:
            sink = VideoSink(out / "annotated.mp4", a.fps, a.size)
        drawn = []
        for t, d in fo.tracks:
            if not t.confirmed:
                continue
            team = t.team_guess()
            colour = a.team_colours[team] if team in (0, 1) and a.team_colours else render.REFEREE
            drawn.append(
                render.DrawnPlayer(
                    t.track_id, tuple(d.box), colour, "player" if team in (0, 1) else "referee"
                )
            )
        ball = fo.ball.centre if fo.ball is not None else None
        sink.write(render.annotate(fo.image, drawn, ball))

    try:
        analysis = analyse(video, opts, on_frame)
        if sink is not None:
            sink.close()
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
    return write_outputs(out, analysis, str(video), write_video)
