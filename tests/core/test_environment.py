"""The environment invariants the project depends on."""

from __future__ import annotations

from importlib import metadata


def test_exactly_one_cv2_distribution():
    # Two cv2 wheels overwrite each other's files and break cv2 silently; mediapipe needs contrib.
    cv2_dists = sorted(
        d.metadata["Name"].lower()
        for d in metadata.distributions()
        if d.metadata["Name"] and d.metadata["Name"].lower().startswith("opencv")
    )
    assert cv2_dists == ["opencv-contrib-python"]
    import cv2

    assert hasattr(cv2, "xfeatures2d") or hasattr(cv2, "ximgproc")  # contrib modules present


def test_pinned_frameworks():
    assert metadata.version("mediapipe").split(".")[:1] >= ["1"]
    assert metadata.version("keras").startswith("3.")
    assert metadata.version("tensorflow").startswith("2.21")
