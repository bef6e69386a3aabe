"""tf.data input pipelines: whole-batch augmentation, deterministic per (seed, epoch).

Augmenting a whole batch at once (one gather for the random translation, one select for the flip)
costs a few vectorised ops per batch instead of a Python-level map per image, which matters when
the two CPU cores also run the network. Shuffling and augmentation are derived from
``(seed, epoch)`` so a resumed run sees exactly the batches the interrupted run would have seen.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def epoch_permutation(n: int, batch_size: int, seed: int, epoch: int) -> np.ndarray:
    """(steps, batch_size) indices for one epoch; the last partial batch is dropped."""
    steps = n // batch_size
    return (
        np.random.default_rng([seed, epoch])
        .permutation(n)[: steps * batch_size]
        .reshape(steps, batch_size)
    )


def flip_parity(n: int, seed: int) -> np.ndarray:
    """airbench's alternating flip: each image gets one random orientation for the whole run
    and is mirrored on every odd epoch, so consecutive epochs see both orientations (more
    diverse than an independent coin per epoch, which repeats an orientation half the time)."""
    return np.random.default_rng([seed, 0x5EED]).random(n) < 0.5


def augment_batch(
    images: Any, seed: Any, translate: int = 2, flip: bool = True, mirror: Any = None
) -> Any:
    """Random translation by up to ``translate`` px (reflect padding) and horizontal flip
    (a coin per image, or the given boolean ``mirror`` per image)."""
    import tensorflow as tf

    batch = tf.shape(images)[0]
    size = images.shape[1]
    if translate:
        padded = tf.pad(
            images, [[0, 0], [translate, translate], [translate, translate], [0, 0]], "REFLECT"
        )
        offsets = tf.random.stateless_uniform(
            (2, batch), seed, minval=0, maxval=2 * translate + 1, dtype=tf.int32
        )
        rows = offsets[0][:, None] + tf.range(size)[None, :]
        cols = offsets[1][:, None] + tf.range(size)[None, :]
        images = tf.gather(padded, rows, axis=1, batch_dims=1)
        images = tf.gather(images, cols, axis=2, batch_dims=1)
    if flip:
        if mirror is None:
            coin = tf.random.stateless_uniform((batch, 1, 1, 1), seed + 1) < 0.5
        else:
            coin = tf.reshape(mirror, (-1, 1, 1, 1))
        images = tf.where(coin, tf.reverse(images, axis=[2]), images)
    return images


def train_dataset(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    seed: int,
    epoch: int,
    translate: int = 2,
    flip: bool = True,
    shard: tuple[int, int] = (0, 1),
) -> Any:
    """One epoch of augmented (float32 images, int32 labels) batches.

    ``shard=(i, n)`` keeps the i-th of n interleaved slices of every batch: n workers that
    build the same epoch each train on their own share of each global batch.
    """
    import tensorflow as tf

    images = tf.constant(x)
    labels = tf.constant(y.astype(np.int32))
    perm = epoch_permutation(len(x), batch_size, seed, epoch)
    index, count = shard
    perm = perm[:, index::count]
    parity = tf.constant(flip_parity(len(x), seed) ^ bool(epoch % 2))

    def load(step: Any, idx: Any) -> tuple[Any, Any]:
        batch = tf.gather(images, idx)
        step_seed = tf.stack([tf.constant(seed * 100_003 + epoch, tf.int64), step])
        batch = augment_batch(batch, step_seed, translate, flip, tf.gather(parity, idx))
        return tf.cast(batch, tf.float32), tf.gather(labels, idx)

    ds = tf.data.Dataset.from_tensor_slices(perm).enumerate()
    return ds.map(load, num_parallel_calls=2, deterministic=True).prefetch(2)


def plain_train_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int) -> Any:
    """The textbook pipeline (per-image map, shuffle buffer) the benchmark compares against."""
    import tensorflow as tf

    def aug(image: Any, label: Any) -> tuple[Any, Any]:
        image = tf.image.resize_with_crop_or_pad(image, 36, 36)
        image = tf.image.random_crop(image, (32, 32, 3), seed=seed)
        image = tf.image.random_flip_left_right(image, seed=seed)
        return tf.cast(image, tf.float32), label

    ds = tf.data.Dataset.from_tensor_slices((x, y.astype(np.int32)))
    ds = ds.shuffle(len(x), seed=seed).map(aug, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
