"""The painted lines and the homography tracker: fits confirmed or rejected on few keypoints, a
carried homography kept and corrected on the lines, and when the tracker searches them."""

from __future__ import annotations

import cv2
import numpy as np
from portfolio_ml_footai import pitch
from portfolio_ml_footai.calibrate.geometry import apply_h
from portfolio_ml_footai.calibrate.keypoints import (
    CARRY_FRAMES,
    CHECK_BELOW_INLIERS,
    LINE_RECHECK,
    SEARCH_AFTER,
    SEARCH_EVERY,
    SUPPORT_CHECK,
    HomographyTracker,
    carry_back,
    fit_keypoints,
)
from portfolio_ml_footai.calibrate.lines import (
    FEW_INLIERS,
    MIN_SUPPORT,
    MIN_SUPPORT_FEW,
    FrameLines,
    fit_frame,
    fit_keypoints_on_lines,
    pitch_shift_m,
)
from portfolio_ml_footai.calibrate.segments import LINES_REJECTED, FrameCalibration, segments
from portfolio_ml_footai.detections import PitchKeypoints
from portfolio_ml_footai.synth.camera import BroadcastCamera

SIZE = (1280, 720)
CAMERA = BroadcastCamera(0.0, 70.0, 18.0, 0.0, 0.0, 1400.0, *SIZE).looking_at(-20.0, -4.0)


def _pitch_frame(h: np.ndarray) -> np.ndarray:
    """Grass with the pitch's white lines where the homography puts them."""
    image = np.full((SIZE[1], SIZE[0], 3), (40, 125, 45), np.uint8)
    for line in pitch.pitch_lines():
        dense = np.concatenate(
            [np.linspace(a, b, 40) for a, b in zip(line.points[:-1], line.points[1:], strict=True)]
        )
        uv = cv2.perspectiveTransform(dense.reshape(-1, 1, 2), h)
        cv2.polylines(image, [np.round(uv).astype(np.int32)], False, (235, 235, 235), 3)
    return image


def _keypoints(h: np.ndarray, which: np.ndarray) -> PitchKeypoints:
    xy = cv2.perspectiveTransform(pitch.KEYPOINTS.reshape(-1, 1, 2), h).reshape(-1, 2)
    confidence = np.zeros(len(xy))
    confidence[which] = 0.9
    return PitchKeypoints(xy, confidence)


def _in_view(h: np.ndarray) -> np.ndarray:
    xy = cv2.perspectiveTransform(pitch.KEYPOINTS.reshape(-1, 1, 2), h).reshape(-1, 2)
    inside = (
        (xy[:, 0] > 20) & (xy[:, 0] < SIZE[0] - 20) & (xy[:, 1] > 20) & (xy[:, 1] < SIZE[1] - 20)
    )
    return np.nonzero(inside)[0]


def test_near_a_line_is_the_same_square_the_distance_transform_gives():
    """`support` dilates by a 5×5 square where the refinement reads a distance transform: both
    must call the same pixels near a line."""
    from portfolio_ml_footai.calibrate.lines import NEAR_LINE_PX, NEAR_SQUARE

    rng = np.random.default_rng(0)
    for density in (0.001, 0.01, 0.05):
        lines = ((rng.random((90, 160)) < density) * 255).astype(np.uint8)
        cv2.line(lines, (5, 80), (150, 10), 255, 1)
        distance = cv2.distanceTransform(cv2.bitwise_not(lines), cv2.DIST_L2, 5)
        np.testing.assert_array_equal(cv2.dilate(lines, NEAR_SQUARE) > 0, distance < NEAR_LINE_PX)


def test_right_homography_lands_on_the_lines_a_wrong_one_on_grass():
    h = CAMERA.homography()
    image = _pitch_frame(h)
    right = FrameLines(image).support(h)
    wrong = FrameLines(image).support(CAMERA.looking_at(-8.0, 6.0).homography())
    assert right is not None and right > 0.6
    assert wrong is not None and wrong < MIN_SUPPORT
    # A homography that shows no pitch in the frame cannot be judged.
    far_off = np.array([[1.0, 0, 5000], [0, 1, 0], [0, 0, 1]]) @ h
    assert FrameLines(image).support(far_off) is None


def test_a_weak_fit_stands_only_where_the_lines_confirm_it():
    h = CAMERA.homography()
    image = _pitch_frame(h)
    five = _in_view(h)[[0, 2, 4, 6, 8]]
    assert len(five) < CHECK_BELOW_INLIERS
    fit, rejected = fit_frame(_keypoints(h, five), image)
    assert fit is not None and not rejected
    # The same five keypoints where another camera would see them: an exact fit, metres off.
    elsewhere = CAMERA.looking_at(-8.0, 6.0).homography()
    fit, rejected = fit_frame(_keypoints(elsewhere, five), image)
    assert fit is None and rejected
    # Without keypoints enough for a fit, nothing is rejected: there was nothing to check.
    assert fit_frame(_keypoints(h, five[:3]), image) == (None, False)


def test_the_weakest_fits_need_more_of_the_lines():
    """Four keypoints fix a homography whatever their identities and a fifth checks it once: a
    fit on `FEW_INLIERS` or fewer that would start the homography needs `MIN_SUPPORT_FEW` of the
    model on painted lines, one on six or seven `MIN_SUPPORT`. Here a camera aimed ~3 m off: a
    quarter of its lines land on painted ones."""
    h = CAMERA.homography()
    image = _pitch_frame(h)
    base = BroadcastCamera(0.0, 70.0, 18.0, 0.0, 0.0, 1400.0, *SIZE)
    off = base.looking_at(-18.0, -2.0).homography()
    support = FrameLines(image).support(off)
    assert support is not None and MIN_SUPPORT < support < MIN_SUPPORT_FEW
    seen = np.intersect1d(_in_view(off), _in_view(h))
    assert len(seen) >= 7
    for n, stands in ((FEW_INLIERS, False), (FEW_INLIERS + 1, True), (7, True)):
        spread = seen[np.round(np.linspace(0, len(seen) - 1, n)).astype(int)]
        fit, rejected = fit_frame(_keypoints(off, spread), image)
        assert (fit is not None, rejected) == (stands, not stands), n
        assert fit is None or fit.n_inliers == n
    fit, rejected = fit_frame(_keypoints(off, spread[:4]), image)  # four of them
    assert fit is None and rejected
    # A switch answers to `prefer` (the carried homography's support) as well: the usual bar.
    few = fit_keypoints(_keypoints(off, spread[:FEW_INLIERS]), SIZE[0])
    assert few is not None and few.n_inliers == FEW_INLIERS
    lines = FrameLines(image)
    assert not lines.confirm(few) and lines.confirm(few, starts=False)


def test_a_fit_on_many_keypoints_checks_itself():
    h = CAMERA.homography()
    black = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)  # no lines to see at all
    many = _in_view(h)
    assert len(many) >= CHECK_BELOW_INLIERS
    fit, rejected = fit_frame(_keypoints(h, many), black)
    assert fit is not None and not rejected
    fit, rejected = fit_frame(_keypoints(h, many[:5]), black)
    assert fit is None and rejected


def test_a_shot_whose_fits_the_lines_rejected_says_so():
    frames = [
        FrameCalibration(i, i == 0, False, False, False, rejected=i % 2 == 0) for i in range(6)
    ]
    (shot,) = segments(frames)
    assert shot.line_rejected == 3 and shot.method == "none"
    assert shot.reason == LINES_REJECTED.format(n=3)
    assert type(shot).from_json(shot.to_json()) == shot


def test_lines_keep_a_carried_homography_while_they_confirm_it():
    """No keypoint fit for longer than `CARRY_FRAMES`: the lines decide whether it carries on."""
    h = CAMERA.homography()
    image = _pitch_frame(h)
    fit, _ = fit_frame(_keypoints(h, _in_view(h)), image)
    assert fit is not None

    def run(lines, frames=CARRY_FRAMES + 3 * LINE_RECHECK):
        tracker = HomographyTracker(SIZE)  # no line search (it would find where the camera went)
        tracker.update(fit, None)
        return [tracker.update(None, np.eye(3), lines) for _ in range(frames)]

    # The frame's lines where the homography puts them: carried as long as the shot lasts.
    held = run(FrameLines(image))
    assert all(x is not None for x in held)
    # The camera moved on and motion did not follow it: the lines no longer agree.
    elsewhere = _pitch_frame(CAMERA.looking_at(-8.0, 6.0).homography())
    dropped = run(FrameLines(elsewhere))
    assert dropped[CARRY_FRAMES - 1] is not None and dropped[CARRY_FRAMES] is None
    assert all(x is None for x in dropped[CARRY_FRAMES:])
    # Without lines to ask (a caller that has none), ~2 s is the limit as before.
    assert run(None)[CARRY_FRAMES] is None


def test_the_lines_pull_a_drifting_carried_homography_back_long_before_it_is_dropped():
    """The camera stands still but its measured motion creeps 1 px a frame to the right (as
    a fast pan's estimate does, on the real clip): the carried homography would be 40 px off
    after 40 frames; every `LINE_RECHECK` frames the lines move it back onto themselves."""
    h = CAMERA.homography()
    image = _pitch_frame(h)
    fit, _ = fit_frame(_keypoints(h, _in_view(h)), image)
    assert fit is not None
    creep = np.array([[1.0, 0, 1.0], [0, 1.0, 0], [0, 0, 1.0]])
    probe = pitch.KEYPOINTS[_in_view(h)].reshape(-1, 1, 2)
    truth = cv2.perspectiveTransform(probe, h)

    def off_px(lines) -> list[float]:
        tracker = HomographyTracker(SIZE)
        tracker.update(fit, None)
        out = []
        for _ in range(40):
            now = tracker.update(None, creep, lines)
            out.append(float(np.abs(cv2.perspectiveTransform(probe, now) - truth).max()))
        return out

    alone = off_px(None)
    assert alone[-1] > 35
    pulled = off_px(FrameLines(image))
    assert max(pulled) < 1.5 * LINE_RECHECK and pulled[-1] < 5


class _Lines:
    """Painted lines that answer as told and count the questions."""

    def __init__(
        self,
        confirm: bool,
        prefer: bool = True,
        rejects: bool = False,
        finds: np.ndarray | None = None,
    ) -> None:
        self.answer, self.asked, self.prefers = confirm, 0, prefer
        self.rejecting, self.finds, self.searched = rejects, finds, []
        self.starts: list[bool] = []  # what each `confirm` was told

    def rejects(self, homography):
        return self.rejecting

    def search(self, current):
        self.searched.append(current)
        return self.finds

    def prefer(self, new, old):
        return self.prefers

    def refine(self, homography):
        return homography

    def agree(self, homography):
        return self.answer

    def confirm(self, fit, starts=True):
        self.asked += 1
        self.starts.append(starts)
        return self.answer


def test_the_tracker_asks_the_lines_only_about_fits_that_would_change_the_homography():
    h = CAMERA.homography()
    five = _in_view(h)[[0, 2, 4, 6, 8]]
    weak = fit_keypoints(_keypoints(h, five), SIZE[0])
    assert weak is not None and weak.n_inliers < CHECK_BELOW_INLIERS
    # Nothing carried yet: a weak fit would start the homography, so the lines must confirm it.
    tracker, no = HomographyTracker(SIZE), _Lines(confirm=False)
    assert tracker.update(weak, None, no) is None and tracker.rejected and no.asked == 1
    yes = _Lines(confirm=True)
    assert tracker.update(weak, None, yes) is not None and not tracker.rejected
    # A weak fit that agrees with the carried homography is blended in without a look.
    again = _Lines(confirm=False)
    assert tracker.update(weak, np.eye(3), again) is not None
    assert again.asked == 0 and not tracker.rejected


def test_the_tracker_searches_the_lines_once_a_second_in_a_shot_without_a_homography():
    """Its `SEARCH_AFTER`-th frame without one first, then every `SEARCH_EVERY`-th; a new shot
    starts the count again, and what the search finds starts the homography like a fit."""
    tracker, nothing = HomographyTracker(SIZE, search=True), _Lines(confirm=True)
    searched_at = []
    for i in range(1, 2 * SEARCH_EVERY + SEARCH_AFTER + 1):
        assert tracker.update(None, None, nothing) is None
        if len(nothing.searched) > len(searched_at):
            searched_at.append(i)
    assert searched_at == [
        SEARCH_AFTER,
        SEARCH_AFTER + SEARCH_EVERY,
        SEARCH_AFTER + 2 * SEARCH_EVERY,
    ]
    assert nothing.searched == [None] * 3  # nothing held to compare with
    tracker.reset()
    h = CAMERA.homography()
    finds = _Lines(confirm=True, finds=2 * h)
    out = []
    for _ in range(SEARCH_AFTER + 2):
        out.append(tracker.update(None, np.eye(3), finds))
        if out[-1] is not None and len(out) == SEARCH_AFTER:  # the frame the lines found
            assert tracker.by_lines and not tracker.fitted
    assert all(x is None for x in out[: SEARCH_AFTER - 1])
    np.testing.assert_allclose(out[SEARCH_AFTER - 1], h / h[2, 2])
    assert len(finds.searched) == 1 and all(x is not None for x in out[SEARCH_AFTER - 1 :])
    assert not tracker.by_lines  # the frames after it: carried
    # Without the search (the tracker's default) the lines are never asked to find the pitch.
    quiet, lines = HomographyTracker(SIZE), _Lines(confirm=True, finds=h)
    assert all(quiet.update(None, None, lines) is None for _ in range(2 * SEARCH_EVERY))
    assert lines.searched == []


def test_a_weak_start_gives_way_to_what_the_lines_find_and_a_strong_one_is_not_searched():
    h = CAMERA.homography()
    weak = fit_keypoints(_keypoints(h, _in_view(h)[[0, 2, 4, 6, 8]]), SIZE[0])
    strong = fit_keypoints(_keypoints(h, _in_view(h)), SIZE[0])
    assert weak is not None and strong is not None and strong.n_inliers >= CHECK_BELOW_INLIERS
    other = CAMERA.looking_at(-8.0, 6.0).homography()
    tracker, lines = HomographyTracker(SIZE, search=True), _Lines(confirm=True, finds=other)
    out = tracker.update(weak, None, lines)
    np.testing.assert_allclose(out, other / other[2, 2])
    assert tracker.by_lines and not tracker.fitted
    np.testing.assert_allclose(lines.searched[0], weak.homography)  # compared with the weak fit
    assert lines.starts == [True]  # confirmed as a start (the stricter bar for 4-5 keypoints)
    # The search found nothing better: the weak fit (confirmed by the lines) stands.
    tracker, empty = HomographyTracker(SIZE, search=True), _Lines(confirm=True)
    np.testing.assert_allclose(tracker.update(weak, None, empty), weak.homography)
    assert tracker.fitted and not tracker.by_lines and len(empty.searched) == 1
    # A weak start the lines reject is searched at once too, with nothing to compare with (as a
    # lone frame is, `line_search.calibrate_frame`).
    tracker, refused = HomographyTracker(SIZE, search=True), _Lines(confirm=False, finds=other)
    np.testing.assert_allclose(tracker.update(weak, None, refused), other / other[2, 2])
    assert tracker.rejected and tracker.by_lines and refused.searched == [None]
    # A strong fit has checked itself.
    tracker, lines = HomographyTracker(SIZE, search=True), _Lines(confirm=True, finds=other)
    np.testing.assert_allclose(tracker.update(strong, None, lines), strong.homography)
    assert lines.searched == [] and tracker.fitted


def test_a_held_homography_the_lines_reject_is_searched_again_with_a_back_off():
    """Every `SUPPORT_CHECK`-th frame the lines may reject the held homography: a search then
    runs, and when it finds nothing better the check rests for `SEARCH_EVERY` frames. A user's
    calibration is not second-guessed."""
    h = CAMERA.homography()
    strong = fit_keypoints(_keypoints(h, _in_view(h)), SIZE[0])
    assert strong is not None
    tracker, rejecting = HomographyTracker(SIZE, search=True), _Lines(True, rejects=True)
    checked_at = []
    for i in range(60):
        assert tracker.update(strong, np.eye(3), rejecting) is not None
        if len(rejecting.searched) > len(checked_at):
            checked_at.append(i)
    # Checked on the first frame, then (nothing better found) not before SEARCH_EVERY frames on.
    rest = SUPPORT_CHECK * -(-SEARCH_EVERY // SUPPORT_CHECK)
    assert checked_at == [0, rest]
    # What the search finds must beat the held homography, so it is told which that is.
    np.testing.assert_allclose(rejecting.searched[0], strong.homography)
    other = CAMERA.looking_at(-8.0, 6.0).homography()
    tracker = HomographyTracker(SIZE, search=True)
    finds = _Lines(confirm=True, rejects=True, finds=other)
    tracker.update(strong, None)
    out = [tracker.update(None, np.eye(3), finds) for _ in range(SUPPORT_CHECK)]
    assert all(x is not None for x in out) and len(finds.searched) == 1
    np.testing.assert_allclose(finds.searched[0], strong.homography)
    np.testing.assert_allclose(out[-1], other / other[2, 2])
    assert tracker.by_lines
    trusted = HomographyTracker(SIZE, search=True)
    trusted.start_from(h)
    for _ in range(3 * SUPPORT_CHECK):
        trusted.update(None, np.eye(3), finds)
    assert len(finds.searched) == 1 and not trusted.by_lines


def test_a_switch_is_confirmed_with_the_usual_bar_and_a_start_with_the_stricter_one():
    """The tracker tells the lines which it is asking about (`FrameLines.confirm`'s ``starts``):
    a fit that would start the homography, or one that would switch it."""
    h = CAMERA.homography()
    strong = fit_keypoints(_keypoints(h, _in_view(h)), SIZE[0])
    other = CAMERA.looking_at(-8.0, 6.0).homography()
    weak_other = fit_keypoints(_keypoints(other, _in_view(other)[[0, 2, 4, 6, 8]]), SIZE[0])
    assert strong is not None and weak_other is not None
    tracker, lines = HomographyTracker(SIZE), _Lines(confirm=True)
    tracker.update(weak_other, None, lines)  # a start
    tracker.reset()
    tracker.update(strong, None, lines)  # a start (a strong fit `confirm` lets stand)
    tracker.update(weak_other, np.eye(3), lines)  # a switch
    assert lines.starts == [True, True, False]


def test_frames_before_a_shots_first_homography_get_it_carried_back():
    h = CAMERA.homography()
    shift = np.array([[1.0, 0, 4.0], [0, 1.0, 0], [0, 0, 1.0]])  # the picture moves 4 px a frame
    n, first = 120, 90
    truth = [np.linalg.matrix_power(shift, i) @ h for i in range(n)]
    truth = [t / t[2, 2] for t in truth]
    homographies = [None] * first + truth[first:]
    homographies[first] = np.eye(3)  # the first fit after the dark stretch was wrong
    motions = [None] + [shift] * (n - 1)
    starts = [i == 0 for i in range(n)]
    filled = carry_back(homographies, motions, starts)
    # At most `CARRY_FRAMES` frames back, from the settled homography `BACK_ANCHOR` frames on.
    assert filled == list(range(first - CARRY_FRAMES, first))
    for i in filled:
        np.testing.assert_allclose(homographies[i], truth[i], rtol=1e-6, atol=1e-6)
    assert homographies[first - CARRY_FRAMES - 1] is None
    # A cut stops it, and so does an unknown motion; a stretch shorter than the anchor is left.
    cut = [None] * first + truth[first:]
    assert carry_back(cut, motions, [i in (0, first - 10) for i in range(n)]) == list(
        range(first - 10, first)
    )
    unknown = [None] * first + truth[first:]
    assert carry_back(
        unknown, [None if i == first - 5 else m for i, m in enumerate(motions)], starts
    ) == list(range(first - 5, first))
    short = [None] * (n - 10) + truth[n - 10 :]
    assert carry_back(short, motions, starts) == []


def test_a_switch_needs_the_lines_to_like_the_new_homography_as_well():
    h = CAMERA.homography()
    strong = fit_keypoints(_keypoints(h, _in_view(h)), SIZE[0])
    other = CAMERA.looking_at(-8.0, 6.0).homography()
    contradicting = fit_keypoints(_keypoints(other, _in_view(other)), SIZE[0])
    assert strong is not None and contradicting is not None
    assert contradicting.n_inliers >= CHECK_BELOW_INLIERS  # a strong fit, never checked before
    for prefer, switches in ((False, False), (True, True)):
        tracker = HomographyTracker(SIZE)
        tracker.update(strong, None)
        lines = _Lines(confirm=True, prefer=prefer)
        for _ in range(3):
            out = tracker.update(contradicting, np.eye(3), lines)
        assert np.allclose(out, contradicting.homography) == switches
        assert tracker.rejected != switches


class _SupportByDistance:
    """Lines that like a homography as much as it lies close to the true one (1.0 there, 0 at
    5 m off): `fit_keypoints_on_lines` reads only `support`."""

    def __init__(self, truth: np.ndarray) -> None:
        self.truth, self.asked = truth, 0

    def support(self, h: np.ndarray) -> float:
        self.asked += 1
        return max(0.0, 1.0 - pitch_shift_m(self.truth, h, (SIZE[1], SIZE[0])) / 5.0)


def test_a_stray_keypoint_that_bends_a_weak_fit_is_dropped():
    """The centre circle's keypoints and the halfway line's touchline end put where the picture
    ends (a TV screen's edge): RANSAC keeps all six, bent 2-3 m; without it the fit is right."""
    camera = BroadcastCamera(0.0, 60.0, 18.0, 0.0, 0.0, 1340.0, *SIZE).looking_at(0.0, 5.0)
    truth = camera.homography()
    xy = apply_h(truth, pitch.KEYPOINTS)
    ids = [13, 14, 15, 16, 30, 31]
    xy[16] += [0.0, -150.0]  # below the picture in truth; on its bottom edge here
    confidence = np.zeros(len(pitch.KEYPOINTS))
    confidence[ids] = 0.9
    keypoints = PitchKeypoints(xy, confidence)
    bent = fit_keypoints(keypoints, SIZE[0])
    assert bent is not None and bent.n_inliers == 6
    lines = _SupportByDistance(truth)
    assert lines.support(bent.homography) < 0.6
    fixed = fit_keypoints_on_lines(keypoints, SIZE[0], lines)
    assert fixed is not None and fixed.n_inliers == 5 and not fixed.inliers[16]
    assert pitch_shift_m(truth, fixed.homography, (SIZE[1], SIZE[0])) < 0.1
    # A fit the lines already like is measured once and left alone; a 5-keypoint one is not
    # even measured (dropping one would leave an unchecked 4-keypoint fit).
    right = PitchKeypoints(apply_h(truth, pitch.KEYPOINTS), confidence)
    before = lines.asked
    kept = fit_keypoints_on_lines(right, SIZE[0], lines)
    assert kept is not None and kept.n_inliers == 6 and lines.asked == before + 1
    few = confidence.copy()
    few[16] = 0.0
    five = PitchKeypoints(xy, few)
    before = lines.asked
    kept = fit_keypoints_on_lines(five, SIZE[0], lines)
    assert kept is not None and kept.n_inliers == 5 and lines.asked == before
