"""`footai eval` on inputs whose answers are known."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from portfolio_ml_footai.evaluate.tracks import evaluate
from portfolio_ml_footai.io.tracks_csv import COLUMNS, read_tracks

from .conftest import invoke


def _write(path: Path, rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([*COLUMNS, "visibility"])
        w.writerows(rows)
    return path


def _scene(frames: int = 20) -> list[list[object]]:
    """Two players walking right, a referee, a ball."""
    rows = []
    for f in range(frames):
        rows.append([f, 1, "player", 0, 100 + 3 * f, 100, 20, 50, 1, -10 + 0.1 * f, 5, 1.0])
        rows.append([f, 2, "player", 1, 300 + 3 * f, 120, 20, 50, 1, 0 + 0.1 * f, 6, 1.0])
        rows.append([f, 3, "referee", -1, 500, 150, 20, 50, 1, 10, 8, 1.0])
        rows.append([f, 0, "ball", -1, 200 + 5 * f, 160, 6, 6, 1, -5 + 0.2 * f, 7, 1.0])
    return rows


def test_perfect_prediction(tmp_path):
    gt = _write(tmp_path / "gt.csv", _scene())
    r = evaluate(read_tracks(gt), read_tracks(gt))
    assert r.precision == r.recall == r.f1 == 1.0
    assert r.mota == 1.0 and r.idf1 == 1.0 and r.id_switches == 0
    assert r.team_accuracy == 1.0
    assert r.position_error_median_m == 0.0
    assert r.ball_hit_rate == 1.0


def test_team_accuracy_is_up_to_label_swap_and_ids_free(tmp_path):
    rows = _scene()
    pred = [
        [r[0], {1: 7, 2: 9, 3: 4, 0: 0}[r[1]], r[2], 1 - r[3] if r[3] >= 0 else -1, *r[4:11]]
        for r in rows
    ]
    gt = _write(tmp_path / "gt.csv", rows)
    pr = _write(tmp_path / "pred.csv", [[*p, 1.0] for p in pred])
    r = evaluate(read_tracks(gt), read_tracks(pr))
    assert r.team_accuracy == 1.0
    assert r.idf1 == 1.0


def test_id_switch_and_offsets_are_counted(tmp_path):
    rows = _scene()
    pred = []
    for r in rows:
        p = list(r)
        if p[1] in (1, 2) and p[0] >= 10:
            p[1] = 3 - p[1]  # the two players swap identities half-way
        if p[1] == 3:
            continue  # the referee is never found
        p[9] = p[9] + 1.0  # every position 1 m off along x
        pred.append(p)
    gt = _write(tmp_path / "gt.csv", rows)
    pr = _write(tmp_path / "pred.csv", pred)
    r = evaluate(read_tracks(gt), read_tracks(pr))
    assert r.id_switches == 2
    assert r.recall == pytest.approx(2 / 3)
    assert r.precision == 1.0
    assert r.idf1 < 0.7
    assert r.position_error_median_m == pytest.approx(1.0)
    # Identities swapped but every row kept its own team label: teams are still right.
    assert r.team_accuracy == 1.0


def test_hidden_ground_truth_is_dont_care(tmp_path):
    rows = _scene()
    rows = [[*r[:11], 0.1] if r[1] == 3 else r for r in rows]
    gt = _write(tmp_path / "gt.csv", rows)
    without_ref = _write(tmp_path / "p1.csv", [r for r in rows if r[1] != 3])
    with_ref = _write(tmp_path / "p2.csv", rows)
    for pred in (without_ref, with_ref):
        r = evaluate(read_tracks(gt), read_tracks(pred))
        assert r.precision == 1.0 and r.recall == 1.0


def test_shifted_boxes_do_not_match(tmp_path):
    rows = _scene()
    gt = _write(tmp_path / "gt.csv", rows)
    pr = _write(tmp_path / "pred.csv", [[*r[:4], r[4] + 15, *r[5:]] for r in rows])
    r = evaluate(read_tracks(gt), read_tracks(pr))
    assert r.f1 == 0.0
    assert math.isnan(r.team_accuracy)
    # The ball is judged by distance: 15 px exceeds max(8 px, 2 × its 6 px size).
    assert r.ball_hit_rate == 0.0 and r.ball_precision == 0.0


def test_cli_eval_writes_json(tmp_path):
    gt = _write(tmp_path / "gt.csv", _scene())
    res = invoke("eval", "--gt", gt, "--pred", gt, "--json", tmp_path / "m.json")
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "m.json").read_text())
    assert data["f1"] == 1.0 and data["id_switches"] == 0
    assert "idf1" in res.output


@pytest.mark.parametrize(
    "content",
    [
        "",
        "a,b\n1,2\n",
        "frame,track_id,role,team,x,y,w,h,score,pitch_x,pitch_y\n0,1,goalie,0,1,1,1,1,1,,\n",
    ],
)
def test_cli_eval_bad_csv(tmp_path, content):
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    gt = _write(tmp_path / "gt.csv", _scene())
    res = invoke("eval", "--gt", gt, "--pred", bad)
    assert res.exit_code == 1
    assert res.output.strip().startswith("Error:")
    assert len(res.output.strip().splitlines()) == 1


def test_cli_eval_missing_file(tmp_path):
    res = invoke("eval", "--gt", tmp_path / "nope.csv", "--pred", tmp_path / "nope.csv")
    assert res.exit_code == 1 and "not found" in res.output


def test_pitch_error_uses_metres(tmp_path):
    rows = _scene(5)
    gt = _write(tmp_path / "gt.csv", rows)
    pred = _write(tmp_path / "pred.csv", [[*r[:9], r[9] + 3.0, r[10] + 4.0, 1.0] for r in rows])
    r = evaluate(read_tracks(gt), read_tracks(pred))
    assert r.position_error_median_m == pytest.approx(5.0)
    assert r.position_error_p90_m == pytest.approx(5.0)
    assert np.isfinite(r.mota)
