"""The match figures and the pitch pictures, drawn in a child process beside the frame loop.

mplsoccer (with pandas and scipy.stats behind it) takes ~6 s of one core to import, and the
figures and pictures another ~3 s; `annotated.mp4` meanwhile needs the main process to decode
and draw, and ffmpeg to encode. In one process these run one after the other; here the child
imports mplsoccer while the frame loop runs, then computes the figures and draws the pictures
while the main process writes the videos.

The child is ``python -m`` this module, not a `multiprocessing` one: a fork would copy the
net's and the decoder's threads in a broken state, and a spawn re-imports the caller's main
module, which breaks any script without an ``if __name__ == "__main__"`` guard. The match goes
over as a pickle file, its name over the child's stdin; the figures come back the same way.
When the child cannot start, the figures are made in this process instead.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from portfolio_ml_core.errors import PortfolioError
from portfolio_ml_core.lifetime import ClosesOnExit

from ..analytics import MatchFigures
from ..match import Match

_MATCH, _FIGURES, _ERRORS = "match.pkl", "figures.pkl", "stderr.txt"


class FigureWorker(ClosesOnExit):
    """One child process; `start` it early, `submit` the finished match once, then `result`."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._job = Path(tempfile.mkdtemp(prefix="footai-figures-"))

    def start(self) -> FigureWorker:
        if self._proc is None:
            try:
                with (self._job / _ERRORS).open("wb") as errors:
                    self._proc = subprocess.Popen(
                        [sys.executable, "-m", __name__, str(self._job)],
                        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors,
                    )  # fmt: skip
            except OSError:
                self._proc = None  # no child: `submit` says so, the caller draws here
        return self

    def submit(self, out_dir: Path, match: Match) -> bool:
        """Hand the match over; False when the child is not running (draw here instead)."""
        proc = self.start()._proc
        if proc is None or proc.stdin is None or proc.poll() is not None:
            return False
        with (self._job / _MATCH).open("wb") as fh:
            pickle.dump(match, fh, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            proc.stdin.write(f"{Path(out_dir).resolve()}\n".encode())
            proc.stdin.close()
        except OSError:
            return False
        return True

    def result(self) -> MatchFigures:
        """The figures, once the child has drawn the pictures and exited."""
        assert self._proc is not None
        if self._proc.wait() != 0:
            lines = (self._job / _ERRORS).read_text(errors="replace").strip().splitlines()
            why = lines[-1] if lines else f"exit code {self._proc.returncode}"
            raise PortfolioError(f"drawing the match figures and pictures failed: {why}")
        with (self._job / _FIGURES).open("rb") as fh:
            figures: MatchFigures = pickle.load(fh)
        return figures

    def close(self) -> None:
        """Stop the child if it still runs (a failed run's error should not wait for an
        import nobody needs) and remove the hand-over files."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        shutil.rmtree(self._job, ignore_errors=True)


def _child(job: Path) -> int:
    import mplsoccer  # noqa: F401  # the import is the point: it overlaps the parent's frame loop

    from ..analytics import match_figures
    from .outputs import write_pictures

    line = sys.stdin.readline().strip()  # blocks until the parent's match is ready
    if not line:
        return 0  # the parent stopped before the end of its run
    with (job / _MATCH).open("rb") as fh:
        match: Match = pickle.load(fh)
    write_pictures(Path(line), match)
    figures = match_figures(match)
    tmp = job / f".{_FIGURES}"
    with tmp.open("wb") as fh:
        pickle.dump(figures, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, job / _FIGURES)
    return 0


if __name__ == "__main__":
    sys.exit(_child(Path(sys.argv[1])))
