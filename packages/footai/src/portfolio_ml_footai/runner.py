"""`footai run`: the pipeline, then its outputs, every file written atomically."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .io.figure_worker import FigureWorker
from .io.outputs import write_outputs
from .pipeline import RunOptions, analyse


def run_video(
    video: str | Path,
    out_dir: str | Path,
    opts: RunOptions,
    write_video: bool = True,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """``progress`` (optional, for the UI) is called with the number of frames processed so far."""
    opts.check()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # The child that draws the figures starts now: its imports overlap the frame loop.
    with FigureWorker().start() as worker:
        match = analyse(video, opts, progress)
        handed_over = worker.submit(out, match)  # figures and pictures there, videos here
        return write_outputs(
            out, match, str(video), write_video, opts.start_s, opts.max_frames, opts.stride,
            made_elsewhere=worker.result if handed_over else None,
        )  # fmt: skip
