"""Taming native libraries: their direct writes to stderr, OpenCV's thread pool."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence stderr at the file-descriptor level.

    LiteRT and TensorFlow print INFO lines from C++ while loading (models, oneDNN, CUDA probes),
    bypassing Python's logging and every log-level variable; they would drown the CLI's output. Set ``PORTFOLIO_ML_DEBUG=1`` to see them.
    """
    if os.environ.get("PORTFOLIO_ML_DEBUG"):
        yield
        return
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # a captured stream (tests) has no fd
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), fd)
    try:
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


@contextlib.contextmanager
def opencv_threads(threads: int) -> Iterator[None]:
    """OpenCV's own thread pool limited to ``threads`` inside the block (restored after).

    A frame loop that already keeps every core busy (a net in one thread, its stages in
    another) loses time when each small OpenCV call also fans out to a pool of its own: the
    pools' workers and the loop's threads then take turns on the same cores.
    """
    import cv2

    before = cv2.getNumThreads()
    cv2.setNumThreads(threads)
    try:
        yield
    finally:
        cv2.setNumThreads(before)
