"""Pitch keypoints → a homography for every frame.

One frame: RANSAC over the confident keypoints (`fit_keypoints`). Over a video
(`HomographyTracker`): between good fits the last homography is carried by the measured camera
motion, and fits are smoothed so the tactical map does not shiver; a fit that disagrees with
the carried one by a lot is treated as a cut (taken as is) once two frames agree. Where the
keypoints give nothing, only a weak start, or a homography the painted lines reject, the lines
are searched for the pitch on their own (`FrameLinesLike.search`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from .. import pitch
from ..detections import PitchKeypoints
from .geometry import apply_h, general_position, homography_is_plausible

MIN_INLIERS = 4
# While the camera stands still (camera motion exactly "none"), fits are averaged: their errors
# are noise around one true homography. The average spans up to this many fits, then slides
# (`HomographyTracker.variance`).
STILL_AVERAGE = 12
# A fit from 4 points is exact whatever their errors; one that contradicts the carried homography
# must have a fifth point that checks it.
MIN_SWITCH_INLIERS = 5
# Two such fits in a row take over from the carried homography; a user's calibration needs this many.
TRUSTED_SWITCH = 5
RANSAC_PX = 0.012  # reprojection threshold as a fraction of the frame width (15 px at 1280)
# Motion alone drifts: ~2 s after the last keypoint fit a carried homography is dropped, unless
# the painted lines in view still lie where it puts the pitch's lines (checked this often).
CARRY_FRAMES = 50
LINE_RECHECK = 10
# Frames before a shot's first homography get the one of this many frames later, carried back.
BACK_ANCHOR = 25
DISAGREE_SHARE = 0.04  # two homographies this share of the frame width apart disagree
# A fit on fewer inliers than this must be supported by the lines; one on more has checked
# itself (8 consistent keypoints are rarely all wrong).
CHECK_BELOW_INLIERS = 8
# A shot without a homography searches the painted lines alone (`line_search`, ~0.3 s) on its
# SEARCH_AFTER-th frame without one (keypoint fits often come within a few frames of a cut),
# then once a second: a clip no view covers costs ~12 ms a frame, not 0.3 s.
SEARCH_AFTER = 5
SEARCH_EVERY = 25
# A held homography's line support is checked this often; under `lines.CARRY_SUPPORT` the lines
# are searched for a better one (and, finding none, not asked again for SEARCH_EVERY frames).
SUPPORT_CHECK = 10


@dataclass(frozen=True)
class KeypointFit:
    homography: np.ndarray  # pitch metres → image pixels
    inliers: np.ndarray  # (32,) bool
    error_px: float  # median reprojection error of the inliers

    @property
    def n_inliers(self) -> int:
        return int(self.inliers.sum())


def fit_keypoints(
    keypoints: PitchKeypoints, frame_width: int, threshold: float | None = None
) -> KeypointFit | None:
    """RANSAC homography from the confident keypoints; None without 4 consistent, spread points."""
    seen = np.nonzero(keypoints.visible(threshold))[0]
    if len(seen) < MIN_INLIERS:
        return None
    world = pitch.KEYPOINTS[seen]
    image = keypoints.xy[seen]
    h, mask = cv2.findHomography(world, image, cv2.RANSAC, RANSAC_PX * frame_width, maxIters=500)
    if h is None or mask is None:
        return None
    ok = mask.ravel().astype(bool)
    # Three keypoints of the halfway line and one more fix no homography: the far side folds.
    if not fixes_homography(world[ok]):
        return None
    h = h / h[2, 2]
    if not homography_is_plausible(h, world[ok]):
        return None
    inliers = np.zeros(len(pitch.KEYPOINTS), bool)
    inliers[seen[ok]] = True
    err = np.linalg.norm(apply_h(h, world[ok]) - image[ok], axis=1)
    return KeypointFit(h, inliers, float(np.median(err)))


def fixes_homography(world: np.ndarray) -> bool:
    """Whether these pitch points can fix a homography: 4 or more, spread over an area, and in
    general position."""
    return len(world) >= MIN_INLIERS and _spread(world) and general_position(world)


def _spread(world: np.ndarray) -> bool:
    """Four points on one line (or bunched up) fix no homography."""
    centred = world - world.mean(axis=0)
    s = np.linalg.svd(centred, compute_uv=False)
    return bool(len(s) == 2 and s[1] > 2.0)


def image_to_pitch(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Image pixels → pitch metres through the inverse of ``h`` (pitch → image)."""
    return apply_h(np.linalg.inv(h), points)


class FrameLinesLike(Protocol):
    """A frame's painted lines (`lines.FrameLines`; one that can `search` where the tracker
    searches: `line_search.SearchableFrameLines`)."""

    def agree(self, homography: np.ndarray) -> bool: ...

    def confirm(self, fit: KeypointFit, starts: bool = True) -> bool: ...

    def prefer(self, new: np.ndarray, old: np.ndarray) -> bool: ...

    def refine(self, homography: np.ndarray) -> np.ndarray: ...

    def rejects(self, homography: np.ndarray) -> bool: ...

    def search(self, current: np.ndarray | None) -> np.ndarray | None: ...


class HomographyTracker:
    """A homography for every frame: keypoint fits, carried by camera motion between them.

    A user's calibration (`start_from`) is where it starts: keypoint fits that agree with it keep
    correcting it as the camera moves (motion alone drifts), fits that contradict it are
    ignored unless `TRUSTED_SWITCH` checked ones in a row agree with each other, and it is
    carried however long no fit comes, until the shot ends (`reset`).

    With ``search`` (what a run does) the painted lines are also searched for the pitch on their
    own: in a shot without a homography (its `SEARCH_AFTER`-th frame without one, then every
    `SEARCH_EVERY`-th), where it would start from a weak fit (under `CHECK_BELOW_INLIERS`
    keypoints: 4 fix a homography whatever their identities, a few more check it little), and
    where the lines reject the one
    it holds (checked every `SUPPORT_CHECK`-th frame). What they find starts the homography like
    one fit (`found_by_lines`).
    """

    def __init__(
        self, frame_size: tuple[int, int], smoothing: float = 0.5, search: bool = False
    ) -> None:
        self.size = frame_size
        self.search = search
        self.current: np.ndarray | None = None
        self.frames_since_fit = 0
        self.pending: np.ndarray | None = None  # a disagreeing fit waiting for confirmation
        # How uncertain `current` is, in units of one fit's error variance. A fit starts it at
        # 1; a still camera's fits shrink it (their running mean) down to 1 / STILL_AVERAGE,
        # below which averaging cannot go (the fits share their bias); every moving frame adds
        # the drift that makes the steady blend of a panning camera ``1 - smoothing``.
        blend = 1.0 - smoothing
        self.drift, self.most = blend * blend / (1.0 - blend), blend / (1.0 - blend)
        self.variance = 1.0
        self.trusted = False  # `current` descends from a user's calibration
        self.agreeing = 0  # consecutive checked fits that agree with `pending`
        self.rejected = False  # the last update's fit was dropped: the lines contradicted it
        self.carried_for = 0  # frames in a row whose homography was carried, not fitted
        # What the last update did with its fit: took it (blended, started or switched to, or
        # kept waiting for a second one to switch), or found the pitch in the lines instead.
        self.fitted = False
        self.by_lines = False
        self.updates = 0
        self.uncalibrated = 0  # updates in a row of this shot without a homography
        # No search for a rejected homography before this update. It runs on across shots: it
        # bounds what the searches cost, and a new shot's homography is checked all the same.
        self.next_support_check = 0

    def start_from(self, homography: np.ndarray) -> None:
        """Start from a user's calibration: exact for its frame, so no fit moves it until the
        camera does."""
        self.current = homography / homography[2, 2]
        self.variance, self.trusted, self.pending = 0.0, True, None

    def found_by_lines(self, homography: np.ndarray) -> np.ndarray:
        """Start from a homography the painted lines alone gave (`line_search`): weighed like
        one fit, carried and kept on the lines like any, and given up when they stop agreeing:
        the shot's state afresh (`reset`), from this homography."""
        self.reset()
        self.current = homography / homography[2, 2]
        return self.current

    def reset(self) -> None:
        """A new shot: nothing of the last one's homography carries over."""
        self.current, self.pending, self.trusted = None, None, False
        self.variance, self.frames_since_fit = 1.0, 0
        self.carried_for, self.agreeing, self.uncalibrated = 0, 0, 0

    def update(
        self,
        fit: KeypointFit | None,
        motion: np.ndarray | None,
        lines: FrameLinesLike | None = None,
    ) -> np.ndarray | None:
        """This frame's homography: ``motion`` maps last frame's pixels to this frame's;
        ``lines`` (the frame's painted lines) must confirm a weak fit that would start the
        homography, and like a fit that would switch it about as well as the carried one (a fit
        that agrees with the carried homography is only blended in: no need to look); they
        also keep, and correct, a homography carried without fits, and are searched for the
        pitch where the keypoints leave it unknown, weak or rejected by them. Afterwards
        `fitted`, `by_lines` and `rejected` say how this frame's homography came about."""
        # A weak fit (accepted or rejected by the lines) where the shot has no homography yet:
        # 4-7 keypoints check themselves little, so the lines are searched as well (as a lone
        # frame is, `line_search.calibrate_frame`).
        weak_start = (
            self.current is None and fit is not None and fit.n_inliers < CHECK_BELOW_INLIERS
        )
        h = self._follow(fit, motion, lines)
        if self.rejected:
            fit = None
        self.by_lines = False
        if lines is not None and self.search:
            h, fit = self._search_lines(h, fit, weak_start, lines)
        self.fitted = fit is not None
        self.updates += 1
        return h

    def _search_lines(
        self,
        h: np.ndarray | None,
        fit: KeypointFit | None,
        weak_start: bool,
        lines: FrameLinesLike,
    ) -> tuple[np.ndarray | None, KeypointFit | None]:
        """The frame's homography and the fit it stands on, after the lines had their say."""
        self.uncalibrated = 0 if h is not None else self.uncalibrated + 1
        if weak_start or self.uncalibrated % SEARCH_EVERY == SEARCH_AFTER:
            found = lines.search(None if fit is None else fit.homography)
        elif h is not None and self._support_due() and lines.rejects(h):
            # Fits that agree with one another can hold a homography the lines reject (a real
            # clip redrawn as a gantry camera: 9 m off for 2 s, support 0.06-0.12 where the
            # right one had 0.52): the lines look for a better one.
            found = lines.search(h)
            if found is None:
                self.next_support_check = self.updates + SEARCH_EVERY
        else:
            return h, fit
        if found is None:
            return h, fit
        self.by_lines = True
        return self.found_by_lines(found), None  # a weak fit given way is no fit

    def _support_due(self) -> bool:
        """Whether the held homography's line support is due a check (a user's calibration is
        not second-guessed)."""
        return not (
            self.trusted or self.updates % SUPPORT_CHECK or self.updates < self.next_support_check
        )

    def _follow(
        self, fit: KeypointFit | None, motion: np.ndarray | None, lines: FrameLinesLike | None
    ) -> np.ndarray | None:
        """The homography from the keypoint fit and the camera motion (`update` without the
        line search)."""
        if motion is None and self.trusted:
            motion = np.eye(3)  # a user's calibration stays put when the motion is unknown
        carried = self.carried(motion)
        moving = motion is not None and not np.array_equal(motion, np.eye(3))
        if motion is None or moving:
            self.variance = min(self.variance + self.drift, self.most)
        disagrees = (
            fit is not None
            and carried is not None
            and homographies_disagree(carried, fit.homography, self.size)
        )
        self.rejected = False
        if fit is not None and lines is not None:
            if carried is None:
                self.rejected = not lines.confirm(fit)
            elif disagrees:
                # It would switch the homography: the lines must like it about as well.
                self.rejected = not (
                    lines.confirm(fit, starts=False) and lines.prefer(fit.homography, carried)
                )
            fit = None if self.rejected else fit
        if fit is None or (disagrees and fit.n_inliers < MIN_SWITCH_INLIERS):
            # No fit, or too weak a one to switch to: the carried homography alone, and motion
            # drifts. On the real LaLiga clip a fast pan without fits took it from 0.76 of the
            # model on painted lines to 0.27 in 25 frames, and fits that came back were too
            # weak to switch to: the pitch stayed wrong for the rest of the shot. The lines
            # pull it back every LINE_RECHECK frames (past CARRY_FRAMES without a fit the check
            # below does it). A user's calibration is pulled only while the camera moves: it
            # was exact where it stood, and a still camera's fits would never undo a wrong
            # pull (synthetic pan 51 with its calibration file: 0.39 m with the pull, 0.86 m
            # without).
            self.carried_for += 1
            due = (
                (not self.trusted or moving)
                and self.carried_for % LINE_RECHECK == 0
                and (fit is not None or self.frames_since_fit < CARRY_FRAMES)
            )
            if due and lines is not None and carried is not None:
                carried = lines.refine(carried)
        else:
            self.carried_for = 0
        if fit is None:
            self.frames_since_fit += 1
            # Motion alone drifts: give up after ~2 s without a keypoint fit unless the lines
            # still confirm the carried homography (a user's calibration is carried through
            # its shot: it was right once, fits are not).
            late = self.frames_since_fit - CARRY_FRAMES
            lost = False
            if late > 0 and not self.trusted and carried is not None:
                if lines is None:
                    lost = True
                elif late % LINE_RECHECK == 1:  # the lines are looked at every 10th frame
                    # Motion alone drifts (0.3-0.7 m after 2 s on the real clip, where that
                    # halves the lines' support): move it onto the lines, then ask them.
                    carried = lines.refine(carried)
                    lost = not lines.agree(carried)
            self.current = None if lost else carried
            return self.current
        self.frames_since_fit = 0
        pending, self.pending = self.pending, None
        if pending is not None and motion is not None:
            pending = _moved(pending, motion)
        if carried is None:
            return self._restart(fit)
        if disagrees:
            # A cut the thumbnail test missed, or drift: switch once two checked fits agree.
            # A user's calibration gives way only to more fits (it may have drifted while no
            # fit came, or the fits may be wrong).
            needed = TRUSTED_SWITCH if self.trusted else 2
            self.current = carried
            if fit.n_inliers < MIN_SWITCH_INLIERS:
                return self.current
            if pending is not None and not homographies_disagree(
                pending, fit.homography, self.size
            ):
                self.agreeing += 1
            else:
                self.agreeing = 1
            if self.agreeing >= needed:
                return self._restart(fit)
            self.pending = fit.homography
            return self.current
        floor = 1.0 / STILL_AVERAGE
        if self.trusted and self.variance <= floor:
            weight = 0.0  # a user's calibration the camera has not moved away from: better
        else:
            weight = self.variance / (self.variance + 1.0)
            self.variance = max(self.variance * (1.0 - weight), floor)
        blend = (1 - weight) * carried + weight * fit.homography
        self.current = blend / blend[2, 2]
        return self.current

    def carried(self, motion: np.ndarray | None) -> np.ndarray | None:
        """The current homography moved by ``motion`` (last frame's pixels → this frame's)."""
        if self.current is None or motion is None:
            return None
        return _moved(self.current, motion)

    def _restart(self, fit: KeypointFit) -> np.ndarray:
        self.current, self.variance, self.trusted = fit.homography, 1.0, False
        return self.current


def homographies_disagree(a: np.ndarray, b: np.ndarray, size: tuple[int, int]) -> bool:
    """Whether two homographies (pitch → pixels of a ``size`` frame) put the pitch more than
    `DISAGREE_SHARE` of the frame width apart, on a grid over the picture."""
    w, h = size
    grid = np.array([[x, y] for x in (0.2 * w, 0.5 * w, 0.8 * w) for y in (0.4 * h, 0.8 * h)])
    try:
        back = apply_h(b, image_to_pitch(a, grid))
    except np.linalg.LinAlgError:
        return True
    return bool(np.median(np.linalg.norm(back - grid, axis=1)) > DISAGREE_SHARE * w)


def _moved(h: np.ndarray, motion: np.ndarray) -> np.ndarray:
    moved = motion @ h
    return moved / moved[2, 2]


def carry_back(
    homographies: list[np.ndarray | None],
    motions: list[np.ndarray | None],
    starts: list[bool],
    limit: int = CARRY_FRAMES,
    anchor: int = BACK_ANCHOR,
) -> list[int]:
    """Give the frames before a shot's first homography the one the camera motion carries back
    to them (at most ``limit`` frames, as far as forward carrying goes without line checks).

    The first fits after a dark stretch are the least checked (nothing carried to compare
    with; a wrong one is replaced a few frames later), so the homography carried back is the
    one ``anchor`` frames later, when the run has settled; stretches shorter than that are
    left alone. ``motions[i]`` maps frame i-1's pixels to frame i's (None where unknown, and
    at every cut); ``starts[i]``: frame i starts a shot. Fills ``homographies`` in place and
    returns the indices it filled.
    """
    filled: list[int] = []
    i = len(homographies) - 1
    while i > 0:
        if homographies[i] is None or homographies[i - 1] is not None or starts[i]:
            i -= 1
            continue
        # Frame i is where a homography begins after a dark stretch.
        h = _carried_back(homographies, motions, starts, i, i + anchor)
        j = i
        while h is not None and j > 0 and homographies[j - 1] is None and i - j < limit:
            motion = motions[j]
            if starts[j] or motion is None:
                break
            h = _back(h, motion)
            homographies[j - 1] = h
            filled.append(j - 1)
            j -= 1
        i = j - 1  # the filled frames are not new beginnings
    return sorted(filled)


def _back(h: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """Frame i's homography → frame i-1's, where ``motion`` maps frame i-1's pixels to i's."""
    return _moved(h, np.linalg.inv(motion))


def _carried_back(
    homographies: list[np.ndarray | None],
    motions: list[np.ndarray | None],
    starts: list[bool],
    first: int,
    anchor: int,
) -> np.ndarray | None:
    """The homography of frame ``anchor`` carried back to frame ``first``; None when the frames
    between lack a homography or a motion, or a shot starts among them."""
    if anchor >= len(homographies):
        return None
    h = homographies[anchor]
    for k in range(anchor, first, -1):
        motion = motions[k]
        if h is None or homographies[k] is None or starts[k] or motion is None:
            return None
        h = _back(h, motion)
    return h
