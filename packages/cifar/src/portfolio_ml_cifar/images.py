"""Any image → the 32×32 RGB the net sees: one rule for the training data, `cifar predict`,
the HTTP API and the UI page, so that training and serving see the same pixels.

The rule: centre square crop (the net only ever saw square images, so stretching a wide photo
would distort every object), then a bilinear resize to 32×32. CIFAR-10's own 32×32 images pass
through unchanged.
"""

from __future__ import annotations

import io

import numpy as np

SIZE = 32


class ImageDecodeError(ValueError):
    """The bytes are not a decodable image."""


def to_net_rgb(blob: bytes) -> np.ndarray:
    """Image file bytes (any size, any PIL format) → (32, 32, 3) uint8 RGB."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(blob)) as im:
            rgb = im.convert("RGB")
        w, h = rgb.size
        side = min(w, h)
        if (w, h) != (side, side):
            rgb = rgb.crop(((w - side) // 2, (h - side) // 2, (w + side) // 2, (h + side) // 2))
        if rgb.size != (SIZE, SIZE):
            rgb = rgb.resize((SIZE, SIZE), Image.Resampling.BILINEAR, reducing_gap=2.0)
        return np.asarray(rgb, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageDecodeError(str(exc)) from None
