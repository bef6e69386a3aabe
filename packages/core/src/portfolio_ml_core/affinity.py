"""A core of its own for a model's process, and this process's threads moved off it.

`PoseProcess` runs MediaPipe's pose model, which uses about one core (1.05 CPU-s per second
alone, measured), beside a caller that decodes, draws and encodes on other threads and an
ffmpeg encoder. Left to the scheduler on a 2-core AMD EPYC (Zen 4) VM, the model ran at
0.87–0.89× its speed alone in `squat run`; with the model on one core and everything else on
the other, at 1.02–1.06× (three paired rounds each, twice over): the scheduler kept putting
the encoder's threads on the model's core.

Linux only (``os.sched_setaffinity`` per thread); elsewhere, with fewer than two usable cores,
or with ``PORTFOLIO_ML_OWN_CORE=0``, nothing is pinned. The batch runner sets that variable in
its tasks: several runs on one machine would all pick the same core. One model per process gets
a core: while one has it, a second asks in vain (its process then runs beside the caller's
threads), so two claims never save and restore each other's narrowed sets.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

OWN_CORE_ENV = "PORTFOLIO_ML_OWN_CORE"
_lock = threading.Lock()
_active: CoreClaim | None = None  # the one claim in force in this process, if any


def free_core() -> int | None:
    """The CPU a model's process would get (the last this process may use), or None when
    pinning is off, impossible here, would leave the caller no core, or is taken."""
    if _active is not None or os.environ.get(OWN_CORE_ENV, "1").strip() == "0":
        return None
    if not hasattr(os, "sched_setaffinity") or not Path("/proc/self/task").is_dir():
        return None
    cpus = sorted(os.sched_getaffinity(0))
    return cpus[-1] if len(cpus) >= 2 else None


def pin_this_process(cpu: int) -> None:
    """Run this process (the calling thread and every thread it starts later) on ``cpu``."""
    os.sched_setaffinity(0, {cpu})


class CoreClaim:
    """One CPU kept free of this process's threads until `release`: every thread is moved off
    it, and threads started meanwhile (a child process too) inherit the narrower set; on
    release each thread gets its own set back (the process's original one if it is new)."""

    def __init__(self, cpu: int, original: set[int]) -> None:
        self.cpu = cpu
        self._original = original
        self._saved: dict[int, set[int]] = {}
        others = original - {cpu}
        for tid in _thread_ids():
            with contextlib.suppress(OSError):  # a thread that ended meanwhile
                self._saved[tid] = os.sched_getaffinity(tid)
                os.sched_setaffinity(tid, (self._saved[tid] - {cpu}) or others)

    @classmethod
    def take(cls) -> CoreClaim | None:
        """Claim `free_core()` for a model about to start, or None if there is none."""
        global _active
        with _lock:
            cpu = free_core()
            if cpu is None:
                return None
            _active = cls(cpu, os.sched_getaffinity(0))
            return _active

    def release(self) -> None:
        global _active
        with _lock:
            if _active is not self:
                return  # released already
            for tid in _thread_ids():
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(tid, self._saved.get(tid, self._original))
            self._saved.clear()
            _active = None


def _thread_ids() -> list[int]:
    return [int(name) for name in os.listdir("/proc/self/task")]
