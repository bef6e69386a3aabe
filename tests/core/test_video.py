"""Video I/O: a round trip through a clip the test writes, and every way a source can be bad."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
from portfolio_ml_core.video import CameraUnavailableError, VideoError, VideoSink, VideoSource

SIZE = (160, 96)


def frame_with_marker(i: int) -> np.ndarray:
    """A frame whose brightness encodes its index, so order survives lossy compression."""
    image = np.full((SIZE[1], SIZE[0], 3), 20, np.uint8)
    image[:, : SIZE[0] // 2] = min(255, 20 + 8 * i)
    return image


def write_clip(path, n=24, fps=12.0, codec="auto"):
    with VideoSink(path, fps, SIZE, codec=codec) as sink:
        for i in range(n):
            sink.write(frame_with_marker(i))
    return path


@pytest.mark.parametrize("codec", ["mp4v", "auto"])
def test_round_trip(tmp_path, codec):
    path = write_clip(tmp_path / "clip.mp4", codec=codec)
    assert path.exists() and not list(tmp_path.glob(".*part*"))
    with VideoSource(path) as video:
        assert video.size == SIZE
        assert video.fps == pytest.approx(12.0, abs=0.01)
        frames = list(video)
    assert [f.index for f in frames] == list(range(24))
    assert frames[3].timestamp_s == pytest.approx(3 / 12)
    levels = [float(f.image[:, : SIZE[0] // 2].mean()) for f in frames]
    assert levels == sorted(levels)  # order preserved
    assert levels[10] == pytest.approx(20 + 80, abs=6)


def test_stride_max_frames_start_and_prefetch(tmp_path):
    path = write_clip(tmp_path / "clip.mp4", codec="mp4v")
    with VideoSource(path) as video:
        picked = [f.index for f in video.frames(stride=5, max_frames=3)]
    assert picked == [0, 5, 10]
    with VideoSource(path) as video:
        later = [f.index for f in video.frames(start_s=1.0, max_frames=2)]
    assert later == [12, 13]
    with VideoSource(path, prefetch=4) as video:
        assert [f.index for f in video.frames()] == list(range(24))


def test_sink_leaves_nothing_when_the_block_fails(tmp_path):
    target = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError), VideoSink(target, 10, SIZE, codec="mp4v") as sink:
        sink.write(frame_with_marker(0))
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_image_folder(tmp_path):
    for i in range(5):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), frame_with_marker(i))
    with VideoSource(tmp_path, folder_fps=5) as video:
        assert video.frame_count == 5
        frames = list(video)
    assert [f.timestamp_s for f in frames] == [0, 0.2, 0.4, 0.6, 0.8]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.mp4", "no such file"),
        (lambda d: _touch(d / "empty.mp4", b""), "empty"),
        (lambda d: _touch(d / "notes.mp4", b"this is not a video at all\n" * 50), "not a readable"),
        (lambda d: _photo(d / "photo.jpg"), "is an image, not a video"),
        (lambda d: d, "contains no images"),
    ],
)
def test_bad_sources_raise_one_line_errors(tmp_path, make, message):
    with pytest.raises(VideoError, match=message) as info:
        VideoSource(make(tmp_path))
    assert "\n" not in str(info.value.message)


def test_truncated_video(tmp_path):
    clip = write_clip(tmp_path / "whole.mp4", n=48, codec="mp4v")
    data = clip.read_bytes()
    cut = _touch(tmp_path / "cut.mp4", data[: len(data) // 3])
    # A cut mp4 loses its index: either it cannot be opened, or it decodes to nothing.
    with pytest.raises(VideoError, match="truncated"), VideoSource(cut) as video:
        list(video)


def test_missing_camera_suggests_source():
    with pytest.raises(CameraUnavailableError, match="--source"):
        VideoSource(97)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_h264_output_is_browser_playable(tmp_path):
    path = write_clip(tmp_path / "web.mp4", codec="h264")
    head = path.read_bytes()[:64]
    assert b"ftyp" in head
    with VideoSource(path) as video:
        assert len(list(video)) == 24


def _touch(path, data):
    path.write_bytes(data)
    return path


def _photo(path):
    cv2.imwrite(str(path), frame_with_marker(1))
    return path


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_partially_decodable_video_warns(tmp_path, caplog):
    # H.264 with its index at the front (faststart) stays decodable up to the cut.
    clip = write_clip(tmp_path / "whole.mp4", n=48, codec="h264")
    data = clip.read_bytes()
    cut = _touch(tmp_path / "cut.mp4", data[: len(data) * 2 // 3])
    with VideoSource(cut) as video:
        frames = list(video)
        again = list(video)  # a second pass over the same source does not say it again
    assert 0 < len(frames) == len(again) < 48
    assert caplog.text.count("truncated or damaged") == 1
    with VideoSource(cut, warn_short=False) as video:  # a run's annotated-video pass
        assert len(list(video)) == len(frames)
    assert caplog.text.count("truncated or damaged") == 1


def test_every_pass_starts_at_the_beginning(tmp_path, caplog):
    path = write_clip(tmp_path / "clip.mp4", codec="mp4v")
    with VideoSource(path) as video:
        first = [f.index for f in video.frames(max_frames=10)]
        second = [f.index for f in video.frames()]
    assert first == list(range(10))
    assert second == list(range(24))
    assert "truncated" not in caplog.text


def test_closing_mid_prefetch_stops_the_decoder_first(tmp_path, caplog):
    path = write_clip(tmp_path / "clip.mp4", n=48)
    for _ in range(5):
        video = VideoSource(path, prefetch=2)
        frames = video.frames()
        next(frames)
        video.close()  # while the decode thread is mid-read: must not crash or warn
    assert "truncated" not in caplog.text
