"""Stage modules on inputs with known answers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from portfolio_ml_footai.calibrate.motion import CameraMotion
from portfolio_ml_footai.detections import Detections
from portfolio_ml_footai.kinematics import smooth_track
from portfolio_ml_footai.match import Rows
from portfolio_ml_footai.model.spec import PLAYER
from portfolio_ml_footai.teams import OUTLIER, TeamModel, kit_changes, track_votes
from portfolio_ml_footai.track.tracker import ByteTracker, Track, TrackerConfig, heading_cost


def people(xywh: list[list[float]], team: list[int], score: float = 0.9) -> Detections:
    """Player rows from x, y, w, h boxes with a confident kit each."""
    b = np.array(xywh, float).reshape(-1, 4)
    n = len(b)
    return Detections(
        np.c_[b[:, :2], b[:, :2] + b[:, 2:]],
        np.full(n, PLAYER),
        np.full(n, score),
        team=np.array(team, int),
        team_confidence=np.full(n, 0.9),
    )


def test_team_model_separates_kits_and_flags_outliers():
    rng = np.random.default_rng(1)
    white = rng.normal([230, 128, 128], 4, (60, 3))
    red = rng.normal([90, 170, 150], 4, (60, 3))
    keeper = rng.normal([200, 100, 200], 3, (4, 3))
    model = TeamModel.fit(np.concatenate([white, red, keeper]).astype(np.float32))
    assert model is not None
    t_white, _ = model.classify(white[:10].astype(np.float32))
    t_red, _ = model.classify(red[:10].astype(np.float32))
    t_keep, _ = model.classify(keeper.astype(np.float32))
    assert len(set(t_white)) == 1 and len(set(t_red)) == 1 and t_white[0] != t_red[0]
    assert (t_keep == OUTLIER).all()


def test_track_votes_use_whole_tracks_not_frequent_fragments():
    # The situation that broke the online model on a panning clip: one team in view from the
    # start, the other coming in later, line fragments (white) in many short tracks, and a
    # referee seen as long as anyone.
    rng = np.random.default_rng(2)
    colours: dict[int, np.ndarray] = {}
    frames: dict[int, np.ndarray] = {}

    def add(key, lab, first, n, spread=3.0):
        colours[key] = rng.normal(lab, spread, (n, 3)).astype(np.float32)
        frames[key] = np.arange(first, first + n)

    for k in range(9):
        add(k, [65, 170, 135], 0, 150)  # maroon
    for k in range(3):
        add(10 + k, [166, 170, 197], 100, 40)  # orange, together near the end
    for k in range(40):
        add(20 + k, [240, 124, 132], k // 2 * 5, 3, 1.0)  # fragments, two at a time
    add(90, [111, 192, 170], 0, 150)  # referee
    add(91, [80, 150, 90], 20, 150)  # goalkeeper
    colours[92], frames[92] = np.full((5, 3), np.nan, np.float32), np.arange(5)  # kit unseen
    add(93, [160, 172, 195], 60, 2)  # a glimpse of an orange player

    votes, model = track_votes(colours, frames)
    assert model is not None
    team = {k: (-1 if v[2] > 0 else int(np.argmax(v[:2]))) for k, v in votes.items()}
    maroon, orange = {team[k] for k in range(9)}, {team[10 + k] for k in range(3)}
    assert len(maroon) == 1 and len(orange) == 1 and maroon != orange
    assert -1 not in maroon | orange
    assert team[90] == team[91] == OUTLIER
    assert team[93] in orange
    assert 92 not in votes
    # Each track's whole weight is on one label: it cannot change team within its life.
    assert all(np.count_nonzero(v) == 1 and v.sum() == len(colours[k]) for k, v in votes.items())


def test_track_votes_need_two_kits_worn_together():
    one_team = {k: np.full((10, 3), [60.0, 170, 135], np.float32) for k in range(6)}
    votes, model = track_votes(one_team, {k: np.arange(10) for k in range(6)})
    assert votes == {} and model is None


def test_kit_changes_cut_a_swapped_track_but_not_a_noisy_one():
    model = TeamModel(np.array([[30.0, 170, 135], [120, 123, 132]], np.float32), np.ones(2) * 10)
    black = np.tile([60.0, 170, 135], (40, 1)).astype(np.float32)
    white = np.tile([240.0, 123, 132], (20, 1)).astype(np.float32)
    hidden = np.full((5, 3), np.nan, np.float32)
    # Swapped for good after a crossing (with unseen frames in between): one cut.
    assert kit_changes(model, np.concatenate([black, hidden, white])) == [45]
    # A few white crops inside a black track (an opponent in front): no cut.
    noisy = np.concatenate([black[:20], white[:3], black[:20]])
    assert kit_changes(model, noisy) == []
    assert kit_changes(model, black) == []


def test_tracker_keeps_identities_through_a_crossing():
    """Two players of different teams cross; the team cost keeps their ids apart."""
    tracker = ByteTracker()
    ids: dict[int, set[int]] = {0: set(), 1: set()}
    for f in range(60):
        xa, xb = 100 + 4 * f, 340 - 4 * f
        tracked = tracker.update(people([[xa, 200, 20, 50], [xb, 204, 20, 50]], [0, 1]))
        assert len(tracked) == 2
        for tid, team in zip(tracked.track_id, tracked.team, strict=True):
            if tid in tracker.confirmed:
                ids[int(team)].add(int(tid))
    assert len(ids[0]) == 1 and len(ids[1]) == 1 and ids[0] != ids[1]


def _parted(config: TrackerConfig | None = None) -> dict[int, float]:
    """Two team-mates at one spot part again (one had hidden the other, so their filters
    agree): track 1 came from the left, track 2 from the right. Each track id → the centre x
    of the box it takes."""
    tracker = ByteTracker(config)
    here = np.array([150.0, 250.0, 20.0, 50.0, 0.0, 0.0, 0.0, 0.0])  # cx, foot y, w, h, speeds
    came = {1: [[135.0, 250.0], [150.0, 250.0]], 2: [[165.0, 250.0], [150.0, 250.0]]}
    tracker.tracks = [
        Track(k, here.copy(), np.eye(8), hits=10, confirmed=True, seen=np.array(came[k]))
        for k in (1, 2)
    ]
    # The two boxes overlap the shared prediction equally: IoU and kit cannot choose.
    out = tracker.update(people([[132, 200, 20, 50], [148, 200, 20, 50]], [0, 0]))
    return {int(t): float(c) for t, c in zip(out.track_id, out.centres[:, 0], strict=True)}


def test_team_mates_who_cross_keep_their_headings():
    assert _parted() == {1: 158.0, 2: 142.0}  # each goes on the way it was going
    # Without the heading the tie goes to the table order: the two swap (the regression).
    assert _parted(TrackerConfig(heading_weight=0.0)) == {1: 142.0, 2: 158.0}


def test_heading_cost_is_the_angle_to_each_box_times_its_score():
    track = Track(1, np.r_[100.0, 200.0, 10.0, 30.0, np.zeros(4)], np.eye(8))
    track.seen = np.array([[90.0, 200.0], [100.0, 200.0]])  # heading right
    boxes = people([[105, 170, 10, 30], [85, 170, 10, 30], [95, 190, 10, 30]], [0, 0, 0], 0.8)
    cost = heading_cost([track], boxes)  # feet at (110, 200), (90, 200), (100, 220)
    np.testing.assert_allclose(cost, [[0.0, 0.8, 0.4]], atol=1e-9)
    standing = Track(2, track.mean.copy(), np.eye(8))  # one observation: no heading yet
    assert not heading_cost([standing], boxes).any()
    # A pan carries the observations with the picture: the heading stays the player's own.
    tracker = ByteTracker()
    tracker.tracks = [track]
    tracker.update(people([], []), motion=np.array([[1.0, 0, -40], [0, 1, 0], [0, 0, 1]]))
    np.testing.assert_allclose(track.seen, [[50.0, 200.0], [60.0, 200.0]])


def test_tracker_survives_a_short_occlusion():
    tracker = ByteTracker()
    seen = set()
    for f in range(50):
        boxes = [] if 20 <= f < 30 else [[100 + 2 * f, 200, 20, 50]]
        tracked = tracker.update(people(boxes, [0] * len(boxes)))
        seen |= {int(t) for t in tracked.track_id if t in tracker.confirmed}
    assert len(seen) == 1 and tracker.confirmed[seen.pop()] == 1


def test_tracker_returns_its_input_rows_with_ids_and_drops_none_it_keeps():
    """`update(detections) -> detections`: the same boxes and columns, track_id filled."""
    tracker = ByteTracker()
    first = people([[100, 200, 20, 50], [300, 200, 20, 50]], [0, 1])
    out = tracker.update(first)
    np.testing.assert_array_equal(np.sort(out.xyxy, axis=0), np.sort(first.xyxy, axis=0))
    assert sorted(out.track_id.tolist()) == [1, 2] and (out.team == [0, 1]).all()
    weak = people([[500, 200, 20, 50]], [0], score=0.3)  # too weak to start a track
    assert len(tracker.update(weak)) == 0
    tracker.reset()  # a cut: ids go on counting, none is reused
    assert tracker.update(first).track_id.tolist() == [3, 4]


def test_a_duplicate_box_neither_starts_a_player_nor_takes_his_track():
    """The net sometimes boxes one player twice for a frame (a whole box and a slightly
    shifted one). The extra box must not start a track, nor, next frame, take the player
    from the track he has had all along (it did on the LaLiga clip: a new id mid-frame)."""
    tracker = ByteTracker()
    ids = set()
    for f in range(30):
        x = 200 - 3 * f
        boxes = [[x, 530, 36, 70]]
        if f == 15:  # the duplicate: IoU 0.6 with the player's own box
            boxes.append([x + 3, 539, 30, 66])
        tracked = tracker.update(people(boxes, [0] * len(boxes), score=0.8))
        ids |= {int(t) for t in tracked.track_id}
        assert len(tracked) == 1
    assert len(ids) == 1


def test_a_tentative_track_does_not_take_a_confirmed_players_box():
    """A stray box beside a tracked player (IoU 0.3: not a duplicate) starts a tentative
    track; next frame the player's one box fits the tentative track's box better than his
    own track's prediction. Confirmed tracks choose first, so he keeps his id."""
    tracker = ByteTracker()
    for _ in range(10):
        mine = tracker.update(people([[200, 300, 30, 60]], [0], score=0.8))
    player = int(mine.track_id[0])
    both = tracker.update(people([[200, 300, 30, 60], [214, 300, 30, 60]], [0, 0], score=0.8))
    assert len(set(both.track_id.tolist())) == 2  # the stray box started a tentative track
    after = tracker.update(people([[212, 300, 30, 60]], [0], score=0.8))
    assert after.track_id.tolist() == [player]


def test_tentative_tracks_take_only_what_confirmed_ones_leave():
    """A second, real player next to a tracked one starts his own track and keeps it, and the
    first player's track is not handed to the newcomer."""
    tracker = ByteTracker()
    first: set[int] = set()
    second: set[int] = set()
    for f in range(20):
        boxes = [[100 + 2 * f, 200, 20, 50]] + ([[160, 200, 20, 50]] if f >= 10 else [])
        tracked = tracker.update(people(boxes, [0] * len(boxes)))
        for (x0, *_), t in zip(tracked.xyxy, tracked.track_id, strict=True):
            (first if x0 < 150 else second).add(int(t))
    assert len(first) == 1 and len(second) == 1 and first != second


def _textured(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.integers(0, 255, (45, 80), np.uint8), (1280, 720))
    return cv2.cvtColor(cv2.GaussianBlur(base, (0, 0), 2), cv2.COLOR_GRAY2BGR)


def test_camera_motion_is_exactly_none_for_a_still_camera_and_measured_for_a_pan():
    image = _textured(0)
    rng = np.random.default_rng(1)
    still = CameraMotion((1280, 720), work_width=320)
    still.update(image)
    for _ in range(5):  # sensor noise only: the camera does not move
        noisy = np.clip(image + rng.normal(0, 2, image.shape), 0, 255).astype(np.uint8)
        est = still.update(noisy)
        assert est.ok and np.array_equal(est.matrix, np.eye(3))
    pan = CameraMotion((1280, 720), work_width=320)
    pan.update(image)
    shifted = np.roll(image, 4, axis=1)  # 4 px right, 1 px on the working copy
    est = pan.update(shifted)
    assert est.ok and est.matrix[0, 2] == pytest.approx(4.0, abs=0.6)


def test_camera_motion_tracks_its_corners_on_and_searches_afresh_every_few_frames():
    from portfolio_ml_footai.calibrate.motion import REFRESH

    wide = cv2.resize(_textured(5), (1600, 720))
    motion = CameraMotion((1280, 720), work_width=320)
    searches = []
    search = motion._corners
    motion._corners = lambda *a: searches.append(1) or search(*a)  # type: ignore[method-assign]
    shifts = []
    for k in range(13):  # the camera pans 8 px a frame: the picture moves 8 px left
        est = motion.update(wide[:, 8 * k : 8 * k + 1280])
        shifts.append(est.matrix[0, 2])
    assert len(searches) == -(-12 // REFRESH)  # once every REFRESH updates, not every one
    np.testing.assert_allclose(shifts[1:], -8.0, atol=0.6)


def rows(observations: list[tuple[int, int, list[float]]], pitch_xy=None) -> Rows:
    """Rows from (track id, frame, x y w h box) triples."""
    ids = np.array([o[0] for o in observations])
    dets = people([o[2] for o in observations], [0] * len(observations)).with_(
        track_id=ids, kit=np.zeros((len(ids), 3))
    )
    if pitch_xy is not None:
        dets = dets.with_(pitch_xy=pitch_xy)
    return Rows(np.array([o[1] for o in observations]), dets)


def test_fill_gaps_interpolates_short_gaps_inside_tracks():
    from portfolio_ml_footai.track.stitch import fill_gaps, keep_confirmed

    # Track 1: seen at 0-2, hidden at 3-4, seen at 5-6; then a gap of 1 s (25 frames).
    # Track 2: tentative (never confirmed), with the same short gap.
    seen = [0, 1, 2, 5, 6, 31]
    obs = [(1, f, [10.0 * f, 100, 10, 30]) for f in seen] + [
        (2, f, [500, 100, 10, 30]) for f in (0, 3)
    ]
    xy = np.array([[o[2][0] / 10, 0.0] for o in obs])
    before = keep_confirmed(rows(obs, xy), {1: 1})
    assert set(before.track_id.tolist()) == {1}
    out = fill_gaps(before, tuple(range(32)), 25.0, 1)
    track1 = {int(out.frame[i]): i for i in out.tracks()[1]}
    assert sorted(track1) == [0, 1, 2, 3, 4, 5, 6, 31]
    np.testing.assert_allclose(out.detections.xywh[track1[3]], [30.0, 100.0, 10.0, 30.0])
    np.testing.assert_allclose(out.detections.pitch_xy[track1[4]], [4.0, 0.0])
    assert np.isnan(out.detections.kit[track1[4]]).all()  # a filled row has no kit to vote with
    assert np.isfinite(out.detections.kit[track1[2]]).all()
    assert len(before) == 6  # the input is not changed


def test_tracks_on_a_screen_overlay_are_dropped_and_players_passing_it_kept():
    from portfolio_ml_footai.track.stitch import OverlaysByShot, drop_overlay_tracks

    overlay = np.zeros((720, 1280), np.uint8)
    overlay[580:660, 140:1140] = 255  # a scorebug
    logo = [(1, f, [500.0, 590.0, 20, 40]) for f in range(20)]
    passer = [(2, f, [1100.0 + 2 * f, 540.0 + 2 * f, 20, 40]) for f in range(20)]  # 4 inside
    before = rows(logo + passer)
    out = drop_overlay_tracks(before, OverlaysByShot([(0, overlay)]))
    assert set(out.track_id.tolist()) == {2} and len(out) == 20
    assert drop_overlay_tracks(before, OverlaysByShot([(0, np.zeros_like(overlay))])) is before
    # The run keeps one coarse mask per shot (8-px cells here): the same answer.
    coarse = OverlaysByShot([(0, overlay[::8, ::8])], cell_px=8.0)
    assert set(drop_overlay_tracks(before, coarse).track_id.tolist()) == {2}


def test_a_graphic_of_one_shot_drops_that_shots_tracks_only():
    """The real LaLiga clip's big score graphic shows in its first shot only: by the run's
    end the overlay learnt from it had faded, and its crest stayed a player for 100 frames.
    Each shot's own overlay judges the tracks that start in it."""
    from portfolio_ml_footai.track.stitch import OverlaysByShot, drop_overlay_tracks

    graphic = np.zeros((720, 1280), np.uint8)
    graphic[540:660, 140:1140] = 255
    crest = [(1, f, [740.0, 590.0, 36, 56]) for f in range(30, 130)]  # first shot, on it
    player = [(2, f, [740.0, 590.0, 36, 56]) for f in range(200, 260)]  # second shot, same place
    overlays = OverlaysByShot([(0, graphic), (130, np.zeros_like(graphic))])
    out = drop_overlay_tracks(rows(crest + player), overlays)
    assert set(out.track_id.tolist()) == {2}


def test_a_box_fixed_on_the_screen_while_the_pitch_moves_under_it_is_a_graphic():
    """The LaLiga crest: the overlay mask missed its middle (no corners are tracked inside a
    'person' box), but its box stayed put while the camera panned 10 m of pitch under it."""
    from portfolio_ml_footai.track.stitch import OverlaysByShot, drop_overlay_tracks

    overlay = np.zeros((720, 1280), np.uint8)
    overlay[520:600, 600:840] = 255  # the graphic's pieces the mask found, above the crest
    n = 60
    pan = np.linspace(0.0, 10.0, n)  # metres of pitch passing under a screen-fixed point
    crest = [(1, f, [736.0, 589.0, 36, 56]) for f in range(n)]
    followed = [(2, f, [700.0 + 1.5 * f, 590.0, 36, 56]) for f in range(n)]  # moves on screen
    standing = [(3, f, [650.0, 580.0, 36, 56]) for f in range(n)]  # still, and so is the pitch
    xy = np.r_[np.c_[pan, np.zeros(n)], np.c_[pan, np.ones(n)], np.zeros((n, 2))]
    out = drop_overlay_tracks(rows(crest + followed + standing, xy), OverlaysByShot([(0, overlay)]))
    assert set(out.track_id.tolist()) == {2, 3}


def test_the_larger_colour_group_leaves_the_number_out():
    from portfolio_ml_footai.teams import _dominant

    red, white = [60.0, 160, 150], [240.0, 128, 128]
    lab = np.array([red] * 36 + [white] * 24, np.float32)
    np.testing.assert_allclose(_dominant(lab), [red] * 36)
    assert len(_dominant(lab[:20])) == 20  # too few pixels to split: all of them


def test_stitching_joins_a_broken_track_of_one_kit_only():
    from portfolio_ml_footai.track.stitch import stitch

    # Track 1 ends at frame 9; track 2 starts 5 frames later 1 m on, in the same kit; track 3
    # starts sooner (a better candidate by time and place) but wears the other kit.
    obs = [(1, f, [100.0, 100, 10, 30]) for f in range(10)]
    obs += [(2, f, [120.0, 100, 10, 30]) for f in range(14, 24)]
    obs += [(3, f, [140.0, 100, 10, 30]) for f in range(12, 22)]
    xy = np.array([[0.0, 0.0]] * 10 + [[1.0, 0.0]] * 10 + [[0.0, 1.0]] * 10)
    votes = {1: np.array([5.0, 0, 0]), 2: np.array([4.0, 0, 0]), 3: np.array([0, 4.0, 0])}
    out, merged = stitch(rows(obs, xy), votes, 25.0, 1)
    assert sorted(set(out.track_id.tolist())) == [1, 3]
    np.testing.assert_allclose(merged[1], [9.0, 0, 0])
    assert 2 not in merged


def test_nothing_is_stitched_across_a_shot_change():
    from portfolio_ml_footai.track.stitch import stitch

    obs = [(1, f, [100.0, 100, 10, 30]) for f in range(10)]
    obs += [(2, f, [120.0, 100, 10, 30]) for f in range(14, 24)]
    xy = np.array([[0.0, 0.0]] * 10 + [[1.0, 0.0]] * 10)
    votes = {1: np.array([5.0, 0, 0]), 2: np.array([4.0, 0, 0])}
    joined, _ = stitch(rows(obs, xy), votes, 25.0, 1)
    assert set(joined.track_id.tolist()) == {1}
    for cut in (10, 12, 14):  # a shot begins in the gap, or with the later track's first frame
        apart, _ = stitch(rows(obs, xy), votes, 25.0, 1, shot_starts=(cut,))
        assert set(apart.track_id.tolist()) == {1, 2}
    elsewhere, _ = stitch(rows(obs, xy), votes, 25.0, 1, shot_starts=(9, 30))
    assert set(elsewhere.track_id.tolist()) == {1}  # no shot begins inside the gap


def test_tracks_seen_for_a_flicker_inside_the_run_are_dropped():
    from portfolio_ml_footai.track.stitch import MIN_TRACK_S, drop_flickers

    fps = 25.0
    least = round(MIN_TRACK_S * fps)
    obs = [(1, f, [100.0, 100, 10, 30]) for f in range(50)]  # followed all along
    obs += [(2, f, [200.0, 100, 10, 30]) for f in range(20, 20 + least - 1)]  # a flicker
    obs += [(3, f, [300.0, 100, 10, 30]) for f in range(30, 30 + least)]  # just long enough
    obs += [(4, f, [400.0, 100, 10, 30]) for f in range(47, 50)]  # caught at the run's end
    frames = tuple(range(50))
    kept = drop_flickers(rows(obs), frames, fps)
    assert set(kept.track_id.tolist()) == {1, 3, 4}
    assert len(kept) == 50 + least + 3
    short_clip = [(5, f, [100.0, 100, 10, 30]) for f in range(4)]
    assert len(drop_flickers(rows(short_clip), tuple(range(4)), fps)) == 4


def _panning(image: np.ndarray, frames: int, step: int) -> list[np.ndarray]:
    """A camera panning right over ``image`` at ``step`` px a frame (1280×720 crops)."""
    return [image[:720, step * k : step * k + 1280] for k in range(frames)]


def test_a_dissolve_between_shots_is_one_shot_change_and_a_pan_is_none():
    from portfolio_ml_footai.calibrate.cuts import CutDetector
    from portfolio_ml_footai.calibrate.geometry import rescaled

    def shot_changes(frames: list[np.ndarray]) -> list[int]:
        motion, cuts, found = CameraMotion((1280, 720), work_width=320), CutDetector(), []
        for k, frame in enumerate(frames):
            est = motion.update(frame)
            assert motion.prev is not None
            step = rescaled(est.matrix, motion.scale) if k and est.ok else None
            if cuts.update(motion.prev, step):
                found.append(k)
        return found

    wide = cv2.resize(_textured(3), (1800, 720))
    other = cv2.resize(_textured(4), (1800, 720))
    pan = _panning(wide, 40, 12)
    assert shot_changes(pan) == []
    # The same pan, cross-faded over 16 frames into another shot: no two neighbours differ
    # enough for a hard cut, yet the shots do.
    later = _panning(other, 40, 12)
    mix = [
        cv2.addWeighted(a, 1 - w, b, w, 0)
        for a, b, w in zip(pan[10:26], later[:16], np.linspace(0, 1, 16), strict=True)
    ]
    clip = pan[:10] + mix + later[16:]
    found = shot_changes(clip)
    assert len(found) == 1 and 12 <= found[0] <= 26, found
    # The pan inside a dark surround that stays put (a TV filmed by a phone, letterbox bars):
    # the camera motion carries the old frame's surround onto the picture, which is no dissolve.
    framed = []
    for frame in _panning(wide, 40, 24):
        dark = np.full((720, 1280, 3), 8, np.uint8)
        dark[90:630, 140:1140] = cv2.resize(frame, (1000, 540))
        framed.append(dark)
    assert shot_changes(framed) == []


def test_smoothing_does_not_lag_a_running_player_at_the_ends_of_a_track():
    frames = np.arange(40)
    run = np.c_[0.16 * frames, np.zeros(40)]  # 4 m/s at 25 frames/s
    smooth = smooth_track(frames, run, 13)
    np.testing.assert_allclose(smooth, run, atol=1e-9)  # a straight run stays where it is
    rng = np.random.default_rng(0)
    still = rng.normal(0, 0.2, (40, 2))
    inside = smooth_track(frames, still, 13)[20]
    np.testing.assert_allclose(inside, still[14:27].mean(axis=0), atol=1e-9)  # the window's mean


def test_a_player_cut_by_the_frame_bottom_is_coloured_by_his_shirt_not_his_head():
    from portfolio_ml_footai.grass import learn_grass
    from portfolio_ml_footai.teams import shirt_colours

    frame = np.full((360, 640, 3), (40, 150, 40), np.uint8)  # grass, BGR
    shirt = (30, 30, 200)  # red
    cv2.circle(frame, (320, 315), 13, (20, 30, 40), -1)  # head and dark hair
    frame[330:360, 302:338] = shirt  # the shirt runs out of the frame
    # The net's box stops a few pixels short of the edge: 42 × 55 px, bottom at 355 of 360.
    box = np.array([[299.0, 300.0, 42.0, 55.0]])
    lab = shirt_colours(frame, learn_grass([frame]), box)[0]
    red = cv2.cvtColor(np.uint8([[shirt]]), cv2.COLOR_BGR2LAB)[0, 0].astype(float)
    assert np.linalg.norm(lab - red) < 10, lab


def test_a_dark_shirt_seen_from_behind_is_coloured_by_the_shirt_not_its_white_number():
    """The real LaLiga clip: a red back with a large white "23" read as the white team when
    the half of the kit pixels least like grass (mostly the number) made its colour. (Here the
    quarter cut by chroma does the work; `_dominant` has its own test, and the synthetic clips
    measure it: team accuracy 0.971 / 0.976 on static 31 / pan 32 without it, 0.997 / 0.995
    with it.)"""
    from portfolio_ml_footai.grass import learn_grass
    from portfolio_ml_footai.teams import shirt_colours

    frame = np.full((360, 640, 3), (40, 150, 40), np.uint8)  # grass, BGR
    shirt = (40, 30, 120)  # dark red
    frame[100:160, 300:330] = shirt  # a 30-px-wide torso and legs, 60 px tall
    frame[112:120, 306:324] = (235, 235, 235)  # the number: 8 of the shirt band's 21 rows
    box = np.array([[300.0, 100.0, 30.0, 60.0]])
    lab = shirt_colours(frame, learn_grass([frame]), box)[0]
    red = cv2.cvtColor(np.uint8([[shirt]]), cv2.COLOR_BGR2LAB)[0, 0].astype(float)
    assert np.linalg.norm(lab - red) < 10, lab


def test_the_overlay_mask_joins_the_pieces_of_one_panel_and_covers_a_crest_inside_it():
    """Still cells come from corners: a panel's lettering, never a crest the net took for a
    person (no features are sampled in person boxes). The mask must still cover the crest."""
    motion = CameraMotion((1280, 720), work_width=640)  # 8-px cells of a 640-px copy: 16 px
    votes = np.zeros_like(motion.static_votes)
    votes[37:41, 10:44] = 50.0  # the panel's lettering, left of the crest
    votes[37:41, 48:70] = 50.0  # and right of it: a 4-cell hole where the crest is
    motion.static_votes = votes
    mask = motion.overlay_mask((1280, 720))
    crest = (46 * 16, 39 * 16)  # the hole's middle, in frame pixels
    assert mask[crest[1], crest[0]] == 255
    assert mask[39 * 16, 78 * 16] == 0 and mask[20 * 16, 46 * 16] == 0  # not the whole frame


def test_a_position_jump_does_not_become_a_top_speed():
    """A track that jumps 8 m in a frame (an identity swap) runs at 4 m/s: every speed whose
    window spans the jump is an error, so neither the jump nor its decaying neighbours count."""
    from portfolio_ml_footai.analytics.physical import track_physical

    fps = 25.0
    t = np.arange(250) / fps
    xy = np.c_[4.0 * t, np.zeros(250)]
    clean = track_physical(t, smooth_track(np.arange(250), xy, 13), fps)
    xy[125:, 0] += 8.0
    jumped = track_physical(t, smooth_track(np.arange(250), xy, 13), fps)
    assert clean[1] == pytest.approx(14.4, abs=0.2)  # 4 m/s
    assert jumped[1] == pytest.approx(14.4, abs=0.5) and jumped[2] == 0  # no sprint either
    # The 8 m jump is not distance run (the ~1.5 s around it is not counted at all).
    assert 0.8 * clean[0] <= jumped[0] <= clean[0]


def test_a_player_in_a_kit_of_his_own_whom_the_net_often_calls_referee_is_the_referee():
    from portfolio_ml_footai.model.spec import REFEREE
    from portfolio_ml_footai.teams import label_tracks

    def track(tid: int, n: int, referee_every: int) -> tuple[list, int]:
        return [(tid, f, [100.0 * tid, 100, 10, 30]) for f in range(n)], referee_every

    parts = [track(1, 40, 3), track(2, 10, 3), track(3, 40, 0)]
    obs = [o for p, _ in parts for o in p]
    r = rows(obs)
    role = r.detections.class_id.copy()
    start = 0
    for p, every in parts:
        if every:
            role[start : start + len(p) : every] = REFEREE  # a third of the frames: "referee"
        start += len(p)
    r = r.with_(class_id=role)
    outlier = {1: np.array([0, 0, 30.0]), 2: np.array([0, 0, 8.0]), 3: np.array([0, 0, 30.0])}
    labels = label_tracks(r, outlier, None)
    assert labels[1].role == REFEREE and labels[1].team == -1
    assert labels[2].role == PLAYER  # too short to overrule the net (a fragment)
    assert labels[3].role == PLAYER  # an odd kit alone does not make a referee


def test_a_player_in_a_kit_beyond_both_teams_is_the_referee_or_by_a_goal_the_keeper():
    """The real LaLiga clip's referee: the net called him a player in every frame and he ran
    for the white team. A kit beyond both teams' radius makes a seen-tall-enough "player" the
    referee, or the keeper in a goal's zone; a far player's blurred kit does not."""
    from portfolio_ml_footai.model.spec import GOALKEEPER, REFEREE
    from portfolio_ml_footai.teams import label_tracks

    model = TeamModel(np.array([[40.0, 150, 140], [115, 125, 130]]), np.array([30.0, 35.0]))
    teal = np.array([170.0, 118, 100])  # feature (85, 118, 100): 66 and 41 from the two kits
    near_white = np.array([200.0, 128, 128])  # feature (100, 128, 128): inside team 1's radius
    tracks = {  # id: (box height px, pitch x m, kit Lab)
        1: (54.0, -2.6, teal),  # the referee, mid-pitch
        2: (50.0, 51.0, teal),  # the same odd kit by a goal: the keeper
        3: (20.0, 0.0, teal),  # a far player: his few pixels blur
        4: (54.0, 0.0, near_white),  # an outlier by vote only, within a kit's radius
    }
    obs, xy, kit = [], [], []
    for tid, (height, x, lab) in tracks.items():
        for f in range(40):
            obs.append((tid, f, [100.0 * tid, 100, height / 2.5, height]))
            xy.append([x, 0.0])
            kit.append(lab)
    r = rows(obs, np.array(xy))
    r = r.with_(kit=np.array(kit))
    outlier = {t: np.array([0, 0, 30.0]) for t in tracks}
    labels = label_tracks(r, outlier, model)
    assert labels[1].role == REFEREE and labels[1].team == -1
    assert labels[2].role == GOALKEEPER
    assert labels[3].role == PLAYER and labels[4].role == PLAYER


def test_detections_columns_are_frozen_copies_and_with_replaces_only_what_it_names():
    from dataclasses import fields

    from portfolio_ml_footai.detections import _COLUMNS

    assert tuple(f.name for f in fields(Detections)) == _COLUMNS
    boxes = np.array([[0.0, 0, 10, 20], [5, 5, 15, 30]])
    found = Detections(boxes, np.array([2, 2]), np.array([0.9, 0.8]))
    boxes[0, 0] = 99  # the caller's array is not the column
    assert found.xyxy[0, 0] == 0 and not found.xyxy.flags.writeable
    tracked = found.with_(track_id=np.array([4, 7]))
    assert tracked.track_id.tolist() == [4, 7] and found.track_id.tolist() == [-1, -1]
    assert tracked.xyxy is found.xyxy  # a frozen column is shared, not copied
    assert tracked[np.array([False, True])].track_id.tolist() == [7]
    with pytest.raises(TypeError, match="no column"):
        found.with_(colour=np.zeros(2))
    with pytest.raises(ValueError, match="rows"):
        found.with_(track_id=np.array([1, 2, 3]))


@pytest.mark.parametrize("tilt_deg", [4.0, 12.0, 30.0])
def test_the_cameras_view_on_the_tactical_map_is_what_the_frame_shows_of_the_pitch(tilt_deg):
    """A low tilt puts the frame's top above the horizon: its corners project behind the
    camera, and clamping them drew a wedge across the map. The footprint must be the pitch
    (plus 4 m) that the frame shows below its top 5 %, whatever the tilt."""
    import math

    from portfolio_ml_footai import pitch
    from portfolio_ml_footai.calibrate.geometry import apply_h, view_footprint
    from portfolio_ml_footai.synth.camera import BroadcastCamera
    from portfolio_ml_footai.synth.views import plane_homography

    cam = BroadcastCamera(10.0, 70.0, 18.0, 0.2, math.radians(tilt_deg), 1400.0, 1280, 720)
    h = plane_homography(cam)
    for sign in (1.0, -1.0):  # a homography is defined up to its sign
        poly = view_footprint(sign * h, (1280, 720))
        assert poly is not None and len(poly) >= 3
        # Every vertex is on the map and shows in the frame below the top 5 %.
        assert (np.abs(poly[:, 0]) <= pitch.HALF_L + 4 + 1e-6).all()
        assert (np.abs(poly[:, 1]) <= pitch.HALF_W + 4 + 1e-6).all()
        depth = np.c_[poly, np.ones(len(poly))] @ h[2]
        assert (depth > 0).all()
        px = apply_h(h, poly)
        assert (px[:, 0] > -1e-6 * 1280).all() and (px[:, 0] < 1280 * (1 + 1e-6)).all()
        assert (px[:, 1] > 0.05 * 720 - 1e-3).all() and (px[:, 1] < 720 + 1e-3).all()
        # And it is all of it: pitch points the frame shows fall inside the polygon.
        xs, ys = np.meshgrid(np.linspace(-56, 56, 57), np.linspace(-37, 37, 38))
        pts = np.c_[xs.ravel(), ys.ravel()]
        front = np.c_[pts, np.ones(len(pts))] @ h[2] > 0
        uv = apply_h(h, pts)
        seen = front & (uv[:, 0] > 1) & (uv[:, 0] < 1279) & (uv[:, 1] > 37) & (uv[:, 1] < 719)
        inside = [cv2.pointPolygonTest(poly.astype(np.float32), tuple(p), True) >= -1e-3
                  for p in pts[seen]]  # fmt: skip
        assert seen.any() and all(inside)


def test_a_camera_that_sees_no_pitch_has_no_footprint():
    from portfolio_ml_footai.calibrate.geometry import view_footprint
    from portfolio_ml_footai.synth.camera import BroadcastCamera
    from portfolio_ml_footai.synth.views import plane_homography

    sky = BroadcastCamera(0.0, 70.0, 18.0, 0.0, -0.5, 1400.0, 1280, 720)  # looking upwards
    assert view_footprint(plane_homography(sky), (1280, 720)) is None


def test_a_still_track_on_a_goal_line_is_the_goal_frame_and_is_dropped():
    """The real LaLiga clip's goal posts were 'players' standing still on the goal line for 2
    and 3 s; a keeper moves on his line, or stands still in the goal's middle (a penalty), and a
    player may stand still anywhere else."""
    from portfolio_ml_footai.track.stitch import drop_goal_frame_tracks

    fps = 25
    rng = np.random.default_rng(0)
    places = {
        1: (lambda f: (52.2, 4.0), 50),  # the post: still for 2 s
        2: (lambda f: (0.0, 0.0), 50),  # a player standing at the centre spot
        3: (lambda f: (52.0, 2.0 * np.sin(f / 10)), 50),  # the keeper moving on his line
        4: (lambda f: (-52.4, -3.0), 25),  # still on the other line, but for 1 s only
        5: (lambda f: (52.1, -3.3) if f < 50 else (49.5, 1.0), 56),  # the post, then a player
        6: (lambda f: (-52.0, 4.6 if f % 7 == 3 else 3.4), 60),  # a post whose box jitters at times
        7: (lambda f: (52.3, 0.4), 75),  # the keeper facing a penalty: still for 3 s, mid-goal
    }
    obs, xy = [], []
    for tid, (where, n) in places.items():
        for f in range(n):
            obs.append((tid, f, [100.0 * tid, 100, 10, 30]))
            xy.append(np.add(where(f), rng.normal(0, 0.05, 2)))
    r = rows(obs, np.array(xy))
    kept = drop_goal_frame_tracks(r, fps)
    assert {2, 3, 4, 5, 7} <= set(kept.track_id.tolist()) and 1 not in set(kept.track_id.tolist())
    assert (kept.track_id == 5).sum() == 6  # the post's rows gone, the player's kept
    assert (kept.track_id == 7).sum() == 75
    # The jittering post: every row of its still stretch, near ones or not (one after it may
    # stay, a flicker the next step drops), so gap filling has nothing to draw it back from.
    assert (kept.track_id == 6).sum() <= 1
