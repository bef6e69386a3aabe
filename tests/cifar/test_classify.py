"""``cifar classify`` (a folder of images → predictions.csv) and ``batch cifar`` over folders."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from portfolio_ml_cli.app import create_app
from typer.testing import CliRunner

runner = CliRunner()


@pytest.fixture
def folders(jpeg_folder: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Two 'albums' of real CIFAR test images (cats, ships), one with a broken file."""
    made = []
    for name, cls in (("album_cats", "cat"), ("album_ships", "ship")):
        folder = tmp_path / "albums" / name
        folder.mkdir(parents=True)
        for image in sorted((jpeg_folder / "test" / cls).iterdir())[:12]:
            shutil.copy(image, folder / image.name)
        made.append(folder)
    (made[0] / "broken.jpg").write_bytes(b"not an image")
    return made[0], made[1]


@pytest.mark.realdata
def test_classify_writes_predictions_and_skips_a_broken_image(folders, trained, tmp_path):
    model_dir, _ = trained
    out = tmp_path / "out"
    result = runner.invoke(
        create_app(),
        ["cifar", "classify", str(folders[0]), "--out", str(out), "--model", str(model_dir),
         "--top-k", "2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1 unreadable image(s) skipped" in result.output
    with (out / "predictions.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 12 and set(rows[0]) == {
        "image", "class_1", "probability_1", "class_2", "probability_2"
    }  # fmt: skip
    assert all(float(r["probability_1"]) >= float(r["probability_2"]) for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["images"] == 12 and summary["unreadable_files"] == ["broken.jpg"]
    assert sum(summary["top_class_counts"].values()) == 12


@pytest.mark.realdata
def test_batch_cifar_classifies_each_folder(folders, trained, tmp_path, ray_local):
    model_dir, _ = trained
    out = tmp_path / "out"
    app = create_app()
    missing = runner.invoke(app, ["batch", "cifar", *map(str, folders), "--out", str(out)])
    assert missing.exit_code == 1 and "Missing option '--model'" in missing.output
    result = runner.invoke(
        create_app(),
        ["batch", "cifar", *map(str, folders), "--out", str(out), "--", "--model", str(model_dir)],
    )
    assert result.exit_code == 0, result.output
    with (out / "batch_summary.csv").open() as fh:
        rows = {Path(r["input"]).name: r for r in csv.DictReader(fh)}
    assert rows["album_cats"]["images"] == "12" and rows["album_cats"]["unreadable"] == "1"
    assert rows["album_ships"]["status"] == "done"
    assert (out / "album_ships" / "predictions.csv").is_file()
