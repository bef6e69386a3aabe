"""One rule from any image to the net's 32×32 RGB, for training data and serving alike."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from portfolio_ml_cifar.images import ImageDecodeError, to_net_rgb
from portfolio_ml_cifar.serve import BadRequest, decode_image


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def test_cifar_sized_images_pass_unchanged():
    img = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    np.testing.assert_array_equal(to_net_rgb(_png(img)), img)


def test_wide_images_are_centre_cropped_not_stretched():
    wide = np.zeros((32, 96, 3), np.uint8)
    wide[:, 32:64] = (200, 10, 10)  # the centre square is red, the sides black
    out = to_net_rgb(_png(wide))
    assert out.shape == (32, 32, 3)
    assert (out[..., 0] == 200).all()  # stretching would have pulled black in from the sides


def test_serving_and_training_see_the_same_pixels():
    img = np.random.default_rng(1).integers(0, 255, (50, 70, 3), dtype=np.uint8)
    np.testing.assert_array_equal(decode_image(_png(img)), to_net_rgb(_png(img)).astype(np.float32))


def test_bad_bytes():
    with pytest.raises(ImageDecodeError):
        to_net_rgb(b"not an image")
    with pytest.raises(BadRequest, match="not a decodable image"):
        decode_image(b"not an image")
