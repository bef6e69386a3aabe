"""The match figures and the pitch pictures, drawn in a child process beside the frame loop.

mplsoccer (with pandas and scipy.stats behind it) takes ~6 s of one core to import, and the
figures and pictures another ~3 s; `annotated.mp4` meanwhile needs the main process to decode
and draw, and ffmpeg to encode. In one process these run one after the other; here the child
imports mplsoccer while the frame loop runs, then computes the figures and draws the pictures
while the main process writes the videos. A *spawned* child, not a forked one: the parent
already runs the net's and the decoder's threads, which a fork would copy in a broken state.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import TracebackType

from portfolio_ml_core.errors import PortfolioError

from ..analytics import MatchFigures
from ..match import Match


def _warm_up() -> None:
    import mplsoccer  # noqa: F401  # the import is the point: it overlaps the frame loop

    from . import outputs  # noqa: F401


def _figures_and_pictures(out_dir: Path, match: Match) -> MatchFigures:
    from ..analytics import match_figures
    from .outputs import write_pictures

    write_pictures(out_dir, match)
    return match_figures(match)


class FigureWorker:
    """One spawned child process; `start` it early, `submit` the finished match once."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> FigureWorker:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            self._pool.submit(_warm_up)
        return self

    def submit(self, out_dir: Path, match: Match) -> Future[MatchFigures]:
        pool = self.start()._pool
        assert pool is not None
        return pool.submit(_figures_and_pictures, out_dir, match)

    @staticmethod
    def result(future: Future[MatchFigures]) -> MatchFigures:
        try:
            return future.result()
        except BrokenProcessPool:
            raise PortfolioError(
                "the process drawing the match figures and pictures died (out of memory?)"
            ) from None

    def close(self, failed: bool = False) -> None:
        """Wait for the child to finish; after a failure stop it at once instead (a bad
        input's error should not wait seconds for an import nobody needs)."""
        if self._pool is None:
            return
        if failed:
            for process in list(getattr(self._pool, "_processes", {}).values()):
                process.terminate()
        self._pool.shutdown(wait=not failed, cancel_futures=True)
        self._pool = None

    def __enter__(self) -> FigureWorker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(failed=exc_type is not None)
