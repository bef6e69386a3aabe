"""`PoseEstimator` in a child process, fed through shared memory and pipelined.

MediaPipe's Python binding holds the GIL for the whole of an inference (measured: a busy Python
thread beside it stretched the pose model from 18 to 46 ms a frame), so in one process every
line of Python that runs beside the pose model — counting, drawing, the encoder's feeding —
delays it. In its own process the model runs undisturbed on one core while the caller decodes,
counts, draws and encodes on the other. Frames travel through a ring of shared-memory slots (a
copy, no pickling of pixels); landmarks come back through a pipe (a few kB a frame).

>>> with PoseProcess(model_path, num_poses=1) as pose:
...     pose.submit(frame_bgr, timestamp_ms)   # up to `depth` frames may be in flight
...     people = pose.result()                 # results come back in submission order

Video mode only (strictly increasing timestamps, as `PoseEstimator`); the live camera keeps the
in-process estimator, where latency matters more than throughput. The child is a plain
``python -m portfolio_ml_core.pose_process`` talking over a socket pair, not a
`multiprocessing` spawn: a spawn re-imports the caller's main script, which breaks every user
script without an ``if __name__ == "__main__"`` guard. POSIX only (`supported`): elsewhere the
caller keeps the model in its own process.

With ``own_core=True`` the child runs on a core of its own and the caller's threads move off
it while the child lives (`affinity` says why and when).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from multiprocessing.shared_memory import SharedMemory
from pathlib import Path
from typing import Any

import numpy as np

from portfolio_ml_core.affinity import CoreClaim, pin_this_process
from portfolio_ml_core.errors import ModelNotFoundError, PortfolioError
from portfolio_ml_core.lifetime import ClosesOnExit
from portfolio_ml_core.pose import PoseResult

MAX_SHARED_BYTES = 32 * 2**20  # half of Docker's default /dev/shm; 640-px frames need ~3 MB
START_TIMEOUT_S = 120.0  # importing mediapipe and loading the model on a slow, busy machine


class PoseProcess(ClosesOnExit):
    """A PoseLandmarker (VIDEO mode) in a spawned child process; see the module's docstring.

    ``frame_shape`` sizes the shared slots (height, width, 3); each submitted frame must fit.
    ``cpu_seconds()`` is the child's CPU time since it became ready (a caller that reports its
    own CPU per frame adds it: the work moved, it did not vanish). ``own_core`` asks for a
    core of the child's own (module docstring); ``model_cpu`` says which one it got, if any.
    """

    @staticmethod
    def supported(frame_shape: tuple[int, int, int] | None = None, depth: int = 3) -> bool:
        """Whether this platform can run it (file descriptors passed to a child: POSIX), for
        frames of ``frame_shape``: a container's /dev/shm is often 64 MB, and writing past it
        kills the process (SIGBUS), so slots over `MAX_SHARED_BYTES` in all are refused."""
        fits = frame_shape is None or _slot_bytes(frame_shape) * depth <= MAX_SHARED_BYTES
        return os.name == "posix" and fits

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        frame_shape: tuple[int, int, int],
        *,
        num_poses: int = 1,
        depth: int = 3,
        own_core: bool = False,
    ) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise ModelNotFoundError(f"pose model not found: {path}")
        self.depth = depth
        self._slot_bytes = _slot_bytes(frame_shape)
        self._shm: SharedMemory | None = SharedMemory(create=True, size=self._slot_bytes * depth)
        self._submitted = 0  # frames handed over; frame k uses slot k % depth
        self._collected = 0  # results taken back, in the same order
        self._closed = False
        parent_end, child_end = socket.socketpair()
        # Claimed before the child starts: it inherits the caller's narrowed set, then pins
        # itself to the claimed core before MediaPipe starts its threads.
        self._core = CoreClaim.take() if own_core else None
        self.model_cpu = self._core.cpu if self._core is not None else None
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "portfolio_ml_core.pose_process", str(child_end.fileno()),
                 str(path), self._shm.name, str(num_poses),
                 str(-1 if self.model_cpu is None else self.model_cpu)],
                pass_fds=(child_end.fileno(),),
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        except BaseException:
            parent_end.close()
            self._release_memory()
            self._release_core()
            raise
        finally:
            child_end.close()
        self._conn = Connection(parent_end.detach())
        self._ready = False

    def wait_ready(self) -> None:
        """Block until the child has loaded the model (raises its error if it could not)."""
        if self._ready:
            return
        if not self._conn.poll(START_TIMEOUT_S):
            self.close()
            raise PortfolioError(f"the pose model did not start within {START_TIMEOUT_S:g} s")
        reply = self._receive()
        if reply[0] == "error":
            self.close()
            kind, message = reply[1], reply[2]
            raise (ModelNotFoundError if kind == "ModelNotFoundError" else PortfolioError)(message)
        self._ready = True

    def submit(self, image_bgr: np.ndarray, timestamp_ms: int) -> None:
        """Hand one BGR frame to the model. At most ``depth`` frames may wait for `result`."""
        self.wait_ready()
        if self.in_flight >= self.depth:
            raise RuntimeError("PoseProcess: collect a result before submitting more frames")
        image = np.ascontiguousarray(image_bgr, dtype=np.uint8)
        if image.nbytes > self._slot_bytes:
            raise ValueError(f"frame {image.shape} is larger than the slots made for it")
        assert self._shm is not None
        offset = self._submitted % self.depth * self._slot_bytes
        view = np.ndarray(image.shape, np.uint8, self._shm.buf, offset)
        view[...] = image
        del view  # no export of the buffer may outlive this call (close would fail)
        self._conn.send(("frame", offset, image.shape, int(timestamp_ms)))
        self._submitted += 1

    def result(self) -> list[PoseResult]:
        """The people found in the oldest submitted frame still waiting (submission order)."""
        if not self.in_flight:
            raise RuntimeError("PoseProcess: no frame was submitted")
        reply = self._receive()
        self._collected += 1
        if reply[0] == "error":
            raise PortfolioError(f"the pose model failed: {reply[2]}")
        people: list[PoseResult] = reply[1]
        return people

    @property
    def in_flight(self) -> int:
        return self._submitted - self._collected

    def cpu_seconds(self) -> float:
        """The child's CPU seconds since it became ready (after the in-flight results)."""
        while self.in_flight:
            self.result()
        self._conn.send(("cpu",))
        return float(self._receive()[1])

    def _receive(self) -> tuple[Any, ...]:
        try:
            reply: tuple[Any, ...] = self._conn.recv()
        except (EOFError, OSError):
            code = self._proc.poll()
            raise PortfolioError(
                f"the pose model's process stopped unexpectedly (exit code {code})"
            ) from None
        return reply

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(BrokenPipeError, OSError):
            self._conn.send(("stop",))
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._conn.close()
        self._release_memory()
        self._release_core()

    def _release_core(self) -> None:
        if self._core is not None:
            self._core.release()
            self._core = None

    def _release_memory(self) -> None:
        if self._shm is not None:
            self._shm.close()
            self._shm.unlink()
            self._shm = None


def _slot_bytes(frame_shape: tuple[int, int, int]) -> int:
    return int(np.prod(frame_shape))


def _serve(conn: Connection, model_path: str, shm_name: str, num_poses: int) -> None:
    """The child: load the model, then answer frames until told to stop."""
    from multiprocessing import resource_tracker

    from portfolio_ml_core.pose import PoseEstimator

    shm = SharedMemory(name=shm_name)
    # The parent made the memory and unlinks it; this process only borrows it (Python 3.11's
    # tracker would otherwise unlink it, with a warning, when the child exits).
    resource_tracker.unregister(shm._name, "shared_memory")  # type: ignore[attr-defined]
    try:
        try:
            pose = PoseEstimator(model_path, mode="video", num_poses=num_poses)
        except Exception as exc:  # the parent turns it into the same one-line error
            conn.send(("error", type(exc).__name__, str(exc)))
            return
        with pose:
            conn.send(("ready",))
            cpu_start = time.process_time()
            while True:
                try:
                    message = conn.recv()
                except EOFError:  # the parent is gone
                    return
                if message[0] == "stop":
                    return
                if message[0] == "cpu":
                    conn.send(("cpu", time.process_time() - cpu_start))
                    continue
                _, offset, shape, timestamp_ms = message
                image = np.ndarray(shape, np.uint8, shm.buf, offset)
                try:
                    people = pose.process(image, timestamp_ms)
                except Exception as exc:
                    conn.send(("error", type(exc).__name__, str(exc)))
                    continue
                finally:
                    del image
                conn.send(("people", people))  # PoseResults pickle as they are: a few kB
    finally:
        shm.close()


if __name__ == "__main__":
    from portfolio_ml_core.native import quiet_native_stderr

    _fd, _model, _shm, _poses, _cpu = sys.argv[1:6]
    if int(_cpu) >= 0:  # before the model's threads start: they inherit it
        pin_this_process(int(_cpu))
    # Errors travel through the pipe; the child's stderr carries only LiteRT's chatter (the
    # first inference's warnings), which PORTFOLIO_ML_DEBUG=1 shows.
    with quiet_native_stderr():
        _serve(Connection(int(_fd)), _model, _shm, int(_poses))
