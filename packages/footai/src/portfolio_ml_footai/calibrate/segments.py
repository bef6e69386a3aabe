"""How each shot of a run was calibrated: one record per camera segment (cut to cut).

A broadcast changes camera at every cut, and each shot is calibrated on its own (a user's
calibration file holds for its shot only, keypoint fits start afresh). summary.json lists these
records, so a user can see which shots have pitch positions, how they got them, and why the
others have none.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

NO_KEYPOINTS = (
    "no pitch keypoints could be fitted in this shot, nor its painted lines matched: too few "
    "pitch markings in view (a close-up, a replay, the crowd) or a camera view the net does "
    "not cover"
)
LINES_REJECTED = (
    "the pitch keypoints found in this shot fitted {n} frames, but the painted lines in view "
    "did not match those fits (too few keypoints to trust, a camera view the net does not cover)"
)


@dataclass(frozen=True)
class CalibrationSegment:
    first_frame: int  # video frame index of the shot's first analysed frame
    last_frame: int
    frames: int  # analysed frames in the shot
    calibrated: int  # of them, frames with a homography
    keypoint_fits: int  # frames whose pitch keypoints gave a homography fit
    method: str  # file+keypoints | file | keypoints | keypoints+lines | lines | none
    reason: str = ""  # why some frames have no homography ("" when all have one)
    line_rejected: int = 0  # frames whose weak keypoint fit the painted lines contradicted
    found_by_lines: int = 0  # frames where the painted lines alone found the pitch (no fit)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(data: dict[str, Any]) -> CalibrationSegment:
        return CalibrationSegment(
            int(data["first_frame"]),
            int(data["last_frame"]),
            int(data["frames"]),
            int(data["calibrated"]),
            int(data["keypoint_fits"]),
            str(data["method"]),
            str(data.get("reason", "")),
            int(data.get("line_rejected", 0)),
            int(data.get("found_by_lines", 0)),
        )


@dataclass(frozen=True)
class FrameCalibration:
    """What the frame loop knows about one frame's homography."""

    frame: int
    cut: bool  # the frame starts a new shot
    fitted: bool  # its keypoints gave a fit
    calibrated: bool  # it has a homography
    from_file: bool  # the homography descends from the user's calibration file
    rejected: bool = False  # its keypoints gave a weak fit that the painted lines contradicted
    by_lines: bool = False  # the line search found its homography (`line_search`)


def segments(frames: list[FrameCalibration]) -> tuple[CalibrationSegment, ...]:
    """Cut the frames into shots and describe each."""
    shots: list[list[FrameCalibration]] = []
    for f in frames:
        if f.cut or not shots:
            shots.append([])
        shots[-1].append(f)
    return tuple(_describe(shot) for shot in shots)


def _describe(shot: list[FrameCalibration]) -> CalibrationSegment:
    fits = sum(f.fitted for f in shot)
    by_lines = sum(f.by_lines for f in shot)
    rejected = sum(f.rejected for f in shot)
    calibrated = sum(f.calibrated for f in shot)
    from_file = any(f.from_file for f in shot)
    if from_file:
        method = "file+keypoints" if fits else "file"
    else:
        method = "+".join(m for m, n in (("keypoints", fits), ("lines", by_lines)) if n) or "none"
    reason = ""
    missing = len(shot) - calibrated
    if missing and not fits and not by_lines and not from_file:
        reason = LINES_REJECTED.format(n=rejected) if rejected else NO_KEYPOINTS
    elif missing:
        reason = (
            f"{missing} frames more than 2 s before the first fit (keypoints or the painted "
            "lines) or after the last one where the painted lines no longer confirmed the "
            "homography (camera motion alone drifts)"
        )
    return CalibrationSegment(
        shot[0].frame,
        shot[-1].frame,
        len(shot),
        calibrated,
        fits,
        method,
        reason,
        rejected,
        by_lines,
    )


def run_method(found: tuple[CalibrationSegment, ...], from_file: bool) -> str:
    """The whole run's calibration in a word (summary.json's ``calibration.method``): ``file``
    when a user's calibration file started it, otherwise what its shots used (``keypoints``,
    ``lines``, ``keypoints+lines``), or ``none`` when no frame got a homography."""
    if from_file:
        return "file"
    used = {part for s in found if s.calibrated for part in s.method.split("+")}
    return "+".join(m for m in ("keypoints", "lines") if m in used) or "none"


MAX_SHOT_WARNINGS = 5  # a clip of nothing but cuts gets a summary line, not one per frame


def segment_warnings(found: tuple[CalibrationSegment, ...]) -> list[str]:
    """One warning per shot that has no homography at all, saying why (the first few, then
    one line that counts the rest)."""
    dark = [s for s in found if s.calibrated == 0]
    out = [
        f"frames {s.first_frame}–{s.last_frame} ({s.frames} analysed, one shot) are "
        f"uncalibrated: {s.reason}"
        for s in dark[:MAX_SHOT_WARNINGS]
    ]
    rest = dark[MAX_SHOT_WARNINGS:]
    if rest:
        out.append(
            f"{len(rest)} more shots ({sum(s.frames for s in rest)} frames) are uncalibrated "
            "the same way (summary.json's calibration.segments lists them)"
        )
    return out
