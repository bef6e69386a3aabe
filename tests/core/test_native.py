"""OpenCV's thread pool limited inside a block, and given back after it."""

from __future__ import annotations

import cv2
import pytest
from portfolio_ml_core.native import opencv_threads


def test_opencv_threads_limits_the_pool_inside_and_restores_it_even_after_an_error():
    before = cv2.getNumThreads()
    cv2.setNumThreads(2)
    try:
        with opencv_threads(1):
            assert cv2.getNumThreads() == 1
        assert cv2.getNumThreads() == 2
        with pytest.raises(RuntimeError), opencv_threads(1):
            raise RuntimeError("a stage failed")
        assert cv2.getNumThreads() == 2
    finally:
        cv2.setNumThreads(before)
