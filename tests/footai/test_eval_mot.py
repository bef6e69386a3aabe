"""`footai eval` on MOT Challenge data (SoccerNet-Tracking / SportsMOT layout), TrackEval's
figures, frame alignment, and the ByteTrack anchor of the benchmarks."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from portfolio_ml_core.detectors import active_detector_registry
from portfolio_ml_core.errors import InputFileError
from portfolio_ml_footai.detect import detector_names
from portfolio_ml_footai.evaluate.anchor import (
    REPLAY,
    ReplayDetector,
    bytetrack_tracks,
    detect_clip,
    ids_per_person,
    replayed_detector,
    run_on_detections,
)
from portfolio_ml_footai.evaluate.inputs import load_ground_truth, load_prediction
from portfolio_ml_footai.evaluate.mot import (
    SequenceInfo,
    read_mot,
    write_mot,
    write_sequence,
)
from portfolio_ml_footai.evaluate.mot_metrics import FrameSequence, score
from portfolio_ml_footai.evaluate.tracks import evaluate
from portfolio_ml_footai.io.tracks_csv import COLUMNS, TrackTable, read_tracks
from portfolio_ml_footai.pipeline import RunOptions
from portfolio_ml_footai.synth import SampleConfig, SampleResult, render_sample

from .conftest import invoke


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> SampleResult:
    """20 frames at 640×360: enough people, boxes and ids for a round trip, in seconds."""
    out = tmp_path_factory.mktemp("tiny")
    return render_sample(out, SampleConfig("pan", seconds=0.8, seed=7, width=640, height=360))


def _mot_scene(frames: int = 10, step: float = 30.0) -> list[str]:
    """Three people moving right by ``step`` px a frame (boxes 20 px wide, so a frame off by
    one overlaps nothing), MOT17 layout, 1-based frames."""
    rows = []
    for f in range(1, frames + 1):
        for pid, y in ((1, 100), (2, 200), (3, 300)):
            rows.append(f"{f},{pid},{10 + step * f:.1f},{y},20,50,1,1,1.0")
    return rows


def _as_predictions(lines: list[str]) -> list[str]:
    """The same boxes as a tracker writes them: its score in ``conf``, then -1, -1, -1."""
    return [",".join(ln.split(",")[:6]) + ",0.9,-1,-1,-1" for ln in lines]


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _as_tracks_csv(path: Path, mot_lines: list[str], frame_shift: int = -1) -> Path:
    """The same boxes as a tracks.csv (0-based frames: MOT frame − 1 unless told otherwise)."""
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for line in mot_lines:
            f, pid, x, y, bw, bh = line.split(",")[:6]
            w.writerow([int(f) + frame_shift, pid, "player", -1, x, y, bw, bh, 1.0, "", ""])
    return path


def _sequence(root: Path, lines: list[str], seqinfo: str | None = None) -> Path:
    seq = root / "SNMOT-999"
    _write_lines(seq / "gt" / "gt.txt", lines)
    if seqinfo is not None:
        (seq / "seqinfo.ini").write_text(seqinfo, encoding="utf-8")
    return seq


SEQINFO = "[Sequence]\nname=SNMOT-999\nimDir=img1\nframeRate=25\nseqLength=10\nimWidth=1920\nimHeight=1080\nimExt=.jpg\n"


# --- reading and writing MOT -------------------------------------------------------------


def test_synthetic_ground_truth_round_trips_through_a_mot_sequence(tiny_clip, tmp_path):
    gt = read_tracks(tiny_clip.gt)
    info = SequenceInfo("synthetic", 25.0, tiny_clip.frames, 640, 360)
    seq = write_sequence(tmp_path / "seq", gt, info)
    back = read_mot(seq)
    assert back.info == info and back.roles_known
    assert (seq / "gt" / "gt.txt").read_text().startswith("1,")  # 1-based on disk
    # Rows in the same order both sides (the ball's id changes: 0 in tracks.csv, a track's in MOT).
    g = gt.subset(np.lexsort((gt.track_id, gt.role == "ball", gt.frame)))
    t = back.table
    b = t.subset(np.lexsort((t.track_id, t.role == "ball", t.frame)))
    people = g.role != "ball"
    np.testing.assert_array_equal(b.frame, g.frame)  # 0-based again
    np.testing.assert_array_equal(b.role, g.role)
    np.testing.assert_array_equal(b.track_id[people], g.track_id[people])
    np.testing.assert_array_equal(b.team[people], g.team[people])
    np.testing.assert_allclose(b.box, g.box, atol=0.006)
    np.testing.assert_allclose(b.visibility, g.visibility, atol=6e-4)
    # The truth scored against its own MOT copy: everything perfect, the ball found too.
    r = evaluate(gt, back.table, dont_care=back.dont_care)
    assert r.hota == pytest.approx(1.0) and r.idf1 == 1.0 and r.mota == 1.0
    assert r.team_accuracy == 1.0 and r.ball_hit_rate == 1.0


def test_perfect_prediction_scores_one_everywhere(tmp_path):
    lines = _mot_scene()
    seq = _sequence(tmp_path, lines, SEQINFO)
    pred = _write_lines(tmp_path / "pred.txt", _as_predictions(lines))
    gt = load_ground_truth(seq)
    r = evaluate(gt.table, load_prediction(pred, gt).table, dont_care=gt.dont_care)
    assert r.hota == pytest.approx(1.0)
    assert r.deta == pytest.approx(1.0) and r.assa == pytest.approx(1.0)
    assert r.idf1 == 1.0 and r.mota == 1.0 and r.f1 == 1.0 and r.id_switches == 0


def test_swapped_ids_lower_identity_but_not_detection(tmp_path):
    lines = _mot_scene()
    swapped = []
    for ln in lines:
        f, pid, *rest = ln.split(",")
        if int(f) > 5 and pid in ("1", "2"):  # two people swap identities half-way
            pid = "2" if pid == "1" else "1"
        swapped.append(",".join([f, pid, *rest]))
    seq = _sequence(tmp_path, lines)
    gt = load_ground_truth(seq)
    r = evaluate(gt.table, load_prediction(_write_lines(tmp_path / "p.txt", swapped)).table)
    assert r.precision == 1.0 and r.recall == 1.0
    assert r.deta == pytest.approx(1.0)
    assert r.idf1 < 0.8 and r.hota < 0.9 and r.assa < 0.8
    assert r.id_switches == 2


def test_trackeval_agrees_with_motmetrics(tmp_path):
    """IDF1 and MOTA from TrackEval against motmetrics on one case with misses, a false
    positive, an identity switch and a fragmented track."""
    import motmetrics as mm

    rng = np.random.default_rng(4)
    sequence = FrameSequence()
    acc = mm.MOTAccumulator(auto_id=False)
    for f in range(30):
        gt_ids = np.array([1, 2, 3])
        # Person 2's id switches at frame 15; person 3 gets a stray id every 7th frame.
        pred_ids = np.array([10, 20 if f < 15 else 21, 30 if f % 7 else 31, 40])
        iou = np.zeros((3, 4))
        iou[0, 0] = 0.9
        iou[1, 1] = 0.8
        iou[2, 2] = 0.7 if f % 5 else 0.3  # every 5th frame person 3 is missed
        iou[:, 3] = rng.uniform(0, 0.2, 3)  # a false positive near nobody
        sequence.add(gt_ids, pred_ids, iou)
        # motmetrics' own iou_matrix needs np.asfarray (gone in NumPy 2): give it distances.
        acc.update(gt_ids, pred_ids, np.where(iou >= 0.5, 1 - iou, np.nan), frameid=f)
    te = score(sequence, 0.5)
    mh = mm.metrics.create().compute(acc, metrics=["idf1", "mota", "num_switches"], name="a")
    assert te.idf1 == pytest.approx(float(mh["idf1"].iloc[0]), abs=1e-9)
    assert te.mota == pytest.approx(float(mh["mota"].iloc[0]), abs=1e-9)
    assert te.id_switches == int(mh["num_switches"].iloc[0])
    assert 0 < te.idf1 < 1 and te.mota < 1


def test_mot_frames_are_one_based_and_tracks_csv_zero_based(tmp_path):
    lines = _mot_scene(step=30.0)
    gt = load_ground_truth(_sequence(tmp_path, lines))
    right = load_prediction(_as_tracks_csv(tmp_path / "right.csv", lines))
    r = evaluate(gt.table, right.table)
    assert r.f1 == 1.0 and r.idf1 == 1.0
    # The classic mistake: MOT's numbers copied into tracks.csv unchanged, one frame late.
    late = load_prediction(_as_tracks_csv(tmp_path / "late.csv", lines, frame_shift=0))
    assert evaluate(gt.table, late.table).f1 == 0.0


def test_a_run_folder_is_scored_on_the_frames_it_analysed(tmp_path):
    """A run with --start/--stride covers some frames: a run folder says which (homographies.npz),
    so the frames it skipped are not misses; a bare tracks.csv cannot say so."""
    lines = _mot_scene(frames=10)
    gt = load_ground_truth(_sequence(tmp_path, lines, SEQINFO))
    analysed = [3, 5, 7, 9]  # 0-based: --start at frame 3, --stride 2
    kept = [ln for ln in lines if int(ln.split(",")[0]) - 1 in analysed]
    run = tmp_path / "run"
    run.mkdir()
    _as_tracks_csv(run / "tracks.csv", kept)
    np.savez(run / "homographies.npz", frames=np.array(analysed), homographies=np.eye(3)[None])
    found = load_prediction(run, gt)
    np.testing.assert_array_equal(found.frames, analysed)
    r = evaluate(gt.table, found.table, frames=found.frames)
    assert r.frames == 4 and r.recall == 1.0 and r.idf1 == 1.0
    bare = load_prediction(run / "tracks.csv", gt)
    assert evaluate(gt.table, bare.table).recall == pytest.approx(0.4)


def test_player_id_is_the_identity_when_tracks_csv_has_it(tmp_path):
    lines = _mot_scene()
    gt = load_ground_truth(_sequence(tmp_path, lines))
    path = tmp_path / "tracks.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([*COLUMNS, "player_id"])
        for ln in lines:
            f, pid, x, y, bw, bh = ln.split(",")[:6]
            # Person 1's track breaks at frame 6; re-identification joins the pieces.
            track = 7 if pid == "1" and int(f) > 5 else int(pid)
            w.writerow([int(f) - 1, track, "player", -1, x, y, bw, bh, 1, "", "", pid])
        w.writerow([0, 0, "ball", -1, 5, 5, 4, 4, 0.9, "", "", 0])  # the ball's player id: 0
    joined = load_prediction(path)
    assert joined.identity == "player_id"
    assert evaluate(gt.table, joined.table).idf1 == 1.0
    fragments = read_tracks(path)  # the same rows scored by track id
    assert evaluate(gt.table, fragments).idf1 < 0.9


def test_seqinfo_and_gameinfo_are_read_and_optional(tmp_path):
    lines = _mot_scene(frames=3)
    seq = _sequence(tmp_path, lines, SEQINFO)
    (seq / "gameinfo.ini").write_text(
        "[Sequence]\nname=SNMOT-999\nnum_tracklets=3\ntrackletID_1= player team left;10\n"
        "trackletID_2= goalkeepers team right;1\ntrackletID_3= ball;1\n",
        encoding="utf-8",
    )
    mot = read_mot(seq)
    assert mot.info == SequenceInfo("SNMOT-999", 25.0, 10, 1920, 1080)
    by_id = {int(t): (r, int(k)) for t, r, k in zip(mot.table.track_id, mot.table.role, mot.table.team, strict=True)}  # fmt: skip
    assert by_id == {1: ("player", 0), 2: ("goalkeeper", 1), 3: ("ball", -1)}
    # The file alone (no folder around it): no ini files, every row a person of no team.
    bare = read_mot(_write_lines(tmp_path / "elsewhere" / "gt.txt", lines))
    assert bare.info is None and not bare.roles_known
    assert set(bare.table.role) == {"player"}


def test_distractors_and_ignored_rows_follow_mot_challenge(tmp_path):
    lines = _mot_scene(frames=4)
    extra = [
        *[f"{f},50,600,100,20,50,1,7,1.0" for f in range(1, 5)],  # a static person: distractor
        *[f"{f},60,800,100,20,50,0,1,1.0" for f in range(1, 5)],  # conf 0: not scored
    ]
    gt = load_ground_truth(_sequence(tmp_path, lines + extra))
    pred_lines = _as_predictions(lines)
    pred_lines += [f"{f},9,600,100,20,50,0.9,-1,-1,-1" for f in range(1, 5)]  # on the distractor
    r = evaluate(
        gt.table,
        load_prediction(_write_lines(tmp_path / "p.txt", pred_lines)).table,
        dont_care=gt.dont_care,
    )
    assert r.gt_boxes == 12 and r.pred_boxes == 12 and r.precision == 1.0 and r.recall == 1.0


def test_sequence_shorter_than_the_prediction_is_refused(tmp_path):
    lines = _mot_scene(frames=10)
    gt = load_ground_truth(_sequence(tmp_path, lines, SEQINFO))
    too_long = _as_tracks_csv(tmp_path / "t.csv", lines, frame_shift=+5)
    with pytest.raises(InputFileError, match="past the sequence"):
        load_prediction(too_long, gt)


# --- the command ---------------------------------------------------------------------------


def test_cli_eval_reads_a_mot_sequence(tmp_path):
    lines = _mot_scene()
    seq = _sequence(tmp_path, lines, SEQINFO)
    pred = _as_tracks_csv(tmp_path / "tracks.csv", lines)
    res = invoke("eval", "--gt", seq, "--pred", pred, "--json", tmp_path / "m.json")
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "m.json").read_text())
    assert data["hota"] == pytest.approx(1.0) and data["idf1"] == 1.0 and data["mota"] == 1.0
    assert data["team_accuracy"] is None and data["ball_hit_rate"] is None  # not in this truth
    assert "SNMOT-999" in res.output and "hota" in res.output
    # gt.txt named directly gives the same figures
    res = invoke("eval", "--gt", seq / "gt" / "gt.txt", "--pred", pred)
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("1,1,10,10,20\n", "5 columns"),
        ("1,1,10,10,20,50,1,1,1,1,1,1\n", "12 columns"),
        ("1,1,10,ten,20,50\n", "'ten' is not a number"),
        ("0,1,10,10,20,50\n", "start at 1"),
        ("", "empty"),
        ("\n\n", "empty"),
    ],
)
def test_cli_eval_bad_mot_files(tmp_path, content, message):
    bad = tmp_path / "gt.txt"
    bad.write_text(content)
    pred = _as_tracks_csv(tmp_path / "t.csv", _mot_scene(frames=2))
    res = invoke("eval", "--gt", bad, "--pred", pred)
    assert res.exit_code == 1
    assert res.output.strip().startswith("Error:") and message in res.output
    assert len(res.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("seqinfo", "message"),
    [("[Sequence]\nframeRate=fast\n", "not a number"), ("frameRate=25\n", "not an ini file")],
)
def test_cli_eval_bad_seqinfo(tmp_path, seqinfo, message):
    seq = _sequence(tmp_path, _mot_scene(frames=2), seqinfo)
    res = invoke("eval", "--gt", seq, "--pred", seq / "gt" / "gt.txt")
    assert res.exit_code == 1 and message in res.output
    assert len(res.output.strip().splitlines()) == 1


@pytest.mark.parametrize("what", ["missing", "folder", "min-visibility"])
def test_cli_eval_bad_paths_and_options(tmp_path, what):
    seq = _sequence(tmp_path, _mot_scene(frames=2))
    args = {
        "missing": ["--gt", tmp_path / "nope", "--pred", seq / "gt" / "gt.txt"],
        "folder": ["--gt", tmp_path, "--pred", seq / "gt" / "gt.txt"],
        "min-visibility": ["--gt", seq, "--pred", seq / "gt" / "gt.txt", "--min-visibility", "2"],
    }[what]
    res = invoke("eval", *args)
    assert res.exit_code == 1 and res.output.strip().startswith("Error:")
    assert len(res.output.strip().splitlines()) == 1


# --- the ByteTrack anchor ---------------------------------------------------------------


def test_anchor_and_pipeline_share_the_detections(tiny_clip, tmp_path):
    opts = RunOptions(start_s=0.12, stride=2)  # starts at frame 3: every other frame after it
    clip = detect_clip(tiny_clip.video, opts)
    assert clip.frames == tuple(range(3, 20, 2)) and clip.fps == pytest.approx(12.5)
    anchor = bytetrack_tracks(clip)
    gt = read_tracks(tiny_clip.gt)
    theirs = evaluate(gt, anchor, frames=np.array(clip.frames))
    assert len(anchor) and set(anchor.role) <= {"player", "goalkeeper", "referee"}
    assert theirs.frames == len(clip.frames) and theirs.precision > 0.8
    before = active_detector_registry()
    with replayed_detector(clip) as name:
        assert name == REPLAY and REPLAY in detector_names()
    assert REPLAY not in detector_names()
    assert before is None or active_detector_registry() is before
    ours = load_prediction(run_on_detections(tiny_clip.video, tmp_path / "run", opts, clip))
    np.testing.assert_array_equal(ours.frames, clip.frames)  # same frames, same numbering
    mine = evaluate(gt, ours.table, frames=ours.frames)
    assert mine.frames == len(clip.frames) and mine.f1 > 0.8
    # The same frames exported as MOT and read back score the same.
    seq = write_sequence(tmp_path / "seq", gt, SequenceInfo("tiny", 25.0, 20, 640, 360))
    mot_gt = load_ground_truth(seq)
    assert evaluate(mot_gt.table, ours.table, frames=ours.frames).idf1 == pytest.approx(mine.idf1)
    write_mot(tmp_path / "ours.txt", ours.table)
    back = load_prediction(tmp_path / "ours.txt", mot_gt)
    assert evaluate(mot_gt.table, back.table, frames=ours.frames).idf1 == pytest.approx(mine.idf1)
    count = ids_per_person(anchor, 4.0)
    assert count.ids == len(
        np.unique(anchor.track_id[np.isin(anchor.role, ["player", "goalkeeper"])])
    )


def test_replay_refuses_frames_it_did_not_detect(tiny_clip):
    clip = detect_clip(tiny_clip.video, RunOptions(max_frames=2))
    replay = ReplayDetector(clip)
    with pytest.raises(RuntimeError, match="do not match"):
        replay(np.zeros((360, 640, 3), np.uint8))


def test_anchor_roles_are_voted_per_track():
    from portfolio_ml_footai.evaluate.anchor import _table

    table = _table([0, 1, 2, 0], [1, 1, 1, 2], [2, 3, 2, 3], [0.9, 0.6, 0.8, 0.7], np.ones((4, 4)))
    assert list(table.role) == ["player", "player", "player", "referee"]
    assert isinstance(table, TrackTable)
