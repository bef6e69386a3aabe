"""A core of its own for a model's process, and this process's threads moved off it.

`PoseProcess` runs MediaPipe's pose model, which uses about one core (1.05 CPU-s per second
alone, measured), beside a caller that decodes, draws and encodes on other threads and an
ffmpeg encoder. Left to the scheduler on a 2-core AMD EPYC (Zen 4) VM, the model ran at
0.87–0.89× its speed alone in `squat run`; with the model on one core and everything else on
the other, at 1.02–1.06× (three paired rounds each, twice over): the scheduler kept putting
the encoder's threads on the model's core.

Linux only (``os.sched_setaffinity`` per thread); elsewhere, with fewer than two usable cores,
or with ``PORTFOLIO_ML_OWN_CORE=0``, nothing is pinned. The batch runner sets that variable in
its tasks: several runs on one machine would all pick the same core.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

OWN_CORE_ENV = "PORTFOLIO_ML_OWN_CORE"


def core_for_model() -> int | None:
    """The CPU to give a model's process (the last this process may use), or None when
    pinning is off, impossible here, or would leave the caller no core."""
    if os.environ.get(OWN_CORE_ENV, "1").strip() == "0":
        return None
    if not hasattr(os, "sched_setaffinity") or not Path("/proc/self/task").is_dir():
        return None
    cpus = sorted(os.sched_getaffinity(0))
    return cpus[-1] if len(cpus) >= 2 else None


def pin_this_process(cpu: int) -> None:
    """Run this process (the calling thread and every thread it starts later) on ``cpu``."""
    os.sched_setaffinity(0, {cpu})


class ThreadsMovedOff:
    """Every thread of this process kept off ``cpu`` until `restore` (threads started
    meanwhile inherit the narrower set and get the process's original one back)."""

    def __init__(self, cpu: int) -> None:
        self.cpu = cpu
        self._original = os.sched_getaffinity(0)
        self._saved: dict[int, set[int]] = {}
        others = self._original - {cpu}
        for tid in _thread_ids():
            with contextlib.suppress(OSError):  # a thread that ended meanwhile
                self._saved[tid] = os.sched_getaffinity(tid)
                os.sched_setaffinity(tid, (self._saved[tid] - {cpu}) or others)

    def restore(self) -> None:
        for tid in _thread_ids():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(tid, self._saved.get(tid, self._original))
        self._saved.clear()


def _thread_ids() -> list[int]:
    return [int(name) for name in os.listdir("/proc/self/task")]
