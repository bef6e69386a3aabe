"""`footai run`: the pipeline plus its outputs, every file written atomically."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

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

    def on_frame(fo: FrameOutput, a: Analysis) -> None:
        if progress is not None:
            progress(len(a.frames))

    analysis = analyse(video, opts, on_frame)
    # The annotated video is drawn after the run, from the labels tracks.csv is written with.
    return write_outputs(out, analysis, str(video), write_video, opts)
