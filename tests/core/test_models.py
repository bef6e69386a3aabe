"""Model resolution order, integrity checks, and a download from a file:// URL (no network)."""

from __future__ import annotations

import shutil
import zipfile
from dataclasses import replace

import pytest
from portfolio_ml_core import models
from portfolio_ml_core.models import IntegrityError, ModelNotFoundError, resolve_model

SPEC = models.BUILTIN_MODELS[0]


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for var in (SPEC.env_var, models.MODELS_DIR_ENV):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv(models.CACHE_DIR_ENV, str(tmp_path / "cache"))
    return tmp_path


def test_resolution_order(clean_env, monkeypatch, pose_model_path):
    tmp = clean_env
    cached = tmp / "cache" / "models" / SPEC.filename
    cached.parent.mkdir(parents=True)
    shutil.copy(pose_model_path, cached)
    assert resolve_model(SPEC.name) == cached
    models_dir = tmp / "dir"
    models_dir.mkdir()
    shutil.copy(pose_model_path, models_dir / SPEC.filename)
    monkeypatch.setenv(models.MODELS_DIR_ENV, str(models_dir))
    assert resolve_model(SPEC.name) == models_dir / SPEC.filename
    monkeypatch.setenv(SPEC.env_var, str(pose_model_path))
    assert resolve_model(SPEC.name) == pose_model_path
    assert resolve_model(SPEC.name, explicit=cached) == cached


def test_offline_error_says_how_to_supply(clean_env):
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model(SPEC.name)
    message = info.value.message
    assert "--model" in message and SPEC.env_var in message and SPEC.url in message


def test_integrity_rejects_wrong_files(clean_env):
    tmp = clean_env
    tiny = tmp / "tiny.task"
    tiny.write_bytes(b"x" * 10)
    with pytest.raises(IntegrityError, match="bytes"):
        resolve_model(SPEC.name, explicit=tiny)
    fake = tmp / "fake.task"
    fake.write_bytes(b"\0" * (SPEC.min_bytes + 1))
    with pytest.raises(IntegrityError, match="not a MediaPipe"):
        resolve_model(SPEC.name, explicit=fake)
    no_tflite = tmp / "zip.task"
    with zipfile.ZipFile(no_tflite, "w") as z:
        z.writestr("readme.txt", "x" * (SPEC.min_bytes + 10))
    with pytest.raises(IntegrityError, match=r"no \.tflite"):
        resolve_model(SPEC.name, explicit=no_tflite)
    with pytest.raises(ModelNotFoundError, match="not found"):
        resolve_model(SPEC.name, explicit=tmp / "missing.task")


def test_download_checks_and_caches(clean_env, monkeypatch, pose_model_path):
    monkeypatch.delenv(models.OFFLINE_ENV, raising=False)
    spec = replace(SPEC, url=pose_model_path.resolve().as_uri())
    path = models.download(spec)
    assert path == clean_env / "cache" / "models" / SPEC.filename
    assert path.read_bytes() == pose_model_path.read_bytes()
    # A download that is not a model is refused and leaves nothing behind.
    junk = clean_env / "junk.bin"
    junk.write_bytes(b"<html>not found</html>")
    with pytest.raises(IntegrityError):
        models.download(replace(SPEC, url=junk.as_uri()), destination=clean_env / "x.task")
    assert not (clean_env / "x.task").exists()
    assert not list(clean_env.glob("*.download"))
